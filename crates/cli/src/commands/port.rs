//! `tinydocker port CONTAINER`: its published ports, as docker lists them.

use anyhow::Result;

use crate::cli::PortArgs;
use crate::state::Root;

pub fn port(root: &Root, args: PortArgs) -> Result<i32> {
    let container = root.find(&args.container)?;
    if let Some(net) = &container.config.net {
        for mapping in &net.ports {
            println!("{mapping}");
        }
    }
    Ok(0)
}
