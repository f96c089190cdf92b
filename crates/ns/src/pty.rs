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
//!     // SAFETY: setsid has no preconditions.
//!     unsafe { libc::setsid() };
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

use std::ffi::CString;
use std::io::{self, IsTerminal};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::child::{dup_onto, errno};
use crate::{Child, Error, ExitStatus, SignalForwarder};

/// The multiplexer's device number (`/dev/ptmx`, and `ptmx` in every
/// devpts instance): TTYAUX_MAJOR, minor 2.
const PTMX: (u32, u32) = (5, 2);

/// `struct open_how` of `openat2(2)`, version 0.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// A new pseudo-terminal pair, both ends close-on-exec and neither the
/// caller's controlling terminal.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

fn owned(fd: libc::c_int) -> Option<OwnedFd> {
    // SAFETY: a non-negative fd just returned by the kernel, owned by nobody.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Pty {
    /// A pair from the host's `/dev/ptmx`.
    pub fn open() -> Result<Pty, Error> {
        // SAFETY: a valid C string; the result is checked.
        let fd = unsafe {
            libc::open(
                c"/dev/ptmx".as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        let master = owned(fd).ok_or_else(|| Error::OpenPty {
            path: "/dev/ptmx".into(),
            source: io::Error::last_os_error(),
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
        let err = |source| Error::OpenPty {
            path: path.into(),
            source,
        };
        let how = OpenHow {
            flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
            mode: 0,
            resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
        };
        // SAFETY: openat2 with a valid dirfd, C string and open_how of the
        // size passed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                c"dev/ptmx".as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        let node = owned(fd as libc::c_int).ok_or_else(|| err(io::Error::last_os_error()))?;
        // SAFETY: stat is plain old data; zeroed is a valid output buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on an open (O_PATH) fd into a valid buffer.
        if unsafe { libc::fstat(node.as_raw_fd(), &mut st) } != 0 {
            return Err(err(io::Error::last_os_error()));
        }
        let is_ptmx = st.st_mode & libc::S_IFMT == libc::S_IFCHR
            && (libc::major(st.st_rdev), libc::minor(st.st_rdev)) == PTMX;
        if !is_ptmx {
            return Err(Error::NotPtmx { path: path.into() });
        }
        // Reopened through the O_PATH fd: the very node checked above.
        let proc_path = CString::new(format!("/proc/self/fd/{}", node.as_raw_fd()))
            .expect("no NUL in a number");
        // SAFETY: a valid C string; the result is checked.
        let fd = unsafe {
            libc::open(
                proc_path.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        let master = owned(fd).ok_or_else(|| err(io::Error::last_os_error()))?;
        Self::pair(master, false)
    }

    /// Unlock the slave of `master` and open it.
    fn pair(master: OwnedFd, host_paths: bool) -> Result<Pty, Error> {
        let unlock: libc::c_int = 0;
        // SAFETY: TIOCSPTLCK reads an int from a valid pointer.
        if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } != 0 {
            return Err(Error::UnlockPty(io::Error::last_os_error()));
        }
        // The slave straight from the master, with no path to look up
        // (Linux 4.13+).
        // SAFETY: TIOCGPTPEER takes open flags and returns a new fd.
        let fd = unsafe {
            libc::ioctl(
                master.as_raw_fd(),
                libc::TIOCGPTPEER,
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        if let Some(slave) = owned(fd) {
            return Ok(Pty { master, slave });
        }
        let e = errno();
        if !(host_paths && (e == libc::ENOTTY || e == libc::EINVAL)) {
            return Err(Error::OpenPtyPeer(io::Error::from_raw_os_error(e)));
        }
        // Older kernels: by its number, in the host's /dev/pts.
        let mut n: libc::c_uint = 0;
        // SAFETY: TIOCGPTN writes an unsigned int to a valid pointer.
        if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) } != 0 {
            return Err(Error::OpenPtyPeer(io::Error::last_os_error()));
        }
        let path = CString::new(format!("/dev/pts/{n}")).expect("no NUL in a number");
        // SAFETY: a valid C string; the result is checked.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        let slave = owned(fd).ok_or_else(|| Error::OpenPtyPeer(io::Error::last_os_error()))?;
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
    // SAFETY: winsize is plain old data; zeroed is valid.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize to a valid pointer.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut size) } != 0 {
        return Err(Error::GetWindowSize(io::Error::last_os_error()));
    }
    Ok(size)
}

/// Set the window size of terminal `fd` (`TIOCSWINSZ`). On a master, the
/// kernel sends `SIGWINCH` to the slave's foreground process group when
/// the size changes.
pub fn set_window_size(fd: BorrowedFd<'_>, size: &libc::winsize) -> Result<(), Error> {
    // SAFETY: TIOCSWINSZ reads a winsize from a valid pointer.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, size) } != 0 {
        return Err(Error::SetWindowSize(io::Error::last_os_error()));
    }
    Ok(())
}

/// Give the pseudo-terminal `to` the window size of the terminal `from`.
pub fn copy_window_size(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Error> {
    set_window_size(to, &window_size(from)?)
}

fn get_termios(fd: BorrowedFd<'_>) -> Result<libc::termios, Error> {
    // SAFETY: termios is plain old data; zeroed is valid.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr writes a termios to a valid pointer.
    if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) } != 0 {
        return Err(Error::GetTermios(io::Error::last_os_error()));
    }
    Ok(t)
}

fn set_termios(fd: BorrowedFd<'_>, t: &libc::termios) -> io::Result<()> {
    loop {
        // SAFETY: tcsetattr reads a termios from a valid pointer.
        if unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, t) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
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
    saved: libc::termios,
}

impl<'a> RawMode<'a> {
    pub fn enter(fd: BorrowedFd<'a>) -> Result<RawMode<'a>, Error> {
        let saved = get_termios(fd)?;
        let mut raw = saved;
        // SAFETY: cfmakeraw changes a valid termios in place.
        unsafe { libc::cfmakeraw(&mut raw) };
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
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal).
    if unsafe { libc::ioctl(slave, libc::TIOCSCTTY, 0) } != 0 {
        return Err(errno());
    }
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
    // SAFETY: F_GETFL/F_SETFL on an open fd.
    let ok = unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    };
    if !ok {
        return Err(Error::NonBlocking(io::Error::last_os_error()));
    }
    Ok(())
}

/// One `read(2)`, retried on `EINTR`.
fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: reads at most buf.len() bytes into a valid buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

/// One `write(2)`, retried on `EINTR`.
fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: writes at most buf.len() bytes from a valid buffer.
        let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

fn poll_fds(fds: &mut [libc::pollfd]) -> Result<(), Error> {
    loop {
        // SAFETY: a valid array of pollfds of the length passed.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(Error::Poll(err));
        }
    }
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
                    let mut pfd = [libc::pollfd {
                        fd: self.fd.as_raw_fd(),
                        events: libc::POLLOUT,
                        revents: 0,
                    }];
                    poll_fds(&mut pfd)?;
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
        let mut fds = [
            libc::pollfd {
                fd: signals.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if master_open { master.as_raw_fd() } else { -1 },
                events: libc::POLLIN | if pending.is_empty() { 0 } else { libc::POLLOUT },
                revents: 0,
            },
            libc::pollfd {
                fd: match input {
                    Some(fd) if pending.is_empty() && master_open => fd.as_raw_fd(),
                    _ => -1,
                },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        poll_fds(&mut fds)?;
        if fds[0].revents != 0 {
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
        let ready = fds[1].revents;
        if ready & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            match read(master, &mut buf) {
                Ok(0) => master_open = false,
                Ok(n) => output.write_all(&buf[..n])?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Every process closed the slave.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => master_open = false,
                Err(e) => return Err(Error::ReadPty(e)),
            }
        }
        if ready & libc::POLLOUT != 0 && master_open && !pending.is_empty() {
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
        if fds[2].revents != 0 {
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

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    fn termios(fd: BorrowedFd<'_>) -> libc::termios {
        get_termios(fd).unwrap()
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
        // SAFETY: a valid C string; the result is checked.
        let fd = unsafe {
            libc::open(
                c"/".as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        let root = owned(fd).unwrap();
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
        let c = CString::new(dir.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string; the result is checked.
        let root = owned(unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })
        .unwrap();
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
        // SAFETY: fork has no preconditions; the child below makes only
        // async-signal-safe calls.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: plain system calls in the child.
            unsafe {
                let ok = libc::setsid() > 0
                    && attach(slave).is_ok()
                    && libc::isatty(0) == 1
                    && libc::isatty(2) == 1
                    && libc::tcgetpgrp(0) == libc::getpid()
                    && libc::tcgetsid(1) == libc::getpid();
                libc::_exit(if ok { 0 } else { 1 });
            }
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child into a valid int.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert_eq!(ExitStatus::from_raw(status), ExitStatus::Exited(0));
    }
}
