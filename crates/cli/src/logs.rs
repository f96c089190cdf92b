//! The container log: docker's json-file format, one entry per line.
//! (A first, minimal writer; the reader and `logs` come with their own
//! change.)

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The log's name in the container's directory.
pub const LOG_FILE: &str = "container.log";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Appends entries; keeps each stream's unfinished line until its end.
pub struct LogWriter {
    file: File,
    pending: [Vec<u8>; 2],
}

/// Nanoseconds since the epoch as RFC 3339 with nanoseconds, UTC.
pub fn format_time(nanos: u128) -> String {
    let secs = (nanos / 1_000_000_000) as i64;
    let frac = (nanos % 1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
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

impl LogWriter {
    pub fn open(path: &Path) -> io::Result<LogWriter> {
        let file = File::options()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(path)?;
        Ok(LogWriter {
            file,
            pending: [Vec::new(), Vec::new()],
        })
    }

    fn entry(&mut self, stream: Stream, line: &[u8]) -> io::Result<()> {
        let mut text = serde_json::to_string(&serde_json::json!({
            "log": String::from_utf8_lossy(line),
            "stream": stream.name(),
            "time": format_time(crate::state::now_nanos()),
        }))
        .expect("an entry serialises");
        text.push('\n');
        self.file.write_all(text.as_bytes())
    }

    /// Log what one read returned: every complete line now, the rest later.
    pub fn write(&mut self, stream: Stream, mut data: &[u8]) -> io::Result<()> {
        let slot = stream as usize;
        while let Some(end) = data.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.pending[slot]);
            line.extend_from_slice(&data[..=end]);
            self.entry(stream, &line)?;
            data = &data[end + 1..];
        }
        self.pending[slot].extend_from_slice(data);
        if self.pending[slot].len() >= 16 * 1024 {
            let line = std::mem::take(&mut self.pending[slot]);
            self.entry(stream, &line)?;
        }
        Ok(())
    }

    /// Write what is left of unfinished lines.
    pub fn finish(&mut self) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let line = std::mem::take(&mut self.pending[stream as usize]);
            if !line.is_empty() {
                self.entry(stream, &line)?;
            }
        }
        Ok(())
    }
}
