//! `tinydocker port CONTAINER`: its published ports, as docker lists them.

use anyhow::Result;
use tinydocker_engine::Engine;

use crate::cli::PortArgs;

pub fn port(engine: &Engine, args: PortArgs) -> Result<i32> {
    let container = engine.container(&args.container)?;
    if let Some(net) = &container.state.net {
        for mapping in &net.ports {
            println!("{mapping}");
        }
    }
    Ok(0)
}
