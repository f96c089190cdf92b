//! The few raw system calls this crate needs — `pidfd_open(2)`,
//! `pidfd_send_signal(2)`, `poll(2)` and `inotify(7)` — each behind a safe
//! wrapper, so `unsafe` lives in this one module.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// A pidfd for `pid` (`pidfd_open(2)`): it keeps naming this process even
/// after the pid is reused, and polls readable once the process has exited.
pub(crate) fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and a flags word and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Send `signal` to the process behind `pidfd` (`pidfd_send_signal(2)`).
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    // SAFETY: a valid pidfd, a signal number, a null siginfo (meaning "as
    // kill(2) would") and zero flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The time left until `deadline`, in milliseconds for `poll(2)`.
fn poll_timeout(deadline: Instant) -> libc::c_int {
    let left = deadline.saturating_duration_since(Instant::now());
    // Round up so a sub-millisecond remainder still waits instead of spinning.
    let ms = left.as_micros().div_ceil(1000);
    ms.min(libc::c_int::MAX as u128) as libc::c_int
}

/// Wait until every fd in `fds` polls readable (for pidfds: the process has
/// exited), or `deadline` passes. Returns how many fds were still pending
/// at the deadline (0 = all done).
pub(crate) fn poll_all_readable(fds: &[OwnedFd], deadline: Instant) -> io::Result<usize> {
    let mut pending: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    while !pending.is_empty() {
        let timeout = poll_timeout(deadline);
        // SAFETY: `pending` is a live, correctly sized array of pollfd.
        let n = unsafe { libc::poll(pending.as_mut_ptr(), pending.len() as libc::nfds_t, timeout) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Ok(pending.len());
        }
        pending.retain(|p| p.revents == 0);
        for p in &mut pending {
            p.revents = 0;
        }
    }
    Ok(0)
}

/// An inotify instance watching files for modification — how cgroupfs
/// announces changes of `cgroup.events` (cgroups(7)).
pub(crate) struct Inotify {
    fd: OwnedFd,
}

impl Inotify {
    pub(crate) fn new() -> io::Result<Inotify> {
        // SAFETY: inotify_init1 takes flags and returns a new fd or -1.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this fd; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Inotify { fd })
    }

    /// Watch `path` for modification (and for its removal).
    pub(crate) fn watch_modify(&self, path: &Path) -> io::Result<()> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mask = libc::IN_MODIFY | libc::IN_DELETE_SELF;
        // SAFETY: a valid inotify fd and a NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c_path.as_ptr(), mask) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Block until an event arrives or `deadline` passes; drain the queued
    /// events. Returns false on timeout.
    pub(crate) fn wait(&self, deadline: Instant) -> io::Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: one live pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, poll_timeout(deadline)) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            if n == 0 {
                return Ok(false);
            }
            break;
        }
        // The events only say "something changed": the caller re-reads the
        // file, so their content is dropped.
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a local buffer of the given length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => return Ok(true),
                    _ => return Err(err),
                }
            }
            if n == 0 {
                return Ok(true);
            }
        }
    }
}

/// Whether `err` is `errno`.
pub(crate) fn is_errno(err: &io::Error, errno: i32) -> bool {
    err.raw_os_error() == Some(errno)
}

/// How long kill and freeze waits may take before giving up.
pub(crate) const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
