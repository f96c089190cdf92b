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
mod attach;
mod containers;
mod create;
mod events;
mod exec;
mod images;
mod networks;
mod stream;
mod system;
mod volumes;

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

/// The engine's errors with docker's statuses, by kind: a missing
/// container 404, bad input 400, a name in use or a container (network,
/// volume) not in the state asked for 409 (a state that is a missing
/// thing, "no such volume", 404); the rest 500, but for a text that says
/// what is missing (an image, through a context).
impl From<tinydocker_engine::Error> for ApiError {
    fn from(e: tinydocker_engine::Error) -> Self {
        ApiError::from(&e)
    }
}

impl From<&tinydocker_engine::Error> for ApiError {
    fn from(e: &tinydocker_engine::Error) -> Self {
        use tinydocker_engine::Error as E;
        let message = e.one_line();
        let missing = message.starts_with("No such ") || message.contains("no such ");
        let status = match e.root() {
            E::NoSuchContainer(_) => StatusCode::NOT_FOUND,
            E::Invalid(_) | E::AmbiguousPrefix { .. } => StatusCode::BAD_REQUEST,
            E::NameInUse { .. } => StatusCode::CONFLICT,
            E::State(_) if missing => StatusCode::NOT_FOUND,
            E::State(_) => StatusCode::CONFLICT,
            _ if missing => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
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
/// An answer of `status` without a body.
pub fn empty(status: StatusCode) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(full(""))
        .expect("a response of valid parts")
}

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

    /// A time (`since`, `until`): the Unix times docker's clients send
    /// ("1733383800.000000000"), RFC 3339 or a duration before `now`;
    /// None when absent or empty.
    pub fn time(&self, key: &str, now: u128) -> Result<Option<u128>, ApiError> {
        self.get(key)
            .filter(|t| !t.is_empty())
            .map(|t| tinydocker_engine::logs::parse_time(key, t, now))
            .transpose()
            .map_err(|e| ApiError::bad_request(e.one_line()))
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
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
    /// The connection once the answer is sent, when the client asked to
    /// upgrade it (`Upgrade: tcp`): a hijack (see [`stream::hijack`]).
    pub upgrade: std::sync::Mutex<Option<hyper::upgrade::OnUpgrade>>,
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

    /// The registry credentials the client sent (`X-Registry-Auth`, as
    /// docker's client sends them with a pull or push after a `login`);
    /// anonymous without: the service, as dockerd, never reads a client's
    /// config of its own.
    pub fn registry_credentials(
        &self,
    ) -> std::result::Result<tinydocker_registry::Credentials, ApiError> {
        let header = self
            .headers
            .get("X-Registry-Auth")
            .map(|v| v.to_str().unwrap_or("!"))
            .unwrap_or_default();
        tinydocker_registry::login::from_registry_auth(header).map_err(ApiError::bad_request)
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
        (&Method::POST, ["auth"]) => images::auth(&call).await,
        (&Method::GET, ["version"]) => system::version(&call).await,
        (&Method::GET, ["info"]) => system::info(&call).await,
        (&Method::GET, ["events"]) => events::events(&call).await,
        (&Method::GET, ["containers", "json"]) => containers::list(&call).await,
        (&Method::GET, ["containers", id, "json"]) => containers::inspect(&call, id).await,
        (&Method::POST, ["containers", "prune"]) => containers::prune(&call).await,
        (&Method::POST, ["containers", id, "attach"]) => attach::attach(&call, id).await,
        (&Method::POST, ["containers", id, "resize"]) => attach::resize(&call, id).await,
        (&Method::POST, ["containers", id, "exec"]) => exec::create(&call, id).await,
        (&Method::POST, ["exec", id, "start"]) => exec::start(&call, id).await,
        (&Method::POST, ["exec", id, "resize"]) => exec::resize(&call, id),
        (&Method::GET, ["exec", id, "json"]) => exec::inspect(id),
        (&Method::POST, ["containers", "create"]) => create::create(&call).await,
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
        (&Method::POST, ["networks", "prune"]) => networks::prune(&call).await,
        (&Method::POST, ["networks", name, "connect"]) => networks::connect(&call, name).await,
        (&Method::POST, ["networks", name, "disconnect"]) => {
            networks::disconnect(&call, name).await
        }
        (&Method::GET, ["networks", name]) => networks::inspect(&call, name).await,
        (&Method::DELETE, ["networks", name]) => networks::remove(&call, name).await,
        (&Method::POST, ["images", "create"]) => images::create(&call).await,
        (&Method::POST, ["images", "prune"]) => images::prune(&call).await,
        (&Method::POST, ["build"]) => images::build(&call).await,
        (&Method::GET, ["system", "df"]) => system::df(&call).await,
        (&Method::GET, ["volumes"]) => volumes::list(&call).await,
        (&Method::POST, ["volumes", "create"]) => volumes::create(&call).await,
        (&Method::POST, ["volumes", "prune"]) => volumes::prune(&call).await,
        (&Method::GET, ["volumes", name]) => volumes::inspect(&call, name).await,
        (&Method::DELETE, ["volumes", name]) => volumes::remove(&call, name).await,
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
    let (mut head, body) = req.into_parts();
    let upgrade = head
        .headers
        .contains_key(hyper::header::UPGRADE)
        .then(|| head.extensions.remove::<hyper::upgrade::OnUpgrade>())
        .flatten();
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
            headers: head.headers.clone(),
            body,
            upgrade: std::sync::Mutex::new(upgrade),
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

/// Where the service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A unix socket: root's (and group `tinydocker`'s, if there is one).
    Unix(PathBuf),
    /// TCP, without TLS: anyone who reaches it is root here. Only when
    /// asked for (`tcp://IP:PORT`), and said loudly.
    Tcp(std::net::SocketAddr),
}

impl Address {
    /// `unix:///PATH` or `tcp://IP:PORT (or localhost:PORT)`, as podman's service takes it.
    pub fn parse(uri: &str) -> Result<Address> {
        if let Some(path) = uri.strip_prefix("unix://") {
            if path.starts_with('/') {
                return Ok(Address::Unix(PathBuf::from(path)));
            }
        } else if let Some(addr) = uri.strip_prefix("tcp://") {
            // An address, or localhost: no resolver (the static binary
            // cannot load NSS's modules).
            let addr = match addr.strip_prefix("localhost:") {
                Some(port) => format!("127.0.0.1:{port}"),
                None => addr.to_string(),
            };
            if let Ok(addr) = addr.parse() {
                return Ok(Address::Tcp(addr));
            }
        }
        Err(anyhow!(
            "invalid listen address {uri:?}: tinydocker serves unix:///ABSOLUTE/PATH or tcp://IP:PORT"
        ))
    }
}

/// Serve the API at `address` until the service has been idle (no
/// connection open) for `idle` (`None`: never stops on idle).
pub fn serve(engine: Engine, address: &Address, idle: Option<Duration>) -> Result<()> {
    // The stop signals are the service's whatever mask it was started
    // with (a parent that reads its own from a signalfd has them blocked,
    // and a child inherits that): blocked, a SIGTERM would never reach
    // the handler. Before the runtime's threads, which inherit the mask.
    let mut stop = nix::sys::signal::SigSet::empty();
    stop.add(nix::sys::signal::Signal::SIGTERM);
    stop.add(nix::sys::signal::Signal::SIGINT);
    stop.thread_unblock()
        .context("unblock SIGTERM and SIGINT")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the service's runtime")?;
    let served = runtime.block_on(serve_async(Arc::new(engine), address.clone(), idle));
    // A request still at work on a blocking thread (a pull, a stop's
    // grace period) does not hold the exit up for long: the engine's
    // records stay whole whenever its work is cut off.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

/// A listening socket of either kind.
enum Listener {
    Unix {
        listener: tokio::net::UnixListener,
        /// Held for its drop: the socket goes with the service.
        _socket: RemoveOnDrop,
    },
    Tcp(tokio::net::TcpListener),
}

impl Listener {
    async fn bind(address: &Address) -> Result<Listener> {
        match address {
            Address::Unix(socket) => bind_unix(socket),
            Address::Tcp(addr) => {
                eprintln!(
                    "WARNING: the API on tcp://{addr} has no TLS and no authentication: anyone who can reach it is root on this machine"
                );
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("listen on tcp://{addr}"))?;
                Ok(Listener::Tcp(listener))
            }
        }
    }

    /// The next connection, counted in `open` and served on a task of
    /// its own, which uncounts it and tells `changed` when it closes.
    async fn accept(
        &self,
        engine: Arc<Engine>,
        open: &Arc<AtomicUsize>,
        changed: &Arc<tokio::sync::Notify>,
    ) -> Result<()> {
        let (open, changed) = (open.clone(), changed.clone());
        let count = move || {
            open.fetch_add(1, Ordering::SeqCst);
            move || {
                open.fetch_sub(1, Ordering::SeqCst);
                changed.notify_one();
            }
        };
        match self {
            Listener::Unix { listener: l, .. } => {
                let (stream, _) = l.accept().await.context("accept")?;
                tokio::spawn(serve_connection(stream, engine, count()));
            }
            Listener::Tcp(l) => {
                let (stream, _) = l.accept().await.context("accept")?;
                tokio::spawn(serve_connection(stream, engine, count()));
            }
        }
        Ok(())
    }
}

/// A unix socket at `socket`: mode 0660, group `tinydocker` when the
/// host has one (as dockerd's socket is group `docker`'s); a stale socket
/// of a service that is gone is replaced, a live one refused.
fn bind_unix(socket: &Path) -> Result<Listener> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    }
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        return Err(anyhow!(
            "{}: another service is listening there",
            socket.display()
        ));
    }
    let _ = std::fs::remove_file(socket);
    let listener = tokio::net::UnixListener::bind(socket)
        .with_context(|| format!("listen on {}", socket.display()))?;
    let remove = RemoveOnDrop(socket.to_path_buf());
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", socket.display()))?;
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    if let Some(gid) = tinydocker_security::user::group_id("tinydocker", &groups) {
        nix::unistd::chown(socket, None, Some(nix::unistd::Gid::from_raw(gid)))
            .with_context(|| format!("chgrp tinydocker {}", socket.display()))?;
    }
    Ok(Listener::Unix {
        listener,
        _socket: remove,
    })
}

async fn serve_connection<S>(stream: S, engine: Arc<Engine>, done: impl FnOnce())
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| handle(engine.clone(), req));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .with_upgrades()
        .await;
    done();
}

async fn serve_async(engine: Arc<Engine>, address: Address, idle: Option<Duration>) -> Result<()> {
    let listener = Listener::bind(&address).await?;
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
            accepted = listener.accept(engine.clone(), &open, &changed) => accepted?,
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
    fn listen_addresses() {
        assert_eq!(
            Address::parse("unix:///run/x.sock").unwrap(),
            Address::Unix("/run/x.sock".into())
        );
        assert_eq!(
            Address::parse("tcp://127.0.0.1:2375").unwrap(),
            Address::Tcp("127.0.0.1:2375".parse().unwrap())
        );
        assert_eq!(
            Address::parse("tcp://localhost:2375").unwrap(),
            Address::Tcp("127.0.0.1:2375".parse().unwrap())
        );
        for bad in [
            "tcp://example.com:2375",
            "unix://relative.sock",
            "/run/x.sock",
            "tcp://",
            "http://x:1",
            "tcp://:99999",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }

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
