//! Volumes, as docker's local volume driver keeps them: a directory of
//! the state root per volume, bound into containers. An anonymous one
//! (64 hex) is made for a path the image declares (its Volumes); a named
//! one by `volume create` or on first use by `-v NAME:/path`. Either is
//! filled with what the image has at the path it is mounted on (owners,
//! modes, symbolic links and device nodes as they are) when it is first
//! mounted empty. A volume outlives its container: anonymous ones go with
//! it (`rm -v`, `run --rm`), any by `volume rm` and `volume prune`, which
//! leave one a container uses.
//!
//! ```text
//! volumes/
//!   <name>/_data              a volume's content
//!   <name>/volume.json        when it was made, its labels, whether anonymous
//!   .making-<pid>-<name>/     one being made (renamed into place once filled)
//!   .filling-<pid>-<name>/    the image's content for an empty one (renamed
//!                             over its _data)
//!   lock                      flock(2): shared while a run makes volumes and
//!                             until its record names them; exclusive to remove
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{lchown, symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::lock::{flock, How, Lock};

/// What a volume's directory holds its content in.
const DATA: &str = "_data";
/// What a volume's directory keeps its record in.
const RECORD: &str = "volume.json";

/// What is known of a volume besides its content.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VolumeRecord {
    /// When it was made, in nanoseconds since the epoch.
    #[serde(default)]
    pub created: u128,
    /// `volume create --label`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Made for an image's Volumes rather than by name.
    #[serde(default)]
    pub anonymous: bool,
}

/// A volume, as `volume ls` and `volume inspect` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Its name: 64 hex digits for an anonymous one.
    pub name: String,
    /// Where its content is on the host.
    pub mountpoint: PathBuf,
    /// When it was made, its labels, whether anonymous.
    pub record: VolumeRecord,
}

/// Whether `name` is one docker's local driver takes:
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.len() >= 2
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The volumes of one state root.
pub(crate) struct Volumes {
    dir: PathBuf,
}

impl Volumes {
    pub(crate) fn new(root: &Path) -> Volumes {
        Volumes {
            dir: root.join("volumes"),
        }
    }

    /// Where volume `name`'s content is (what is bound into a container).
    pub(crate) fn data(&self, name: &str) -> PathBuf {
        self.dir.join(name).join(DATA)
    }

    fn lock_file(&self) -> Result<File> {
        fs::create_dir_all(&self.dir).map_err(|e| Error::io("make", &self.dir, e))?;
        let path = self.dir.join("lock");
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open lock", &path, e))
    }

    /// A shared lock: no volume is removed while it is held.
    pub(crate) fn hold(&self) -> Result<File> {
        let file = self.lock_file()?;
        loop {
            match file.lock_shared() {
                Ok(()) => return Ok(file),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("lock", self.dir.join("lock"), e)),
            }
        }
    }

    /// The exclusive lock removals take; None when no volume was ever made.
    pub(crate) fn lock(&self) -> Result<Option<Lock>> {
        if !self.dir.is_dir() {
            return Ok(None);
        }
        let path = self.dir.join("lock");
        flock(self.lock_file()?, &path, How::Exclusive).map(Some)
    }

    /// Make an anonymous volume filled with what `layers` (bottom first,
    /// overlay whiteouts and opaque directories in them) have at `path`.
    pub(crate) fn create(&self, layers: &[PathBuf], path: &str) -> Result<String> {
        let name = crate::new_id();
        let record = VolumeRecord {
            created: crate::now_nanos(),
            labels: BTreeMap::new(),
            anonymous: true,
        };
        self.make(&name, &record, Some((layers, path)))?;
        Ok(name)
    }

    /// Make named volume `name`, empty, unless there is one; whether it
    /// was made.
    pub(crate) fn create_named(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<bool> {
        if !valid_name(name) {
            return Err(Error::Invalid(format!(
                "create {name}: {name:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        if name == "lock" {
            return Err(Error::Invalid(
                "create lock: the name is taken by tinydocker's volume lock file; choose another"
                    .into(),
            ));
        }
        if self.exists(name) {
            return Ok(false);
        }
        let record = VolumeRecord {
            created: crate::now_nanos(),
            labels,
            anonymous: false,
        };
        self.make(name, &record, None)
    }

    /// Make volume `name` (filled from `fill`'s layers and path); false
    /// when another process made one of that name first.
    fn make(
        &self,
        name: &str,
        record: &VolumeRecord,
        fill_from: Option<(&[PathBuf], &str)>,
    ) -> Result<bool> {
        let making = self
            .dir
            .join(format!(".making-{}-{name}", std::process::id()));
        let data = making.join(DATA);
        let dest = self.dir.join(name);
        let json = serde_json::to_vec(record).expect("a volume record serialises");
        // 0755 whatever the umask, unless the image's directory says
        // otherwise (fill gives it that one's owner and mode).
        let made = fs::create_dir_all(&data)
            .and_then(|()| fs::set_permissions(&data, fs::Permissions::from_mode(0o755)))
            .and_then(|()| match fill_from {
                Some((layers, path)) => {
                    fill(layers, Path::new(path.trim_start_matches('/')), &data).map(drop)
                }
                None => Ok(()),
            })
            .map_err(|e| Error::io("fill the volume", &data, e))
            .and_then(|()| {
                // Made whole with its directory, by the rename below.
                let path = making.join(RECORD);
                fs::write(&path, &json).map_err(|e| Error::io("write", path, e))
            })
            .and_then(|()| match fs::rename(&making, &dest) {
                Ok(()) => Ok(true),
                Err(e) if already_there(&e) => Ok(false),
                Err(e) => Err(Error::io("rename into", &dest, e)),
            });
        if !matches!(made, Ok(true)) {
            let _ = fs::remove_dir_all(&making);
        }
        made
    }

    /// Fill volume `name` with what `layers` have at `path` if it is
    /// empty and they have something there (docker copies an image's
    /// content into an empty volume when mounting it). The content is
    /// made beside it and renamed over its empty `_data`, so a volume that
    /// another run filled meanwhile, or that is mounted, is left as it is.
    pub(crate) fn fill_if_empty(&self, name: &str, layers: &[PathBuf], path: &str) -> Result<()> {
        let data = self.data(name);
        let empty = fs::read_dir(&data)
            .map_err(|e| Error::io("read", &data, e))?
            .next()
            .is_none();
        if !empty {
            return Ok(());
        }
        let filling = self
            .dir
            .join(format!(".filling-{}-{name}", std::process::id()));
        let result = fs::create_dir_all(&filling)
            .and_then(|()| fs::set_permissions(&filling, fs::Permissions::from_mode(0o755)))
            .and_then(|()| fill(layers, Path::new(path.trim_start_matches('/')), &filling))
            .map_err(|e| Error::io("fill the volume", &filling, e))
            .and_then(|found| {
                if !found {
                    return Ok(());
                }
                match fs::rename(&filling, &data) {
                    Ok(()) => Ok(()),
                    Err(e) if already_there(&e) || e.raw_os_error() == Some(libc::EBUSY) => Ok(()),
                    Err(e) => Err(Error::io("rename into", &data, e)),
                }
            });
        let _ = fs::remove_dir_all(&filling);
        result
    }

    /// A volume's record; a volume made before records were kept is
    /// anonymous, made when its directory was.
    pub(crate) fn info(&self, name: &str) -> Result<VolumeInfo> {
        let dir = self.dir.join(name);
        let record = match fs::read(dir.join(RECORD)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::State(format!("volume {name}: a bad record: {e}")))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let meta = fs::metadata(&dir).map_err(|e| Error::io("read", &dir, e))?;
                VolumeRecord {
                    created: meta.mtime() as u128 * 1_000_000_000 + meta.mtime_nsec() as u128,
                    labels: BTreeMap::new(),
                    anonymous: true,
                }
            }
            Err(e) => return Err(Error::io("read", dir.join(RECORD), e)),
        };
        Ok(VolumeInfo {
            name: name.to_string(),
            mountpoint: self.data(name),
            record,
        })
    }

    /// Every volume, by name.
    pub(crate) fn names(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read", &self.dir, e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| valid_name(n) && self.dir.join(n).join(DATA).is_dir())
            .collect();
        names.sort();
        Ok(names)
    }

    pub(crate) fn exists(&self, name: &str) -> bool {
        valid_name(name) && self.dir.join(name).join(DATA).is_dir()
    }

    /// Remove volume `name`; the bytes it took. One already gone is no
    /// error.
    pub(crate) fn remove(&self, name: &str) -> Result<u64> {
        let dir = self.dir.join(name);
        let size = crate::container::prune::disk_usage(&dir);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(size),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(Error::io("remove", dir, e)),
        }
    }

    /// Remove what makings of processes that are gone left.
    pub(crate) fn sweep(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| {
                    n.strip_prefix(".making-")
                        .or_else(|| n.strip_prefix(".filling-"))
                })
                .and_then(|n| n.split('-').next())
                .and_then(|p| p.parse::<i32>().ok());
            if let Some(pid) = pid {
                let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                    == Err(nix::errno::Errno::ESRCH);
                if gone {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
    }
}

/// A rename that found its destination there (and not empty).
fn already_there(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::ENOTEMPTY))
}

/// An overlay whiteout: a character device 0/0.
fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Remove what is at `path`, whatever it is.
fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Empty directory `dir`, keeping it.
fn clear(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        remove_any(&entry?.path())?;
    }
    Ok(())
}

/// `dest` takes `meta`'s owner and mode (the mode after the owner: a
/// chown clears set-id bits).
fn own(dest: &Path, meta: &fs::Metadata) -> io::Result<()> {
    lchown(dest, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.file_type().is_symlink() {
        fs::set_permissions(dest, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    Ok(())
}

/// Fill `dest` with what the layers, merged as overlayfs merges them,
/// have at `rel`; whether they have a directory there.
fn fill(layers: &[PathBuf], rel: &Path, dest: &Path) -> io::Result<bool> {
    let mut found = false;
    for layer in layers {
        // A whiteout, a file or an opaque directory on the way hides what
        // the layers below had there.
        let mut at = layer.clone();
        let mut hidden = false;
        let mut blocked = false;
        for part in rel.components() {
            at.push(part);
            match fs::symlink_metadata(&at) {
                Ok(m) if m.is_dir() => hidden |= crate::sys::overlay_opaque(&at),
                Ok(_) => {
                    hidden = true;
                    blocked = true;
                    break;
                }
                Err(_) => {
                    blocked = true;
                    break;
                }
            }
        }
        if hidden {
            clear(dest)?;
            found = false;
        }
        if !blocked {
            own(dest, &fs::symlink_metadata(&at)?)?;
            merge(&at, dest)?;
            found = true;
        }
    }
    Ok(found)
}

/// Copy directory `src` over `dest`, applying its whiteouts.
fn merge(src: &Path, dest: &Path) -> io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let meta = fs::symlink_metadata(&from)?;
        let kind = meta.file_type();
        if is_whiteout(&meta) {
            remove_any(&to)?;
            continue;
        }
        if kind.is_dir() {
            match fs::symlink_metadata(&to) {
                Ok(m) if m.is_dir() => {
                    if crate::sys::overlay_opaque(&from) {
                        clear(&to)?;
                    }
                }
                _ => {
                    remove_any(&to)?;
                    fs::create_dir(&to)?;
                }
            }
            own(&to, &meta)?;
            merge(&from, &to)?;
            continue;
        }
        remove_any(&to)?;
        if kind.is_symlink() {
            symlink(fs::read_link(&from)?, &to)?;
        } else if kind.is_file() {
            fs::copy(&from, &to)?;
        } else {
            // A fifo, socket or device node: made anew, as it is.
            nix::sys::stat::mknod(
                &to,
                nix::sys::stat::SFlag::from_bits_truncate(meta.mode() & libc::S_IFMT),
                nix::sys::stat::Mode::from_bits_truncate(meta.mode() & 0o7777),
                meta.rdev(),
            )?;
        }
        own(&to, &meta)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_from_the_layers_merged() {
        let tmp = tempfile::tempdir().unwrap();
        let (lower, upper) = (tmp.path().join("lower"), tmp.path().join("upper"));
        fs::create_dir_all(lower.join("data/sub")).unwrap();
        fs::write(lower.join("data/a"), "a").unwrap();
        fs::write(lower.join("data/gone"), "x").unwrap();
        fs::write(lower.join("data/sub/b"), "b").unwrap();
        symlink("a", lower.join("data/link")).unwrap();
        fs::set_permissions(lower.join("data/a"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::create_dir_all(upper.join("data")).unwrap();
        fs::write(upper.join("data/a"), "A").unwrap();
        fs::set_permissions(upper.join("data"), fs::Permissions::from_mode(0o700)).unwrap();
        let volumes = Volumes::new(tmp.path());
        let name = volumes
            .create(std::slice::from_ref(&lower), "/data")
            .unwrap();
        let data = volumes.data(&name);
        assert_eq!(fs::read_to_string(data.join("sub/b")).unwrap(), "b");
        assert_eq!(fs::read_link(data.join("link")).unwrap(), Path::new("a"));
        let mode = fs::metadata(data.join("a")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let name = volumes.create(&[lower, upper], "/data/").unwrap();
        let data = volumes.data(&name);
        assert_eq!(fs::read_to_string(data.join("a")).unwrap(), "A");
        assert_eq!(fs::metadata(&data).unwrap().mode() & 0o777, 0o700);
        // Nothing at the path: an empty volume, open to all.
        let empty = volumes.create(&[tmp.path().join("none")], "/nope").unwrap();
        assert!(fs::read_dir(volumes.data(&empty)).unwrap().next().is_none());
        let mode = fs::metadata(volumes.data(&empty)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o755);
        // A whiteout in the upper layer hides the lower file (making one
        // needs root).
        if nix::unistd::geteuid().is_root() {
            let upper2 = tmp.path().join("upper2");
            fs::create_dir_all(upper2.join("data")).unwrap();
            nix::sys::stat::mknod(
                &upper2.join("data/gone"),
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::empty(),
                0,
            )
            .unwrap();
            let lower = tmp.path().join("lower");
            let name = volumes.create(&[lower, upper2], "/data").unwrap();
            assert!(!volumes.data(&name).join("gone").exists());
            assert!(volumes.data(&name).join("a").exists());
            volumes.remove(&name).unwrap();
        }
        assert_eq!(volumes.names().unwrap().len(), 3);
        volumes.remove(&empty).unwrap();
        assert_eq!(volumes.names().unwrap().len(), 2);
    }
}
