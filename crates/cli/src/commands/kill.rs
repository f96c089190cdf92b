//! `tinydocker kill [-s SIGNAL] CONTAINER...` and `tinydocker stop [-t
//! SECONDS] CONTAINER...`.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::cli::{KillArgs, StopArgs};
use crate::process::{parse_signal, Process};
use crate::state::{Container, Observed, Root, Watch};

fn init(c: &Container) -> Option<Process> {
    match c.observe() {
        Observed::Running { .. } => Process::open(c.state.pid, c.state.pid_start),
        _ => None,
    }
}

/// Record that the user ended this run (`stop`, `kill`, `rm -f`): its
/// restart policy does not apply, and a supervisor waiting to restart it
/// gives up. Returns the container as read under its lock.
pub fn mark_stopped(root: &Root, container: &Container) -> Result<Container> {
    // Only a restart policy reads the mark: without one, nothing to write.
    if matches!(container.config.restart.name.as_str(), "" | "no") {
        return Ok(container.clone());
    }
    let Some(_lock) = container.lock()? else {
        return Ok(container.clone());
    };
    let mut c = root.find(&container.config.id)?;
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
pub fn settled(root: &Root, key: &str) -> Result<Container> {
    let first = root.find(key)?;
    let watch = Watch::new(&first.dir)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let c = root.find(&first.config.id)?;
        let starting = matches!(c.observe(), Observed::Created) && c.state.runtime_pid != 0;
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if !starting || left.is_zero() {
            return Ok(c);
        }
        let mut pfd = libc::pollfd {
            fd: watch.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) } > 0 {
            watch.drain();
        }
    }
}

/// Wait (up to 30 s) for the runtime that supervises the container to
/// finish: it records the exit and releases what the container held.
pub fn wait_for_runtime(container: &Container) {
    if let Some(runtime) = Process::open(container.state.runtime_pid, container.state.runtime_start)
    {
        runtime.wait(Some(Duration::from_secs(30)));
    }
}

pub fn kill(root: &Root, args: KillArgs) -> Result<i32> {
    let signal = parse_signal(&args.signal)?;
    for key in &args.containers {
        let container = root.find(key)?;
        let Some(process) = init(&container) else {
            bail!(
                "cannot kill container {key}: container {} is not running",
                container.config.name
            );
        };
        mark_stopped(root, &container)?;
        process.signal(signal)?;
        println!("{key}");
    }
    Ok(0)
}

pub fn stop(root: &Root, args: StopArgs) -> Result<i32> {
    let grace = grace_period(&args.grace.time)?;
    let signal = parse_signal(args.signal.as_deref().unwrap_or("TERM"))?;
    // Every container gets its signal first, then the same grace period
    // from that moment: stopping many takes one grace period, not one each
    // (as docker's stop of many does).
    let mut stopping = Vec::new();
    for key in &args.containers {
        let container = mark_stopped(root, &settled(root, key)?)?;
        let process = init(&container);
        if let Some(process) = &process {
            process.signal(signal)?;
        }
        stopping.push((key, container, process));
    }
    let deadline = std::time::Instant::now() + grace;
    for (key, container, process) in stopping {
        if let Some(process) = process {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if !process.wait(Some(left)) {
                process.signal(libc::SIGKILL)?;
                process.wait(None);
            }
        }
        wait_for_runtime(&container);
        println!("{key}");
    }
    Ok(0)
}

/// Stop a container: `signal`, then SIGKILL after `grace`; return once its
/// runtime has recorded the exit and released what it held. Stopping a
/// stopped container is no error, as with docker.
pub fn stop_one(root: &Root, key: &str, signal: i32, grace: Duration) -> Result<()> {
    let container = mark_stopped(root, &settled(root, key)?)?;
    if let Some(process) = init(&container) {
        process.signal(signal)?;
        if !process.wait(Some(grace)) {
            process.signal(libc::SIGKILL)?;
            process.wait(None);
        }
    }
    // Running or waiting to restart: its runtime records the end.
    wait_for_runtime(&container);
    Ok(())
}

/// `tinydocker restart [-t SECONDS] CONTAINER...`: stop, then start.
pub fn restart(root: &Root, args: crate::cli::RestartArgs) -> Result<i32> {
    let grace = grace_period(&args.grace.time)?;
    for key in &args.containers {
        stop_one(root, key, libc::SIGTERM, grace)?;
        let code = super::start::start_one(root, key)?;
        if code != 0 {
            return Ok(code);
        }
    }
    Ok(0)
}

fn grace_period(text: &str) -> Result<Duration> {
    match text.trim().parse::<i64>() {
        Ok(t) if t >= 0 => Ok(Duration::from_secs(t as u64)),
        _ => bail!("invalid timeout {text:?}: expected a number of seconds, 0 or more"),
    }
}
