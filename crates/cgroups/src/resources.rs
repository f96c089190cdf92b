//! The limits a container asks for, in docker's terms (`--cpus`,
//! `--cpu-shares`, `--cpuset-cpus`, `--memory`, `--memory-swap`,
//! `--memory-reservation`, `--pids-limit`) and the runtime spec's (huge
//! pages, network classes and priorities), before they are mapped onto the
//! v1 or v2 control files (cgroups(7)).

use serde::{Deserialize, Serialize};

use crate::{parse_cpu_list, Error};

/// Resource limits for one cgroup. Every field is optional: `None` leaves
/// the kernel's default (for limits: unlimited).
///
/// ```
/// use tinydocker_cgroups::Resources;
///
/// // docker run --cpus 0.5 --memory 64m --pids-limit 10
/// let res = Resources {
///     cpu_quota: Some(50_000),
///     cpu_period: Some(100_000),
///     memory: Some(64 << 20),
///     pids_limit: Some(10),
///     ..Resources::default()
/// };
/// res.validate()?;
/// # Ok::<(), tinydocker_cgroups::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// CPU time per period, in microseconds; -1 = unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    /// The period, in microseconds (100000 when a quota is set without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<u64>,
    /// Relative CPU weight in v1 units (default 1024; 0 = unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    /// CPUs the processes may run on ("0-2,5").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the processes may allocate from ("0").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset_mems: Option<String>,
    /// Memory limit in bytes; -1 = unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    /// Memory plus swap in bytes (docker's `--memory-swap`); -1 = unlimited swap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    /// Soft limit in bytes (v1 `memory.soft_limit_in_bytes`, v2 `memory.low`); -1 = unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i64>,
    /// Maximum number of processes; -1 or 0 = unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// How eagerly the kernel swaps the cgroup's anonymous memory, 0 to 100
    /// (v1 `memory.swappiness`; v2 has none: refused there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swappiness: Option<u64>,
    /// Processes over the memory limit wait instead of being OOM-killed
    /// (v1 `memory.oom_control`; v2 has none: refused there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_kill_disable: Option<bool>,
    /// cgroup v2 files and their values as they are (`memory.high` ->
    /// `1G`), written after the rest (the runtime spec's `unified`;
    /// refused on v1).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub unified: std::collections::BTreeMap<String, String>,
    /// Relative block I/O weight, 10 to 1000 (v1 `blkio.weight` or
    /// `blkio.bfq.weight`; v2 `io.bfq.weight`, or `io.weight` scaled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blkio_weight: Option<u16>,
    /// The weight on one device: (major, minor, weight).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blkio_weight_device: Vec<(u64, u64, u16)>,
    /// Read and write limits on devices (v1 `blkio.throttle.*`, v2 `io.max`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blkio_throttle: Vec<Throttle>,
    /// Huge page limits, one per page size (v1
    /// `hugetlb.<size>.limit_in_bytes`, v2 `hugetlb.<size>.max`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hugepage_limits: Vec<HugepageLimit>,
    /// The class id of the cgroup's network packets, for `tc` and
    /// iptables to match (v1 `net_cls.classid`; v2 has no such
    /// controller: ignored there, as runc ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_cls_classid: Option<u32>,
    /// The priority of the cgroup's traffic on each interface (v1
    /// `net_prio.ifpriomap`, one write each; ignored on v2 as runc ignores it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub net_prio_ifpriomap: Vec<NetPriority>,
}

/// A limit on the huge pages of one size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugepageLimit {
    /// The page size as the kernel names it in its files: `2MB`, `1GB`, `64KB`.
    pub page_size: String,
    /// Bytes of huge pages of that size the cgroup may use (the kernel
    /// rounds it down to whole pages).
    pub limit: u64,
}

/// The priority of a cgroup's traffic on one network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetPriority {
    /// The interface's name in the host's (initial) network namespace:
    /// the kernel looks it up there, whatever namespace the container has.
    pub interface: String,
    /// The priority its sockets' packets get (`SO_PRIORITY`).
    pub priority: u32,
}

/// A limit on one block device's I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    /// What is limited.
    pub kind: ThrottleKind,
    /// The device's major number.
    pub major: u64,
    /// The device's minor number.
    pub minor: u64,
    /// Bytes or operations per second.
    pub rate: u64,
}

/// What a [`Throttle`] limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThrottleKind {
    /// Bytes read per second.
    ReadBps,
    /// Bytes written per second.
    WriteBps,
    /// Read operations per second.
    ReadIops,
    /// Write operations per second.
    WriteIops,
}

impl ThrottleKind {
    /// The v1 file (`blkio.throttle.read_bps_device`, ...).
    pub fn v1_file(self) -> &'static str {
        match self {
            ThrottleKind::ReadBps => "blkio.throttle.read_bps_device",
            ThrottleKind::WriteBps => "blkio.throttle.write_bps_device",
            ThrottleKind::ReadIops => "blkio.throttle.read_iops_device",
            ThrottleKind::WriteIops => "blkio.throttle.write_iops_device",
        }
    }

    /// The v2 `io.max` key (`rbps`, ...).
    pub fn v2_key(self) -> &'static str {
        match self {
            ThrottleKind::ReadBps => "rbps",
            ThrottleKind::WriteBps => "wbps",
            ThrottleKind::ReadIops => "riops",
            ThrottleKind::WriteIops => "wiops",
        }
    }
}

/// The period the kernel uses, and that docker's `--cpus` assumes.
pub(crate) const DEFAULT_CPU_PERIOD: u64 = 100_000;

impl Resources {
    /// These limits over `base`: each one set here replaces base's, the
    /// others stay (an update that names only some).
    pub fn over(&self, base: &Resources) -> Resources {
        Resources {
            cpu_quota: self.cpu_quota.or(base.cpu_quota),
            cpu_period: self.cpu_period.or(base.cpu_period),
            cpu_shares: self.cpu_shares.or(base.cpu_shares),
            cpuset_cpus: self
                .cpuset_cpus
                .clone()
                .or_else(|| base.cpuset_cpus.clone()),
            cpuset_mems: self
                .cpuset_mems
                .clone()
                .or_else(|| base.cpuset_mems.clone()),
            memory: self.memory.or(base.memory),
            memory_swap: self.memory_swap.or(base.memory_swap),
            memory_reservation: self.memory_reservation.or(base.memory_reservation),
            pids_limit: self.pids_limit.or(base.pids_limit),
            memory_swappiness: self.memory_swappiness.or(base.memory_swappiness),
            oom_kill_disable: self.oom_kill_disable.or(base.oom_kill_disable),
            blkio_weight: self.blkio_weight.or(base.blkio_weight),
            blkio_weight_device: if self.blkio_weight_device.is_empty() {
                base.blkio_weight_device.clone()
            } else {
                self.blkio_weight_device.clone()
            },
            blkio_throttle: if self.blkio_throttle.is_empty() {
                base.blkio_throttle.clone()
            } else {
                self.blkio_throttle.clone()
            },
            unified: base
                .unified
                .iter()
                .chain(&self.unified)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            // Keyed lists: an update that names one page size or interface
            // leaves the others as they are, in the cgroup as in the record.
            hugepage_limits: merge_by(&base.hugepage_limits, &self.hugepage_limits, |l| {
                &l.page_size
            }),
            net_cls_classid: self.net_cls_classid.or(base.net_cls_classid),
            net_prio_ifpriomap: merge_by(&base.net_prio_ifpriomap, &self.net_prio_ifpriomap, |p| {
                &p.interface
            }),
        }
    }

    /// Check the combinations the kernel would refuse or misread, with the
    /// same rules as runc: a swap limit needs a memory limit no larger than
    /// it; sizes and counts are -1 or positive; cpu lists parse.
    /// [`Manager::apply`](crate::Manager::apply) calls this first.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Err(Error::InvalidResources { reason });
        for (name, value) in [
            ("memory", self.memory),
            ("memory swap", self.memory_swap),
            ("memory reservation", self.memory_reservation),
            ("pids limit", self.pids_limit),
        ] {
            if let Some(v) = value {
                if v < -1 {
                    return invalid(format!(
                        "{name} {v}: expected -1 (unlimited) or a positive number"
                    ));
                }
            }
        }
        if let Some(q) = self.cpu_quota {
            if q == 0 || q < -1 {
                return invalid(format!(
                    "cpu quota {q}: expected -1 (unlimited) or a positive number of microseconds"
                ));
            }
        }
        let weights = self
            .blkio_weight
            .iter()
            .chain(self.blkio_weight_device.iter().map(|(_, _, w)| w));
        for w in weights {
            if !(10..=1000).contains(w) {
                return invalid(format!("block I/O weight {w}: expected 10 to 1000"));
            }
        }
        for key in self.unified.keys() {
            let (controller, _) = key.split_once('.').unwrap_or_default();
            if controller.is_empty() || key.contains('/') || controller == "cgroup" {
                return invalid(format!(
                    "unified {key:?}: expected a controller's file such as memory.high"
                ));
            }
        }
        if let Some(s) = self.memory_swappiness.filter(|s| *s > 100) {
            return invalid(format!("memory swappiness {s}: expected 0 to 100"));
        }
        if self.cpu_period == Some(0) {
            return invalid("cpu period 0: expected a positive number of microseconds".into());
        }
        if let Some(swap) = self.memory_swap {
            if swap != -1 {
                match self.memory {
                    None | Some(-1) => {
                        return invalid("a memory+swap limit needs a memory limit too".into())
                    }
                    Some(memory) if swap < memory => {
                        return invalid(format!(
                            "memory+swap limit {swap} is smaller than the memory limit {memory}"
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        if let Some(cpus) = &self.cpuset_cpus {
            parse_cpu_list(cpus)?;
        }
        if let Some(mems) = &self.cpuset_mems {
            parse_cpu_list(mems)?;
        }
        // Both end up in a control file's name or a line of one: anything
        // else could name another file or split into two commands.
        for l in &self.hugepage_limits {
            if !is_page_size(&l.page_size) {
                return invalid(format!(
                    "huge page size {:?}: expected a size such as 2MB or 1GB",
                    l.page_size
                ));
            }
        }
        for p in &self.net_prio_ifpriomap {
            if !is_interface_name(&p.interface) {
                return invalid(format!(
                    "network priority for {:?}: expected an interface name such as eth0",
                    p.interface
                ));
            }
        }
        Ok(())
    }
}

/// `base` with each entry of `over` in place of base's entry of the same
/// key, or after them when base has none.
fn merge_by<T: Clone, K: PartialEq + ?Sized>(
    base: &[T],
    over: &[T],
    key: impl Fn(&T) -> &K,
) -> Vec<T> {
    let mut out = base.to_vec();
    for entry in over {
        match out.iter_mut().find(|b| key(b) == key(entry)) {
            Some(b) => *b = entry.clone(),
            None => out.push(entry.clone()),
        }
    }
    out
}

/// A page size as the kernel writes it in hugetlb file names: a number
/// and KB, MB or GB.
fn is_page_size(size: &str) -> bool {
    let number = ["KB", "MB", "GB"]
        .iter()
        .find_map(|unit| size.strip_suffix(unit));
    number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A name the kernel accepts for a network interface (its
/// `dev_valid_name`): 1 to 15 bytes, not `.` or `..`, no `/`, `:` or
/// white space.
fn is_interface_name(name: &str) -> bool {
    (1..16).contains(&name.len())
        && name != "."
        && name != ".."
        && !name.contains(|c: char| c == '/' || c == ':' || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate() {
        assert!(Resources::default().validate().is_ok());
        let ok = Resources {
            memory: Some(64 << 20),
            memory_swap: Some(128 << 20),
            cpu_quota: Some(-1),
            pids_limit: Some(0),
            cpuset_cpus: Some("0-1".into()),
            ..Resources::default()
        };
        assert!(ok.validate().is_ok());
        let unlimited_swap = Resources {
            memory_swap: Some(-1),
            ..Resources::default()
        };
        assert!(unlimited_swap.validate().is_ok());
        for bad in [
            Resources {
                memory_swap: Some(1 << 20),
                ..Resources::default()
            },
            Resources {
                memory: Some(2 << 20),
                memory_swap: Some(1 << 20),
                ..Resources::default()
            },
            Resources {
                memory: Some(-2),
                ..Resources::default()
            },
            Resources {
                cpu_quota: Some(0),
                ..Resources::default()
            },
            Resources {
                cpu_period: Some(0),
                ..Resources::default()
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::InvalidResources { .. })),
                "{bad:?}"
            );
        }
        let bad_cpus = Resources {
            cpuset_cpus: Some("1-".into()),
            ..Resources::default()
        };
        assert!(matches!(bad_cpus.validate(), Err(Error::CpuList { .. })));
    }

    #[test]
    fn page_sizes_and_interface_names() {
        let pages = |size: &str| Resources {
            hugepage_limits: vec![HugepageLimit {
                page_size: size.into(),
                limit: 1 << 21,
            }],
            ..Resources::default()
        };
        for good in ["2MB", "1GB", "64KB"] {
            assert!(pages(good).validate().is_ok(), "{good}");
        }
        for bad in ["", "MB", "2M", "2mb", "2 MB", "../2MB", "2MB.max"] {
            let err = pages(bad).validate().unwrap_err();
            assert!(matches!(err, Error::InvalidResources { .. }), "{bad}");
        }
        assert_eq!(
            pages("2M").validate().unwrap_err().to_string(),
            "invalid resources: huge page size \"2M\": expected a size such as 2MB or 1GB"
        );
        let prio = |name: &str| Resources {
            net_prio_ifpriomap: vec![NetPriority {
                interface: name.into(),
                priority: 5,
            }],
            ..Resources::default()
        };
        for good in ["lo", "eth0", "veth1234567890a"] {
            assert!(prio(good).validate().is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "eth0:1",
            "eth0 5",
            "lo\n",
            "veth1234567890ab",
        ] {
            assert!(prio(bad).validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn over_replaces_keyed_entries_one_by_one() {
        let limit = |size: &str, limit: u64| HugepageLimit {
            page_size: size.into(),
            limit,
        };
        let prio = |name: &str, priority: u32| NetPriority {
            interface: name.into(),
            priority,
        };
        let base = Resources {
            memory: Some(1 << 20),
            hugepage_limits: vec![limit("2MB", 2 << 20), limit("1GB", 1 << 30)],
            net_cls_classid: Some(7),
            net_prio_ifpriomap: vec![prio("lo", 1)],
            ..Resources::default()
        };
        let update = Resources {
            hugepage_limits: vec![limit("1GB", 0)],
            net_prio_ifpriomap: vec![prio("eth0", 3), prio("lo", 2)],
            ..Resources::default()
        };
        let merged = update.over(&base);
        assert_eq!(
            merged.hugepage_limits,
            [limit("2MB", 2 << 20), limit("1GB", 0)]
        );
        assert_eq!(merged.net_prio_ifpriomap, [prio("lo", 2), prio("eth0", 3)]);
        assert_eq!(merged.net_cls_classid, Some(7));
        assert_eq!(merged.memory, Some(1 << 20));
        assert_eq!(Resources::default().over(&base), base);
    }

    #[test]
    fn serde_round_trip() {
        let res = Resources {
            memory: Some(1 << 20),
            cpuset_cpus: Some("0".into()),
            ..Resources::default()
        };
        let json = serde_json::to_string(&res).unwrap();
        assert_eq!(json, r#"{"cpuset_cpus":"0","memory":1048576}"#);
        assert_eq!(serde_json::from_str::<Resources>(&json).unwrap(), res);
        assert_eq!(
            serde_json::from_str::<Resources>("{}").unwrap(),
            Resources::default()
        );
    }
}
