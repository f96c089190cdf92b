//! The v1 manager: one cgroup, with a directory of the same relative path
//! in each controller hierarchy it uses (cgroups(7)).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::blkio::Blkio;
use super::cpu::Cpu;
use super::cpuacct::CpuAcct;
use super::cpuset::CpuSet;
use super::devices::Devices;
use super::freezer::Freezer;
use super::hugetlb::Hugetlb;
use super::memory::Memory;
use super::net_cls::NetCls;
use super::net_prio::NetPrio;
use super::pids::Pids;
use crate::common::{
    self, is_busy, mkdir, procs_recursive, read_procs, relative, remove_tree, retry_vanished,
    rmdir_fast, wait_exited, write_file, Controller, Write, REMOVE_ATTEMPTS,
};
use crate::devices::validate_all;
use crate::sys::{self, is_errno, WAIT_TIMEOUT};
use crate::{DeviceControl, DeviceRule, Error, Mount, Resources, Stats};

/// The controllers a container's cgroup lives in, in the order their
/// hierarchies are visited; those the host has not mounted are left out.
/// `devices` holds no limit of [`Resources`] but the allow-list of
/// [`set_devices`](common::Manager::set_devices), which binds a process
/// only once it has joined that hierarchy's cgroup too. So does every
/// limit: the container joins hugetlb and net_cls/net_prio even without a
/// limit there (as runc joins every hierarchy), so that an `update` can
/// set one later.
const CONTROLLERS: [&str; 11] = [
    Cpu::NAME,
    CpuAcct::NAME,
    CpuSet::NAME,
    Memory::NAME,
    Pids::NAME,
    Freezer::NAME,
    Blkio::NAME,
    Devices::NAME,
    Hugetlb::NAME,
    NetCls::NAME,
    NetPrio::NAME,
];

/// Rounds of freeze/kill/thaw before `kill_all` gives up: a second round
/// only happens when a process joined while the first was under way.
const KILL_ROUNDS: u32 = 10;

/// A cgroup on a v1 (legacy or hybrid) host.
///
/// ```no_run
/// use tinydocker_cgroups::{Layout, Manager};
///
/// if let Layout::Legacy { hierarchies } | Layout::Hybrid { hierarchies, .. } = Layout::detect()? {
///     let cgroup = tinydocker_cgroups::v1::Manager::new(&hierarchies, "tinydocker/0123456789ab");
///     cgroup.create()?;
///     println!("{:?}", cgroup.dirs());
/// }
/// # Ok::<(), tinydocker_cgroups::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manager {
    path: PathBuf,
    /// (controller, hierarchy mount point) for each used controller that is mounted.
    mounts: Vec<(&'static str, PathBuf)>,
}

impl Manager {
    /// The same hierarchies, another cgroup (already normalised).
    pub(crate) fn with_path(&self, path: &Path) -> Manager {
        Manager {
            path: path.to_path_buf(),
            ..self.clone()
        }
    }

    /// The cgroup `path` (relative to the hierarchy roots; only its normal
    /// components count) in the `hierarchies` of a legacy or hybrid layout.
    pub fn new(hierarchies: &[Mount], path: impl Into<PathBuf>) -> Manager {
        let mounts = CONTROLLERS
            .iter()
            .filter_map(|&controller| {
                hierarchies
                    .iter()
                    .find(|m| m.controllers.iter().any(|c| c == controller))
                    .map(|m| (controller, m.path.clone()))
            })
            .collect();
        Manager {
            path: relative(&path.into()),
            mounts,
        }
    }

    /// The cgroup's directory in the hierarchy holding `controller`, if mounted.
    pub fn dir(&self, controller: &str) -> Option<PathBuf> {
        self.mounts
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, mount)| mount.join(&self.path))
    }

    /// The cgroup's directory in each hierarchy used; co-mounted controllers
    /// ("cpu,cpuacct") share one.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.hierarchies()
            .into_iter()
            .map(|mount| mount.join(&self.path))
            .collect()
    }

    /// The mount points of the hierarchies used, each once.
    fn hierarchies(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = Vec::new();
        for (_, mount) in &self.mounts {
            if !out.contains(&mount.as_path()) {
                out.push(mount);
            }
        }
        out
    }

    fn require(&self, controller: &str, file: &str) -> Result<PathBuf, Error> {
        self.dir(controller).ok_or_else(|| Error::NoHierarchy {
            controller: controller.to_string(),
            file: file.to_string(),
        })
    }

    /// A path naming this cgroup in errors: its first directory.
    fn display_dir(&self) -> PathBuf {
        self.dirs()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.path.clone())
    }

    fn refuse_root(&self, action: &'static str) -> Result<(), Error> {
        if self.path.as_os_str().is_empty() {
            return Err(Error::RootCgroup { action });
        }
        Ok(())
    }

    fn apply_controller<C: Controller>(&self, res: &Resources) -> Result<(), Error> {
        let writes = C::plan(res);
        let Some(first) = writes.first() else {
            return Ok(());
        };
        let dir = self.require(C::NAME, &first.file)?;
        C::apply(&dir, res)
    }

    fn stats_controller<C: Controller>(&self, stats: &mut Stats) -> Result<(), Error> {
        match self.dir(C::NAME) {
            Some(dir) => C::stats(&dir, stats),
            None => Ok(()),
        }
    }

    /// Every pid in the cgroup and below it, in every hierarchy, once.
    fn all_procs(&self) -> Result<Vec<i32>, Error> {
        let mut pids = Vec::new();
        for dir in self.dirs() {
            pids.extend(procs_recursive(&dir)?);
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// One round of kill_all: with the cgroup freezing, pin each process
    /// with a pidfd and SIGKILL it through that pidfd, so a reused pid can
    /// never be hit. Returns the pidfds.
    fn kill_listed(&self) -> Result<Vec<OwnedFd>, Error> {
        let mut pidfds = Vec::new();
        for pid in self.all_procs()? {
            match sys::pidfd_open(pid) {
                Ok(fd) => pidfds.push((pid, fd)),
                // Exited since the list was read.
                Err(err) if is_errno(&err, libc::ESRCH) => {}
                Err(source) => return Err(Error::PidfdOpen { pid, source }),
            }
        }
        for (pid, fd) in &pidfds {
            match sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL) {
                Ok(()) => {}
                Err(err) if is_errno(&err, libc::ESRCH) => {}
                Err(source) => return Err(Error::Kill { pid: *pid, source }),
            }
        }
        Ok(pidfds.into_iter().map(|(_, fd)| fd).collect())
    }

    fn rmdir_all(&self) -> Result<(), Error> {
        // Best effort: try every hierarchy, report the first failure.
        let mut first_err = None;
        for dir in self.dirs() {
            if let Err(err) = remove_tree(&dir) {
                first_err.get_or_insert(err);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl common::Manager for Manager {
    fn path(&self) -> &Path {
        &self.path
    }

    fn plan(&self, res: &Resources) -> Vec<Write> {
        let mut writes = Cpu::plan(res);
        writes.extend(CpuSet::plan(res));
        writes.extend(Memory::plan(res));
        writes.extend(Blkio::plan(res));
        writes.extend(Pids::plan(res));
        writes.extend(Hugetlb::plan(res));
        writes.extend(NetCls::plan(res));
        writes.extend(NetPrio::plan(res));
        writes
    }

    fn create(&self) -> Result<(), Error> {
        retry_vanished(|| {
            let cpuset_mount = self
                .mounts
                .iter()
                .find(|(c, _)| *c == CpuSet::NAME)
                .map(|(_, m)| m.as_path());
            for mount in self.hierarchies() {
                if Some(mount) == cpuset_mount {
                    CpuSet::create(mount, &self.path)?;
                    continue;
                }
                // The leaf first: its parent (tinydocker/) is there but for the
                // first container, so one mkdir is the common case.
                let leaf = mount.join(&self.path);
                match std::fs::create_dir(&leaf) {
                    Ok(()) => continue,
                    Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(_) => {}
                }
                let mut dir = mount.to_path_buf();
                for part in self.path.iter() {
                    dir.push(part);
                    mkdir(&dir)?;
                }
            }
            Ok(())
        })
    }

    fn apply(&self, res: &Resources) -> Result<(), Error> {
        res.validate()?;
        if let Some(file) = res.unified.keys().next() {
            return Err(Error::InvalidResources {
                reason: format!(
                    "unified {file:?}: cgroup v2 files, and this host's cgroups are v1"
                ),
            });
        }
        // Every hierarchy first: a limit refused half-way would leave the
        // ones before it written, and an update does not roll back.
        for w in self.plan(res) {
            self.require(&w.controller, &w.file)?;
        }
        self.apply_controller::<Cpu>(res)?;
        self.apply_controller::<CpuSet>(res)?;
        self.apply_controller::<Memory>(res)?;
        self.apply_controller::<Blkio>(res)?;
        self.apply_controller::<Pids>(res)?;
        self.apply_controller::<Hugetlb>(res)?;
        self.apply_controller::<NetCls>(res)?;
        self.apply_controller::<NetPrio>(res)
    }

    fn set_devices(&self, rules: &[DeviceRule]) -> Result<DeviceControl, Error> {
        self.refuse_root("restrict the devices of")?;
        validate_all(rules)?;
        let Some(dir) = self.dir(Devices::NAME) else {
            return Ok(DeviceControl::Unavailable(
                "the v1 devices cgroup controller is not mounted".into(),
            ));
        };
        Devices::apply(&dir, rules)?;
        Ok(DeviceControl::Enforced)
    }

    fn add_task(&self, pid: i32) -> Result<(), Error> {
        for dir in self.dirs() {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn procs(&self) -> Result<Vec<i32>, Error> {
        let mut pids = Vec::new();
        for dir in self.dirs() {
            pids.extend(read_procs(&dir.join("cgroup.procs"))?);
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    fn stats(&self) -> Result<Stats, Error> {
        if !self.dirs().iter().any(|d| d.is_dir()) {
            return Err(Error::NotFound {
                path: self.display_dir(),
            });
        }
        let mut stats = Stats::default();
        self.stats_controller::<Cpu>(&mut stats)?;
        self.stats_controller::<CpuAcct>(&mut stats)?;
        self.stats_controller::<Memory>(&mut stats)?;
        self.stats_controller::<Pids>(&mut stats)?;
        self.stats_controller::<Blkio>(&mut stats)?;
        Ok(stats)
    }

    fn oom_kills(&self) -> Result<u64, Error> {
        match self.dir(Memory::NAME) {
            Some(dir) => Memory::oom_kills(&dir),
            None => Ok(0),
        }
    }

    fn freeze(&self) -> Result<(), Error> {
        Freezer::freeze(&self.require(Freezer::NAME, "freezer.state")?)
    }

    fn thaw(&self) -> Result<(), Error> {
        Freezer::thaw(&self.require(Freezer::NAME, "freezer.state")?)
    }

    fn kill_all(&self) -> Result<(), Error> {
        self.refuse_root("kill every process of")?;
        let deadline = Instant::now() + WAIT_TIMEOUT;
        let freezer = self
            .dir(Freezer::NAME)
            .filter(|d| d.join("freezer.state").exists());
        for _ in 0..KILL_ROUNDS {
            if self.all_procs()?.is_empty() {
                return Ok(());
            }
            // Freezing stops forks: each task stops before it next returns
            // to user space and children forked meanwhile start frozen, so
            // the list read next is complete but for forks already under
            // way, which the next round catches. Frozen tasks die at the thaw.
            if let Some(dir) = &freezer {
                Freezer::start_freeze(dir)?;
            }
            let killed = self.kill_listed();
            let thawed = match &freezer {
                Some(dir) => Freezer::thaw(dir),
                None => Ok(()),
            };
            let pidfds = killed?;
            thawed?;
            wait_exited(&pidfds, deadline, &self.display_dir())?;
        }
        if self.all_procs()?.is_empty() {
            return Ok(());
        }
        Err(Error::NotEmpty {
            path: self.display_dir(),
            rounds: KILL_ROUNDS,
        })
    }

    fn remove_if_empty(&self) -> bool {
        self.refuse_root("remove").is_ok() && rmdir_fast(&self.dirs())
    }

    fn remove(&self) -> Result<(), Error> {
        self.refuse_root("remove")?;
        if rmdir_fast(&self.dirs()) {
            return Ok(());
        }
        let mut attempt = 1;
        loop {
            self.kill_all()?;
            match self.rmdir_all() {
                Ok(()) => return Ok(()),
                // EBUSY right after the last task left: kill_all above
                // waits on the processes again before the next try.
                Err(err) if is_busy(&err) && attempt < REMOVE_ATTEMPTS => attempt += 1,
                Err(err) => return Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Manager as _;
    use crate::fake::{self, full, minimal, FAKE_PID};
    use crate::{AnyManager, Layout};

    /// A legacy layout with systemd's usual mounts — cpu and cpuacct
    /// co-mounted — under `root`.
    fn layout(root: &Path) -> Layout {
        let mut text = String::from("25 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n");
        for (i, (dir, opts)) in [
            ("cpu,cpuacct", "rw,cpu,cpuacct"),
            ("cpuset", "rw,cpuset"),
            ("memory", "rw,memory"),
            ("devices", "rw,devices"),
            ("freezer", "rw,freezer"),
            ("blkio", "rw,blkio"),
            ("pids", "rw,pids"),
            ("hugetlb", "rw,hugetlb"),
            ("net_cls,net_prio", "rw,net_cls,net_prio"),
            ("systemd", "rw,xattr,release_agent=/x,name=systemd"),
        ]
        .iter()
        .enumerate()
        {
            text.push_str(&format!(
                "{} 30 0:{} / {}/{dir} rw,relatime - cgroup cgroup {opts}\n",
                31 + i,
                27 + i,
                root.display()
            ));
        }
        Layout::from_mountinfo(&text).unwrap()
    }

    #[test]
    fn plan_full() {
        let root = tempfile::tempdir().unwrap();
        let m = AnyManager::new(&layout(root.path()), "tinydocker/abc");
        assert!(!m.is_v2());
        insta::assert_yaml_snapshot!(m.plan(&full()));
    }

    #[test]
    fn plan_minimal() {
        let root = tempfile::tempdir().unwrap();
        let m = AnyManager::new(&layout(root.path()), "tinydocker/abc");
        insta::assert_yaml_snapshot!(m.plan(&minimal()));
        assert!(m.plan(&Resources::default()).is_empty());
    }

    #[test]
    fn hierarchies_counted_once() {
        let root = tempfile::tempdir().unwrap();
        let Layout::Legacy { hierarchies } = layout(root.path()) else {
            panic!("not legacy")
        };
        let m = Manager::new(&hierarchies, "/tinydocker/abc/");
        assert_eq!(m.path(), Path::new("tinydocker/abc"));
        let names: Vec<_> = m
            .dirs()
            .iter()
            .map(|d| d.strip_prefix(root.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "cpu,cpuacct/tinydocker/abc",
                "cpuset/tinydocker/abc",
                "memory/tinydocker/abc",
                "pids/tinydocker/abc",
                "freezer/tinydocker/abc",
                "blkio/tinydocker/abc",
                "devices/tinydocker/abc",
                "hugetlb/tinydocker/abc",
                "net_cls,net_prio/tinydocker/abc",
            ]
        );
        assert_eq!(m.dir("cpu"), m.dir("cpuacct"));
        assert_eq!(m.dir("net_cls"), m.dir("net_prio"));
        assert_eq!(m.dir("systemd"), None);
        let joins = AnyManager::new(&layout(root.path()), "tinydocker/abc")
            .self_join_files()
            .unwrap();
        assert!(joins.contains(&root.path().join("devices/tinydocker/abc/tasks")));
    }

    /// create, apply, add_task, stats, oom_kills, freeze, remove against a
    /// fake v1 tree.
    #[test]
    fn fake_cgroupfs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let m = AnyManager::new(&layout(root), "tinydocker/abc");
        let AnyManager::V1(v1) = &m else {
            panic!("not v1")
        };
        // A real cpuset level has the files from the start, empty.
        fake::cgroup(
            &root.join("cpuset"),
            &[("cpuset.cpus", "0-3\n"), ("cpuset.mems", "0\n")],
        );
        let empty_cpuset = [
            ("cpuset.cpus", "\n"),
            ("cpuset.mems", "\n"),
            ("cgroup.procs", ""),
        ];
        fake::cgroup(&root.join("cpuset/tinydocker"), &empty_cpuset);
        fake::cgroup(&root.join("cpuset/tinydocker/abc"), &empty_cpuset);
        for h in [
            "cpu,cpuacct",
            "memory",
            "pids",
            "freezer",
            "blkio",
            "devices",
            "hugetlb",
            "net_cls,net_prio",
        ] {
            std::fs::create_dir_all(root.join(h)).unwrap();
        }

        m.create().unwrap();
        m.create().unwrap(); // idempotent
        for dir in v1.dirs() {
            assert!(dir.is_dir(), "{}", dir.display());
        }
        assert!(root.join("devices/tinydocker/abc").is_dir());
        assert!(root.join("hugetlb/tinydocker/abc").is_dir());
        assert!(root.join("net_cls,net_prio/tinydocker/abc").is_dir());
        assert!(!root.join("systemd/tinydocker").exists());
        for level in ["cpuset/tinydocker", "cpuset/tinydocker/abc"] {
            assert_eq!(fake::read(&root.join(level).join("cpuset.cpus")), "0-3");
            assert_eq!(fake::read(&root.join(level).join("cpuset.mems")), "0");
        }

        // What the kernel puts in each new directory.
        let dir = |h: &str| root.join(h).join("tinydocker/abc");
        fake::cgroup(
            &dir("cpu,cpuacct"),
            &[
                ("cpu.cfs_period_us", "100000\n"),
                ("cpu.cfs_quota_us", "-1\n"),
                ("cpu.shares", "1024\n"),
                (
                    "cpu.stat",
                    "nr_periods 20\nnr_throttled 5\nthrottled_time 7000\n",
                ),
                ("cpuacct.usage", "123456789\n"),
                ("cgroup.procs", ""),
            ],
        );
        fake::cgroup(
            &dir("memory"),
            &[
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
                ("memory.soft_limit_in_bytes", "9223372036854771712\n"),
                ("memory.usage_in_bytes", "10485760\n"),
                (
                    "memory.stat",
                    "cache 4096\ninactive_file 1\ntotal_cache 4096\ntotal_inactive_file 1048576\n",
                ),
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
                ),
                ("cgroup.procs", ""),
            ],
        );
        fake::cgroup(
            &dir("pids"),
            &[
                ("pids.max", "max\n"),
                ("pids.current", "1\n"),
                ("cgroup.procs", ""),
            ],
        );
        fake::cgroup(
            &dir("freezer"),
            &[("freezer.state", "THAWED\n"), ("cgroup.procs", "")],
        );
        fake::cgroup(
            &dir("blkio"),
            &[
                (
                    "blkio.throttle.io_service_bytes",
                    "8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n",
                ),
                ("cgroup.procs", ""),
            ],
        );

        fake::cgroup(
            &dir("hugetlb"),
            &[
                ("hugetlb.2MB.limit_in_bytes", "9223372036854771712\n"),
                ("hugetlb.1GB.limit_in_bytes", "9223372036854771712\n"),
                ("cgroup.procs", ""),
            ],
        );
        fake::cgroup(
            &dir("net_cls,net_prio"),
            &[
                ("net_cls.classid", "0\n"),
                ("net_prio.ifpriomap", "lo 0\neth0 0\n"),
                ("cgroup.procs", ""),
            ],
        );
        fake::cgroup(
            &dir("devices"),
            &[
                ("devices.allow", ""),
                ("devices.deny", ""),
                ("devices.list", "a *:* rwm\n"),
                ("cgroup.procs", ""),
            ],
        );

        // The rules go to devices.allow through one open file, one write
        // each: a regular file keeps them all, one after the other (the
        // kernel's takes each write as one rule).
        let control = m.set_devices(&DeviceRule::default_allowed()).unwrap();
        assert_eq!(control, DeviceControl::Enforced);
        assert_eq!(fake::read(&dir("devices").join("devices.deny")), "a");
        let written = fake::read(&dir("devices").join("devices.allow"));
        let expected: String = DeviceRule::default_allowed()
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(written, expected);
        let bad = DeviceRule::allow(crate::DeviceType::Char, Some(-1), None, "r");
        assert!(matches!(
            m.set_devices(&[bad]),
            Err(Error::InvalidDeviceRule { .. })
        ));

        let res = full();
        m.apply(&res).unwrap();
        for w in m.plan(&res) {
            let path = v1.dir(&w.controller).unwrap().join(&w.file);
            assert_eq!(fake::read(&path), w.value, "{}", path.display());
        }
        assert!(matches!(
            m.apply(&Resources {
                memory_swap: Some(1),
                ..Resources::default()
            }),
            Err(Error::InvalidResources { .. })
        ));

        m.add_task(FAKE_PID).unwrap();
        for d in v1.dirs() {
            assert_eq!(fake::read(&d.join("cgroup.procs")), FAKE_PID.to_string());
        }
        assert_eq!(m.procs().unwrap(), [FAKE_PID]);

        let stats = m.stats().unwrap();
        assert_eq!(
            stats,
            Stats {
                cpu_usage_ns: 123456789,
                nr_periods: 20,
                nr_throttled: 5,
                throttled_ns: 7000,
                memory_usage: 10485760 - 1048576,
                memory_limit: Some(64 << 20),
                pids_current: 1,
                pids_limit: Some(10),
                oom_kills: 2,
                block_read: 4096,
                block_write: 512,
            }
        );
        assert_eq!(m.oom_kills().unwrap(), 2);

        m.freeze().unwrap();
        assert_eq!(fake::read(&dir("freezer").join("freezer.state")), "FROZEN");
        m.thaw().unwrap();
        assert_eq!(fake::read(&dir("freezer").join("freezer.state")), "THAWED");

        // The process left; rmdir on cgroupfs takes the files along.
        for d in v1.dirs() {
            fake::drop_files(&d);
        }
        m.remove().unwrap();
        for d in v1.dirs() {
            assert!(!d.exists(), "{}", d.display());
            assert!(d.parent().unwrap().is_dir(), "the parent stays");
        }
        m.remove().unwrap(); // idempotent
        m.kill_all().unwrap(); // a missing cgroup is empty
        assert!(matches!(m.stats(), Err(Error::NotFound { .. })));
    }

    #[test]
    fn root_cgroup_is_never_killed_or_removed() {
        let root = tempfile::tempdir().unwrap();
        let m = AnyManager::new(&layout(root.path()), "/");
        assert!(matches!(m.kill_all(), Err(Error::RootCgroup { .. })));
        assert!(matches!(m.remove(), Err(Error::RootCgroup { .. })));
        assert!(matches!(m.set_devices(&[]), Err(Error::RootCgroup { .. })));
    }

    #[test]
    fn missing_hierarchy_is_named() {
        let root = tempfile::tempdir().unwrap();
        let hierarchies = [Mount {
            path: root.path().join("memory"),
            controllers: vec!["memory".into()],
        }];
        let m = Manager::new(&hierarchies, "x");
        let err = m
            .apply(&Resources {
                pids_limit: Some(5),
                ..Resources::default()
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the pids cgroup controller is not mounted (needed for pids.max)"
        );
        let control = m.set_devices(&DeviceRule::default_allowed()).unwrap();
        assert_eq!(
            control,
            DeviceControl::Unavailable("the v1 devices cgroup controller is not mounted".into())
        );
    }

    /// As on a host without hugetlb and net_cls/net_prio mounted: the
    /// cgroup lives in the hierarchies there are, and a limit that needs
    /// another is refused before anything is written.
    #[test]
    fn unmounted_hierarchies_are_skipped_and_their_limits_refused_first() {
        let root = tempfile::tempdir().unwrap();
        let hierarchies = [Mount {
            path: root.path().join("memory"),
            controllers: vec!["memory".into()],
        }];
        let m = Manager::new(&hierarchies, "tinydocker/abc");
        std::fs::create_dir(root.path().join("memory")).unwrap();
        m.create().unwrap();
        assert_eq!(m.dirs(), [root.path().join("memory/tinydocker/abc")]);
        assert_eq!(m.dir("hugetlb"), None);
        let limit = root
            .path()
            .join("memory/tinydocker/abc/memory.limit_in_bytes");
        std::fs::write(&limit, "max").unwrap();
        for (res, message) in [
            (
                Resources {
                    memory: Some(1 << 20),
                    hugepage_limits: full().hugepage_limits,
                    ..Resources::default()
                },
                "the hugetlb cgroup controller is not mounted (needed for hugetlb.2MB.limit_in_bytes)",
            ),
            (
                Resources {
                    memory: Some(1 << 20),
                    net_prio_ifpriomap: full().net_prio_ifpriomap,
                    ..Resources::default()
                },
                "the net_prio cgroup controller is not mounted (needed for net_prio.ifpriomap)",
            ),
        ] {
            assert_eq!(m.apply(&res).unwrap_err().to_string(), message);
            assert_eq!(fake::read(&limit), "max", "nothing written");
        }
    }
}
