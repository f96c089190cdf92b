//! `tinydocker system service`: docker's Engine API (version 1.41) on a
//! unix socket, over the same engine as the CLI, so docker's own clients
//! (the `docker` command, docker-py, compose) drive tinydocker. A container
//! made through the API is the CLI's too: the same records and locks, and
//! it does not depend on the service staying up.
//!
//! The server is hyper's HTTP/1 on a tokio runtime; each request is
//! handled on its own task, the engine's blocking calls on tokio's
//! blocking threads.

mod archive;
mod containers;
mod images;
mod networks;
mod system;

use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tinydocker_engine::Engine;

/// The API version answered (docker 20.10's).
pub const API_VERSION: &str = "1.41";
/// The oldest version docker's clients may ask for.
pub const MIN_API_VERSION: &str = "1.12";
/// The socket unless one is named.
pub const DEFAULT_SOCKET: &str = "/run/tinydocker/tinydocker.sock";

/// A response body: whole, or streamed (logs, waits).
pub type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// A whole body.
pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// A body streamed from a channel, ended when the sender goes; a client
/// that goes drops the receiver, and the sender's next send fails.
pub fn streamed(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|data| (Ok::<_, std::io::Error>(hyper::body::Frame::data(data)), rx))
    });
    http_body_util::StreamBody::new(frames).boxed()
}

/// [`streamed`] from an unbounded channel, for senders that may not block
/// (progress reported from inside another runtime: a pull's).
pub fn streamed_unbounded(rx: tokio::sync::mpsc::UnboundedReceiver<Bytes>) -> Body {
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|data| (Ok::<_, std::io::Error>(hyper::body::Frame::data(data)), rx))
    });
    http_body_util::StreamBody::new(frames).boxed()
}

/// What a handler answers: a response, or an error docker's way.
pub type Answer = std::result::Result<Response<Body>, ApiError>;

/// An error as docker's API gives it: a status and `{"message": ...}`,
/// which docker's clients print as they are.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

/// The engine's errors with docker's statuses: a missing container or
/// image is 404, a conflict (a name in use, a running container) 409.
impl From<tinydocker_engine::Error> for ApiError {
    fn from(e: tinydocker_engine::Error) -> Self {
        let message = e.one_line();
        let status = if message.starts_with("No such ") || message.contains("no such container") {
            StatusCode::NOT_FOUND
        } else if message.contains("conflict") || message.contains("is already in use") {
            StatusCode::CONFLICT
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        ApiError::new(status, message)
    }
}

impl From<tinydocker_fs::Error> for ApiError {
    fn from(e: tinydocker_fs::Error) -> Self {
        let status = match e {
            tinydocker_fs::Error::NoSuchImage(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// A JSON answer.
pub fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .header("Api-Version", API_VERSION)
        .header("Server", server_header())
        .body(full(value.to_string() + "\n"))
        .expect("a response of valid parts")
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.status, &json!({ "message": e.message }))
}

fn server_header() -> String {
    format!("tinydocker/{} (linux)", env!("CARGO_PKG_VERSION"))
}

/// A request's query parameters.
pub struct Query(Vec<(String, String)>);

impl Query {
    fn parse(text: Option<&str>) -> Query {
        Query(
            text.unwrap_or_default()
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    /// Every value of a repeated key (`names=a&names=b`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// docker's booleans: `1`, `true`, `True` (and present but empty).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "True" | "TRUE"))
    }
}

/// Percent-decoding of a query part (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a handler is given.
pub struct Call {
    pub engine: Arc<Engine>,
    pub method: Method,
    /// The path without the `/vX.Y` prefix, split at `/`.
    pub parts: Vec<String>,
    pub query: Query,
    pub body: Bytes,
    /// The request's body not read: an upload its handler streams
    /// (`PUT /containers/{id}/archive`); see [`streams_upload`].
    pub upload: std::sync::Mutex<Option<Incoming>>,
}

/// Whether a request's body is handed to its handler unread (an archive
/// put into a container: it may be large) rather than read whole.
fn streams_upload(method: &Method, path: &str) -> bool {
    *method == Method::PUT && path.ends_with("/archive")
}

impl Call {
    /// The body as JSON (an empty body is `{}`).
    pub fn json(&self) -> std::result::Result<Value, ApiError> {
        if self.body.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }

    /// Run the engine's blocking work on tokio's blocking threads.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> std::result::Result<T, ApiError> + Send + 'static,
    ) -> std::result::Result<T, ApiError> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || f(&engine))
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    }
}

/// The path without a `/v1.NN` prefix, and whether that version is one
/// served.
fn unversioned(path: &str) -> std::result::Result<&str, ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(path);
    };
    let (version, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let Some((major, minor)) = version.split_once('.') else {
        return Ok(path);
    };
    let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>()) else {
        return Ok(path);
    };
    if major != 1 || minor < 12 {
        return Err(ApiError::bad_request(format!(
            "client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    if minor > 41 {
        return Err(ApiError::bad_request(format!(
            "client version {version} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    Ok(&path[path.len() - tail.len() - 1..])
}

async fn route(call: Call) -> Answer {
    let parts: Vec<&str> = call.parts.iter().map(String::as_str).collect();
    match (&call.method, parts.as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => system::ping(&call),
        (&Method::GET, ["version"]) => system::version(&call).await,
        (&Method::GET, ["info"]) => system::info(&call).await,
        (&Method::GET, ["containers", "json"]) => containers::list(&call).await,
        (&Method::GET, ["containers", id, "json"]) => containers::inspect(&call, id).await,
        (&Method::POST, ["containers", "prune"]) => containers::prune(&call).await,
        (&Method::POST, ["containers", id, action]) => containers::act(&call, id, action).await,
        (&Method::DELETE, ["containers", id]) => containers::remove(&call, id).await,
        (&Method::GET, ["containers", id, "logs"]) => containers::logs(&call, id).await,
        (&Method::GET, ["containers", id, "stats"]) => containers::stats(&call, id).await,
        (&Method::GET, ["containers", id, "top"]) => containers::top(&call, id).await,
        (&Method::GET, ["containers", id, "archive"]) => archive::get(&call, id).await,
        (&Method::HEAD, ["containers", id, "archive"]) => archive::head(&call, id).await,
        (&Method::PUT, ["containers", id, "archive"]) => archive::put(&call, id).await,
        (&Method::GET, ["containers", id, "export"]) => archive::export(&call, id).await,
        (&Method::GET, ["images", "json"]) => images::list(&call).await,
        (&Method::GET, ["images", name @ .., "json"]) if !name.is_empty() => {
            images::inspect(&call, &name.join("/")).await
        }
        (&Method::GET, ["networks"]) => networks::list(&call).await,
        (&Method::POST, ["networks", "create"]) => networks::create(&call).await,
        (&Method::GET, ["networks", name]) => networks::inspect(&call, name).await,
        (&Method::DELETE, ["networks", name]) => networks::remove(&call, name).await,
        (&Method::POST, ["images", "create"]) => images::create(&call).await,
        (&Method::POST, ["images", "load"]) => images::load(&call).await,
        (&Method::GET, ["images", "get"]) => images::get(&call, call.query.all("names")).await,
        (&Method::GET, ["images", name @ .., "get"]) if !name.is_empty() => {
            images::get(&call, vec![&name.join("/")]).await
        }
        (&Method::POST, ["images", name @ .., "push"]) if !name.is_empty() => {
            images::push(&call, &name.join("/")).await
        }
        (&Method::POST, ["images", name @ .., "tag"]) if !name.is_empty() => {
            images::tag(&call, &name.join("/")).await
        }
        (&Method::DELETE, ["images", name @ ..]) if !name.is_empty() => {
            images::remove(&call, &name.join("/")).await
        }
        _ => Err(ApiError::not_found(format!(
            "page not found: {} /{}",
            call.method,
            call.parts.join("/")
        ))),
    }
}

async fn handle(engine: Arc<Engine>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (head, body) = req.into_parts();
    let answer = async {
        let path = unversioned(head.uri.path())?;
        let (body, upload) = if streams_upload(&head.method, path) {
            (Bytes::new(), Some(body))
        } else {
            let whole = body
                .collect()
                .await
                .map_err(|e| ApiError::bad_request(format!("read the body: {e}")))?
                .to_bytes();
            (whole, None)
        };
        let call = Call {
            engine,
            method: head.method.clone(),
            parts: path
                .split('/')
                .filter(|p| !p.is_empty())
                .map(decode)
                .collect(),
            query: Query::parse(head.uri.query()),
            body,
            upload: std::sync::Mutex::new(upload),
        };
        route(call).await
    }
    .await;
    let mut response = match answer {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    if head.method == Method::HEAD {
        *response.body_mut() = full(Bytes::new());
    }
    Ok(response)
}

/// Serve the API on `socket` until the service has been idle (no
/// connection open) for `idle` (`None`: never stops on idle).
pub fn serve(engine: Engine, socket: &Path, idle: Option<Duration>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the service's runtime")?;
    runtime.block_on(serve_async(Arc::new(engine), socket.to_path_buf(), idle))
}

async fn serve_async(engine: Arc<Engine>, socket: PathBuf, idle: Option<Duration>) -> Result<()> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    }
    // A socket left by a service that is gone; a live one is refused.
    if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        return Err(anyhow!(
            "{}: another service is listening there",
            socket.display()
        ));
    }
    let _ = std::fs::remove_file(&socket);
    let listener = tokio::net::UnixListener::bind(&socket)
        .with_context(|| format!("listen on {}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", socket.display()))?;
    let _remove = RemoveOnDrop(socket.clone());
    let open = Arc::new(AtomicUsize::new(0));
    let changed = Arc::new(tokio::sync::Notify::new());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    loop {
        let idle_timer = async {
            match idle {
                Some(d) if open.load(Ordering::SeqCst) == 0 => tokio::time::sleep(d).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted.context("accept")?;
                open.fetch_add(1, Ordering::SeqCst);
                let (engine, open, changed) = (engine.clone(), open.clone(), changed.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(engine.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                    open.fetch_sub(1, Ordering::SeqCst);
                    changed.notify_one();
                });
            }
            () = changed.notified() => {}
            () = idle_timer => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
        }
    }
}

/// Removes the socket when the service ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefixes() {
        assert_eq!(
            unversioned("/v1.41/containers/json").unwrap(),
            "/containers/json"
        );
        assert_eq!(unversioned("/v1.24/_ping").unwrap(), "/_ping");
        assert_eq!(unversioned("/_ping").unwrap(), "/_ping");
        assert!(unversioned("/v1.99/info").is_err());
        assert!(unversioned("/v1.5/info").is_err());
        assert_eq!(unversioned("/volumes").unwrap(), "/volumes");
    }

    #[test]
    fn queries() {
        let q = Query::parse(Some(
            "all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D&x",
        ));
        assert!(q.flag("all"));
        assert_eq!(q.get("filters"), Some(r#"{"label":["a=b"]}"#));
        assert_eq!(q.get("x"), Some(""));
        assert!(!q.flag("x"));
    }
}
