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
    check(&spec, &config)?;
    config.created = now_nanos();
    let id = config.id.clone();
    let cgroup_path = spec::cgroup_path(&spec);
    if cgroup_path.is_empty() {
        return Err(invalid!("the spec names no cgroup (linux.cgroupsPath)"));
    }

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
    let layer_on_disk = matches!(config.rootfs, Rootfs::Layers(_)) && !config.auto_remove;
    let making = store.begin(&id, &cgroup_path, layer_on_disk)?;
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
    let mut attempt = 0;
    container.dir = loop {
        match store.create(&mut container.spec, &container.config, &running, &making) {
            Ok(dir) => break dir,
            // A generated name that happens to be taken: try a longer one.
            Err(_) if !named && attempt < 8 => {
                attempt += 1;
                container.config.name = generate_name(&id, attempt);
            }
            Err(e) => {
                let _ = init.kill_and_reap();
                let _ = remove_cgroup(&cgroup);
                store.abandon(&making);
                return Err(reached.err().unwrap_or(e));
            }
        }
    };
    container.state = running;
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
