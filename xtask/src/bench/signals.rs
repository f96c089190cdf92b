//! Interruption: SIGINT, SIGTERM and SIGHUP are blocked and read from a
//! signalfd (signalfd(2)), so a Ctrl-C or a `kill` never ends the bench
//! between two steps of its cleanup. A first signal lets the command that
//! runs finish (killing `podman run` half-way leaves a container podman no
//! longer knows); the bench then stops, and the cleanup guards run as the
//! error unwinds the stack. A second signal kills that command at once.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use anyhow::Result;

/// The error a step returns when a signal asked the bench to stop.
#[derive(Debug)]
pub struct Interrupted(pub i32);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            libc::SIGHUP => "SIGHUP",
            _ => "a signal",
        };
        write!(f, "interrupted by {name}")
    }
}

impl std::error::Error for Interrupted {}

pub struct Interrupt {
    fd: OwnedFd,
    /// The first stop signal, once one has come.
    got: std::cell::Cell<Option<i32>>,
}

fn stop_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t; the signal numbers are valid.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
    }
    set
}

impl Interrupt {
    /// Block the stop signals in this (single-threaded) process and open a
    /// signalfd for them. Children start with an empty signal mask (the
    /// standard library resets it before exec), so they still get a
    /// terminal's Ctrl-C themselves.
    pub fn install() -> Result<Interrupt> {
        let set = stop_signals();
        // SAFETY: a valid set; the old mask is not needed.
        let rc = unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::last_os_error().into());
        }
        // SAFETY: a new signalfd (-1) for a valid set; we own the fd it returns.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error().into());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Interrupt {
            fd,
            got: std::cell::Cell::new(None),
        })
    }

    /// Err(Interrupted) if a stop signal has arrived.
    pub fn check(&self) -> Result<()> {
        if let Some(sig) = self.got.get() {
            return Err(Interrupted(sig).into());
        }
        self.read()
            .map_or(Ok(()), |sig| Err(Interrupted(sig).into()))
    }

    /// A signal from the signalfd, if one is queued (it is then recorded).
    fn read(&self) -> Option<i32> {
        // SAFETY: signalfd_siginfo is plain data.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: reads at most `size` bytes into `info`, which is that large.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if n != size as isize {
            return None;
        }
        let sig = info.ssi_signo as i32;
        if self.got.get().is_none() {
            self.got.set(Some(sig));
        }
        Some(sig)
    }

    /// Sleep until `pidfd`'s process exits (poll(2) on it and the
    /// signalfd). A first stop signal is recorded and the wait goes on (the
    /// caller's next [`Interrupt::check`] fails); a second one ends the
    /// wait with Err(Interrupted), the process still running.
    pub fn wait_exit(&self, pidfd: BorrowedFd<'_>) -> Result<()> {
        let mut fds = [
            libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        loop {
            // SAFETY: `fds` is a valid array of two pollfds.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            if rc < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err.into());
            }
            if fds[1].revents != 0 {
                let earlier = self.got.get();
                if let (Some(first), Some(_)) = (earlier, self.read()) {
                    return Err(Interrupted(first).into());
                }
            }
            if fds[0].revents != 0 {
                return Ok(());
            }
        }
    }
}

/// Whether an error chain is an interruption (to be passed on, never
/// reported as a runtime's failure).
pub fn is_interrupted(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<Interrupted>())
}
