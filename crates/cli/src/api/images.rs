//! `/images/...`.

use hyper::StatusCode;
use serde_json::{json, Value};

use super::{json_response, Answer, ApiError, Call};

/// An image as `GET /images/json` lists it.
pub(super) fn summary(image: &tinydocker_fs::Image) -> Value {
    let tags: Vec<&String> = image.names.iter().filter(|n| !n.contains('@')).collect();
    let digests: Vec<&String> = image.names.iter().filter(|n| n.contains('@')).collect();
    json!({
        "Id": image.id,
        "ParentId": "",
        "RepoTags": tags,
        "RepoDigests": digests,
        "Created": image.created,
        "Size": image.size,
        "VirtualSize": image.size,
        "SharedSize": -1,
        "Labels": image.config.labels,
        "Containers": -1,
    })
}

pub async fn list(call: &Call) -> Answer {
    let dangling_only = super::containers::filters(call)?
        .iter()
        .any(|(k, v)| k == "dangling" && v == "true");
    let images = call.blocking(|engine| Ok(engine.images()?.list()?)).await?;
    let rows: Vec<Value> = images
        .iter()
        .filter(|i| !dangling_only || !i.names.iter().any(|n| !n.contains('@')))
        .map(summary)
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(rows)))
}

pub async fn inspect(call: &Call, name: &str) -> Answer {
    let name = name.to_string();
    let value = call
        .blocking(move |engine| {
            let store = engine.images()?;
            let image = store
                .resolve(&name)
                .map_err(|_| ApiError::not_found(format!("No such image: {name}")))?;
            let names = store
                .list()?
                .into_iter()
                .find(|i| i.id == image.id)
                .map(|i| i.names)
                .unwrap_or_default();
            Ok(crate::commands::image_json(&tinydocker_fs::Image {
                names,
                ..image
            }))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &value))
}

/// `POST /images/{name}/tag?repo=R&tag=T`.
pub async fn tag(call: &Call, name: &str) -> Answer {
    let repo = call.query.get("repo").unwrap_or_default().to_string();
    let tag = call
        .query
        .get("tag")
        .filter(|t| !t.is_empty())
        .unwrap_or("latest");
    let target: tinydocker_fs::Reference = format!("{repo}:{tag}")
        .parse()
        .map_err(|e: tinydocker_fs::ReferenceError| ApiError::bad_request(e.to_string()))?;
    let name = name.to_string();
    call.blocking(move |engine| {
        let image = engine
            .images()?
            .tag(&name, &target)
            .map_err(|_| ApiError::not_found(format!("No such image: {name}")))?;
        engine.image_event("tag", &image.id, &target.to_string());
        Ok(())
    })
    .await?;
    Ok(super::empty(StatusCode::CREATED))
}

/// `DELETE /images/{name}?force=1`: what was untagged and deleted.
pub async fn remove(call: &Call, name: &str) -> Answer {
    let force = call.query.flag("force");
    let name = name.to_string();
    let removed = call
        .blocking(move |engine| {
            engine.images()?.resolve(&name)?;
            Ok(engine.remove_image(&name, force)?)
        })
        .await?;
    let mut out: Vec<Value> = removed
        .untagged
        .iter()
        .map(|n| json!({ "Untagged": n }))
        .collect();
    if removed.deleted {
        out.push(json!({ "Deleted": removed.image.id }));
    }
    Ok(json_response(StatusCode::OK, &Value::Array(out)))
}

/// A JSON-lines stream of docker's progress messages, written from a
/// blocking task: each message is sent as it comes; a client that goes
/// ends the sending.
struct Progress {
    /// Unbounded: a pull reports from inside its own runtime, where a
    /// blocking send may not wait (the messages are few and small).
    tx: tokio::sync::mpsc::UnboundedSender<bytes::Bytes>,
}

impl Progress {
    fn send(&self, value: Value) {
        let _ = self.tx.send(bytes::Bytes::from(value.to_string() + "\r\n"));
    }

    fn status(&self, id: Option<&str>, status: &str) {
        let mut v = json!({ "status": status });
        if let Some(id) = id {
            v["id"] = json!(id);
            v["progressDetail"] = json!({});
        }
        self.send(v);
    }

    /// An error after the headers went: in the stream, as docker sends it.
    fn error(&self, message: &str) {
        self.send(json!({ "errorDetail": { "message": message }, "error": message }));
    }
}

/// A streamed JSON-lines answer whose lines `work` writes.
fn progress_stream(work: impl FnOnce(Progress) + Send + 'static) -> Answer {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::task::spawn_blocking(move || work(Progress { tx }));
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(super::streamed_unbounded(rx))
        .expect("a response of valid parts"))
}

/// tinydocker's registry configuration (insecure registries, certs.d).
fn transport() -> Result<tinydocker_registry::Transport, ApiError> {
    tinydocker_registry::Transport::from_config()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("config: {e}")))
}

/// `POST /auth` (`docker login`): the credentials checked against the
/// registry, as dockerd checks them; the client keeps them and sends them
/// with each pull and push.
pub async fn auth(call: &Call) -> Answer {
    let body = call.json()?;
    let field = |name: &str| body[name].as_str().unwrap_or_default().to_string();
    let (username, password) = (field("username"), field("password"));
    if username.is_empty() || password.is_empty() {
        return Err(ApiError::bad_request("Username and password are required"));
    }
    let address = field("serveraddress");
    let server = tinydocker_registry::login::server_key((!address.is_empty()).then_some(&*address));
    let transport = transport()?;
    call.blocking(move |_| {
        tinydocker_registry::login::check(&server, &username, &password, &transport)
            .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, e))
    })
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "Status": "Login Succeeded", "IdentityToken": "" }),
    ))
}

/// `POST /images/create?fromImage=NAME&tag=TAG[&platform=P]`: a pull, its
/// progress as docker's JSON messages; with `fromSrc=-`, an import of the
/// body (see [`import`]).
pub async fn create(call: &Call) -> Answer {
    use tinydocker_registry::{Platform, Progress as Step, PullOptions};
    if let Some(source) = call.query.get("fromSrc") {
        return import(call, source).await;
    }
    let image = call
        .query
        .get("fromImage")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad_request("fromImage is required"))?
        .to_string();
    let reference = match call.query.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) if tag.starts_with("sha256:") => format!("{image}@{tag}"),
        Some(tag) => format!("{image}:{tag}"),
        None => image.clone(),
    };
    let platform = match call.query.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => Some(Platform::parse(p).map_err(ApiError::bad_request)?),
        None => None,
    };
    let transport = transport()?;
    let credentials = call.registry_credentials()?;
    let engine = call.engine.clone();
    progress_stream(move |out| {
        let store = match engine.images() {
            Ok(store) => store,
            Err(e) => return out.error(&e.one_line()),
        };
        let options = PullOptions {
            platform_required: platform.is_some(),
            platform: platform.unwrap_or_else(Platform::host),
            transport,
            credentials,
            ..PullOptions::default()
        };
        let before = store.resolve(&reference).ok().map(|i| i.id);
        let tag = reference
            .rsplit_once([':', '@'])
            .map_or("latest", |(_, t)| t)
            .to_string();
        let header = std::sync::Mutex::new(Some(format!("Pulling from {image}")));
        let fetched = std::sync::atomic::AtomicUsize::new(0);
        let report = |layer: &str, p: Step| {
            if let Some(h) = header.lock().unwrap().take() {
                out.status(Some(&tag), &h);
            }
            match p {
                Step::Downloading { done, total } => out.send(json!({
                    "status": "Downloading",
                    "progressDetail": { "current": done, "total": total },
                    "id": layer,
                })),
                other => {
                    if other == Step::PullComplete {
                        fetched.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    let text = match other {
                        Step::PullingFsLayer => "Pulling fs layer",
                        Step::AlreadyExists => "Already exists",
                        Step::VerifyingChecksum => "Verifying Checksum",
                        Step::DownloadComplete => "Download complete",
                        Step::Extracting => "Extracting",
                        _ => "Pull complete",
                    };
                    out.status(Some(layer), text);
                }
            }
        };
        match tinydocker_registry::pull(&store, &reference, &options, &report) {
            Ok(pulled) => {
                engine.image_reference_event("pull", &pulled.name);
                out.status(None, &format!("Digest: {}", pulled.digest));
                let fresh = fetched.load(std::sync::atomic::Ordering::Relaxed) > 0
                    || before.as_deref() != Some(pulled.image.id.as_str());
                out.status(
                    None,
                    &if fresh {
                        format!("Status: Downloaded newer image for {}", pulled.name)
                    } else {
                        format!("Status: Image is up to date for {}", pulled.name)
                    },
                );
            }
            Err(e) => out.error(&e.to_string()),
        }
    })
}

/// `POST /images/{name}/push?tag=TAG`: docker's JSON messages, the last
/// one's `aux` the digest.
pub async fn push(call: &Call, name: &str) -> Answer {
    use tinydocker_registry::push::{PushOptions, PushProgress};
    let reference = match call.query.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) => format!("{name}:{tag}"),
        None => name.to_string(),
    };
    let transport = transport()?;
    let credentials = call.registry_credentials()?;
    let engine = call.engine.clone();
    let repo = name.to_string();
    progress_stream(move |out| {
        let store = match engine.images() {
            Ok(store) => store,
            Err(e) => return out.error(&e.one_line()),
        };
        out.status(None, &format!("The push refers to repository [{repo}]"));
        let report = |layer: &str, p: PushProgress| {
            let text = match p {
                PushProgress::Preparing => "Preparing".to_string(),
                PushProgress::AlreadyExists => "Layer already exists".to_string(),
                PushProgress::Mounted(from) => format!("Mounted from {from}"),
                PushProgress::Pushed => "Pushed".to_string(),
            };
            out.status(Some(layer), &text);
        };
        let options = PushOptions {
            transport,
            credentials,
            ..PushOptions::default()
        };
        match tinydocker_registry::push::push(&store, &reference, &options, &report) {
            Ok(pushed) => {
                engine.image_reference_event("push", &reference);
                out.status(
                    None,
                    &format!(
                        "{}: digest: {} size: {}",
                        pushed.tag, pushed.digest, pushed.size
                    ),
                );
                out.send(json!({
                    "progressDetail": {},
                    "aux": { "Tag": pushed.tag, "Digest": pushed.digest, "Size": pushed.size },
                }));
            }
            Err(e) => out.error(&e.to_string()),
        }
    })
}

/// A writer into a body channel, from a blocking task.
struct ChannelWriter(tokio::sync::mpsc::Sender<bytes::Bytes>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(bytes::Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `GET /images/get?names=...` and `/images/{name}/get`: the archive
/// `save` writes, streamed. Every name is checked before the answer
/// starts, so a missing one is a 404, not a cut-off archive.
pub async fn get(call: &Call, names: Vec<&str>) -> Answer {
    let names: Vec<String> = names.into_iter().map(String::from).collect();
    if names.is_empty() {
        return Err(ApiError::bad_request("no image named"));
    }
    let store = call.blocking(|engine| Ok(engine.images()?)).await?;
    for name in &names {
        store
            .resolve(name)
            .map_err(|_| ApiError::not_found(format!("No such image: {name}")))?;
    }
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let engine = call.engine.clone();
    tokio::task::spawn_blocking(move || {
        let out = std::io::BufWriter::with_capacity(1 << 16, ChannelWriter(tx));
        if tinydocker_registry::archive::save(&store, &names, out).is_ok() {
            crate::commands::saved_events(&engine, &store, &names);
        }
    });
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(super::streamed(rx))
        .expect("a response of valid parts"))
}

/// `POST /images/load`: the body an archive; `{"stream": "Loaded image:
/// ..."}` lines.
pub async fn load(call: &Call) -> Answer {
    let body = call.body.clone();
    let loaded = call
        .blocking(move |engine| {
            let loaded = tinydocker_registry::archive::load(&engine.images()?, &body[..])
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            for image in &loaded {
                engine.image_event("load", &image.id, &image.id);
            }
            Ok(loaded)
        })
        .await?;
    let mut text = String::new();
    for image in loaded {
        if image.names.is_empty() {
            text.push_str(
                &json!({ "stream": format!("Loaded image ID: {}\n", image.id) }).to_string(),
            );
            text.push_str("\r\n");
        }
        for name in image.names {
            text.push_str(&json!({ "stream": format!("Loaded image: {name}\n") }).to_string());
            text.push_str("\r\n");
        }
    }
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(super::full(text))
        .expect("a response of valid parts"))
}

/// `POST /images/create?fromSrc=-&repo=R&tag=T&changes=...`: the body, a
/// tarball (plain or gzip), imported as `tinydocker import -c` does; the
/// image's id as docker's one status message.
async fn import(call: &Call, source: &str) -> Answer {
    if source != "-" {
        return Err(ApiError::bad_request(format!(
            "fromSrc={source}: tinydocker does not download archives to import; send the archive as the request's body (fromSrc=-)"
        )));
    }
    let reference = match (call.query.get("repo"), call.query.get("tag")) {
        (None | Some(""), _) => None,
        (Some(repo), None | Some("")) => Some(repo.to_string()),
        (Some(repo), Some(tag)) => Some(format!("{repo}:{tag}")),
    };
    let changes: Vec<String> = call
        .query
        .all("changes")
        .into_iter()
        .map(String::from)
        .collect();
    let body = call.body.clone();
    let image = call
        .blocking(move |engine| {
            // The store imports from a file: the body goes to one in the
            // state root first, removed when done.
            let failed = |e: std::io::Error| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("store the archive: {e}"),
                )
            };
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = engine
                .root()
                .join(format!(".import-{}-{n}.tar", std::process::id()));
            let _remove = super::RemoveOnDrop(path.clone());
            std::fs::create_dir_all(engine.root())
                .and_then(|()| std::fs::write(&path, &body))
                .map_err(failed)?;
            crate::commands::import_image(engine, &path, reference.as_deref(), &changes)
                .map_err(|e| ApiError::bad_request(crate::errors::one_line(&e)))
        })
        .await?;
    let text = json!({ "status": image.id }).to_string() + "\r\n";
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(super::full(text))
        .expect("a response of valid parts"))
}

/// `POST /images/prune?filters={"dangling":["false"]}`: the images no
/// container uses, without a name (every one with dangling=false).
pub async fn prune(call: &Call) -> Answer {
    let mut all = false;
    for (key, value) in super::containers::filters(call)? {
        match (key.as_str(), value.as_str()) {
            ("dangling", "false" | "0") => all = true,
            ("dangling", "true" | "1") => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid filter '{key}={value}' (tinydocker prunes images by dangling= only)"
                )))
            }
        }
    }
    let removed = call
        .blocking(move |engine| Ok(engine.prune_images(all)?))
        .await?;
    let deleted: Vec<Value> = removed
        .iter()
        .flat_map(|r| {
            r.untagged
                .iter()
                .map(|n| json!({ "Untagged": n }))
                .chain([json!({ "Deleted": r.image.id })])
        })
        .collect();
    let reclaimed: u64 = removed.iter().map(|r| r.image.size).sum();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            // docker's empty list is null.
            "ImagesDeleted": (!deleted.is_empty()).then_some(deleted),
            "SpaceReclaimed": reclaimed,
        }),
    ))
}

/// `POST /build`: not served.
pub async fn build(_call: &Call) -> Answer {
    Err(ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "tinydocker does not build images: use buildah",
    ))
}
