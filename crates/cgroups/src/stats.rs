//! Usage counters of a cgroup, the numbers `docker stats` shows, read from
//! the v1 or v2 control files (cgroups(7)).

use serde::Serialize;

/// What a cgroup has used, and its limits. Counters a host does not provide
/// (a controller not mounted or enabled) read 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Total CPU time used, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// CFS bandwidth periods elapsed while the cgroup had runnable tasks.
    pub nr_periods: u64,
    /// Periods in which the cgroup was throttled.
    pub nr_throttled: u64,
    /// Total time throttled, in nanoseconds.
    pub throttled_ns: u64,
    /// Memory in use, in bytes, minus the inactive file cache (as docker shows it).
    pub memory_usage: u64,
    /// The memory limit in bytes; `None` = unlimited.
    pub memory_limit: Option<u64>,
    /// Processes (and threads) in the cgroup.
    pub pids_current: u64,
    /// The pids limit; `None` = unlimited.
    pub pids_limit: Option<u64>,
    /// Processes the kernel's OOM killer killed in the cgroup.
    pub oom_kills: u64,
    /// Bytes read from block devices (0 when unavailable).
    pub block_read: u64,
    /// Bytes written to block devices (0 when unavailable).
    pub block_write: u64,
}
