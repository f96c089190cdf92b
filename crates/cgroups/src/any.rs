//! [`AnyManager`]: the v1 or v2 manager, picked at runtime from the host's
//! layout (cgroups(7)).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::common::{Manager, Write};
use crate::{v1, v2, DeviceControl, DeviceRule, Error, Layout, Resources, Stats};

/// A cgroup on whatever layout the host has.
///
/// ```no_run
/// use tinydocker_cgroups::{AnyManager, Layout, Manager, Resources};
///
/// let cgroup = AnyManager::new(&Layout::detect()?, "tinydocker/0123456789ab");
/// cgroup.create()?;
/// cgroup.apply(&Resources { cpu_quota: Some(50_000), ..Resources::default() })?;
/// // ... start the container into it, wait for it ...
/// let oom_killed = cgroup.oom_kills()? > 0;
/// cgroup.remove()?;
/// # Ok::<(), tinydocker_cgroups::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyManager {
    V1(v1::Manager),
    V2(v2::Manager),
}

impl AnyManager {
    /// The manager for the cgroup `path` (relative to the hierarchy roots)
    /// on `layout`. Hybrid hosts are driven through v1: their v2 mount holds
    /// no controllers.
    pub fn new(layout: &Layout, path: impl Into<PathBuf>) -> AnyManager {
        match layout {
            Layout::Unified { root } => AnyManager::V2(v2::Manager::new(root.clone(), path)),
            Layout::Legacy { hierarchies } | Layout::Hybrid { hierarchies, .. } => {
                AnyManager::V1(v1::Manager::new(hierarchies, path))
            }
        }
    }

    /// v2 only: an open `O_DIRECTORY | O_CLOEXEC` fd of the cgroup, for
    /// clone3's `CLONE_INTO_CGROUP`. `None` on v1.
    pub fn open_dir(&self) -> Result<Option<OwnedFd>, Error> {
        match self {
            AnyManager::V1(_) => Ok(None),
            AnyManager::V2(m) => m.open_dir().map(Some),
        }
    }

    /// v1 only: the `tasks` file of every hierarchy. A single-threaded
    /// process that writes "0" (itself) into each joins the cgroup without
    /// the kernel's global threadgroup lock, whose RCU grace period makes a
    /// `cgroup.procs` write cost a millisecond or more (kernel 5.17+; older
    /// kernels take the lock either way). See [`crate::join_self`]. None on v2,
    /// where a process is cloned straight into its cgroup instead.
    pub fn self_join_files(&self) -> Option<Vec<PathBuf>> {
        match self {
            AnyManager::V1(m) => Some(m.dirs().into_iter().map(|d| d.join("tasks")).collect()),
            AnyManager::V2(_) => None,
        }
    }

    /// The manager of this cgroup's parent; None at the top level.
    pub fn parent(&self) -> Option<AnyManager> {
        let parent = self.path().parent().filter(|p| !p.as_os_str().is_empty())?;
        Some(match self {
            AnyManager::V1(m) => AnyManager::V1(m.with_path(parent)),
            AnyManager::V2(m) => AnyManager::V2(m.with_path(parent)),
        })
    }

    pub fn is_v2(&self) -> bool {
        matches!(self, AnyManager::V2(_))
    }

    fn inner(&self) -> &dyn Manager {
        match self {
            AnyManager::V1(m) => m,
            AnyManager::V2(m) => m,
        }
    }
}

impl Manager for AnyManager {
    fn path(&self) -> &Path {
        self.inner().path()
    }
    fn plan(&self, res: &Resources) -> Vec<Write> {
        self.inner().plan(res)
    }
    fn create(&self) -> Result<(), Error> {
        self.inner().create()
    }
    fn apply(&self, res: &Resources) -> Result<(), Error> {
        self.inner().apply(res)
    }
    fn set_devices(&self, rules: &[DeviceRule]) -> Result<DeviceControl, Error> {
        self.inner().set_devices(rules)
    }
    fn add_task(&self, pid: i32) -> Result<(), Error> {
        self.inner().add_task(pid)
    }
    fn procs(&self) -> Result<Vec<i32>, Error> {
        self.inner().procs()
    }
    fn stats(&self) -> Result<Stats, Error> {
        self.inner().stats()
    }
    fn oom_kills(&self) -> Result<u64, Error> {
        self.inner().oom_kills()
    }
    fn freeze(&self) -> Result<(), Error> {
        self.inner().freeze()
    }
    fn thaw(&self) -> Result<(), Error> {
        self.inner().thaw()
    }
    fn kill_all(&self) -> Result<(), Error> {
        self.inner().kill_all()
    }
    fn remove(&self) -> Result<(), Error> {
        self.inner().remove()
    }
    fn remove_if_empty(&self) -> bool {
        self.inner().remove_if_empty()
    }
}
