//! `system reset` (podman's): everything tinydocker made on the host for
//! one state root goes — its containers (killed, with their cgroups,
//! mounts, veths and published ports), its networks (bridges and
//! firewall entries), its images and volumes, then the root's contents —
//! and with them the networks left on the host by state roots that were
//! deleted by hand (see `network::sweep_orphaned_networks`).
//!
//! Best effort, as a teardown: every step is tried and every failure
//! reported; a step that failed leaves its object for another reset.

use std::fs;
use std::io;

use crate::error::{Error, Result};
use crate::Engine;

/// Reset `engine`'s state root; the error names every step that failed.
pub(crate) fn reset(engine: &Engine) -> Result<()> {
    let mut errors = Vec::new();
    match engine.containers() {
        Ok(all) => {
            for c in all {
                let id = c.short_id().to_string();
                if let Err(e) = engine.remove_found(c, true) {
                    errors.push(format!("remove container {id}: {}", e.one_line()));
                }
            }
        }
        Err(e) => errors.push(format!("list the containers: {}", e.one_line())),
    }
    match engine.list_networks() {
        Ok(all) => {
            for n in all {
                if let Err(e) = engine.remove_network(&n.name) {
                    errors.push(format!("remove network {}: {}", n.name, e.one_line()));
                }
            }
        }
        Err(e) => errors.push(format!("list the networks: {}", e.one_line())),
    }
    if let Err(e) = crate::network::sweep_orphaned_networks() {
        errors.push(format!(
            "remove the networks of deleted state roots: {}",
            e.one_line()
        ));
    }
    // Only once nothing runs from it: images, volumes, records, locks.
    if errors.is_empty() {
        if let Err(e) = empty_dir(engine.root()) {
            errors.push(e.one_line());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Setup(errors.join("; ")))
    }
}

/// Remove everything in `dir`, keeping it; none there is no error.
fn empty_dir(dir: &std::path::Path) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read", dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| Error::io("read", dir, e))?.path();
        let removed = match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(e) => Err(e),
        };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", path, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn emptied_not_removed() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("a/b")).unwrap();
        std::fs::write(tmp.path().join("a/b/f"), "x").unwrap();
        std::fs::write(tmp.path().join("g"), "y").unwrap();
        super::empty_dir(tmp.path()).unwrap();
        assert!(tmp.path().is_dir());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
        super::empty_dir(&tmp.path().join("none")).unwrap();
    }
}
