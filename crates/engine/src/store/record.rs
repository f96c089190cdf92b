//! A container's record, `containers/<id>/container.json`: its OCI runtime
//! spec and the engine's configuration (what was asked for, written at
//! creation) and its state (how it is going: pid, exit code, times).
//!
//! One file, replaced atomically (temp file + rename): every file created
//! and deleted costs a new inode, the largest single cost of `run --rm` on
//! a disk like this one. Liveness is decided by the pid *and* its start
//! time, never a bare pid.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tinydocker_cgroups::{AnyManager, Layout};
use tinydocker_fs::write_atomic;

use super::lock::{flock, locked_by_others, How, Lock};
use crate::config::ContainerConfig;
use crate::error::{Error, Result};
use crate::network::NetSettings;
use crate::proc::{boot_id, boot_time, pid_start_time};

/// The record file of a container.
pub(crate) const RECORD: &str = "container.json";

/// Each `wait` on a container holds a shared lock on this file in its
/// directory. A `--rm` container's runtime that finds one records the exit
/// and lets every waiter read it before it removes the container.
const WAITERS: &str = "waiters";

/// The exit code shown for a container that was running when the host
/// went down (docker's).
pub const REBOOT_EXIT_CODE: i32 = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
/// The status a record says.
pub enum Status {
    /// Being started by its runtime.
    Created,
    /// Made, and never started (docker's "created": `create`, the API's
    /// `containers/create`): it has its record, name and writable layer,
    /// no cgroup, network place or process; `start` runs it.
    Unstarted,
    /// Its command runs.
    Running,
    /// Exited; its supervisor waits to start it again (restart policy).
    Restarting,
    /// It ended.
    Exited,
}

/// How the container is doing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// See [`Status`].
    pub status: Status,
    /// Its init's host pid.
    #[serde(default)]
    pub pid: i32,
    /// The pid's start time (clock ticks after boot, /proc/PID/stat field 22).
    #[serde(default)]
    pub pid_start: u64,
    /// How its last run ended: its code, or 128 + the signal.
    #[serde(default)]
    pub exit_code: i32,
    /// Why its last start failed.
    #[serde(default)]
    pub error: String,
    /// Nanoseconds since the epoch.
    #[serde(default)]
    pub started_at: u128,
    /// Nanoseconds since the epoch.
    #[serde(default)]
    pub finished_at: u128,
    /// The kernel's OOM killer killed a process of the container.
    #[serde(default)]
    pub oom_killed: bool,
    /// Its address, ports and veth were released (at its exit).
    #[serde(default)]
    pub net_released: bool,
    /// The tinydocker process that supervises it (a foreground `run`) and
    /// its start time: it records the exit, so waiting for a container to
    /// be stopped for good means waiting for this process too.
    #[serde(default)]
    pub runtime_pid: i32,
    /// Its start time, as [`State::pid_start`] is the init's.
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
    /// Its place on a bridge network in its last (or current) run.
    #[serde(default)]
    pub net: Option<NetSettings>,
    /// Its places on the networks it is connected to beside its first one
    /// (`network connect`), in its last (or current) run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_nets: Vec<NetSettings>,
    /// Whether the device cgroup restricts the container ("enforced"), or
    /// why it cannot ("unavailable: ..."); "all devices allowed" when the
    /// spec allows them all.
    #[serde(default)]
    pub device_cgroup: String,
    /// Its processes are frozen (`pause`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
}

impl State {
    /// A container made and not started ([`Status::Unstarted`]).
    pub fn unstarted() -> Self {
        State {
            status: Status::Unstarted,
            ..State::created()
        }
    }

    /// A container being made, in this boot.
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
            net: None,
            extra_nets: Vec::new(),
            device_cgroup: String::new(),
            paused: false,
        }
    }

    /// Its places on networks in its last (or current) run: its first
    /// network's, then those it was connected to.
    pub fn nets(&self) -> impl Iterator<Item = &NetSettings> + Clone {
        self.net.iter().chain(&self.extra_nets)
    }
}

/// The recorded state checked against the running system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Being started by its runtime.
    Created,
    /// Made and never started (see [`Status::Unstarted`]).
    Unstarted,
    /// Its command runs.
    Running {
        /// Nanoseconds since the epoch.
        since: u128,
    },
    /// It ended.
    Exited {
        /// Its exit code, or 128 + the signal.
        code: i32,
        /// Nanoseconds since the epoch.
        at: u128,
    },
    /// Exited, to be started again by its supervisor.
    Restarting {
        /// How the last run ended.
        code: i32,
        /// When.
        at: u128,
    },
    /// Recorded as running, but its process is gone (the runtime was killed).
    Dead,
}

impl Observed {
    /// Not stopped: running, being started (a `run`, `start` or restart
    /// in progress), or waiting to restart. Removing one needs force, and
    /// a prune leaves it.
    pub fn active(&self) -> bool {
        matches!(
            self,
            Observed::Created | Observed::Running { .. } | Observed::Restarting { .. }
        )
    }

    /// docker's one-word State.Status: created, running, restarting,
    /// exited, dead.
    pub fn status_word(&self) -> &'static str {
        match self {
            Observed::Created | Observed::Unstarted => "created",
            Observed::Running { .. } => "running",
            Observed::Exited { .. } => "exited",
            Observed::Restarting { .. } => "restarting",
            Observed::Dead => "dead",
        }
    }
}

/// A container's spec as its record holds it: the JSON is parsed on first
/// use only (listing containers, stopping one, recording an exit need
/// their configuration and state, not the spec), and written back as it
/// was read while nothing changes it.
#[derive(Debug, Clone)]
pub(crate) struct StoredSpec {
    /// The spec's JSON; `None` once the parsed spec was changed.
    json: Option<Box<RawValue>>,
    parsed: OnceLock<Spec>,
}

impl StoredSpec {
    pub(crate) fn new(spec: Spec) -> StoredSpec {
        StoredSpec {
            json: None,
            parsed: OnceLock::from(spec),
        }
    }

    fn from_json(json: Box<RawValue>) -> StoredSpec {
        StoredSpec {
            json: Some(json),
            parsed: OnceLock::new(),
        }
    }

    fn get(&self, dir: &Path) -> Result<&Spec> {
        if let Some(spec) = self.parsed.get() {
            return Ok(spec);
        }
        let json = self
            .json
            .as_ref()
            .expect("a spec is parsed or has its JSON");
        let spec: Spec = serde_json::from_str(json.get()).map_err(|e| Error::Context {
            context: format!("parse the spec in {}", dir.join(RECORD).display()),
            source: Box::new(e.into()),
        })?;
        Ok(self.parsed.get_or_init(|| spec))
    }

    fn get_mut(&mut self, dir: &Path) -> Result<&mut Spec> {
        self.get(dir)?;
        self.json = None;
        Ok(self.parsed.get_mut().expect("just parsed"))
    }

    /// The JSON to write, made from the parsed spec if it changed.
    fn json(&mut self) -> Result<&RawValue> {
        if self.json.is_none() {
            let spec = self.parsed.get().expect("a spec is parsed or has its JSON");
            self.json = Some(serde_json::value::to_raw_value(spec)?);
        }
        Ok(self.json.as_deref().expect("just made"))
    }
}

#[derive(Serialize)]
struct RecordRef<'a> {
    spec: &'a RawValue,
    config: &'a ContainerConfig,
    state: &'a State,
}

#[derive(Deserialize)]
struct Record {
    spec: Box<RawValue>,
    config: ContainerConfig,
    state: State,
}

/// Of a record on disk, what another process may have changed since this
/// one read it: its spec (`update`'s limits), the user's stop mark, and
/// its networks.
#[derive(Deserialize)]
struct Changes {
    spec: Box<RawValue>,
    state: Mark,
    config: Networked,
}

/// Of a record on disk, its networks: `network connect` and `disconnect`
/// change them while it runs (or is being started).
#[derive(Deserialize)]
struct Networked {
    #[serde(default)]
    bridge: Option<crate::config::BridgeRequest>,
    #[serde(default)]
    extra_networks: Vec<crate::config::BridgeRequest>,
}

#[derive(Deserialize)]
struct Mark {
    #[serde(default)]
    stopped_by_user: bool,
}

pub(crate) fn write_record(
    dir: &Path,
    spec: &mut StoredSpec,
    config: &ContainerConfig,
    state: &State,
) -> Result<()> {
    let path = dir.join(RECORD);
    let data = record_json(spec, config, state)?;
    write_atomic(&path, &data, false).map_err(|e| Error::io("write", &path, e))
}

/// The first record, in a making directory nobody else reads (renamed
/// into place once the record is whole; swept if its maker dies): written
/// in place, without write_atomic's temporary file and rename.
pub(crate) fn write_first_record(
    making: &Path,
    spec: &mut StoredSpec,
    config: &ContainerConfig,
    state: &State,
) -> Result<()> {
    let path = making.join(RECORD);
    let data = record_json(spec, config, state)?;
    fs::write(&path, &data).map_err(|e| Error::io("write", &path, e))
}

fn record_json(spec: &mut StoredSpec, config: &ContainerConfig, state: &State) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&RecordRef {
        spec: spec.json()?,
        config,
        state,
    })?)
}

/// A container: its directory and record.
#[derive(Debug, Clone)]
pub struct Container {
    /// `containers/<id>/`.
    pub dir: PathBuf,
    /// What to run ([`Container::spec`]).
    pub(crate) spec: StoredSpec,
    /// What the engine does beside.
    pub config: ContainerConfig,
    /// How it is going.
    pub state: State,
}

impl Container {
    pub(crate) fn load(dir: &Path) -> Result<Container> {
        let path = dir.join(RECORD);
        let data = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let (spec, config, state) = match serde_json::from_slice::<Record>(&data) {
            Ok(record) => (
                StoredSpec::from_json(record.spec),
                record.config,
                record.state,
            ),
            Err(e) => match serde_json::from_slice::<super::legacy::Record>(&data) {
                // `containers/<id>` of the state root, whose `rootfs` the
                // containers mount their roots on.
                Ok(old) => {
                    let root = dir.parent().and_then(Path::parent).unwrap_or(dir);
                    let (spec, config, state) = old.upgrade(&root.join("rootfs"))?;
                    (StoredSpec::new(spec), config, state)
                }
                Err(_) => {
                    return Err(Error::Context {
                        context: format!("parse {}", path.display()),
                        source: Box::new(e.into()),
                    })
                }
            },
        };
        Ok(Container {
            dir: dir.to_path_buf(),
            spec,
            config,
            state,
        })
    }

    /// A container made here, not yet recorded.
    pub(crate) fn new(
        dir: PathBuf,
        spec: Spec,
        config: ContainerConfig,
        state: State,
    ) -> Container {
        Container {
            dir,
            spec: StoredSpec::new(spec),
            config,
            state,
        }
    }

    /// What to run: its OCI runtime spec (parsed from the record on first
    /// use; an error if the record's spec cannot be read).
    pub fn spec(&self) -> Result<&Spec> {
        self.spec.get(&self.dir)
    }

    /// The spec, to change it: the record gets the changed spec when it is
    /// next written.
    pub(crate) fn spec_mut(&mut self) -> Result<&mut Spec> {
        self.spec.get_mut(&self.dir)
    }

    /// 64 hex digits.
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The id its hooks (and an OCI runtime's `state`) see: an OCI
    /// bundle's container is known by its name, others by their id.
    pub fn hook_id(&self) -> &str {
        match self.config.bundle {
            Some(_) => &self.config.name,
            None => &self.config.id,
        }
    }

    /// Its bundle directory as hooks see it: an OCI bundle's, or the
    /// container's own directory.
    pub fn bundle(&self) -> &Path {
        self.config.bundle.as_deref().unwrap_or(&self.dir)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The first 12 digits of its id.
    pub fn short_id(&self) -> &str {
        &self.config.id[..12]
    }

    /// The command and its arguments (the spec's `process.args`; none if
    /// the spec cannot be read). Read without parsing the whole spec when
    /// it is not parsed yet (`ps` over many containers).
    pub fn args(&self) -> Vec<String> {
        if let (None, Some(json)) = (self.spec.parsed.get(), &self.spec.json) {
            #[derive(Deserialize)]
            struct Args {
                process: Option<Process>,
            }
            #[derive(Deserialize)]
            struct Process {
                args: Option<Vec<String>>,
            }
            return serde_json::from_str::<Args>(json.get())
                .ok()
                .and_then(|a| a.process?.args)
                .unwrap_or_default();
        }
        self.spec()
            .ok()
            .and_then(|s| s.process().as_ref())
            .and_then(|p| p.args().clone())
            .unwrap_or_default()
    }

    /// The cgroup, relative to the hierarchy roots (`tinydocker/<id>`);
    /// "" when the spec names none.
    pub fn cgroup_path(&self) -> Result<String> {
        Ok(crate::spec::cgroup_path(self.spec()?))
    }

    /// The container's cgroup manager (None for a spec without a cgroup).
    pub fn cgroup(&self, layout: &Layout) -> Result<Option<AnyManager>> {
        let path = self.cgroup_path()?;
        Ok((!path.is_empty()).then(|| AnyManager::new(layout, &path)))
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
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        // A stop, kill or rm -f may have marked the run since this process
        // read the record: the mark stays (only a user's `start` clears it,
        // under the lock). And `update` may have changed its limits: the
        // spec on disk is the one to keep (nothing else in it changes).
        if let Ok(on_disk) = serde_json::from_slice::<Changes>(&data) {
            state.stopped_by_user |= on_disk.state.stopped_by_user;
            self.config.bridge = on_disk.config.bridge;
            self.config.extra_networks = on_disk.config.extra_networks;
            match &self.spec.json {
                Some(ours) if ours.get() == on_disk.spec.get() => {}
                Some(_) => self.spec = StoredSpec::from_json(on_disk.spec),
                // Changed here (spec_mut): ours, with the limits on disk.
                None => {
                    let resources = serde_json::from_str::<Spec>(on_disk.spec.get())
                        .ok()
                        .and_then(|s| s.linux().as_ref()?.resources().clone());
                    if let Some(linux) = self.spec_mut()?.linux_mut() {
                        linux.set_resources(resources);
                    }
                }
            }
        }
        adjust(&mut state);
        write_record(&self.dir, &mut self.spec, &self.config, &state)?;
        self.state = state;
        Ok(())
    }

    /// Rewrite the record (spec, config and state) while the caller holds
    /// [`Container::lock`].
    pub fn save_state_locked(&mut self, state: State) -> Result<()> {
        write_record(&self.dir, &mut self.spec, &self.config, &state)?;
        self.state = state;
        Ok(())
    }

    /// Serialise changes to this container with other processes (an
    /// `flock(2)` on its directory). `None` when the directory is gone.
    pub fn lock(&self) -> Result<Option<Lock>> {
        let dir = match File::open(&self.dir) {
            Ok(dir) => dir,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open", &self.dir, e)),
        };
        flock(dir, &self.dir, How::Exclusive).map(Some)
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
            Ok(file) => flock(file, &path, How::Shared).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("open", &path, e)),
        }
    }

    /// Whether some `wait` waits on the container now (never blocks; a
    /// container no one ever waited on has no file to lock).
    pub fn has_waiters(&self) -> bool {
        File::open(self.dir.join(WAITERS)).is_ok_and(locked_by_others)
    }

    /// Block until every waiter has let go (read the exit and returned).
    pub fn waiters_done(&self) -> Result<()> {
        let path = self.dir.join(WAITERS);
        match File::open(&path) {
            Ok(file) => flock(file, &path, How::Exclusive).map(drop),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("open", &path, e)),
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
            // An OCI bundle's: no runtime stays with it, its init tells;
            // it is created (not started) while its start fifo is there:
            // `start` removes it, as runc's removes its exec fifo.
            Status::Created | Status::Running if self.config.bundle.is_some() => {
                if !alive(self.state.pid, self.state.pid_start) {
                    Observed::Dead
                } else if self.dir.join(crate::container::create::START_FIFO).exists() {
                    Observed::Created
                } else {
                    Observed::Running {
                        since: self.state.started_at,
                    }
                }
            }
            // Being set up by its runtime, or left half-made by one that
            // was killed.
            Status::Created => {
                if alive(self.state.runtime_pid, self.state.runtime_start) {
                    Observed::Created
                } else {
                    Observed::Dead
                }
            }
            Status::Unstarted => Observed::Unstarted,
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
