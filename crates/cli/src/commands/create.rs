//! `tinydocker create [run's flags] IMAGE [COMMAND...]`: make a container
//! as `run` would, and leave it unstarted (docker's "created" state);
//! `start` runs it later, detached. Prints its full id.

use anyhow::{bail, Result};
use tinydocker_engine::Engine;

use super::run::{prepare, Prepared};
use crate::cli::RunArgs;

pub fn create(engine: &Engine, args: RunArgs) -> Result<i32> {
    // docker's `create` has no -d: a created container starts detached.
    if args.detach {
        bail!("unknown flag: --detach (a created container is started in the background by start)");
    }
    println!("{}", create_container(engine, &args, false)?);
    Ok(0)
}

/// Make the container `run` would make with `args`, unstarted; its id.
/// The API's `containers/create` makes its containers here too, so both
/// check and build them the same way. `stdin_once`: the stdin of an
/// interactive container ends with its first attacher's (docker's StdinOnce).
pub fn create_container(engine: &Engine, args: &RunArgs, stdin_once: bool) -> Result<String> {
    let Prepared {
        spec,
        mut config,
        hold,
        mut made,
    } = prepare(engine, args)?;
    config.meta.stdin_once = stdin_once;
    let id = engine.create_container(spec, config, hold)?;
    made.kept = true;
    Ok(id)
}
