//! The system calls this crate makes where nix has no safe function for
//! them, each behind a small safe wrapper, and the borrow of the fd numbers
//! the child side's API takes. Every other call goes through nix.
//!
//! Everything here is async-signal-safe and allocation-free: the child side
//! (between clone and `execve(2)`) uses most of it.

use std::ffi::{c_char, CStr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::WaitPidFlag;
use nix::unistd::Pid;

/// Run `f` on the fd number `fd`, for the nix calls that want a
/// [`BorrowedFd`] where the crate's child-side API takes a [`RawFd`] (the
/// child keeps no owned fds: it execs or exits). A number that is not open
/// makes the call fail with `EBADF`, as the raw call would; a negative one
/// fails so before any call (a `BorrowedFd` cannot hold -1).
pub(crate) fn with_fd<T>(
    fd: RawFd,
    f: impl FnOnce(BorrowedFd<'_>) -> Result<T, Errno>,
) -> Result<T, Errno> {
    if fd < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: a non-negative fd number, borrowed for the one call `f`
    // makes; the kernel checks it is open.
    f(unsafe { BorrowedFd::borrow_raw(fd) })
}

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

/// `pidfd_open(2)`: a file descriptor that names the process `pid` (and
/// no later one that reuses the pid), readable once it has exited.
pub(crate) fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
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

/// `sigwaitinfo(2)` on `set`: the number of the signal taken. nix's
/// `SigSet::wait` converts it to its [`Signal`] and panics on a real-time
/// one; an init must take those too.
pub(crate) fn sigwaitinfo(set: &SigSet) -> Result<i32, Errno> {
    // SAFETY: siginfo_t is plain old data; zeroed is valid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid set and output pointers.
    Errno::result(unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) })
}

/// Reset `signal`'s disposition to `SIG_DFL` (`signal(2)`). nix's `signal`
/// and `sigaction` take its [`Signal`], which has no real-time signals.
pub(crate) fn default_disposition(signal: i32) -> Result<(), Errno> {
    // SAFETY: resetting a disposition to SIG_DFL installs no handler;
    // invalid numbers (reserved by libc) just fail with EINVAL.
    if unsafe { libc::signal(signal, libc::SIG_DFL) } == libc::SIG_ERR {
        return Err(Errno::last());
    }
    Ok(())
}

/// `close_range(2)` (Linux 5.9+; `CLOSE_RANGE_CLOEXEC` 5.11+): nix has none.
pub(crate) fn close_range(first: u32, last: u32, flags: libc::c_uint) -> Result<(), Errno> {
    // SAFETY: close_range takes numbers only; closing fds the caller
    // still holds is the caller's choice, as with close(2).
    Errno::result(unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) }).map(drop)
}

/// `dup2(2)` onto any fd number. nix's `dup2` writes onto an `OwnedFd` or
/// one of the standard streams; this is for the other numbers.
pub(crate) fn dup2(fd: RawFd, target: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2 on two fd numbers; a bad source fails with EBADF.
    Errno::result(unsafe { libc::dup2(fd, target) }).map(drop)
}

/// `execve(2)`; returns only on failure, with its errno. nix's `execve`
/// builds its pointer arrays in a `Vec`: this one takes them ready, so the
/// child allocates nothing.
///
/// # Safety
///
/// `argv` and `envp` are NULL-terminated arrays of pointers to C strings.
pub(crate) unsafe fn execve(path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> Errno {
    // SAFETY: path is a valid C string; argv/envp are NULL-terminated arrays
    // of valid C strings (the caller's contract).
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Errno::last()
}

/// `_exit(2)`: leave without running atexit handlers or flushing stdio.
/// nix has no `_exit`, and `std::process::exit` runs both.
pub(crate) fn exit(code: i32) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Send the one byte `byte` with `fd` attached (`SCM_RIGHTS`) on `sock`.
/// nix's `sendmsg` builds its control buffer in a `Vec`; this one is on the
/// stack, for the child.
pub(crate) fn send_fd(sock: RawFd, byte: u8, fd: RawFd) -> Result<usize, Errno> {
    #[repr(C)]
    union Control {
        buf: [u8; 64],
        _align: libc::cmsghdr,
    }
    let mut data = [byte];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = Control { buf: [0; 64] };
    // SAFETY: msghdr is plain old data; zeroed is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    // SAFETY: the buffer is 64 bytes, more than CMSG_SPACE of one fd.
    msg.msg_control = unsafe { control.buf.as_mut_ptr() }.cast();
    msg.msg_controllen = space;
    // SAFETY: msg_control points at a zeroed buffer of msg_controllen
    // bytes, so the first header is inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::copy_nonoverlapping(
            (&fd as *const RawFd).cast::<u8>(),
            libc::CMSG_DATA(cmsg),
            std::mem::size_of::<RawFd>(),
        );
    }
    // SAFETY: a valid msghdr whose buffers outlive the call, on a socket.
    let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    Errno::result(n).map(|n| n as usize)
}

// The terminal ioctls, through nix's ioctl macros (`tty_ioctl(4)`,
// `pty(7)`); the functions they make are unsafe, so each has a safe
// wrapper below.
mod ioctl {
    nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);
    nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, libc::winsize);
    nix::ioctl_write_ptr_bad!(tiocsptlck, libc::TIOCSPTLCK, libc::c_int);
    nix::ioctl_read_bad!(tiocgptn, libc::TIOCGPTN, libc::c_uint);
    nix::ioctl_write_int_bad!(tiocgptpeer, libc::TIOCGPTPEER);
    nix::ioctl_write_int_bad!(tiocsctty, libc::TIOCSCTTY);
}

/// The window size of terminal `fd` (`TIOCGWINSZ`).
pub(crate) fn window_size(fd: BorrowedFd<'_>) -> Result<libc::winsize, Errno> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize to a valid pointer.
    unsafe { ioctl::tiocgwinsz(fd.as_raw_fd(), &mut size) }?;
    Ok(size)
}

/// Set the window size of terminal `fd` (`TIOCSWINSZ`).
pub(crate) fn set_window_size(fd: BorrowedFd<'_>, size: &libc::winsize) -> Result<(), Errno> {
    // SAFETY: TIOCSWINSZ reads a winsize from a valid pointer.
    unsafe { ioctl::tiocswinsz(fd.as_raw_fd(), size) }.map(drop)
}

/// Unlock the slave of the pseudo-terminal master `fd` (`TIOCSPTLCK` 0).
/// (glibc's `unlockpt(3)`, which nix wraps, takes an `EINVAL` for success.)
pub(crate) fn unlock_pty(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int from a valid pointer.
    unsafe { ioctl::tiocsptlck(fd.as_raw_fd(), &unlock) }.map(drop)
}

/// The number N of the slave `/dev/pts/N` of master `fd` (`TIOCGPTN`).
pub(crate) fn pty_number(fd: BorrowedFd<'_>) -> Result<libc::c_uint, Errno> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int to a valid pointer.
    unsafe { ioctl::tiocgptn(fd.as_raw_fd(), &mut n) }?;
    Ok(n)
}

/// Open the slave of master `fd` with `flags` (`TIOCGPTPEER`, Linux 4.13+).
pub(crate) fn open_pty_peer(fd: BorrowedFd<'_>, flags: libc::c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd.
    let peer = unsafe { ioctl::tiocgptpeer(fd.as_raw_fd(), flags) }?;
    // SAFETY: a new fd the kernel just made, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(peer) })
}

/// Make terminal `fd` the caller's controlling terminal (`TIOCSCTTY` 0: do
/// not steal it from another session).
pub(crate) fn set_controlling_terminal(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: TIOCSCTTY takes an int argument.
    unsafe { ioctl::tiocsctty(fd.as_raw_fd(), 0) }.map(drop)
}

/// `setdomainname(2)`: nix has `sethostname` only.
pub(crate) fn setdomainname(name: &CStr) -> Result<(), Errno> {
    // SAFETY: a valid C string and its length.
    let rc = unsafe { libc::setdomainname(name.as_ptr(), name.to_bytes().len()) };
    Errno::result(rc).map(drop)
}

/// `setrlimit(2)` by the resource's number: nix's `Resource` enum cannot
/// be made from one, and a spec names resources by number.
pub(crate) fn setrlimit(resource: i32, soft: u64, hard: u64) -> Result<(), Errno> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: a valid rlimit struct; the resource number is checked by the kernel.
    let rc = unsafe { libc::setrlimit(resource as libc::__rlimit_resource_t, &limit) };
    Errno::result(rc).map(drop)
}

/// `personality(2)` with a raw persona: nix's `Persona` flags cannot hold
/// the execution domain (`PER_LINUX32`), only the flags above it.
pub(crate) fn personality(persona: u64) -> Result<(), Errno> {
    // SAFETY: personality takes a plain integer.
    let rc = unsafe { libc::personality(persona as libc::c_ulong) };
    Errno::result(rc).map(drop)
}
