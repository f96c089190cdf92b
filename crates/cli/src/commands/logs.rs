//! `tinydocker logs [-f] [--tail N|all] [-t] [--since T] [--until T]
//! CONTAINER`: a container's output from its log, stdout entries to stdout
//! and stderr entries to stderr, byte for byte as logged.
//!
//! `-f` keeps printing what is appended until the container has stopped
//! for good. It sleeps in `poll(2)` on an `inotify(7)` watch of the
//! container's directory (the log grows, the record is replaced, the
//! directory goes away) and on the pidfds of the container's init and of
//! the runtime that supervises it (the one that writes the log and records
//! the exit), so it also ends when either dies without a word.

use std::io::{self, Write};

use anyhow::Result;
use tinydocker_engine::logs::{format_time, parse_tail, parse_time};
use tinydocker_engine::{now_nanos, Engine, LogEntry, LogOptions, Stream};

use crate::cli::LogsArgs;

/// `--since` or `--until` (of `logs` and `events`): RFC 3339, Unix
/// seconds or a duration before `now`.
pub(crate) fn time_flag(
    flag: &str,
    value: &Option<String>,
    now: u128,
) -> tinydocker_engine::Result<Option<u128>> {
    value
        .as_deref()
        .map(|t| parse_time(flag, t, now))
        .transpose()
}

pub fn logs(engine: &Engine, args: LogsArgs) -> Result<i32> {
    let now = now_nanos();
    let options = LogOptions {
        follow: args.follow,
        tail: parse_tail(&args.tail)?,
        since: time_flag("--since", &args.since, now)?,
        until: time_flag("--until", &args.until, now)?,
    };
    let out = std::cell::RefCell::new(Output {
        timestamps: args.timestamps,
        stream: Stream::Stdout,
        buf: Vec::new(),
    });
    let result = engine.logs(
        &args.container,
        &options,
        &mut |entry| out.borrow_mut().entry(entry),
        &mut || out.borrow_mut().flush(),
    );
    match result {
        // The reader went away (`logs | head`): nothing more to do.
        Err(e) if is_broken_pipe(&e) => Ok(0),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(0),
    }
}

pub(super) fn is_broken_pipe(err: &tinydocker_engine::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Entries to stdout and stderr, in their order: a stream's buffer is
/// written out before the other stream's next entry.
struct Output {
    timestamps: bool,
    /// The stream of what is in `buf`.
    stream: Stream,
    buf: Vec<u8>,
}

impl Output {
    fn entry(&mut self, entry: &LogEntry) -> io::Result<()> {
        if entry.stream != self.stream {
            self.flush()?;
            self.stream = entry.stream;
        }
        if self.timestamps {
            self.buf
                .extend_from_slice(format_time(entry.time).as_bytes());
            self.buf.push(b' ');
        }
        self.buf.extend_from_slice(entry.log.as_bytes());
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        match self.stream {
            Stream::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(&self.buf)?;
                out.flush()?;
            }
            Stream::Stderr => io::stderr().lock().write_all(&self.buf)?,
        }
        self.buf.clear();
        Ok(())
    }
}
