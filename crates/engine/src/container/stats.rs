//! A reading of a container's usage: CPU, memory, block I/O and pids from
//! its cgroup, network bytes from `/proc/PID/net/dev` as its init sees it.

use std::time::Instant;

use tinydocker_cgroups::{Layout, Manager, Stats};

use crate::store::Container;

/// One reading of one container.
#[derive(Debug, Clone)]
pub struct Sample {
    /// From its cgroup (None when it has none, or it is gone).
    pub stats: Option<Stats>,
    /// Received and sent bytes over every interface but `lo`.
    pub net: (u64, u64),
    /// When it was read.
    pub at: Instant,
}

pub(crate) fn sample(c: &Container) -> Sample {
    Sample {
        stats: Layout::detect()
            .ok()
            .and_then(|layout| c.cgroup(&layout).ok().flatten())
            .and_then(|m| m.stats().ok()),
        net: net_io(c.state.pid),
        at: Instant::now(),
    }
}

/// Received and sent bytes over every interface but `lo`, as the
/// container's init sees them.
fn net_io(pid: i32) -> (u64, u64) {
    if pid <= 0 {
        return (0, 0);
    }
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/dev")) else {
        return (0, 0);
    };
    let mut total = (0, 0);
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if fields.len() >= 9 {
            total.0 += fields[0];
            total.1 += fields[8];
        }
    }
    total
}

/// The host's memory in bytes (`MemTotal` of `/proc/meminfo`).
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}
