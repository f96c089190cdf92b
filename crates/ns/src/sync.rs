//! The parent<->child handshake over a `SOCK_SEQPACKET` socketpair (`unix(7)`).
//!
//! Message boundaries are kept by the socket type, so each `read` returns one
//! whole message: a one-byte "go" from the parent, or an eight-byte failure
//! from the child. End-of-file on the parent's side means the child's end was
//! closed: by a successful `execve(2)` (the fd is `CLOEXEC`) or by its death.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::Error;

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
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid, writable array of two ints.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(Error::SocketPair(io::Error::last_os_error()));
    }
    // SAFETY: socketpair succeeded, so both fds are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Parent side: say go.
pub(crate) fn send_go(fd: &OwnedFd) -> Result<(), Error> {
    loop {
        // SAFETY: writes one byte from a valid buffer to an open fd.
        let rc = unsafe { libc::send(fd.as_raw_fd(), [GO].as_ptr().cast(), 1, libc::MSG_NOSIGNAL) };
        if rc == 1 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            // The child already died: its exit status tells the story.
            Some(libc::EPIPE) | Some(libc::ECONNRESET) => return Ok(()),
            _ => return Err(Error::SendGo(err)),
        }
    }
}

/// Parent side: the fd the child passed with [`ChildChannel::send_fd`], or
/// the failure it reported before it could.
pub(crate) fn receive_fd(fd: &OwnedFd) -> Result<Result<OwnedFd, ChildFailure>, Error> {
    #[repr(C)]
    union Control {
        buf: [u8; 64],
        _align: libc::cmsghdr,
    }
    let mut data = [0u8; 8];
    let mut control = Control { buf: [0; 64] };
    loop {
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: msghdr is plain old data; zeroed is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        // SAFETY: a pointer to the control buffer, of its size.
        msg.msg_control = unsafe { control.buf.as_mut_ptr() }.cast();
        msg.msg_controllen = 64;
        // SAFETY: a valid msghdr whose buffers outlive the call.
        let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(Error::ReadResult(err));
        }
        if n == 8 {
            return Ok(Err(ChildFailure::decode(data)));
        }
        // SAFETY: the kernel filled msg_control; CMSG_FIRSTHDR checks the length.
        let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        // SAFETY: a non-null header inside the control buffer.
        let passed = !cmsg.is_null()
            && unsafe {
                (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS
            };
        if n == 1 && data[0] == FD_MESSAGE && passed {
            let mut raw: RawFd = -1;
            // SAFETY: the data of an SCM_RIGHTS header holds at least one fd.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    libc::CMSG_DATA(cmsg),
                    (&mut raw as *mut RawFd).cast::<u8>(),
                    std::mem::size_of::<RawFd>(),
                )
            };
            // SAFETY: the kernel installed this fd in our table for us.
            return Ok(Ok(unsafe { OwnedFd::from_raw_fd(raw) }));
        }
        return Err(Error::ReadResult(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the container process ended before it passed its terminal",
        )));
    }
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
        // SAFETY: reads at most 8 bytes into a valid 8-byte buffer.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        match n {
            1 if buf[0] == READY => return Ok(Barrier::Reached),
            8 => return Ok(Barrier::Failed(ChildFailure::decode(buf))),
            0 => return Ok(Barrier::Ended),
            n if n < 0 => {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECONNRESET) => return Ok(Barrier::Ended),
                    _ => return Err(Error::ReadResult(err)),
                }
            }
            _ => {
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
        // SAFETY: reads at most 8 bytes into a valid 8-byte buffer.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        match n {
            0 => return Ok(None),
            8 => return Ok(Some(ChildFailure::decode(buf))),
            n if n < 0 => {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECONNRESET) => return Ok(None),
                    _ => return Err(Error::ReadResult(err)),
                }
            }
            _ => {
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
            // SAFETY: reads at most one byte into a valid buffer.
            let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast(), 1, 0) };
            if n == 1 && buf[0] == GO {
                return;
            }
            if n < 0 && crate::child::errno() == libc::EINTR {
                continue;
            }
            crate::child::exit(1);
        }
    }

    /// Tell the parent this step is reached, then wait for its go (exit
    /// if it died instead): a barrier, for the parent to act while the
    /// child waits (record what the child has become).
    pub fn ready(&self) {
        // SAFETY: sends one byte from a valid buffer. A parent that is
        // gone shows in the wait below.
        unsafe { libc::send(self.fd, [READY].as_ptr().cast(), 1, libc::MSG_NOSIGNAL) };
        self.wait_go();
    }

    /// Exit if the parent has died: its end of the channel is closed (it
    /// keeps it open until the child's exec). For use after something
    /// that may have missed the parent's death, such as re-arming the
    /// parent-death signal that a user change cleared.
    pub fn exit_if_parent_gone(&self) {
        let mut buf = [0u8; 1];
        // SAFETY: peeks at most one byte into a valid buffer, without blocking.
        let n = unsafe {
            libc::recv(
                self.fd,
                buf.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n == 0 {
            crate::child::exit(1);
        }
    }

    /// Report a failure of setup step `step` with `errno`, then exit.
    pub fn fail(&self, step: u32, errno: i32) -> ! {
        let msg = ChildFailure { step, errno }.encode();
        // SAFETY: sends 8 bytes from a valid buffer; the result does not
        // matter, the process exits next either way.
        unsafe { libc::send(self.fd, msg.as_ptr().cast(), msg.len(), libc::MSG_NOSIGNAL) };
        crate::child::exit(1)
    }

    /// Pass an open fd to the parent (`SCM_RIGHTS`), such as the master of
    /// a pseudo-terminal the child opened in its own devpts. The parent
    /// takes it with [`Child::receive_fd`](crate::Child::receive_fd).
    pub fn send_fd(&self, fd: RawFd) -> Result<(), i32> {
        #[repr(C)]
        union Control {
            buf: [u8; 64],
            _align: libc::cmsghdr,
        }
        let mut byte = [FD_MESSAGE];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut control = Control { buf: [0; 64] };
        // SAFETY: msghdr is plain old data; zeroed is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
        // SAFETY: the buffer is 64 bytes, more than CMSG_SPACE of one fd.
        msg.msg_control = unsafe { control.buf.as_mut_ptr() }.cast();
        msg.msg_controllen = space;
        // SAFETY: msg_control points at a zeroed buffer of msg_controllen
        // bytes, so the first header is inside it.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
            std::ptr::copy_nonoverlapping(
                (&fd as *const RawFd).cast::<u8>(),
                libc::CMSG_DATA(cmsg),
                std::mem::size_of::<RawFd>(),
            );
        }
        loop {
            // SAFETY: a valid msghdr on an open socket.
            let n = unsafe { libc::sendmsg(self.fd, &msg, libc::MSG_NOSIGNAL) };
            if n == 1 {
                return Ok(());
            }
            if n < 0 && crate::child::errno() == libc::EINTR {
                continue;
            }
            return Err(crate::child::errno());
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
        // SAFETY: valid buffer and open fd.
        unsafe { libc::send(chan.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
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
        // SAFETY: valid buffer and open fd.
        unsafe { libc::send(child.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
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
