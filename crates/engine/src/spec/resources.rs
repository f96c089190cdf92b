//! `linux.resources` of a spec and the cgroup manager's [`Resources`] and
//! [`DeviceRule`]s, both ways: the spec is what a container records; the
//! cgroups crate writes the control files.

use oci_spec::runtime::{
    LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxHugepageLimit, LinuxInterfacePriority,
    LinuxMemory, LinuxNetwork, LinuxPids, LinuxResources,
};
use tinydocker_cgroups::{
    AnyManager, DeviceRule, DeviceType, HugepageLimit, Manager, NetPriority, Resources,
};

use crate::error::{invalid, Result};

/// The limits of `linux.resources` for the cgroup manager. What it cannot
/// write (RDMA, the rarer memory and CPU knobs) is refused by name rather
/// than ignored.
pub fn resources_from_spec(r: &LinuxResources) -> Result<Resources> {
    let unsupported =
        |what: &str| invalid!("linux.resources.{what} is not supported by tinydocker");
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(unsupported("rdma"));
    }
    let mut out = Resources {
        unified: r
            .unified()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..Resources::default()
    };
    if let Some(m) = r.memory() {
        // memory.kernel and memory.kernelTCP are left alone, as runc
        // leaves them: the kernel's own kernel-memory limits are gone
        // (Linux 5.16 no longer enforces them; 6.x has no file for them).
        out.memory_swappiness = m.swappiness();
        out.oom_kill_disable = m.disable_oom_killer();
        out.memory = set(m.limit());
        out.memory_swap = set(m.swap());
        out.memory_reservation = set(m.reservation());
    }
    if let Some(c) = r.cpu() {
        if set(c.realtime_runtime()).is_some() || set(c.realtime_period()).is_some() {
            return Err(unsupported("cpu.realtimeRuntime"));
        }
        if set(c.idle()).is_some() || set(c.burst()).is_some() {
            return Err(unsupported("cpu.idle"));
        }
        out.cpu_quota = set(c.quota());
        out.cpu_period = set(c.period());
        out.cpu_shares = set(c.shares());
        out.cpuset_cpus = c.cpus().clone().filter(|s| !s.is_empty());
        out.cpuset_mems = c.mems().clone().filter(|s| !s.is_empty());
    }
    if let Some(p) = r.pids() {
        out.pids_limit = (p.limit() > 0).then_some(p.limit());
    }
    if let Some(b) = r.block_io() {
        block_io_from_spec(b, &mut out)?;
    }
    for (i, l) in r.hugepage_limits().iter().flatten().enumerate() {
        // 0 is a limit here (no huge pages of that size), not "unset":
        // dockerd only writes the sizes it was asked for.
        let limit = u64::try_from(l.limit()).map_err(|_| {
            invalid!(
                "linux.resources.hugepageLimits[{i}]: limit {} is negative",
                l.limit()
            )
        })?;
        out.hugepage_limits.push(HugepageLimit {
            page_size: l.page_size().clone(),
            limit,
        });
    }
    if let Some(n) = r.network() {
        // Class 0 is the kernel's "no class", as runc reads it too.
        out.net_cls_classid = set(n.class_id());
        out.net_prio_ifpriomap = n
            .priorities()
            .iter()
            .flatten()
            .map(|p| NetPriority {
                interface: p.name().clone(),
                priority: p.priority(),
            })
            .collect();
    }
    out.validate()?;
    Ok(out)
}

/// Refuse limits whose v1 hierarchy this host has not mounted (no
/// hugetlb, say), naming the spec's field, before any cgroup is made.
/// v2 has one hierarchy: a controller it lacks fails at apply.
pub fn check_hierarchies(r: &Resources, cgroup: &AnyManager) -> Result<()> {
    let AnyManager::V1(v1) = cgroup else {
        return Ok(());
    };
    let Some(missing) = cgroup
        .plan(r)
        .into_iter()
        .find(|w| v1.dir(&w.controller).is_none())
    else {
        return Ok(());
    };
    let field = match missing.controller.as_str() {
        "cpu" | "cpuset" => "cpu",
        "blkio" => "blockIO",
        "hugetlb" => "hugepageLimits",
        "net_cls" | "net_prio" => "network",
        other => other,
    };
    Err(invalid!(
        "linux.resources.{field}: this host has no {} cgroup hierarchy",
        missing.controller
    ))
}

/// A limit the spec gives as 0 is no limit: dockerd writes every field,
/// 0 where the user set none (runc reads them so too).
fn set<T: Default + PartialEq>(value: Option<T>) -> Option<T> {
    value.filter(|v| *v != T::default())
}

/// `linux.resources.blockIO`: the weights and the throttles. A leaf
/// weight (CFQ's, gone from the kernel) is refused.
fn block_io_from_spec(b: &oci_spec::runtime::LinuxBlockIo, out: &mut Resources) -> Result<()> {
    use tinydocker_cgroups::{Throttle, ThrottleKind};
    let number = |n: i64, what: &str| {
        u64::try_from(n).map_err(|_| invalid!("linux.resources.blockIO: bad {what} number {n}"))
    };
    if b.leaf_weight().is_some()
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some())
    {
        return Err(invalid!(
            "linux.resources.blockIO.leafWeight is not supported by tinydocker (the kernel's CFQ scheduler is gone)"
        ));
    }
    out.blkio_weight = set(b.weight());
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            out.blkio_weight_device.push((
                number(d.major(), "major")?,
                number(d.minor(), "minor")?,
                w,
            ));
        }
    }
    let lists = [
        (ThrottleKind::ReadBps, b.throttle_read_bps_device()),
        (ThrottleKind::WriteBps, b.throttle_write_bps_device()),
        (ThrottleKind::ReadIops, b.throttle_read_iops_device()),
        (ThrottleKind::WriteIops, b.throttle_write_iops_device()),
    ];
    for (kind, list) in lists {
        for d in list.iter().flatten() {
            out.blkio_throttle.push(Throttle {
                kind,
                major: number(d.major(), "major")?,
                minor: number(d.minor(), "minor")?,
                rate: d.rate(),
            });
        }
    }
    Ok(())
}

fn block_io_to_spec(r: &Resources) -> oci_spec::runtime::LinuxBlockIo {
    use oci_spec::runtime::{
        LinuxBlockIo, LinuxThrottleDevice, LinuxThrottleDeviceBuilder, LinuxWeightDevice,
        LinuxWeightDeviceBuilder,
    };
    use tinydocker_cgroups::ThrottleKind;
    let mut b = LinuxBlockIo::default();
    b.set_weight(r.blkio_weight);
    let weights: Vec<LinuxWeightDevice> = r
        .blkio_weight_device
        .iter()
        .map(|(major, minor, w)| {
            LinuxWeightDeviceBuilder::default()
                .major(*major as i64)
                .minor(*minor as i64)
                .weight(*w)
                .build()
                .expect("every field has a default")
        })
        .collect();
    b.set_weight_device((!weights.is_empty()).then_some(weights));
    let of = |kind: ThrottleKind| -> Option<Vec<LinuxThrottleDevice>> {
        let list: Vec<LinuxThrottleDevice> = r
            .blkio_throttle
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| {
                LinuxThrottleDeviceBuilder::default()
                    .major(t.major as i64)
                    .minor(t.minor as i64)
                    .rate(t.rate)
                    .build()
                    .expect("every field has a default")
            })
            .collect();
        (!list.is_empty()).then_some(list)
    };
    b.set_throttle_read_bps_device(of(ThrottleKind::ReadBps));
    b.set_throttle_write_bps_device(of(ThrottleKind::WriteBps));
    b.set_throttle_read_iops_device(of(ThrottleKind::ReadIops));
    b.set_throttle_write_iops_device(of(ThrottleKind::WriteIops));
    b
}

/// `base` (the container's `linux.resources`, to keep its device rules)
/// with the limits of `r` in it.
pub fn resources_to_spec(r: &Resources, base: Option<&LinuxResources>) -> LinuxResources {
    let mut out = base.cloned().unwrap_or_default();
    let memory = (r.memory.is_some()
        || r.memory_swap.is_some()
        || r.memory_reservation.is_some()
        || r.memory_swappiness.is_some()
        || r.oom_kill_disable.is_some())
    .then(|| {
        let mut m = LinuxMemory::default();
        m.set_limit(r.memory);
        m.set_swap(r.memory_swap);
        m.set_reservation(r.memory_reservation);
        m.set_swappiness(r.memory_swappiness);
        m.set_disable_oom_killer(r.oom_kill_disable);
        m
    });
    out.set_memory(memory);
    let cpu_set = r.cpu_quota.is_some()
        || r.cpu_period.is_some()
        || r.cpu_shares.is_some()
        || r.cpuset_cpus.is_some()
        || r.cpuset_mems.is_some();
    out.set_cpu(cpu_set.then(|| {
        let mut c = LinuxCpu::default();
        c.set_quota(r.cpu_quota);
        c.set_period(r.cpu_period);
        c.set_shares(r.cpu_shares);
        c.set_cpus(r.cpuset_cpus.clone());
        c.set_mems(r.cpuset_mems.clone());
        c
    }));
    out.set_unified((!r.unified.is_empty()).then(|| r.unified.clone().into_iter().collect()));
    let block = r.blkio_weight.is_some()
        || !r.blkio_weight_device.is_empty()
        || !r.blkio_throttle.is_empty();
    out.set_block_io(block.then(|| block_io_to_spec(r)));
    out.set_pids(r.pids_limit.map(|limit| {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        p
    }));
    let hugepages: Vec<LinuxHugepageLimit> = r
        .hugepage_limits
        .iter()
        .map(|l| {
            let mut h = LinuxHugepageLimit::default();
            h.set_page_size(l.page_size.clone());
            // Below i64::MAX: the kernel's limits are page counts in a long.
            h.set_limit(i64::try_from(l.limit).unwrap_or(i64::MAX));
            h
        })
        .collect();
    out.set_hugepage_limits((!hugepages.is_empty()).then_some(hugepages));
    let network = r.net_cls_classid.is_some() || !r.net_prio_ifpriomap.is_empty();
    out.set_network(network.then(|| {
        let mut n = LinuxNetwork::default();
        n.set_class_id(r.net_cls_classid);
        let priorities: Vec<LinuxInterfacePriority> = r
            .net_prio_ifpriomap
            .iter()
            .map(|p| {
                let mut i = LinuxInterfacePriority::default();
                i.set_name(p.interface.clone());
                i.set_priority(p.priority);
                i
            })
            .collect();
        n.set_priorities((!priorities.is_empty()).then_some(priorities));
        n
    }));
    out
}

/// The device cgroup's rules of `linux.resources.devices`, without a first
/// "deny everything" (the manager's allow-list starts from that), and
/// then, as runc adds them, the devices every container gets (its
/// `/dev/null`, terminals, ...) that the spec did not list already.
pub fn device_rules(r: Option<&LinuxResources>) -> Result<Vec<DeviceRule>> {
    let mut out = spec_device_rules(r)?;
    for rule in DeviceRule::default_allowed() {
        if !out.contains(&rule) {
            out.push(rule);
        }
    }
    Ok(out)
}

fn spec_device_rules(r: Option<&LinuxResources>) -> Result<Vec<DeviceRule>> {
    let Some(rules) = r.and_then(|r| r.devices().as_ref()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let kind = match rule.typ() {
            None | Some(LinuxDeviceType::A) => DeviceType::All,
            Some(LinuxDeviceType::C | LinuxDeviceType::U) => DeviceType::Char,
            Some(LinuxDeviceType::B) => DeviceType::Block,
            Some(LinuxDeviceType::P) => {
                return Err(invalid!(
                "linux.resources.devices[{i}]: the device cgroup has no rules for FIFOs (type p)"
            ))
            }
        };
        let access = rule.access().clone().unwrap_or_else(|| "rwm".to_string());
        if i == 0 && !rule.allow() && kind == DeviceType::All && access.len() == 3 {
            continue;
        }
        let out_rule = DeviceRule {
            allow: rule.allow(),
            kind,
            major: rule.major().filter(|m| *m >= 0),
            minor: rule.minor().filter(|m| *m >= 0),
            access,
        };
        out_rule.validate()?;
        out.push(out_rule);
    }
    Ok(out)
}

/// `rules` as `linux.resources.devices`, after docker's first rule that
/// denies everything.
pub fn device_rules_to_spec(rules: &[DeviceRule]) -> Vec<LinuxDeviceCgroup> {
    let deny_all = {
        let mut d = LinuxDeviceCgroup::default();
        d.set_allow(false);
        d.set_access(Some("rwm".to_string()));
        d
    };
    std::iter::once(deny_all)
        .chain(rules.iter().map(|rule| {
            let mut d = LinuxDeviceCgroup::default();
            d.set_allow(rule.allow);
            d.set_typ(Some(match rule.kind {
                DeviceType::All => LinuxDeviceType::A,
                DeviceType::Char => LinuxDeviceType::C,
                DeviceType::Block => LinuxDeviceType::B,
            }));
            d.set_major(rule.major);
            d.set_minor(rule.minor);
            d.set_access(Some(rule.access.clone()));
            d
        }))
        .collect()
}

/// Whether the rules let the container use every device (`a *:* rwm`
/// allowed and nothing denied after it): a privileged container.
pub fn allows_all_devices(rules: &[DeviceRule]) -> bool {
    rules
        .iter()
        .rposition(|r| r.allow && r.kind == DeviceType::All)
        .is_some_and(|i| rules[i + 1..].iter().all(|r| r.allow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_go_both_ways() {
        let r = Resources {
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0-1".into()),
            memory: Some(64 << 20),
            memory_swap: Some(-1),
            memory_reservation: Some(32 << 20),
            pids_limit: Some(20),
            blkio_weight: Some(300),
            blkio_weight_device: vec![(8, 0, 200)],
            blkio_throttle: vec![tinydocker_cgroups::Throttle {
                kind: tinydocker_cgroups::ThrottleKind::WriteIops,
                major: 8,
                minor: 16,
                rate: 100,
            }],
            hugepage_limits: vec![
                HugepageLimit {
                    page_size: "2MB".into(),
                    limit: 8 << 20,
                },
                HugepageLimit {
                    page_size: "1GB".into(),
                    limit: 0,
                },
            ],
            net_cls_classid: Some(0x0010_0001),
            net_prio_ifpriomap: vec![NetPriority {
                interface: "eth0".into(),
                priority: 5,
            }],
            ..Resources::default()
        };
        let spec = resources_to_spec(&r, None);
        assert_eq!(resources_from_spec(&spec).unwrap(), r);
        assert_eq!(
            resources_from_spec(&resources_to_spec(&Resources::default(), None)).unwrap(),
            Resources::default()
        );
    }

    /// What dockerd sends for a container without limits (and with
    /// `docker update --memory 64m`): zeros are no limits.
    #[test]
    fn dockerd_zeros_are_no_limits() {
        let spec: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":67108864,"reservation":0,"swap":0,"kernel":0},
                "cpu":{"shares":0,"quota":0,"period":0,"realtimeRuntime":0,"realtimePeriod":0},
                "blockIO":{"weight":0},"pids":{"limit":0}}"#,
        )
        .unwrap();
        let r = resources_from_spec(&spec).unwrap();
        assert_eq!(
            r,
            Resources {
                memory: Some(67108864),
                ..Resources::default()
            }
        );
    }

    #[test]
    fn what_the_manager_cannot_write_is_refused() {
        let mut spec = LinuxResources::default();
        spec.set_rdma(Some([("mlx4_0".to_string(), Default::default())].into()));
        let err = resources_from_spec(&spec).unwrap_err().to_string();
        assert_eq!(err, "linux.resources.rdma is not supported by tinydocker");
        // unified goes through as it is, and back.
        let mut spec = LinuxResources::default();
        spec.set_unified(Some([("memory.high".to_string(), "1".to_string())].into()));
        let r = resources_from_spec(&spec).unwrap();
        assert_eq!(r.unified["memory.high"], "1");
        assert_eq!(resources_to_spec(&r, None).unified(), spec.unified());
    }

    /// The runtime spec's JSON, as runtime-tools' validation writes it.
    #[test]
    fn hugepages_and_network_from_the_spec() {
        let spec: LinuxResources = serde_json::from_str(
            r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304},{"pageSize":"1GB","limit":0}],
                "network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5},{"name":"lo","priority":3}]}}"#,
        )
        .unwrap();
        let r = resources_from_spec(&spec).unwrap();
        assert_eq!(
            r.hugepage_limits,
            [
                HugepageLimit {
                    page_size: "2MB".into(),
                    limit: 4 << 20
                },
                HugepageLimit {
                    page_size: "1GB".into(),
                    limit: 0
                }
            ]
        );
        assert_eq!(r.net_cls_classid, Some(1048577));
        assert_eq!(
            r.net_prio_ifpriomap,
            [
                NetPriority {
                    interface: "eth0".into(),
                    priority: 5
                },
                NetPriority {
                    interface: "lo".into(),
                    priority: 3
                }
            ]
        );
        assert_eq!(
            serde_json::to_value(resources_to_spec(&r, None)).unwrap(),
            serde_json::to_value(&spec).unwrap()
        );
        // Class 0 and an empty network are no class, as dockerd sends them.
        let none: LinuxResources =
            serde_json::from_str(r#"{"network":{"classID":0,"priorities":[]}}"#).unwrap();
        assert_eq!(resources_from_spec(&none).unwrap(), Resources::default());

        for (json, message) in [
            (
                r#"{"hugepageLimits":[{"pageSize":"2MB","limit":-1}]}"#,
                "linux.resources.hugepageLimits[0]: limit -1 is negative",
            ),
            (
                r#"{"hugepageLimits":[{"pageSize":"../2MB","limit":1}]}"#,
                "invalid resources: huge page size \"../2MB\": expected a size such as 2MB or 1GB",
            ),
            (
                r#"{"network":{"priorities":[{"name":"eth0 1","priority":5}]}}"#,
                "invalid resources: network priority for \"eth0 1\": expected an interface name such as eth0",
            ),
        ] {
            let spec: LinuxResources = serde_json::from_str(json).unwrap();
            let err = resources_from_spec(&spec).unwrap_err();
            assert_eq!(err.one_line(), message, "{json}");
        }
    }

    /// A v1 host without the hugetlb and net_cls,net_prio hierarchies (as
    /// this dev host): their limits are refused by their spec names.
    #[test]
    fn limits_without_their_hierarchy_are_refused_by_name() {
        let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/hugetlb rw,relatime - cgroup cgroup rw,hugetlb
";
        let hugetlb_only = tinydocker_cgroups::Layout::from_mountinfo(mountinfo).unwrap();
        let memory_only = tinydocker_cgroups::Layout::from_mountinfo(
            &mountinfo.replace("rw,hugetlb", "rw,name=x"),
        )
        .unwrap();
        let unified = tinydocker_cgroups::Layout::Unified {
            root: "/sys/fs/cgroup".into(),
        };
        let spec: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":1048576},"hugepageLimits":[{"pageSize":"2MB","limit":2097152}],
                "network":{"priorities":[{"name":"lo","priority":1}]}}"#,
        )
        .unwrap();
        let r = resources_from_spec(&spec).unwrap();
        let check = |layout| {
            check_hierarchies(&r, &AnyManager::new(layout, "tinydocker/x"))
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            check(&memory_only),
            Err("linux.resources.hugepageLimits: this host has no hugetlb cgroup hierarchy".into())
        );
        assert_eq!(
            check(&hugetlb_only),
            Err("linux.resources.network: this host has no net_prio cgroup hierarchy".into())
        );
        assert_eq!(check(&unified), Ok(()));
        let memory = Resources {
            memory: Some(1 << 20),
            ..Resources::default()
        };
        assert!(check_hierarchies(&memory, &AnyManager::new(&memory_only, "x")).is_ok());
    }

    #[test]
    fn device_rules_round_trip_without_the_first_deny() {
        let rules = DeviceRule::default_allowed();
        let spec = device_rules_to_spec(&rules);
        assert_eq!(spec.len(), rules.len() + 1);
        let mut r = LinuxResources::default();
        r.set_devices(Some(spec));
        assert_eq!(device_rules(Some(&r)).unwrap(), rules);
        // A spec without rules gets the defaults; one with others gets
        // them after its own.
        assert_eq!(device_rules(None).unwrap(), rules);
        let fuse = DeviceRule::allow(DeviceType::Char, Some(10), Some(229), "rwm");
        r.set_devices(Some(device_rules_to_spec(std::slice::from_ref(&fuse))));
        let got = device_rules(Some(&r)).unwrap();
        assert_eq!(got[0], fuse);
        assert_eq!(got[1..], rules[..]);
        assert!(!allows_all_devices(&rules));
        assert!(allows_all_devices(&[DeviceRule::allow_all()]));
    }
}
