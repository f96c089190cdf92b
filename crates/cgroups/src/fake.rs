//! Test helpers: a fake cgroupfs in a temp dir. A plain directory does not
//! grow control files as cgroupfs does, so tests create the files a kernel
//! would have.

use std::path::Path;

/// Create `dir` (and its parents) with these control files.
pub(crate) fn cgroup(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}

/// Delete the files of `dir` (not its subdirectories), as rmdir on
/// cgroupfs would do, so the test's rmdir can succeed.
pub(crate) fn drop_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A pid no kernel hands out (pid_max is at most 2^22), so nothing real can
/// be signalled by mistake.
pub(crate) const FAKE_PID: i32 = 2_000_000_000;

/// Every resource set, for plan snapshots of both versions.
pub(crate) fn full() -> crate::Resources {
    crate::Resources {
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        cpu_shares: Some(512),
        cpuset_cpus: Some("0-1".into()),
        cpuset_mems: Some("0".into()),
        memory: Some(64 << 20),
        memory_swap: Some(128 << 20),
        memory_reservation: Some(32 << 20),
        pids_limit: Some(10),
        // v1-only knobs (refused on v2): see the v1 memory tests.
        memory_swappiness: None,
        oom_kill_disable: None,
        unified: Default::default(),
        blkio_weight: None,
        blkio_weight_device: Vec::new(),
        blkio_throttle: Vec::new(),
        hugepage_limits: vec![crate::HugepageLimit {
            page_size: "2MB".into(),
            limit: 8 << 20,
        }],
        // v1 only (v2 ignores them). One interface: the fake files keep
        // every write, one after the other (see the v1 net_prio tests).
        net_cls_classid: Some(0x0010_0001),
        net_prio_ifpriomap: vec![crate::NetPriority {
            interface: "eth0".into(),
            priority: 5,
        }],
    }
}

/// A few resources, "unlimited" values included.
pub(crate) fn minimal() -> crate::Resources {
    crate::Resources {
        cpu_quota: Some(50_000),
        memory: Some(-1),
        pids_limit: Some(0),
        ..crate::Resources::default()
    }
}
