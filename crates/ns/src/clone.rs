//! `clone3(2)` with new namespaces, falling back to `clone(2)` on kernels
//! without it.

use std::convert::Infallible;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::sync::{self, ChildChannel, ChildFailure};
use crate::{Error, ExitStatus};

/// A set of namespaces to create, as `CLONE_NEW*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespaces(u64);

impl Namespaces {
    /// No new namespace: the child shares the caller's (or those it joins
    /// itself, as `exec` does).
    pub const NONE: Namespaces = Namespaces(0);
    pub const MOUNT: Namespaces = Namespaces(libc::CLONE_NEWNS as u64);
    pub const UTS: Namespaces = Namespaces(libc::CLONE_NEWUTS as u64);
    pub const IPC: Namespaces = Namespaces(libc::CLONE_NEWIPC as u64);
    pub const PID: Namespaces = Namespaces(libc::CLONE_NEWPID as u64);
    pub const NET: Namespaces = Namespaces(libc::CLONE_NEWNET as u64);
    /// What a container gets: mount, UTS, IPC, PID and network. (The cgroup
    /// namespace is entered by the child itself once it is in its cgroup.)
    pub const CONTAINER: Namespaces = Namespaces(
        (libc::CLONE_NEWNS
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET) as u64,
    );

    /// The same set without the network namespace (`--network host`).
    pub fn without(self, other: Namespaces) -> Namespaces {
        Namespaces(self.0 & !other.0)
    }

    pub fn bits(self) -> u64 {
        self.0
    }
}

/// The parent's handle on the container's init.
#[derive(Debug)]
pub struct Child {
    pid: i32,
    pidfd: Option<OwnedFd>,
    sock: OwnedFd,
    reaped: Option<ExitStatus>,
}

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

/// Clone a child into new `namespaces`. The child runs `child_main` with its
/// end of the handshake and never returns: it execs or exits (the
/// `Infallible` return type makes the compiler check that).
///
/// `cgroup`: an open cgroup v2 directory to start the child in
/// (`CLONE_INTO_CGROUP`), so it never runs outside its limits.
///
/// Call this while the process is single-threaded: the child is a copy of the
/// calling thread only.
pub fn spawn<F>(
    namespaces: Namespaces,
    cgroup: Option<RawFd>,
    child_main: F,
) -> Result<Child, Error>
where
    F: FnOnce(ChildChannel) -> Infallible,
{
    let (parent_end, child_end) = sync::pair()?;
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: namespaces.bits() | libc::CLONE_PIDFD as u64,
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
    if pid < 0 && crate::child::errno() == libc::ENOSYS && cgroup.is_none() {
        // Kernels before 5.3 (or a seccomp filter that hides clone3).
        pidfd = -1;
        // SAFETY: clone without a new stack, fork-style; no pidfd requested.
        pid = unsafe {
            libc::syscall(
                libc::SYS_clone,
                namespaces.bits() | libc::SIGCHLD as u64,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
    }
    if pid < 0 {
        return Err(Error::Clone(io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(parent_end);
        let fd = child_end.as_raw_fd();
        // The child owns the fd until exec closes it.
        std::mem::forget(child_end);
        child_main(ChildChannel::new(fd));
    }
    drop(child_end);
    Ok(Child {
        pid: pid as i32,
        // SAFETY: clone3 returned a fresh pidfd in `pidfd` when >= 0.
        pidfd: (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) }),
        sock: parent_end,
        reaped: None,
    })
}

impl Child {
    /// The child's pid in the caller's pid namespace.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Tell the child to go on with its setup and exec.
    pub fn go(&self) -> Result<(), Error> {
        sync::send_go(&self.sock)
    }

    /// Wait until the child reaches its
    /// [`ChildChannel::ready`](crate::ChildChannel::ready) (it then waits
    /// for another [`Child::go`]), reports a failure, or dies.
    pub fn wait_ready(&self) -> Result<crate::Barrier, Error> {
        sync::read_ready(&self.sock)
    }

    /// Wait until the child has exec'd (`Ok(None)`) or reported a setup
    /// failure (`Ok(Some(..))`).
    pub fn wait_exec(&self) -> Result<Option<ChildFailure>, Error> {
        sync::read_result(&self.sock)
    }

    /// The fd the child passes with
    /// [`ChildChannel::send_fd`](crate::ChildChannel::send_fd) after go, or
    /// the failure it reported first.
    pub fn receive_fd(&self) -> Result<Result<OwnedFd, ChildFailure>, Error> {
        sync::receive_fd(&self.sock)
    }

    /// Send a signal, through the pidfd where there is one (it cannot hit a
    /// recycled pid).
    pub fn signal(&self, signal: i32) -> Result<(), Error> {
        if self.reaped.is_some() {
            return Ok(());
        }
        let rc = match &self.pidfd {
            // SAFETY: pidfd_send_signal on an open pidfd with no siginfo.
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    signal,
                    std::ptr::null::<libc::siginfo_t>(),
                    0u32,
                )
            },
            // SAFETY: kill takes a pid and a signal number; the child is not
            // reaped yet, so the pid is still ours.
            None => unsafe { libc::kill(self.pid, signal) as libc::c_long },
        };
        if rc != 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ESRCH) {
                return Ok(());
            }
            return Err(Error::Kill {
                pid: self.pid,
                signal,
                source: err,
            });
        }
        Ok(())
    }

    /// Reap the child if it has exited. `block`: wait for it.
    pub fn try_wait(&mut self, block: bool) -> Result<Option<ExitStatus>, Error> {
        if let Some(status) = self.reaped {
            return Ok(Some(status));
        }
        let mut raw = 0;
        loop {
            let flags = if block { 0 } else { libc::WNOHANG };
            // SAFETY: waitpid on our own child with a valid status pointer.
            let rc = unsafe { libc::waitpid(self.pid, &mut raw, flags) };
            if rc == self.pid {
                let status = ExitStatus::from_raw(raw);
                self.reaped = Some(status);
                return Ok(Some(status));
            }
            if rc == 0 {
                return Ok(None);
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(Error::Wait {
                pid: self.pid,
                source: err,
            });
        }
    }

    /// Kill the child and reap it (cleanup after a failed start).
    pub fn kill_and_reap(&mut self) -> Result<ExitStatus, Error> {
        self.signal(libc::SIGKILL)?;
        Ok(self
            .try_wait(true)?
            .expect("blocking wait returns a status"))
    }
}
