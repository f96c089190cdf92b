//! A detached container's stdin, handed to whoever attaches.
//!
//! The monitor of a detached container (see [`crate::supervisor`]) holds
//! the write end of an interactive container's stdin pipe, or the master
//! of its terminal. While the container runs it listens on a unix socket
//! in the container's directory, [`SOCKET`]; to each process that
//! connects it sends, at once and without reading anything (a client that
//! says nothing cannot stall the monitor), one byte and that fd over
//! `SCM_RIGHTS` (`unix(7)`): [`HAS_FD`] and the fd, or [`NO_FD`] for a
//! container with neither. The client then writes the container's stdin
//! (or resizes its terminal) itself; the monitor relays no bytes.
//!
//! docker's `StdinOnce` ([`crate::Meta::stdin_once`]): the monitor lets go
//! of its own copy of the pipe once it handed it over, so the container
//! reads the end of its stdin when that client closes it (`echo hi |
//! docker run -i busybox cat`). Otherwise the monitor keeps its copy and
//! the stdin stays open for later attaches.
//!
//! The socket is reached through `/proc/self/fd/N/` of the directory, as
//! a state root's path may be longer than a socket's address can be.

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use crate::error::{Error, Result};
use crate::process::pidfd::Process;
use crate::store::{readable, Observed, Watch};
use crate::Engine;

/// The socket's name in the container's directory.
pub const SOCKET: &str = "stdin.sock";
/// The first byte: an fd comes with it.
const HAS_FD: u8 = 1;
/// The first byte: the container has no stdin to give.
const NO_FD: u8 = 0;

/// `dir`, opened to name things in it by a short path.
fn open_dir(dir: &Path) -> io::Result<File> {
    File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
}

/// The socket's path through `dir`'s fd.
fn short_path(dir: &File) -> String {
    format!("/proc/self/fd/{}/{SOCKET}", dir.as_raw_fd())
}

/// The monitor's side: the listening socket of one run.
pub(crate) struct StdinServer {
    listener: UnixListener,
    dir: File,
}

impl StdinServer {
    /// Listen in `dir` (a socket left by a monitor that was killed is
    /// replaced).
    ///
    /// The socket listens under a name of its own before it is renamed to
    /// [`SOCKET`]: a client that finds [`SOCKET`] never connects between
    /// the bind and the listen (refused, with no change in the directory
    /// left to wake it), and the rename wakes a client waiting for it.
    pub fn bind(dir: &Path) -> io::Result<StdinServer> {
        let dir = open_dir(dir)?;
        let path = short_path(&dir);
        let making = format!("{path}.{}", std::process::id());
        let _ = std::fs::remove_file(&making);
        let listener = UnixListener::bind(&making)?;
        listener.set_nonblocking(true)?;
        if let Err(e) = std::fs::rename(&making, &path) {
            let _ = std::fs::remove_file(&making);
            return Err(e);
        }
        Ok(StdinServer { listener, dir })
    }

    /// Hand `stdin` (None: nothing) to every client waiting; with `once`,
    /// let go of it after the first.
    pub fn serve(&self, stdin: &mut Option<OwnedFd>, terminal: Option<BorrowedFd<'_>>, once: bool) {
        while let Ok((client, _)) = self.listener.accept() {
            let fd = terminal.or(stdin.as_ref().map(|f| f.as_fd()));
            let sent = send(&client, fd).is_ok();
            if sent && once && terminal.is_none() && stdin.is_some() {
                *stdin = None;
            }
        }
    }
}

impl AsFd for StdinServer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl Drop for StdinServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(short_path(&self.dir));
    }
}

fn send(client: &UnixStream, fd: Option<BorrowedFd<'_>>) -> nix::Result<usize> {
    let fds = fd.map(|f| [f.as_raw_fd()]);
    let byte = [if fd.is_some() { HAS_FD } else { NO_FD }];
    let cmsgs: Vec<ControlMessage<'_>> = fds.iter().map(|f| ControlMessage::ScmRights(f)).collect();
    // A fresh connection's buffer takes the byte at once.
    sendmsg::<()>(
        client.as_raw_fd(),
        &[IoSlice::new(&byte)],
        &cmsgs,
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        None,
    )
}

/// What a monitor hands over: None when there is no monitor listening
/// (yet, or any more), `Some(None)` for a container without stdin.
fn receive(dir: &Path) -> io::Result<Option<Option<OwnedFd>>> {
    let dir = open_dir(dir)?;
    let stream = match UnixStream::connect(short_path(&dir)) {
        Ok(s) => s,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ECONNREFUSED)) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let mut byte = [0u8; 1];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    loop {
        let mut iov = [IoSliceMut::new(&mut byte)];
        match recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => {
                let mut fd = None;
                for cmsg in msg.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(fds) = cmsg {
                        for raw in fds {
                            // SAFETY: the kernel installed this fd in our
                            // table for us.
                            let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                            fd.get_or_insert(owned);
                        }
                    }
                }
                // The monitor went between accept and send: as if none.
                if msg.bytes == 0 {
                    return Ok(None);
                }
                return Ok(Some(fd));
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The stdin of a running detached container (the write end of its pipe,
/// or its terminal's master), from its monitor: waits for the monitor to
/// listen when the container has just started, and for a container not
/// running yet to start. None when the run ends first, the container has
/// no stdin, or `cancel` becomes readable first.
pub(crate) fn stdin(
    engine: &Engine,
    key: &str,
    cancel: Option<BorrowedFd<'_>>,
) -> Result<Option<OwnedFd>> {
    let first = engine.store.find(key)?;
    let watch = Watch::new(&first.dir)?;
    loop {
        let Ok(c) = engine.store.find(&first.config.id) else {
            return Ok(None);
        };
        let running = matches!(c.observe(), Observed::Running { .. });
        if !running && c.state.started_at != first.state.started_at {
            // A run began and ended meanwhile.
            return Ok(None);
        }
        if running {
            if let Some(handed) = receive(&c.dir).map_err(|e| Error::io("connect", &c.dir, e))? {
                return Ok(handed);
            }
        }
        // Not started yet, or its monitor not listening yet: the record
        // changes, or the socket appears in the directory, or the run ends.
        let init = Process::open(c.state.pid, c.state.pid_start);
        let runtime = Process::open(c.state.runtime_pid, c.state.runtime_start);
        let [changed, exited, gone, cancelled] = readable(
            [
                Some(watch.as_fd()),
                init.as_ref().map(|p| p.as_fd()),
                runtime.as_ref().map(|p| p.as_fd()),
                cancel,
            ],
            None,
        )?;
        if exited || gone || cancelled {
            return Ok(None);
        }
        if changed {
            watch.drain();
        }
    }
}
