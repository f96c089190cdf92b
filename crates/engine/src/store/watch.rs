//! Changes to a container's directory, by `inotify(7)`, and waiting on
//! several file descriptors at once with `poll(2)`: how the engine waits
//! for a record to change, a process to exit or a log to grow, without
//! sleeping or polling on a timer.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::{Error, Result};

/// Changes to a container's directory: its record replaced (the atomic
/// rename), files written or removed, the directory removed. Made before
/// the record is read, so no change between the read and the wait is
/// missed.
pub struct Watch {
    inotify: Inotify,
}

impl Watch {
    pub fn new(dir: &Path) -> Result<Watch> {
        let inotify =
            Inotify::init(InitFlags::IN_CLOEXEC).map_err(|e| Error::sys("inotify_init1", e))?;
        let mask = AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_DELETE_SELF;
        match inotify.add_watch(dir, mask) {
            Ok(_) => Ok(Watch { inotify }),
            Err(Errno::ENOENT) => Err(Error::NoSuchContainer(dir.display().to_string())),
            Err(e) => Err(Error::io("watch", dir, e.into())),
        }
    }

    /// Consume the pending events (call when the fd is readable).
    pub fn drain(&self) {
        let mut buf = [0u8; 4096];
        let _ = nix::unistd::read(&self.inotify, &mut buf);
    }
}

impl AsFd for Watch {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }
}

/// Wait until one of `fds` is readable (an exited process's pidfd, a
/// watch with events, a pipe with data or at its end), or until
/// `deadline`; None entries are left out. Returns which were ready (all
/// false when the deadline passed).
pub fn readable<const N: usize>(
    fds: [Option<BorrowedFd<'_>>; N],
    deadline: Option<Instant>,
) -> Result<[bool; N]> {
    let mut polled: Vec<PollFd<'_>> = Vec::with_capacity(N);
    let mut slots = [usize::MAX; N];
    for (i, fd) in fds.iter().enumerate() {
        if let Some(fd) = fd {
            slots[i] = polled.len();
            polled.push(PollFd::new(*fd, PollFlags::POLLIN));
        }
    }
    loop {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Rounded up: a wait of 0.4 ms must not become a busy loop.
                let ms = left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128);
                PollTimeout::try_from(ms as i32).unwrap_or(PollTimeout::MAX)
            }
        };
        match nix::poll::poll(&mut polled, timeout) {
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll", e)),
        }
    }
    let mut ready = [false; N];
    for (i, slot) in slots.iter().enumerate() {
        if let Some(p) = polled.get(*slot) {
            ready[i] = p.any().unwrap_or(true);
        }
    }
    Ok(ready)
}

/// A deadline `timeout` from now (None: never).
pub fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_wakes_the_watch() {
        let dir = tempfile::tempdir().unwrap();
        let watch = Watch::new(dir.path()).unwrap();
        let soon = deadline(Some(Duration::from_millis(1)));
        assert_eq!(readable([Some(watch.as_fd())], soon).unwrap(), [false]);
        std::fs::write(dir.path().join("x"), "1").unwrap();
        assert_eq!(
            readable([Some(watch.as_fd()), None], None).unwrap(),
            [true, false]
        );
        watch.drain();
        assert!(matches!(
            Watch::new(&dir.path().join("gone")),
            Err(Error::NoSuchContainer(_))
        ));
    }
}
