//! The image store: unpacked layers addressed by the sha256 of their
//! uncompressed tar stream (docker's "diff id"), image records addressed by
//! the sha256 of their layer list, and an index of names.
//!
//! ```text
//! images/
//!   layers/<hex>/        one unpacked layer; never written to after import
//!   blobs/sha256/<hex>   layer archives and image configs as they came
//!                        (see blob.rs), for push and save
//!   records/<id>.json    an image: its layers (bottom first), size, config
//!   repositories.json    "name:tag" -> image id
//!   tmp/                 imports in progress (removed when they fail)
//!   lock                 flock(2) held while the index or records change
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::blob::Blob;
use crate::{write_atomic, Error, Reference};

/// The runtime configuration an image carries. An imported rootfs has none
/// (like `docker import`): the command must then be given to `run`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub working_dir: String,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// `USER[:GROUP]` the command runs as unless `run -u` says otherwise.
    #[serde(default)]
    pub user: String,
    /// `PORT/PROTO`, for `run -P`.
    #[serde(default)]
    pub exposed_ports: Vec<String>,
    /// Paths that get an anonymous volume each.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// The signal `stop` sends first (empty: SIGTERM).
    #[serde(default)]
    pub stop_signal: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// An image record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:<hex>` of the layer list.
    pub id: String,
    /// Layer digests, `sha256:<hex>`, bottom layer first.
    pub layers: Vec<String>,
    /// Seconds since the epoch.
    pub created: u64,
    /// Bytes in the unpacked layers.
    pub size: u64,
    #[serde(default)]
    pub config: ImageConfig,
    /// The archive of each layer, in the order of `layers`, when the store
    /// keeps them (empty for an image from an older store).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<Blob>,
    /// The image's config as it came (a pulled or loaded image: its digest
    /// is the id); `None` for an import, whose config `save` and `push`
    /// write afresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_blob: Option<String>,
    /// Names that point at this image, filled in by [`ImageStore::list`].
    #[serde(skip)]
    pub names: Vec<String>,
}

impl Image {
    /// The id without `sha256:`, first 12 hex digits, as `docker images` shows it.
    pub fn short_id(&self) -> &str {
        let hex = self.id.strip_prefix("sha256:").unwrap_or(&self.id);
        &hex[..hex.len().min(12)]
    }
}

/// A content-addressed image store rooted at a directory.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

/// An `flock(2)` on the store (exclusive, or shared: see
/// [`ImageStore::hold`]), released on drop, even if a process forked
/// while it was held still has the descriptor; [`Lock::leave_to_forks`]
/// hands it to such a process instead.
pub struct Lock(Option<File>);

impl Lock {
    /// Close this process's descriptor without unlocking: the lock stays
    /// held for a process forked while it was (a detached container's
    /// supervisor), until that one drops or closes it.
    pub fn leave_to_forks(mut self) {
        drop(self.0.take());
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Some(file) = self.0.take() {
            let _ = file.unlock();
        }
    }
}

/// Hashes and counts what passes through, and notes whether the underlying
/// reader ever reported end-of-file.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    eof: bool,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// Remove a directory tree (or a file), making read-only directories
/// writable first.
fn remove_tree(path: &Path) -> io::Result<()> {
    if fs::symlink_metadata(path).is_ok_and(|m| !m.is_dir()) {
        return fs::remove_file(path);
    }
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o755));
            fs::remove_dir_all(path)
        }
        Err(e) => Err(e),
    }
}

impl ImageStore {
    /// A store rooted at `root`. Nothing is created until the first import,
    /// so look-ups on a fresh root leave no trace.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, Error> {
        Ok(ImageStore { root: root.into() })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh name in the store's `tmp/` (swept once this process is
    /// gone), ending in `.KIND`.
    pub(crate) fn temp_name(&self, kind: &str) -> Result<PathBuf, Error> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        self.create_dirs()?;
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Ok(self.root.join("tmp").join(format!(
            "import-{}-{nanos:08x}{n}.{kind}",
            std::process::id()
        )))
    }

    fn create_dirs(&self) -> Result<(), Error> {
        for sub in ["layers", "records", "tmp"] {
            let dir = self.root.join(sub);
            fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        }
        Ok(())
    }

    /// The record files, as (id hex, path); none on a fresh store.
    fn record_ids(&self) -> Result<Vec<String>, Error> {
        let records = self.root.join("records");
        let entries = match fs::read_dir(&records) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::Io {
                    path: records,
                    source: e,
                })
            }
        };
        Ok(entries
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|f| f.strip_suffix(".json"))
                    .map(str::to_string)
            })
            .collect())
    }

    fn lock(&self) -> Result<Lock, Error> {
        self.flock(true, true)
    }

    /// A shared hold on the store: no image is removed while it is held.
    /// A `run` holds it from resolving its image until its container's
    /// record names the image, which `rmi` then sees. `None` for a store
    /// that was never written (it has no image to hold), which stays so.
    pub fn hold(&self) -> Result<Option<Lock>, Error> {
        match self.flock(false, false) {
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
            held => held.map(Some),
        }
    }

    fn flock(&self, exclusive: bool, create: bool) -> Result<Lock, Error> {
        let path = self.root.join("lock");
        let open = || {
            File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
        };
        // The directories exist once anything was imported: made only when
        // they do not.
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                self.create_dirs()?;
                open()
            }
            opened => opened,
        }
        .map_err(Error::io(&path))?;
        loop {
            let locked = if exclusive {
                file.lock()
            } else {
                file.lock_shared()
            };
            match locked {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(Error::Io { path, source }),
            }
        }
        Ok(Lock(Some(file)))
    }

    /// Directory of an unpacked layer.
    pub fn layer_path(&self, digest: &str) -> PathBuf {
        self.root
            .join("layers")
            .join(digest.strip_prefix("sha256:").unwrap_or(digest))
    }

    /// A layer shared by every container, placed above the image's layers:
    /// it holds the directories the runtime mounts on (`/proc`, `/sys`,
    /// `/dev`), so they exist in every root without a write (and an overlay
    /// copy-up) into each container's own layer. Created once, atomically.
    pub fn init_layer(&self) -> Result<PathBuf, Error> {
        let path = self.root.join("init-layer");
        if path.is_dir() {
            return Ok(path);
        }
        self.create_dirs()?;
        let tmp = tempdir_in(&self.root.join("tmp"))?;
        let staged = tmp.path.join("layer");
        for dir in ["proc", "sys", "dev"] {
            let d = staged.join(dir);
            fs::create_dir_all(&d).map_err(Error::io(&d))?;
        }
        match fs::rename(&staged, &path) {
            Ok(()) => Ok(path),
            // Another process won the race: its layer is the same.
            Err(_) if path.is_dir() => Ok(path),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    /// Bytes in an unpacked layer's files.
    pub fn layer_size(&self, diff_id: &str) -> u64 {
        dir_size(&self.layer_path(diff_id))
    }

    /// The layer directories of an image, bottom first.
    pub fn layer_paths(&self, image: &Image) -> Vec<PathBuf> {
        image.layers.iter().map(|l| self.layer_path(l)).collect()
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.root
            .join("records")
            .join(format!("{}.json", id.strip_prefix("sha256:").unwrap_or(id)))
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("repositories.json")
    }

    fn read_index(&self) -> Result<BTreeMap<String, String>, Error> {
        let path = self.index_path();
        match fs::read(&path) {
            Ok(data) => {
                serde_json::from_slice(&data).map_err(|source| Error::BadRecord { path, source })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    fn write_index(&self, index: &BTreeMap<String, String>) -> Result<(), Error> {
        let path = self.index_path();
        let data = serde_json::to_vec_pretty(index).expect("a map of strings serialises");
        write_atomic(&path, &data, true).map_err(Error::io(path))
    }

    fn read_record(&self, id: &str) -> Result<Image, Error> {
        let path = self.record_path(id);
        let data = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NoSuchImage(id.to_string()),
            _ => Error::Io {
                path: path.clone(),
                source: e,
            },
        })?;
        serde_json::from_slice(&data).map_err(|source| Error::BadRecord { path, source })
    }

    /// Import a root filesystem — a tar archive (plain or gzip) or a
    /// directory — as a one-layer image named `reference`. A failed import
    /// leaves nothing behind.
    pub fn import(&self, source: &Path, reference: &Reference) -> Result<Image, Error> {
        self.import_with_config(source, reference, ImageConfig::default())
    }

    /// [`ImageStore::import`] with a config (`import --change`), which the
    /// image's id covers.
    pub fn import_with_config(
        &self,
        source: &Path,
        reference: &Reference,
        config: ImageConfig,
    ) -> Result<Image, Error> {
        self.import_as(source, Some(reference), config)
    }

    /// [`ImageStore::import_with_config`], named `reference` or, without
    /// one, known by its id alone (docker's `import` of no name).
    pub fn import_as(
        &self,
        source: &Path,
        reference: Option<&Reference>,
        config: ImageConfig,
    ) -> Result<Image, Error> {
        let meta = fs::metadata(source).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::SourceMissing(source.to_path_buf()),
            _ => Error::Io {
                path: source.to_path_buf(),
                source: e,
            },
        })?;
        self.create_dirs()?;
        let tmp = tempdir_in(&self.root.join("tmp"))?;
        // Pack a directory into a tar first, so a directory and the
        // tarball of it go through one path and get one kind of digest.
        let tarball = if meta.is_dir() {
            let tar_path = tmp.path.join("layer.tar");
            pack_dir(source, &tar_path).map_err(Error::io(source))?;
            tar_path
        } else {
            source.to_path_buf()
        };
        let (digest, gzip) = self.unpack_layer(&tarball, &tmp.path.join("rootfs"), source)?;
        let blob = self.keep_archive(&tarball, meta.is_dir(), gzip)?;
        let layer = format!("sha256:{digest}");
        let final_path = self.layer_path(&layer);
        let size = dir_size(&tmp.path.join("rootfs"));

        let layers = vec![layer];
        let id = image_id(&layers, &config);
        let _lock = self.lock()?;
        if !final_path.exists() {
            let from = tmp.path.join("rootfs");
            fs::rename(&from, &final_path).map_err(Error::io(&final_path))?;
        }
        let image = match self.read_record(&id) {
            Ok(existing) => existing,
            Err(Error::NoSuchImage(_)) => {
                let image = Image {
                    id: id.clone(),
                    layers,
                    created: now(),
                    size,
                    config,
                    blobs: vec![blob],
                    config_blob: None,
                    names: Vec::new(),
                };
                let path = self.record_path(&id);
                let data = serde_json::to_vec_pretty(&image).expect("image record serialises");
                write_atomic(&path, &data, true).map_err(Error::io(path))?;
                image
            }
            Err(e) => return Err(e),
        };
        if let Some(reference) = reference {
            let mut index = self.read_index()?;
            index.insert(reference.to_string(), id);
            self.write_index(&index)?;
        }
        Ok(image)
    }

    /// Keep an imported archive as the layer's blob: moved if it is the
    /// store's own (a packed directory), copied otherwise.
    fn keep_archive(&self, tarball: &Path, own: bool, gzip: bool) -> Result<Blob, Error> {
        let mut file = File::open(tarball).map_err(Error::io(tarball))?;
        let mut hasher = Sha256::new();
        let size = io::copy(&mut file, &mut HashWriter(&mut hasher)).map_err(Error::io(tarball))?;
        let digest = format!("sha256:{}", hex(&hasher.finalize()));
        let dest = self.blob_path(&digest);
        if !dest.is_file() {
            let dir = dest.parent().expect("blobs/sha256 has a parent");
            fs::create_dir_all(dir).map_err(Error::io(dir))?;
            let staged = self.temp_name("blob")?;
            if own {
                fs::rename(tarball, &staged).map_err(Error::io(&staged))?;
            } else {
                fs::copy(tarball, &staged).map_err(Error::io(&staged))?;
            }
            fs::rename(&staged, &dest).map_err(Error::io(&dest))?;
        }
        Ok(Blob {
            digest,
            media_type: if gzip {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            } else {
                "application/vnd.oci.image.layer.v1.tar"
            }
            .to_string(),
            size,
        })
    }

    /// Remove what imports and pulls of processes that are gone left in
    /// `tmp/` (killed halfway: their directories are named by their pid).
    fn sweep_tmp(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix("import-"))
                .and_then(|n| n.split('-').next())
                .and_then(|p| p.parse::<i32>().ok());
            let gone = pid.is_some_and(|p| p > 0 && !process_exists(p));
            if gone {
                let _ = remove_tree(&entry.path());
            }
        }
    }

    /// Whether the layer with this diff id (`sha256:<hex>`) is unpacked in
    /// the store.
    pub fn has_layer(&self, diff_id: &str) -> bool {
        self.layer_path(diff_id).is_dir()
    }

    /// Unpack a layer stream (plain, gzip or zstd) into a private
    /// directory of the store; [`ImageStore::commit_layer`] puts it in
    /// place, dropping the [`StagedLayer`] removes it.
    pub fn stage_layer(&self, reader: impl Read) -> Result<StagedLayer, Error> {
        self.create_dirs()?;
        self.sweep_tmp();
        let tmp = tempdir_in(&self.root.join("tmp"))?;
        let dest = tmp.path.join("layer");
        fs::create_dir(&dest).map_err(Error::io(&dest))?;
        let unpacked = crate::layer::unpack(reader, &dest)?;
        Ok(StagedLayer { tmp, unpacked })
    }

    /// Put a staged layer in place under `diff_id`, which it must have (a
    /// layer that is there already is kept: it is the same).
    pub fn commit_layer(&self, staged: StagedLayer, diff_id: &str) -> Result<(), Error> {
        if staged.unpacked.diff_id != diff_id {
            return Err(Error::LayerMismatch {
                expected: diff_id.to_string(),
                actual: staged.unpacked.diff_id,
            });
        }
        let path = self.layer_path(diff_id);
        match fs::rename(staged.tmp.path.join("layer"), &path) {
            Ok(()) => Ok(()),
            Err(_) if path.is_dir() => Ok(()),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    /// Record an image whose layers are in the store (and whose blobs
    /// are, if it names them), and point its names at it.
    pub fn add_image(&self, new: NewImage) -> Result<Image, Error> {
        let _lock = self.lock()?;
        let existing = self.read_record(&new.id).ok();
        let mut image = Image {
            id: new.id.clone(),
            layers: new.layers,
            created: new.created.unwrap_or_else(now),
            size: 0,
            config: new.config,
            blobs: new.blobs,
            config_blob: new.config_blob,
            names: Vec::new(),
        };
        // The same image again (a pull of what is here): nothing to write.
        match existing {
            Some(old)
                if old.layers == image.layers
                    && old.config == image.config
                    && old.blobs == image.blobs
                    && old.config_blob == image.config_blob =>
            {
                image = old;
            }
            _ => {
                image.size = image
                    .layers
                    .iter()
                    .map(|l| dir_size(&self.layer_path(l)))
                    .sum();
                let path = self.record_path(&new.id);
                let data = serde_json::to_vec_pretty(&image).expect("image record serialises");
                write_atomic(&path, &data, true).map_err(Error::io(path))?;
            }
        }
        let mut index = self.read_index()?;
        let mut changed = false;
        for name in new.names {
            if index.get(&name) != Some(&new.id) {
                index.insert(name, new.id.clone());
                changed = true;
            }
        }
        if changed {
            self.write_index(&index)?;
        }
        Ok(image)
    }

    /// Unpack a tar stream into `dest`; return the sha256 (hex) of the
    /// uncompressed stream, and whether it was gzip.
    fn unpack_layer(
        &self,
        tarball: &Path,
        dest: &Path,
        shown: &Path,
    ) -> Result<(String, bool), Error> {
        let mut file = File::open(tarball).map_err(Error::io(tarball))?;
        let mut magic = [0u8; 2];
        let gzip = matches!(file.read(&mut magic), Ok(2) if magic == [0x1f, 0x8b]);
        let file = File::open(tarball).map_err(Error::io(tarball))?;
        let reader: Box<dyn Read> = if gzip {
            Box::new(flate2::read::GzDecoder::new(BufReader::new(file)))
        } else {
            Box::new(BufReader::new(file))
        };
        let mut hashing = Hashing {
            inner: reader,
            hasher: Sha256::new(),
            eof: false,
        };
        fs::create_dir(dest).map_err(Error::io(dest))?;
        let mut archive = tar::Archive::new(&mut hashing);
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.set_preserve_mtime(true);
        archive.set_overwrite(true);
        archive.unpack(dest).map_err(|source| match source.kind() {
            io::ErrorKind::UnexpectedEof => Error::Truncated(shown.to_path_buf()),
            _ if gzip && is_gzip_truncation(&source) => Error::Truncated(shown.to_path_buf()),
            _ => Error::NotATarball {
                path: shown.to_path_buf(),
                source,
            },
        })?;

        // A whole archive ends with zero blocks: the tar reader stops at the
        // first one and never sees end-of-file. End-of-file before that
        // means the archive was cut off at an entry boundary.
        if hashing.eof {
            return Err(Error::Truncated(shown.to_path_buf()));
        }
        io::copy(&mut hashing, &mut io::sink())
            .map_err(|_| Error::Truncated(shown.to_path_buf()))?;
        if fs::read_dir(dest)
            .map_err(Error::io(dest))?
            .next()
            .is_none()
        {
            return Err(Error::EmptyArchive(shown.to_path_buf()));
        }
        Ok((hex(&hashing.hasher.finalize()), gzip))
    }

    /// Find an image by `name[:tag]`, or by a prefix of its id.
    pub fn resolve(&self, name: &str) -> Result<Image, Error> {
        let index = self.read_index()?;
        // `NAME@sha256:<hex>`: an image pulled by (or with) that digest.
        if let Some((repo, digest)) = name.split_once('@') {
            let repo = familiar(repo);
            return match index.get(&format!("{repo}@{digest}")) {
                Some(id) => self.read_record(id),
                None => Err(Error::NoSuchImage(name.to_string())),
            };
        }
        if let Ok(reference) = familiar(name).parse::<Reference>() {
            if let Some(id) = index.get(&reference.to_string()) {
                return self.read_record(id);
            }
        }
        let hex_part = name.strip_prefix("sha256:").unwrap_or(name);
        if !hex_part.is_empty()
            && hex_part.len() <= 64
            && hex_part.bytes().all(|b| b.is_ascii_hexdigit())
        {
            let found: Vec<String> = self
                .record_ids()?
                .into_iter()
                .filter(|id| id.starts_with(hex_part))
                .collect();
            match found.len() {
                0 => {}
                1 => return self.read_record(&found[0]),
                _ => return Err(Error::AmbiguousImage(name.to_string())),
            }
        }
        Err(Error::NoSuchImage(name.to_string()))
    }

    /// Point `target` (`NAME[:TAG]`) at the image `source` names (a name,
    /// a digest reference or an id prefix), as `docker tag`.
    pub fn tag(&self, source: &str, target: &Reference) -> Result<Image, Error> {
        let image = self.resolve(source)?;
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        index.insert(target.to_string(), image.id.clone());
        self.write_index(&index)?;
        Ok(image)
    }

    /// Every image, with the names that point at it, newest first.
    pub fn list(&self) -> Result<Vec<Image>, Error> {
        let index = self.read_index()?;
        let mut images = Vec::new();
        for id in self.record_ids()? {
            let mut image = self.read_record(&id)?;
            image.names = index
                .iter()
                .filter(|(_, v)| **v == image.id)
                .map(|(k, _)| k.clone())
                .collect();
            images.push(image);
        }
        images.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(images)
    }

    /// Record `blobs` as the image's layer archives, and remove the
    /// archives in `old` no image names any more.
    pub(crate) fn replace_blobs(
        &self,
        id: &str,
        blobs: Vec<Blob>,
        old: &[String],
    ) -> Result<Image, Error> {
        let _lock = self.lock()?;
        let mut image = self.read_record(id)?;
        image.blobs = blobs;
        let path = self.record_path(id);
        let data = serde_json::to_vec_pretty(&image).expect("image record serialises");
        write_atomic(&path, &data, true).map_err(Error::io(path))?;
        let index = self.read_index()?;
        let mut named = std::collections::HashSet::new();
        for other in self.record_ids()? {
            if let Ok(record) = self.read_record(&other) {
                named.extend(record.blobs.into_iter().map(|b| b.digest));
            }
        }
        for digest in old {
            if !named.contains(digest) {
                let _ = fs::remove_file(self.blob_path(digest));
            }
        }
        image.names = index
            .iter()
            .filter(|(_, v)| **v == image.id)
            .map(|(k, _)| k.clone())
            .collect();
        Ok(image)
    }

    /// Remove the name `name` (or all names of an image given by id). The
    /// image record and its layers go when no name is left and `in_use(id)`
    /// says no container needs them; otherwise the image stays, nameless
    /// ("dangling"), as docker leaves it.
    pub fn remove(&self, name: &str, in_use: impl Fn(&str) -> bool) -> Result<Removed, Error> {
        let image = self.resolve(name)?;
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let by_name = name
            .parse::<Reference>()
            .ok()
            .map(|r| r.to_string())
            .filter(|r| index.contains_key(r));
        let untagged: Vec<String> = match by_name {
            Some(reference) => vec![reference],
            None => index
                .iter()
                .filter(|(_, id)| **id == image.id)
                .map(|(n, _)| n.clone())
                .collect(),
        };
        index.retain(|n, _| !untagged.contains(n));
        self.write_index(&index)?;
        let still_named = index.values().any(|id| *id == image.id);
        if still_named || in_use(&image.id) {
            return Ok(Removed {
                image,
                untagged,
                deleted: false,
            });
        }
        let record = self.record_path(&image.id);
        fs::remove_file(&record).map_err(Error::io(&record))?;
        // Layers and blobs shared with another image stay.
        let mut kept = Vec::new();
        let mut kept_blobs = std::collections::HashSet::new();
        for other in self.list()? {
            kept.extend(other.layers);
            kept_blobs.extend(other.blobs.into_iter().map(|b| b.digest));
            kept_blobs.extend(other.config_blob);
        }
        // Only this image's own: another process may have kept blobs of
        // an image it has not recorded yet.
        for blob in image
            .blobs
            .iter()
            .map(|b| &b.digest)
            .chain(image.config_blob.as_ref())
        {
            if !kept_blobs.contains(blob) {
                let path = self.blob_path(blob);
                let _ = fs::remove_file(path);
            }
        }
        for layer in &image.layers {
            if !kept.contains(layer) {
                let path = self.layer_path(layer);
                remove_tree(&path).map_err(Error::io(&path))?;
            }
        }
        Ok(Removed {
            image,
            untagged,
            deleted: true,
        })
    }
}

/// An image for [`ImageStore::add_image`].
#[derive(Debug, Clone, Default)]
pub struct NewImage {
    /// A pulled or loaded image's is its config's digest, as docker's.
    pub id: String,
    /// Diff ids, bottom first.
    pub layers: Vec<String>,
    /// The layers' archives, kept in the store, or none.
    pub blobs: Vec<Blob>,
    pub config: ImageConfig,
    /// The config as it came, kept as a blob (its digest).
    pub config_blob: Option<String>,
    /// The image's own time (its config's), in seconds since the epoch;
    /// now when it has none.
    pub created: Option<u64>,
    /// `NAME:TAG` and `NAME@DIGEST` names to point at it.
    pub names: Vec<String>,
}

/// Feeds what is written to a hash.
struct HashWriter<'a>(&'a mut Sha256);

impl io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What [`ImageStore::remove`] did.
#[derive(Debug)]
pub struct Removed {
    pub image: Image,
    /// The names taken away.
    pub untagged: Vec<String>,
    /// Whether the image itself (record and unshared layers) is gone.
    pub deleted: bool,
}

/// The image id: the sha256 of its layer list, so importing the same content
/// twice gives the same image.
/// A name as docker shows it: `busybox` for `docker.io/library/busybox`
/// (and `index.docker.io/...`), `user/app` for `docker.io/user/app`.
fn familiar(name: &str) -> String {
    for hub in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
        if let Some(rest) = name.strip_prefix(hub) {
            return rest.strip_prefix("library/").unwrap_or(rest).to_string();
        }
    }
    name.to_string()
}

fn image_id(layers: &[String], config: &ImageConfig) -> String {
    let mut canonical = serde_json::json!({ "rootfs": { "type": "layers", "diff_ids": layers } });
    // Without a config, the id of before configs were imported.
    if *config != ImageConfig::default() {
        canonical["config"] = serde_json::json!(config);
    }
    format!(
        "sha256:{}",
        hex(&Sha256::digest(canonical.to_string().as_bytes()))
    )
}

fn is_gzip_truncation(err: &io::Error) -> bool {
    let text = err.to_string();
    text.contains("unexpected end")
        || text.contains("corrupt deflate")
        || text.contains("invalid gzip")
}

/// Pack a directory into a tar file, entries sorted, symlinks kept as links.
fn pack_dir(dir: &Path, out: &Path) -> io::Result<()> {
    let file = File::create(out)?;
    let mut builder = tar::Builder::new(io::BufWriter::new(file));
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Complete);
    builder.append_dir_all(".", dir)?;
    builder
        .into_inner()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()
}

/// Whether a process with this pid exists (kill with signal 0).
fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; it only checks the pid.
    let ret = unsafe { libc::kill(pid, 0) };
    ret == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// A layer unpacked in the store's private directory, not yet in place.
pub struct StagedLayer {
    tmp: TempDir,
    unpacked: crate::layer::UnpackedLayer,
}

impl StagedLayer {
    /// What unpacking found: the diff id and the stream's size.
    pub fn unpacked(&self) -> &crate::layer::UnpackedLayer {
        &self.unpacked
    }
}

/// A temporary directory removed on drop (the store's own, so a crash
/// leaves it where the next import can't confuse it with a layer).
struct TempDir {
    path: PathBuf,
}

fn tempdir_in(parent: &Path) -> Result<TempDir, Error> {
    // Unique, not secret: this process's id and the clock, and another
    // try if the name is taken all the same.
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = parent.join(format!("import-{}-{nanos:08x}", std::process::id()));
        match fs::create_dir(&path) {
            Ok(()) => return Ok(TempDir { path }),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(&path)(e)),
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = remove_tree(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn tag_names_an_image_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path().join("store")).unwrap();
        let image = store
            .import(&sample_tar(dir.path()), &reference("base:v1"))
            .unwrap();
        let tagged = store
            .tag("base:v1", &reference("127.0.0.1:5000/team/base:prod"))
            .unwrap();
        assert_eq!(tagged.id, image.id);
        assert_eq!(
            store.resolve("127.0.0.1:5000/team/base:prod").unwrap().id,
            image.id
        );
        assert!(store.tag("nope", &reference("x:y")).is_err());
        let names = &store.list().unwrap()[0].names;
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_staged_layer_of_a_dead_process_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        store.create_dirs().unwrap();
        // pid_max is at most 2^22: this pid cannot exist.
        let dead = dir.path().join("tmp/import-99999999-0000abcd/layer/etc");
        fs::create_dir_all(&dead).unwrap();
        let mine = dir
            .path()
            .join(format!("tmp/import-{}-0000abcd", std::process::id()));
        fs::create_dir_all(&mine).unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        tar.append_data(&mut h, "f", &b"x"[..]).unwrap();
        let staged = store.stage_layer(&tar.into_inner().unwrap()[..]).unwrap();
        assert!(!dir.path().join("tmp/import-99999999-0000abcd").exists());
        assert!(mine.exists(), "a live process's directory stays");
        drop(staged);
    }

    fn sample_tar(dir: &Path) -> PathBuf {
        let src = dir.join("src");
        fs::create_dir_all(src.join("bin")).unwrap();
        fs::write(src.join("bin/hello"), b"#!/bin/sh\necho hi\n").unwrap();
        std::os::unix::fs::symlink("hello", src.join("bin/hi")).unwrap();
        let tar_path = dir.join("rootfs.tar");
        pack_dir(&src, &tar_path).unwrap();
        tar_path
    }

    fn reference(s: &str) -> Reference {
        s.parse().unwrap()
    }

    #[test]
    fn import_tar_gzip_and_directory_give_one_image() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path().join("images")).unwrap();
        let tar_path = sample_tar(dir.path());
        let a = store.import(&tar_path, &reference("a")).unwrap();

        let gz_path = dir.path().join("rootfs.tar.gz");
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&gz_path).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(&fs::read(&tar_path).unwrap()).unwrap();
        gz.finish().unwrap();
        let b = store.import(&gz_path, &reference("b:v1")).unwrap();
        assert_eq!(a.id, b.id, "same content, same image");
        assert_eq!(a.layers.len(), 1);

        let layer = store.layer_path(&a.layers[0]);
        assert_eq!(
            fs::read(layer.join("bin/hello")).unwrap(),
            b"#!/bin/sh\necho hi\n"
        );
        assert_eq!(
            fs::read_link(layer.join("bin/hi")).unwrap(),
            Path::new("hello")
        );

        let c = store
            .import(&dir.path().join("src"), &reference("c"))
            .unwrap();
        assert_eq!(store.resolve("c").unwrap().id, c.id);
        assert_eq!(store.resolve(&a.short_id()[..6]).unwrap().id, a.id);
        let listed = store.list().unwrap();
        assert!(listed.iter().any(|i| i.names.contains(&"b:v1".to_string())));
        assert!(fs::read_dir(dir.path().join("images/tmp"))
            .unwrap()
            .next()
            .is_none());
    }

    #[test]
    fn bad_archives_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path().join("images")).unwrap();
        let text = dir.path().join("notes.txt");
        fs::write(
            &text,
            "this is not a tarball at all, just some words\n".repeat(40),
        )
        .unwrap();
        assert!(matches!(
            store.import(&text, &reference("x")),
            Err(Error::NotATarball { .. })
        ));

        let tar_path = sample_tar(dir.path());
        let data = fs::read(&tar_path).unwrap();
        let cut = dir.path().join("cut.tar");
        // Cut inside the first file's content, then at an entry boundary.
        for len in [700, 512 * 3] {
            fs::write(&cut, &data[..len]).unwrap();
            let err = store.import(&cut, &reference("x")).unwrap_err();
            assert!(
                matches!(err, Error::Truncated(_) | Error::NotATarball { .. }),
                "{len}: {err:?}"
            );
        }
        let gz_path = dir.path().join("cut.tar.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz_data = gz.finish().unwrap();
        fs::write(&gz_path, &gz_data[..gz_data.len() / 2]).unwrap();
        assert!(store.import(&gz_path, &reference("x")).is_err());

        let empty = dir.path().join("empty.tar");
        fs::write(&empty, [0u8; 1024]).unwrap();
        assert!(matches!(
            store.import(&empty, &reference("x")),
            Err(Error::EmptyArchive(_))
        ));

        assert!(matches!(
            store.import(&dir.path().join("nope"), &reference("x")),
            Err(Error::SourceMissing(_))
        ));
        assert!(store.list().unwrap().is_empty());
        assert!(fs::read_dir(dir.path().join("images/layers"))
            .unwrap()
            .next()
            .is_none());
        assert!(fs::read_dir(dir.path().join("images/tmp"))
            .unwrap()
            .next()
            .is_none());
    }

    #[test]
    fn remove_keeps_images_in_use_and_shared_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path().join("images")).unwrap();
        let tar_path = sample_tar(dir.path());
        let image = store.import(&tar_path, &reference("a")).unwrap();
        store.import(&tar_path, &reference("b")).unwrap();

        let removed = store.remove("a", |_| false).unwrap();
        assert_eq!(removed.untagged, ["a:latest"]);
        assert!(!removed.deleted, "still named b");
        assert!(
            !store.remove("b", |_| true).unwrap().deleted,
            "in use: stays dangling"
        );
        assert!(store.layer_path(&image.layers[0]).exists());
        assert!(store.remove(image.short_id(), |_| false).unwrap().deleted);
        assert!(!store.layer_path(&image.layers[0]).exists());
        assert!(matches!(store.resolve("a"), Err(Error::NoSuchImage(_))));
    }

    #[test]
    fn remove_waits_for_a_hold() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path().join("images")).unwrap();
        let tar_path = sample_tar(dir.path());
        let image = store.import(&tar_path, &reference("a")).unwrap();
        // A run between resolving the image and writing its record.
        let hold = store.hold().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let remover = store.clone();
        let thread = std::thread::spawn(move || {
            let removed = remover.remove("a", |_| false).map(|r| r.deleted);
            tx.send(removed).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "removed while held"
        );
        assert!(store.layer_path(&image.layers[0]).exists());
        drop(hold);
        assert!(rx.recv().unwrap().unwrap());
        thread.join().unwrap();
        assert!(!store.layer_path(&image.layers[0]).exists());
    }
}
