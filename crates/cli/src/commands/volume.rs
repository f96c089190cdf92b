//! `tinydocker volume create|inspect|ls|rm|prune`: named volumes and the
//! anonymous ones containers got for their images' Volumes, on docker's
//! local driver's terms.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde_json::json;
use tinydocker_engine::{rfc3339, Engine, VolumeInfo};

use crate::cli::{VolumeCommand, VolumeCreateArgs, VolumeInspectArgs, VolumeLsArgs};

/// docker's code for a failed volume command.
const FAILED: i32 = 1;

pub fn volume(engine: &Engine, cmd: VolumeCommand) -> Result<i32> {
    match cmd {
        VolumeCommand::Create(args) => Ok(super::or_failed(create(engine, args))),
        VolumeCommand::Inspect(args) => inspect(engine, args),
        VolumeCommand::Ls(args) => Ok(super::or_failed(ls(engine, args))),
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
            // docker 20.10's prune (API 1.41): every unused volume, named
            // ones too; `--all` asks for what it does anyway.
            let _ = args.all;
            if !args.force
                && !super::confirm(
                    "WARNING! This will remove all local volumes not used by at least one container.",
                )?
            {
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

fn create(engine: &Engine, args: VolumeCreateArgs) -> Result<()> {
    let name = match (args.name_flag, args.name) {
        (Some(a), Some(b)) if a != b => {
            bail!("conflicting options: either specify --name or provide positional arg, not both")
        }
        (a, b) => a.or(b),
    };
    check_driver(name.as_deref(), &args.driver)?;
    let mut labels = BTreeMap::new();
    for entry in &args.label {
        let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
        if key.is_empty() {
            bail!("invalid label {entry:?}: empty name");
        }
        labels.insert(key.to_string(), value.to_string());
    }
    let volume = engine.create_named_volume(name.as_deref(), labels)?;
    println!("{}", volume.name);
    Ok(())
}

/// tinydocker has docker's `local` driver only (`""` is it too).
pub fn check_driver(name: Option<&str>, driver: &str) -> Result<()> {
    if !matches!(driver, "local" | "") {
        let name = name.unwrap_or_default();
        bail!(
            "create {name}: error looking up volume plugin {driver}: plugin {driver:?} not found (tinydocker has the local driver only)"
        );
    }
    Ok(())
}

/// docker's JSON for a volume.
pub fn json(v: &VolumeInfo) -> serde_json::Value {
    json!({
        // Whole seconds, as docker prints it.
        "CreatedAt": rfc3339(v.record.created / 1_000_000_000 * 1_000_000_000),
        "Driver": "local",
        "Labels": if v.record.labels.is_empty() { serde_json::Value::Null } else { json!(v.record.labels) },
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": serde_json::Value::Null,
        "Scope": "local",
    })
}

fn inspect(engine: &Engine, args: VolumeInspectArgs) -> Result<i32> {
    let mut out = Vec::new();
    let mut failed = false;
    for name in &args.names {
        match engine.volume(name) {
            Ok(v) => out.push(json(&v)),
            Err(_) if engine.list_volumes().is_ok_and(|all| !all.contains(name)) => {
                eprintln!("tinydocker: no such volume: {name}");
                failed = true;
            }
            Err(e) => {
                eprintln!("tinydocker: {}", e.one_line());
                failed = true;
            }
        }
    }
    // What was found, as docker prints it even when some were not.
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("json serialises")
    );
    Ok(if failed { FAILED } else { 0 })
}

/// `volume ls --filter`s, all to be met.
#[derive(Debug, Default)]
struct Filters {
    labels: Vec<String>,
    dangling: Option<bool>,
    names: Vec<String>,
    drivers: Vec<String>,
}

fn filters(given: &[String]) -> Result<Filters> {
    let mut f = Filters::default();
    for entry in given {
        match entry.split_once('=') {
            Some(("label", label)) if !label.is_empty() => f.labels.push(label.to_string()),
            Some(("dangling", v)) => {
                f.dangling = Some(match v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => bail!("invalid filter 'dangling={v}': expected true or false"),
                })
            }
            Some(("name", name)) => f.names.push(name.to_string()),
            Some(("driver", driver)) => f.drivers.push(driver.to_string()),
            _ => bail!(
                "invalid filter '{entry}' (tinydocker filters volumes by dangling=, driver=, label= and name=)"
            ),
        }
    }
    Ok(f)
}

fn ls(engine: &Engine, args: VolumeLsArgs) -> Result<()> {
    let shown = matching(engine, &args.filter)?;
    if args.quiet {
        for v in &shown {
            println!("{}", v.name);
        }
    } else {
        let rows: Vec<Vec<String>> = shown
            .into_iter()
            .map(|v| vec!["local".to_string(), v.name])
            .collect();
        super::print_table(&["DRIVER", "VOLUME NAME"], &rows);
    }
    Ok(())
}

/// The volumes that pass every filter (`KEY=VALUE`: dangling, driver,
/// label, name), by name.
pub fn matching(engine: &Engine, filter: &[String]) -> Result<Vec<VolumeInfo>> {
    let filters = filters(filter)?;
    let used = match filters.dangling {
        Some(_) => engine.volume_users()?,
        None => Vec::new(),
    };
    Ok(engine
        .volumes()?
        .into_iter()
        .filter(|v| tinydocker_engine::labels_match(&v.record.labels, &filters.labels))
        .filter(|v| {
            filters
                .dangling
                .is_none_or(|d| d != used.iter().any(|(name, _)| *name == v.name))
        })
        // docker matches names by substring.
        .filter(|v| filters.names.iter().all(|n| v.name.contains(n.as_str())))
        .filter(|_| filters.drivers.iter().all(|d| d == "local"))
        .collect())
}
