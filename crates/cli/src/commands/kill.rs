//! `tinydocker kill [-s SIGNAL] CONTAINER...` and `tinydocker stop [-t
//! SECONDS] CONTAINER...`.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::cli::{KillArgs, StopArgs};
use crate::process::{parse_signal, Process};
use crate::state::{Container, Observed, Root};

fn init(c: &Container) -> Option<Process> {
    match c.observe() {
        Observed::Running { .. } => Process::open(c.state.pid, c.state.pid_start),
        _ => None,
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
        process.signal(signal)?;
        println!("{key}");
    }
    Ok(0)
}

pub fn stop(root: &Root, args: StopArgs) -> Result<i32> {
    let grace = match args.time.trim().parse::<i64>() {
        Ok(t) if t >= 0 => Duration::from_secs(t as u64),
        _ => bail!(
            "invalid timeout {:?}: expected a number of seconds, 0 or more",
            args.time
        ),
    };
    let signal = parse_signal(args.signal.as_deref().unwrap_or("TERM"))?;
    for key in &args.containers {
        let container = root.find(key)?;
        // Stopping a stopped container is no error, as with docker.
        if let Some(process) = init(&container) {
            process.signal(signal)?;
            if !process.wait(Some(grace)) {
                process.signal(libc::SIGKILL)?;
                process.wait(None);
            }
            // Then the runtime that supervises it records the exit and
            // releases what it held: stopped means all of that is done.
            if let Some(runtime) =
                Process::open(container.state.runtime_pid, container.state.runtime_start)
            {
                runtime.wait(Some(Duration::from_secs(30)));
            }
        }
        println!("{key}");
    }
    Ok(0)
}
