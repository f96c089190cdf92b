//! The parent<->child handshake over a `SOCK_SEQPACKET` socketpair (`unix(7)`).
//!
//! Message boundaries are kept by the socket type, so each `read` returns one
//! whole message: a one-byte "go" from the parent, or an eight-byte failure
//! from the child. End-of-file on the parent's side means the child's end was
//! closed: by a successful `execve(2)` (the fd is `CLOEXEC`) or by its death.

use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    recv, recvmsg, send, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag,
    SockType,
};

use crate::{sys, Error};

const GO: u8 = b'G';
/// The one byte of [`ChildChannel::ready`].
const READY: u8 = b'R';
/// The one byte that carries an fd from the child.
const FD_MESSAGE: u8 = b'F';

/// A failure the child reports before exec: which step of the caller's setup
/// failed (the caller numbers its steps) and the `errno` it failed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildFailure {
    pub step: u32,
    pub errno: i32,
}

impl ChildFailure {
    fn encode(self) -> [u8; 8] {
        let mut buf = [0u8; 8];
        buf[..4].copy_from_slice(&self.step.to_ne_bytes());
        buf[4..].copy_from_slice(&self.errno.to_ne_bytes());
        buf
    }

    fn decode(buf: [u8; 8]) -> Self {
        let mut step = [0u8; 4];
        let mut errno = [0u8; 4];
        step.copy_from_slice(&buf[..4]);
        errno.copy_from_slice(&buf[4..]);
        ChildFailure {
            step: u32::from_ne_bytes(step),
            errno: i32::from_ne_bytes(errno),
        }
    }
}

/// Create the socketpair: (parent end, child end), both `CLOEXEC`.
pub(crate) fn pair() -> Result<(OwnedFd, OwnedFd), Error> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::SocketPair(e.into()))
}

/// Parent side: say go.
pub(crate) fn send_go(fd: &OwnedFd) -> Result<(), Error> {
    loop {
        match send(fd.as_raw_fd(), &[GO], MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            // The child already died: its exit status tells the story.
            Err(Errno::EPIPE | Errno::ECONNRESET) => return Ok(()),
            Err(e) => return Err(Error::SendGo(e.into())),
        }
    }
}

/// Parent side: the fd the child passed with [`ChildChannel::send_fd`], or
/// the failure it reported before it could.
pub(crate) fn receive_fd(fd: &OwnedFd) -> Result<Result<OwnedFd, ChildFailure>, Error> {
    /// Room for the control message, aligned for its `cmsghdr`.
    #[repr(C, align(8))]
    struct Control([u8; 64]);
    let mut data = [0u8; 8];
    let mut control = Control([0; 64]);
    let (n, passed) = loop {
        let mut iov = [IoSliceMut::new(&mut data)];
        match recvmsg::<()>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut control.0),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => {
                let passed = msg.cmsgs().ok().and_then(|mut cmsgs| match cmsgs.next() {
                    Some(ControlMessageOwned::ScmRights(fds)) => fds.first().copied(),
                    _ => None,
                });
                break (msg.bytes, passed);
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::ReadResult(e.into())),
        }
    };
    if n == 8 {
        return Ok(Err(ChildFailure::decode(data)));
    }
    if let (1, FD_MESSAGE, Some(raw)) = (n, data[0], passed) {
        // SAFETY: the kernel installed this fd in our table for us.
        return Ok(Ok(unsafe { OwnedFd::from_raw_fd(raw) }));
    }
    Err(Error::ReadResult(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the container process ended before it passed its terminal",
    )))
}

/// How the child's way to its [`ChildChannel::ready`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Barrier {
    /// It is there, waiting for go.
    Reached,
    /// It reported a failure of its setup first.
    Failed(ChildFailure),
    /// It died first (killed, or out of memory): its exit status says how.
    Ended,
}

/// Parent side: wait for the child's [`ChildChannel::ready`].
pub(crate) fn read_ready(fd: &OwnedFd) -> Result<Barrier, Error> {
    let mut buf = [0u8; 8];
    loop {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(1) if buf[0] == READY => return Ok(Barrier::Reached),
            Ok(8) => return Ok(Barrier::Failed(ChildFailure::decode(buf))),
            Ok(0) | Err(Errno::ECONNRESET) => return Ok(Barrier::Ended),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::ReadResult(e.into())),
            Ok(_) => {
                return Err(Error::ReadResult(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "unexpected message from the container process",
                )))
            }
        }
    }
}

/// Parent side: wait for the child's verdict. `Ok(None)`: the child's end was
/// closed (exec succeeded, or the child died). `Ok(Some(f))`: a reported failure.
pub(crate) fn read_result(fd: &OwnedFd) -> Result<Option<ChildFailure>, Error> {
    let mut buf = [0u8; 8];
    loop {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(0) | Err(Errno::ECONNRESET) => return Ok(None),
            Ok(8) => return Ok(Some(ChildFailure::decode(buf))),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::ReadResult(e.into())),
            Ok(_) => {
                return Err(Error::ReadResult(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "short message from the container process",
                )))
            }
        }
    }
}

/// The child's end of the handshake. Everything here is async-signal-safe
/// and allocation-free: it runs between clone and exec.
pub struct ChildChannel {
    fd: RawFd,
}

impl ChildChannel {
    pub(crate) fn new(fd: RawFd) -> Self {
        ChildChannel { fd }
    }

    /// Block until the parent says go. If the parent died instead, exit.
    pub fn wait_go(&self) {
        let mut buf = [0u8; 1];
        loop {
            match recv(self.fd, &mut buf, MsgFlags::empty()) {
                Ok(1) if buf[0] == GO => return,
                Err(Errno::EINTR) => continue,
                _ => crate::child::exit(1),
            }
        }
    }

    /// Tell the parent this step is reached, then wait for its go (exit
    /// if it died instead): a barrier, for the parent to act while the
    /// child waits (record what the child has become).
    pub fn ready(&self) {
        self.reached();
        self.wait_go();
    }

    /// Tell the parent this step is reached, and go on without waiting:
    /// the parent's [`Child::wait_ready`](crate::Child::wait_ready) returns
    /// as for [`ChildChannel::ready`], and what it does then runs beside
    /// the child's next steps.
    pub fn reached(&self) {
        // A parent that is gone shows in the child's next wait, or its
        // parent-death signal.
        let _ = send(self.fd, &[READY], MsgFlags::MSG_NOSIGNAL);
    }

    /// Exit if the parent has died: its end of the channel is closed (it
    /// keeps it open until the child's exec). For use after something
    /// that may have missed the parent's death, such as re-arming the
    /// parent-death signal that a user change cleared.
    pub fn exit_if_parent_gone(&self) {
        let mut buf = [0u8; 1];
        // A peek, without blocking.
        let peeked = recv(
            self.fd,
            &mut buf,
            MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
        );
        if peeked == Ok(0) {
            crate::child::exit(1);
        }
    }

    /// Report a failure of setup step `step` with `errno`, then exit.
    pub fn fail(&self, step: u32, errno: i32) -> ! {
        let msg = ChildFailure { step, errno }.encode();
        // The result does not matter: the process exits next either way.
        let _ = send(self.fd, &msg, MsgFlags::MSG_NOSIGNAL);
        crate::child::exit(1)
    }

    /// Pass an open fd to the parent (`SCM_RIGHTS`), such as the master of
    /// a pseudo-terminal the child opened in its own devpts. The parent
    /// takes it with [`Child::receive_fd`](crate::Child::receive_fd).
    pub fn send_fd(&self, fd: RawFd) -> Result<(), i32> {
        loop {
            match sys::send_fd(self.fd, FD_MESSAGE, fd) {
                Ok(1) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e as i32),
                Ok(_) => return Err(crate::child::errno()),
            }
        }
    }

    /// The raw fd, for callers that must keep it open across their own fd
    /// shuffling (it is `CLOEXEC` and closes itself at exec).
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_roundtrips() {
        let f = ChildFailure {
            step: 7,
            errno: libc::ENOENT,
        };
        assert_eq!(ChildFailure::decode(f.encode()), f);
    }

    #[test]
    fn eof_reads_as_success_and_messages_as_failures() {
        let (parent, child) = pair().unwrap();
        let chan = ChildChannel::new(child.as_raw_fd());
        let msg = ChildFailure {
            step: 2,
            errno: libc::EACCES,
        }
        .encode();
        send(chan.as_raw_fd(), &msg, MsgFlags::empty()).unwrap();
        assert_eq!(
            read_result(&parent).unwrap(),
            Some(ChildFailure {
                step: 2,
                errno: libc::EACCES
            })
        );
        drop(child);
        assert_eq!(read_result(&parent).unwrap(), None);
    }

    #[test]
    fn ready_is_a_barrier() {
        let (parent, child) = pair().unwrap();
        let fd = child.as_raw_fd();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            ChildChannel::new(fd).ready();
            tx.send(()).unwrap();
        });
        assert_eq!(read_ready(&parent).unwrap(), Barrier::Reached);
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(100))
                .is_err(),
            "went on before the go"
        );
        send_go(&parent).unwrap();
        rx.recv().unwrap();
        thread.join().unwrap();
        // A failure reported instead, and the end of the child.
        let msg = ChildFailure {
            step: 3,
            errno: libc::EIO,
        }
        .encode();
        send(child.as_raw_fd(), &msg, MsgFlags::empty()).unwrap();
        assert_eq!(
            read_ready(&parent).unwrap(),
            Barrier::Failed(ChildFailure {
                step: 3,
                errno: libc::EIO
            })
        );
        drop(child);
        assert_eq!(read_ready(&parent).unwrap(), Barrier::Ended);
    }
}
