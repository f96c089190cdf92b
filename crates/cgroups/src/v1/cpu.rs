//! v1 `cpu` controller: CFS bandwidth (`cpu.cfs_period_us`,
//! `cpu.cfs_quota_us`) and weight (`cpu.shares`); see the kernel's
//! `scheduler/sched-bwc.rst`.

use std::path::Path;

use crate::common::{flat_keyed, read_optional, Controller, Write};
use crate::resources::DEFAULT_CPU_PERIOD;
use crate::{Error, Resources, Stats};

pub(crate) struct Cpu;

impl Controller for Cpu {
    const NAME: &'static str = "cpu";

    fn plan(res: &Resources) -> Vec<Write> {
        let mut writes = Vec::new();
        // The period goes first: the kernel checks each quota against the
        // period in force when it is written.
        let period = match (res.cpu_quota, res.cpu_period) {
            (Some(_), None) => Some(DEFAULT_CPU_PERIOD),
            (_, period) => period,
        };
        if let Some(period) = period {
            writes.push(Write::new(
                Self::NAME,
                "cpu.cfs_period_us",
                period.to_string(),
            ));
        }
        if let Some(quota) = res.cpu_quota {
            let quota = if quota < 0 { -1 } else { quota };
            writes.push(Write::new(
                Self::NAME,
                "cpu.cfs_quota_us",
                quota.to_string(),
            ));
        }
        if let Some(shares) = res.cpu_shares.filter(|&s| s != 0) {
            writes.push(Write::new(Self::NAME, "cpu.shares", shares.to_string()));
        }
        writes
    }

    fn stats(dir: &Path, stats: &mut Stats) -> Result<(), Error> {
        if let Some(text) = read_optional(&dir.join("cpu.stat"))? {
            parse_cpu_stat(&text, stats);
        }
        Ok(())
    }
}

/// v1 `cpu.stat`: `nr_periods`, `nr_throttled`, `throttled_time` (ns).
pub(crate) fn parse_cpu_stat(text: &str, stats: &mut Stats) {
    stats.nr_periods = flat_keyed(text, "nr_periods").unwrap_or(0);
    stats.nr_throttled = flat_keyed(text, "nr_throttled").unwrap_or(0);
    stats.throttled_ns = flat_keyed(text, "throttled_time").unwrap_or(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_stat() {
        let mut stats = Stats::default();
        parse_cpu_stat(
            "nr_periods 20\nnr_throttled 7\nthrottled_time 123456789\nnr_bursts 0\nburst_time 0\n",
            &mut stats,
        );
        assert_eq!(
            (stats.nr_periods, stats.nr_throttled, stats.throttled_ns),
            (20, 7, 123456789)
        );
    }

    #[test]
    fn period_defaults_with_a_quota() {
        let res = Resources {
            cpu_quota: Some(-1),
            ..Resources::default()
        };
        let files: Vec<_> = Cpu::plan(&res)
            .into_iter()
            .map(|w| format!("{}={}", w.file, w.value))
            .collect();
        assert_eq!(files, ["cpu.cfs_period_us=100000", "cpu.cfs_quota_us=-1"]);
        let period_only = Resources {
            cpu_period: Some(50_000),
            ..Resources::default()
        };
        assert_eq!(Cpu::plan(&period_only).len(), 1);
    }
}
