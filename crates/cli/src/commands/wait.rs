//! `tinydocker wait CONTAINER...`: block until each container stops, then
//! print its exit code.

use anyhow::Result;
use tinydocker_engine::Engine;

use crate::cli::ContainersArgs;

pub fn wait(engine: &Engine, args: ContainersArgs) -> Result<i32> {
    for key in &args.containers {
        println!("{}", engine.wait(key)?);
    }
    Ok(0)
}
