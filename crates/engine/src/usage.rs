//! Disk usage of a state root (`system df`, `ps -s`): the bytes the image
//! store's layers and blobs, each container's writable layer and each
//! volume take on disk, as `du` counts them (allocated blocks, each inode
//! once, not crossing into other mounts), without running `du`.
//!
//! Every directory is walked once: a layer's size is measured once and
//! summed into each image that has it.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::Result;
use crate::store::Container;
use crate::volume::{VolumeInfo, Volumes};
use crate::Engine;

/// What `system df` reports.
#[derive(Debug)]
pub struct DiskUsage {
    /// The image store's layers and blobs, each counted once.
    pub layers_size: u64,
    /// Every image, newest first.
    pub images: Vec<ImageUsage>,
    /// Every container, newest first.
    pub containers: Vec<ContainerUsage>,
    /// Every volume, by name.
    pub volumes: Vec<VolumeUsage>,
}

/// An image and what its layers take.
#[derive(Debug)]
pub struct ImageUsage {
    /// The image (with its names).
    pub image: tinydocker_fs::Image,
    /// Its layers' bytes.
    pub size: u64,
    /// The bytes of those of its layers another image has too.
    pub shared_size: u64,
    /// How many containers (running or not) were made from it.
    pub containers: usize,
}

/// A container and what its writable layer takes.
#[derive(Debug)]
pub struct ContainerUsage {
    /// The container.
    pub container: Container,
    /// Its writable layer's bytes (docker's `SizeRw`).
    pub size_rw: u64,
    /// That and its image's (docker's `SizeRootFs`).
    pub size_root_fs: u64,
}

/// A volume, what it takes and how many containers name it.
#[derive(Debug)]
pub struct VolumeUsage {
    /// The volume.
    pub info: VolumeInfo,
    /// Its content's bytes.
    pub size: u64,
    /// The containers (running or not) whose records name it.
    pub ref_count: usize,
}

/// The bytes the files under `path` take on disk: allocated blocks, each
/// inode once (hard links), in `path`'s file system only (a running
/// container's root mounted below is another one). Nothing there is 0.
pub(crate) fn disk_usage(path: &Path) -> u64 {
    let Ok(top) = fs::symlink_metadata(path) else {
        return 0;
    };
    let dev = top.dev();
    let mut seen = HashSet::new();
    let mut total = top.blocks() * 512;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != dev {
                continue;
            }
            if meta.nlink() > 1 && !meta.is_dir() && !seen.insert(meta.ino()) {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}

/// The usage of each directory in `dir`, by name.
fn usage_of_entries(dir: &Path) -> BTreeMap<String, u64> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, disk_usage(&e.path()))
        })
        .collect()
}

/// A layer's key in the store's `layers/` directory.
fn layer_key(diff_id: &str) -> &str {
    diff_id.strip_prefix("sha256:").unwrap_or(diff_id)
}

/// The writable layer's bytes of a container (0 for a `--rm` one, whose
/// layer is a tmpfs of its own).
pub(crate) fn container_rw(container: &Container) -> u64 {
    disk_usage(&container.dir.join("upper"))
}

pub(crate) fn disk_usage_of(engine: &Engine) -> Result<DiskUsage> {
    let root = engine.root();
    let layers = usage_of_entries(&root.join("images").join("layers"));
    let blobs = disk_usage(&root.join("images").join("blobs"));
    let images = engine.images()?.list()?;
    let used = engine.store.images_in_use()?;
    let mut holders: BTreeMap<&str, usize> = BTreeMap::new();
    for image in &images {
        for layer in &image.layers {
            *holders.entry(layer_key(layer)).or_default() += 1;
        }
    }
    let layer_size = |l: &String| layers.get(layer_key(l)).copied().unwrap_or(0);
    let image_rows: Vec<ImageUsage> = images
        .iter()
        .map(|image| ImageUsage {
            size: image.layers.iter().map(layer_size).sum(),
            shared_size: image
                .layers
                .iter()
                .filter(|l| holders.get(layer_key(l)).is_some_and(|n| *n > 1))
                .map(layer_size)
                .sum(),
            containers: used.iter().filter(|(i, _)| *i == image.id).count(),
            image: image.clone(),
        })
        .collect();
    let containers = engine
        .containers()?
        .into_iter()
        .map(|container| {
            let size_rw = container_rw(&container);
            let image_size = image_rows
                .iter()
                .find(|i| i.image.id == container.config.image_id)
                .map_or(0, |i| i.size);
            ContainerUsage {
                size_rw,
                size_root_fs: size_rw + image_size,
                container,
            }
        })
        .collect();
    let users = engine.volume_users()?;
    let volume_store = Volumes::new(root);
    let volumes = engine
        .volumes()?
        .into_iter()
        .map(|info| VolumeUsage {
            size: disk_usage(&volume_store.data(&info.name)),
            ref_count: users.iter().filter(|(v, _)| *v == info.name).count(),
            info,
        })
        .collect();
    Ok(DiskUsage {
        layers_size: layers.values().sum::<u64>() + blobs,
        images: image_rows,
        containers,
        volumes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_links_count_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("a"), vec![1u8; 64 * 1024]).unwrap();
        let one = disk_usage(&dir);
        assert!(one >= 64 * 1024, "{one}");
        fs::hard_link(dir.join("a"), dir.join("sub/b")).unwrap();
        assert_eq!(disk_usage(&dir), one);
        fs::write(dir.join("sub/c"), vec![1u8; 64 * 1024]).unwrap();
        assert!(disk_usage(&dir) >= one + 64 * 1024);
        assert_eq!(disk_usage(&tmp.path().join("none")), 0);
    }
}
