//! `/containers/...`.

use hyper::StatusCode;
use serde_json::{json, Value};
use tinydocker_engine::{Container, Observed, WaitCondition};

use super::{json_response, Answer, ApiError, Call};

/// docker's `filters` query: `{"label":["a=b"],"status":["running"]}`
/// (older clients send `{"label":{"a=b":true}}`).
pub fn filters(call: &Call) -> Result<Vec<(String, String)>, ApiError> {
    let Some(text) = call.query.get("filters").filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("invalid filters: {e}")))?;
    let Some(map) = value.as_object() else {
        return Err(ApiError::bad_request("invalid filters: not an object"));
    };
    let mut out = Vec::new();
    for (key, values) in map {
        match values {
            Value::Array(items) => {
                for v in items {
                    out.push((key.clone(), v.as_str().unwrap_or_default().to_string()));
                }
            }
            Value::Object(items) => {
                for (v, on) in items {
                    if on.as_bool().unwrap_or(false) {
                        out.push((key.clone(), v.clone()));
                    }
                }
            }
            _ => return Err(ApiError::bad_request(format!("invalid filter {key:?}"))),
        }
    }
    Ok(out)
}

/// Whether a container passes every filter (values of one key: any).
fn passes(c: &Container, o: Observed, filters: &[(String, String)]) -> Result<bool, ApiError> {
    let mut keys: Vec<&str> = filters.iter().map(|(k, _)| k.as_str()).collect();
    keys.dedup();
    for key in keys {
        let values = filters
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str());
        let any = match key {
            "label" => c
                .config
                .meta
                .has_labels(&values.map(String::from).collect::<Vec<_>>()),
            "status" => values.clone().any(|v| v == o.status_word()),
            "name" => values.clone().any(|v| c.config.name.contains(v)),
            "id" => values.clone().any(|v| c.config.id.starts_with(v)),
            "ancestor" => values
                .clone()
                .any(|v| c.config.image == v || c.config.image_id.contains(v)),
            other => return Err(ApiError::bad_request(format!("invalid filter '{other}'"))),
        };
        if !any {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A container's summary with docker's `SizeRw` and `SizeRootFs`.
pub(super) fn with_sizes(mut summary: Value, rw: u64, root_fs: u64) -> Value {
    summary["SizeRw"] = json!(rw);
    summary["SizeRootFs"] = json!(root_fs);
    summary
}

/// A container as `GET /containers/json` lists it.
pub(super) fn summary(c: &Container, o: Observed) -> Value {
    let ports: Vec<Value> = c
        .state
        .net
        .iter()
        .flat_map(|n| n.ports.iter())
        .map(|p| {
            json!({
                "IP": p.host_ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED).to_string(),
                "PrivatePort": p.container_port,
                "PublicPort": p.host_port,
                "Type": p.proto.to_string(),
            })
        })
        .collect();
    json!({
        "Id": c.config.id,
        "Names": [format!("/{}", c.config.name)],
        "Image": c.config.image,
        "ImageID": c.config.image_id,
        "Command": c.args().join(" "),
        "Created": c.config.created / 1_000_000_000,
        "Ports": ports,
        "Labels": c.config.meta.labels,
        "State": crate::commands::state_word(c, o),
        "Status": crate::commands::status_text(o, c.state.paused),
        "HostConfig": { "NetworkMode": c.config.origin.network_mode },
        "NetworkSettings": { "Networks": {} },
        "Mounts": [],
    })
}

pub async fn list(call: &Call) -> Answer {
    let all = call.query.flag("all");
    let limit: Option<usize> = match call.query.get("limit") {
        Some(l) if !l.is_empty() => Some(
            l.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?
                .max(0) as usize,
        )
        .filter(|n| *n > 0),
        _ => None,
    };
    let filters = filters(call)?;
    let size = call.query.flag("size");
    let rows = call
        .blocking(move |engine| {
            // With `size`: each image's size, for SizeRootFs.
            let image_sizes: Vec<(String, u64)> = match size {
                true => engine
                    .images()?
                    .list()?
                    .into_iter()
                    .map(|i| (i.id, i.size))
                    .collect(),
                false => Vec::new(),
            };
            let mut failed = None;
            let rows = engine.containers_map(|c| {
                let o = c.observe();
                if !(all || limit.is_some() || matches!(o, Observed::Running { .. })) {
                    return None;
                }
                match passes(&c, o, &filters) {
                    Ok(true) if size => {
                        let rw = engine.container_size(&c);
                        let image = image_sizes
                            .iter()
                            .find(|(id, _)| *id == c.config.image_id)
                            .map_or(0, |(_, s)| *s);
                        Some(with_sizes(summary(&c, o), rw, rw + image))
                    }
                    Ok(true) => Some(summary(&c, o)),
                    Ok(false) => None,
                    Err(e) => {
                        failed = Some(e);
                        None
                    }
                }
            })?;
            match failed {
                Some(e) => Err(e),
                None => Ok(rows),
            }
        })
        .await?;
    let rows: Vec<Value> = match limit {
        Some(n) => rows.into_iter().take(n).collect(),
        None => rows,
    };
    Ok(json_response(StatusCode::OK, &Value::Array(rows)))
}

pub async fn inspect(call: &Call, id: &str) -> Answer {
    let id = id.to_string();
    let value = call
        .blocking(move |engine| {
            let c = engine
                .container(&id)
                .map_err(|_| ApiError::not_found(format!("No such container: {id}")))?;
            crate::commands::container_json(&c)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &value))
}

/// `POST /containers/{id}/{action}`: start, stop, restart, kill, wait,
/// pause, unpause.
pub async fn act(call: &Call, id: &str, action: &str) -> Answer {
    let key = id.to_string();
    let seconds = |name: &str| -> Result<Option<std::time::Duration>, ApiError> {
        match call.query.get(name).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => t
                .parse::<i64>()
                .map(|s| Some(std::time::Duration::from_secs(s.max(0) as u64)))
                .map_err(|_| ApiError::bad_request(format!("invalid {name} {t:?}"))),
        }
    };
    let no_content = || super::empty(StatusCode::NO_CONTENT);
    let not_modified = || super::empty(StatusCode::NOT_MODIFIED);
    match action {
        "start" => {
            let started = call
                .blocking(move |engine| {
                    let c = find(engine, &key)?;
                    if matches!(c.observe(), Observed::Running { .. }) {
                        return Ok(false);
                    }
                    engine.start(&key)?;
                    Ok(true)
                })
                .await?;
            Ok(if started {
                no_content()
            } else {
                not_modified()
            })
        }
        "stop" | "restart" => {
            let grace = seconds("t")?;
            let restart = action == "restart";
            let changed = call
                .blocking(move |engine| {
                    let c = find(engine, &key)?;
                    if restart {
                        engine.restart(&key, grace)?;
                        return Ok(true);
                    }
                    if !matches!(c.observe(), Observed::Running { .. }) {
                        return Ok(false);
                    }
                    engine.stop(std::slice::from_ref(&key), None, grace, |_| {})?;
                    Ok(true)
                })
                .await?;
            Ok(if changed {
                no_content()
            } else {
                not_modified()
            })
        }
        "kill" => {
            let signal = call
                .query
                .get("signal")
                .filter(|s| !s.is_empty())
                .unwrap_or("KILL");
            let signal = tinydocker_engine::parse_signal(signal)
                .map_err(|e| ApiError::bad_request(e.one_line()))?;
            call.blocking(move |engine| {
                let c = find(engine, &key)?;
                if !matches!(c.observe(), Observed::Running { .. }) {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!("Container {key} is not running"),
                    ));
                }
                Ok(engine.kill(&key, signal)?)
            })
            .await?;
            Ok(no_content())
        }
        "pause" | "unpause" => {
            let pause = action == "pause";
            call.blocking(move |engine| {
                find(engine, &key)?;
                if pause {
                    Ok(engine.pause(&key)?)
                } else {
                    Ok(engine.resume(&key)?)
                }
            })
            .await?;
            Ok(no_content())
        }
        "wait" => wait(call, key).await,
        "rename" => {
            let name = call
                .query
                .get("name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ApiError::bad_request("name is required"))?
                .to_string();
            call.blocking(move |engine| {
                find(engine, &key)?;
                engine.rename(&key, &name).map_err(|e| {
                    let text = e.one_line();
                    let status = if text.contains("already in use") {
                        StatusCode::CONFLICT
                    } else {
                        StatusCode::BAD_REQUEST
                    };
                    ApiError::new(status, text)
                })
            })
            .await?;
            Ok(no_content())
        }
        other => Err(ApiError::not_found(format!(
            "page not found: POST /containers/{id}/{other}"
        ))),
    }
}

/// A container by name, id or prefix; docker's 404 otherwise.
pub(super) fn find(engine: &tinydocker_engine::Engine, key: &str) -> Result<Container, ApiError> {
    engine
        .container(key)
        .map_err(|_| ApiError::not_found(format!("No such container: {key}")))
}

/// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`:
/// the status line is sent at once and the body when the container stops,
/// as docker does (its client reads the headers before it starts the
/// container).
async fn wait(call: &Call, key: String) -> Answer {
    let text = call
        .query
        .get("condition")
        .filter(|c| !c.is_empty())
        .unwrap_or("not-running");
    let condition = WaitCondition::parse(text)
        .ok_or_else(|| ApiError::bad_request(format!("invalid condition: {text:?}")))?;
    // Begun before the answer's status line goes: docker's client starts
    // the container once it has it, and that start's run must count.
    let waiting = call
        .blocking(move |engine| {
            find(engine, &key)?;
            Ok(engine.wait_begin(&key, condition)?)
        })
        .await?;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::task::spawn_blocking(move || {
        let code = waiting.wait().map_err(|e| e.one_line());
        let body = match code {
            Ok(code) => json!({ "StatusCode": code, "Error": null }),
            Err(e) => json!({ "StatusCode": -1, "Error": { "Message": e } }),
        };
        let _ = tx.blocking_send(bytes::Bytes::from(body.to_string() + "\n"));
    });
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(super::streamed(rx))
        .expect("a response of valid parts"))
}

/// `DELETE /containers/{id}?force=1&v=1`.
pub async fn remove(call: &Call, id: &str) -> Answer {
    let key = id.to_string();
    let (force, volumes) = (call.query.flag("force"), call.query.flag("v"));
    call.blocking(move |engine| {
        let c = find(engine, &key)?;
        if !force && matches!(c.observe(), Observed::Running { .. }) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("You cannot remove a running container {}. Stop the container before attempting removal or force remove", c.config.id),
            ));
        }
        if volumes {
            Ok(engine.remove_with_volumes(&key, force)?)
        } else {
            Ok(engine.remove(&key, force)?)
        }
    })
    .await?;
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/prune`.
pub async fn prune(call: &Call) -> Answer {
    let pruned = call.blocking(|engine| Ok(engine.prune()?)).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "ContainersDeleted": pruned.removed, "SpaceReclaimed": pruned.reclaimed }),
    ))
}

/// `GET /containers/{id}/logs`: docker's multiplexed frames (an 8-byte
/// header: the stream, 0 0 0, the length big-endian), or the raw bytes
/// for a container with a terminal.
pub async fn logs(call: &Call, id: &str) -> Answer {
    use tinydocker_engine::logs::{format_time, parse_tail};
    use tinydocker_engine::{LogOptions, Stream};
    let key = id.to_string();
    let (stdout, stderr) = (call.query.flag("stdout"), call.query.flag("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let now = tinydocker_engine::now_nanos();
    // docker's clients send 0 for "not given".
    let time = |name: &str| match call.query.get(name) {
        Some("0") => Ok(None),
        _ => call.query.time(name, now),
    };
    let options = LogOptions {
        follow: call.query.flag("follow"),
        tail: match call.query.get("tail").filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => parse_tail(t).map_err(|e| ApiError::bad_request(e.one_line()))?,
        },
        since: time("since")?,
        until: time("until")?,
    };
    let timestamps = call.query.flag("timestamps");
    let tty = call
        .blocking({
            let key = key.clone();
            move |engine| {
                let c = find(engine, &key)?;
                Ok(c.spec().ok().is_some_and(|s| {
                    s.process()
                        .as_ref()
                        .and_then(|p| p.terminal())
                        .unwrap_or(false)
                }))
            }
        })
        .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let engine = call.engine.clone();
    tokio::task::spawn_blocking(move || {
        let gone = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went");
        let _ = engine.logs(
            &key,
            &options,
            &mut |entry| {
                let wanted = match entry.stream {
                    Stream::Stdout => stdout,
                    Stream::Stderr => stderr,
                };
                if !wanted {
                    return Ok(());
                }
                let mut payload = Vec::new();
                if timestamps {
                    payload.extend_from_slice(format_time(entry.time).as_bytes());
                    payload.push(b' ');
                }
                payload.extend_from_slice(entry.log.as_bytes());
                let frame = if tty {
                    payload
                } else {
                    super::stream::frame(stream_number(entry.stream), &payload)
                };
                tx.blocking_send(bytes::Bytes::from(frame))
                    .map_err(|_| gone())
            },
            &mut || Ok(()),
        );
    });
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", content_type)
        .body(super::streamed(rx))
        .expect("a response of valid parts"))
}

/// A log stream's number in docker's multiplexed frames.
pub fn stream_number(stream: tinydocker_engine::Stream) -> u8 {
    match stream {
        tinydocker_engine::Stream::Stdout => super::stream::STDOUT,
        tinydocker_engine::Stream::Stderr => super::stream::STDERR,
    }
}

/// The host's CPU time in nanoseconds (the `cpu` line of /proc/stat), as
/// docker's `system_cpu_usage`.
fn system_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * (1_000_000_000 / hz)
}

/// One reading: the cgroup's figures, the host's CPU time, when.
struct Reading {
    sample: tinydocker_engine::Sample,
    system: u64,
    at: u128,
}

fn read(engine: &tinydocker_engine::Engine, key: &str) -> Result<(Container, Reading), ApiError> {
    let c = find(engine, key)?;
    let sample = engine.sample(&c);
    Ok((
        c,
        Reading {
            sample,
            system: system_cpu_ns(),
            at: tinydocker_engine::now_nanos(),
        },
    ))
}

/// docker's stats JSON from a reading and the one before.
fn stats_json(c: &Container, now: &Reading, pre: Option<&Reading>) -> Value {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = |r: Option<&Reading>| match r {
        Some(r) => {
            let s = r.sample.stats.as_ref();
            json!({
                "cpu_usage": {
                    "total_usage": s.map_or(0, |s| s.cpu_usage_ns),
                    "usage_in_kernelmode": 0,
                    "usage_in_usermode": 0,
                },
                "system_cpu_usage": r.system,
                "online_cpus": cpus,
                "throttling_data": {
                    "periods": s.map_or(0, |s| s.nr_periods),
                    "throttled_periods": s.map_or(0, |s| s.nr_throttled),
                    "throttled_time": s.map_or(0, |s| s.throttled_ns),
                },
            })
        }
        None => json!({ "cpu_usage": { "total_usage": 0 }, "throttling_data": {} }),
    };
    let s = now.sample.stats.as_ref();
    let host = tinydocker_engine::host_memory();
    json!({
        "read": crate::human::rfc3339(now.at),
        "preread": pre.map_or("0001-01-01T00:00:00Z".to_string(), |p| crate::human::rfc3339(p.at)),
        "id": c.config.id,
        "name": format!("/{}", c.config.name),
        "num_procs": 0,
        "pids_stats": {
            "current": s.map_or(0, |s| s.pids_current),
            "limit": s.and_then(|s| s.pids_limit).unwrap_or(0),
        },
        "blkio_stats": {
            "io_service_bytes_recursive": [
                { "major": 0, "minor": 0, "op": "Read", "value": s.map_or(0, |s| s.block_read) },
                { "major": 0, "minor": 0, "op": "Write", "value": s.map_or(0, |s| s.block_write) },
            ],
        },
        "cpu_stats": cpu(Some(now)),
        "precpu_stats": cpu(pre),
        "memory_stats": {
            "usage": s.map_or(0, |s| s.memory_usage),
            "limit": s.and_then(|s| s.memory_limit).unwrap_or(host).min(host),
            "stats": {},
        },
        "networks": {
            "eth0": {
                "rx_bytes": now.sample.net.0,
                "tx_bytes": now.sample.net.1,
                "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
                "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0,
            },
        },
    })
}

/// `GET /containers/{id}/stats?stream=0|1&one-shot=0|1`: a reading a
/// second, the previous one's figures as `precpu_stats` (docker's CPU %
/// is their difference); `stream=0` answers one reading a second after a
/// first (at once with `one-shot`).
pub async fn stats(call: &Call, id: &str) -> Answer {
    let key = id.to_string();
    let stream = call
        .query
        .get("stream")
        .is_none_or(|s| s != "0" && s != "false");
    let one_shot = call.query.flag("one-shot");
    call.blocking({
        let key = key.clone();
        move |engine| find(engine, &key).map(drop)
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(2);
    let engine = call.engine.clone();
    tokio::task::spawn_blocking(move || {
        let mut pre: Option<Reading> = None;
        loop {
            let Ok((c, now)) = read(&engine, &key) else {
                return;
            };
            if pre.is_some() || one_shot || stream {
                let value = stats_json(&c, &now, pre.as_ref());
                if tx
                    .blocking_send(bytes::Bytes::from(value.to_string() + "\n"))
                    .is_err()
                {
                    return;
                }
                if !stream {
                    return;
                }
            }
            if !matches!(c.observe(), Observed::Running { .. }) && pre.is_some() {
                return;
            }
            pre = Some(now);
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    });
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(super::streamed(rx))
        .expect("a response of valid parts"))
}

/// `GET /containers/{id}/top?ps_args=...`: `{"Titles", "Processes"}`.
pub async fn top(call: &Call, id: &str) -> Answer {
    let key = id.to_string();
    let ps_args: Vec<String> = call
        .query
        .get("ps_args")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let (titles, rows) = call
        .blocking(move |engine| {
            find(engine, &key)?;
            crate::commands::top(engine, &key, &ps_args).map_err(|e| {
                let text = e.to_string();
                let status = if text.contains("is not running") {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                ApiError::new(status, text)
            })
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "Titles": titles, "Processes": rows }),
    ))
}
