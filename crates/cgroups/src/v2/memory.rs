//! v2 `memory` controller: `memory.max`, `memory.swap.max` (swap alone,
//! not memory+swap as on v1), `memory.low`, usage (`memory.current`,
//! `memory.stat`) and OOM kills (`memory.events`); see the kernel's
//! `cgroup-v2.rst`, "Memory".

use std::path::Path;

use crate::common::{flat_keyed, parse_max, read_optional, read_u64_or_zero, Controller, Write};
use crate::{Error, Resources, Stats};

pub(crate) struct Memory;

/// v2's "max" for unlimited.
fn bytes(value: i64) -> String {
    if value < 0 {
        "max".to_string()
    } else {
        value.to_string()
    }
}

impl Controller for Memory {
    const NAME: &'static str = "memory";

    fn plan(res: &Resources) -> Vec<Write> {
        let mut writes = Vec::new();
        if let Some(memory) = res.memory {
            writes.push(Write::new(Self::NAME, "memory.max", bytes(memory)));
        }
        // docker's --memory-swap is memory+swap; v2 limits swap alone.
        // Without a memory limit there is nothing to subtract from
        // (Resources::validate refuses that combination).
        let swap = match (res.memory_swap, res.memory) {
            (Some(-1), _) => Some("max".to_string()),
            (Some(swap), Some(memory)) if memory >= 0 => {
                Some(swap.saturating_sub(memory).max(0).to_string())
            }
            _ => None,
        };
        if let Some(swap) = swap {
            writes.push(Write::new(Self::NAME, "memory.swap.max", swap));
        }
        if let Some(reservation) = res.memory_reservation {
            writes.push(Write::new(Self::NAME, "memory.low", bytes(reservation)));
        }
        writes
    }

    fn stats(dir: &Path, stats: &mut Stats) -> Result<(), Error> {
        let usage = read_u64_or_zero(&dir.join("memory.current"))?;
        let inactive = read_optional(&dir.join("memory.stat"))?
            .and_then(|text| flat_keyed(&text, "inactive_file"))
            .unwrap_or(0);
        stats.memory_usage = if inactive < usage {
            usage - inactive
        } else {
            usage
        };
        let max = dir.join("memory.max");
        stats.memory_limit = match read_optional(&max)? {
            Some(text) => parse_max(&max, &text)?,
            None => None,
        };
        stats.oom_kills = Self::oom_kills(dir)?;
        Ok(())
    }
}

impl Memory {
    /// The "oom_kill" count of `memory.events` (hierarchical: kills in
    /// descendant cgroups count too); 0 without the memory controller.
    pub(crate) fn oom_kills(dir: &Path) -> Result<u64, Error> {
        Ok(read_optional(&dir.join("memory.events"))?
            .and_then(|text| parse_memory_events(&text))
            .unwrap_or(0))
    }
}

/// `memory.events`: "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n".
pub(crate) fn parse_memory_events(text: &str) -> Option<u64> {
    flat_keyed(text, "oom_kill")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_events() {
        let text = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(parse_memory_events(text), Some(2));
        assert_eq!(parse_memory_events("low 0\n"), None);
    }

    #[test]
    fn memory_stat_inactive_file() {
        let text = "anon 4096\nfile 8192\nactive_file 4096\ninactive_file 2048\n";
        assert_eq!(flat_keyed(text, "inactive_file"), Some(2048));
    }

    #[test]
    fn swap_is_memory_swap_minus_memory() {
        let swap = |memory, memory_swap| {
            let res = Resources {
                memory,
                memory_swap,
                ..Resources::default()
            };
            Memory::plan(&res)
                .into_iter()
                .find(|w| w.file == "memory.swap.max")
                .map(|w| w.value)
        };
        assert_eq!(swap(Some(100), Some(300)).as_deref(), Some("200"));
        assert_eq!(swap(Some(100), Some(100)).as_deref(), Some("0"));
        assert_eq!(swap(Some(100), Some(-1)).as_deref(), Some("max"));
        assert_eq!(swap(Some(100), None), None);
        assert_eq!(swap(None, Some(300)), None);
    }
}
