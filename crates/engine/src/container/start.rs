//! Starting an existing container again (`start`, a restart policy): its
//! record, name and writable layer are kept; its network place, cgroup,
//! endpoint and init are made anew, as a first run makes them.

use std::net::Ipv4Addr;

use tinydocker_cgroups::{AnyManager, Layout};
use tinydocker_net::{Netlink, PortMapping};

use crate::config::{BridgeRequest, ContainerConfig};

use super::finish::{failed_start, poststart};
use super::launch::{
    from_the_barrier, to_the_barrier, Launched, Prepared, Reached, Started, Stdio,
};
use crate::error::{invalid, Context, Error, Result};
use crate::network::{self, NetSettings, Networks, Veth};
use crate::proc::{now_nanos, pid_start_time, this_process};
use crate::store::{lock_file, remove_cgroup, Container, Lock, Observed, State, Status, RECORD};
use crate::{supervisor, Engine};

/// `start`: under a new supervisor, detached (safe from a process with
/// other threads: see [`supervisor::start_detached`]).
pub(crate) fn start(engine: &Engine, key: &str) -> Result<()> {
    let container = engine.store.find(key)?;
    // An OCI bundle's init is its caller's: no supervisor of ours.
    if container.config.bundle.is_some() {
        return Err(Error::State(format!(
            "container {} was created from an OCI bundle: start it with start_created",
            container.config.name
        )));
    }
    supervisor::start_detached(engine, &container.config.id).map(drop)
}

/// Start container `key` again, `restarts` restarts into its policy (0:
/// a user's `start`).
pub(crate) fn relaunch(
    engine: &Engine,
    key: &str,
    stdio: Stdio,
    restarts: u32,
) -> Result<Launched> {
    let store = &engine.store;
    let found = store.find(key)?;
    let mut container = {
        let Some(_lock) = found.lock()? else {
            return Err(Error::NoSuchContainer(key.to_string()));
        };
        // Read again under the lock: another command may have started it.
        let mut c = store.find(&found.config.id)?;
        if matches!(c.observe(), Observed::Running { .. } | Observed::Created) {
            return Err(Error::State(format!(
                "container {} is already running",
                c.config.name
            )));
        }
        // The `--device` nodes must still be on the host: checked before
        // anything of the container changes.
        for device in &c.config.origin.devices {
            crate::spec::defaults::device_node(&device.host, &device.container)?;
        }
        // Killed with its runtime (or by a reboot): what it held first.
        release_leftovers(engine, &c)?;
        // A restart the user's stop, kill or rm -f overtook: none.
        if restarts > 0 && c.state.stopped_by_user {
            let mut state = c.state.clone();
            state.status = Status::Exited;
            c.save_state_locked(state)?;
            return Err(Error::State(format!(
                "container {} was stopped",
                c.config.name
            )));
        }
        let (me, me_start) = this_process();
        let claim = State {
            runtime_pid: me,
            runtime_start: me_start,
            restart_count: restarts,
            exit_code: c.state.exit_code,
            finished_at: c.state.finished_at,
            net_released: true,
            // Its address of before, to take again when it is free.
            net: c.state.net.clone(),
            extra_nets: c.state.extra_nets.clone(),
            device_cgroup: c.state.device_cgroup.clone(),
            ..State::created()
        };
        c.save_state_locked(claim)?;
        c
    };
    let layout = Layout::detect()?;
    let cgroup = AnyManager::new(&layout, container.cgroup_path()?);
    let mut init = None;
    match relaunch_steps(engine, &mut container, &cgroup, stdio, &mut init) {
        Ok(started) => {
            let init = init.expect("a started container has an init");
            poststart(engine, &container, init.pid());
            super::finish::started_events(engine, &container);
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
            &mut init,
            err,
        )),
    }
}

fn relaunch_steps(
    engine: &Engine,
    container: &mut Container,
    cgroup: &AnyManager,
    stdio: Stdio,
    init: &mut Option<tinydocker_ns::Child>,
) -> Result<Started> {
    let id = container.config.id.clone();
    // Held until the container runs, as a first run holds it.
    let mut _ports_lock = None;
    // Its places of its last run, whose addresses it takes again when free.
    let previous_extras = std::mem::take(&mut container.state.extra_nets);
    if let Some(bridge) = container.config.bridge.clone() {
        // Its address of before when it is free, as docker keeps it.
        let previous = container.state.net.as_ref().map(|n| n.ip);
        let (net, lock) = claim_bridge(engine, &bridge, &id, previous, true)?;
        _ports_lock = lock;
        let mut state = container.state.clone();
        state.net = Some(net);
        state.net_released = false;
        container.save_state(state)?;
    }
    if !container.config.extra_networks.is_empty() {
        let extras = claim_extras(engine, &container.config, &previous_extras);
        let mut state = container.state.clone();
        state.extra_nets = extras?;
        state.net_released = false;
        container.save_state(state)?;
    }
    // The veths of its last run go with that run's network namespace,
    // which the kernel tears down in the background: make sure they are
    // gone before new ones of the same names are made.
    if container.state.nets().next().is_some() {
        let netlink = Netlink::new()?;
        for net in container.state.nets() {
            netlink.delete_link(&net.host_if)?;
        }
    }
    let prepared = Prepared::new(&engine.store, container, &container.dir, cgroup, stdio)?;
    let path = container.cgroup_path()?;
    container.state.device_cgroup = prepared.make_cgroup(cgroup, &path)?;
    if let Some(why) = container.state.device_cgroup.strip_prefix("unavailable: ") {
        engine.warn(&format!(
            "warning: the device cgroup is not enforced for {}: {why}",
            container.config.name
        ));
    }
    // Clone the init; its pid is recorded with the running state at the
    // barrier (until then the claim says it is being started, and a kill
    // of this runtime leaves it dead, its cgroup naming what to kill).
    let child = init.insert(prepared.spawn(cgroup)?);
    let pid = child.pid();
    let running = State {
        pid,
        pid_start: pid_start_time(pid).unwrap_or(0),
        started_at: now_nanos(),
        ..container.state.clone()
    };
    if let Reached::Ended = to_the_barrier(container, &prepared, child)? {
        container.state = running;
        return Ok(Started::default());
    }
    if !record_running(container, running, child)? {
        return Ok(Started::default());
    }
    from_the_barrier(container, &prepared, child)
}

/// Record the container running, once it is whole and before its command
/// runs (the init waits at its barrier). Before, a restarted container is
/// recorded as created (being started): `exec`, `kill` and `update` refuse
/// it, since its init may not have entered its root yet, and `stop` and
/// `rm -f` wait for the start to end. A `stop` or `rm -f` that marked the
/// record anyway (it read it just before this start claimed it) asked for
/// the end of this run: the init is killed instead, and false returned
/// (its exit is then recorded as any other).
fn record_running(
    container: &mut Container,
    running: State,
    init: &tinydocker_ns::Child,
) -> Result<bool> {
    container.save_state_then(running, |state| {
        if !state.stopped_by_user {
            state.status = Status::Running;
        }
    })?;
    if container.state.stopped_by_user {
        init.signal(libc::SIGKILL)?;
        return Ok(false);
    }
    Ok(true)
}

/// A place on bridge network `name` for container `id`: the network (the
/// default one is made on first use), an address (`ip` when asked for;
/// with `or_any`, another one when that is taken), and the published
/// `ports` checked against those of running containers under a lock, for
/// the caller to hold until the container counts among them.
pub(crate) fn claim_bridge(
    engine: &Engine,
    request: &BridgeRequest,
    id: &str,
    ip: Option<Ipv4Addr>,
    or_any: bool,
) -> Result<(NetSettings, Option<Lock>)> {
    let (name, ports) = (&request.network, &request.ports);
    let store = &engine.store;
    let networks = Networks::new(&store.path);
    let net = networks
        .for_run(name)?
        .ok_or_else(|| invalid!("network {name} not found"))?;
    let ports_lock = if ports.is_empty() {
        None
    } else {
        let lock = lock_file(&networks.dir().join("ports.lock"))?;
        check_ports(engine, ports)?;
        Some(lock)
    };
    let ipam = networks.ipam(name);
    let alive = |owner: &str| store.container_dir(owner).join(RECORD).exists();
    let ip = match ipam.allocate(net.subnet, net.gateway, id, ip, alive) {
        Ok(ip) => ip,
        Err(_) if or_any && ip.is_some() => {
            ipam.allocate(net.subnet, net.gateway, id, None, alive)?
        }
        Err(e) => return Err(e.into()),
    };
    let settings = NetSettings {
        network: name.to_string(),
        bridge: net.bridge,
        ip,
        prefix: net.subnet.prefix(),
        gateway: net.gateway,
        host_if: network::host_if(id),
        ports: ports.to_vec(),
        container_if: String::new(),
        aliases: request.aliases.clone(),
    };
    Ok((settings, ports_lock))
}

/// A place on each network `config` was connected to beside its first:
/// on `eth1`, `eth2`... in order, their addresses of `previous` (its last
/// run's places) taken again when free. On failure, those claimed are
/// released.
pub(crate) fn claim_extras(
    engine: &Engine,
    config: &ContainerConfig,
    previous: &[NetSettings],
) -> Result<Vec<NetSettings>> {
    let mut claimed: Vec<NetSettings> = Vec::new();
    for (n, request) in config.extra_networks.iter().enumerate() {
        let before = previous.iter().find(|p| p.network == request.network);
        let ip = request.ip.or(before.map(|p| p.ip));
        match claim_extra(engine, request, &config.id, ip, n + 1) {
            Ok(net) => claimed.push(net),
            Err(e) => {
                let root = &engine.store.path;
                let _ = network::release_all(root, &config.id, claimed.iter(), Veth::Delete);
                return Err(e);
            }
        }
    }
    Ok(claimed)
}

/// A place on a network connected later, on `eth<index>`: no published
/// ports, and `ip` (an address asked for, or its last run's) taken only
/// when free, unless asked for.
pub(crate) fn claim_extra(
    engine: &Engine,
    request: &BridgeRequest,
    id: &str,
    ip: Option<Ipv4Addr>,
    index: usize,
) -> Result<NetSettings> {
    let (mut net, _) = claim_bridge(engine, request, id, ip, request.ip.is_none())?;
    net.host_if = network::host_if_at(id, index);
    net.container_if = format!("eth{index}");
    Ok(net)
}

/// Releases what a start reserved on a network (its address) when it fails
/// before the container's record exists; after that, the record says what
/// to undo and `net` is cleared.
pub(crate) struct NetUndo<'a> {
    pub engine: &'a Engine,
    pub id: &'a str,
    pub nets: Vec<NetSettings>,
}

impl Drop for NetUndo<'_> {
    fn drop(&mut self) {
        let root = &self.engine.store.path;
        let _ = network::release_all(root, self.id, self.nets.iter(), Veth::Delete);
    }
}

/// A published host port must not be in use by a running container.
fn check_ports(engine: &Engine, ports: &[PortMapping]) -> Result<()> {
    // Each other container's published ports and name (not its record).
    let others = engine.store.list_map(|other| {
        // A Dead one (its runtime was killed) still holds its ports until
        // rm, and one being set up holds them already.
        if matches!(other.observe(), Observed::Exited { .. }) || other.state.net_released {
            return None;
        }
        Some((other.config.name, other.state.net?.ports))
    })?;
    for (name, theirs) in &others {
        for mine in ports {
            if let Some(theirs) = theirs.iter().find(|p| p.conflicts(mine)) {
                return Err(Error::State(format!(
                    "Bind for {}:{} failed: port is already allocated (published by container {name}: {theirs})",
                    mine.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string()),
                    mine.host_port,
                )));
            }
        }
    }
    Ok(())
}

/// What a container killed with its runtime (or by a reboot) may still
/// hold: its cgroup, and its network side unless released.
pub(crate) fn release_leftovers(engine: &Engine, container: &Container) -> Result<()> {
    match container.cgroup(&Layout::detect()?) {
        Ok(Some(cgroup)) => remove_cgroup(&cgroup).with_context(|| {
            format!(
                "remove cgroup {}",
                container.cgroup_path().unwrap_or_default()
            )
        })?,
        Ok(None) => {}
        // A record whose spec this build cannot read: still removable.
        Err(e) => engine.warn(&format!(
            "warning: the cgroup of {} is not known, left as it is: {}",
            container.config.name,
            e.one_line()
        )),
    }
    if !container.state.net_released {
        super::finish::release_nets(engine, container, Veth::Delete);
    }
    Ok(())
}
