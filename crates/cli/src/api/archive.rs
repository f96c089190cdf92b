//! `/containers/{id}/archive` (GET, HEAD, PUT) and
//! `/containers/{id}/export`: tar streams of a container's files, both
//! ways, as `docker cp` and `docker export` use them. The archives are
//! streamed through bounded channels between the engine's blocking work
//! and the connection, never held whole.

use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::StatusCode;
use serde_json::json;
use tinydocker_engine::{Container, Engine, RootView};
use tinydocker_fs::copy::{self, CopyError, ExtractOptions, PathStat};

use super::{Answer, ApiError, Body, Call};

/// Chunks of an archive in flight at once, each up to [`CHUNK`] bytes.
const IN_FLIGHT: usize = 8;
const CHUNK: usize = 64 * 1024;

/// The `path` query, required.
fn path_query(call: &Call) -> Result<String, ApiError> {
    match call.query.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(ApiError::bad_request("path cannot be empty")),
    }
}

/// docker's statuses for a copy's failures: a missing path is 404 with
/// its text, one that is not a directory where one is needed 400.
fn copy_error(e: CopyError, path: &str, key: &str) -> ApiError {
    match e {
        CopyError::NotFound(_) => {
            ApiError::not_found(format!("Could not find the file {path} in container {key}"))
        }
        CopyError::NotADirectory(_) => ApiError::bad_request(format!("{path}: not a directory")),
        CopyError::Unpack(tinydocker_fs::layer::UnpackError::Overwrite(text)) => {
            ApiError::bad_request(text)
        }
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

/// The container and its root as `view` shows it.
fn open(engine: &Engine, key: &str, view: RootView) -> Result<(Container, OwnedFd), ApiError> {
    let container = super::containers::find(engine, key)?;
    let root = engine.open_root(&container, view)?;
    Ok((container, root))
}

/// `X-Docker-Container-Path-Stat`: base64 of the stat as JSON.
fn stat_header(stat: &PathStat) -> String {
    let value = json!({
        "name": stat.name,
        "size": stat.size,
        "mode": stat.mode,
        "mtime": tinydocker_engine::rfc3339(stat.mtime),
        "linkTarget": stat.link_target,
    });
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

/// `HEAD /containers/{id}/archive?path=P`: the stat header alone.
pub async fn head(call: &Call, id: &str) -> Answer {
    let (key, path) = (id.to_string(), path_query(call)?);
    let stat = call
        .blocking(move |engine| {
            let (_, root) = open(engine, &key, RootView::Mounted)?;
            copy::stat(&root, &path).map_err(|e| copy_error(e, &path, &key))
        })
        .await?;
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header("X-Docker-Container-Path-Stat", stat_header(&stat))
        .body(super::full(""))
        .expect("a response of valid parts"))
}

/// `GET /containers/{id}/archive?path=P`: a tar of P (with its stat
/// header), streamed.
pub async fn get(call: &Call, id: &str) -> Answer {
    let (key, path) = (id.to_string(), path_query(call)?);
    let (tx, rx) = tokio::sync::mpsc::channel(IN_FLIGHT);
    let stat = call
        .blocking(move |engine| {
            let (_, root) = open(engine, &key, RootView::Mounted)?;
            let stat = copy::stat(&root, &path).map_err(|e| copy_error(e, &path, &key))?;
            std::thread::spawn(move || {
                let mut out = Sender::new(tx);
                let written = copy::write_tar(&root, &path, &mut out)
                    .map_err(|e| io::Error::other(e.to_string()))
                    .and_then(|out| out.flush());
                out.finish(written);
            });
            Ok(stat)
        })
        .await?;
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .header("X-Docker-Container-Path-Stat", stat_header(&stat))
        .body(results(rx))
        .expect("a response of valid parts"))
}

/// `GET /containers/{id}/export`: a tar of the container's root
/// filesystem (without its volumes and mounts), streamed.
pub async fn export(call: &Call, id: &str) -> Answer {
    let key = id.to_string();
    let (tx, rx) = tokio::sync::mpsc::channel(IN_FLIGHT);
    call.blocking(move |engine| {
        let (_, root) = open(engine, &key, RootView::Layers)?;
        std::thread::spawn(move || {
            let mut out = Sender::new(tx);
            let written = copy::write_tree(&root, &mut out)
                .map_err(|e| io::Error::other(e.to_string()))
                .and_then(|out| out.flush());
            out.finish(written);
        });
        Ok(())
    })
    .await?;
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(results(rx))
        .expect("a response of valid parts"))
}

/// `PUT /containers/{id}/archive?path=DIR&noOverwriteDirNonDir=1&copyUIDGID=1`:
/// the tar body unpacked into DIR, an existing directory; owned as in the
/// archive, or with `copyUIDGID` by the container's user.
pub async fn put(call: &Call, id: &str) -> Answer {
    let (key, path) = (id.to_string(), path_query(call)?);
    let no_overwrite = call.query.flag("noOverwriteDirNonDir");
    let as_user = call.query.flag("copyUIDGID");
    let upload = call.upload.lock().ok().and_then(|mut u| u.take());
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(IN_FLIGHT);
    if let Some(mut body) = upload {
        tokio::spawn(async move {
            while let Some(frame) = body.frame().await {
                let data = match frame {
                    Ok(frame) => match frame.into_data() {
                        Ok(data) => Ok(data),
                        Err(_) => continue,
                    },
                    Err(e) => Err(io::Error::other(e)),
                };
                if tx.send(data).await.is_err() {
                    break;
                }
            }
        });
    }
    call.blocking(move |engine| {
        let (container, root) = open(engine, &key, RootView::Mounted)?;
        let stat = copy::stat(&root, &path).map_err(|e| copy_error(e, &path, &key))?;
        if !stat.is_dir() {
            return Err(ApiError::bad_request("extraction point is not a directory"));
        }
        let owner = if as_user {
            Some(tinydocker_engine::process_user(&container)?)
        } else {
            None
        };
        let options = ExtractOptions {
            no_overwrite_dir_non_dir: no_overwrite,
            owner,
            rebase: None,
        };
        copy::extract_tar(&root, &path, Receiver::new(rx), &options)
            .map_err(|e| copy_error(e, &path, &key))
    })
    .await?;
    Ok(super::empty(StatusCode::OK))
}

/// A body of chunks or an error: one that failed midway aborts the
/// connection, so the client sees a broken transfer, not a short archive.
fn results(rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>) -> Body {
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (chunk.map(hyper::body::Frame::data), rx))
    });
    http_body_util::StreamBody::new(frames).boxed()
}

/// A blocking writer into a body channel, in chunks.
struct Sender {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Sender {
    fn new(tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>) -> Sender {
        Sender {
            tx,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    /// End the body: an error is passed on, to abort it.
    fn finish(self, result: io::Result<()>) {
        if let Err(e) = result {
            let _ = self.tx.blocking_send(Err(e));
        }
    }
}

impl Write for Sender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

/// A blocking reader of a request body's chunks.
struct Receiver {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    chunk: Bytes,
}

impl Receiver {
    fn new(rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>) -> Receiver {
        Receiver {
            rx,
            chunk: Bytes::new(),
        }
    }
}

impl Read for Receiver {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.chunk = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
