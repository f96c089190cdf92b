//! `tinydocker rm [-f] [-v] CONTAINER...` and `container prune [-f]`.

use anyhow::Result;
use tinydocker_engine::Engine;

use crate::cli::{PruneArgs, RmArgs};
use crate::errors;

pub fn rm(engine: &Engine, args: RmArgs) -> Result<i32> {
    let mut failed = false;
    for key in &args.containers {
        let removed = if args.volumes {
            engine.remove_with_volumes(key, args.force)
        } else {
            engine.remove(key, args.force)
        };
        match removed {
            Ok(()) => println!("{key}"),
            Err(e) => {
                // Go on with the others, as docker does; report each failure.
                eprintln!("tinydocker: {}", e.one_line());
                failed = true;
            }
        }
    }
    Ok(if failed { errors::USAGE } else { 0 })
}

/// Remove every stopped container (exited, or dead: killed with its
/// runtime); not one that is running, being started or waiting to restart.
pub fn prune(engine: &Engine, args: PruneArgs) -> Result<i32> {
    if !args.force && !super::confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(0);
    }
    let pruned = engine.prune()?;
    for e in &pruned.failed {
        eprintln!("tinydocker: {}", e.one_line());
    }
    if !pruned.removed.is_empty() {
        println!("Deleted Containers:");
        for id in &pruned.removed {
            println!("{id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::human::size(pruned.reclaimed).replace(' ', "")
    );
    Ok(if pruned.failed.is_empty() {
        0
    } else {
        errors::USAGE
    })
}
