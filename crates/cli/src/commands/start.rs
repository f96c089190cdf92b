//! `tinydocker start CONTAINER...`: start stopped containers again, in the
//! background, with the same writable layer, name and configuration.

use anyhow::Result;
use tinydocker_engine::Engine;

use crate::cli::ContainersArgs;

pub fn start(engine: &Engine, args: ContainersArgs) -> Result<i32> {
    for key in &args.containers {
        engine.start(key)?;
        println!("{key}");
    }
    Ok(0)
}
