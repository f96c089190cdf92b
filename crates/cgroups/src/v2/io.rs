//! v2 `io` controller: per-device byte and operation counts (`io.stat`);
//! see the kernel's `cgroup-v2.rst`, "IO".

use std::path::Path;

use crate::common::{read_optional, write_file, Controller, Write};
use crate::{Error, Resources, Stats};

pub(crate) struct Io;

impl Controller for Io {
    const NAME: &'static str = "io";

    fn plan(res: &Resources) -> Vec<Write> {
        let mut writes = Vec::new();
        if let Some(w) = res.blkio_weight {
            writes.push(Write::new(Self::NAME, "io.bfq.weight", w.to_string()));
        }
        for (major, minor, w) in &res.blkio_weight_device {
            writes.push(Write::new(
                Self::NAME,
                "io.bfq.weight",
                format!("{major}:{minor} {w}"),
            ));
        }
        for t in &res.blkio_throttle {
            writes.push(Write::new(
                Self::NAME,
                "io.max",
                format!("{}:{} {}={}", t.major, t.minor, t.kind.v2_key(), t.rate),
            ));
        }
        writes
    }

    /// Without BFQ, the weights go to `io.weight`, scaled from 10..1000
    /// to its 1..10000 as runc scales them.
    fn apply(dir: &Path, res: &Resources) -> Result<(), Error> {
        let bfq = dir.join("io.bfq.weight").exists();
        for w in Self::plan(res) {
            if w.file == "io.bfq.weight" && !bfq {
                let value = match w.value.rsplit_once(' ') {
                    Some((device, weight)) => format!("{device} {}", io_weight(weight)),
                    None => io_weight(&w.value),
                };
                write_file(&dir.join("io.weight"), &value)?;
            } else {
                write_file(&dir.join(&w.file), &w.value)?;
            }
        }
        Ok(())
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

/// A block I/O weight (10..=1000) as `io.weight` takes it (1..=10000).
fn io_weight(weight: &str) -> String {
    let w: u64 = weight.parse().unwrap_or(100);
    (1 + (w.clamp(10, 1000) - 10) * 9999 / 990).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_fall_back_to_io_weight() {
        assert_eq!(io_weight("10"), "1");
        assert_eq!(io_weight("1000"), "10000");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("io.weight"), "").unwrap();
        std::fs::write(dir.path().join("io.max"), "").unwrap();
        let res = Resources {
            blkio_weight: Some(505),
            blkio_throttle: vec![crate::Throttle {
                kind: crate::ThrottleKind::ReadBps,
                major: 8,
                minor: 0,
                rate: 1048576,
            }],
            ..Resources::default()
        };
        Io::apply(dir.path(), &res).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(read("io.weight"), "5000");
        assert_eq!(read("io.max"), "8:0 rbps=1048576");
    }

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
