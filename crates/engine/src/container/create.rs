//! Making a container and starting it, the first time (`run`):
//!
//! 1. check the spec and configuration (nothing is made for a bad one);
//! 2. take its place on a bridge network, its ports checked under a lock;
//! 3. make its directory, under a name that says who makes it;
//! 4. decide its setup ([`Prepared`]); make its cgroup with its limits;
//! 5. clone its init into its namespaces and cgroup; connect its network;
//!    let it set itself up to its barrier;
//! 6. write its record, once, as running (renaming the directory into
//!    place); publish its ports; let its command run.
//!
//! A failure on the way undoes what was made; after the record exists, the
//! record says what to undo and keeps why it failed.
//!
//! docker's `create` ([`create_unstarted`]) does steps 1 and 3 and writes
//! the record as never started; `start` does the rest later, as it starts
//! a stopped container again.

use std::os::fd::{AsRawFd, OwnedFd};

use oci_spec::runtime::Spec;
use tinydocker_cgroups::{AnyManager, Layout};

use super::finish::failed_start;
use super::launch::{
    check, from_the_barrier, to_the_barrier, to_the_park, Launched, Prepared, Reached, Started,
    Stdio,
};
use super::start::{claim_bridge, claim_extras, NetUndo};
use crate::config::{ContainerConfig, Rootfs};
use crate::error::{invalid, Error, Result};
use crate::proc::{now_nanos, pid_start_time, this_process};
use crate::spec;
use crate::store::{
    generate_name, remove_cgroup, validate_name, Container, ImageHold, State, Status,
};
use crate::Engine;

/// The fifo an OCI bundle's created container waits on, in its directory.
pub(crate) const START_FIFO: &str = "start.fifo";

pub(crate) fn launch(
    engine: &Engine,
    spec: Spec,
    mut config: ContainerConfig,
    hold: Option<ImageHold>,
    stdio: Stdio,
) -> Result<Launched> {
    // An OCI bundle's container is created here and started by another
    // process: its init waits, ready to exec, on a fifo.
    let park = config.bundle.is_some();
    let store = &engine.store;
    let (named, cgroup_path) = admit(&spec, &mut config)?;
    let id = config.id.clone();

    // Bridge networking, with the ports lock held until the record exists.
    let mut state = State::created();
    let mut ports_lock = None;
    if let Some(bridge) = &config.bridge {
        let (net, lock) = claim_bridge(engine, bridge, &id, bridge.ip, false)?;
        state.net = Some(net);
        ports_lock = lock;
    }
    let mut undo = NetUndo {
        engine,
        id: &id,
        nets: state.net.iter().cloned().collect(),
    };
    state.extra_nets = claim_extras(engine, &config, &[])?;
    undo.nets.extend(state.extra_nets.iter().cloned());
    // The cgroup exists, with its limits, before the init does: the init
    // starts inside it (clone3 CLONE_INTO_CGROUP on v2; on v1 the child
    // writes itself into it first thing), so the user's command never runs
    // unlimited.
    let layout = Layout::detect()?;
    let cgroup = AnyManager::new(&layout, &cgroup_path);
    // First the container's directory, under a name that says who makes
    // it: whatever kills this process from here on, what it made (the
    // directory, the cgroup, the name) is found and swept. The init sets
    // the container up in it; the record is written once, with the init's
    // pid, when the container is whole, and the directory renamed then.
    let making = store.begin(&id, &cgroup_path, layer_on_disk(&config))?;
    let mut container = Container::new(making.clone(), spec, config, state);
    let fifo = match park.then(|| start_fifo(&making)).transpose() {
        Ok(fifo) => fifo,
        Err(e) => {
            store.abandon(&making);
            return Err(e);
        }
    };
    let mut prepared = match Prepared::new(store, &container, &making, &cgroup, stdio) {
        Ok(prepared) => prepared,
        Err(e) => {
            store.abandon(&making);
            return Err(e);
        }
    };
    prepared.child.park = fifo.as_ref().map(|f| f.as_raw_fd());
    let device_cgroup = match prepared.make_cgroup(&cgroup, &cgroup_path) {
        Ok(text) => text,
        Err(e) => {
            let _ = remove_cgroup(&cgroup);
            store.abandon(&making);
            return Err(e);
        }
    };
    if let Some(why) = device_cgroup.strip_prefix("unavailable: ") {
        engine.warn(&format!(
            "warning: the device cgroup is not enforced for {}: {why}",
            container.config.name
        ));
    }
    // Clone the init (it waits for go).
    let mut init = match prepared.spawn(&cgroup) {
        Ok(init) => init,
        Err(e) => {
            let _ = remove_cgroup(&cgroup);
            store.abandon(&making);
            return Err(e);
        }
    };
    // Up to the barrier (the container whole, the command not started)
    // before the record is written: once, as running. A start that failed
    // on the way is recorded too (as docker keeps a container that failed
    // to start), below.
    // The init holds the fifo now: this process's copy goes.
    drop(fifo);
    let reached = to_the_barrier(&container, &prepared, &mut init);
    let pid = init.pid();
    let (me, me_start) = if park { (0, 0) } else { this_process() };
    let running = State {
        status: match reached {
            Ok(Reached::Barrier) if !park => Status::Running,
            _ => Status::Created,
        },
        pid,
        pid_start: pid_start_time(pid).unwrap_or(0),
        started_at: now_nanos(),
        runtime_pid: me,
        runtime_start: me_start,
        device_cgroup,
        net: container.state.net.clone(),
        extra_nets: container.state.extra_nets.clone(),
        ..State::created()
    };
    container.dir = match record(engine, &mut container, &running, &making, named) {
        Ok(dir) => dir,
        Err(e) => {
            let _ = init.kill_and_reap();
            let _ = remove_cgroup(&cgroup);
            store.abandon(&making);
            return Err(reached.err().unwrap_or(e));
        }
    };
    container.state = running;
    engine.container_event(&container.config, "create", &[]);
    // From here on the record names everything to undo, and counts
    // among the containers that hold ports and images.
    undo.nets.clear();
    drop(ports_lock);
    drop(hold);
    let started = match reached {
        Ok(Reached::Barrier) if park => to_the_park(&prepared, &mut init).map(|terminal| Started {
            terminal,
            dns: None,
        }),
        Ok(Reached::Ended) if park => Err(Error::Setup(
            "the container's init ended before it was ready".into(),
        )),
        Ok(Reached::Barrier) => from_the_barrier(&container, &prepared, &mut init),
        // Died on the way: its exit is recorded from its status.
        Ok(Reached::Ended) => Ok(Started::default()),
        Err(e) => Err(e),
    };
    match started {
        Ok(started) => {
            if !park {
                super::finish::poststart(engine, &container, init.pid());
                super::finish::started_events(engine, &container);
            }
            Ok(Launched {
                container,
                init,
                cgroup,
                terminal: started.terminal,
                dns: started.dns,
            })
        }
        Err(err) => Err(failed_start(
            engine,
            &mut container,
            &cgroup,
            &mut Some(init),
            err,
        )),
    }
}

/// Make a container and leave it unstarted (docker's `create`): checked
/// as `run` checks it, its id and name taken, its directory and writable
/// layer made, its record written as [`Status::Unstarted`]; no cgroup,
/// network place or process until `start` (which starts it as it starts a
/// stopped one). On failure nothing of it is left. Returns its id.
pub(crate) fn create_unstarted(
    engine: &Engine,
    spec: Spec,
    mut config: ContainerConfig,
    hold: ImageHold,
) -> Result<String> {
    if config.bundle.is_some() {
        return Err(invalid!(
            "an OCI bundle's container is created by the OCI runtime's create"
        ));
    }
    let (named, cgroup_path) = admit(&spec, &mut config)?;
    let store = &engine.store;
    let making = store.begin(&config.id, &cgroup_path, layer_on_disk(&config))?;
    let mut container = Container::new(making.clone(), spec, config, State::unstarted());
    let state = container.state.clone();
    if let Err(e) = record(engine, &mut container, &state, &making, named) {
        store.abandon(&making);
        return Err(e);
    }
    // The record names the image from here on.
    drop(hold);
    Ok(container.config.id)
}

/// Check a new container's spec and configuration (nothing is made for a
/// bad one), give it a generated name unless it has one, and stamp its
/// creation time: whether it was named, and its cgroup's path.
fn admit(spec: &Spec, config: &mut ContainerConfig) -> Result<(bool, String)> {
    if config.id.len() != 64 || !config.id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid!(
            "container id {:?}: expected 64 hex digits",
            config.id
        ));
    }
    let named = !config.name.is_empty();
    if named {
        validate_name(&config.name)?;
    } else {
        config.name = generate_name(&config.id, 0);
    }
    check(spec, config)?;
    config.created = now_nanos();
    let cgroup_path = spec::cgroup_path(spec);
    if cgroup_path.is_empty() {
        return Err(invalid!("the spec names no cgroup (linux.cgroupsPath)"));
    }
    Ok((named, cgroup_path))
}

/// Whether the container's writable layer is on disk in its directory (a
/// `--rm` container's is a tmpfs of its own, made at each start).
fn layer_on_disk(config: &ContainerConfig) -> bool {
    matches!(config.rootfs, Rootfs::Layers(_)) && !config.auto_remove
}

/// Write the container's first record as `state` and move its directory
/// into place ([`crate::store::Store::create`]); a generated name that
/// happens to be taken is tried again longer. Its directory.
fn record(
    engine: &Engine,
    container: &mut Container,
    state: &State,
    making: &std::path::Path,
    named: bool,
) -> Result<std::path::PathBuf> {
    let mut attempt = 0;
    loop {
        match engine
            .store
            .create(&mut container.spec, &container.config, state, making)
        {
            Ok(dir) => return Ok(dir),
            Err(_) if !named && attempt < 8 => {
                attempt += 1;
                container.config.name = generate_name(&container.config.id, attempt);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Make the fifo a created OCI container waits on, and open it for the
/// init: read-write, so the open does not block and the init's read
/// blocks until `start` writes.
fn start_fifo(dir: &std::path::Path) -> Result<OwnedFd> {
    let path = dir.join(START_FIFO);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| Error::io("make the start fifo", &path, e.into()))?;
    nix::fcntl::open(
        &path,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::io("open the start fifo", &path, e.into()))
}
