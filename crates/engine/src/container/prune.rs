//! Removing every stopped container (exited, or dead: killed with its
//! runtime); not one that is running, being started or waiting to restart.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::remove::remove;
use crate::error::Result;
use crate::Engine;

/// What a prune removed.
#[derive(Debug, Default)]
pub struct Pruned {
    /// The ids removed.
    pub removed: Vec<String>,
    /// The bytes their files took.
    pub reclaimed: u64,
    /// The containers that could not be removed, and why.
    pub failed: Vec<crate::Error>,
}

/// Every stopped container that `keep` accepts (a prune's filters).
pub(crate) fn prune(engine: &Engine, keep: impl Fn(&crate::Container) -> bool) -> Result<Pruned> {
    let mut pruned = Pruned::default();
    // A restarting one (waiting out its backoff, or being started again)
    // counts as running, as in docker.
    let stopped = engine
        .store
        .list_map(|c| (!c.observe().active() && keep(&c)).then_some((c.config.id, c.dir)))?;
    for (id, dir) in stopped {
        let size = disk_usage(&dir);
        match engine
            .store
            .find(&id)
            .and_then(|c| remove(engine, c, false))
        {
            Ok(()) => {
                pruned.removed.push(id);
                pruned.reclaimed += size;
            }
            // Started meanwhile: not stopped any more, so not pruned.
            Err(_) if engine.store.find(&id).is_ok_and(|c| c.observe().active()) => {}
            Err(e) => pruned.failed.push(e),
        }
    }
    Ok(pruned)
}

/// The bytes the files under `dir` take (its writable layer, log, record).
pub(crate) fn disk_usage(dir: &Path) -> u64 {
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
