//! What an OCI runtime does beside `create` (see [`super::create`]) to a
//! bundle's container, whose init its caller waits for: `start` (its
//! `startContainer` hooks, the byte on the fifo its init waits on, its
//! `poststart` hooks), `pause` and `resume` (the cgroup freezer), the
//! processes of its cgroup, and signals to all of them.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;

use tinydocker_cgroups::{Layout, Manager};

use super::create::START_FIFO;
use crate::error::{Error, Result};
use crate::hooks::{self, HookPoint};
use crate::process::pidfd::Process;
use crate::store::{Container, Observed};
use crate::Engine;

/// Start a created bundle container's command.
pub(crate) fn start(engine: &Engine, container: Container) -> Result<()> {
    let Some(_lock) = container.lock()? else {
        return Err(Error::NoSuchContainer(container.config.id));
    };
    let container = engine.store.find(&container.config.id)?;
    if container.config.bundle.is_none() {
        return Err(Error::State(format!(
            "container {} was not created from a bundle: start it with start",
            container.config.name
        )));
    }
    match container.observe() {
        Observed::Created => {}
        Observed::Running { .. } => {
            return Err(Error::State(format!(
                "cannot start container {}: it is already running",
                container.config.name
            )))
        }
        _ => {
            return Err(Error::State(format!(
                "cannot start container {}: it has stopped",
                container.config.name
            )))
        }
    }
    let pid = container.state.pid;
    let init = Process::open(pid, container.state.pid_start).ok_or_else(|| {
        Error::State(format!(
            "cannot start container {}: its init is gone",
            container.config.name
        ))
    })?;
    let spec = container.spec()?;
    if spec.process().is_none() {
        // Nothing to run, as the spec wants start to say: the init that
        // held the container's namespaces goes, and the container has
        // stopped.
        let _ = init.signal(libc::SIGKILL);
        init.wait(None);
        return Err(Error::State(format!(
            "cannot start container {}: its spec has no process to run",
            container.config.name
        )));
    }
    if !hooks::hooks_at(spec, HookPoint::StartContainer).is_empty() {
        let state = container.hook_state(Some(pid))?;
        hooks::run(HookPoint::StartContainer, &state, Some(init.as_fd()))?;
    }
    let path = container.dir.join(START_FIFO);
    // Write-only without blocking: ENXIO when no init waits on it.
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENXIO) | Some(libc::ENOENT) => Error::State(format!(
                "cannot start container {}: its init is not waiting",
                container.config.name
            )),
            _ => Error::io("open", &path, e),
        })?;
    fifo.write_all(b"0")
        .map_err(|e| Error::io("write to", &path, e))?;
    drop(fifo);
    // Started: the fifo goes (its init holds its own descriptor), and
    // that is the record of it (see `Container::observe`); the record
    // itself is not rewritten, which saves making, writing and renaming a
    // file on every start.
    std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
    super::finish::poststart(engine, &container, pid);
    super::finish::started_events(engine, &container);
    Ok(())
}

/// Freeze (`pause`) or thaw (`resume`) every process of a running
/// container.
pub(crate) fn set_paused(engine: &Engine, key: &str, paused: bool) -> Result<()> {
    let container = engine.store.find(key)?;
    let Some(_lock) = container.lock()? else {
        return Err(Error::NoSuchContainer(key.to_string()));
    };
    let mut container = engine.store.find(&container.config.id)?;
    let running = matches!(container.observe(), Observed::Running { .. });
    // A paused container whose init has died since (on cgroup v2 a fatal
    // signal reaches a frozen task) is still thawed: the rest of its
    // cgroup would stay frozen.
    let thaw_after_exit = !running && !paused && container.state.paused;
    if !running && !thaw_after_exit {
        return Err(Error::State(format!(
            "container {} is not running",
            container.config.name
        )));
    }
    if container.state.paused == paused {
        return Err(Error::State(format!(
            "container {} is {}",
            container.config.name,
            if paused {
                "already paused"
            } else {
                "not paused"
            }
        )));
    }
    match container.cgroup(&Layout::detect()?)? {
        Some(cgroup) if paused => cgroup.freeze()?,
        // After the exit, a cgroup already removed is fine: a removal
        // kills frozen tasks itself.
        Some(cgroup) if thaw_after_exit => {
            let _ = cgroup.thaw();
        }
        Some(cgroup) => cgroup.thaw()?,
        None if thaw_after_exit => {}
        None => {
            return Err(Error::State(format!(
                "container {} has no cgroup",
                container.config.name
            )))
        }
    }
    let mut state = container.state.clone();
    state.paused = paused;
    container.save_state_locked(state)?;
    let action = if paused { "pause" } else { "unpause" };
    engine.container_event(&container.config, action, &[]);
    Ok(())
}

/// The host pids of every process in the container's cgroup.
pub(crate) fn processes(container: &Container) -> Result<Vec<i32>> {
    match container.cgroup(&Layout::detect()?)? {
        Some(cgroup) => match cgroup.procs() {
            Ok(pids) => Ok(pids),
            // Gone with the container.
            Err(_) if !matches!(container.observe(), Observed::Running { .. }) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        },
        None => Ok(Vec::new()),
    }
}

/// Send `signal` to every process of a container's cgroup (`kill --all`).
pub(crate) fn signal_all(engine: &Engine, key: &str, signal: i32) -> Result<()> {
    let container = engine.store.find(key)?;
    if !container.observe().active() {
        return Err(Error::State(format!(
            "container {} is not running",
            container.config.name
        )));
    }
    super::stop::kill_event(engine, &container.config, signal);
    for pid in processes(&container)? {
        // Gone meanwhile: ESRCH, from the open or the signal.
        let sent = tinydocker_ns::pidfd::open(pid)
            .and_then(|fd| tinydocker_ns::pidfd::send_signal(fd.as_fd(), signal));
        match sent {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => return Err(Error::sys(format!("send signal {signal} to {pid}"), e)),
        }
    }
    Ok(())
}

impl Container {
    /// The state its hooks read on their stdin.
    pub(crate) fn hook_state(&self, pid: Option<i32>) -> Result<hooks::HookState<'_>> {
        Ok(hooks::HookState {
            id: self.hook_id(),
            pid,
            bundle: self.bundle(),
            spec: self.spec()?,
        })
    }
}
