//! `kill` and `stop`: a signal to the container's init, and for `stop` a
//! SIGKILL after a grace period and a wait until its runtime has recorded
//! the exit. Either marks the run as ended by the user, so its restart
//! policy does not start it again.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use crate::config::ContainerConfig;
use crate::error::{Error, Result};
use crate::process::pidfd::Process;
use crate::store::{readable, Container, Observed, Watch};
use crate::Engine;

/// The init of a running container.
pub(crate) fn init_of(c: &Container) -> Option<Process> {
    match c.observe() {
        Observed::Running { .. } => Process::open(c.state.pid, c.state.pid_start),
        // An OCI bundle's created container waits for start: its init
        // takes signals (runc's `kill` of a created container).
        Observed::Created if c.config.bundle.is_some() => {
            Process::open(c.state.pid, c.state.pid_start)
        }
        _ => None,
    }
}

/// Record that the user ended this run (`stop`, `kill`, `rm -f`): its
/// restart policy does not apply, and a supervisor waiting to restart it
/// gives up. Returns the container as read under its lock.
pub(crate) fn mark_stopped(engine: &Engine, container: &Container) -> Result<Container> {
    // Only a restart policy reads the mark: without one, nothing to write.
    if container.config.restart.is_none() {
        return Ok(container.clone());
    }
    let Some(_lock) = container.lock()? else {
        return Ok(container.clone());
    };
    let mut c = engine.store.find(&container.config.id)?;
    // Running, waiting to restart, or between the two (its supervisor,
    // alive, has just recorded an exit and may restart it).
    let supervised = Process::open(c.state.runtime_pid, c.state.runtime_start).is_some();
    if (supervised
        || matches!(
            c.observe(),
            Observed::Running { .. } | Observed::Restarting { .. }
        ))
        && !c.state.stopped_by_user
    {
        let mut state = c.state.clone();
        state.stopped_by_user = true;
        c.save_state_locked(state)?;
    }
    Ok(c)
}

/// The container as it is once no runtime is in the middle of starting it
/// (a restart policy's supervisor, a concurrent `start`): stopping one
/// that is being started must wait for its init to exist. Waits on an
/// inotify watch of its record, at most 30 s.
pub(crate) fn settled(engine: &Engine, key: &str) -> Result<Container> {
    let first = engine.store.find(key)?;
    let watch = Watch::new(&first.dir)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = engine.store.find(&first.config.id)?;
        let starting = matches!(c.observe(), Observed::Created) && c.state.runtime_pid != 0;
        if !starting || Instant::now() >= deadline {
            return Ok(c);
        }
        if readable([Some(watch.as_fd())], Some(deadline))?[0] {
            watch.drain();
        }
    }
}

/// Wait (up to 30 s) for the runtime that supervises a container (its
/// record's `runtime_pid` and `runtime_start`) to finish: it records the
/// exit and releases what the container held.
pub(crate) fn wait_for_runtime((pid, start): (i32, u64)) {
    if let Some(runtime) = Process::open(pid, start) {
        runtime.wait(Some(Duration::from_secs(30)));
    }
}

/// Send `signal` to container `key`'s init; with `thaw`, thaw it after
/// when it is paused (docker's kill), else leave it frozen (runc's: the
/// signal is taken at the thaw).
pub(crate) fn kill(engine: &Engine, key: &str, signal: i32, thaw: bool) -> Result<()> {
    let container = engine.store.find(key)?;
    let Some(process) = init_of(&container) else {
        return Err(Error::State(format!(
            "cannot kill container {key}: container {} is not running",
            container.config.name
        )));
    };
    let container = mark_stopped(engine, &container)?;
    kill_event(engine, &container.config, signal);
    process
        .signal(signal)
        .map_err(|e| Error::sys("send the signal", e))?;
    if !thaw {
        return Ok(());
    }
    thaw_if_paused(engine, &container)
}

/// Thaw a paused container after a signal was sent to it, so it is
/// delivered (a frozen task takes no signal but SIGKILL on cgroup v2), as
/// docker's kill and stop of a paused container do.
fn thaw_if_paused(engine: &Engine, container: &Container) -> Result<()> {
    if !container.state.paused {
        return Ok(());
    }
    match super::oci::set_paused(engine, &container.config.id, false) {
        // Thawed meanwhile by another command, or already ended by the
        // signal (a SIGKILL reaches a frozen task on cgroup v2): nothing
        // left to thaw.
        Err(Error::State(_)) => Ok(()),
        other => other,
    }
}

/// docker's `kill` event: a signal is sent to the container. Recorded
/// just before the signal, so it comes before the `die` it causes (which
/// the container's supervisor records).
pub(crate) fn kill_event(engine: &Engine, config: &ContainerConfig, signal: i32) {
    engine.container_event(config, "kill", &[("signal", signal.to_string())]);
}

/// Every container gets its signal first, then its grace period from
/// that moment: stopping many takes one grace period, not one each (as
/// docker's stop of many does). `signal` and `grace` None: each
/// container's own (its stop signal and timeout).
pub(crate) fn stop(
    engine: &Engine,
    keys: &[String],
    signal: Option<i32>,
    grace: Option<Duration>,
    mut stopped: impl FnMut(&str),
) -> Result<()> {
    // Of each container, only what the wait needs is kept (not its
    // record: stopping hundreds at once stays small).
    let mut stopping = Vec::new();
    for key in keys {
        let container = mark_stopped(engine, &settled(engine, key)?)?;
        let process = init_of(&container);
        let meta = &container.config.meta;
        if let Some(process) = &process {
            let signal = signal.unwrap_or_else(|| meta.stop_signal());
            kill_event(engine, &container.config, signal);
            process
                .signal(signal)
                .map_err(|e| Error::sys("send the signal", e))?;
            thaw_if_paused(engine, &container)?;
        }
        let deadline = Instant::now() + grace.unwrap_or_else(|| meta.stop_timeout());
        let runtime = (container.state.runtime_pid, container.state.runtime_start);
        // For its events: its configuration, not its spec.
        stopping.push((key, runtime, process, deadline, container.config));
    }
    for (key, runtime, process, deadline, config) in stopping {
        let was_running = process.is_some();
        if let Some(process) = process {
            let left = deadline.saturating_duration_since(Instant::now());
            if !process.wait(Some(left)) {
                kill_event(engine, &config, libc::SIGKILL);
                process
                    .signal(libc::SIGKILL)
                    .map_err(|e| Error::sys("send SIGKILL", e))?;
                process.wait(None);
            }
        }
        // Running or waiting to restart: its runtime records the end.
        wait_for_runtime(runtime);
        if was_running {
            engine.container_event(&config, "stop", &[]);
        }
        stopped(key);
    }
    Ok(())
}
