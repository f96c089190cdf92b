//! A container's whole life, from an OCI runtime spec.
//!
//! The engine executes a container's [`Spec`] (`config.json` of the OCI
//! runtime spec: process, namespaces, mounts, resources, security, hooks)
//! beside its own [`ContainerConfig`] (root filesystem from image layers,
//! bridge network and published ports, restart policy, logs, removal at
//! exit): it records the container under its state root, makes its
//! cgroup, clones its init into new namespaces, connects its network,
//! supervises it (in the foreground, or from a small detached supervisor
//! that keeps its log and restarts it), and afterwards stops, waits on,
//! execs into, updates and removes it. Nothing is left behind: every
//! cgroup, mount, veth, address and firewall rule goes with the container.
//!
//! Front ends — the `tinydocker` command line, an OCI runtime, a Docker
//! Engine API server — build the spec and configuration and call the
//! engine; the engine composes the library crates (`tinydocker-ns`, `-fs`,
//! `-cgroups`, `-net`, `-security`), which know nothing of each other.
//!
//! A program that starts detached containers must call
//! [`run_supervisor_if_asked`] first thing in `main`: a detached
//! container's supervisor re-executes the program's own binary.
//!
//! See the README for an example that starts and removes a container.

#![warn(missing_docs)]

/// The README's example, compiled as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod config;
mod container;
mod dns;
mod error;
mod events;
mod hooks;
pub mod logs;
mod network;
mod proc;
mod process;
mod reset;
pub mod spec;
mod stdin;
mod store;
mod supervisor;
mod sys;
mod usage;
mod volume;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use oci_spec::runtime::Spec;

pub use config::{
    labels_match, BridgeRequest, ContainerConfig, DeviceOrigin, EtcConfig, LogDriver, Meta, Origin,
    RestartPolicy, Rootfs, VolumeMount,
};
pub use container::exec::{image_file, set_env, ExecProcess, ExecRequest};
pub use container::finish::Exit;
pub use container::launch::{Launched, Stdio};
pub use container::prune::Pruned;
pub use container::root::{process_user, RootView};
pub use container::stats::{host_memory, Sample};
pub use container::wait::{WaitCondition, Waiting};
pub use error::{errno_text, io_text, Context, Error, ExecFailure, Result};
pub use events::{Event, EventFilter, EventQuery, EventType};
pub use logs::rfc3339;
pub use logs::{Entry as LogEntry, LogOptions, Stream};
pub use network::{
    root_tag, EtcFiles, NetSettings, Network, DEFAULT as DEFAULT_NETWORK,
    PREDEFINED as PREDEFINED_NETWORKS,
};
pub use proc::{host_hostname, now_nanos};
pub use process::pidfd::Process;
pub use process::signal::parse_signal;
pub use store::{
    generate_name, new_id, validate_name, Container, ImageHold, Observed, State, Status,
    DEFAULT_CGROUP_PARENT,
};
pub use supervisor::run_supervisor_if_asked;
pub use usage::{ContainerUsage, DiskUsage, ImageUsage, VolumeUsage};
pub use volume::{valid_name as valid_volume_name, VolumeInfo, VolumeRecord};

/// The state root unless another is given.
pub const DEFAULT_ROOT: &str = "/var/lib/tinydocker";

/// The PATH a container gets unless its image or spec sets one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Something the engine did not manage that need not fail the operation
/// (a cleanup step, a device cgroup it cannot enforce, a poststop hook).
pub type WarningSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The engine on one state root.
///
/// ```no_run
/// let engine = tinydocker_engine::Engine::new("/var/lib/tinydocker")
///     .on_warning(|w| eprintln!("warning: {w}"));
/// for c in engine.containers()? {
///     println!("{} {}", c.short_id(), c.observe().status_word());
/// }
/// # Ok::<(), tinydocker_engine::Error>(())
/// ```
#[derive(Clone)]
pub struct Engine {
    store: store::Store,
    warn: WarningSink,
    journal: events::Journal,
}

impl Engine {
    /// The engine on `root` (made on first use).
    pub fn new(root: impl Into<PathBuf>) -> Engine {
        let root = root.into();
        Engine {
            journal: events::Journal::new(&root),
            store: store::Store::new(root),
            warn: Arc::new(|_| {}),
        }
    }

    /// Where warnings go (by default, nowhere).
    pub fn on_warning(mut self, warn: impl Fn(&str) + Send + Sync + 'static) -> Engine {
        self.warn = Arc::new(warn);
        self
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.store.path
    }

    pub(crate) fn warn(&self, text: &str) {
        (self.warn)(text)
    }

    /// The image store.
    pub fn images(&self) -> Result<tinydocker_fs::ImageStore> {
        self.store.images()
    }

    /// Keep images from removal until the hold is dropped or handed to
    /// [`Engine::run`] (whose record then names the image): take it before
    /// resolving the image a container is made from.
    pub fn hold_images(&self) -> Result<ImageHold> {
        store::ImageHold::take(&self.store)
    }

    /// Remove an image by name or id (`rmi`): refused while a container
    /// uses it, unless `force` (which only untags it then).
    pub fn remove_image(&self, name: &str, force: bool) -> Result<tinydocker_fs::Removed> {
        container::images::remove(self, name, force)
    }

    /// Remove the images no container uses: those without a name, or
    /// with `all` every one (`image prune [-a]`).
    pub fn prune_images(&self, all: bool) -> Result<Vec<tinydocker_fs::Removed>> {
        container::images::prune(self, all, |_| true)
    }

    /// [`Engine::prune_images`] of the images `keep` accepts (a prune's
    /// filters).
    pub fn prune_images_where(
        &self,
        all: bool,
        keep: impl Fn(&tinydocker_fs::Image) -> bool,
    ) -> Result<Vec<tinydocker_fs::Removed>> {
        container::images::prune(self, all, keep)
    }

    /// Every container, newest first.
    pub fn containers(&self) -> Result<Vec<Container>> {
        self.store.list()
    }

    /// What `f` keeps of each container (`Some`), newest first: each
    /// record is dropped once `f` has seen it, so listing many holds only
    /// what is kept (a row of `ps`), not every container's spec.
    pub fn containers_map<T>(&self, f: impl FnMut(Container) -> Option<T>) -> Result<Vec<T>> {
        self.store.list_map(f)
    }

    /// A container by name, id or unique id prefix.
    pub fn container(&self, key: &str) -> Result<Container> {
        self.store.find(key)
    }

    /// A descriptor (`O_PATH`) of the root of a container's filesystem,
    /// running or not, to read and write paths under with
    /// `tinydocker_fs::copy` (`cp`, `export`): as its processes see it, or
    /// its layers alone (see [`RootView`]).
    pub fn open_root(&self, container: &Container, view: RootView) -> Result<std::os::fd::OwnedFd> {
        container::root::open_root(self, container, view)
    }

    /// Rename a container (`rename OLD NEW`), as docker: the name must be
    /// free; the container may be running.
    pub fn rename(&self, key: &str, new: &str) -> Result<()> {
        let found = self.store.find(key)?;
        let Some(_lock) = found.lock()? else {
            return Err(Error::NoSuchContainer(key.to_string()));
        };
        let mut container = self.store.find(&found.config.id)?;
        if container.config.name == new {
            return Err(Error::State(format!(
                "Renaming a container with the same name as its current name: {new}"
            )));
        }
        let old = container.config.name.clone();
        self.store.rename(&mut container, new)?;
        self.container_event(&container.config, "rename", &[("oldName", old)]);
        Ok(())
    }

    /// A new container id (64 hex digits).
    pub fn new_id(&self) -> String {
        new_id()
    }

    /// Create a container from `spec` and `config` and start its command,
    /// supervised by this process: wait for its init (with
    /// [`tinydocker_ns::SignalForwarder::supervise`] or a terminal relay),
    /// then call [`Engine::finish`]. Block every signal this process
    /// forwards before calling ([`tinydocker_ns::SignalForwarder::block`]).
    /// On failure nothing of it is left but its record, which says why (and
    /// not even that with `auto_remove`).
    pub fn run(
        &self,
        spec: Spec,
        config: ContainerConfig,
        hold: ImageHold,
        stdio: Stdio,
    ) -> Result<Launched> {
        let mut launched = container::create::launch(self, spec, config, Some(hold), stdio)?;
        // Served from a thread of this process until the container ends.
        let id = launched.container.config.id.clone();
        if let Some(dns) = launched.dns.as_mut() {
            if let Err(e) = dns.serve(self.root().to_path_buf(), id) {
                self.warn(&format!(
                    "warning: no embedded DNS server: {}",
                    e.one_line()
                ));
            }
        }
        Ok(launched)
    }

    /// Make a container from `spec` and `config` without starting it
    /// (docker's `create`): its record, name and writable layer, no
    /// cgroup, network place or process. [`Engine::start`] runs it later
    /// as it starts a stopped container (detached, its restart policy and
    /// `auto_remove` applying from then on). `hold` is as for
    /// [`Engine::run`]. Returns its id; on failure nothing of it is left.
    pub fn create_container(
        &self,
        spec: Spec,
        config: ContainerConfig,
        hold: ImageHold,
    ) -> Result<String> {
        container::create::create_unstarted(self, spec, config, hold)
    }

    /// [`Engine::run`] in the background: a supervisor process of its own
    /// keeps the container's output in its log, records its exit, and
    /// restarts it by its policy. Returns the id once the command runs.
    pub fn run_detached(
        &self,
        spec: Spec,
        config: ContainerConfig,
        hold: ImageHold,
    ) -> Result<String> {
        let (interactive, tty) = (config.interactive, spec::terminal(&spec));
        supervisor::detach(self, interactive, tty, Some(hold), move |stdio, hold| {
            container::create::launch(self, spec, config, hold, stdio)
        })
    }

    /// Record how a container [`Engine::run`] started ended, release what
    /// it held, and remove it with `auto_remove`.
    pub fn finish(
        &self,
        launched: &mut Launched,
        status: tinydocker_ns::ExitStatus,
    ) -> Result<Exit> {
        // The container's network namespace is gone: so is its server.
        launched.dns = None;
        container::finish::finish(
            self,
            &mut launched.container,
            &launched.cgroup,
            status,
            false,
        )
    }

    /// An OCI runtime's `create`: make the container of a bundle
    /// (`config.bundle` set, `config.rootfs` [`Rootfs::Path`]) and leave
    /// its init, a child of this process, ready to exec its command and
    /// waiting for [`Engine::start_created`]. This process may exit: the
    /// init outlives it (its caller, a subreaper, adopts it). On failure
    /// nothing of it is left.
    pub fn create(&self, spec: Spec, config: ContainerConfig, stdio: Stdio) -> Result<Launched> {
        if config.bundle.is_none() {
            return Err(error::invalid!("create: the configuration names no bundle"));
        }
        container::create::launch(self, spec, config, None, stdio)
    }

    /// Let a container made by [`Engine::create`] run its command (its
    /// `startContainer` hooks first, its `poststart` hooks after).
    pub fn start_created(&self, key: &str) -> Result<()> {
        container::oci::start(self, self.store.find(key)?)
    }

    /// [`Engine::start_created`] of a container the caller has just read
    /// (it is read again under its lock).
    pub fn start_created_found(&self, container: Container) -> Result<()> {
        container::oci::start(self, container)
    }

    /// Freeze every process of a running container.
    pub fn pause(&self, key: &str) -> Result<()> {
        container::oci::set_paused(self, key, true)
    }

    /// Thaw a paused container.
    pub fn resume(&self, key: &str) -> Result<()> {
        container::oci::set_paused(self, key, false)
    }

    /// The host pids of a container's processes.
    pub fn processes(&self, container: &Container) -> Result<Vec<i32>> {
        container::oci::processes(container)
    }

    /// Send `signal` to every process of a container.
    pub fn kill_all(&self, key: &str, signal: i32) -> Result<()> {
        container::oci::signal_all(self, key, signal)
    }

    /// Start a stopped container again, detached, with the same writable
    /// layer, name and configuration.
    pub fn start(&self, key: &str) -> Result<()> {
        container::start::start(self, key)
    }

    /// Send `signal` to a running container's init (`kill`); a paused
    /// container is thawed after, so that the signal is taken (docker's).
    pub fn kill(&self, key: &str, signal: i32) -> Result<()> {
        container::stop::kill(self, key, signal, true)
    }

    /// [`Engine::kill`] that leaves a paused container frozen (runc's
    /// `kill`: the signal is taken at the thaw).
    pub fn signal(&self, key: &str, signal: i32) -> Result<()> {
        container::stop::kill(self, key, signal, false)
    }

    /// Stop containers: `signal` (None: each container's stop signal,
    /// SIGTERM unless it has one) to each, then SIGKILL after `grace`
    /// (None: each container's stop timeout, 10 s unless it has one),
    /// counted for all from when the signals were sent; return once their
    /// runtimes have recorded the exits. `stopped` is called with each key,
    /// in order, as that container's exit is recorded. Stopping a stopped
    /// container is no error.
    pub fn stop(
        &self,
        keys: &[String],
        signal: Option<i32>,
        grace: Option<std::time::Duration>,
        stopped: impl FnMut(&str),
    ) -> Result<()> {
        container::stop::stop(self, keys, signal, grace, stopped)
    }

    /// Stop (with its own stop signal), then start.
    pub fn restart(&self, key: &str, grace: Option<std::time::Duration>) -> Result<()> {
        container::stop::stop(self, &[key.to_string()], None, grace, |_| {})?;
        self.start(key)?;
        if let Ok(c) = self.store.find(key) {
            self.container_event(&c.config, "restart", &[]);
        }
        Ok(())
    }

    /// Remove a container; `force` kills a running one first.
    pub fn remove(&self, key: &str, force: bool) -> Result<()> {
        container::remove::remove(self, self.store.find(key)?, force)
    }

    /// [`Engine::remove`] of a container the caller has just read (it is
    /// read again under its lock).
    pub fn remove_found(&self, container: Container, force: bool) -> Result<()> {
        container::remove::remove(self, container, force)
    }

    /// [`Engine::remove`], then the container's anonymous volumes
    /// (`rm -v`).
    pub fn remove_with_volumes(&self, key: &str, force: bool) -> Result<()> {
        let container = self.store.find(key)?;
        let volumes = container.config.meta.volumes.clone();
        container::remove::remove(self, container, force)?;
        self.remove_volumes_of(&volumes);
        Ok(())
    }

    /// Remove these volumes of a container that is gone (a warning for
    /// each that could not be).
    pub(crate) fn remove_volumes_of(&self, volumes: &[VolumeMount]) {
        let store = volume::Volumes::new(&self.store.path);
        for v in volumes {
            match store.remove(&v.name) {
                Ok(_) => self.volume_event("destroy", &v.name, &[]),
                Err(e) => self.warn(&format!("remove volume {}: {}", v.name, e.one_line())),
            }
        }
    }

    /// Make an anonymous volume for `path`, filled with what the image
    /// layers `layers` (bottom first) have there; its name. `hold` keeps
    /// it from `volume rm` and `volume prune` until it is dropped or
    /// handed to [`Engine::run`] (whose record then names the volume).
    pub fn create_volume(
        &self,
        hold: &mut ImageHold,
        layers: &[PathBuf],
        path: &str,
    ) -> Result<String> {
        let volumes = volume::Volumes::new(&self.store.path);
        hold.hold_volumes(&volumes)?;
        let name = volumes.create(layers, path)?;
        self.volume_event("create", &name, &[]);
        Ok(name)
    }

    /// Make named volume `name` (None: a generated name of 64 hex
    /// digits), empty, with `labels`; one of that name already there is
    /// kept as it is, as docker's `volume create`.
    pub fn create_named_volume(
        &self,
        name: Option<&str>,
        labels: std::collections::BTreeMap<String, String>,
    ) -> Result<VolumeInfo> {
        let volumes = volume::Volumes::new(&self.store.path);
        let name = name.map_or_else(new_id, str::to_string);
        volumes.create_named(&name, labels)?;
        self.volume_event("create", &name, &[]);
        volumes.info(&name)
    }

    /// Named volume `name` for a container's `-v NAME:PATH`: made on
    /// first use, and filled with what the image layers `layers` (bottom
    /// first) have at `path` when it is empty, as docker's. `hold` keeps
    /// it from `volume rm` and `volume prune` until it is dropped or
    /// handed to [`Engine::run`], whose record must then name it in
    /// [`Meta::named_volumes`]. Returns where its content is and whether
    /// it was made now (for [`Engine::discard_unused_volumes`] if the
    /// container is not made).
    pub fn use_named_volume(
        &self,
        hold: &mut ImageHold,
        name: &str,
        layers: &[PathBuf],
        path: &str,
    ) -> Result<(PathBuf, bool)> {
        let volumes = volume::Volumes::new(&self.store.path);
        hold.hold_volumes(&volumes)?;
        let made = volumes.create_named(name, Default::default())?;
        if made {
            self.volume_event("create", name, &[]);
        }
        volumes.fill_if_empty(name, layers, path)?;
        Ok((volumes.data(name), made))
    }

    /// Remove volumes made for a container that was not made (its
    /// record does not exist).
    pub fn discard_volumes(&self, names: &[String]) {
        let volumes = volume::Volumes::new(&self.store.path);
        for name in names {
            if volumes.remove(name).is_ok() {
                self.volume_event("destroy", name, &[]);
            }
        }
    }

    /// Remove these of the named volumes a container that was not made
    /// created, unless a container's record names one meanwhile.
    pub fn discard_unused_volumes(&self, names: &[String]) {
        let Ok(users) = self.volume_users() else {
            return;
        };
        let unused: Vec<String> = names
            .iter()
            .filter(|n| !users.iter().any(|(v, _)| v == *n))
            .cloned()
            .collect();
        self.discard_volumes(&unused);
    }

    /// Where volume `name`'s content is, on the host.
    pub fn volume_path(&self, name: &str) -> PathBuf {
        volume::Volumes::new(&self.store.path).data(name)
    }

    /// Every volume, by name.
    pub fn list_volumes(&self) -> Result<Vec<String>> {
        volume::Volumes::new(&self.store.path).names()
    }

    /// Every volume with its record, by name.
    pub fn volumes(&self) -> Result<Vec<VolumeInfo>> {
        let volumes = volume::Volumes::new(&self.store.path);
        let mut all = Vec::new();
        for name in volumes.names()? {
            match volumes.info(&name) {
                Ok(info) => all.push(info),
                // Removed meanwhile.
                Err(_) if !volumes.exists(&name) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(all)
    }

    /// A volume by name.
    pub fn volume(&self, name: &str) -> Result<VolumeInfo> {
        let volumes = volume::Volumes::new(&self.store.path);
        if !volumes.exists(name) {
            return Err(Error::State(format!("get {name}: no such volume")));
        }
        volumes.info(name)
    }

    /// (volume, container id) for each volume, anonymous or named, a
    /// container's record names.
    pub fn volume_users(&self) -> Result<Vec<(String, String)>> {
        let users = self.store.list_map(|c| {
            let id = c.config.id;
            let meta = c.config.meta;
            Some(
                meta.volumes
                    .into_iter()
                    .chain(meta.named_volumes)
                    .map(|v| (v.name, id.clone()))
                    .collect::<Vec<_>>(),
            )
        })?;
        Ok(users.into_iter().flatten().collect())
    }

    /// Remove a volume: refused while a container (running or not) names
    /// it, as docker's `volume rm`.
    pub fn remove_volume(&self, name: &str) -> Result<()> {
        let volumes = volume::Volumes::new(&self.store.path);
        let missing = || Error::State(format!("get {name}: no such volume"));
        if !volumes.exists(name) {
            return Err(missing());
        }
        let _lock = volumes.lock()?.ok_or_else(missing)?;
        let users: Vec<String> = self
            .volume_users()?
            .into_iter()
            .filter(|(v, _)| v == name)
            .map(|(_, c)| c)
            .collect();
        if !users.is_empty() {
            return Err(Error::State(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        if !volumes.exists(name) {
            return Err(missing());
        }
        volumes.remove(name)?;
        self.volume_event("destroy", name, &[]);
        Ok(())
    }

    /// Remove every volume no container names, anonymous or named, as
    /// docker 20.10's `volume prune` (API 1.41; docker 23 keeps named
    /// ones unless asked): their names and the bytes they took.
    pub fn prune_volumes(&self) -> Result<(Vec<String>, u64)> {
        self.prune_volumes_where(|_| true)
    }

    /// [`Engine::prune_volumes`] of the volumes `keep` accepts (a prune's
    /// filters).
    pub fn prune_volumes_where(
        &self,
        keep: impl Fn(&VolumeInfo) -> bool,
    ) -> Result<(Vec<String>, u64)> {
        let volumes = volume::Volumes::new(&self.store.path);
        let Some(_lock) = volumes.lock()? else {
            return Ok((Vec::new(), 0));
        };
        volumes.sweep();
        let used = self.volume_users()?;
        let mut removed = Vec::new();
        let mut reclaimed = 0;
        for name in volumes.names()? {
            let kept = volumes.info(&name).is_ok_and(|info| keep(&info));
            if kept && !used.iter().any(|(v, _)| *v == name) {
                reclaimed += volumes.remove(&name)?;
                self.volume_event("destroy", &name, &[]);
                removed.push(name);
            }
        }
        Ok((removed, reclaimed))
    }

    /// Remove every stopped container.
    pub fn prune(&self) -> Result<Pruned> {
        container::prune::prune(self, |_| true)
    }

    /// [`Engine::prune`] of the stopped containers `keep` accepts (a
    /// prune's filters).
    pub fn prune_where(&self, keep: impl Fn(&Container) -> bool) -> Result<Pruned> {
        container::prune::prune(self, keep)
    }

    /// Block until the container stops; its exit code.
    pub fn wait(&self, key: &str) -> Result<i32> {
        container::wait::wait(self, key, WaitCondition::NotRunning)
    }

    /// Block until `condition` holds of the container (docker's wait
    /// conditions); the exit code of its last run.
    pub fn wait_until(&self, key: &str, condition: WaitCondition) -> Result<i32> {
        container::wait::wait(self, key, condition)
    }

    /// [`Engine::wait_until`] in two steps: begin waiting (what happens
    /// to the container from now on counts: a `next-exit` wait begun
    /// before a `start` sees that start's run end), then block on the
    /// [`Waiting`].
    pub fn wait_begin(&self, key: &str, condition: WaitCondition) -> Result<Waiting> {
        container::wait::begin(self, key, condition)
    }

    /// Start another process in a running container. Block forwarded
    /// signals first, as for [`Engine::run`].
    pub fn exec(&self, key: &str, request: ExecRequest) -> Result<ExecProcess> {
        container::exec::exec(self, key, request)
    }

    /// Change a running container's limits: `change` gets the current ones
    /// and returns the new ones, under the container's lock.
    pub fn update(
        &self,
        key: &str,
        change: impl FnOnce(&tinydocker_cgroups::Resources) -> Result<tinydocker_cgroups::Resources>,
    ) -> Result<()> {
        container::update::update(self, key, change)
    }

    /// A container's log: every entry `options` selects to `each`, then
    /// `flush` (see [`logs::LogOptions`]).
    pub fn logs(
        &self,
        key: &str,
        options: &logs::LogOptions,
        each: &mut dyn FnMut(&logs::Entry) -> std::io::Result<()>,
        flush: &mut dyn FnMut() -> std::io::Result<()>,
    ) -> Result<()> {
        logs::read(self, key, options, each, flush)
    }

    /// Attach to a container's output: each entry it writes from now on
    /// (with `logs`, its log before that first) until its run ends; a
    /// container that is not running is waited for until it starts. Ends
    /// early when `cancel` becomes readable (the attacher went).
    pub fn attach(
        &self,
        key: &str,
        logs: bool,
        cancel: Option<std::os::fd::BorrowedFd<'_>>,
        each: &mut dyn FnMut(&logs::Entry) -> std::io::Result<()>,
    ) -> Result<()> {
        container::attach::output(self, key, logs, cancel, each)
    }

    /// The stdin of a running detached container, from its supervisor:
    /// the write end of its pipe (closing it, and every other copy, ends
    /// the container's input) or its terminal's master (which also sizes
    /// the terminal); a container not running yet is waited for until it
    /// starts. None when the run ends first, for a container without
    /// stdin or run in the foreground, or when `cancel` becomes readable
    /// first.
    pub fn attach_stdin(
        &self,
        key: &str,
        cancel: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> Result<Option<std::os::fd::OwnedFd>> {
        stdin::stdin(self, key, cancel)
    }

    /// One reading of a container's usage.
    pub fn sample(&self, container: &Container) -> Sample {
        container::stats::sample(container)
    }

    /// Create a bridge network (`--subnet` CIDR and `--gateway`, or the
    /// first free private /16 and its first address).
    pub fn create_network(
        &self,
        name: &str,
        subnet: Option<&str>,
        gateway: Option<&str>,
    ) -> Result<Network> {
        self.create_network_labelled(name, subnet, gateway, Default::default())
    }

    /// [`Engine::create_network`] with labels (`network create --label`).
    pub fn create_network_labelled(
        &self,
        name: &str,
        subnet: Option<&str>,
        gateway: Option<&str>,
        labels: std::collections::BTreeMap<String, String>,
    ) -> Result<Network> {
        let network = self.networks().create(name, subnet, gateway, labels)?;
        self.network_event("create", &network.id, name, None);
        Ok(network)
    }

    /// The id of a network of [`PREDEFINED_NETWORKS`] (`bridge`, `host`,
    /// `none`) on this state root: stable, and the default bridge's once
    /// it is made.
    pub fn predefined_network_id(&self, name: &str) -> String {
        network::predefined_id(&self.store.path, name)
    }

    /// A network by name.
    pub fn network(&self, name: &str) -> Result<Option<Network>> {
        self.networks().get(name)
    }

    /// Every network, by name.
    pub fn list_networks(&self) -> Result<Vec<Network>> {
        self.networks().list()
    }

    /// Remove a network: refused while a container is attached to it,
    /// and for `host` and `none`, as docker. The default `bridge` can be
    /// (unlike docker's): its device and rules leave the host, and it is
    /// made again on first use.
    pub fn remove_network(&self, name: &str) -> Result<Network> {
        if matches!(name, "host" | "none") {
            return Err(Error::State(format!(
                "{name} is a pre-defined network and cannot be removed"
            )));
        }
        let removed = self.networks().remove(name, |network| {
            self.store
                .list_map(|c| {
                    // One being started (run, start, a restart) that has
                    // claimed its address, and a Dead one (its runtime was
                    // killed), which holds it until rm.
                    let attached = c.state.nets().any(|n| n.network == network)
                        && matches!(
                            c.observe(),
                            Observed::Created | Observed::Running { .. } | Observed::Dead
                        )
                        && !c.state.net_released;
                    attached.then_some(c.config.name)
                })
                .unwrap_or_default()
        })?;
        self.network_event("destroy", &removed.id, name, None);
        Ok(removed)
    }

    /// What the images, containers and volumes of this state root take
    /// on disk (`system df`).
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        usage::disk_usage_of(self)
    }

    /// The bytes of a container's writable layer (`ps -s`).
    pub fn container_size(&self, container: &Container) -> u64 {
        usage::container_rw(container)
    }

    /// Remove everything made for this state root (containers killed,
    /// networks, images, volumes, the root's contents) and the networks
    /// that state roots deleted by hand left on the host (`system
    /// reset`). Every step is tried; the error names those that failed.
    pub fn reset(&self) -> Result<()> {
        reset::reset(self)
    }

    /// Connect a container to a network (`network connect`): at once
    /// when it runs, else at its next start. `request` names the network,
    /// and an address (`--ip`) and aliases (`--alias`) there.
    pub fn connect_network(&self, container: &str, request: BridgeRequest) -> Result<()> {
        container::connect::connect(self, container, request)
    }

    /// Disconnect a container from a network (`network disconnect`);
    /// with `force`, even when its interface there cannot be taken down
    /// (the failure is then a warning).
    pub fn disconnect_network(&self, container: &str, network: &str, force: bool) -> Result<()> {
        container::connect::disconnect(self, container, network, force)
    }

    /// Remove every network made with `network create` that no container
    /// uses and that `keep` chooses (`network prune`, its filters); the
    /// default bridge stays, as docker's. Returns their names.
    pub fn prune_networks(&self, keep: impl Fn(&Network) -> bool) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for net in self.list_networks()? {
            if net.name == network::DEFAULT || !keep(&net) {
                continue;
            }
            match self.remove_network(&net.name) {
                Ok(_) => removed.push(net.name),
                // In use: kept, as docker's prune keeps it.
                Err(Error::State(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    fn networks(&self) -> network::Networks {
        network::Networks::new(&self.store.path)
    }
}
