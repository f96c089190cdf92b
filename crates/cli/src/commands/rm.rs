//! `tinydocker rm [-f] CONTAINER...`.

use anyhow::{bail, Context, Result};

use crate::cli::RmArgs;
use crate::process::Process;
use crate::state::{Observed, Root};

pub fn rm(root: &Root, args: RmArgs) -> Result<i32> {
    let mut failed = None;
    for key in &args.containers {
        match remove_one(root, key, args.force) {
            Ok(()) => println!("{key}"),
            Err(e) => {
                // Go on with the others, as docker does; report each failure.
                eprintln!("tinydocker: {}", crate::errors::one_line(&e));
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(_) => Ok(crate::errors::USAGE),
        None => Ok(0),
    }
}

fn remove_one(root: &Root, key: &str, force: bool) -> Result<()> {
    let container = root.find(key)?;
    let observed = container.observe();
    let forced = observed.active();
    if forced {
        if !force {
            return Err(not_stopped(&container.config.name, &observed));
        }
        // No restart after this, whatever the policy.
        let settled = super::kill::settled(root, &container.config.id)?;
        let container = super::kill::mark_stopped(root, &settled)?;
        kill(container.state.pid, container.state.pid_start)
            .with_context(|| format!("kill container {}", container.config.name))?;
        // Its runtime then releases what the container held and records
        // the exit (under the container's lock, so not while we hold it).
        super::kill::wait_for_runtime(&container);
    }
    // A killed `--rm` container's own runtime may have removed it by now:
    // gone, as asked.
    let Some(_lock) = container.lock()? else {
        if forced {
            return Ok(());
        }
        bail!("No such container: {key}");
    };
    // Reread under the lock: the runtime may have recorded the exit.
    let container = match root.find(&container.config.id) {
        Err(_) if forced && !container.dir.join(crate::state::RECORD).exists() => return Ok(()),
        found => found?,
    };
    // Started meanwhile (`start`, a restart policy): it is not stopped any
    // more.
    let observed = container.observe();
    if !forced && observed.active() {
        return Err(not_stopped(&container.config.name, &observed));
    }
    // Normally gone with the container; left behind when its runtime was
    // killed: its cgroup (what is left in it is killed), and its network
    // side unless its runtime released it (the address and ports may
    // belong to another container by now).
    super::run::release_leftovers(root, &container)?;
    root.remove(&container)
}

/// Why an active container (see [`Observed::active`]) was not removed.
fn not_stopped(name: &str, observed: &Observed) -> anyhow::Error {
    let what = match observed {
        Observed::Restarting { .. } => "container is restarting",
        Observed::Created => "container is starting",
        _ => "container is running",
    };
    anyhow::anyhow!(
        "cannot remove container \"{name}\": {what}: stop the container before removing or force remove"
    )
}

/// SIGKILL the container's init and wait (up to 10 s) for it to go.
fn kill(pid: i32, start: u64) -> Result<()> {
    if let Some(init) = Process::open(pid, start) {
        init.signal(libc::SIGKILL)?;
        init.wait(Some(std::time::Duration::from_secs(10)));
    }
    Ok(())
}

/// `tinydocker container prune [-f]`: remove every stopped container
/// (exited, or dead: killed with its runtime); not one that is running,
/// being started or waiting to restart.
pub fn prune(root: &Root, args: crate::cli::PruneArgs) -> Result<i32> {
    use std::io::{BufRead, Write};
    if !args.force {
        print!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            return Ok(0);
        }
    }
    let mut removed = Vec::new();
    let mut failed = false;
    let mut reclaimed = 0;
    for container in root.list()? {
        // A restarting one (waiting out its backoff, or being started
        // again) counts as running, as in docker.
        if container.observe().active() {
            continue;
        }
        let size = disk_usage(&container.dir);
        match remove_one(root, &container.config.id, false) {
            Ok(()) => {
                removed.push(container.config.id);
                reclaimed += size;
            }
            // Started meanwhile: not stopped any more, so not pruned.
            Err(_)
                if root
                    .find(&container.config.id)
                    .is_ok_and(|c| c.observe().active()) => {}
            Err(e) => {
                eprintln!("tinydocker: {}", crate::errors::one_line(&e));
                failed = true;
            }
        }
    }
    if !removed.is_empty() {
        println!("Deleted Containers:");
        for id in &removed {
            println!("{id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::human::size(reclaimed).replace(' ', "")
    );
    Ok(if failed { crate::errors::USAGE } else { 0 })
}

/// The bytes the files under `dir` take (its writable layer, log, record).
fn disk_usage(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => m.blocks() * 512 + disk_usage(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}
