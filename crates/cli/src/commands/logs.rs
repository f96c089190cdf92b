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
use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::LogsArgs;
use crate::logs::{format_time, parse_tail, parse_time, Entry, LogReader, Stream, LOG_FILE};
use crate::process::Process;
use crate::state::{now_nanos, Container, Observed, Root, Watch};

pub fn logs(root: &Root, args: LogsArgs) -> Result<i32> {
    let tail = parse_tail(&args.tail).map_err(anyhow::Error::msg)?;
    let now = now_nanos();
    let time = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|t| parse_time(flag, t, now))
            .transpose()
            .map_err(anyhow::Error::msg)
    };
    let window = Window {
        since: time("--since", &args.since)?,
        until: time("--until", &args.until)?,
    };
    let container = root.find(&args.container)?;
    let mut out = Output {
        timestamps: args.timestamps,
        stream: Stream::Stdout,
        buf: Vec::new(),
    };
    let result = if args.follow {
        follow(root, &container, tail, &window, &mut out)
    } else {
        print_log(&container.dir.join(LOG_FILE), tail, &window, &mut out)
    };
    match result {
        // The reader went away (`logs | head`): nothing more to do.
        Err(e) if is_broken_pipe(&e) => Ok(0),
        Err(e) => Err(e),
        Ok(()) => Ok(0),
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// `--since` and `--until`, both inclusive, as docker has them.
struct Window {
    since: Option<u128>,
    until: Option<u128>,
}

impl Window {
    fn contains(&self, time: u128) -> bool {
        self.since.map_or(true, |s| time >= s) && self.until.map_or(true, |u| time <= u)
    }
}

/// Print every entry the reader has not read yet.
fn print_new(reader: &mut LogReader, path: &Path, window: &Window, out: &mut Output) -> Result<()> {
    let mut write_error = None;
    let read = reader.read_new(|entry| {
        if !window.contains(entry.time) {
            return Ok(());
        }
        out.entry(&entry).map_err(|e| {
            // Stops the reading; reported as what it is below.
            let kind = e.kind();
            write_error = Some(e);
            io::Error::from(kind)
        })
    });
    if let Some(e) = write_error {
        return Err(e).context("write the log out");
    }
    read.with_context(|| format!("read {}", path.display()))?;
    out.flush().context("write the log out")
}

/// The log as it is now (a container that never ran detached has none:
/// nothing to print).
fn print_log(path: &Path, tail: Option<usize>, window: &Window, out: &mut Output) -> Result<()> {
    let Some(mut reader) = open(path, tail)? else {
        return Ok(());
    };
    print_new(&mut reader, path, window, out)
}

fn open(path: &Path, tail: Option<usize>) -> Result<Option<LogReader>> {
    let reader = LogReader::open(path).with_context(|| format!("open {}", path.display()))?;
    let Some(mut reader) = reader else {
        return Ok(None);
    };
    if let Some(n) = tail {
        reader
            .tail(n)
            .with_context(|| format!("read {}", path.display()))?;
    }
    Ok(Some(reader))
}

/// The processes whose life keeps the log growing: the container's init
/// while it runs, and the runtime that supervises it, which drains the
/// container's output into the log and records the exit after the init
/// has gone.
fn writers(c: &Container) -> [Option<Process>; 2] {
    let init = match c.observe() {
        Observed::Running { .. } => Process::open(c.state.pid, c.state.pid_start),
        _ => None,
    };
    [
        init,
        Process::open(c.state.runtime_pid, c.state.runtime_start),
    ]
}

fn follow(
    root: &Root,
    container: &Container,
    tail: Option<usize>,
    window: &Window,
    out: &mut Output,
) -> Result<()> {
    let id = &container.config.id;
    let path = container.dir.join(LOG_FILE);
    // Watching starts before the first look at the log and the record:
    // whatever changes after that look wakes the poll below.
    let watch = Watch::new(&container.dir)?;
    let mut reader = open(&path, tail)?;
    loop {
        // The record before the log: when it shows nothing left that could
        // write, the log read after it is complete. Removed: the same.
        let writers = match root.find(id) {
            Ok(current) => writers(&current),
            Err(_) => [None, None],
        };
        if reader.is_none() {
            // Created after we started: all of it is new, no --tail.
            reader = open(&path, None)?;
        }
        if let Some(reader) = &mut reader {
            print_new(reader, &path, window, out)?;
        }
        if writers.iter().all(Option::is_none) {
            return Ok(());
        }
        // Until --until has passed, if given.
        let timeout_ms = match window.until {
            None => -1,
            Some(until) => {
                let now = now_nanos();
                if now > until {
                    return Ok(());
                }
                ((until - now).div_ceil(1_000_000)).min(i32::MAX as u128) as i32
            }
        };
        let pollfd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let raw = |p: &Option<Process>| p.as_ref().map_or(-1, Process::as_raw_fd);
        let mut fds = [
            pollfd(watch.as_raw_fd()),
            pollfd(raw(&writers[0])),
            pollfd(raw(&writers[1])),
        ];
        // SAFETY: poll on a valid array; negative fds are skipped.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err).context("poll");
            }
        } else if fds[0].revents != 0 {
            watch.drain();
        }
    }
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
    fn entry(&mut self, entry: &Entry) -> io::Result<()> {
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
