//! Helpers for the child between `clone` and `execve(2)`.
//!
//! The child is a copy of a single-threaded parent, so it may not take locks
//! another thread could hold; everything here is a plain system call on data
//! prepared by the parent, with no allocation.

use std::ffi::{c_char, CStr, OsStr};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, FdFlag, OFlag};
use nix::sched::{self, unshare, CloneFlags};
use nix::sys::prctl;
use nix::sys::resource::{getrlimit, Resource};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{self, dup2_stderr, dup2_stdin, dup2_stdout, sethostname, write};

use crate::sys;

/// The calling thread's `errno`.
pub fn errno() -> i32 {
    Errno::last_raw()
}

/// Leave the child without running the parent's atexit handlers or flushing
/// its stdio buffers (which the child shares by copy).
pub fn exit(code: i32) -> ! {
    sys::exit(code)
}

/// Restore default dispositions and an empty signal mask, so the user's
/// program starts as if started from a fresh shell. Rust ignores SIGPIPE, and
/// ignored signals stay ignored across exec: without this `yes | head` breaks.
pub fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // Invalid numbers (reserved by libc) just fail with EINVAL.
        let _ = sys::default_disposition(sig);
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Mark every fd from 3 up close-on-exec, so nothing of the runtime's leaks
/// into the container's process. Returns the errno on failure.
pub fn mark_fds_cloexec() -> Result<(), i32> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    if sys::close_range(3, u32::MAX, CLOSE_RANGE_CLOEXEC).is_ok() {
        return Ok(());
    }
    // Kernels before 5.11: walk the fds by hand.
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((0, 0));
    let max = soft.min(65536) as i32;
    for fd in 3..max {
        // F_SETFD on a closed fd fails harmlessly with EBADF.
        let _ = sys::with_fd(fd, |fd| fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)));
    }
    Ok(())
}

/// Make the child receive `signal` when its parent dies. `signal` is one
/// nix names (it has no real-time signals: those fail with `EINVAL`).
pub fn set_parent_death_signal(signal: i32) -> Result<(), i32> {
    let signal = match signal {
        0 => None,
        n => Some(Signal::try_from(n).map_err(|e| e as i32)?),
    };
    prctl::set_pdeathsig(signal).map_err(|e| e as i32)
}

/// Enter a new cgroup namespace rooted at the cgroup the process is in now.
pub fn unshare_cgroup_namespace() -> Result<(), i32> {
    unshare(CloneFlags::CLONE_NEWCGROUP).map_err(|e| e as i32)
}

/// Become root (uid and gid 0) of the user namespace the process is in,
/// whose maps its parent wrote.
pub fn become_root() -> Result<(), i32> {
    let root_gid = nix::unistd::Gid::from_raw(0);
    let root_uid = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid).map_err(|e| e as i32)?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid).map_err(|e| e as i32)
}

/// Set the UTS namespace's host name.
pub fn set_hostname(name: &CStr) -> Result<(), i32> {
    sethostname(OsStr::from_bytes(name.to_bytes())).map_err(|e| e as i32)
}

/// Set the UTS namespace's NIS domain name (`setdomainname(2)`).
pub fn set_domainname(name: &CStr) -> Result<(), i32> {
    sys::setdomainname(name).map_err(|e| e as i32)
}

/// Set a resource limit (`setrlimit(2)`, `RLIMIT_*` as its number).
pub fn set_rlimit(resource: i32, soft: u64, hard: u64) -> Result<(), i32> {
    sys::setrlimit(resource, soft, hard).map_err(|e| e as i32)
}

/// Set the execution domain (`personality(2)`, e.g. `PER_LINUX32`).
pub fn set_personality(persona: u64) -> Result<(), i32> {
    sys::personality(persona).map_err(|e| e as i32)
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
        // SAFETY: argv/envp are NULL-terminated arrays of valid C strings
        // (the caller's contract).
        let err = unsafe { sys::execve(path, argv, envp) };
        match err {
            // Not here: try the next directory, as execvp does.
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES | Errno::EPERM | Errno::EISDIR => result = libc::EACCES,
            other => return other as i32,
        }
    }
    result
}

/// Check, as [`exec_first`] would find it, that one of the candidates is
/// an executable file: `Err(ENOENT)` when none exists, `Err(EACCES)` when
/// one exists but cannot be executed by this process.
pub fn find_executable(candidates: &[&CStr]) -> Result<(), i32> {
    let mut result = libc::ENOENT;
    for path in candidates {
        match nix::unistd::access(*path, nix::unistd::AccessFlags::X_OK) {
            Ok(()) => match nix::sys::stat::stat(*path) {
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFREG => return Ok(()),
                Ok(_) => result = libc::EACCES,
                Err(e) => return Err(e as i32),
            },
            Err(Errno::ENOENT | Errno::ENOTDIR) => {}
            Err(Errno::EACCES | Errno::EPERM) => result = libc::EACCES,
            Err(e) => return Err(e as i32),
        }
    }
    Err(result)
}

/// Block until one byte can be read from `fd` (a fifo), and read it.
pub fn read_byte(fd: RawFd) -> Result<(), i32> {
    let mut buf = [0u8; 1];
    loop {
        match sys::with_fd(fd, |fd| nix::unistd::read(fd, &mut buf)) {
            Ok(1) => return Ok(()),
            Ok(_) => return Err(libc::EPIPE),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e as i32),
        }
    }
}

/// Write `content` to an existing file (a sysctl under `/proc/sys`) in one
/// `write(2)`.
pub fn write_file(path: &CStr, content: &[u8]) -> Result<(), i32> {
    let fd = open(path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| e as i32)?;
    match write(&fd, content) {
        Ok(n) if n == content.len() => Ok(()),
        Ok(_) => Err(libc::EIO),
        Err(e) => Err(e as i32),
    }
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
    sys::with_fd(fd, |fd| {
        sched::setns(fd, CloneFlags::from_bits_retain(nstypes))
    })
    .map_err(|e| e as i32)
}

/// Change the working directory (`chdir(2)`).
pub fn chdir(path: &CStr) -> Result<(), i32> {
    unistd::chdir(path).map_err(|e| e as i32)
}

/// Make `fd` this process's `target` (0, 1 or 2), with `dup2(2)`. The copy
/// is not close-on-exec, whatever `fd` is.
pub fn dup_onto(fd: RawFd, target: RawFd) -> Result<(), i32> {
    if fd == target {
        // dup2 onto itself would keep a close-on-exec flag: clear it.
        return sys::with_fd(fd, |fd| fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())))
            .map(drop)
            .map_err(|e| e as i32);
    }
    match target {
        0 => sys::with_fd(fd, |fd| dup2_stdin(fd)),
        1 => sys::with_fd(fd, |fd| dup2_stdout(fd)),
        2 => sys::with_fd(fd, |fd| dup2_stderr(fd)),
        _ => sys::dup2(fd, target),
    }
    .map_err(|e| e as i32)
}

/// Make the process non-dumpable (`PR_SET_DUMPABLE` 0), so that nothing
/// in a namespace it joins can `ptrace(2)` it or open its `/proc/PID/fd`
/// before it has dropped its privileges; `execve(2)` of the user's program
/// makes it dumpable again.
pub fn set_non_dumpable() -> Result<(), i32> {
    prctl::set_dumpable(false).map_err(|e| e as i32)
}

/// Close an fd the child inherited and must not keep (`close(2)`).
pub fn close(fd: RawFd) {
    // A bad fd fails with EBADF, and nothing is to be done about it.
    let _ = unistd::close(fd);
}
