//! The v2 manager: one cgroup, one directory in the unified hierarchy
//! (cgroups(7)).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::bpf::device_program;
use super::cpu::Cpu;
use super::cpuset::CpuSet;
use super::devices::Devices;
use super::events;
use super::freezer::Freezer;
use super::hugetlb::Hugetlb;
use super::io::Io;
use super::memory::Memory;
use super::pids::Pids;
use crate::common::{
    self, is_busy, mkdir, procs_recursive, read_file, read_procs, relative, remove_tree,
    retry_vanished, rmdir_fast, wait_exited, write_file, write_io, Controller, Write,
    REMOVE_ATTEMPTS,
};
use crate::devices::validate_all;
use crate::sys::{self, is_errno, WAIT_TIMEOUT};
use crate::{DeviceControl, DeviceRule, Error, Resources, Stats};

/// The controllers enabled for a container's cgroup, when the host offers them.
const CONTROLLERS: [&str; 6] = [
    Cpu::NAME,
    CpuSet::NAME,
    Memory::NAME,
    Pids::NAME,
    Io::NAME,
    Hugetlb::NAME,
];

/// A cgroup on a v2 (unified) host.
///
/// ```no_run
/// use tinydocker_cgroups::Manager;
///
/// let cgroup = tinydocker_cgroups::v2::Manager::new("/sys/fs/cgroup", "tinydocker/0123456789ab");
/// cgroup.create()?;
/// println!("{}", cgroup.dir().display());
/// # Ok::<(), tinydocker_cgroups::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manager {
    root: PathBuf,
    path: PathBuf,
}

impl Manager {
    /// The same hierarchies, another cgroup (already normalised).
    pub(crate) fn with_path(&self, path: &Path) -> Manager {
        Manager {
            path: path.to_path_buf(),
            ..self.clone()
        }
    }

    /// The cgroup `path` (relative to `root`; only its normal components
    /// count) in the v2 hierarchy mounted at `root`.
    pub fn new(root: impl Into<PathBuf>, path: impl Into<PathBuf>) -> Manager {
        Manager {
            root: root.into(),
            path: relative(&path.into()),
        }
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> PathBuf {
        self.root.join(&self.path)
    }

    /// An `O_DIRECTORY | O_CLOEXEC` fd of the cgroup, for clone3's
    /// `CLONE_INTO_CGROUP`.
    pub fn open_dir(&self) -> Result<OwnedFd, Error> {
        let dir = self.dir();
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&dir)
            .map(OwnedFd::from)
            .map_err(|source| Error::OpenDir { path: dir, source })
    }

    fn refuse_root(&self, action: &'static str) -> Result<(), Error> {
        if self.path.as_os_str().is_empty() {
            return Err(Error::RootCgroup { action });
        }
        Ok(())
    }

    /// Enable in `dir`'s `cgroup.subtree_control` the wanted controllers it
    /// offers and has not enabled yet, so its children get them.
    fn enable_controllers(dir: &Path) -> Result<(), Error> {
        let offered = read_file(&dir.join("cgroup.controllers"))?;
        let enabled = read_file(&dir.join("cgroup.subtree_control"))?;
        let missing: Vec<String> = CONTROLLERS
            .iter()
            .filter(|c| offered.split_whitespace().any(|o| o == **c))
            // The kernel lists enabled controllers bare ("cpu memory"); a
            // leading '+' is tolerated for fake cgroupfs trees in tests.
            .filter(|c| {
                !enabled
                    .split_whitespace()
                    .any(|e| e.trim_start_matches('+') == **c)
            })
            .map(|c| format!("+{c}"))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let control = dir.join("cgroup.subtree_control");
        let all = missing.join(" ");
        if write_io(&control, &all).is_ok() {
            return Ok(());
        }
        // One refused controller fails the whole write (cpu, while a
        // realtime task sits in a child cgroup, say): enable the others one
        // by one, as runc does. A limit that then needs the missing one
        // fails in apply, naming its file.
        for one in &missing {
            let _ = write_io(&control, one);
        }
        Ok(())
    }

    /// Pidfds for the processes of the cgroup and below, to wait on once
    /// they are killed. A pid is kept only if it is still listed after its
    /// pidfd was opened: then the pidfd names a process of the cgroup (or
    /// one that has already exited), never an unrelated process that
    /// reused the pid.
    fn pin_procs(dir: &Path) -> Result<Vec<(i32, OwnedFd)>, Error> {
        let mut pidfds = Vec::new();
        for pid in procs_recursive(dir)? {
            match sys::pidfd_open(pid) {
                Ok(fd) => pidfds.push((pid, fd)),
                Err(err) if is_errno(&err, libc::ESRCH) => {}
                Err(source) => return Err(Error::PidfdOpen { pid, source }),
            }
        }
        let listed = procs_recursive(dir)?;
        pidfds.retain(|(pid, _)| listed.contains(pid));
        Ok(pidfds)
    }

    /// The kill for kernels without `cgroup.kill` (before 5.14): frozen,
    /// nothing forks or exits between reading the list and the kill, and
    /// the SIGKILLs take effect at the thaw.
    fn kill_with_freezer(dir: &Path) -> Result<Vec<(i32, OwnedFd)>, Error> {
        let can_freeze = dir.join("cgroup.freeze").exists();
        if can_freeze {
            Freezer::freeze(dir)?;
        }
        let killed = Self::pin_procs(dir).and_then(|pidfds| {
            for (pid, fd) in &pidfds {
                match sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL) {
                    Ok(()) => {}
                    Err(err) if is_errno(&err, libc::ESRCH) => {}
                    Err(source) => return Err(Error::Kill { pid: *pid, source }),
                }
            }
            Ok(pidfds)
        });
        let thawed = if can_freeze {
            Freezer::thaw(dir)
        } else {
            Ok(())
        };
        let pidfds = killed?;
        thawed?;
        Ok(pidfds)
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
        writes.extend(Pids::plan(res));
        writes.extend(Io::plan(res));
        writes.extend(Hugetlb::plan(res));
        // net_cls_classid and net_prio_ifpriomap: v2 has no net_cls or
        // net_prio controller (firewall and tc rules match a socket's v2
        // cgroup path instead). runc's v2 manager ignores the spec's
        // `network` — writes nothing, reports nothing — and so does this
        // one, so that a spec written for either layout runs on both.
        writes.extend(unified_writes(res));
        writes
    }

    fn create(&self) -> Result<(), Error> {
        retry_vanished(|| {
            let mut dir = self.root.clone();
            for part in self.path.iter() {
                Self::enable_controllers(&dir)?;
                dir.push(part);
                mkdir(&dir)?;
            }
            Ok(())
        })
    }

    fn apply(&self, res: &Resources) -> Result<(), Error> {
        res.validate()?;
        // v1-only knobs: v2 has no file for them.
        let v1_only = [
            ("memory swappiness", res.memory_swappiness.is_some()),
            (
                "disabling the OOM killer",
                res.oom_kill_disable == Some(true),
            ),
        ];
        if let Some((what, _)) = v1_only.iter().find(|(_, set)| *set) {
            return Err(Error::InvalidResources {
                reason: format!("{what} is not supported on cgroup v2"),
            });
        }
        let dir = self.dir();
        Cpu::apply(&dir, res)?;
        CpuSet::apply(&dir, res)?;
        Memory::apply(&dir, res)?;
        Pids::apply(&dir, res)?;
        if !Io::plan(res).is_empty() {
            Io::apply(&dir, res)?;
        }
        Hugetlb::apply(&dir, res)?;
        // The network classes and priorities are ignored here: see plan.
        for w in unified_writes(res) {
            write_file(&dir.join(&w.file), &w.value)?;
        }
        Ok(())
    }

    fn set_devices(&self, rules: &[DeviceRule]) -> Result<DeviceControl, Error> {
        self.refuse_root("restrict the devices of")?;
        validate_all(rules)?;
        let program = device_program(rules);
        let dir = self.open_dir()?;
        Devices::attach(&self.dir(), dir.as_fd(), &program)
    }

    fn add_task(&self, pid: i32) -> Result<(), Error> {
        write_file(&self.dir().join("cgroup.procs"), &pid.to_string())
    }

    fn procs(&self) -> Result<Vec<i32>, Error> {
        let mut pids = read_procs(&self.dir().join("cgroup.procs"))?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    fn stats(&self) -> Result<Stats, Error> {
        let dir = self.dir();
        if !dir.is_dir() {
            return Err(Error::NotFound { path: dir });
        }
        let mut stats = Stats::default();
        Cpu::stats(&dir, &mut stats)?;
        Memory::stats(&dir, &mut stats)?;
        Pids::stats(&dir, &mut stats)?;
        Io::stats(&dir, &mut stats)?;
        Ok(stats)
    }

    fn oom_kills(&self) -> Result<u64, Error> {
        Memory::oom_kills(&self.dir())
    }

    fn freeze(&self) -> Result<(), Error> {
        Freezer::freeze(&self.dir())
    }

    fn thaw(&self) -> Result<(), Error> {
        Freezer::thaw(&self.dir())
    }

    fn kill_all(&self) -> Result<(), Error> {
        self.refuse_root("kill every process of")?;
        let dir = self.dir();
        match events::read(&dir)? {
            None => return Ok(()),
            Some(e) if !e.populated => return Ok(()),
            Some(_) => {}
        }
        let deadline = Instant::now() + WAIT_TIMEOUT;
        let kill = dir.join("cgroup.kill");
        let pidfds = if kill.exists() {
            let pidfds = Self::pin_procs(&dir)?;
            // Linux 5.14+: one write kills the cgroup and its descendants,
            // forks racing with it included.
            match write_file(&kill, "1") {
                Ok(()) => {}
                Err(Error::Write { ref source, .. }) if is_errno(source, libc::ENOENT) => {
                    return Ok(())
                }
                Err(err) => return Err(err),
            }
            pidfds
        } else {
            Self::kill_with_freezer(&dir)?
        };
        events::wait_until(&dir, "populated 0", |e| !e.populated)?;
        // "populated 0" comes as each task leaves the cgroup, a moment
        // before it becomes a zombie its parent can reap: wait for that too.
        let pidfds: Vec<OwnedFd> = pidfds.into_iter().map(|(_, fd)| fd).collect();
        wait_exited(&pidfds, deadline, &dir)
    }

    fn remove_if_empty(&self) -> bool {
        self.refuse_root("remove").is_ok() && rmdir_fast(&[self.dir()])
    }

    fn remove(&self) -> Result<(), Error> {
        self.refuse_root("remove")?;
        if rmdir_fast(&[self.dir()]) {
            return Ok(());
        }
        let mut attempt = 1;
        loop {
            self.kill_all()?;
            match remove_tree(&self.dir()) {
                Ok(()) => return Ok(()),
                // EBUSY right after the last task left: kill_all above waits
                // for "populated 0" again before the next try.
                Err(err) if is_busy(&err) && attempt < REMOVE_ATTEMPTS => attempt += 1,
                Err(err) => return Err(err),
            }
        }
    }
}

/// The spec's `unified` files, each under its controller.
fn unified_writes(res: &Resources) -> Vec<Write> {
    res.unified
        .iter()
        .map(|(file, value)| {
            let controller = file.split_once('.').map_or("", |(c, _)| c);
            Write::new(controller, file, value.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Manager as _;
    use crate::fake::{self, full, minimal, FAKE_PID};
    use crate::sys::Inotify;
    use crate::{AnyManager, Layout};

    fn layout(root: &Path) -> Layout {
        let text = format!(
            "25 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
             26 25 0:25 / {} rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
            root.display()
        );
        Layout::from_mountinfo(&text).unwrap()
    }

    #[test]
    fn plan_full() {
        let root = tempfile::tempdir().unwrap();
        let m = AnyManager::new(&layout(root.path()), "tinydocker/abc");
        assert!(m.is_v2());
        insta::assert_yaml_snapshot!(m.plan(&full()));
    }

    #[test]
    fn unified_files_are_written_after_the_rest() {
        let root = tempfile::tempdir().unwrap();
        let m = AnyManager::new(&layout(root.path()), "tinydocker/abc");
        let res = Resources {
            memory: Some(1 << 20),
            unified: [("memory.high".to_string(), "512K".to_string())].into(),
            ..Resources::default()
        };
        let plan = m.plan(&res);
        let last = plan.last().unwrap();
        assert_eq!(
            (
                last.controller.as_str(),
                last.file.as_str(),
                last.value.as_str()
            ),
            ("memory", "memory.high", "512K")
        );
        for bad in ["cgroup.procs", "../x.y", "nodot"] {
            let res = Resources {
                unified: [(bad.to_string(), "1".to_string())].into(),
                ..Resources::default()
            };
            assert!(res.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn plan_minimal() {
        let root = tempfile::tempdir().unwrap();
        let m = AnyManager::new(&layout(root.path()), "tinydocker/abc");
        insta::assert_yaml_snapshot!(m.plan(&minimal()));
        assert!(m.plan(&Resources::default()).is_empty());
    }

    /// The files a kernel creates in a new v2 cgroup (those this crate uses).
    fn leaf_files() -> Vec<(&'static str, &'static str)> {
        vec![
            ("cgroup.procs", ""),
            ("cgroup.events", "populated 0\nfrozen 0\n"),
            ("cgroup.freeze", "0\n"),
            ("cgroup.kill", ""),
            ("cpu.max", "max 100000\n"),
            ("cpu.weight", "100\n"),
            ("cpu.stat", "usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 9\nnr_throttled 3\nthrottled_usec 40\n"),
            ("cpuset.cpus", "\n"),
            ("cpuset.mems", "\n"),
            ("memory.max", "max\n"),
            ("memory.swap.max", "max\n"),
            ("memory.low", "0\n"),
            ("memory.current", "8388608\n"),
            ("memory.stat", "anon 4194304\nfile 4194304\ninactive_file 2097152\n"),
            ("memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n"),
            ("pids.max", "max\n"),
            ("pids.current", "1\n"),
            ("io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"),
            ("hugetlb.2MB.max", "max\n"),
            ("hugetlb.1GB.max", "max\n"),
        ]
    }

    /// create, apply, add_task, stats, oom_kills, freeze, kill_all, remove
    /// against a fake v2 tree.
    #[test]
    fn fake_cgroupfs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let m = AnyManager::new(&layout(root), "tinydocker/abc");
        let AnyManager::V2(v2) = &m else {
            panic!("not v2")
        };
        fake::cgroup(
            root,
            &[
                (
                    "cgroup.controllers",
                    "cpuset cpu io memory hugetlb pids rdma misc\n",
                ),
                ("cgroup.subtree_control", ""),
            ],
        );
        // This level offers no cpuset (say it was refused): not enabled below.
        fake::cgroup(
            &root.join("tinydocker"),
            &[
                ("cgroup.controllers", "cpu memory pids\n"),
                ("cgroup.subtree_control", ""),
                ("cgroup.procs", ""),
            ],
        );

        m.create().unwrap();
        assert_eq!(
            fake::read(&root.join("cgroup.subtree_control")),
            "+cpu +cpuset +memory +pids +io +hugetlb"
        );
        assert_eq!(
            fake::read(&root.join("tinydocker/cgroup.subtree_control")),
            "+cpu +memory +pids"
        );
        let dir = v2.dir();
        assert!(dir.is_dir());
        m.create().unwrap(); // idempotent
        fake::cgroup(&dir, &leaf_files());

        let res = full();
        m.apply(&res).unwrap();
        for w in m.plan(&res) {
            assert_eq!(fake::read(&dir.join(&w.file)), w.value, "{}", w.file);
        }

        m.add_task(FAKE_PID).unwrap();
        assert_eq!(fake::read(&dir.join("cgroup.procs")), FAKE_PID.to_string());
        assert_eq!(m.procs().unwrap(), [FAKE_PID]);

        assert_eq!(
            m.stats().unwrap(),
            Stats {
                cpu_usage_ns: 2_000_000,
                nr_periods: 9,
                nr_throttled: 3,
                throttled_ns: 40_000,
                memory_usage: 8388608 - 2097152,
                memory_limit: Some(64 << 20),
                pids_current: 1,
                pids_limit: Some(10),
                oom_kills: 1,
                block_read: 100,
                block_write: 200,
            }
        );
        assert_eq!(m.oom_kills().unwrap(), 1);

        // The kernel reports "frozen 1" once every task has stopped.
        std::fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        m.freeze().unwrap();
        assert_eq!(fake::read(&dir.join("cgroup.freeze")), "1");
        m.thaw().unwrap();
        assert_eq!(fake::read(&dir.join("cgroup.freeze")), "0");

        // kill_all writes cgroup.kill, then waits for "populated 0": a
        // stand-in kernel thread answers the kill by emptying the cgroup.
        std::fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        let watch = Inotify::new().unwrap();
        watch.watch_modify(&dir.join("cgroup.kill")).unwrap();
        let kernel = {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                assert!(watch.wait(deadline).unwrap(), "cgroup.kill never written");
                std::fs::write(dir.join("cgroup.procs"), "").unwrap();
                write_io(&dir.join("cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
            })
        };
        m.kill_all().unwrap();
        kernel.join().unwrap();
        assert_eq!(fake::read(&dir.join("cgroup.kill")), "1");
        // Empty already: no second kill.
        std::fs::write(dir.join("cgroup.kill"), "").unwrap();
        m.kill_all().unwrap();
        assert_eq!(fake::read(&dir.join("cgroup.kill")), "");

        let fd = m.open_dir().unwrap();
        assert!(fd.is_some());

        // A temp dir is no cgroup2: the program is built and checked, but
        // never loaded.
        let control = m.set_devices(&DeviceRule::default_allowed()).unwrap();
        let DeviceControl::Unavailable(why) = control else {
            panic!("{control:?}")
        };
        assert!(why.ends_with("is not on a cgroup2 filesystem"), "{why}");

        fake::drop_files(&dir);
        m.remove().unwrap();
        assert!(!dir.exists());
        assert!(root.join("tinydocker").is_dir(), "the parent stays");
        m.remove().unwrap(); // idempotent
        assert!(matches!(m.stats(), Err(Error::NotFound { .. })));
        assert!(matches!(m.open_dir(), Err(Error::OpenDir { .. })));
    }

    #[test]
    fn root_cgroup_is_never_killed_or_removed() {
        let root = tempfile::tempdir().unwrap();
        let m = Manager::new(root.path(), "");
        assert!(matches!(m.kill_all(), Err(Error::RootCgroup { .. })));
        assert!(matches!(m.remove(), Err(Error::RootCgroup { .. })));
        assert!(matches!(m.set_devices(&[]), Err(Error::RootCgroup { .. })));
    }

    #[test]
    fn write_failure_names_file_and_value() {
        let root = tempfile::tempdir().unwrap();
        let m = Manager::new(root.path(), "x");
        std::fs::create_dir(root.path().join("x")).unwrap();
        let err = m
            .apply(&Resources {
                memory: Some(1 << 20),
                ..Resources::default()
            })
            .unwrap_err();
        let Error::Write { path, value, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(path, &root.path().join("x/memory.max"));
        assert_eq!(value, "1048576");
        assert!(err.to_string().starts_with("write \"1048576\" to "));
    }
}

/// Root-only, on a host with a v2 mount (the empty one of a hybrid host
/// will do): the kill path for kernels without `cgroup.kill` — freeze, kill
/// each pid, thaw — against a real cgroup. Skips with a note otherwise.
#[cfg(test)]
mod root_tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    use super::*;
    use crate::common::Manager as _;
    use crate::Layout;

    #[test]
    fn kill_without_cgroup_kill() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("note: skipping kill_without_cgroup_kill: not root");
            return;
        }
        let root = match Layout::detect() {
            Ok(Layout::Hybrid { unified, .. }) => unified,
            Ok(Layout::Unified { root }) => root,
            _ => {
                eprintln!("note: skipping kill_without_cgroup_kill: no v2 mount");
                return;
            }
        };
        let parent = format!("tdtest-{}-nokill", std::process::id());
        let m = Manager::new(&root, format!("{parent}/x"));
        struct Cleanup(PathBuf, Manager);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = self.1.remove();
                let _ = std::fs::remove_dir(&self.0);
            }
        }
        let _cleanup = Cleanup(root.join(&parent), m.clone());
        m.create().unwrap();
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        m.add_task(child.id() as i32).unwrap();
        let pidfds = Manager::kill_with_freezer(&m.dir()).unwrap();
        assert_eq!(pidfds.len(), 1);
        events::wait_until(&m.dir(), "populated 0", |e| !e.populated).unwrap();
        let pidfds: Vec<OwnedFd> = pidfds.into_iter().map(|(_, fd)| fd).collect();
        wait_exited(&pidfds, Instant::now() + WAIT_TIMEOUT, &m.dir()).unwrap();
        let status = child.try_wait().unwrap();
        assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGKILL));
        m.remove().unwrap();
        assert!(!m.dir().exists());
    }
}
