//! `POST /containers/{id}/attach` (hijacked: the container's output from
//! now on, or with `logs=1` its log first, until its run ends; the
//! client's bytes to its stdin) and `POST /containers/{id}/resize`.
//!
//! Both are the engine's: [`tinydocker_engine::Engine::attach`] follows
//! the container's log (it waits for a container that has not started,
//! as `docker run` attaches before it starts one), and
//! [`tinydocker_engine::Engine::attach_stdin`] takes its stdin or its
//! terminal from its supervisor.

use std::os::fd::AsFd;

use hyper::StatusCode;
use tinydocker_engine::{Container, Stream};

use super::containers::stream_number;
use super::stream::{self, AsyncPipe};
use super::{Answer, ApiError, Call};

/// The container, whether it has a terminal, and whether it keeps a stdin
/// (`OpenStdin`).
async fn find(call: &Call, id: &str) -> Result<(Container, bool), ApiError> {
    let key = id.to_string();
    call.blocking(move |engine| {
        let c = engine
            .container(&key)
            .map_err(|_| ApiError::not_found(format!("No such container: {key}")))?;
        let tty = c.spec().is_ok_and(tinydocker_engine::spec::terminal);
        Ok((c, tty))
    })
    .await
}

pub async fn attach(call: &Call, id: &str) -> Answer {
    let (container, tty) = find(call, id).await?;
    let q = &call.query;
    let (stdout, stderr) = (q.flag("stdout"), q.flag("stderr"));
    let stdin = q.flag("stdin") && container.config.interactive;
    let logs = q.flag("logs");
    let follow = q.get("stream").is_none() || q.flag("stream");
    let hijack = stream::hijack(call, tty, stdin);
    let sink = hijack.output;
    let (cancel, ended) = stream::cancel_on_close(&sink.tx)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let key = container.config.id.clone();
    if let Some(input) = hijack.input {
        let (engine, key, cancel) = (call.engine.clone(), key.clone(), cancel.clone());
        tokio::spawn(async move {
            let fd = tokio::task::spawn_blocking(move || {
                engine.attach_stdin(&key, Some(cancel.as_fd()))
            })
            .await;
            if let Ok(Ok(Some(fd))) = fd {
                if let Ok(pipe) = AsyncPipe::new(fd) {
                    stream::copy_input(input, pipe).await;
                }
            }
        });
    }
    let engine = call.engine.clone();
    tokio::task::spawn_blocking(move || {
        let _ended = ended;
        let gone = || std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let mut each = |entry: &tinydocker_engine::LogEntry| {
            let wanted = match entry.stream {
                Stream::Stdout => stdout,
                Stream::Stderr => stderr,
            };
            if wanted && !sink.blocking_send(stream_number(entry.stream), entry.log.as_bytes()) {
                return Err(gone());
            }
            Ok(())
        };
        if follow {
            let _ = engine.attach(&key, logs, Some(cancel.as_fd()), &mut each);
        } else if logs {
            let _ = engine.logs(
                &key,
                &tinydocker_engine::LogOptions::default(),
                &mut each,
                &mut || Ok(()),
            );
        }
    });
    Ok(hijack.response)
}

/// `POST /containers/{id}/resize?h=&w=`: the terminal of a container
/// that has one, through its supervisor.
pub async fn resize(call: &Call, id: &str) -> Answer {
    let size = super::exec::window_size(call)?;
    let (container, tty) = find(call, id).await?;
    let key = container.config.id.clone();
    if !matches!(
        container.observe(),
        tinydocker_engine::Observed::Running { .. }
    ) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("Container {key} is not running"),
        ));
    }
    if !tty {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Cannot resize container {key}: the container has no terminal"),
        ));
    }
    call.blocking(move |engine| {
        // Without a cancel: a running container's supervisor answers at once.
        let master = engine.attach_stdin(&key, None)?.ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                format!("Container {key} is not running"),
            )
        })?;
        tinydocker_ns::pty::set_window_size(master.as_fd(), &size)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await?;
    Ok(super::empty(StatusCode::OK))
}
