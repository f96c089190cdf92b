//! Helpers for the child between `clone` and `execve(2)`.
//!
//! The child is a copy of a single-threaded parent, so it may not take locks
//! another thread could hold; everything here is a plain system call on data
//! prepared by the parent, with no allocation.

use std::ffi::{c_char, CStr};
use std::os::fd::RawFd;

/// The calling thread's `errno`.
pub fn errno() -> i32 {
    // SAFETY: __errno_location always returns a valid thread-local pointer.
    unsafe { *libc::__errno_location() }
}

/// Leave the child without running the parent's atexit handlers or flushing
/// its stdio buffers (which the child shares by copy).
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Restore default dispositions and an empty signal mask, so the user's
/// program starts as if started from a fresh shell. Rust ignores SIGPIPE, and
/// ignored signals stay ignored across exec: without this `yes | head` breaks.
pub fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: resetting a disposition to SIG_DFL is always valid; invalid
        // numbers (reserved by libc) just fail with EINVAL.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: an empty, initialised set passed to sigprocmask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Mark every fd from 3 up close-on-exec, so nothing of the runtime's leaks
/// into the container's process. Returns the errno on failure.
pub fn mark_fds_cloexec() -> Result<(), i32> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range with the CLOEXEC flag only changes fd flags.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.11: walk the fds by hand.
    // SAFETY: getrlimit writes into a valid struct.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to an rlimit.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    let max = lim.rlim_cur.min(65536) as i32;
    for fd in 3..max {
        // SAFETY: F_SETFD on a closed fd fails harmlessly with EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Make the child receive `signal` when its parent dies.
pub fn set_parent_death_signal(signal: i32) -> Result<(), i32> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) } != 0 {
        return Err(errno());
    }
    Ok(())
}

/// Enter a new cgroup namespace rooted at the cgroup the process is in now.
pub fn unshare_cgroup_namespace() -> Result<(), i32> {
    // SAFETY: unshare takes a flag word.
    if unsafe { libc::unshare(libc::CLONE_NEWCGROUP) } != 0 {
        return Err(errno());
    }
    Ok(())
}

/// Set the UTS namespace's host name.
pub fn set_hostname(name: &CStr) -> Result<(), i32> {
    let bytes = name.to_bytes();
    // SAFETY: the pointer and length describe the bytes of a valid CStr.
    if unsafe { libc::sethostname(bytes.as_ptr().cast(), bytes.len()) } != 0 {
        return Err(errno());
    }
    Ok(())
}

/// Try `execve(2)` on each candidate path in turn, as a shell's PATH search
/// does. Returns only on failure, with the errno that decides the exit code:
/// `ENOENT` when nothing was found (127), `EACCES` when something was found
/// but could not be executed (126), or the error of the first candidate that
/// failed otherwise.
///
/// `argv` and `envp` are NULL-terminated arrays of pointers to C strings.
pub fn exec_first(candidates: &[&CStr], argv: &[*const c_char], envp: &[*const c_char]) -> i32 {
    let mut result = libc::ENOENT;
    for path in candidates {
        // SAFETY: path is a valid C string; argv/envp are NULL-terminated arrays
        // of valid C strings (the caller's contract).
        unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        let err = errno();
        match err {
            // Not here: try the next directory, as execvp does.
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES | libc::EPERM | libc::EISDIR => result = libc::EACCES,
            other => return other,
        }
    }
    result
}

/// Write `content` to an existing file (a sysctl under `/proc/sys`) in one
/// `write(2)`.
pub fn write_file(path: &CStr, content: &[u8]) -> Result<(), i32> {
    // SAFETY: a valid C string; the fd is closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: writes from a valid buffer to the fd opened above.
    let n = unsafe { libc::write(fd, content.as_ptr().cast(), content.len()) };
    let err = errno();
    // SAFETY: closes the fd opened above.
    unsafe { libc::close(fd) };
    if n != content.len() as isize {
        return Err(if n < 0 { err } else { libc::EIO });
    }
    Ok(())
}

/// Enter namespaces with `setns(2)`: with a pidfd, every namespace of that
/// process named in `nstypes` (`CLONE_NEW*` flags) at once, atomically
/// (Linux 5.8+); with a `/proc/PID/ns/*` file, that one namespace
/// (`nstypes` 0 or its flag).
///
/// Entering a mount namespace also moves the caller to that namespace's
/// root (a container's root after its `pivot_root`), root directory and
/// working directory both. Entering a PID namespace changes only where
/// the caller's *future children* are born, so a parent may use it too.
pub fn setns(fd: RawFd, nstypes: i32) -> Result<(), i32> {
    // SAFETY: setns takes an fd and a flag word; a bad fd fails with EBADF.
    if unsafe { libc::setns(fd, nstypes) } != 0 {
        return Err(errno());
    }
    Ok(())
}

/// Change the working directory (`chdir(2)`).
pub fn chdir(path: &CStr) -> Result<(), i32> {
    // SAFETY: a valid C string.
    if unsafe { libc::chdir(path.as_ptr()) } != 0 {
        return Err(errno());
    }
    Ok(())
}

/// Make `fd` this process's `target` (0, 1 or 2), with `dup2(2)`. The copy
/// is not close-on-exec, whatever `fd` is.
pub fn dup_onto(fd: RawFd, target: RawFd) -> Result<(), i32> {
    if fd == target {
        // dup2 onto itself would keep a close-on-exec flag: clear it.
        // SAFETY: F_SETFD on an fd; a bad one fails with EBADF.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
            return Err(errno());
        }
        return Ok(());
    }
    // SAFETY: dup2 on two fd numbers; a bad source fails with EBADF.
    if unsafe { libc::dup2(fd, target) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Make the process non-dumpable (`PR_SET_DUMPABLE` 0), so that nothing
/// in a namespace it joins can `ptrace(2)` it or open its `/proc/PID/fd`
/// before it has dropped its privileges; `execve(2)` of the user's program
/// makes it dumpable again.
pub fn set_non_dumpable() -> Result<(), i32> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(errno());
    }
    Ok(())
}

/// Close an fd the child inherited and must not keep (`close(2)`).
pub fn close(fd: RawFd) {
    // SAFETY: closes an fd number of this process; a bad one fails with EBADF.
    unsafe { libc::close(fd) };
}
