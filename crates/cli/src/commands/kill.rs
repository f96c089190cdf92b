//! `tinydocker kill [-s SIGNAL] CONTAINER...`, `stop [-t SECONDS] [-s
//! SIGNAL] CONTAINER...` and `restart [-t SECONDS] CONTAINER...`.

use std::time::Duration;

use anyhow::{bail, Result};
use tinydocker_engine::{parse_signal, Engine};

use crate::cli::{KillArgs, RestartArgs, StopArgs};

pub fn kill(engine: &Engine, args: KillArgs) -> Result<i32> {
    let signal = parse_signal(&args.signal)?;
    for key in &args.containers {
        engine.kill(key, signal)?;
        println!("{key}");
    }
    Ok(0)
}

pub fn stop(engine: &Engine, args: StopArgs) -> Result<i32> {
    let grace = args.grace.time.as_deref().map(grace_period).transpose()?;
    // Unless told: each container's own (--stop-signal, its image's
    // StopSignal, SIGTERM).
    let signal = args.signal.as_deref().map(parse_signal).transpose()?;
    engine.stop(&args.containers, signal, grace, |key| println!("{key}"))?;
    Ok(0)
}

pub fn restart(engine: &Engine, args: RestartArgs) -> Result<i32> {
    let grace = args.grace.time.as_deref().map(grace_period).transpose()?;
    for key in &args.containers {
        engine.restart(key, grace)?;
        println!("{key}");
    }
    Ok(0)
}

pub(crate) fn grace_period(text: &str) -> Result<Duration> {
    match text.trim().parse::<i64>() {
        Ok(t) if t >= 0 => Ok(Duration::from_secs(t as u64)),
        _ => bail!("invalid timeout {text:?}: expected a number of seconds, 0 or more"),
    }
}
