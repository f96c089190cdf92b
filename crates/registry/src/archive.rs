//! `save` and `load`: images as one tar archive that is both a docker
//! archive (`manifest.json`, as `docker load` and skopeo's
//! `docker-archive:` read it) and an OCI image layout (`index.json`,
//! `oci-layout`, `blobs/`, as skopeo's `oci-archive:` reads it), the form
//! docker 25 writes. Layers go in as the store keeps them (as pulled:
//! compressed or not), so digests, manifests and image ids stay.
//!
//! `load` reads that form, docker's older one (`manifest.json` with
//! `<id>/layer.tar` or `<hex>.tar` layers) and plain OCI archives,
//! compressed layers or not, from a file or a stream.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use oci_client::config::ConfigFile;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tinydocker_fs::{Blob, ImageStore, NewImage, StagedLayer};

use crate::export::Exported;

/// Why a save or a load failed: one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ArchiveError(String);

fn err(what: impl std::fmt::Display) -> ArchiveError {
    ArchiveError(what.to_string())
}

impl From<tinydocker_fs::Error> for ArchiveError {
    fn from(e: tinydocker_fs::Error) -> Self {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        ArchiveError(text)
    }
}

/// Write the images `names` (names, digest references or ids) to `out`.
pub fn save(store: &ImageStore, names: &[String], out: impl Write) -> Result<(), ArchiveError> {
    // Each image once, with every name it was asked by.
    let mut images: Vec<(Exported, Vec<String>)> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for name in names {
        let image = store.resolve(name)?;
        let exported = Exported::of(store, &image).map_err(err)?;
        let tag = repo_tag(name, &image.id);
        match ids.iter().position(|i| *i == image.id) {
            Some(i) => images[i].1.extend(tag),
            None => {
                ids.push(image.id.clone());
                images.push((exported, tag.into_iter().collect()));
            }
        }
    }
    let mut tar = tar::Builder::new(out);
    let mut written = std::collections::HashSet::new();
    let add = |tar: &mut tar::Builder<_>, path: &str, data: &mut dyn Read, size: u64| {
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, data)
            .map_err(|e| err(format!("write {path}: {e}")))
    };
    let mut manifest_json = Vec::new();
    let mut index = Vec::new();
    for (exported, tags) in &images {
        let config_path = blob_name(&exported.config_digest);
        if written.insert(config_path.clone()) {
            add(
                &mut tar,
                &config_path,
                &mut &exported.config[..],
                exported.config.len() as u64,
            )?;
        }
        for layer in &exported.layers {
            let path = blob_name(&layer.digest);
            if written.insert(path.clone()) {
                let source = store.blob_path(&layer.digest);
                let mut file =
                    File::open(&source).map_err(|e| err(format!("{}: {e}", source.display())))?;
                add(&mut tar, &path, &mut file, layer.size)?;
            }
        }
        let (manifest, media_type) = exported.manifest();
        let digest = format!("sha256:{:x}", Sha256::digest(&manifest));
        let path = blob_name(&digest);
        if written.insert(path.clone()) {
            add(&mut tar, &path, &mut &manifest[..], manifest.len() as u64)?;
        }
        manifest_json.push(json!({
            "Config": config_path,
            "RepoTags": tags,
            "Layers": exported.layers.iter().map(|l| blob_name(&l.digest)).collect::<Vec<_>>(),
        }));
        let entry = |name: Option<&String>| {
            let mut e =
                json!({ "mediaType": media_type, "digest": digest, "size": manifest.len() });
            if let Some(name) = name {
                let tag = name.rsplit_once(':').map_or("latest", |(_, t)| t);
                e["annotations"] = json!({
                    "io.containerd.image.name": full_name(name),
                    "org.opencontainers.image.ref.name": tag,
                });
            }
            e
        };
        if tags.is_empty() {
            index.push(entry(None));
        }
        for tag in tags {
            index.push(entry(Some(tag)));
        }
    }
    let files = [
        ("oci-layout", json!({ "imageLayoutVersion": "1.0.0" })),
        (
            "index.json",
            json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": index,
            }),
        ),
        ("manifest.json", Value::Array(manifest_json)),
    ];
    for (path, value) in files {
        let data = serde_json::to_vec(&value).expect("json serialises");
        add(&mut tar, path, &mut &data[..], data.len() as u64)?;
    }
    tar.into_inner()
        .and_then(|mut out| out.flush())
        .map_err(|e| err(format!("write the archive: {e}")))
}

/// `blobs/sha256/<hex>` for `sha256:<hex>`.
fn blob_name(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

/// The `REPO:TAG` an image was asked by, as docker's RepoTags hold it;
/// none when asked by id or digest.
fn repo_tag(name: &str, id: &str) -> Option<String> {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    if name.contains('@') || (id.trim_start_matches("sha256:").starts_with(hex) && !hex.is_empty())
    {
        return None;
    }
    let reference: tinydocker_fs::Reference = name.parse().ok()?;
    Some(reference.to_string())
}

/// `docker.io/library/busybox:latest` for `busybox:latest`.
fn full_name(name: &str) -> String {
    let first = name.split('/').next().unwrap_or_default();
    if name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost") {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    }
}

/// What a load put in the store: for each image, its id and names.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: String,
    pub names: Vec<String>,
}

/// A directory of the store's `tmp/`, removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Load the images of the archive `input` (a file or a stream) into the
/// store. Nothing is recorded unless every image of it is whole.
pub fn load(store: &ImageStore, input: impl Read) -> Result<Vec<Loaded>, ArchiveError> {
    let scratch = Scratch(store.scratch_dir("load")?);
    extract(input, &scratch.0)?;
    let images = if scratch.0.join("manifest.json").is_file() {
        docker_images(&scratch.0)?
    } else if scratch.0.join("index.json").is_file() {
        oci_images(&scratch.0)?
    } else {
        return Err(err(
            "invalid archive: it has neither manifest.json (a docker archive) nor index.json (an OCI archive)",
        ));
    };
    if images.is_empty() {
        return Err(err("invalid archive: it names no image"));
    }
    // Every layer staged and checked before anything is recorded.
    let mut prepared = Vec::new();
    for image in images {
        prepared.push(prepare(store, &scratch.0, image)?);
    }
    let mut loaded = Vec::new();
    for p in prepared {
        loaded.push(p.commit(store)?);
    }
    Ok(loaded)
}

/// Extract the archive's regular files and directories (nothing else, and
/// nothing outside `dest`).
fn extract(input: impl Read, dest: &Path) -> Result<(), ArchiveError> {
    let mut archive = tar::Archive::new(input);
    let bad = |e: io::Error| err(format!("invalid archive: {e}"));
    let mut count = 0;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let mut rel = PathBuf::new();
        for c in path.components() {
            match c {
                Component::Normal(part) => rel.push(part),
                Component::CurDir => {}
                _ => {
                    return Err(err(format!(
                        "invalid archive: entry {} leads outside it",
                        path.display()
                    )))
                }
            }
        }
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&rel);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                fs::create_dir_all(&target).map_err(|e| err(format!("{}: {e}", rel.display())))?
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|e| err(format!("{}: {e}", rel.display())))?;
                }
                let mut file =
                    File::create(&target).map_err(|e| err(format!("{}: {e}", rel.display())))?;
                io::copy(&mut entry, &mut file).map_err(bad)?;
                count += 1;
            }
            // Links and the rest: no image archive needs them.
            _ => {}
        }
    }
    if count == 0 {
        return Err(err("invalid archive: it holds no files"));
    }
    Ok(())
}

/// An image as an archive names it: its config file, its layer files and
/// its names.
struct Listed {
    config: PathBuf,
    layers: Vec<PathBuf>,
    names: Vec<String>,
}

fn read_json(dir: &Path, rel: &Path) -> Result<Value, ArchiveError> {
    let data = fs::read(dir.join(rel))
        .map_err(|e| err(format!("invalid archive: {}: {e}", rel.display())))?;
    serde_json::from_slice(&data)
        .map_err(|e| err(format!("invalid archive: {}: {e}", rel.display())))
}

/// A path the archive names, kept inside it.
fn inside(text: &str) -> Result<PathBuf, ArchiveError> {
    let path = Path::new(text);
    if text.is_empty()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(err(format!(
            "invalid archive: path {text:?} leads outside it"
        )));
    }
    Ok(path.to_path_buf())
}

fn docker_images(dir: &Path) -> Result<Vec<Listed>, ArchiveError> {
    let manifest = read_json(dir, Path::new("manifest.json"))?;
    let entries = manifest
        .as_array()
        .ok_or_else(|| err("invalid archive: manifest.json is not a list"))?;
    entries
        .iter()
        .map(|e| {
            let config = inside(e["Config"].as_str().unwrap_or_default())?;
            let layers = e["Layers"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .map(|p| inside(p.as_str().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_else(|| Ok(Vec::new()))?;
            let names = e["RepoTags"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|n| n.as_str().map(short_name))
                        .collect()
                })
                .unwrap_or_default();
            Ok(Listed {
                config,
                layers,
                names,
            })
        })
        .collect()
}

/// `blobs/ALG/HEX` for a digest, refused unless it is one.
fn oci_blob(digest: &str) -> Result<PathBuf, ArchiveError> {
    match digest.split_once(':') {
        Some((alg, hex))
            if !alg.is_empty()
                && alg.bytes().all(|b| b.is_ascii_alphanumeric())
                && !hex.is_empty()
                && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Path::new("blobs").join(alg).join(hex))
        }
        _ => Err(err(format!("invalid archive: bad digest {digest:?}"))),
    }
}

fn oci_images(dir: &Path) -> Result<Vec<Listed>, ArchiveError> {
    let index = read_json(dir, Path::new("index.json"))?;
    let mut out = Vec::new();
    let mut pending: Vec<(Value, Option<String>)> = index["manifests"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m, None))
        .collect();
    let host = crate::Platform::host();
    while let Some((descriptor, inherited)) = pending.pop() {
        let annotations = &descriptor["annotations"];
        let name = annotations["io.containerd.image.name"]
            .as_str()
            .map(String::from)
            .or_else(|| {
                // A whole reference; a bare tag names no repository.
                annotations["org.opencontainers.image.ref.name"]
                    .as_str()
                    .filter(|n| n.contains('/') || n.contains(':'))
                    .map(String::from)
            })
            .or(inherited);
        let digest = descriptor["digest"].as_str().unwrap_or_default();
        let body = read_json(dir, &oci_blob(digest)?)?;
        let media_type = descriptor["mediaType"]
            .as_str()
            .or_else(|| body["mediaType"].as_str())
            .unwrap_or_default();
        if media_type.ends_with("index.v1+json") || media_type.ends_with("manifest.list.v2+json") {
            // An index: its entry for this platform.
            for m in body["manifests"].as_array().cloned().unwrap_or_default() {
                let p = &m["platform"];
                let fits = p.is_null()
                    || (p["os"] == "linux" && p["architecture"] == host.architecture.as_str());
                if fits {
                    pending.push((m, name.clone()));
                    break;
                }
            }
            continue;
        }
        let config = oci_blob(body["config"]["digest"].as_str().unwrap_or_default())?;
        let layers = body["layers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|l| oci_blob(l["digest"].as_str().unwrap_or_default()))
            .collect::<Result<_, _>>()?;
        let names = name.map(|n| short_name(&n)).into_iter().collect();
        // Each image once, with all its names.
        match out.iter_mut().find(|l: &&mut Listed| l.config == config) {
            Some(seen) => seen.names.extend::<Vec<String>>(names),
            None => out.push(Listed {
                config,
                layers,
                names,
            }),
        }
    }
    out.reverse();
    Ok(out)
}

/// `busybox:latest` for `docker.io/library/busybox:latest`.
fn short_name(name: &str) -> String {
    for hub in ["docker.io/library/", "docker.io/"] {
        if let Some(rest) = name.strip_prefix(hub) {
            return rest.to_string();
        }
    }
    name.to_string()
}

/// An image whose layers are staged and checked, to be recorded.
struct Prepared {
    id: String,
    config_bytes: Vec<u8>,
    config: ConfigFile,
    diff_ids: Vec<String>,
    layers: Vec<(Option<StagedLayer>, Blob, PathBuf)>,
    names: Vec<String>,
}

fn prepare(store: &ImageStore, dir: &Path, listed: Listed) -> Result<Prepared, ArchiveError> {
    let config_bytes = fs::read(dir.join(&listed.config))
        .map_err(|e| err(format!("invalid archive: {}: {e}", listed.config.display())))?;
    let config: ConfigFile = serde_json::from_slice(&config_bytes)
        .map_err(|e| err(format!("invalid archive: image config: {e}")))?;
    let diff_ids = config.rootfs.diff_ids.clone();
    if diff_ids.len() != listed.layers.len() {
        return Err(err(format!(
            "invalid archive: the image lists {} layers, its config {}",
            listed.layers.len(),
            diff_ids.len()
        )));
    }
    for name in &listed.names {
        name.parse::<tinydocker_fs::Reference>()
            .map_err(|e| err(format!("invalid archive: image name {name:?}: {e}")))?;
    }
    let mut layers = Vec::new();
    for (rel, diff_id) in listed.layers.iter().zip(&diff_ids) {
        let path = dir.join(rel);
        let file = File::open(&path)
            .map_err(|e| err(format!("invalid archive: {}: {e}", rel.display())))?;
        let mut hashing = HashingReader {
            inner: io::BufReader::with_capacity(1 << 16, file),
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
        };
        let staged = if store.has_layer(diff_id) {
            None
        } else {
            let staged = store.stage_layer(&mut hashing).map_err(|e| {
                err(format!(
                    "invalid archive: layer {}: {}",
                    rel.display(),
                    ArchiveError::from(e)
                ))
            })?;
            if staged.unpacked().diff_id != *diff_id {
                return Err(err(format!(
                    "invalid archive: layer {}: its content has digest {}, its config says {diff_id}",
                    rel.display(),
                    staged.unpacked().diff_id
                )));
            }
            Some(staged)
        };
        io::copy(&mut hashing, &mut io::sink())
            .map_err(|e| err(format!("invalid archive: {}: {e}", rel.display())))?;
        let digest = format!("sha256:{:x}", hashing.hasher.finalize());
        let media_type = match hashing.head.as_slice() {
            [0x1f, 0x8b, ..] => "application/vnd.oci.image.layer.v1.tar+gzip",
            [0x28, 0xb5, 0x2f, 0xfd, ..] => "application/vnd.oci.image.layer.v1.tar+zstd",
            _ => "application/vnd.oci.image.layer.v1.tar",
        };
        layers.push((
            staged,
            Blob {
                digest,
                media_type: media_type.to_string(),
                size: hashing.size,
            },
            path,
        ));
    }
    Ok(Prepared {
        id: format!("sha256:{:x}", Sha256::digest(&config_bytes)),
        config_bytes,
        config,
        diff_ids,
        layers,
        names: listed.names,
    })
}

impl Prepared {
    fn commit(self, store: &ImageStore) -> Result<Loaded, ArchiveError> {
        let mut blobs = Vec::new();
        for ((staged, blob, path), diff_id) in self.layers.into_iter().zip(&self.diff_ids) {
            if let Some(staged) = staged {
                store.commit_layer(staged, diff_id)?;
            }
            store.adopt_blob(&path, &blob.digest)?;
            blobs.push(blob);
        }
        let config_blob = store.write_blob(&self.config_bytes)?;
        let created = self
            .config
            .created
            .and_then(|t| u64::try_from(t.timestamp()).ok());
        let mut names = self.names.clone();
        names.sort();
        names.dedup();
        store.add_image(NewImage {
            id: self.id.clone(),
            layers: self.diff_ids,
            blobs,
            config: crate::image_config(&self.config),
            config_blob: Some(config_blob),
            created,
            names: names.clone(),
        })?;
        Ok(Loaded { id: self.id, names })
    }
}

/// Hashes and counts what passes through, and keeps its first bytes (for
/// the compression).
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if self.head.len() < 4 {
            let take = (4 - self.head.len()).min(n);
            self.head.extend_from_slice(&buf[..take]);
        }
        self.size += n as u64;
        Ok(n)
    }
}
