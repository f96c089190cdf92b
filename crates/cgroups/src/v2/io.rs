//! v2 `io` controller: per-device byte and operation counts (`io.stat`);
//! see the kernel's `cgroup-v2.rst`, "IO".

use std::path::Path;

use crate::common::{read_optional, Controller, Write};
use crate::{Error, Resources, Stats};

pub(crate) struct Io;

impl Controller for Io {
    const NAME: &'static str = "io";

    fn plan(_res: &Resources) -> Vec<Write> {
        Vec::new()
    }

    fn stats(dir: &Path, stats: &mut Stats) -> Result<(), Error> {
        if let Some(text) = read_optional(&dir.join("io.stat"))? {
            (stats.block_read, stats.block_write) = parse_io_stat(&text);
        }
        Ok(())
    }
}

/// Sum `rbytes` and `wbytes` over all devices
/// ("8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0").
pub(crate) fn parse_io_stat(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for line in text.lines() {
        for field in line.split_whitespace().skip(1) {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let Ok(value) = value.parse::<u64>() else {
                continue;
            };
            match key {
                "rbytes" => read = read.saturating_add(value),
                "wbytes" => write = write.saturating_add(value),
                _ => {}
            }
        }
    }
    (read, write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_stat() {
        let text = "\
8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0
8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021
";
        assert_eq!(parse_io_stat(text), (91889664, 613781504));
        assert_eq!(parse_io_stat(""), (0, 0));
    }
}
