//! `clone3(2)` with new namespaces, falling back to `clone(2)` on kernels
//! without it.

use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::wait::WaitPidFlag;

use crate::sync::{self, ChildChannel, ChildFailure};
use crate::{sys, Error, ExitStatus};

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

    pub const CGROUP: Namespaces = Namespaces(libc::CLONE_NEWCGROUP as u64);
    /// A user namespace: created first by the clone, so it owns the others.
    pub const USER: Namespaces = Namespaces(libc::CLONE_NEWUSER as u64);

    /// The same set without the network namespace (`--network host`).
    pub fn without(self, other: Namespaces) -> Namespaces {
        Namespaces(self.0 & !other.0)
    }

    /// Both sets.
    pub fn with(self, other: Namespaces) -> Namespaces {
        Namespaces(self.0 | other.0)
    }

    /// Whether every namespace of `other` is in this set.
    pub fn contains(self, other: Namespaces) -> bool {
        self.0 & other.0 == other.0
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
    // SAFETY: the caller is single-threaded (this function's contract), and
    // `child_main` runs in the child until it execs or exits.
    let (pid, pidfd) =
        unsafe { sys::clone(namespaces.bits(), cgroup) }.map_err(|e| Error::Clone(e.into()))?;
    if pid == 0 {
        drop(parent_end);
        let fd = child_end.as_raw_fd();
        // The child owns the fd until exec closes it.
        std::mem::forget(child_end);
        child_main(ChildChannel::new(fd));
    }
    drop(child_end);
    Ok(Child {
        pid,
        pidfd,
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
        let sent = match &self.pidfd {
            Some(fd) => sys::pidfd_send_signal(fd.as_fd(), signal),
            // The child is not reaped yet, so the pid is still ours.
            None => sys::kill(self.pid, signal),
        };
        match sent {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(Error::Kill {
                pid: self.pid,
                signal,
                source: e.into(),
            }),
        }
    }

    /// Reap the child if it has exited. `block`: wait for it.
    pub fn try_wait(&mut self, block: bool) -> Result<Option<ExitStatus>, Error> {
        if let Some(status) = self.reaped {
            return Ok(Some(status));
        }
        let flags = if block {
            WaitPidFlag::empty()
        } else {
            WaitPidFlag::WNOHANG
        };
        loop {
            match sys::waitpid(self.pid, flags) {
                Ok(Some((_, raw))) => {
                    let status = ExitStatus::from_raw(raw);
                    self.reaped = Some(status);
                    return Ok(Some(status));
                }
                Ok(None) => return Ok(None),
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    return Err(Error::Wait {
                        pid: self.pid,
                        source: e.into(),
                    })
                }
            }
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
