//! Removing a container: its record, name, writable layer and log, and
//! whatever its runtime left if it was killed (its cgroup, its network
//! place). `force` kills a running one first.

use std::time::Duration;

use super::start::release_leftovers;
use super::stop::{mark_stopped, settled, wait_for_runtime};
use crate::error::{Error, Result};
use crate::process::pidfd::Process;
use crate::store::{Container, Observed, RECORD};
use crate::Engine;

pub(crate) fn remove(engine: &Engine, container: Container, force: bool) -> Result<()> {
    let store = &engine.store;
    let key = container.config.id.clone();
    let observed = container.observe();
    let forced = observed.active();
    if forced {
        if !force {
            return Err(not_stopped(&container.config.name, &observed));
        }
        // No restart after this, whatever the policy.
        let settled = settled(engine, &container.config.id)?;
        let container = mark_stopped(engine, &settled)?;
        if let Some(init) = Process::open(container.state.pid, container.state.pid_start) {
            super::stop::kill_event(engine, &container.config, libc::SIGKILL);
            init.signal(libc::SIGKILL)
                .map_err(|e| Error::sys(format!("kill container {}", container.config.name), e))?;
            init.wait(Some(Duration::from_secs(10)));
        }
        // Its runtime then releases what the container held and records
        // the exit (under the container's lock, so not while we hold it).
        wait_for_runtime((container.state.runtime_pid, container.state.runtime_start));
    }
    // A killed `--rm` container's own runtime may have removed it by now:
    // gone, as asked.
    let Some(_lock) = container.lock()? else {
        if forced {
            return Ok(());
        }
        return Err(Error::NoSuchContainer(key));
    };
    // Reread under the lock: the runtime may have recorded the exit.
    let container = match store.find(&container.config.id) {
        Err(_) if forced && !container.dir.join(RECORD).exists() => return Ok(()),
        found => found?,
    };
    // Started meanwhile (`start`, a restart policy): it is not stopped any
    // more.
    let observed = container.observe();
    if !forced && observed.active() {
        return Err(not_stopped(&container.config.name, &observed));
    }
    // Normally gone with the container; left behind when its runtime was
    // killed: its cgroup (what is left in it is killed), and its network
    // side unless its runtime released it (the address and ports may
    // belong to another container by now).
    release_leftovers(engine, &container)?;
    // No supervisor ran an OCI bundle's poststop hooks at its exit: its
    // `delete` does.
    if container.config.bundle.is_some() {
        super::finish::poststop(engine, &container);
    }
    store.remove(&container)?;
    engine.container_event(&container.config, "destroy", &[]);
    Ok(())
}

/// Why an active container (see [`Observed::active`]) was not removed.
fn not_stopped(name: &str, observed: &Observed) -> Error {
    let what = match observed {
        Observed::Restarting { .. } => "container is restarting",
        Observed::Created => "container is starting",
        _ => "container is running",
    };
    Error::State(format!(
        "cannot remove container \"{name}\": {what}: stop the container before removing or force remove"
    ))
}
