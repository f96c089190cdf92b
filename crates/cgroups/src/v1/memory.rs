//! v1 `memory` controller: limits (`memory.limit_in_bytes`,
//! `memory.memsw.limit_in_bytes` for memory+swap,
//! `memory.soft_limit_in_bytes`), usage and the OOM-kill count; see the
//! kernel's `cgroup-v1/memory.rst`.

use std::path::Path;

use crate::common::{
    flat_keyed, parse_u64, read_optional, read_u64_or_zero, write_file, Controller, Write,
};
use crate::sys::is_errno;
use crate::{Error, Resources, Stats};

pub(crate) struct Memory;

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW: &str = "memory.memsw.limit_in_bytes";

/// v1's "-1" for unlimited, the form its files take on input.
fn bytes(value: i64) -> String {
    if value < 0 {
        "-1".to_string()
    } else {
        value.to_string()
    }
}

impl Controller for Memory {
    const NAME: &'static str = "memory";

    fn plan(res: &Resources) -> Vec<Write> {
        let mut writes = Vec::new();
        if let Some(memory) = res.memory {
            writes.push(Write::new(Self::NAME, LIMIT, bytes(memory)));
        }
        if let Some(swap) = res.memory_swap {
            writes.push(Write::new(Self::NAME, MEMSW, bytes(swap)));
        }
        if let Some(reservation) = res.memory_reservation {
            writes.push(Write::new(
                Self::NAME,
                "memory.soft_limit_in_bytes",
                bytes(reservation),
            ));
        }
        if let Some(swappiness) = res.memory_swappiness {
            writes.push(Write::new(
                Self::NAME,
                "memory.swappiness",
                swappiness.to_string(),
            ));
        }
        if let Some(disable) = res.oom_kill_disable {
            writes.push(Write::new(
                Self::NAME,
                "memory.oom_control",
                if disable { "1" } else { "0" }.to_string(),
            ));
        }
        writes
    }

    /// The kernel keeps limit <= memsw limit at every step: raising both
    /// needs memsw first, lowering both needs the limit first. Try the limit
    /// first; if it fails with EINVAL because the current memsw limit is
    /// lower, write memsw first and then the limit.
    fn apply(dir: &Path, res: &Resources) -> Result<(), Error> {
        let writes = Self::plan(res);
        let mut i = 0;
        while i < writes.len() {
            let w = &writes[i];
            match write_file(&dir.join(&w.file), &w.value) {
                Ok(()) => i += 1,
                Err(Error::Write { ref source, .. })
                    if w.file == LIMIT
                        && is_errno(source, libc::EINVAL)
                        && writes.get(i + 1).is_some_and(|next| next.file == MEMSW) =>
                {
                    let memsw = &writes[i + 1];
                    write_file(&dir.join(&memsw.file), &memsw.value)?;
                    write_file(&dir.join(&w.file), &w.value)?;
                    i += 2;
                }
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    fn stats(dir: &Path, stats: &mut Stats) -> Result<(), Error> {
        let usage = read_u64_or_zero(&dir.join("memory.usage_in_bytes"))?;
        let inactive = read_optional(&dir.join("memory.stat"))?
            .and_then(|text| flat_keyed(&text, "total_inactive_file"))
            .unwrap_or(0);
        stats.memory_usage = usage_without_cache(usage, inactive);
        let limit = dir.join(LIMIT);
        stats.memory_limit = match read_optional(&limit)? {
            Some(text) => limit_from_bytes(parse_u64(&limit, &text)?),
            None => None,
        };
        stats.oom_kills = Self::oom_kills(dir)?;
        Ok(())
    }
}

impl Memory {
    /// The "oom_kill" count of `memory.oom_control` (0 before Linux 4.13,
    /// which lacks the line, or without the memory controller).
    pub(crate) fn oom_kills(dir: &Path) -> Result<u64, Error> {
        Ok(read_optional(&dir.join("memory.oom_control"))?
            .and_then(|text| parse_oom_control(&text))
            .unwrap_or(0))
    }
}

/// `memory.oom_control`: "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n".
pub(crate) fn parse_oom_control(text: &str) -> Option<u64> {
    flat_keyed(text, "oom_kill")
}

/// docker's figure: usage minus the inactive file cache, which the kernel
/// reclaims first.
pub(crate) fn usage_without_cache(usage: u64, inactive_file: u64) -> u64 {
    if inactive_file < usage {
        usage - inactive_file
    } else {
        usage
    }
}

/// v1 reports "unlimited" as the largest page-aligned signed 64-bit value
/// (9223372036854771712 with 4 KiB pages): anything that close to
/// `i64::MAX` is no limit.
pub(crate) fn limit_from_bytes(value: u64) -> Option<u64> {
    (value <= i64::MAX as u64 - (1 << 20)).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_control() {
        assert_eq!(
            parse_oom_control("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"),
            Some(3)
        );
        assert_eq!(parse_oom_control("oom_kill_disable 0\nunder_oom 0\n"), None);
    }

    #[test]
    fn usage_and_limit() {
        assert_eq!(usage_without_cache(100, 30), 70);
        assert_eq!(usage_without_cache(100, 300), 100);
        assert_eq!(limit_from_bytes(9223372036854771712), None);
        assert_eq!(limit_from_bytes(64 << 20), Some(64 << 20));
    }

    #[test]
    fn swappiness_and_the_oom_killer_are_planned() {
        let res = Resources {
            memory_swappiness: Some(30),
            oom_kill_disable: Some(true),
            ..Resources::default()
        };
        let writes: Vec<(String, String)> = Memory::plan(&res)
            .into_iter()
            .map(|w| (w.file, w.value))
            .collect();
        assert_eq!(
            writes,
            [
                ("memory.swappiness".to_string(), "30".to_string()),
                ("memory.oom_control".to_string(), "1".to_string())
            ]
        );
        let too_much = Resources {
            memory_swappiness: Some(101),
            ..Resources::default()
        };
        assert!(too_much.validate().is_err());
    }

    #[test]
    fn memory_stat() {
        let text =
            "cache 8192\nrss 4096\ninactive_file 100\ntotal_cache 8192\ntotal_inactive_file 4096\n";
        assert_eq!(flat_keyed(text, "total_inactive_file"), Some(4096));
    }

    /// A plain failure of the limit (here EISDIR) comes back as an error
    /// and stops the writes.
    #[test]
    fn limit_failure_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(LIMIT)).unwrap();
        std::fs::write(dir.path().join(MEMSW), "").unwrap();
        let res = Resources {
            memory: Some(1 << 20),
            memory_swap: Some(2 << 20),
            ..Resources::default()
        };
        let err = Memory::apply(dir.path(), &res).unwrap_err();
        assert!(matches!(err, Error::Write { ref path, .. } if path.ends_with(LIMIT)));
        assert_eq!(std::fs::read_to_string(dir.path().join(MEMSW)).unwrap(), "");
    }

    /// EINVAL on the limit (on a real kernel: the new limit is above the
    /// current memsw limit) makes apply write memsw first, then the limit
    /// again. `/proc/self/oom_score_adj` stands in for a limit file that
    /// answers EINVAL (the value is out of its -1000..=1000 range, so
    /// nothing changes).
    #[test]
    fn einval_on_the_limit_writes_memsw_first() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/proc/self/oom_score_adj", dir.path().join(LIMIT)).unwrap();
        std::fs::write(dir.path().join(MEMSW), "").unwrap();
        let res = Resources {
            memory: Some(1 << 20),
            memory_swap: Some(2 << 20),
            ..Resources::default()
        };
        let err = Memory::apply(dir.path(), &res).unwrap_err();
        // memsw was written, then the limit tried again (and failed again).
        assert_eq!(
            std::fs::read_to_string(dir.path().join(MEMSW)).unwrap(),
            "2097152"
        );
        assert!(
            matches!(err, Error::Write { ref path, ref source, .. } if path.ends_with(LIMIT) && is_errno(source, libc::EINVAL))
        );
    }
}
