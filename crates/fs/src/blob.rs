//! The store's blobs: content addressed by its sha256, as a registry or an
//! OCI layout holds it. A pulled or loaded image keeps its config and its
//! layers' archives (as they came, compressed or not) next to the unpacked
//! layers, so `push` and `save` give them back byte for byte, with the
//! digests and the image id they had.
//!
//! ```text
//! images/blobs/sha256/<hex>
//! ```

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::hex;
use crate::{Error, ImageStore};

/// A layer's archive as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// `sha256:<hex>` of the archive as kept.
    pub digest: String,
    /// Its OCI or docker media type (which says its compression).
    pub media_type: String,
    pub size: u64,
}

/// A blob being written: hashed and counted on the way, in the store's
/// `tmp/` until [`ImageStore::commit_blob`] puts it in place; removed if
/// dropped before.
pub struct BlobWriter {
    file: io::BufWriter<File>,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
    done: bool,
}

impl BlobWriter {
    /// `sha256:<hex>` of what was written so far.
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex(&self.hasher.clone().finalize()))
    }

    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl ImageStore {
    /// Where the blob `sha256:<hex>` is kept.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.root()
            .join("blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap_or(digest))
    }

    /// Whether the store keeps the blob `digest`.
    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_file()
    }

    /// A new blob, written through [`Write`].
    pub fn blob_writer(&self) -> Result<BlobWriter, Error> {
        let path = self.temp_name("blob")?;
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        Ok(BlobWriter {
            file: io::BufWriter::with_capacity(1 << 16, file),
            path,
            hasher: Sha256::new(),
            size: 0,
            done: false,
        })
    }

    /// Put a written blob in place under its digest, which it returns; if
    /// `expected` is given, a blob of another digest is refused (and
    /// removed).
    pub fn commit_blob(
        &self,
        mut writer: BlobWriter,
        expected: Option<&str>,
    ) -> Result<String, Error> {
        writer.file.flush().map_err(Error::io(&writer.path))?;
        let digest = writer.digest();
        if let Some(expected) = expected {
            if digest != expected {
                return Err(Error::LayerMismatch {
                    expected: expected.to_string(),
                    actual: digest,
                });
            }
        }
        let dest = self.blob_path(&digest);
        let dir = dest.parent().expect("blobs/sha256 has a parent");
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
        fs::rename(&writer.path, &dest).map_err(Error::io(&dest))?;
        writer.done = true;
        Ok(digest)
    }

    /// Keep `data` as a blob; its digest.
    pub fn write_blob(&self, data: &[u8]) -> Result<String, Error> {
        let digest = format!("sha256:{}", hex(&Sha256::digest(data)));
        if self.has_blob(&digest) {
            return Ok(digest);
        }
        let mut writer = self.blob_writer()?;
        writer.write_all(data).map_err(Error::io(&writer.path))?;
        self.commit_blob(writer, None)
    }

    /// Keep the file `path` (on the store's filesystem, e.g. in a
    /// [`ImageStore::scratch_dir`]) as the blob `digest`, which its content
    /// must have: moved, not copied.
    pub fn adopt_blob(&self, path: &std::path::Path, digest: &str) -> Result<(), Error> {
        let dest = self.blob_path(digest);
        if dest.is_file() {
            return Ok(());
        }
        let dir = dest.parent().expect("blobs/sha256 has a parent");
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
        fs::rename(path, &dest).map_err(Error::io(&dest))
    }

    /// A new empty directory in the store's `tmp/`, for the caller to
    /// remove (swept once this process is gone if it does not).
    pub fn scratch_dir(&self, kind: &str) -> Result<PathBuf, Error> {
        let path = self.temp_name(kind)?;
        fs::create_dir(&path).map_err(Error::io(&path))?;
        Ok(path)
    }

    /// Keep the image's uncompressed layer archives gzip-compressed
    /// instead (as docker compresses a layer it pushes), and record that
    /// in the image: its config, diff ids and id stay the same; the old
    /// archive goes unless another image names it. The image as it is
    /// then.
    pub fn compress_layers(&self, id: &str) -> Result<crate::Image, Error> {
        let image = self.resolve(id)?;
        let mut blobs = image.blobs.clone();
        let mut changed = Vec::new();
        for blob in blobs.iter_mut() {
            let Some(media_type) = gzip_type(&blob.media_type) else {
                continue;
            };
            let source = self.blob_path(&blob.digest);
            let mut input = File::open(&source).map_err(Error::io(&source))?;
            let writer = self.blob_writer()?;
            let mut gz = flate2::GzBuilder::new().write(writer, flate2::Compression::default());
            io::copy(&mut input, &mut gz).map_err(Error::io(&source))?;
            let writer = gz.finish().map_err(Error::io(&source))?;
            let size = writer.size();
            let digest = self.commit_blob(writer, None)?;
            changed.push(blob.digest.clone());
            *blob = Blob {
                digest,
                media_type: media_type.to_string(),
                size,
            };
        }
        if changed.is_empty() {
            return Ok(image);
        }
        self.replace_blobs(&image.id, blobs, &changed)
    }
}

/// The gzip media type for an uncompressed layer's; `None` for any other.
fn gzip_type(media_type: &str) -> Option<&'static str> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar" => {
            Some("application/vnd.oci.image.layer.v1.tar+gzip")
        }
        "application/vnd.docker.image.rootfs.diff.tar" => {
            Some("application/vnd.docker.image.rootfs.diff.tar.gzip")
        }
        _ => None,
    }
}
