//! `GET /events?since=&until=&filters=`: the engine's events as JSON
//! objects, one a line, streamed: those recorded in the range, then new
//! ones as they come, until `until` or until the client goes.

use std::os::fd::AsFd;

use hyper::StatusCode;
use tinydocker_engine::{now_nanos, EventFilter, EventQuery};

use super::{Answer, ApiError, Call};

pub async fn events(call: &Call) -> Answer {
    let now = now_nanos();
    let query = EventQuery {
        since: call.query.time("since", now)?,
        until: call.query.time("until", now)?,
        filter: EventFilter::new(super::containers::filters(call)?)
            .map_err(|e| ApiError::bad_request(e.one_line()))?,
    };
    if let (Some(since), Some(until)) = (query.since, query.until) {
        if since > until {
            return Err(ApiError::bad_request(format!(
                "`since` time ({}) cannot be after `until` time ({})",
                call.query.get("since").unwrap_or_default(),
                call.query.get("until").unwrap_or_default()
            )));
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
    // The reader sleeps on the journal between events: a client that
    // goes must wake it, or its watch would stay until the next event.
    let (cancel, done) = super::stream::cancel_on_close(&tx)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("pipe: {e}")))?;
    let engine = call.engine.clone();
    tokio::task::spawn_blocking(move || {
        let gone = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went");
        let _ = engine.events(&query, Some(cancel.as_fd()), &mut |event| {
            let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
            line.push(b'\n');
            tx.blocking_send(bytes::Bytes::from(line))
                .map_err(|_| gone())
        });
        // Ends the watcher too, so the body ends when `tx` goes.
        drop(done);
    });
    Ok(hyper::Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .header("Api-Version", super::API_VERSION)
        .body(super::streamed(rx))
        .expect("a response of valid parts"))
}
