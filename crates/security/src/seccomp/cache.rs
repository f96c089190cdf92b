//! Compiled programs on disk, so that starting a container does not run
//! libseccomp each time. A file is named by the sha256 of what determines
//! its content (the resolved rules, libseccomp's version, the native
//! architecture), so it never needs invalidating; one that cannot be a
//! program (empty, a partial instruction) is compiled again.
//!
//! Whoever can write the directory can change every container's filter:
//! it is created 0700 and belongs in root-owned state.

use std::fs::{self, DirBuilder, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::compile::libseccomp_version;
use super::filter::is_program;
use super::profile::Arch;
use super::resolve::{Host, Resolved};
use super::Error;

/// Bumped when the key's inputs or the file format change.
const KEY_VERSION: &[u8] = b"tinydocker seccomp cache 2 (binary tree)\n";

/// Feeds serde's output straight into the hash, without a buffer.
struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The file in `cache_dir` that holds the program for `resolved`:
/// `<cache_dir>/<sha256>.bpf`.
///
/// ```
/// use std::path::Path;
/// use tinydocker_security::caps::CapSet;
/// use tinydocker_security::seccomp::{self, Profile};
///
/// let resolved = seccomp::resolve(&Profile::docker_default(), &CapSet::default_set())?;
/// let file = seccomp::cache_file(&resolved, Path::new("/var/lib/tinydocker/seccomp"))?;
/// assert_eq!(file.extension().unwrap(), "bpf");
/// # Ok::<(), seccomp::Error>(())
/// ```
pub fn cache_file(resolved: &Resolved, cache_dir: &Path) -> Result<PathBuf, Error> {
    let mut hash = Sha256::new();
    hash.update(KEY_VERSION);
    hash.update(libseccomp_version()?.as_bytes());
    hash.update(b"\n");
    hash.update(Arch::native().map_or("unknown", Arch::as_str).as_bytes());
    hash.update(b"\n");
    serde_json::to_writer(HashWriter(&mut hash), resolved)
        .expect("serialising plain data into a hash cannot fail");
    Ok(cache_dir.join(hex_name(hash)))
}

/// The cached program for `resolved`, or `build`'s, which is then cached.
pub(crate) fn load_or_build(
    cache_dir: &Path,
    resolved: &Resolved,
    build: impl FnOnce(&Resolved) -> Result<Vec<u8>, Error>,
) -> Result<Vec<u8>, Error> {
    let path = cache_file(resolved, cache_dir)?;
    load_or_build_at(cache_dir, path, || build(resolved))
}

/// The cache file for a program known by a key rather than its rules (a
/// spec's seccomp rules as they are written down) and this host. Finding
/// it needs no resolving and no building: the path of every `run`.
pub(crate) fn keyed_file(cache_dir: &Path, key: &[u8], host: &Host) -> Result<PathBuf, Error> {
    let mut hash = Sha256::new();
    hash.update(KEY_VERSION);
    hash.update(b"keyed\n");
    // Any change to the code that turns a profile into a program.
    hash.update(env!("TD_SECCOMP_SOURCE_HASH").as_bytes());
    hash.update(libseccomp_version()?.as_bytes());
    hash.update(format!("\n{}\n{}\n", host.arch.as_str(), host.kernel).as_bytes());
    hash.update(key);
    Ok(cache_dir.join(hex_name(hash)))
}

fn hex_name(hash: Sha256) -> String {
    let mut name = String::with_capacity(64 + 4);
    for byte in hash.finalize() {
        name.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        name.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    name.push_str(".bpf");
    name
}

/// The program cached at `path`, or `build`'s, which is then cached there.
pub(crate) fn load_or_build_at(
    cache_dir: &Path,
    path: PathBuf,
    build: impl FnOnce() -> Result<Vec<u8>, Error>,
) -> Result<Vec<u8>, Error> {
    match fs::symlink_metadata(cache_dir) {
        Ok(meta) => trusted(cache_dir, &meta, true)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::Cache {
                op: "inspect",
                path: cache_dir.to_path_buf(),
                source,
            })
        }
    }
    let read = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .and_then(|mut file| {
            let meta = file.metadata()?;
            let mut bytes = Vec::with_capacity(meta.len() as usize);
            file.read_to_end(&mut bytes)?;
            Ok((meta, bytes))
        });
    let read = match read {
        Ok((meta, bytes)) => {
            trusted(&path, &meta, false)?;
            Ok(bytes)
        }
        // O_NOFOLLOW on a symbolic link.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::Untrusted {
                path,
                why: "is a symbolic link".into(),
            })
        }
        Err(e) => Err(e),
    };
    match read {
        Ok(bytes) if is_program(&bytes) => return Ok(bytes),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::Cache {
                op: "read",
                path,
                source,
            })
        }
    }
    let bytes = build()?;
    write_atomically(cache_dir, &path, &bytes)?;
    Ok(bytes)
}

/// The cache decides every container's filter: only what this process's
/// user owns and nobody else can write may be used.
fn trusted(path: &Path, meta: &fs::Metadata, dir: bool) -> Result<(), Error> {
    let euid = nix::unistd::geteuid().as_raw();
    let why = if dir && !meta.is_dir() {
        Some("is not a directory".to_string())
    } else if !dir && !meta.is_file() {
        Some("is not a regular file".to_string())
    } else if meta.uid() != euid {
        Some(format!("is owned by uid {}, not {euid}", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "can be written by others (mode {:04o})",
            meta.mode() & 0o7777
        ))
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::Untrusted {
            path: path.to_path_buf(),
            why,
        }),
        None => Ok(()),
    }
}

/// Write to a temporary file in the same directory, flush it to disk and
/// rename it over `path`: a reader sees the old file or the whole new one,
/// never a torn one, even after a crash.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), Error> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let err = |op, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Cache { op, path, source }
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err("create", dir))?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(err("write", &tmp))
        .and_then(|()| fs::rename(&tmp, path).map_err(err("rename into", path)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}
