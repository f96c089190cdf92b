//! Resource limit flags, with docker's names and meanings, checked and
//! turned into [`Resources`] for the cgroup manager.

use anyhow::{bail, Result};
use clap::Args;
use tinydocker_cgroups::Resources;

/// Flags shared by `run` and `update`. Values are taken as text (a leading
/// '-' included) and checked here, so every mistake gets one clear line.
#[derive(Debug, Clone, Default, Args)]
pub struct LimitArgs {
    /// Number of CPUs (a decimal, e.g. 0.5)
    #[arg(long, value_name = "DECIMAL", allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period, in microseconds
    #[arg(
        long = "cpu-period",
        value_name = "MICROSECONDS",
        allow_hyphen_values = true
    )]
    pub cpu_period: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota, in microseconds (-1: unlimited)
    #[arg(
        long = "cpu-quota",
        value_name = "MICROSECONDS",
        allow_hyphen_values = true
    )]
    pub cpu_quota: Option<String>,
    /// CPU shares (relative weight)
    #[arg(
        short = 'c',
        long = "cpu-shares",
        value_name = "SHARES",
        allow_hyphen_values = true
    )]
    pub cpu_shares: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "LIST", allow_hyphen_values = true)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "LIST", allow_hyphen_values = true)]
    pub cpuset_mems: Option<String>,
    /// Memory limit (e.g. 512m, 2g)
    #[arg(short = 'm', long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(
        long = "memory-reservation",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub memory_reservation: Option<String>,
    /// Tune container pids limit (-1 or 0 for unlimited)
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
}

/// What the host offers, for checking limits against it.
#[derive(Debug, Clone)]
pub struct Host {
    pub cpus: Vec<u32>,
    pub mems: Vec<u32>,
}

impl Host {
    pub fn detect() -> Result<Host> {
        Ok(Host {
            cpus: tinydocker_cgroups::online_cpus()?,
            mems: tinydocker_cgroups::online_mems()?,
        })
    }
}

/// The smallest memory limit a container can run under (docker's: 6 MiB).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;
const DEFAULT_PERIOD: u64 = 100_000;

/// Parse a size: digits (a decimal point allowed) and an optional unit
/// b, k, m, g or t (any case, an optional trailing "b" or "ib"), binary
/// multiples as docker uses them. `None` when it does not parse.
pub fn parse_size(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty()
        || number.starts_with('.')
        || number.ends_with('.')
        || number.matches('.').count() > 1
    {
        return None;
    }
    let unit = unit.trim_start().to_ascii_lowercase();
    let multiplier: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let value: f64 = number.parse().ok()?;
    let bytes = value * multiplier;
    (bytes.is_finite() && bytes < i64::MAX as f64).then_some(bytes as i64)
}

/// "100MiB", "1.5GiB": docker's binary sizes for memory.
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{}", UNITS[unit])
}

fn size_flag(flag: &str, text: &str) -> Result<i64> {
    match parse_size(text) {
        Some(bytes) => Ok(bytes),
        None => bail!("{flag} {text:?}: expected a size like 512m or 2g"),
    }
}

fn int_flag(flag: &str, text: &str, what: &str) -> Result<i64> {
    match text.trim().parse::<i64>() {
        Ok(n) => Ok(n),
        Err(_) => bail!("{flag} {text:?}: expected {what}"),
    }
}

fn check_list(flag: &str, list: &str, available: &[u32], what: &str) -> Result<()> {
    let requested = match tinydocker_cgroups::parse_cpu_list(list) {
        Ok(r) if !r.is_empty() => r,
        _ => bail!("{flag} {list:?}: expected a list such as 0-2,4"),
    };
    if let Some(missing) = requested.iter().find(|c| !available.contains(c)) {
        bail!(
            "{flag} {list:?}: {what} {missing} is not available (the host has {})",
            format_list(available)
        );
    }
    Ok(())
}

/// [0,1,2,5] -> "0-2,5".
fn format_list(items: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let start = items[i];
        let mut end = start;
        while i + 1 < items.len() && items[i + 1] == end + 1 {
            i += 1;
            end = items[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

impl LimitArgs {
    /// Whether any limit flag was given.
    pub fn any(&self) -> bool {
        self.cpus.is_some()
            || self.cpu_period.is_some()
            || self.cpu_quota.is_some()
            || self.cpu_shares.is_some()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some()
            || self.memory.is_some()
            || self.memory_swap.is_some()
            || self.memory_reservation.is_some()
            || self.pids_limit.is_some()
    }

    /// Check the flags and lay them over `base` (the container's current
    /// limits, for `update`; the default for `run`).
    pub fn resources(&self, host: &Host, base: &Resources) -> Result<Resources> {
        let mut r = base.clone();
        let ncpus = host.cpus.len().max(1);
        if let Some(text) = &self.cpus {
            if self.cpu_period.is_some() || self.cpu_quota.is_some() {
                bail!(
                    "conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set"
                );
            }
            let cpus: f64 = match text.trim().parse() {
                Ok(c) => c,
                Err(_) => bail!("--cpus {text:?}: expected a decimal number of CPUs such as 0.5"),
            };
            if !(cpus >= 0.01 && cpus <= ncpus as f64) {
                bail!("--cpus {text:?}: range of CPUs is from 0.01 to {ncpus}.00, as there are only {ncpus} CPUs available");
            }
            r.cpu_period = Some(DEFAULT_PERIOD);
            r.cpu_quota = Some((cpus * DEFAULT_PERIOD as f64).round() as i64);
        }
        if let Some(text) = &self.cpu_period {
            let period = int_flag(
                "--cpu-period",
                text,
                "microseconds between 1000 and 1000000",
            )?;
            if !(1000..=1_000_000).contains(&period) {
                bail!("--cpu-period {period}: CPU CFS period must be between 1ms (1000) and 1s (1000000)");
            }
            r.cpu_period = Some(period as u64);
        }
        if let Some(text) = &self.cpu_quota {
            let quota = int_flag("--cpu-quota", text, "microseconds, at least 1000, or -1")?;
            match quota {
                -1 => r.cpu_quota = Some(-1),
                0 => r.cpu_quota = None,
                q if q < 1000 => {
                    bail!("--cpu-quota {q}: CPU CFS quota can not be less than 1ms (1000)")
                }
                q => r.cpu_quota = Some(q),
            }
            if r.cpu_period.is_none() && r.cpu_quota.is_some_and(|q| q > 0) {
                r.cpu_period = Some(DEFAULT_PERIOD);
            }
        }
        if let Some(text) = &self.cpu_shares {
            let shares = int_flag(
                "--cpu-shares",
                text,
                "a relative weight between 2 and 262144",
            )?;
            match shares {
                0 => r.cpu_shares = None,
                s if !(2..=262_144).contains(&s) => {
                    bail!("--cpu-shares {s}: expected a relative weight between 2 and 262144 (0 for the default)")
                }
                s => r.cpu_shares = Some(s as u64),
            }
        }
        if let Some(list) = &self.cpuset_cpus {
            check_list("--cpuset-cpus", list, &host.cpus, "CPU")?;
            r.cpuset_cpus = Some(list.trim().to_string());
        }
        if let Some(list) = &self.cpuset_mems {
            check_list("--cpuset-mems", list, &host.mems, "memory node")?;
            r.cpuset_mems = Some(list.trim().to_string());
        }
        if let Some(text) = &self.memory {
            let bytes = size_flag("--memory", text)?;
            if bytes != 0 && bytes < MIN_MEMORY {
                bail!("--memory {text:?}: the minimum memory limit is 6MiB");
            }
            r.memory = (bytes != 0).then_some(bytes);
        }
        if let Some(text) = &self.memory_reservation {
            let bytes = size_flag("--memory-reservation", text)?;
            r.memory_reservation = (bytes != 0).then_some(bytes);
        }
        if let Some(text) = &self.memory_swap {
            let bytes = if text.trim() == "-1" {
                -1
            } else {
                size_flag("--memory-swap", text)?
            };
            r.memory_swap = (bytes != 0).then_some(bytes);
        }
        if let Some(swap) = r.memory_swap.filter(|s| *s > 0) {
            match r.memory {
                None => bail!("--memory-swap needs --memory: set the memory limit too"),
                Some(memory) if swap < memory => bail!(
                    "--memory-swap {} is smaller than --memory {}: it is the limit of memory plus swap, so at least the memory limit",
                    binary_size(swap as u64),
                    binary_size(memory as u64)
                ),
                Some(_) => {}
            }
        }
        if let (Some(reservation), Some(memory)) = (r.memory_reservation, r.memory) {
            if reservation > memory {
                bail!(
                    "--memory-reservation {} is larger than --memory {}: the soft limit must not exceed the hard one",
                    binary_size(reservation as u64),
                    binary_size(memory as u64)
                );
            }
        }
        if let Some(text) = &self.pids_limit {
            let n = int_flag(
                "--pids-limit",
                text,
                "a number of processes (-1 or 0 for unlimited)",
            )?;
            r.pids_limit = if n <= 0 { None } else { Some(n) };
        }
        Ok(r)
    }
}

/// A cgroup parent given by `--cgroup-parent`: a relative path without `..`.
pub fn cgroup_parent(text: &str) -> Result<String> {
    let trimmed = text.trim_matches('/');
    if trimmed.is_empty()
        || trimmed
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        bail!("--cgroup-parent {text:?}: expected a path of cgroup names such as tinydocker or jobs/batch");
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host {
            cpus: vec![0, 1],
            mems: vec![0],
        }
    }

    fn limits(f: impl FnOnce(&mut LimitArgs)) -> Result<Resources> {
        let mut a = LimitArgs::default();
        f(&mut a);
        a.resources(&host(), &Resources::default())
    }

    #[test]
    fn sizes_take_b_k_m_g_in_any_case() {
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("10b"), Some(10));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("4K"), Some(4096));
        assert_eq!(parse_size("100m"), Some(100 << 20));
        assert_eq!(parse_size("100MB"), Some(100 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        for bad in ["", "m", "12x", "-1", "1..2m", ".5m", "5.m", "1 2m"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(binary_size(100 << 20), "100MiB");
        assert_eq!(binary_size(3 << 29), "1.5GiB");
    }

    #[test]
    fn cpus_become_quota_and_period() {
        let r = limits(|a| a.cpus = Some("0.5".into())).unwrap();
        assert_eq!((r.cpu_quota, r.cpu_period), (Some(50_000), Some(100_000)));
        let r = limits(|a| a.cpu_quota = Some("20000".into())).unwrap();
        assert_eq!((r.cpu_quota, r.cpu_period), (Some(20_000), Some(100_000)));
    }

    #[test]
    fn bad_limits_are_refused() {
        type Case = (&'static str, Box<dyn Fn(&mut LimitArgs)>);
        let cases: Vec<Case> = vec![
            ("zero cpus", Box::new(|a| a.cpus = Some("0".into()))),
            ("negative cpus", Box::new(|a| a.cpus = Some("-1".into()))),
            ("too many cpus", Box::new(|a| a.cpus = Some("3".into()))),
            ("cpus text", Box::new(|a| a.cpus = Some("half".into()))),
            (
                "cpus and quota",
                Box::new(|a| {
                    a.cpus = Some("1".into());
                    a.cpu_quota = Some("50000".into());
                }),
            ),
            (
                "quota below 1ms",
                Box::new(|a| a.cpu_quota = Some("999".into())),
            ),
            (
                "period too small",
                Box::new(|a| a.cpu_period = Some("999".into())),
            ),
            ("bad size", Box::new(|a| a.memory = Some("12x".into()))),
            (
                "memory too small",
                Box::new(|a| a.memory = Some("1m".into())),
            ),
            (
                "swap below memory",
                Box::new(|a| {
                    a.memory = Some("100m".into());
                    a.memory_swap = Some("50m".into());
                }),
            ),
            (
                "swap without memory",
                Box::new(|a| a.memory_swap = Some("50m".into())),
            ),
            (
                "reservation above memory",
                Box::new(|a| {
                    a.memory = Some("100m".into());
                    a.memory_reservation = Some("200m".into());
                }),
            ),
            (
                "missing cpu",
                Box::new(|a| a.cpuset_cpus = Some("0-3".into())),
            ),
            (
                "bad cpu list",
                Box::new(|a| a.cpuset_cpus = Some("a-b".into())),
            ),
            (
                "missing node",
                Box::new(|a| a.cpuset_mems = Some("1".into())),
            ),
            (
                "shares too small",
                Box::new(|a| a.cpu_shares = Some("1".into())),
            ),
            ("pids text", Box::new(|a| a.pids_limit = Some("ten".into()))),
        ];
        for (what, set) in cases {
            let mut a = LimitArgs::default();
            set(&mut a);
            assert!(
                a.resources(&host(), &Resources::default()).is_err(),
                "{what} accepted"
            );
        }
    }

    #[test]
    fn good_limits() {
        let r = limits(|a| {
            a.memory = Some("100m".into());
            a.memory_swap = Some("-1".into());
            a.memory_reservation = Some("50m".into());
            a.pids_limit = Some("10".into());
            a.cpuset_cpus = Some("0-1".into());
            a.cpu_shares = Some("512".into());
        })
        .unwrap();
        assert_eq!(r.memory, Some(100 << 20));
        assert_eq!(r.memory_swap, Some(-1));
        assert_eq!(r.memory_reservation, Some(50 << 20));
        assert_eq!(r.pids_limit, Some(10));
        assert_eq!(r.cpuset_cpus.as_deref(), Some("0-1"));
        assert_eq!(r.cpu_shares, Some(512));
        assert_eq!(
            limits(|a| a.pids_limit = Some("-1".into()))
                .unwrap()
                .pids_limit,
            None
        );
        assert_eq!(format_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    }

    #[test]
    fn cgroup_parents() {
        assert_eq!(cgroup_parent("/jobs/batch/").unwrap(), "jobs/batch");
        for bad in ["", "/", "a/../b", "a//b", "."] {
            assert!(cgroup_parent(bad).is_err(), "{bad}");
        }
    }
}
