//! Forward the signals a user sends to the runtime on to the container's
//! init, and notice its exit, with one `signalfd(2)`: no handlers, no sleeps.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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
    fd: OwnedFd,
    old_mask: libc::sigset_t,
}

fn signal_set(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a local sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

impl SignalForwarder {
    pub fn block() -> Result<Self, Error> {
        let mut signals = FORWARDED_SIGNALS.to_vec();
        signals.push(libc::SIGCHLD);
        let set = signal_set(&signals);
        // SAFETY: zeroed sigset_t is a valid output buffer for sigprocmask.
        let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid set and output pointers.
        if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old_mask) } != 0 {
            return Err(Error::BlockSignals(io::Error::last_os_error()));
        }
        // SAFETY: signalfd with a valid set creates a new fd.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
        if fd < 0 {
            let err = io::Error::last_os_error();
            // SAFETY: restores the mask saved above.
            unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
            return Err(Error::SignalFd(err));
        }
        // SAFETY: signalfd returned a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
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
        // SAFETY: signalfd_siginfo is plain old data; zeroed is valid.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        loop {
            // SAFETY: reads one siginfo into a buffer of exactly its size.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    size,
                )
            };
            if n == size as isize {
                return Ok(info.ssi_signo as i32);
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(Error::ReadSignal(err));
            }
        }
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
        // SAFETY: restores the mask saved in `block`.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
    }
}
