//! docker's hijacked streams (`attach`, `exec/{id}/start`): the client
//! asks to upgrade the connection (`Connection: Upgrade`, `Upgrade: tcp`),
//! the answer is `101 Switching Protocols`, and from then on the
//! connection carries the process's output one way and its stdin the
//! other; a client that half-closes its side ends the stdin. Without a
//! terminal the output is multiplexed ([`frame`]); with one it is the raw
//! bytes. A client that does not ask to upgrade (older ones) gets `200`
//! and the output as the body, and no stdin.
//!
//! The output goes through a channel whatever the transport, so producers
//! (a process's pipes, a container's log) do not know which it is; a
//! client that goes makes the channel's sends fail, and producers then go
//! on draining (a process must not block on a pipe nobody reads).

use std::io;
use std::os::fd::OwnedFd;

use bytes::Bytes;
use hyper::{Response, StatusCode};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{streamed, Body, Call, API_VERSION};

/// stdout's stream number in a multiplexed frame.
pub const STDOUT: u8 = 1;
/// stderr's.
pub const STDERR: u8 = 2;

/// One frame of docker's multiplexed stream: an 8-byte header (the
/// stream, three zero bytes, the length big-endian) and the payload.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + payload.len());
    frame.extend_from_slice(&[stream, 0, 0, 0]);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// A pipe whose read end becomes readable (at its end) once the client
/// reading what `tx` sends has gone: the engine's blocking waits (an
/// attach, the event journal) take it as their `cancel`. The watch on the
/// client ends when the returned sender is dropped (the wait ended),
/// letting go of its copy of `tx`, whose last copy ends the answer.
pub fn cancel_on_close(
    tx: &mpsc::Sender<Bytes>,
) -> io::Result<(std::sync::Arc<OwnedFd>, tokio::sync::oneshot::Sender<()>)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (ended, mut end) = tokio::sync::oneshot::channel::<()>();
    let tx = tx.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = tx.closed() => {}
            _ = &mut end => {}
        }
        drop(w);
    });
    Ok((std::sync::Arc::new(r), ended))
}

/// Where a hijacked stream's output goes: raw or as frames.
#[derive(Clone)]
pub struct Sink {
    pub tx: mpsc::Sender<Bytes>,
    raw: bool,
}

impl Sink {
    /// Send what `stream` (STDOUT, STDERR) wrote; false once the client
    /// is gone.
    pub async fn send(&self, stream: u8, data: &[u8]) -> bool {
        self.tx.send(self.encode(stream, data)).await.is_ok()
    }

    /// [`Sink::send`] from a blocking thread.
    pub fn blocking_send(&self, stream: u8, data: &[u8]) -> bool {
        self.tx.blocking_send(self.encode(stream, data)).is_ok()
    }

    fn encode(&self, stream: u8, data: &[u8]) -> Bytes {
        if self.raw {
            Bytes::copy_from_slice(data)
        } else {
            Bytes::from(frame(stream, data))
        }
    }

    /// A sink nobody reads (a detached process's output, drained).
    pub fn discard(raw: bool) -> Sink {
        let (tx, _) = mpsc::channel(1);
        Sink { tx, raw }
    }
}

/// The answer to a hijacking request and its two directions: the output
/// [`Sink`] and, when the connection was upgraded and `stdin` is wanted,
/// what the client sends (the channel ends at its half-close).
pub struct Hijack {
    pub response: Response<Body>,
    pub output: Sink,
    pub input: Option<mpsc::Receiver<Bytes>>,
    /// When the connection is upgraded: fires once the `101` has gone
    /// out (an error if the client went before). A process whose output
    /// could follow the `101` in one read starts after it: docker-py
    /// reads the headers through a buffer and then the raw socket, and
    /// what the buffer took past the headers would be lost.
    pub upgraded: Option<tokio::sync::oneshot::Receiver<()>>,
}

/// Answer `call` by hijacking its connection (see the module's
/// documentation); `raw` for a terminal's stream.
pub fn hijack(call: &Call, raw: bool, stdin: bool) -> Hijack {
    let content_type = if raw {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let output = Sink { tx, raw };
    let upgrade = call.upgrade.lock().expect("not poisoned").take();
    let Some(upgrade) = upgrade else {
        let response = Response::builder()
            .status(StatusCode::OK)
            .header("Content-Type", content_type)
            .header("Api-Version", API_VERSION)
            .body(streamed(rx))
            .expect("a response of valid parts");
        return Hijack {
            response,
            output,
            input: None,
            upgraded: None,
        };
    };
    let (input_tx, input) = if stdin {
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let (upgraded_tx, upgraded) = tokio::sync::oneshot::channel();
    tokio::spawn(relay(upgrade, rx, input_tx, upgraded_tx));
    let response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .header("Content-Type", content_type)
        .header("Api-Version", API_VERSION)
        .body(super::full(""))
        .expect("a response of valid parts");
    Hijack {
        response,
        output,
        input,
        upgraded: Some(upgraded),
    }
}

/// The upgraded connection: the output channel to the client until it
/// ends (then the connection is closed), the client's bytes to `input`
/// until its half-close.
async fn relay(
    upgrade: hyper::upgrade::OnUpgrade,
    mut output: mpsc::Receiver<Bytes>,
    input: Option<mpsc::Sender<Bytes>>,
    sent: tokio::sync::oneshot::Sender<()>,
) {
    let Ok(upgraded) = upgrade.await else {
        return;
    };
    let _ = sent.send(());
    let (mut read, mut write) = tokio::io::split(hyper_util::rt::TokioIo::new(upgraded));
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let Some(input) = &input else { continue };
                    if input.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    while let Some(data) = output.recv().await {
        if write.write_all(&data).await.is_err() {
            break;
        }
    }
    let _ = write.shutdown().await;
    reader.abort();
}

/// A file descriptor the service reads or writes without blocking a
/// thread (a pipe's end, a terminal's master).
pub struct AsyncPipe(AsyncFd<OwnedFd>);

impl AsyncPipe {
    pub fn new(fd: OwnedFd) -> io::Result<AsyncPipe> {
        let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL)?;
        let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(flags))?;
        // SAFETY: the AsyncFd owns the fd: it stays open while registered.
        unsafe { AsyncFd::register(fd) }
            .map(AsyncPipe)
            .map_err(io::Error::from)
    }

    /// Some bytes; 0 at the end (a terminal's EIO, once every process
    /// closed it, counts as the end).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.0.readable().await?;
            match guard.try_io(|fd| read_now(fd.get_ref(), buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// What can be read without waiting (after the writer exited).
    pub fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        read_now(self.0.get_ref(), buf)
    }

    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.0.writable().await?;
            match guard.try_io(|fd| Ok(nix::unistd::write(fd.get_ref(), data)?)) {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }
}

fn read_now(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    match nix::unistd::read(fd, buf) {
        Ok(n) => Ok(n),
        Err(nix::errno::Errno::EIO) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Copy `from` to `sink` as `stream` until its end, or, once `done`
/// fires, until nothing more is there (what the process wrote before it
/// exited; a process it left behind may hold the pipe open).
pub async fn copy_output(
    from: AsyncPipe,
    stream: u8,
    sink: Sink,
    mut done: tokio::sync::watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                // A client that went: the rest is drained unseen.
                Ok(n) => { sink.send(stream, &buf[..n]).await; }
            },
            () = ended(&mut done) => {
                while let Ok(n @ 1..) = from.read_now(&mut buf) {
                    sink.send(stream, &buf[..n]).await;
                }
                return;
            }
        }
    }
}

/// Until `done` says so (or its sender is gone).
pub async fn ended(done: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = done.wait_for(|d| *d).await;
}

/// Copy the client's input to `to` until the client half-closes (the
/// process then reads its end) or goes.
pub async fn copy_input(mut input: mpsc::Receiver<Bytes>, to: AsyncPipe) {
    while let Some(data) = input.recv().await {
        if to.write_all(&data).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_dockers_header() {
        assert_eq!(
            frame(STDERR, b"hi\n"),
            [2, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']
        );
    }
}
