//! Pseudo-terminals (`pty(7)`, `pts(4)`): a master/slave pair of character
//! devices. A program uses the slave as its terminal; what it writes there
//! is read from the master, and what is written to the master is its
//! keyboard input, through the slave's line discipline (echo, line
//! editing, Ctrl-C turned into `SIGINT` for the foreground process group).
//!
//! - [`Pty::open`], [`Pty::open_in`]: a new pair, from the host's devpts or
//!   from a container's own (so its program sees `/dev/pts/N` in its
//!   `/dev/pts`);
//! - [`copy_window_size`]: the user's terminal's size onto the pair;
//! - [`RawMode`]: the user's terminal in raw mode, restored on drop;
//! - [`attach`]: in the child, the slave as controlling terminal and stdio;
//! - [`relay`]: in the parent, the copying between the user's terminal and
//!   the master, with signal forwarding, until the child exits.
//!
//! ```no_run
//! use std::io::{stdin, stdout, IsTerminal};
//! use std::os::fd::{AsFd, AsRawFd};
//! use tinydocker_ns::pty::{self, Pty, RawMode, UserSide};
//! use tinydocker_ns::{spawn, Namespaces, SignalForwarder};
//!
//! let signals = SignalForwarder::block()?;
//! let Pty { master, slave } = Pty::open()?;
//! if let Some(terminal) = pty::user_terminal() {
//!     pty::copy_window_size(terminal, master.as_fd())?;
//! }
//! let (stdin, stdout) = (stdin(), stdout());
//! let _raw = stdin.is_terminal().then(|| RawMode::enter(stdin.as_fd())).transpose()?;
//! let slave_fd = slave.as_raw_fd();
//! let mut child = spawn(Namespaces::NONE, None, |chan| {
//!     let _ = nix::unistd::setsid();
//!     if let Err(errno) = pty::attach(slave_fd) {
//!         chan.fail(0, errno);
//!     }
//!     tinydocker_ns::child::reset_signals();
//!     chan.fail(1, libc::ENOENT) // or exec
//! })?;
//! drop(slave);
//! let user = UserSide {
//!     input: Some(stdin.as_fd()),
//!     output: stdout.as_fd(),
//!     terminal: pty::user_terminal(),
//! };
//! let status = pty::relay(master.as_fd(), &user, &signals, &mut child)?;
//! # Ok::<(), tinydocker_ns::Error>(())
//! ```

use std::io::{self, IsTerminal};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, open, openat2, FcntlArg, OFlag, OpenHow, ResolveFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd;

use crate::child::dup_onto;
use crate::{sys, Child, Error, ExitStatus, SignalForwarder};

/// The multiplexer's device number (`/dev/ptmx`, and `ptmx` in every
/// devpts instance): TTYAUX_MAJOR, minor 2.
const PTMX: (u32, u32) = (5, 2);

/// How both ends of a pair are opened: read-write, never as the caller's
/// controlling terminal, close-on-exec.
const PTY_FLAGS: OFlag = OFlag::O_RDWR.union(OFlag::O_NOCTTY).union(OFlag::O_CLOEXEC);

/// A new pseudo-terminal pair, both ends close-on-exec and neither the
/// caller's controlling terminal.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

impl Pty {
    /// A pair from the host's `/dev/ptmx`.
    pub fn open() -> Result<Pty, Error> {
        let master = open(c"/dev/ptmx", PTY_FLAGS, Mode::empty()).map_err(|e| Error::OpenPty {
            path: "/dev/ptmx".into(),
            source: e.into(),
        })?;
        Self::pair(master, true)
    }

    /// A pair from the `dev/ptmx` of the tree rooted at `root` (a
    /// container's root, e.g. an `O_PATH` fd of `/proc/PID/root`), so the
    /// slave belongs to the container's own devpts: inside, `tty` names it
    /// `/dev/pts/N`.
    ///
    /// The path is resolved as if `root` were `/` (`openat2(2)`
    /// `RESOLVE_IN_ROOT`), so no symbolic link the container made leads
    /// out of it; and the device is opened only once it is known to be a
    /// multiplexer, so the caller never opens a device the container put
    /// there instead (Linux 5.6+).
    pub fn open_in(root: BorrowedFd<'_>) -> Result<Pty, Error> {
        let path = "<container>/dev/ptmx";
        let err = |e: Errno| Error::OpenPty {
            path: path.into(),
            source: e.into(),
        };
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let node = openat2(root, c"dev/ptmx", how).map_err(err)?;
        let st = fstat(&node).map_err(err)?;
        let is_ptmx = st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFCHR.bits()
            && (libc::major(st.st_rdev), libc::minor(st.st_rdev)) == PTMX;
        if !is_ptmx {
            return Err(Error::NotPtmx { path: path.into() });
        }
        // Reopened through the O_PATH fd: the very node checked above.
        let proc_path = format!("/proc/self/fd/{}", node.as_raw_fd());
        let master = open(proc_path.as_str(), PTY_FLAGS, Mode::empty()).map_err(err)?;
        Self::pair(master, false)
    }

    /// Unlock the slave of `master` and open it.
    fn pair(master: OwnedFd, host_paths: bool) -> Result<Pty, Error> {
        sys::unlock_pty(master.as_fd()).map_err(|e| Error::UnlockPty(e.into()))?;
        // The slave straight from the master, with no path to look up
        // (Linux 4.13+).
        let e = match sys::open_pty_peer(master.as_fd(), PTY_FLAGS.bits()) {
            Ok(slave) => return Ok(Pty { master, slave }),
            Err(e) => e,
        };
        if !(host_paths && (e == Errno::ENOTTY || e == Errno::EINVAL)) {
            return Err(Error::OpenPtyPeer(e.into()));
        }
        // Older kernels: by its number, in the host's /dev/pts.
        let n = sys::pty_number(master.as_fd()).map_err(|e| Error::OpenPtyPeer(e.into()))?;
        let slave = open(format!("/dev/pts/{n}").as_str(), PTY_FLAGS, Mode::empty())
            .map_err(|e| Error::OpenPtyPeer(e.into()))?;
        Ok(Pty { master, slave })
    }
}

/// The user's terminal whose size a pseudo-terminal should follow: stdin
/// when it is a terminal, else stdout when it is one.
pub fn user_terminal() -> Option<BorrowedFd<'static>> {
    // SAFETY: fds 0 and 1 stay open for the life of the process (nothing
    // here closes them); if one is closed, isatty just says no.
    let (stdin, stdout) = unsafe { (BorrowedFd::borrow_raw(0), BorrowedFd::borrow_raw(1)) };
    [stdin, stdout].into_iter().find(|fd| fd.is_terminal())
}

/// The window size of terminal `fd` (`TIOCGWINSZ`).
pub fn window_size(fd: BorrowedFd<'_>) -> Result<libc::winsize, Error> {
    sys::window_size(fd).map_err(|e| Error::GetWindowSize(e.into()))
}

/// Set the window size of terminal `fd` (`TIOCSWINSZ`). On a master, the
/// kernel sends `SIGWINCH` to the slave's foreground process group when
/// the size changes.
pub fn set_window_size(fd: BorrowedFd<'_>, size: &libc::winsize) -> Result<(), Error> {
    sys::set_window_size(fd, size).map_err(|e| Error::SetWindowSize(e.into()))
}

/// Give the pseudo-terminal `to` the window size of the terminal `from`.
pub fn copy_window_size(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Error> {
    set_window_size(to, &window_size(from)?)
}

fn get_termios(fd: BorrowedFd<'_>) -> Result<Termios, Error> {
    tcgetattr(fd).map_err(|e| Error::GetTermios(e.into()))
}

fn set_termios(fd: BorrowedFd<'_>, t: &Termios) -> io::Result<()> {
    loop {
        match tcsetattr(fd, SetArg::TCSANOW, t) {
            Ok(()) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The user's terminal in raw mode (`cfmakeraw(3)`: no echo, no line
/// editing, no signals from keys, no output processing), so that every
/// key goes to the program on the pseudo-terminal as is, Ctrl-C included.
/// The settings it had are restored on drop.
#[derive(Debug)]
pub struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawMode<'a> {
    pub fn enter(fd: BorrowedFd<'a>) -> Result<RawMode<'a>, Error> {
        let saved = get_termios(fd)?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        set_termios(fd, &raw).map_err(Error::SetTermios)?;
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = set_termios(self.fd, &self.saved);
    }
}

/// In the child, after `setsid(2)`: make `slave` its controlling terminal
/// (`TIOCSCTTY`) and its stdin, stdout and stderr. Async-signal-safe and
/// allocation-free, for use between clone and exec; returns the errno of
/// the step that failed.
pub fn attach(slave: RawFd) -> Result<(), i32> {
    sys::with_fd(slave, sys::set_controlling_terminal).map_err(|e| e as i32)?;
    for target in 0..3 {
        dup_onto(slave, target)?;
    }
    Ok(())
}

/// The user's side of a session on a pseudo-terminal.
#[derive(Debug, Clone, Copy)]
pub struct UserSide<'a> {
    /// Read and typed into the pseudo-terminal (`-i`); `None`: nothing is.
    pub input: Option<BorrowedFd<'a>>,
    /// Where the pseudo-terminal's output goes.
    pub output: BorrowedFd<'a>,
    /// The terminal whose window size the pseudo-terminal follows, on
    /// `SIGWINCH` (see [`user_terminal`]).
    pub terminal: Option<BorrowedFd<'a>>,
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<(), Error> {
    fcntl(fd, FcntlArg::F_GETFL)
        .and_then(|flags| {
            let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
            fcntl(fd, FcntlArg::F_SETFL(flags))
        })
        .map(drop)
        .map_err(|e| Error::NonBlocking(e.into()))
}

/// One `read(2)`, retried on `EINTR`.
fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match unistd::read(fd, buf) {
            Err(Errno::EINTR) => continue,
            result => return result.map_err(io::Error::from),
        }
    }
}

/// One `write(2)`, retried on `EINTR`.
fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    loop {
        match unistd::write(fd, buf) {
            Err(Errno::EINTR) => continue,
            result => return result.map_err(io::Error::from),
        }
    }
}

fn poll_fds(fds: &mut [PollFd<'_>]) -> Result<(), Error> {
    loop {
        match poll(fds, PollTimeout::NONE) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::Poll(e.into())),
        }
    }
}

/// What `poll(2)` reported for `fd`. (Every flag it reports for the
/// events asked here is one nix names.)
fn revents(fd: &PollFd<'_>) -> PollFlags {
    fd.revents().unwrap_or(PollFlags::empty())
}

fn is_gone(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EIO | libc::EPIPE | libc::ENXIO | libc::ECONNRESET)
    )
}

/// The user's output: written whole, in blocking writes (it is the user's,
/// shared with their shell: its flags are left alone). Once it is gone
/// (closed pipe, hung-up terminal), output is discarded.
struct Output<'a> {
    fd: BorrowedFd<'a>,
    gone: bool,
}

impl Output<'_> {
    fn write_all(&mut self, mut data: &[u8]) -> Result<(), Error> {
        while !self.gone && !data.is_empty() {
            match write(self.fd, data) {
                Ok(n) => data = &data[n..],
                // Someone made it non-blocking: wait until it takes more.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    poll_fds(&mut [PollFd::new(self.fd, PollFlags::POLLOUT)])?;
                }
                Err(e) if is_gone(&e) => self.gone = true,
                Err(e) => return Err(Error::WriteOutput(e)),
            }
        }
        Ok(())
    }
}

/// Copy between the user and the pseudo-terminal `master` until `child`
/// exits, then return how it ended:
///
/// - the user's input (when given) is written to the master; at its end
///   (EOF, or a hung-up terminal) it is no longer read: the program's
///   terminal stays open, as docker leaves it;
/// - the master's output goes to the user's output;
/// - `SIGWINCH` copies the user's terminal size again (the kernel then
///   signals the program's foreground process group); `SIGCHLD` reaps the
///   child; every other signal of [`SignalForwarder`] is forwarded to it;
/// - once the child has exited, what it wrote and is still buffered in
///   the pseudo-terminal is read and passed on. The copying ends there,
///   even if a process it left behind still holds the terminal open.
///
/// One `poll(2)` loop: no threads, no timeouts. The master is made
/// non-blocking, so that a program that reads no input cannot block the
/// loop, and input is read only as fast as the program takes it.
pub fn relay(
    master: BorrowedFd<'_>,
    user: &UserSide<'_>,
    signals: &SignalForwarder,
    child: &mut Child,
) -> Result<ExitStatus, Error> {
    set_nonblocking(master)?;
    let mut output = Output {
        fd: user.output,
        gone: false,
    };
    let mut input = user.input;
    // Read from the master until the program's side is closed (EIO).
    let mut master_open = true;
    // Input read but not yet taken by the master.
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut check_child = true;
    loop {
        if check_child {
            if let Some(status) = child.try_wait(false)? {
                drain(master, &mut output, &mut buf)?;
                return Ok(status);
            }
            check_child = false;
        }
        let read_input = match input {
            Some(fd) if pending.is_empty() && master_open => Some(fd),
            _ => None,
        };
        let master_events = if pending.is_empty() {
            PollFlags::POLLIN
        } else {
            PollFlags::POLLIN | PollFlags::POLLOUT
        };
        // An fd not to be watched is left out, as poll(2) skips a negative
        // one (a BorrowedFd cannot be -1): the master once the program's
        // side is closed (it would report POLLHUP every time), the input
        // while earlier input waits or the master is closed. Those come
        // last, so the fds to watch are the first `polled`; the others
        // report nothing.
        let polled = 1 + usize::from(master_open) + usize::from(read_input.is_some());
        let mut fds = [
            PollFd::new(signals.fd(), PollFlags::POLLIN),
            PollFd::new(master, master_events),
            PollFd::new(read_input.unwrap_or(master), PollFlags::POLLIN),
        ];
        poll_fds(&mut fds[..polled])?;
        if !revents(&fds[0]).is_empty() {
            match signals.next()? {
                libc::SIGCHLD => check_child = true,
                libc::SIGWINCH => {
                    if let Some(terminal) = user.terminal {
                        copy_window_size(terminal, master)?;
                    }
                }
                sig => child.signal(sig)?,
            }
        }
        let ready = revents(&fds[1]);
        if ready.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match read(master, &mut buf) {
                Ok(0) => master_open = false,
                Ok(n) => output.write_all(&buf[..n])?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Every process closed the slave.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => master_open = false,
                Err(e) => return Err(Error::ReadPty(e)),
            }
        }
        if ready.contains(PollFlags::POLLOUT) && master_open && !pending.is_empty() {
            match write(master, &pending) {
                Ok(n) => {
                    pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.raw_os_error() == Some(libc::EIO) => master_open = false,
                Err(e) => return Err(Error::WritePty(e)),
            }
        }
        if !master_open {
            pending.clear();
        }
        if !revents(&fds[2]).is_empty() {
            if let Some(fd) = input {
                match read(fd, &mut buf) {
                    Ok(0) => input = None,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if is_gone(&e) => input = None,
                    Err(e) => return Err(Error::ReadInput(e)),
                }
            }
        }
    }
}

/// After the child's exit: pass on what the pseudo-terminal still holds.
/// A non-blocking read on a master first pushes along what the slave's
/// writes left in the kernel's buffers, so `EAGAIN` means there is no more.
fn drain(master: BorrowedFd<'_>, output: &mut Output<'_>, buf: &mut [u8]) -> Result<(), Error> {
    loop {
        match read(master, buf) {
            Ok(0) => return Ok(()),
            Ok(n) => output.write_all(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => return Ok(()),
            Err(e) => return Err(Error::ReadPty(e)),
        }
    }
}

/// In the child, once its root is the container's: a pair from its own
/// `/dev/ptmx` (so the slave is `/dev/pts/N` of the container's devpts),
/// the master sized `size`. Returns (master, slave), both close-on-exec, or
/// the errno of the step that failed. Async-signal-safe and allocation-free.
pub fn open_in_child(size: Option<&libc::winsize>) -> Result<(RawFd, RawFd), i32> {
    let master = open(c"/dev/ptmx", PTY_FLAGS, Mode::empty()).map_err(|e| e as i32)?;
    // On failure, `master` is closed as it drops.
    sys::unlock_pty(master.as_fd()).map_err(|e| e as i32)?;
    if let Some(size) = size {
        sys::set_window_size(master.as_fd(), size).map_err(|e| e as i32)?;
    }
    let slave = sys::open_pty_peer(master.as_fd(), PTY_FLAGS.bits()).map_err(|e| e as i32)?;
    Ok((master.into_raw_fd(), slave.into_raw_fd()))
}

#[cfg(test)]
mod tests {
    use nix::sys::wait::WaitPidFlag;

    use super::*;

    fn termios(fd: BorrowedFd<'_>) -> libc::termios {
        get_termios(fd).unwrap().into()
    }

    fn open_dir(path: &(impl nix::NixPath + ?Sized)) -> OwnedFd {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        open(path, flags, Mode::empty()).unwrap()
    }

    #[test]
    fn a_pair_is_connected() {
        let pty = Pty::open().unwrap();
        assert!(pty.slave.as_fd().is_terminal());
        // Raw, so the slave passes bytes as they are.
        let raw = RawMode::enter(pty.slave.as_fd()).unwrap();
        assert_eq!(write(pty.master.as_fd(), b"hi").unwrap(), 2);
        let mut buf = [0u8; 8];
        assert_eq!(read(pty.slave.as_fd(), &mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"hi");
        drop(raw);
    }

    #[test]
    fn a_pair_from_a_root_directory() {
        let root = open_dir(c"/");
        let pty = Pty::open_in(root.as_fd()).unwrap();
        assert!(pty.slave.as_fd().is_terminal());
    }

    #[test]
    fn only_a_multiplexer_is_opened_in_a_root() {
        let dir = std::env::temp_dir().join(format!("td-pty-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("dev")).unwrap();
        // An absolute symbolic link resolves inside the root, never to the
        // host's /dev/ptmx (here, to itself: too many levels of links).
        let _ = std::fs::remove_file(dir.join("dev/ptmx"));
        std::os::unix::fs::symlink("/dev/ptmx", dir.join("dev/ptmx")).unwrap();
        let root = open_dir(&dir);
        let err = Pty::open_in(root.as_fd()).unwrap_err();
        assert!(matches!(err, Error::OpenPty { .. }), "{err:?}");
        // A device that is not a multiplexer is refused before it is opened.
        std::fs::remove_file(dir.join("dev/ptmx")).unwrap();
        std::fs::write(dir.join("dev/ptmx"), "").unwrap();
        let err = Pty::open_in(root.as_fd()).unwrap_err();
        assert!(matches!(err, Error::NotPtmx { .. }), "{err:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn window_size_propagates() {
        let user = Pty::open().unwrap();
        let size = libc::winsize {
            ws_row: 33,
            ws_col: 111,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // The "user's terminal" is the slave of a pty of our own.
        set_window_size(user.master.as_fd(), &size).unwrap();
        let inner = Pty::open().unwrap();
        copy_window_size(user.slave.as_fd(), inner.master.as_fd()).unwrap();
        let seen = window_size(inner.slave.as_fd()).unwrap();
        assert_eq!((seen.ws_row, seen.ws_col), (33, 111));
        // Not a terminal: an error, and nothing changes.
        let null = std::fs::File::open("/dev/null").unwrap();
        assert!(copy_window_size(null.as_fd(), inner.master.as_fd()).is_err());
        let seen = window_size(inner.slave.as_fd()).unwrap();
        assert_eq!((seen.ws_row, seen.ws_col), (33, 111));
    }

    #[test]
    fn raw_mode_is_set_and_restored() {
        let user = Pty::open().unwrap();
        let term = user.slave.as_fd();
        let before = termios(term);
        assert_ne!(before.c_lflag & libc::ICANON, 0, "a new pty is cooked");
        {
            let _raw = RawMode::enter(term).unwrap();
            let raw = termios(term);
            assert_eq!(raw.c_lflag & (libc::ICANON | libc::ECHO | libc::ISIG), 0);
            assert_eq!(raw.c_oflag & libc::OPOST, 0);
        }
        let after = termios(term);
        assert_eq!(after.c_lflag, before.c_lflag);
        assert_eq!(after.c_iflag, before.c_iflag);
        assert_eq!(after.c_oflag, before.c_oflag);
        assert_eq!(after.c_cflag, before.c_cflag);
        assert_eq!(after.c_cc, before.c_cc);
    }

    #[test]
    fn raw_mode_needs_a_terminal() {
        let null = std::fs::File::open("/dev/null").unwrap();
        assert!(matches!(
            RawMode::enter(null.as_fd()),
            Err(Error::GetTermios(_))
        ));
    }

    #[test]
    fn attach_makes_the_controlling_terminal() {
        let pty = Pty::open().unwrap();
        let slave = pty.slave.as_raw_fd();
        // A forked child does only system calls, then _exits: safe even
        // though the test harness has other threads.
        // SAFETY: the child below makes only async-signal-safe calls.
        let pid = match unsafe { unistd::fork() }.unwrap() {
            unistd::ForkResult::Child => {
                let me = Ok(unistd::getpid());
                let ok = unistd::setsid().is_ok()
                    && attach(slave).is_ok()
                    && sys::with_fd(0, |fd| unistd::isatty(fd)) == Ok(true)
                    && sys::with_fd(2, |fd| unistd::isatty(fd)) == Ok(true)
                    && sys::with_fd(0, |fd| unistd::tcgetpgrp(fd)) == me
                    && sys::with_fd(1, |fd| nix::sys::termios::tcgetsid(fd)) == me;
                sys::exit(if ok { 0 } else { 1 });
            }
            unistd::ForkResult::Parent { child } => child.as_raw(),
        };
        let (reaped, status) = sys::waitpid(pid, WaitPidFlag::empty()).unwrap().unwrap();
        assert_eq!(reaped, pid);
        assert_eq!(ExitStatus::from_raw(status), ExitStatus::Exited(0));
    }
}
