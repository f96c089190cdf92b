//! v2 `cpu` controller: bandwidth (`cpu.max` = "QUOTA PERIOD"), weight
//! (`cpu.weight`) and usage (`cpu.stat`); see the kernel's
//! `cgroup-v2.rst`, "CPU".

use std::path::Path;

use crate::common::{flat_keyed, read_optional, shares_to_weight, Controller, Write};
use crate::resources::DEFAULT_CPU_PERIOD;
use crate::{Error, Resources, Stats};

pub(crate) struct Cpu;

impl Controller for Cpu {
    const NAME: &'static str = "cpu";

    fn plan(res: &Resources) -> Vec<Write> {
        let mut writes = Vec::new();
        // cpu.max holds both numbers, so a period alone is written as
        // "max PERIOD" (as runc does).
        if res.cpu_quota.is_some() || res.cpu_period.is_some() {
            let period = res.cpu_period.unwrap_or(DEFAULT_CPU_PERIOD);
            let quota = match res.cpu_quota {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            writes.push(Write::new(
                Self::NAME,
                "cpu.max",
                format!("{quota} {period}"),
            ));
        }
        if let Some(shares) = res.cpu_shares.filter(|&s| s != 0) {
            writes.push(Write::new(
                Self::NAME,
                "cpu.weight",
                shares_to_weight(shares).to_string(),
            ));
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

/// v2 `cpu.stat`: times in microseconds (`usage_usec`, `throttled_usec`),
/// here turned into nanoseconds. `usage_usec` is there even without the cpu
/// controller enabled; the throttling lines are not.
pub(crate) fn parse_cpu_stat(text: &str, stats: &mut Stats) {
    let get = |key| flat_keyed(text, key).unwrap_or(0);
    stats.cpu_usage_ns = get("usage_usec").saturating_mul(1000);
    stats.nr_periods = get("nr_periods");
    stats.nr_throttled = get("nr_throttled");
    stats.throttled_ns = get("throttled_usec").saturating_mul(1000);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_stat() {
        let mut stats = Stats::default();
        parse_cpu_stat(
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 4\nthrottled_usec 2500\nnr_bursts 0\nburst_usec 0\n",
            &mut stats,
        );
        assert_eq!(stats.cpu_usage_ns, 1_500_000);
        assert_eq!((stats.nr_periods, stats.nr_throttled), (10, 4));
        assert_eq!(stats.throttled_ns, 2_500_000);
    }

    #[test]
    fn cpu_max() {
        let value = |quota, period| {
            let res = Resources {
                cpu_quota: quota,
                cpu_period: period,
                ..Resources::default()
            };
            Cpu::plan(&res).first().map(|w| w.value.clone())
        };
        assert_eq!(value(Some(50_000), None).as_deref(), Some("50000 100000"));
        assert_eq!(value(Some(-1), Some(20_000)).as_deref(), Some("max 20000"));
        assert_eq!(value(None, Some(20_000)).as_deref(), Some("max 20000"));
        assert_eq!(value(None, None), None);
    }
}
