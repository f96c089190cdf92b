//! Start a process in new Linux namespaces and supervise it.
//!
//! A container's init is created by one `clone3(2)` call that asks for new
//! mount, UTS, IPC, network and PID namespaces (`namespaces(7)`). The child
//! then blocks on a `SOCK_SEQPACKET` socketpair until the parent has finished
//! its side of the setup (cgroups, network) and says "go". Anything that fails
//! in the child before `execve(2)` is sent back as a small typed message; a
//! successful exec closes the child's end (it is `CLOEXEC`), which the parent
//! reads as end-of-file.
//!
//! [`child::setns`] joins a running process's namespaces instead (`exec`),
//! and [`pty`] gives the child a pseudo-terminal and relays it to the user.
//!
//! ```no_run
//! use tinydocker_ns::{spawn, Namespaces, SignalForwarder};
//!
//! let signals = SignalForwarder::block()?;
//! let mut child = spawn(Namespaces::CONTAINER, None, |chan| {
//!     chan.wait_go();
//!     // ... set up mounts, hostname ...
//!     tinydocker_ns::child::reset_signals();
//!     chan.fail(0, libc::ENOENT) // or exec
//! })?;
//! child.go()?;
//! let started = child.wait_exec()?;
//! let status = signals.supervise(&mut child)?;
//! println!("exit code {}", status.code());
//! # Ok::<(), tinydocker_ns::Error>(())
//! ```

pub mod child;
mod clone;
mod error;
pub mod init;
pub mod pty;
mod signals;
mod status;
mod sync;
mod sys;

pub use clone::{spawn, Child, Namespaces};

/// Processes by pidfd (nix has no pidfd calls).
pub mod pidfd {
    use std::io;
    use std::os::fd::{BorrowedFd, OwnedFd};

    /// `pidfd_open(2)`: a descriptor that names process `pid` (never a
    /// later one that reuses the pid), readable once it has exited.
    pub fn open(pid: i32) -> io::Result<OwnedFd> {
        Ok(crate::sys::pidfd_open(pid)?)
    }

    /// `pidfd_send_signal(2)`, without siginfo.
    pub fn send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
        Ok(crate::sys::pidfd_send_signal(pidfd, signal)?)
    }
}
pub use error::Error;
pub use signals::{SignalForwarder, FORWARDED_SIGNALS};
pub use status::ExitStatus;
pub use sync::{Barrier, ChildChannel, ChildFailure};
