//! The container store under the state root.
//!
//! ```text
//! containers/<id>/container.json  what was asked for (config, written once)
//!                               and how it is going (state: pid, exit code, times)
//! containers/<id>/waiters       flock(2)ed shared by each `wait` while it waits
//! containers/<id>/{upper,work}  writable layer and overlay work directory
//!                               (a `--rm` container has none: its writable
//!                               layer is a tmpfs in its own mount namespace)
//! names/<name>                  the id that holds a name
//! rootfs/                       where every container mounts its root, each
//!                               in its own mount namespace (so they never clash)
//! scratch/                      likewise, where `--rm` containers mount their tmpfs
//! containers.lock               flock(2) held while a name is taken or freed
//! ```
//!
//! Files are replaced atomically (temp file + rename). Config and state share
//! one file: every file created and deleted costs a new inode, the largest
//! single cost of `run --rm` on a disk like this one. Liveness is decided by
//! the pid *and* its start time, never a bare pid.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use tinydocker_cgroups::{AnyManager, Layout, Manager, Resources};
use tinydocker_fs::{write_atomic, ImageStore};

/// A bind volume as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// A container's place on a bridge network, fixed at creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetSettings {
    pub network: String,
    pub bridge: String,
    pub ip: std::net::Ipv4Addr,
    pub prefix: u8,
    pub gateway: std::net::Ipv4Addr,
    /// The host end of its veth pair.
    pub host_if: String,
    #[serde(default)]
    pub ports: Vec<tinydocker_net::PortMapping>,
}

/// What the user asked for; written once at creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub id: String,
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    pub image_id: String,
    /// Layer directories, bottom first.
    pub layers: Vec<PathBuf>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    pub hostname: String,
    pub volumes: Vec<VolumeRecord>,
    pub read_only: bool,
    pub network: String,
    pub interactive: bool,
    pub auto_remove: bool,
    /// `--init`: a minimal init runs as pid 1 and forks the command.
    #[serde(default)]
    pub init: bool,
    /// `-t`: the command runs on a pseudo-terminal of the container's own.
    #[serde(default)]
    pub tty: bool,
    /// Nanoseconds since the epoch.
    pub created: u128,
    /// Resource limits, as last applied (`run`, then `update`).
    #[serde(default)]
    pub resources: Resources,
    /// The cgroup, relative to the hierarchy roots ("tinydocker/<id>").
    #[serde(default)]
    pub cgroup: String,
    /// Bridge networking (None for --network none or host).
    #[serde(default)]
    pub net: Option<NetSettings>,
    /// Capabilities, seccomp, devices, user.
    #[serde(default)]
    pub security: crate::security::SecurityConfig,
    /// `--dns` servers.
    #[serde(default)]
    pub dns: Vec<std::net::Ipv4Addr>,
    /// `--add-host` entries.
    #[serde(default)]
    pub add_hosts: Vec<(String, std::net::Ipv4Addr)>,
    /// `--restart`, kept by the supervisor.
    #[serde(default)]
    pub restart: RestartPolicy,
}

/// `--restart no|on-failure[:N]|always|unless-stopped`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// "no", "on-failure", "always" or "unless-stopped" (docker's names).
    pub name: String,
    /// on-failure's limit of restarts (0: none).
    #[serde(default)]
    pub maximum_retry_count: u32,
}

impl RestartPolicy {
    pub fn parse(text: &str) -> Result<RestartPolicy> {
        let (name, count) = match text.split_once(':') {
            Some((name, count)) => (name, Some(count)),
            None => (text, None),
        };
        let maximum_retry_count = match (name, count) {
            ("on-failure", Some(n)) => n.parse::<u32>().map_err(|_| {
                anyhow!("invalid restart policy {text:?}: the maximum retry count must be a number, 0 or more")
            })?,
            (_, None) => 0,
            (_, Some(_)) => bail!(
                "invalid restart policy {text:?}: maximum retry count can only be used with 'on-failure'"
            ),
        };
        match name {
            "no" | "on-failure" | "always" | "unless-stopped" => Ok(RestartPolicy {
                name: name.to_string(),
                maximum_retry_count,
            }),
            _ => bail!(
                "invalid restart policy {text:?}: expected no, on-failure[:N], always or unless-stopped"
            ),
        }
    }

    /// Whether a run that ended with `code` is restarted, after
    /// `restarts` restarts so far. A container stopped by the user
    /// (`stop`, `kill`) never is.
    pub fn restarts(&self, code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                code != 0 && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    /// Exited; its supervisor waits to start it again (restart policy).
    Restarting,
    Exited,
}

/// How the container is doing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    #[serde(default)]
    pub pid: i32,
    /// The pid's start time (clock ticks after boot, /proc/PID/stat field 22).
    #[serde(default)]
    pub pid_start: u64,
    #[serde(default)]
    pub exit_code: i32,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub started_at: u128,
    #[serde(default)]
    pub finished_at: u128,
    /// The kernel's OOM killer killed a process of the container.
    #[serde(default)]
    pub oom_killed: bool,
    /// The tinydocker process that supervises it (a foreground `run`) and
    /// its start time: it records the exit, so waiting for a container to
    /// be stopped for good means waiting for this process too.
    /// Its address, ports and veth were released (at its exit).
    #[serde(default)]
    pub net_released: bool,
    #[serde(default)]
    pub runtime_pid: i32,
    #[serde(default)]
    pub runtime_start: u64,
    /// Restarts by the restart policy since the last `start`.
    #[serde(default)]
    pub restart_count: u32,
    /// `stop` or `kill` asked for the end of this run: the restart policy
    /// does not apply.
    #[serde(default)]
    pub stopped_by_user: bool,
    /// The host's boot (`/proc/sys/kernel/random/boot_id`) the container
    /// was started in: a record from an earlier boot is of a container the
    /// reboot stopped.
    #[serde(default)]
    pub boot_id: String,
}

impl State {
    pub fn created() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            pid_start: 0,
            exit_code: 0,
            error: String::new(),
            started_at: 0,
            finished_at: 0,
            oom_killed: false,
            runtime_pid: 0,
            runtime_start: 0,
            net_released: false,
            boot_id: boot_id().to_string(),
            restart_count: 0,
            stopped_by_user: false,
        }
    }
}

/// What `ps` shows: the recorded state checked against the running system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    Created,
    Running {
        since: u128,
    },
    Exited {
        code: i32,
        at: u128,
    },
    /// Exited, to be started again by its supervisor.
    Restarting {
        code: i32,
        at: u128,
    },
    /// Recorded as running, but its process is gone (the runtime was killed).
    Dead,
}

impl Observed {
    /// Not stopped: running, being started (a `run`, `start` or restart
    /// in progress), or waiting to restart. `rm` needs `-f` for these and
    /// `container prune` leaves them.
    pub fn active(&self) -> bool {
        matches!(
            self,
            Observed::Created | Observed::Running { .. } | Observed::Restarting { .. }
        )
    }
}

pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Read a `/proc` file with one read(2): the kernel makes its text anew for
/// every read, and std's growing reads of a file whose size shows as 0
/// (32, 32, 64, ... bytes) would have it made several times.
fn read_proc(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(16 * 1024);
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// This process's pid and start time, read once: it names the runtime in
/// what it makes (a `.making-` directory, the record).
pub fn this_process() -> (i32, u64) {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let me = std::process::id() as i32;
    (me, *START.get_or_init(|| pid_start_time(me).unwrap_or(0)))
}

/// The exit code shown for a container that was running when the host
/// went down (docker's).
pub const REBOOT_EXIT_CODE: i32 = 255;

/// This boot's id, read once per process.
pub fn boot_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        read_proc(Path::new("/proc/sys/kernel/random/boot_id"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
}

/// When this boot began, in nanoseconds since the epoch (`btime` of
/// /proc/stat).
fn boot_time() -> u128 {
    read_proc(Path::new("/proc/stat"))
        .ok()
        .and_then(|stat| {
            stat.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|t| t.trim().parse::<u128>().ok())
        })
        .map_or(0, |secs| secs * 1_000_000_000)
}

/// The parent of container cgroups unless `--cgroup-parent` names another.
pub const DEFAULT_CGROUP_PARENT: &str = "tinydocker";

/// Remove a container's cgroup, then every level of tinydocker's own tree
/// above it (`tinydocker/...`) that no other container uses, so the last
/// container out leaves nothing in cgroupfs. A `--cgroup-parent` outside
/// that tree is the user's and stays.
pub fn remove_cgroup(cgroup: &AnyManager) -> Result<(), tinydocker_cgroups::Error> {
    cgroup.remove()?;
    let mut level = cgroup.parent();
    while let Some(parent) = level {
        if !parent.path().starts_with(DEFAULT_CGROUP_PARENT) || !parent.remove_if_empty() {
            break;
        }
        level = parent.parent();
    }
    Ok(())
}

/// The start time of a live process, or None if there is no such process
/// or it has exited and waits to be reaped (a zombie keeps its pid and its
/// start time, but it is no longer running anything).
pub fn pid_start_time(pid: i32) -> Option<u64> {
    let stat = read_proc(Path::new(&format!("/proc/{pid}/stat"))).ok()?;
    // The command name (field 2) may hold spaces and parentheses: skip past the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    // Field 3, the state: Z (zombie) and X (dead) are not running.
    if matches!(fields.next()?, "Z" | "X") {
        return None;
    }
    // The start time is field 22.
    fields.nth(18)?.parse().ok()
}

/// Changes to a container's directory, by inotify: its record replaced
/// (the atomic rename), files written or removed, the directory removed.
/// Made before the record is read, so no change between the read and the
/// wait is missed.
pub struct Watch {
    fd: OwnedFd,
}

impl Watch {
    pub fn new(dir: &Path) -> Result<Watch> {
        // SAFETY: inotify_init1 with flags only.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error()).context("inotify_init1");
        }
        // SAFETY: a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())?;
        let mask = libc::IN_MOVED_TO
            | libc::IN_MODIFY
            | libc::IN_CREATE
            | libc::IN_DELETE
            | libc::IN_DELETE_SELF;
        // SAFETY: a valid inotify fd and C string.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) } < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::NotFound {
                bail!("No such container: {}", dir.display());
            }
            return Err(err).with_context(|| format!("watch {}", dir.display()));
        }
        Ok(Watch { fd })
    }

    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Consume the pending events (call when the fd is readable).
    pub fn drain(&self) {
        let mut buf = [0u8; 4096];
        // SAFETY: reads into a buffer of the given length.
        unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    }
}

/// The state root.
#[derive(Debug, Clone)]
pub struct Root {
    pub path: PathBuf,
}

/// An `flock(2)`, released on drop.
pub struct Lock(File);

impl Lock {
    /// The locked file.
    pub fn file(&self) -> &File {
        &self.0
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // SAFETY: unlocks an flock held on an open fd.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// The id a name file holds: a symbolic link to the id (a regular file
/// holding it in roots made before).
fn read_name(path: &Path) -> Option<String> {
    match fs::read_link(path) {
        Ok(target) => target.to_str().map(String::from),
        Err(_) => fs::read_to_string(path).ok().map(|s| s.trim().to_string()),
    }
}

/// The prefix of a container directory being made: `.making-PID-START-ID`.
const MAKING: &str = ".making-";
/// In a directory being made: the container's cgroup, when not the default.
const MAKING_CGROUP: &str = "cgroup";

/// Whether the maker named in a `.making-PID-START-ID` directory is gone.
fn maker_gone(maker: &str) -> bool {
    let mut parts = maker.splitn(3, '-');
    let (Some(pid), Some(start)) = (parts.next(), parts.next()) else {
        return false;
    };
    match (pid.parse::<i32>(), start.parse::<u64>()) {
        (Ok(pid), Ok(start)) => pid_start_time(pid) != Some(start),
        _ => false,
    }
}

/// The record file of a container.
pub(crate) const RECORD: &str = "container.json";

#[derive(Serialize)]
struct RecordRef<'a> {
    config: &'a Config,
    state: &'a State,
}

#[derive(Deserialize)]
struct Record {
    config: Config,
    state: State,
}

fn write_record(dir: &Path, config: &Config, state: &State) -> Result<()> {
    let path = dir.join(RECORD);
    let data =
        serde_json::to_vec_pretty(&RecordRef { config, state }).expect("a record serialises");
    write_atomic(&path, &data, false).with_context(|| format!("write {}", path.display()))
}

pub fn lock_file(path: &Path) -> Result<Lock> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("open lock {}", path.display()))?;
    flock(file, path, libc::LOCK_EX)
}

/// Each `wait` on a container holds a shared lock on this file in its
/// directory. A `--rm` container's runtime that finds one records the exit
/// and lets every waiter read it before it removes the container.
const WAITERS: &str = "waiters";

fn flock(file: File, path: &Path, operation: i32) -> Result<Lock> {
    loop {
        // SAFETY: flock on an open fd.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(Lock(file));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err).with_context(|| format!("lock {}", path.display()));
        }
    }
}

/// A container's directory and records.
#[derive(Debug, Clone)]
pub struct Container {
    pub dir: PathBuf,
    pub config: Config,
    pub state: State,
}

impl Container {
    pub fn short_id(&self) -> &str {
        &self.config.id[..12]
    }

    /// Record a new state (atomically; no fsync: runtime state does not
    /// outlive a reboot anyway, and the rename keeps it whole on a crash).
    /// What other commands recorded meanwhile is kept: the user's stop mark
    /// and the limits set by `update`.
    pub fn save_state(&mut self, state: State) -> Result<()> {
        self.save_state_then(state, |_| {})
    }

    /// [`Self::save_state`], with `adjust` applied to the state to be
    /// written under the lock, once the user's mark from the record on disk
    /// is in it (a decision that depends on the mark is made atomically).
    pub fn save_state_then(
        &mut self,
        mut state: State,
        adjust: impl FnOnce(&mut State),
    ) -> Result<()> {
        // Removed meanwhile (`rm -f` from another shell): nothing to record.
        let Some(_lock) = self.lock()? else {
            self.state = state;
            return Ok(());
        };
        let path = self.dir.join(RECORD);
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.state = state;
                return Ok(());
            }
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        // A stop, kill or rm -f may have marked the run since this process
        // read the record: the mark stays (only a user's `start` clears it,
        // under the lock).
        if let Ok(on_disk) = serde_json::from_slice::<Record>(&data) {
            state.stopped_by_user |= on_disk.state.stopped_by_user;
            // And `update` may have changed its limits.
            self.config.resources = on_disk.config.resources;
        }
        adjust(&mut state);
        write_record(&self.dir, &self.config, &state)?;
        self.state = state;
        Ok(())
    }

    /// Rewrite the record (config and state) while the caller holds
    /// [`Container::lock`].
    pub fn save_state_locked(&mut self, state: State) -> Result<()> {
        write_record(&self.dir, &self.config, &state)?;
        self.state = state;
        Ok(())
    }

    /// The container's cgroup manager (None for a record without a cgroup).
    pub fn cgroup(&self, layout: &Layout) -> Option<AnyManager> {
        (!self.config.cgroup.is_empty()).then(|| AnyManager::new(layout, &self.config.cgroup))
    }

    /// Serialise changes to this container with other tinydocker processes
    /// (an `flock(2)` on its directory). `None` when the directory is gone.
    pub fn lock(&self) -> Result<Option<Lock>> {
        let dir = match File::open(&self.dir) {
            Ok(dir) => dir,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("open {}", self.dir.display())),
        };
        flock(dir, &self.dir, libc::LOCK_EX).map(Some)
    }

    /// Count this process among the container's waiters until the lock is
    /// dropped. `None` when the container is gone.
    pub fn add_waiter(&self) -> Result<Option<Lock>> {
        let path = self.dir.join(WAITERS);
        match File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        {
            Ok(file) => flock(file, &path, libc::LOCK_SH).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("open {}", path.display())),
        }
    }

    /// Whether some `wait` waits on the container now (never blocks; a
    /// container no one ever waited on has no file to lock).
    pub fn has_waiters(&self) -> bool {
        let Ok(file) = File::open(self.dir.join(WAITERS)) else {
            return false;
        };
        // SAFETY: flock on an open fd; dropping the file unlocks.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) != 0 }
    }

    /// Block until every waiter has let go (read the exit and returned).
    pub fn waiters_done(&self) -> Result<()> {
        let path = self.dir.join(WAITERS);
        match File::open(&path) {
            Ok(file) => flock(file, &path, libc::LOCK_EX).map(drop),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("open {}", path.display())),
        }
    }

    /// The recorded state checked against the live system.
    pub fn observe(&self) -> Observed {
        let alive = |pid: i32, start: u64| pid > 0 && pid_start_time(pid) == Some(start);
        let active = matches!(
            self.state.status,
            Status::Created | Status::Running | Status::Restarting
        );
        if active && !self.state.boot_id.is_empty() && self.state.boot_id != boot_id() {
            // The host rebooted since: processes, cgroups, mounts and
            // interfaces went with it.
            return Observed::Exited {
                code: REBOOT_EXIT_CODE,
                at: boot_time(),
            };
        }
        match self.state.status {
            // Being set up by its runtime, or left half-made by one that
            // was killed.
            Status::Created => {
                if alive(self.state.runtime_pid, self.state.runtime_start) {
                    Observed::Created
                } else {
                    Observed::Dead
                }
            }
            Status::Exited => Observed::Exited {
                code: self.state.exit_code,
                at: self.state.finished_at,
            },
            // Its supervisor gone, nobody will restart it.
            Status::Restarting if !alive(self.state.runtime_pid, self.state.runtime_start) => {
                Observed::Exited {
                    code: self.state.exit_code,
                    at: self.state.finished_at,
                }
            }
            Status::Restarting => Observed::Restarting {
                code: self.state.exit_code,
                at: self.state.finished_at,
            },
            Status::Running => {
                // Its init gone but its supervisor alive: the exit is being
                // recorded.
                if alive(self.state.pid, self.state.pid_start)
                    || alive(self.state.runtime_pid, self.state.runtime_start)
                {
                    Observed::Running {
                        since: self.state.started_at,
                    }
                } else {
                    Observed::Dead
                }
            }
        }
    }
}

impl Root {
    pub fn new(path: PathBuf) -> Self {
        Root { path }
    }

    pub fn images(&self) -> Result<ImageStore> {
        Ok(ImageStore::open(self.path.join("images"))?)
    }

    fn containers_dir(&self) -> PathBuf {
        self.path.join("containers")
    }

    /// The directory of the container with this id.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    fn names_dir(&self) -> PathBuf {
        self.path.join("names")
    }

    /// The mount point of container roots. Mounts happen in each container's
    /// private mount namespace, so one empty directory serves them all.
    pub fn mountpoint(&self) -> PathBuf {
        self.path.join("rootfs")
    }

    /// Where a `--rm` container mounts the tmpfs that holds its writable
    /// layer, in its own mount namespace (shared, like [`Self::mountpoint`]).
    pub fn scratch(&self) -> PathBuf {
        self.path.join("scratch")
    }

    fn lock(&self) -> Result<Lock> {
        fs::create_dir_all(&self.path)
            .with_context(|| format!("create state root {}", self.path.display()))?;
        lock_file(&self.path.join("containers.lock"))
    }

    /// Start making a container: its directory under a name that says who
    /// makes it (`.making-PID-START-ID`), before anything else of it exists
    /// (its cgroup, its init). A making cut short, even by SIGKILL, is
    /// swept once its maker is gone (see `list`): the directory, the cgroup
    /// (`cgroup` names it when it is not the default `tinydocker/ID`), and
    /// the name. With `layer_on_disk` its writable layer's directories
    /// (`upper`, `work`) are made in it. Returns the directory, where the
    /// container is set up, for [`Root::create`].
    pub fn begin(&self, id: &str, cgroup: &str, layer_on_disk: bool) -> Result<PathBuf> {
        let (me, start) = this_process();
        let making = self
            .containers_dir()
            .join(format!("{MAKING}{me}-{start}-{id}"));
        fs::create_dir_all(&making)
            .with_context(|| format!("create container directory {}", making.display()))?;
        let made = (|| -> io::Result<()> {
            if cgroup != format!("{DEFAULT_CGROUP_PARENT}/{id}") {
                fs::write(making.join(MAKING_CGROUP), cgroup)?;
            }
            fs::create_dir_all(self.mountpoint())?;
            fs::create_dir_all(self.scratch())?;
            // A --rm container's writable layer is a tmpfs of its own.
            if layer_on_disk {
                fs::create_dir(making.join("upper"))?;
                fs::create_dir(making.join("work"))?;
            }
            Ok(())
        })();
        if let Err(e) = made {
            let _ = fs::remove_dir_all(&making);
            return Err(e)
                .with_context(|| format!("create container directory {}", making.display()));
        }
        Ok(making)
    }

    /// Undo [`Root::begin`] after a failure before [`Root::create`].
    pub fn abandon(&self, making: &Path) {
        let _ = fs::remove_dir_all(making);
    }

    /// Create a container in the directory [`Root::begin`] made: take its
    /// name, write its record, and rename the directory into place. On any
    /// failure nothing of it is left but that directory (for the caller's
    /// next attempt or [`Root::abandon`]).
    pub fn create(&self, config: Config, state: State, making: &Path) -> Result<Container> {
        let _lock = self.lock()?;
        let name_file = self.names_dir().join(&config.name);
        if let Some(holder) = read_name(&name_file) {
            if self
                .containers_dir()
                .join(holder.trim())
                .join(RECORD)
                .exists()
            {
                bail!(
                    "Conflict. The container name \"/{}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    config.name,
                    holder.trim()
                );
            }
        }
        let dir = self.container_dir(&config.id);
        // Renamed into place whole: until then no directory looks like a
        // container.
        let result = (|| -> Result<Container> {
            fs::create_dir_all(self.names_dir())?;
            write_record(making, &config, &state)?;
            // The name names an id whose record does not exist yet: still
            // free, until the rename below. A symbolic link is made whole
            // or not at all (a temporary file to rename could be left by a
            // kill); a stale one (its holder's record is gone) is replaced.
            match fs::remove_file(&name_file) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
            std::os::unix::fs::symlink(&config.id, &name_file)?;
            if let Err(e) = fs::rename(making, &dir) {
                let _ = fs::remove_file(&name_file);
                let _ = fs::remove_file(making.join(RECORD));
                return Err(e.into());
            }
            Ok(Container {
                dir: dir.clone(),
                config,
                state,
            })
        })();
        result.with_context(|| format!("create container directory {}", dir.display()))
    }

    fn load(&self, dir: &Path) -> Result<Container> {
        let path = dir.join(RECORD);
        let data = fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        let record: Record =
            serde_json::from_slice(&data).with_context(|| format!("parse {}", path.display()))?;
        Ok(Container {
            dir: dir.to_path_buf(),
            config: record.config,
            state: record.state,
        })
    }

    /// Remove what a making cut short left (its maker is gone): its cgroup
    /// (whatever is left in it is killed first), the name it had taken,
    /// and the directory.
    fn sweep_unfinished(&self, making: &Path, id: &str) {
        let cgroup = match self.load(making) {
            Ok(c) => {
                let name_file = self.names_dir().join(&c.config.name);
                if read_name(&name_file).is_some_and(|holder| holder == c.config.id) {
                    let _ = fs::remove_file(&name_file);
                }
                c.config.cgroup
            }
            // The file is written before the cgroup is made: one cut short
            // (empty, or part of the path) names no cgroup of this
            // container, and nothing is removed by it.
            Err(_) => match fs::read_to_string(making.join(MAKING_CGROUP)) {
                Ok(path) => path,
                Err(_) => format!("{DEFAULT_CGROUP_PARENT}/{id}"),
            },
        };
        let ours = cgroup
            .strip_suffix(id)
            .is_some_and(|parent| parent.ends_with('/') && parent.len() > 1);
        if !ours {
            let _ = fs::remove_dir_all(making);
            return;
        }
        if let Ok(layout) = Layout::detect() {
            if remove_cgroup(&AnyManager::new(&layout, &cgroup)).is_err() {
                // Not gone: leave the directory, to try again next time.
                return;
            }
        }
        let _ = fs::remove_dir_all(making);
    }

    /// Every container with a readable record, newest first.
    pub fn list(&self) -> Result<Vec<Container>> {
        let dir = self.containers_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("read {}", dir.display())),
        };
        let mut all = Vec::new();
        for entry in entries.flatten() {
            if let Some(maker) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(MAKING))
            {
                if maker_gone(maker) {
                    let id = maker.rsplit('-').next().unwrap_or_default();
                    self.sweep_unfinished(&entry.path(), id);
                }
                continue;
            }
            // A directory without a record is a creation cut short: not a container.
            if let Ok(c) = self.load(&entry.path()) {
                all.push(c);
            }
        }
        all.sort_by_key(|c| std::cmp::Reverse(c.config.created));
        Ok(all)
    }

    /// Find a container by name, full id or unique id prefix.
    pub fn find(&self, key: &str) -> Result<Container> {
        if key.is_empty() {
            bail!("No such container: {key}");
        }
        if let Some(id) = read_name(&self.names_dir().join(key)) {
            if let Ok(c) = self.load(&self.containers_dir().join(id.trim())) {
                return Ok(c);
            }
        }
        if key.bytes().all(|b| b.is_ascii_hexdigit()) {
            let matches: Vec<Container> = self
                .list()?
                .into_iter()
                .filter(|c| c.config.id.starts_with(key))
                .collect();
            match matches.len() {
                0 => {}
                1 => return Ok(matches.into_iter().next().expect("one match")),
                n => bail!("multiple containers ({n}) match the prefix \"{key}\": use more of the id or the name"),
            }
        }
        Err(anyhow!("No such container: {key}"))
    }

    /// Remove a container's files and free its name. The caller holds the
    /// container's [`Container::lock`].
    pub fn remove(&self, container: &Container) -> Result<()> {
        let _lock = self.lock()?;
        let name_file = self.names_dir().join(&container.config.name);
        if read_name(&name_file).is_some_and(|id| id == container.config.id) {
            fs::remove_file(&name_file)
                .with_context(|| format!("remove {}", name_file.display()))?;
        }
        // The record first: from then on the directory is no container.
        match fs::remove_file(container.dir.join(RECORD)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("remove {}", container.dir.display())),
        }
        // A `wait` that found the record just before it went may add its
        // waiters file meanwhile: the directory is then not empty once.
        let mut tries = 0;
        loop {
            tries += 1;
            match fs::remove_dir_all(&container.dir) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) && tries < 3 => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("remove {}", container.dir.display()))
                }
            }
        }
    }

    /// Ids of the images that containers use.
    pub fn images_in_use(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .list()?
            .into_iter()
            .map(|c| (c.config.image_id.clone(), c.config.id.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        let p = |t: &str| RestartPolicy::parse(t).unwrap();
        assert!(!p("no").restarts(1, 0, false));
        assert!(p("always").restarts(0, 99, false));
        assert!(p("unless-stopped").restarts(0, 0, false));
        assert!(!p("always").restarts(1, 0, true), "stopped by the user");
        let limited = p("on-failure:2");
        assert_eq!(limited.maximum_retry_count, 2);
        assert!(limited.restarts(3, 1, false));
        assert!(!limited.restarts(3, 2, false));
        assert!(!limited.restarts(0, 0, false), "a success is no failure");
        assert!(p("on-failure").restarts(1, 1000, false));
        for bad in ["", "sometimes", "always:1", "on-failure:-1", "on-failure:x"] {
            assert!(RestartPolicy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn own_start_time_is_readable() {
        let me = std::process::id() as i32;
        assert!(pid_start_time(me).is_some());
        assert_eq!(pid_start_time(me), pid_start_time(me));
        assert_eq!(pid_start_time(i32::MAX), None);
    }
}
