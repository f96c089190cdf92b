//! Attaching to a container (`attach`, and `run` through docker's API,
//! which attaches before it starts the container): its output from the
//! moment of attaching until the run ends.
//!
//! The output is the container's log followed as `logs -f` follows it,
//! from where the log ended when the attach began (or from its start with
//! `logs`): so nothing written between a start and the attacher's first
//! read is missed, whoever started the container and however soon it
//! wrote. A container that is not running yet (created, or stopped) is
//! waited for until a run begins. The waits are `poll(2)` on an inotify
//! watch of the container's directory and on pidfds, as the log's.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use crate::error::{Error, Result};
use crate::logs::{open, writers, Entry, LogReader, LOG_FILE};
use crate::store::{readable, Container, Observed, Watch};
use crate::Engine;

/// Hand the container's output (see the module's documentation) to
/// `each` until its run ends, or until `cancel` (a client that went)
/// becomes readable.
pub(crate) fn output(
    engine: &Engine,
    key: &str,
    logs: bool,
    cancel: Option<BorrowedFd<'_>>,
    each: &mut dyn FnMut(&Entry) -> io::Result<()>,
) -> Result<()> {
    let first = engine.store.find(key)?;
    let id = first.config.id.clone();
    let path = first.dir.join(LOG_FILE);
    // Set before the log and the record are read: no change after the
    // reads is missed.
    let watch = Watch::new(&first.dir)?;
    let mut reader = open(&path, (!logs).then_some(0))?;
    // A run that begins after the attach: running now, or started since.
    let began = |c: &Container| {
        matches!(
            c.observe(),
            Observed::Running { .. } | Observed::Restarting { .. }
        ) || c.state.started_at != first.state.started_at
    };
    let mut running = false;
    loop {
        let Ok(c) = engine.store.find(&id) else {
            // Removed (`--rm`): what it wrote before is in nothing now.
            return Ok(());
        };
        running = running || began(&c);
        // The record before the log: when it shows nothing left that
        // could write, the log read after it is complete.
        let writers = if running { writers(&c) } else { [None, None] };
        if reader.is_none() {
            // Made after the attach began: all of it is new.
            reader = open(&path, None)?;
        }
        if let Some(reader) = &mut reader {
            pass_new(reader, &path, each)?;
        }
        if running && writers.iter().all(Option::is_none) {
            return Ok(());
        }
        let [changed, .., cancelled] = readable(
            [
                Some(watch.as_fd()),
                writers[0].as_ref().map(|p| p.as_fd()),
                writers[1].as_ref().map(|p| p.as_fd()),
                cancel,
            ],
            None,
        )?;
        if cancelled {
            return Ok(());
        }
        if changed {
            watch.drain();
        }
    }
}

/// Every entry the reader has not passed on yet.
fn pass_new(
    reader: &mut LogReader,
    path: &std::path::Path,
    each: &mut dyn FnMut(&Entry) -> io::Result<()>,
) -> Result<()> {
    let mut write_error = None;
    let read = reader.read_new(|entry| {
        each(&entry).map_err(|e| {
            let kind = e.kind();
            write_error = Some(e);
            io::Error::from(kind)
        })
    });
    if let Some(e) = write_error {
        return Err(Error::sys("pass the output on", e));
    }
    read.map_err(|e| Error::io("read", path, e))
}
