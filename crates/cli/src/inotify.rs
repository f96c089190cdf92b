//! A watch on one directory with `inotify(7)`: the kernel queues an event
//! for each change to the directory or the files in it, and the descriptor
//! polls readable while any are queued, so a follower sleeps in `poll(2)`
//! until something happened instead of looking again and again.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub struct Watch {
    fd: OwnedFd,
}

impl Watch {
    /// Watch `dir` for the events in `mask` (`libc::IN_*`).
    pub fn new(dir: &Path, mask: u32) -> io::Result<Watch> {
        // SAFETY: inotify_init1 takes flags and returns a new fd or -1.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let path = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: an inotify fd and a NUL-terminated path.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Watch { fd })
    }

    /// Discard the queued events: the caller looks at what changed itself.
    pub fn drain(&self) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads into a buffer of the length given.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                continue;
            }
            if n == 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => return Ok(()),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(err),
            }
        }
    }
}

impl AsFd for Watch {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Wait until one of `fds` is readable or `timeout_ms` passed (-1: no
/// limit); true if one is. A signal's interruption counts as a wake-up.
pub fn wait_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> io::Result<bool> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: a valid array of pollfds and its length.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        return if err.kind() == io::ErrorKind::Interrupted {
            Ok(true)
        } else {
            Err(err)
        };
    }
    Ok(rc > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_in_the_directory_wake_the_watch() {
        let dir = tempfile::tempdir().unwrap();
        let watch = Watch::new(dir.path(), libc::IN_MODIFY | libc::IN_MOVED_TO).unwrap();
        assert!(!wait_readable(&[watch.as_fd()], 0).unwrap());
        std::fs::write(dir.path().join("a.tmp"), b"x").unwrap();
        assert!(wait_readable(&[watch.as_fd()], 0).unwrap());
        watch.drain().unwrap();
        assert!(!wait_readable(&[watch.as_fd()], 0).unwrap());
        std::fs::rename(dir.path().join("a.tmp"), dir.path().join("a")).unwrap();
        assert!(wait_readable(&[watch.as_fd()], 0).unwrap());
        assert!(Watch::new(&dir.path().join("nosuch"), libc::IN_MODIFY).is_err());
    }
}
