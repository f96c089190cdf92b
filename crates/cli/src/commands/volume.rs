//! `tinydocker volume ls [-q]`, `volume rm [-f] VOLUME...` and `volume
//! prune [-f]`: the anonymous volumes containers got for their images'
//! Volumes.

use anyhow::Result;
use tinydocker_engine::Engine;

use crate::cli::VolumeCommand;

/// docker's code for a failed `volume rm`.
const FAILED: i32 = 1;

pub fn volume(engine: &Engine, cmd: VolumeCommand) -> Result<i32> {
    match cmd {
        VolumeCommand::Ls(args) => {
            let names = engine.list_volumes()?;
            if args.quiet {
                for name in &names {
                    println!("{name}");
                }
            } else {
                let rows: Vec<Vec<String>> = names
                    .into_iter()
                    .map(|name| vec!["local".to_string(), name])
                    .collect();
                super::print_table(&["DRIVER", "VOLUME NAME"], &rows);
            }
            Ok(0)
        }
        VolumeCommand::Rm(args) => {
            let mut failed = false;
            for name in &args.names {
                match engine.remove_volume(name) {
                    Ok(()) => println!("{name}"),
                    Err(_) if args.force && !engine.list_volumes()?.contains(name) => {}
                    Err(e) => {
                        // On with the others, as docker; each failure said.
                        eprintln!("tinydocker: {}", e.one_line());
                        failed = true;
                    }
                }
            }
            Ok(if failed { FAILED } else { 0 })
        }
        VolumeCommand::Prune(args) => {
            if !args.force && !super::confirm("WARNING! This will remove anonymous local volumes not used by at least one container.")? {
                return Ok(0);
            }
            let (removed, reclaimed) = engine.prune_volumes()?;
            if !removed.is_empty() {
                println!("Deleted Volumes:");
                for name in &removed {
                    println!("{name}");
                }
                println!();
            }
            println!(
                "Total reclaimed space: {}",
                crate::human::size(reclaimed).replace(' ', "")
            );
            Ok(0)
        }
    }
}
