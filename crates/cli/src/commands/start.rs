//! `tinydocker start CONTAINER...`: start stopped containers again, in the
//! background, with the same writable layer, name and configuration.

use anyhow::Result;

use crate::cli::ContainersArgs;
use crate::commands::run::relaunch;
use crate::state::Root;
use crate::supervisor;

pub fn start(root: &Root, args: ContainersArgs) -> Result<i32> {
    for key in &args.containers {
        let code = start_one(root, key)?;
        if code != 0 {
            return Ok(code);
        }
    }
    Ok(0)
}

/// Start one container under a new supervisor; print `key` once it runs.
pub fn start_one(root: &Root, key: &str) -> Result<i32> {
    let container = root.find(key)?;
    let (interactive, tty) = (container.config.interactive, container.config.tty);
    let id = container.config.id.clone();
    supervisor::detach(root, interactive, tty, Some(key), |stdio| {
        relaunch(root, &id, stdio, 0)
    })
}
