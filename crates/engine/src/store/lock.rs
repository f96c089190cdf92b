//! `flock(2)` locks: a container's directory (commands on one container
//! are serialised), the store's name table, a container's waiters, and the
//! host-wide lock of network setup.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// An `flock(2)`, released on drop: even if a process forked while it was
/// held (a container's init before its exec) still has the descriptor.
pub struct Lock(File);

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// How to lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    Exclusive,
    Shared,
}

/// Lock `file` (blocking), retrying when a signal interrupts the wait.
pub(crate) fn flock(file: File, path: &Path, how: How) -> Result<Lock> {
    loop {
        let locked = match how {
            How::Exclusive => file.lock(),
            How::Shared => file.lock_shared(),
        };
        match locked {
            Ok(()) => return Ok(Lock(file)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("lock", path, e)),
        }
    }
}

/// Whether `file` is locked by someone else now (never blocks).
pub(crate) fn locked_by_others(file: File) -> bool {
    file.try_lock().is_err()
}

/// Take an exclusive lock on `path`, creating the file if needed.
pub fn lock_file(path: &Path) -> Result<Lock> {
    flock(open_lock(path)?, path, How::Exclusive)
}

/// Open (create if needed) the file of a lock.
fn open_lock(path: &Path) -> Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open lock", path, e))
}

/// A host-wide lock on a file that exists only while someone holds it, so
/// nothing of ours stays behind (in /run). Whoever releases it deletes the
/// file first; a waiter that then gets the lock on the deleted file sees
/// that the path no longer names it, and starts over.
pub(crate) struct HostLock {
    path: PathBuf,
    _lock: Lock,
}

impl HostLock {
    pub(crate) fn take(path: &Path) -> Result<HostLock> {
        loop {
            let file = open_lock(path)?;
            let held = file.metadata().map_err(|e| Error::io("stat", path, e))?;
            let lock = flock(file, path, How::Exclusive)?;
            match fs::metadata(path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                    return Ok(HostLock {
                        path: path.to_path_buf(),
                        _lock: lock,
                    })
                }
                // Deleted (or replaced) by the holder we waited for.
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("stat", path, e)),
            }
        }
    }
}

impl Drop for HostLock {
    fn drop(&mut self) {
        // Still held here: nobody can be between its open and its check.
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_lock_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.lock");
        let held = HostLock::take(&path).unwrap();
        assert!(path.exists());
        // A second taker waits, then gets it once the first lets go.
        let taker = {
            let path = path.clone();
            std::thread::spawn(move || {
                let lock = HostLock::take(&path).unwrap();
                assert!(path.exists());
                drop(lock);
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(held);
        taker.join().unwrap();
        assert!(!path.exists(), "the lock file stayed");
    }

    #[test]
    fn locks_exclude_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.lock");
        let held = lock_file(&path).unwrap();
        assert!(locked_by_others(File::open(&path).unwrap()));
        drop(held);
        assert!(!locked_by_others(File::open(&path).unwrap()));
    }
}
