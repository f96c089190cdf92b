//! The end of a run: release what the container held only while it ran
//! (its cgroup, after reading its OOM kills; its network place), record
//! how it ended (or remove it, with `auto_remove`), run its `poststop`
//! hooks. And the end of a start that failed.

use tinydocker_cgroups::{AnyManager, Manager};
use tinydocker_ns::ExitStatus;

use crate::error::{Error, Result};
use crate::hooks::{self, HookPoint, HookState};
use crate::network::{self, Veth};
use crate::proc::now_nanos;
use crate::store::{remove_cgroup, Container, Status};
use crate::Engine;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit code, or 128 + the signal that killed it.
    pub code: i32,
    /// The kernel's OOM killer killed a process of the container.
    pub oom_killed: bool,
    /// Its memory limit, in bytes, if it had one.
    pub memory_limit: Option<i64>,
}

/// After the container's init exited: release what it held, record how it
/// ended (or remove it, with `auto_remove`). A `supervised` run whose
/// restart policy restarts it is recorded as restarting in the same write,
/// so nothing (a prune) sees it exited between.
pub(crate) fn finish(
    engine: &Engine,
    container: &mut Container,
    cgroup: &AnyManager,
    status: ExitStatus,
    supervised: bool,
) -> Result<Exit> {
    // `network connect` and `disconnect` may have changed its networks
    // since this process read it: those on disk are the ones to release.
    // Read under the container's lock, so a connect that claimed a place
    // while the init still ran has written it (one after this sees the
    // init gone and claims nothing).
    if let Some(_lock) = container.lock()? {
        if let Ok(on_disk) = engine.store.find(&container.config.id) {
            container.config.extra_networks = on_disk.config.extra_networks;
            container.config.bridge = on_disk.config.bridge;
            container.state.net = on_disk.state.net;
            container.state.extra_nets = on_disk.state.extra_nets;
        }
    }
    // The OOM count lives in the cgroup: read it before the cgroup goes.
    let oom_kills = cgroup.oom_kills().unwrap_or(0);
    if oom_kills > 0 {
        engine.container_event(&container.config, "oom", &[]);
    }
    died_event(engine, container, status.code());
    release_runtime(engine, container, cgroup, Veth::GoesWithNamespace);
    let mut state = container.state.clone();
    state.status = Status::Exited;
    state.exit_code = status.code();
    state.finished_at = now_nanos();
    state.oom_killed = oom_kills > 0;
    state.net_released = true;
    let exit = Exit {
        code: status.code(),
        oom_killed: state.oom_killed,
        memory_limit: container
            .spec()
            .ok()
            .and_then(|s| s.linux().as_ref())
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.memory().as_ref())
            .and_then(|m| m.limit())
            .filter(|l| *l > 0),
    };
    poststop(engine, container);
    if container.config.auto_remove {
        // A `wait` on it reads the exit from the record before it goes.
        let waited_on = container.has_waiters();
        if waited_on {
            container.save_state(state)?;
            container.waiters_done()?;
        }
        if let Some(_lock) = container.lock()? {
            // Unless started again meanwhile: its new runtime owns it.
            let restarted = waited_on
                && engine
                    .store
                    .find(&container.config.id)
                    .is_ok_and(|c| c.state.status != Status::Exited);
            if !restarted {
                engine.store.remove(container)?;
                engine.container_event(&container.config, "destroy", &[]);
                // `--rm` takes its anonymous volumes too, as docker's.
                engine.remove_volumes_of(&container.config.meta.volumes);
            }
        }
    } else {
        let policy = container.config.restart.clone();
        container.save_state_then(state, |state| {
            if supervised
                && policy.restarts(state.exit_code, state.restart_count, state.stopped_by_user)
            {
                state.status = Status::Restarting;
            }
        })?;
    }
    Ok(exit)
}

/// After a failure to start: kill the init if there is one, release what
/// the container held, and record why (without `auto_remove`) or remove
/// it. Returns the failure.
pub(crate) fn failed_start(
    engine: &Engine,
    container: &mut Container,
    cgroup: &AnyManager,
    init: &mut Option<tinydocker_ns::Child>,
    err: Error,
) -> Error {
    if let Some(init) = init.as_mut() {
        let _ = init.kill_and_reap();
    }
    let code = match err.exec_failure() {
        Some(crate::ExecFailure::NotFound) => 127,
        Some(crate::ExecFailure::CannotExecute) => 126,
        None => 125,
    };
    // An OCI runtime's create that failed was never started.
    if container.config.bundle.is_none() {
        died_event(engine, container, code);
    }
    release_runtime(engine, container, cgroup, Veth::Delete);
    container.state.net_released = true;
    poststop(engine, container);
    // An OCI runtime's create that failed leaves nothing, as runc's.
    let outcome = if container.config.auto_remove || container.config.bundle.is_some() {
        container
            .lock()
            .and_then(|_lock| engine.store.remove(container))
            .map(|()| {
                engine.container_event(&container.config, "destroy", &[]);
                engine.remove_volumes_of(&container.config.meta.volumes)
            })
    } else {
        let mut state = container.state.clone();
        state.status = Status::Exited;
        state.exit_code = code;
        state.error = err.one_line();
        state.finished_at = now_nanos();
        container.save_state(state)
    };
    if let Err(cleanup) = outcome {
        engine.warn(&format!(
            "clean up after failed start: {}",
            cleanup.one_line()
        ));
    }
    err
}

/// What a container holds only while it runs: its cgroup, and on a bridge
/// network its address, published ports and veth, unless released already
/// (a restart that failed before it claimed an address: the one in its
/// record is its last run's, and may be another container's by now). Best
/// effort: a failure is a warning and the rest is still released.
pub(crate) fn release_runtime(
    engine: &Engine,
    container: &Container,
    cgroup: &AnyManager,
    veth: Veth,
) {
    if let Err(e) = remove_cgroup(cgroup) {
        engine.warn(&format!(
            "remove cgroup {}: {}",
            container.cgroup_path().unwrap_or_default(),
            Error::from(e).one_line()
        ));
    }
    if !container.state.net_released {
        release_nets(engine, container, veth);
    }
}

/// Release every network place of the container, best effort; a failure
/// is a warning; each network's `disconnect` event.
pub(crate) fn release_nets(engine: &Engine, container: &Container, veth: Veth) {
    let (root, id) = (&engine.store.path, &container.config.id);
    if let Err(e) = network::release_all(root, id, container.state.nets(), veth) {
        engine.warn(&format!(
            "release the network of {}: {}",
            container.config.name,
            e.one_line()
        ));
    }
    for net in container.state.nets() {
        network_event(engine, "disconnect", &net.network, id);
    }
}

/// A container's command has started: its volumes are mounted, it is on
/// its network, and it runs (docker's `volume mount`, `network connect`
/// and `container start`, in that order).
pub(crate) fn started_events(engine: &Engine, container: &Container) {
    let config = &container.config;
    for v in config.meta.volumes.iter().chain(&config.meta.named_volumes) {
        engine.volume_event(
            "mount",
            &v.name,
            &[
                ("container", config.id.clone()),
                ("destination", v.destination.clone()),
            ],
        );
    }
    for net in container.state.nets() {
        network_event(engine, "connect", &net.network, &config.id);
    }
    engine.container_event(config, "start", &[]);
}

/// A container's run has ended with `code`: `die`, then its volumes'
/// `unmount`.
fn died_event(engine: &Engine, container: &Container, code: i32) {
    let config = &container.config;
    engine.container_event(config, "die", &[("exitCode", code.to_string())]);
    for v in config.meta.volumes.iter().chain(&config.meta.named_volumes) {
        engine.volume_event("unmount", &v.name, &[("container", config.id.clone())]);
    }
}

/// A network event of container `id` on network `name` (its id from the
/// network's record; a network gone meanwhile has no event).
pub(crate) fn network_event(engine: &Engine, action: &str, name: &str, id: &str) {
    if let Ok(Some(net)) = network::Networks::new(&engine.store.path).get(name) {
        engine.network_event(action, &net.id, name, Some(id));
    }
}

/// The spec's `poststart` hooks, once the command runs: a failure is a
/// warning.
pub(crate) fn poststart(engine: &Engine, container: &Container, pid: i32) {
    hooks_and_warn(engine, container, HookPoint::Poststart, Some(pid));
}

/// Run the spec's hooks at `point`; a failure (the spec's too) is a
/// warning.
fn hooks_and_warn(engine: &Engine, container: &Container, point: HookPoint, pid: Option<i32>) {
    let spec = match container.spec() {
        Ok(spec) => spec,
        Err(e) => {
            return engine.warn(&format!(
                "warning: the {} hooks of {} were not run: {}",
                point.name(),
                container.config.name,
                e.one_line()
            ))
        }
    };
    hooks::run_and_warn(
        point,
        &HookState {
            id: container.hook_id(),
            pid,
            bundle: container.bundle(),
            spec,
        },
        &|w| engine.warn(&w),
    );
}

/// The spec's `poststop` hooks, once what the run held is released: a
/// failure is a warning.
pub(crate) fn poststop(engine: &Engine, container: &Container) {
    hooks_and_warn(engine, container, HookPoint::Poststop, None);
}
