//! The system calls this crate makes where nix has no safe function for
//! them, each behind a small safe wrapper. Every other call goes through
//! nix.
//!
//! Everything here is async-signal-safe and allocation-free: the child side
//! (between clone and `execve(2)`) uses most of it.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitPidFlag;
use nix::unistd::Pid;

/// `struct clone_args` of `clone3(2)`, up to `cgroup` (version 2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// A fork-style clone (no new stack: the child goes on on a copy of the
/// caller's) with `flags` (`CLONE_NEW*`) and `SIGCHLD` as exit signal.
/// Returns 0 in the child; in the parent, the child's pid and a pidfd of it
/// where the kernel gave one. `cgroup`: start the child in this cgroup v2
/// directory (`CLONE_INTO_CGROUP`).
///
/// nix has no `clone3(2)`, and its `clone` wants a stack and a callback.
///
/// # Safety
///
/// As for `fork(2)`: the caller is single-threaded, or the child makes only
/// async-signal-safe calls until it execs or exits.
pub(crate) unsafe fn clone(
    flags: u64,
    cgroup: Option<RawFd>,
) -> Result<(i32, Option<OwnedFd>), Errno> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 with no stack behaves like fork: the child continues on
    // a copy of this stack. `args` is a valid clone_args of the given size.
    let mut pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid < 0 && Errno::last() == Errno::ENOSYS && cgroup.is_none() {
        // Kernels before 5.3 (or a seccomp filter that hides clone3).
        pidfd = -1;
        // SAFETY: clone without a new stack, fork-style; no pidfd requested.
        pid = unsafe {
            libc::syscall(
                libc::SYS_clone,
                flags | libc::SIGCHLD as u64,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
    }
    let pid = Errno::result(pid)? as i32;
    // SAFETY: in the parent, clone3 returned a fresh pidfd in `pidfd` when
    // >= 0.
    let pidfd = (pid != 0 && pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    Ok((pid, pidfd))
}

/// `pidfd_send_signal(2)` with no siginfo: nix has no pidfd calls.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> Result<(), Errno> {
    // SAFETY: an open pidfd, a signal number and a null siginfo.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    Errno::result(rc).map(drop)
}

/// `kill(2)` with any signal number. nix's `kill` takes its [`Signal`],
/// which has no real-time signals (nor 0): those are sent raw.
pub(crate) fn kill(pid: i32, signal: i32) -> Result<(), Errno> {
    match Signal::try_from(signal) {
        Ok(signal) => nix::sys::signal::kill(Pid::from_raw(pid), signal),
        // SAFETY: kill takes a pid and a signal number.
        Err(_) => Errno::result(unsafe { libc::kill(pid, signal) }).map(drop),
    }
}

/// `waitpid(2)`: `Some((pid, raw status))` for a reaped child, `None` when
/// `WNOHANG` found none. Raw, because nix's `waitpid` decodes the status
/// into its [`Signal`], which has no real-time signals: for a child killed
/// by one it fails with `EINVAL`, after the kernel has reaped the child, and
/// the status is lost.
pub(crate) fn waitpid(pid: i32, flags: WaitPidFlag) -> Result<Option<(i32, i32)>, Errno> {
    let mut status = 0;
    // SAFETY: waitpid with a valid status pointer.
    let rc = Errno::result(unsafe { libc::waitpid(pid, &mut status, flags.bits()) })?;
    Ok((rc != 0).then_some((rc, status)))
}
