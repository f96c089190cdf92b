//! v1 `blkio` controller: block I/O accounting, read from
//! `blkio.throttle.io_service_bytes` (bytes per device and direction); see
//! the kernel's `cgroup-v1/blkio-controller.rst`.

use std::path::Path;

use crate::common::{read_optional, Controller, Write};
use crate::{Error, Resources, Stats};

pub(crate) struct Blkio;

impl Controller for Blkio {
    const NAME: &'static str = "blkio";

    fn plan(_res: &Resources) -> Vec<Write> {
        Vec::new()
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
