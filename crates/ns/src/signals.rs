//! Forward the signals a user sends to the runtime on to the container's
//! init, and notice its exit, with one `signalfd(2)`: no handlers, no sleeps.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::{Child, Error, ExitStatus};

/// Signals sent to a foreground `run` that go on to the container, as docker
/// does with its signal proxy.
pub const FORWARDED_SIGNALS: [i32; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// While alive, the forwarded signals and `SIGCHLD` are blocked in the calling
/// thread and delivered through a signalfd instead. Create it before
/// [`spawn`](crate::spawn) so no signal is lost between the clone and the
/// first read; the child resets its mask with
/// [`reset_signals`](crate::child::reset_signals) before exec.
pub struct SignalForwarder {
    fd: SignalFd,
    old_mask: SigSet,
}

impl SignalForwarder {
    pub fn block() -> Result<Self, Error> {
        let mut set = SigSet::empty();
        for &sig in FORWARDED_SIGNALS.iter().chain(&[libc::SIGCHLD]) {
            set.add(Signal::try_from(sig).expect("a standard signal"));
        }
        let mut old_mask = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old_mask))
            .map_err(|e| Error::BlockSignals(e.into()))?;
        let fd = match SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
                return Err(Error::SignalFd(e.into()));
            }
        };
        Ok(SignalForwarder { fd, old_mask })
    }

    /// Leave the signals blocked for the rest of this process's life (it is
    /// about to exit). Unblocking would deliver, with its default action,
    /// any signal that arrived after the child's exit: a late Ctrl-C would
    /// kill the process before it has recorded and cleaned up, and turn its
    /// exit code into 130.
    pub fn keep_blocked(self) {
        std::mem::forget(self);
    }

    /// Forward signals to `child` until it exits; return how it ended.
    pub fn supervise(&self, child: &mut Child) -> Result<ExitStatus, Error> {
        loop {
            if let Some(status) = child.try_wait(false)? {
                return Ok(status);
            }
            let sig = self.next()?;
            if sig != libc::SIGCHLD {
                child.signal(sig)?;
            }
        }
    }

    /// Block until the next signal arrives; return its number.
    pub fn next(&self) -> Result<i32, Error> {
        loop {
            match self.fd.read_signal() {
                Ok(Some(info)) => return Ok(info.ssi_signo as i32),
                Err(Errno::EINTR) => continue,
                // Only a non-blocking signalfd has nothing to read.
                Ok(None) => return Err(Error::ReadSignal(Errno::EAGAIN.into())),
                Err(e) => return Err(Error::ReadSignal(e.into())),
            }
        }
    }

    /// The signalfd, for the pseudo-terminal relay's `poll(2)`.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The signalfd, for a caller's own `poll(2)` loop (the pseudo-terminal
/// relay): readable when [`SignalForwarder::next`] will not block.
impl AsRawFd for SignalForwarder {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Drop for SignalForwarder {
    fn drop(&mut self) {
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
    }
}
