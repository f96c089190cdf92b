//! What v1 and v2 share: the [`Manager`] trait, the [`Write`]s a plan is
//! made of, the per-controller [`Controller`] interface, and the helpers
//! that read and write cgroupfs control files (cgroups(7)).

use std::io::{self, Write as _};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::sys::is_errno;
use crate::{DeviceControl, DeviceRule, Error, Resources, Stats};

/// One cgroup, driven the same way on v1 and v2.
///
/// ```no_run
/// use tinydocker_cgroups::{AnyManager, Layout, Manager, Resources};
///
/// let cgroup = AnyManager::new(&Layout::detect()?, "tinydocker/0123456789ab");
/// cgroup.create()?;
/// cgroup.apply(&Resources { memory: Some(64 << 20), pids_limit: Some(100), ..Resources::default() })?;
/// cgroup.add_task(std::process::id() as i32)?;
/// # Ok::<(), tinydocker_cgroups::Error>(())
/// ```
pub trait Manager {
    /// The cgroup's path relative to the hierarchy roots.
    fn path(&self) -> &Path;
    /// The exact writes [`apply`](Manager::apply) does for `res`, in order
    /// (pure; v1 and v2 differ). `res` is assumed to pass
    /// [`Resources::validate`].
    fn plan(&self, res: &Resources) -> Vec<Write>;
    /// Create the cgroup. v2: enable the controllers it needs (cpu, cpuset,
    /// memory, pids, io, hugetlb — those each level offers) in
    /// `cgroup.subtree_control` of every ancestor, then mkdir. v1: mkdir -p
    /// in every hierarchy used (of those mounted); new
    /// cpuset levels get `cpuset.cpus`/`cpuset.mems` from their parent.
    /// Idempotent.
    fn create(&self) -> Result<(), Error>;
    /// Validate `res`, then write the limits.
    fn apply(&self, res: &Resources) -> Result<(), Error>;
    /// Restrict the device nodes the cgroup's processes may open or create
    /// to `rules`, on top of "deny everything" (an allow-list, as runc
    /// applies it; [`DeviceRule::allow_all`] lifts every restriction, for
    /// `--privileged`). Call it after [`create`](Manager::create) and
    /// before any process joins: it only narrows a cgroup nobody is in yet.
    /// v1: resets `devices.deny` with `a`, then writes each rule. v2:
    /// loads an eBPF device program built from the rules and attaches it
    /// to the cgroup (a second call adds a second program; a device must
    /// then pass both). [`DeviceControl::Unavailable`] when the host cannot
    /// restrict devices (no v1 `devices` hierarchy; the kernel refused the
    /// program with EPERM, EINVAL, ENOSYS or EOPNOTSUPP), for the caller
    /// to record.
    ///
    /// ```no_run
    /// use tinydocker_cgroups::{AnyManager, DeviceControl, DeviceRule, Layout, Manager};
    ///
    /// let cgroup = AnyManager::new(&Layout::detect()?, "tinydocker/0123456789ab");
    /// cgroup.create()?;
    /// if let DeviceControl::Unavailable(why) = cgroup.set_devices(&DeviceRule::default_allowed())? {
    ///     eprintln!("warning: device access is not restricted: {why}");
    /// }
    /// # Ok::<(), tinydocker_cgroups::Error>(())
    /// ```
    fn set_devices(&self, rules: &[DeviceRule]) -> Result<DeviceControl, Error>;
    /// Move a process in (every hierarchy on v1).
    fn add_task(&self, pid: i32) -> Result<(), Error>;
    /// The processes in the cgroup itself (not its descendants), sorted.
    fn procs(&self) -> Result<Vec<i32>, Error>;
    /// Usage counters and limits.
    fn stats(&self) -> Result<Stats, Error>;
    /// The kernel's OOM-kill count for this cgroup.
    fn oom_kills(&self) -> Result<u64, Error>;
    /// Freeze every process; returns once the kernel reports it frozen.
    fn freeze(&self) -> Result<(), Error>;
    /// Undo [`freeze`](Manager::freeze).
    fn thaw(&self) -> Result<(), Error>;
    /// SIGKILL every process (descendant cgroups included) and wait, on
    /// kernel events, until the cgroup is empty. A missing cgroup is empty.
    fn kill_all(&self) -> Result<(), Error>;
    /// [`kill_all`](Manager::kill_all), then remove the cgroup (and any
    /// cgroups below it, deepest first) from every hierarchy; never its
    /// parents. A missing directory is fine.
    fn remove(&self) -> Result<(), Error>;
    /// Remove the cgroup from every hierarchy if it is empty (no process,
    /// no child cgroup); true when it is gone everywhere. For parents that
    /// containers share: the last one out removes them.
    fn remove_if_empty(&self) -> bool;
}

/// One control-file write of a plan: `value` into `file` of the cgroup's
/// directory in the hierarchy of `controller` (v1) or its only directory (v2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Write {
    pub controller: String,
    pub file: String,
    pub value: String,
}

impl Write {
    pub(crate) fn new(controller: &str, file: &str, value: impl Into<String>) -> Write {
        Write {
            controller: controller.to_string(),
            file: file.to_string(),
            value: value.into(),
        }
    }
}

/// One controller's part of a manager: its writes for some resources and
/// its counters. One type per controller, in `v1/` and `v2/`.
pub(crate) trait Controller {
    /// The controller's name (`memory`); on v1 also the hierarchy it lives in.
    const NAME: &'static str;

    /// The writes for `res`, in order.
    fn plan(res: &Resources) -> Vec<Write>;

    /// Do the writes of [`plan`](Controller::plan) in the cgroup directory `dir`.
    fn apply(dir: &Path, res: &Resources) -> Result<(), Error> {
        write_all(dir, &Self::plan(res))
    }

    /// Fill this controller's fields of `stats` from `dir`.
    fn stats(_dir: &Path, _stats: &mut Stats) -> Result<(), Error> {
        Ok(())
    }
}

/// runc's mapping of v1 `cpu.shares` (2..=262144, default 1024) onto v2
/// `cpu.weight` (1..=10000, default 100). 0 means unset and stays 0; values
/// outside the v1 range are clamped to it first.
///
/// ```
/// assert_eq!(tinydocker_cgroups::shares_to_weight(1024), 39);
/// assert_eq!(tinydocker_cgroups::shares_to_weight(0), 0);
/// ```
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let shares = shares.clamp(2, 262144);
    1 + ((shares - 2) * 9999) / 262142
}

/// Keep only the normal components of a cgroup path: "/a/./b" and "a/b"
/// name the same cgroup, and ".." may not climb out of the hierarchy.
pub(crate) fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect()
}

pub(crate) fn read_file(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })
}

/// Read a file that may be missing (a controller not enabled or mounted,
/// an older kernel): `None` then.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.into(),
            source,
        }),
    }
}

/// Write `value` to an existing control file in one `write(2)`, as the
/// kernel takes each write as one command. Never creates the file: a missing
/// control file means a missing controller and must fail.
pub(crate) fn write_io(path: &Path, value: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    let n = file.write(value.as_bytes())?;
    if n != value.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
    }
    Ok(())
}

pub(crate) fn write_file(path: &Path, value: &str) -> Result<(), Error> {
    write_io(path, value).map_err(|source| Error::Write {
        path: path.into(),
        value: value.to_string(),
        source,
    })
}

/// Do `writes` in `dir`, in order, one `write(2)` each. Writes in a row
/// to the same file (the device rules, one per write) share one open.
pub(crate) fn write_all(dir: &Path, writes: &[Write]) -> Result<(), Error> {
    let mut open: Option<(&str, std::fs::File)> = None;
    for w in writes {
        let path = dir.join(&w.file);
        let failed = |source| Error::Write {
            path: path.clone(),
            value: w.value.clone(),
            source,
        };
        let file = match &mut open {
            Some((name, file)) if *name == w.file => file,
            _ => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&path)
                    .map_err(failed)?;
                &mut open.insert((w.file.as_str(), file)).1
            }
        };
        match file.write(w.value.as_bytes()) {
            Ok(n) if n == w.value.len() => {}
            Ok(_) => {
                return Err(failed(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "short write",
                )))
            }
            Err(e) => return Err(failed(e)),
        }
    }
    Ok(())
}

/// The value of `key` in a flat-keyed file ("key value" per line, as
/// `memory.stat`, `cpu.stat`, `memory.events`); `None` when absent or not a
/// number.
pub(crate) fn flat_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// A file holding one number.
pub(crate) fn parse_u64(path: &Path, text: &str) -> Result<u64, Error> {
    text.trim().parse().map_err(|_| Error::Parse {
        path: path.into(),
        text: text.to_string(),
    })
}

/// A limit file: a number, or "max" for none.
pub(crate) fn parse_max(path: &Path, text: &str) -> Result<Option<u64>, Error> {
    match text.trim() {
        "max" => Ok(None),
        _ => parse_u64(path, text).map(Some),
    }
}

/// Read a one-number file; 0 when it is missing.
pub(crate) fn read_u64_or_zero(path: &Path) -> Result<u64, Error> {
    match read_optional(path)? {
        Some(text) => parse_u64(path, &text),
        None => Ok(0),
    }
}

/// The pids in a `cgroup.procs` file, in file order. A missing file (the
/// cgroup is gone) holds none.
pub(crate) fn read_procs(path: &Path) -> Result<Vec<i32>, Error> {
    let Some(text) = read_optional(path)? else {
        return Ok(Vec::new());
    };
    text.split_whitespace()
        .map(|pid| {
            pid.parse().map_err(|_| Error::Parse {
                path: path.into(),
                text: text.clone(),
            })
        })
        .collect()
}

/// `dir` and every directory below it, parents before children. A missing
/// `dir` yields nothing.
pub(crate) fn walk_dirs(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            // Removed under us (or never created): nothing below it.
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Read { path: d, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| Error::Read {
                path: d.clone(),
                source,
            })?;
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                stack.push(entry.path());
            }
        }
        out.push(d);
    }
    Ok(out)
}

/// The pids of `dir` and of every cgroup below it.
pub(crate) fn procs_recursive(dir: &Path) -> Result<Vec<i32>, Error> {
    let mut pids = Vec::new();
    for d in walk_dirs(dir)? {
        pids.extend(read_procs(&d.join("cgroup.procs"))?);
    }
    Ok(pids)
}

/// Remove the cgroup at `dir` and every cgroup below it, deepest first.
/// rmdir is all a cgroup needs: its control files go with it. Missing
/// directories are fine.
pub(crate) fn remove_tree(dir: &Path) -> Result<(), Error> {
    // walk_dirs lists parents before children: reverse for deepest first.
    for d in walk_dirs(dir)?.iter().rev() {
        match std::fs::remove_dir(d) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::RemoveDir {
                    path: d.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// The common case of removal, tried first: the processes are gone and
/// there are no child cgroups, so one `rmdir(2)` per directory does it.
/// True when every directory is gone; false sends the caller down the full
/// path (kill what is left, remove children deepest first).
pub(crate) fn rmdir_fast(dirs: &[PathBuf]) -> bool {
    let mut all = true;
    for dir in dirs {
        match std::fs::remove_dir(dir) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(_) => all = false,
        }
    }
    all
}

/// Run `create` again (a few times) when a directory it builds on vanished
/// under it: another process removed a shared parent (see
/// [`Manager::remove_if_empty`]) between its check and its mkdir.
pub(crate) fn retry_vanished(create: impl Fn() -> Result<(), Error>) -> Result<(), Error> {
    const ATTEMPTS: usize = 5;
    let mut attempt = 1;
    loop {
        match create() {
            Err(err)
                if attempt < ATTEMPTS
                    && err.io_error().is_some_and(|e| {
                        // ENODEV: a file of a cgroup being removed (its
                        // directory is still there, the cgroup is dead).
                        e.kind() == io::ErrorKind::NotFound
                            || e.raw_os_error() == Some(libc::ENODEV)
                    }) =>
            {
                attempt += 1
            }
            result => return result,
        }
    }
}

/// Create `dir` if missing (one level).
pub(crate) fn mkdir(dir: &Path) -> Result<(), Error> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(Error::CreateDir {
            path: dir.into(),
            source,
        }),
    }
}

/// Whether a remove failure should be retried after waiting for the
/// cgroup to empty again: EBUSY right after the last task exited.
pub(crate) fn is_busy(err: &Error) -> bool {
    matches!(err, Error::RemoveDir { source, .. } if is_errno(source, libc::EBUSY))
}

/// Block until every pidfd polls readable: each process has exited and
/// can be reaped by its parent.
pub(crate) fn wait_exited(
    pidfds: &[std::os::fd::OwnedFd],
    deadline: std::time::Instant,
    path: &Path,
) -> Result<(), Error> {
    const WHAT: &str = "killed processes to exit";
    let pending =
        crate::sys::poll_all_readable(pidfds, deadline).map_err(|source| Error::Wait {
            path: path.into(),
            what: WHAT,
            source,
        })?;
    if pending > 0 {
        return Err(Error::Timeout {
            path: path.into(),
            what: WHAT,
            secs: crate::sys::WAIT_TIMEOUT.as_secs(),
        });
    }
    Ok(())
}

/// How many times `remove` retries an EBUSY rmdir, each after waiting on
/// kernel events for the cgroup to empty.
pub(crate) const REMOVE_ATTEMPTS: u32 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_matches_runc() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(shares_to_weight(1 << 40), 10000);
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/a/./b/")), Path::new("a/b"));
        assert_eq!(relative(Path::new("../a/../b")), Path::new("a/b"));
        assert_eq!(relative(Path::new("/")), Path::new(""));
    }

    #[test]
    fn flat_keyed_values() {
        let text = "usage_usec 10\nnr_periods 3\nweird x\n";
        assert_eq!(flat_keyed(text, "nr_periods"), Some(3));
        assert_eq!(flat_keyed(text, "usage_usec"), Some(10));
        assert_eq!(flat_keyed(text, "weird"), None);
        assert_eq!(flat_keyed(text, "nr"), None);
    }

    #[test]
    fn limits_and_numbers() {
        let p = Path::new("/x");
        assert_eq!(parse_max(p, "max\n").unwrap(), None);
        assert_eq!(parse_max(p, "10\n").unwrap(), Some(10));
        assert!(matches!(parse_u64(p, "ten"), Err(Error::Parse { .. })));
    }

    #[test]
    fn write_never_creates() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_file(&dir.path().join("memory.max"), "1").unwrap_err();
        assert!(matches!(err, Error::Write { ref value, .. } if value == "1"));
        assert!(!dir.path().join("memory.max").exists());
        std::fs::write(dir.path().join("memory.max"), "max\n").unwrap();
        write_file(&dir.path().join("memory.max"), "1").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("memory.max")).unwrap(),
            "1"
        );
    }

    #[test]
    fn procs_and_remove_tree() {
        let dir = tempfile::tempdir().unwrap();
        let cg = dir.path().join("a");
        std::fs::create_dir_all(cg.join("b/c")).unwrap();
        std::fs::write(cg.join("cgroup.procs"), "3\n1\n").unwrap();
        std::fs::write(cg.join("b/c/cgroup.procs"), "7\n").unwrap();
        let mut pids = procs_recursive(&cg).unwrap();
        pids.sort();
        assert_eq!(pids, [1, 3, 7]);
        assert_eq!(read_procs(&cg.join("missing")).unwrap(), Vec::<i32>::new());
        std::fs::remove_file(cg.join("cgroup.procs")).unwrap();
        std::fs::remove_file(cg.join("b/c/cgroup.procs")).unwrap();
        remove_tree(&cg).unwrap();
        assert!(!cg.exists());
        assert!(dir.path().exists());
        remove_tree(&cg).unwrap();
    }
}
