//! Container logs in docker's json-file format: one JSON object per line,
//!
//! ```text
//! {"log":"hello\n","stream":"stdout","time":"2026-11-28T23:41:07.123456789Z"}
//! ```
//!
//! appended to `containers/<id>/container.log` by the supervisor of a
//! detached container ([`LogWriter`]) and read back by `tinydocker logs`
//! ([`LogReader`]). Each entry reaches the file in one `write(2)` on an
//! `O_APPEND` descriptor, so a reader sees whole lines or none of the last
//! one; it only ever consumes lines that end in '\n'.
//!
//! "log" is a JSON string, so bytes that are not UTF-8 are stored as
//! U+FFFD (lossy, as docker's own encoder does): nothing is dropped and
//! nothing fails, but such bytes do not come back as they were.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::proc::now_nanos;

/// The log, in the container's directory ([`crate::Container::dir`]).
pub const LOG_FILE: &str = "container.log";

/// The longest "log" an entry holds (not counting its '\n'): a longer line
/// is stored as several entries, all but the last without '\n' (docker's
/// partial messages, at docker's 16 KiB).
pub const MAX_LINE: usize = 16 * 1024;

/// Which of the container's outputs a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The container's standard output.
    Stdout,
    /// Its standard error.
    Stderr,
}

impl Stream {
    /// "stdout" or "stderr", as the log writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

/// Appends a container's output to its log, a line per entry.
///
/// Memory stays small and bounded: at most [`MAX_LINE`] pending bytes per
/// stream plus one encoded entry, whatever the container writes.
pub struct LogWriter {
    file: File,
    /// The incomplete last line of each stream (stdout, stderr).
    pending: [Vec<u8>; 2],
    /// The entry being encoded (reused).
    entry: Vec<u8>,
    clock: fn() -> u128,
}

impl LogWriter {
    /// Open (or create, mode 0640) the log for appending.
    pub fn open(path: &Path) -> io::Result<LogWriter> {
        let file = File::options()
            .create(true)
            .append(true)
            .mode(0o640)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)?;
        Ok(LogWriter {
            file,
            pending: [Vec::new(), Vec::new()],
            entry: Vec::new(),
            clock: now_nanos,
        })
    }

    /// Log what one read(2) of `stream` returned: an entry per complete
    /// line, the incomplete rest kept until more comes (or [`Self::finish`]).
    pub fn write(&mut self, stream: Stream, mut data: &[u8]) -> io::Result<()> {
        let i = stream.index();
        while !data.is_empty() {
            let room = MAX_LINE - self.pending[i].len();
            // A '\n' within `room` bytes ends a line that fits one entry.
            let window = &data[..data.len().min(room + 1)];
            if let Some(nl) = window.iter().position(|&b| b == b'\n') {
                let (line, rest) = data.split_at(nl + 1);
                if self.pending[i].is_empty() {
                    self.emit(stream, line)?;
                } else {
                    let mut joined = std::mem::take(&mut self.pending[i]);
                    joined.extend_from_slice(line);
                    let result = self.emit(stream, &joined);
                    joined.clear();
                    self.pending[i] = joined;
                    result?;
                }
                data = rest;
            } else if data.len() <= room {
                self.pending[i].extend_from_slice(data);
                return Ok(());
            } else {
                // The line outgrows an entry: store what fits, as a partial.
                let (head, rest) = data.split_at(room);
                self.pending[i].extend_from_slice(head);
                self.emit_pending(stream, false)?;
                data = rest;
            }
        }
        Ok(())
    }

    /// Log the incomplete last lines now, as partial entries, but for a
    /// character cut short (a terminal's prompt, which waits for input).
    pub fn flush_partial(&mut self) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let pending = &self.pending[stream.index()];
            if pending.len() > incomplete_utf8_tail(pending) {
                self.emit_pending(stream, false)?;
            }
        }
        Ok(())
    }

    /// Log the incomplete last lines (the container has exited).
    pub fn finish(&mut self) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            if !self.pending[stream.index()].is_empty() {
                self.emit_pending(stream, true)?;
            }
        }
        Ok(())
    }

    /// Write the pending bytes of `stream` as an entry without '\n'. Unless
    /// `all`, a UTF-8 character cut at the end stays pending, so that the
    /// split of a long line does not garble it.
    fn emit_pending(&mut self, stream: Stream, all: bool) -> io::Result<()> {
        let i = stream.index();
        let mut pending = std::mem::take(&mut self.pending[i]);
        let cut = if all {
            pending.len()
        } else {
            pending.len() - incomplete_utf8_tail(&pending)
        };
        let result = self.emit(stream, &pending[..cut]);
        pending.drain(..cut);
        self.pending[i] = pending;
        result
    }

    fn emit(&mut self, stream: Stream, log: &[u8]) -> io::Result<()> {
        encode_entry(&mut self.entry, stream, (self.clock)(), log);
        // One write(2): a regular file opened O_APPEND takes the whole
        // entry at once (only a full disk or a signal can cut it short,
        // and then write_all finishes the rest).
        self.file.write_all(&self.entry)
    }
}

/// How many bytes at the end of `bytes` begin a UTF-8 character that is
/// not complete there (0 to 3).
fn incomplete_utf8_tail(bytes: &[u8]) -> usize {
    for k in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - k];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back
        }
        let len = match b {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if len > k { k } else { 0 };
    }
    0
}

/// One entry, with its '\n', into `out` (cleared first).
fn encode_entry(out: &mut Vec<u8>, stream: Stream, time: u128, log: &[u8]) {
    out.clear();
    out.extend_from_slice(b"{\"log\":");
    let text = String::from_utf8_lossy(log);
    serde_json::to_writer(&mut *out, &*text).expect("a string serialises into a Vec");
    out.extend_from_slice(b",\"stream\":\"");
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(format_time(time).as_bytes());
    out.extend_from_slice(b"\"}\n");
}

/// An instant (ns since the epoch) as docker's RFC3339Nano with all nine
/// digits, in UTC: "2026-11-28T23:41:07.123456789Z".
pub fn format_time(nanos: u128) -> String {
    // rfc3339 prints 0 as Go's zero time; the epoch itself is meant here.
    if nanos == 0 {
        return "1970-01-01T00:00:00.000000000Z".into();
    }
    rfc3339(nanos)
}

/// An instant (ns since the epoch) as RFC 3339 in UTC, as docker's inspect
/// shows times: "2026-11-28T19:52:00.123456789Z". Zero is docker's zero time.
pub fn rfc3339(nanos: u128) -> String {
    if nanos == 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    let secs = (nanos / 1_000_000_000) as i64;
    let frac = (nanos % 1_000_000_000) as u32;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One entry of a log, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Which output it came from.
    pub stream: Stream,
    /// Nanoseconds since the epoch.
    pub time: u128,
    /// What was written, its '\n' included (none on a partial line).
    pub log: String,
}

#[derive(Deserialize)]
struct RawEntry {
    log: String,
    stream: String,
    time: String,
}

/// An entry from one line of the log (without or with its '\n'); None for
/// a line that is not one (the log was damaged, say, by a full disk).
pub fn parse_entry(line: &[u8]) -> Option<Entry> {
    let raw: RawEntry = serde_json::from_slice(line).ok()?;
    let stream = match raw.stream.as_str() {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    let time = parse_rfc3339(&raw.time)?.max(0) as u128;
    Some(Entry {
        stream,
        time,
        log: raw.log,
    })
}

/// A file read from an offset on, in whole lines only, so a line being
/// appended meanwhile is read once it is complete: a container's log
/// ([`LogReader`]) and the event journal's segments.
pub(crate) struct Lines {
    file: File,
    /// Where the next read starts.
    pos: u64,
    /// Read, not yet consumed: the start of an incomplete line.
    partial: Vec<u8>,
}

const READ_CHUNK: usize = 64 * 1024;

impl Lines {
    /// The file at `path` from its start; None if there is none.
    pub(crate) fn open(path: &Path) -> io::Result<Option<Lines>> {
        match File::open(path) {
            Ok(file) => Ok(Some(Lines {
                file,
                pos: 0,
                partial: Vec::new(),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Every complete line from where the last call stopped to the end of
    /// the file as it is now, without its '\n'.
    pub(crate) fn read(&mut self, mut each: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            let n = match self.file.read_at(&mut chunk, self.pos) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.pos += n as u64;
            self.partial.extend_from_slice(&chunk[..n]);
            let mut start = 0;
            while let Some(nl) = self.partial[start..].iter().position(|&b| b == b'\n') {
                each(&self.partial[start..start + nl])?;
                start += nl + 1;
            }
            self.partial.drain(..start);
        }
    }
}

/// Reads a container's log from an offset on, entry by entry (see
/// [`Lines`]).
pub struct LogReader(Lines);

impl LogReader {
    /// The log at `path` from its start; None if there is none.
    pub fn open(path: &Path) -> io::Result<Option<LogReader>> {
        Ok(Lines::open(path)?.map(LogReader))
    }

    /// Start at the last `n` complete lines (none: after the last one).
    pub fn tail(&mut self, n: usize) -> io::Result<()> {
        self.0.partial.clear();
        self.0.pos = tail_offset(&self.0.file, n)?;
        Ok(())
    }

    /// Every complete entry from where the last call stopped to the end of
    /// the file as it is now.
    pub fn read_new(&mut self, mut each: impl FnMut(Entry) -> io::Result<()>) -> io::Result<()> {
        self.0.read(|line| match parse_entry(line) {
            Some(entry) => each(entry),
            None => Ok(()),
        })
    }
}

/// The offset where the last `n` complete lines of `file` begin (after
/// the last complete line when `n` is 0), read backwards in blocks.
fn tail_offset(file: &File, n: usize) -> io::Result<u64> {
    const BLOCK: u64 = 8 * 1024;
    let mut end = file.metadata()?.len();
    let mut block = vec![0u8; BLOCK as usize];
    // The first '\n' from the end closes the last complete line; the
    // (n+1)th closes the line before the last n.
    let mut newlines = 0;
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let part = &mut block[..(end - start) as usize];
        file.read_exact_at(part, start)?;
        for (i, &b) in part.iter().enumerate().rev() {
            if b == b'\n' {
                newlines += 1;
                if newlines == n + 1 {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(0)
}

/// `--tail`: "all" (None) or a number of lines.
pub fn parse_tail(text: &str) -> Result<Option<usize>> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    match t.parse::<usize>() {
        Ok(n) if t.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
        _ => Err(Error::Invalid(format!(
            "invalid value for --tail: {text:?}: expected a number of lines (0 or more) or \"all\""
        ))),
    }
}

/// `--since`/`--until` as nanoseconds since the epoch: an RFC 3339 time
/// (`2026-01-02T15:04:05Z`, `2026-01-02T15:04:05.5+02:00`), Unix seconds
/// with an optional fraction (`1700000000.5`), or a duration before `now`
/// (`10m`, `1h30m`, `1.5h`, `45s`, `300ms`). Times before the epoch count
/// as the epoch.
pub fn parse_time(flag: &str, text: &str, now: u128) -> Result<u128> {
    let t = text.trim();
    let parsed = if t.contains(['T', 't']) && t.contains('-') {
        parse_rfc3339(t).map(|ns| ns.max(0) as u128)
    } else if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        parse_unix(t)
    } else {
        parse_duration(t).map(|d| now.saturating_sub(d))
    };
    parsed.ok_or_else(|| {
        Error::Invalid(format!(
            "invalid value for {flag}: {text:?}: expected an RFC 3339 time (2026-01-02T15:04:05Z), Unix seconds (1700000000.5) or a duration before now (10m, 1h30m)"
        ))
    })
}

/// "SECONDS[.FRACTION]" since the epoch.
fn parse_unix(t: &str) -> Option<u128> {
    let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
    if secs.is_empty() || (t.contains('.') && frac.is_empty()) {
        return None;
    }
    let secs: u128 = secs.parse().ok()?;
    Some(secs.checked_mul(1_000_000_000)? + fraction_nanos(frac)?)
}

/// The digits after a decimal point as nanoseconds (beyond nine: cut).
fn fraction_nanos(digits: &str) -> Option<u128> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0u128;
    for i in 0..9 {
        let d = digits.as_bytes().get(i).map_or(0, |b| b - b'0');
        nanos = nanos * 10 + u128::from(d);
    }
    Some(nanos)
}

/// A Go-style duration ("1h30m", "1.5h", "45s", "300ms") in nanoseconds.
fn parse_duration(t: &str) -> Option<u128> {
    const UNITS: [(&str, u128); 7] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let mut rest = t;
    let mut total = 0u128;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if number.is_empty() || number == "." || int.contains('.') {
            return None;
        }
        // Longest unit first: "ms" before "m".
        let (unit, scale) = UNITS
            .iter()
            .filter(|(u, _)| after.starts_with(u))
            .max_by_key(|(u, _)| u.len())?;
        let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let frac = fraction_nanos(frac)?;
        total = total
            .checked_add(int.checked_mul(*scale)?)?
            .checked_add(frac * scale / 1_000_000_000)?;
        rest = &after[unit.len()..];
    }
    Some(total)
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm, the
/// inverse of the one in [`rfc3339`]).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12; // March is 0
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// "YYYY-MM-DDTHH:MM:SS[.F...](Z|±HH:MM)" as nanoseconds since the epoch
/// (negative before it).
pub fn parse_rfc3339(t: &str) -> Option<i128> {
    let b = t.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0;
    if b.get(at) == Some(&b'.') {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        nanos = fraction_nanos(&t[at + 1..at + 1 + digits])? as i128;
        at += 1 + digits;
    }
    let offset = match &b[at..] {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == at + 6 && sep(at + 3, b":") => {
            let (h, m) = (num(at + 1, 2)?, num(at + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return None,
    };
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// Which entries of a log to read: `--since` and `--until`, both
/// inclusive (nanoseconds since the epoch), the last `tail` lines, and
/// whether to `follow` what is appended until the container has stopped
/// for good.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    /// Go on with what is appended until the container has stopped.
    pub follow: bool,
    /// Only the last lines.
    pub tail: Option<usize>,
    /// Only entries from then on.
    pub since: Option<u128>,
    /// Only entries until then.
    pub until: Option<u128>,
}

impl LogOptions {
    fn contains(&self, time: u128) -> bool {
        self.since.is_none_or(|s| time >= s) && self.until.is_none_or(|u| time <= u)
    }
}

/// Hand every entry of the container's log that `options` selects to
/// `each` (a container that never ran detached has none), then call
/// `flush`. Following, it sleeps in `poll(2)` on an inotify watch of the
/// container's directory (the log grows, the record is replaced, the
/// directory goes away) and on the pidfds of the container's init and of
/// the runtime that supervises it (the one that writes the log and records
/// the exit), so it also ends when either dies without a word. A failure
/// of `each` or `flush` ends it with that error (`logs | head`: a broken
/// pipe).
pub(crate) fn read(
    engine: &crate::Engine,
    key: &str,
    options: &LogOptions,
    each: &mut dyn FnMut(&Entry) -> io::Result<()>,
    flush: &mut dyn FnMut() -> io::Result<()>,
) -> Result<()> {
    let container = engine.store.find(key)?;
    let path = container.dir.join(LOG_FILE);
    if !options.follow {
        if let Some(mut reader) = open(&path, options.tail)? {
            print_new(&mut reader, &path, options, each, flush)?;
        }
        return Ok(());
    }
    let id = &container.config.id;
    // Watching starts before the first look at the log and the record:
    // whatever changes after that look wakes the poll below.
    let watch = crate::store::Watch::new(&container.dir)?;
    let mut reader = open(&path, options.tail)?;
    loop {
        // The record before the log: when it shows nothing left that could
        // write, the log read after it is complete. Removed: the same.
        let writers = match engine.store.find(id) {
            Ok(current) => writers(&current),
            Err(_) => [None, None],
        };
        if reader.is_none() {
            // Created after we started: all of it is new, no --tail.
            reader = open(&path, None)?;
        }
        if let Some(reader) = &mut reader {
            print_new(reader, &path, options, each, flush)?;
        }
        if writers.iter().all(Option::is_none) {
            return Ok(());
        }
        // Until --until has passed, if given.
        let deadline = match options.until {
            None => None,
            Some(until) => {
                let now = now_nanos();
                if now > until {
                    return Ok(());
                }
                Some(
                    std::time::Instant::now()
                        + std::time::Duration::from_nanos((until - now) as u64),
                )
            }
        };
        use std::os::fd::AsFd;
        let [changed, ..] = crate::store::readable(
            [
                Some(watch.as_fd()),
                writers[0].as_ref().map(|p| p.as_fd()),
                writers[1].as_ref().map(|p| p.as_fd()),
            ],
            deadline,
        )?;
        if changed {
            watch.drain();
        }
    }
}

/// Hand every entry the reader has not read yet to `each`.
fn print_new(
    reader: &mut LogReader,
    path: &Path,
    options: &LogOptions,
    each: &mut dyn FnMut(&Entry) -> io::Result<()>,
    flush: &mut dyn FnMut() -> io::Result<()>,
) -> Result<()> {
    let mut write_error = None;
    let read = reader.read_new(|entry| {
        if !options.contains(entry.time) {
            return Ok(());
        }
        each(&entry).map_err(|e| {
            // Stops the reading; reported as what it is below.
            let kind = e.kind();
            write_error = Some(e);
            io::Error::from(kind)
        })
    });
    if let Some(e) = write_error {
        return Err(Error::sys("write the log out", e));
    }
    read.map_err(|e| Error::io("read", path, e))?;
    flush().map_err(|e| Error::sys("write the log out", e))
}

pub(crate) fn open(path: &Path, tail: Option<usize>) -> Result<Option<LogReader>> {
    let reader = LogReader::open(path).map_err(|e| Error::io("open", path, e))?;
    let Some(mut reader) = reader else {
        return Ok(None);
    };
    if let Some(n) = tail {
        reader.tail(n).map_err(|e| Error::io("read", path, e))?;
    }
    Ok(Some(reader))
}

/// The processes whose life keeps the log growing: the container's init
/// while it runs, and the runtime that supervises it, which drains the
/// container's output into the log and records the exit after the init
/// has gone.
pub(crate) fn writers(c: &crate::Container) -> [Option<crate::Process>; 2] {
    use crate::{Observed, Process};
    let init = match c.observe() {
        Observed::Running { .. } => Process::open(c.state.pid, c.state.pid_start),
        _ => None,
    };
    [
        init,
        Process::open(c.state.runtime_pid, c.state.runtime_start),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const T0: u128 = 1_795_895_520_123_456_789; // 2026-11-28T19:52:00.123456789Z

    fn fixed_clock() -> u128 {
        T0
    }

    fn writer(dir: &Path) -> LogWriter {
        let mut w = LogWriter::open(&dir.join(LOG_FILE)).unwrap();
        w.clock = fixed_clock;
        w
    }

    fn lines(dir: &Path) -> Vec<String> {
        fs::read_to_string(dir.join(LOG_FILE))
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    fn logs(dir: &Path) -> Vec<(Stream, String)> {
        let data = fs::read(dir.join(LOG_FILE)).unwrap();
        assert!(data.is_empty() || data.ends_with(b"\n"));
        data.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let e = parse_entry(l).expect("an entry");
                assert_eq!(e.time, T0);
                (e.stream, e.log)
            })
            .collect()
    }

    #[test]
    fn entries_have_dockers_format() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path());
        w.write(Stream::Stdout, b"hello\n").unwrap();
        w.write(Stream::Stderr, b"tab\t\"quote\" \x1b[0m\n")
            .unwrap();
        assert_eq!(
            lines(dir.path()),
            [
                r#"{"log":"hello\n","stream":"stdout","time":"2026-11-28T19:52:00.123456789Z"}"#,
                r#"{"log":"tab\t\"quote\" \u001b[0m\n","stream":"stderr","time":"2026-11-28T19:52:00.123456789Z"}"#,
            ]
        );
        // Mode 0640 (as far as the umask lets it), opened to append.
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join(LOG_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o137, 0, "{mode:o}");
        drop(w);
        let mut w = writer(dir.path());
        w.write(Stream::Stdout, b"again\n").unwrap();
        assert_eq!(lines(dir.path()).len(), 3);
    }

    #[test]
    fn lines_are_split_and_joined_across_writes() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path());
        w.write(Stream::Stdout, b"one\ntw").unwrap();
        w.write(Stream::Stderr, b"e").unwrap();
        w.write(Stream::Stdout, b"o\n\nthr").unwrap();
        w.write(Stream::Stderr, b"rr\n").unwrap();
        w.write(Stream::Stdout, b"ee").unwrap();
        w.write(Stream::Stdout, b"").unwrap();
        assert_eq!(
            logs(dir.path()),
            [
                (Stream::Stdout, "one\n".into()),
                (Stream::Stdout, "two\n".into()),
                (Stream::Stdout, "\n".into()),
                (Stream::Stderr, "err\n".into()),
            ]
        );
        // The rest, at exit, without a '\n' it never had.
        w.finish().unwrap();
        w.finish().unwrap();
        assert_eq!(logs(dir.path())[4], (Stream::Stdout, "three".into()));
        assert_eq!(logs(dir.path()).len(), 5);
    }

    #[test]
    fn long_lines_become_partial_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path());
        // Exactly MAX_LINE before the '\n': one entry.
        let mut exact = vec![b'a'; MAX_LINE];
        exact.push(b'\n');
        w.write(Stream::Stdout, &exact).unwrap();
        // 40000 bytes in small reads, then the '\n'.
        for _ in 0..40 {
            w.write(Stream::Stdout, &[b'b'; 1000]).unwrap();
        }
        w.write(Stream::Stdout, b"\n").unwrap();
        // 20000 bytes and the '\n' in one read.
        let mut big = vec![b'c'; 20_000];
        big.push(b'\n');
        w.write(Stream::Stdout, &big).unwrap();
        let got = logs(dir.path());
        let shape: Vec<(usize, bool)> = got
            .iter()
            .map(|(_, l)| (l.len(), l.ends_with('\n')))
            .collect();
        assert_eq!(
            shape,
            [
                (MAX_LINE + 1, true),
                (MAX_LINE, false),
                (MAX_LINE, false),
                (40_000 - 2 * MAX_LINE + 1, true),
                (MAX_LINE, false),
                (20_000 - MAX_LINE + 1, true),
            ]
        );
        // Nothing lost.
        let all: String = got.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(all.len(), MAX_LINE + 1 + 40_001 + 20_001);
    }

    #[test]
    fn partial_entries_do_not_cut_characters() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path());
        // 'é' is two bytes: its first lands on the last byte that fits.
        let mut data = vec![b'x'; MAX_LINE - 1];
        data.extend_from_slice("é!\n".as_bytes());
        w.write(Stream::Stdout, &data).unwrap();
        let got = logs(dir.path());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, "x".repeat(MAX_LINE - 1));
        assert_eq!(got[1].1, "é!\n");
    }

    #[test]
    fn invalid_utf8_is_kept_lossily() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path());
        w.write(Stream::Stdout, b"a\xff\xfeb\n\xc3").unwrap();
        w.finish().unwrap();
        assert_eq!(
            logs(dir.path()),
            [
                (Stream::Stdout, "a\u{fffd}\u{fffd}b\n".into()),
                (Stream::Stdout, "\u{fffd}".into()),
            ]
        );
    }

    #[test]
    fn utf8_tails() {
        assert_eq!(incomplete_utf8_tail(b""), 0);
        assert_eq!(incomplete_utf8_tail(b"abc"), 0);
        assert_eq!(incomplete_utf8_tail("é".as_bytes()), 0);
        assert_eq!(incomplete_utf8_tail(&"é".as_bytes()[..1]), 1);
        assert_eq!(incomplete_utf8_tail(&"€".as_bytes()[..2]), 2);
        assert_eq!(incomplete_utf8_tail(&"😀".as_bytes()[..3]), 3);
        assert_eq!(incomplete_utf8_tail("😀".as_bytes()), 0);
        assert_eq!(incomplete_utf8_tail(b"\x80\x80\x80"), 0);
    }

    #[test]
    fn times_format_as_rfc3339_nano() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(format_time(T0), "2026-11-28T19:52:00.123456789Z");
        // Leap days, the day after, and the ends of years.
        let cases = [
            (951_782_400, "2000-02-29T00:00:00.000000000Z"),
            (951_868_800, "2000-03-01T00:00:00.000000000Z"),
            (1_709_164_800, "2024-02-29T00:00:00.000000000Z"),
            (1_709_251_199, "2024-02-29T23:59:59.000000000Z"),
            (4_107_542_400, "2100-03-01T00:00:00.000000000Z"),
            (1_735_689_599, "2024-12-31T23:59:59.000000000Z"),
            (1_735_689_600, "2025-01-01T00:00:00.000000000Z"),
        ];
        for (secs, text) in cases {
            let nanos = secs * 1_000_000_000;
            assert_eq!(format_time(nanos), text);
            assert_eq!(parse_rfc3339(text), Some(nanos as i128), "{text}");
        }
        // Every day for 600 years round-trips.
        for day in 0..(600 * 366) {
            let nanos = day * 86_400_000_000_000 + 43_200_000_000_007;
            assert_eq!(parse_rfc3339(&format_time(nanos)), Some(nanos as i128));
        }
    }

    #[test]
    fn rfc3339_parsing() {
        let p = parse_rfc3339;
        assert_eq!(p("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(p("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(p("1970-01-01t00:00:00.000000001z"), Some(1));
        // Digits past nanoseconds are cut.
        assert_eq!(p("1970-01-01T00:00:00.1234567899Z"), Some(123_456_789));
        assert_eq!(p("1970-01-01T02:00:00+02:00"), Some(0));
        assert_eq!(p("1969-12-31T23:30:00-00:30"), Some(0));
        assert_eq!(p("1969-12-31T23:59:59Z"), Some(-1_000_000_000));
        assert_eq!(p("2026-11-28T21:52:00.123456789+02:00"), Some(T0 as i128),);
        for bad in [
            "",
            "2026-11-28",
            "2026-11-28T19:52:00",
            "2026-11-28 19:52:00Z",
            "2026-11-28T19:52:00.Z",
            "2026-11-28T19:52:00+0200",
            "2026-11-28T19:52:00+02:00x",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:60Z",
            "2026-01-01T00:00:00+24:00",
            "+026-01-01T00:00:00Z",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
        assert!(p("2000-02-29T00:00:00Z").is_some());
        assert!(p("2400-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn since_and_until_values() {
        let now = T0;
        let t = |s: &str| parse_time("--since", s, now).map_err(|e| e.to_string());
        let s = 1_000_000_000u128;
        assert_eq!(t("2026-11-28T19:52:00.123456789Z"), Ok(T0));
        assert_eq!(t("2026-11-28T20:52:00+01:00"), Ok(T0 - 123_456_789));
        assert_eq!(t("1700000000"), Ok(1_700_000_000 * s));
        assert_eq!(t("1700000000.5"), Ok(1_700_000_000 * s + s / 2));
        assert_eq!(t("0"), Ok(0));
        assert_eq!(t("10m"), Ok(now - 600 * s));
        assert_eq!(t("1h30m"), Ok(now - 5400 * s));
        assert_eq!(t("45s"), Ok(now - 45 * s));
        assert_eq!(t("2h"), Ok(now - 7200 * s));
        assert_eq!(t("1.5h"), Ok(now - 5400 * s));
        assert_eq!(t("300ms"), Ok(now - 300_000_000));
        assert_eq!(t("1m0.5s"), Ok(now - 60 * s - s / 2));
        assert_eq!(t("2us3ns"), Ok(now - 2003));
        // Before the epoch: from the start.
        assert_eq!(t("1960-01-01T00:00:00Z"), Ok(0));
        assert_eq!(t("1000000h"), Ok(0));
        for bad in [
            "",
            " ",
            "yesterday",
            "10x",
            "m",
            "1h30",
            "-1h",
            "1..5s",
            "1.2.3",
            "1700000000.",
            ".5",
            "1e9",
            "2026-11-28",
            "1h 30m",
        ] {
            let err = t(bad).expect_err(bad);
            assert!(err.starts_with("invalid value for --since: "), "{err}");
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn tail_values() {
        let tail = |s: &str| parse_tail(s).map_err(|e| e.to_string());
        assert_eq!(tail("all"), Ok(None));
        assert_eq!(tail("ALL"), Ok(None));
        assert_eq!(tail("0"), Ok(Some(0)));
        assert_eq!(tail("25"), Ok(Some(25)));
        for bad in ["", "-1", "+1", "x", "1.5", "some"] {
            let err = tail(bad).expect_err(bad);
            assert!(err.starts_with("invalid value for --tail: "), "{err}");
        }
    }

    fn entry_line(log: &str) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_entry(&mut buf, Stream::Stdout, T0, log.as_bytes());
        buf
    }

    fn read_all(r: &mut LogReader) -> Vec<String> {
        let mut got = Vec::new();
        r.read_new(|e| {
            got.push(e.log);
            Ok(())
        })
        .unwrap();
        got
    }

    #[test]
    fn reader_takes_complete_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        assert!(LogReader::open(&path).unwrap().is_none());
        let mut file = File::create(&path).unwrap();
        let line = entry_line("a\n");
        file.write_all(&line).unwrap();
        file.write_all(&line[..10]).unwrap();
        let mut r = LogReader::open(&path).unwrap().unwrap();
        assert_eq!(read_all(&mut r), ["a\n"]);
        assert_eq!(read_all(&mut r), Vec::<String>::new());
        file.write_all(&line[10..]).unwrap();
        // A damaged line is skipped, the next one read.
        file.write_all(b"{\"log\":\"cut short\n").unwrap();
        file.write_all(&entry_line("b")).unwrap();
        assert_eq!(read_all(&mut r), ["a\n", "b"]);
        // Big: more than one read chunk.
        let long = "y".repeat(MAX_LINE);
        for _ in 0..10 {
            file.write_all(&entry_line(&long)).unwrap();
        }
        assert_eq!(read_all(&mut r), vec![long; 10]);
    }

    #[test]
    fn tail_starts_at_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let mut file = File::create(&path).unwrap();
        let mut r = LogReader::open(&path).unwrap().unwrap();
        r.tail(3).unwrap();
        assert!(read_all(&mut r).is_empty());
        // Enough lines to span several blocks, and an incomplete last one.
        let texts: Vec<String> = (0..500).map(|i| format!("line {i}\n")).collect();
        for t in &texts {
            file.write_all(&entry_line(t)).unwrap();
        }
        file.write_all(b"{\"log\":\"incompl").unwrap();
        for (n, want) in [(0, 0), (1, 1), (2, 2), (499, 499), (500, 500), (9999, 500)] {
            r.tail(n).unwrap();
            let got = read_all(&mut r);
            assert_eq!(got, texts[500 - want..], "tail {n}");
        }
        // After `tail 0`, only what comes next.
        r.tail(0).unwrap();
        file.write_all(b"\"}\n").unwrap();
        file.write_all(&entry_line("new\n")).unwrap();
        assert_eq!(read_all(&mut r), ["new\n"]);
    }
}
