//! v1 `blkio` controller: block I/O accounting, read from
//! `blkio.throttle.io_service_bytes` (bytes per device and direction); see
//! the kernel's `cgroup-v1/blkio-controller.rst`.

use std::path::Path;

use crate::common::{read_optional, write_file, Controller, Write};
use crate::{Error, Resources, Stats};

pub(crate) struct Blkio;

impl Controller for Blkio {
    const NAME: &'static str = "blkio";

    fn plan(res: &Resources) -> Vec<Write> {
        let mut writes = Vec::new();
        if let Some(w) = res.blkio_weight {
            writes.push(Write::new(Self::NAME, "blkio.weight", w.to_string()));
        }
        for (major, minor, w) in &res.blkio_weight_device {
            writes.push(Write::new(
                Self::NAME,
                "blkio.weight_device",
                format!("{major}:{minor} {w}"),
            ));
        }
        for t in &res.blkio_throttle {
            writes.push(Write::new(
                Self::NAME,
                t.kind.v1_file(),
                format!("{}:{} {}", t.major, t.minor, t.rate),
            ));
        }
        writes
    }

    /// The weights go to the BFQ scheduler's files where the kernel has
    /// no CFQ ones (`blkio.weight` went with CFQ in Linux 5.0).
    fn apply(dir: &Path, res: &Resources) -> Result<(), Error> {
        for w in Self::plan(res) {
            let path = dir.join(&w.file);
            let path = match w.file.strip_prefix("blkio.weight") {
                Some(rest) if !path.exists() => dir.join(format!("blkio.bfq.weight{rest}")),
                _ => path,
            };
            write_file(&path, &w.value)?;
        }
        Ok(())
    }

    fn stats(dir: &Path, stats: &mut Stats) -> Result<(), Error> {
        if let Some(text) = read_optional(&dir.join("blkio.throttle.io_service_bytes"))? {
            (stats.block_read, stats.block_write) = parse_io_service_bytes(&text);
        }
        Ok(())
    }
}

/// Sum the "Read" and "Write" lines over all devices
/// ("8:0 Read 4096" ... "Total 8192").
pub(crate) fn parse_io_service_bytes(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_device), Some(op), Some(value), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        match op {
            "Read" => read = read.saturating_add(value),
            "Write" => write = write.saturating_add(value),
            _ => {}
        }
    }
    (read, write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_service_bytes() {
        let text = "\
8:0 Read 4096
8:0 Write 8192
8:0 Sync 0
8:0 Async 12288
8:0 Discard 0
8:0 Total 12288
8:16 Read 1
8:16 Write 2
Total 12291
";
        assert_eq!(parse_io_service_bytes(text), (4097, 8194));
        assert_eq!(parse_io_service_bytes("Total 0\n"), (0, 0));
    }
}
