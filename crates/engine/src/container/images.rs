//! What removing an image must know of the containers: none may use it
//! (unless forced, which only untags it), asked again under the image
//! store's lock, since a `run` that resolved the image holds the store
//! until its container's record names the image.

use tinydocker_fs::Removed;

use crate::error::{Error, Result};
use crate::Engine;

pub(crate) fn remove(engine: &Engine, name: &str, force: bool) -> Result<Removed> {
    let images = engine.store.images()?;
    let image = images.resolve(name)?;
    let users = engine.store.images_in_use()?;
    if let (Some((_, container)), false) = (users.iter().find(|(id, _)| *id == image.id), force) {
        return Err(Error::State(format!(
            "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
            &container[..12],
            image.short_id()
        )));
    }
    let removed = images.remove(name, |id| {
        engine
            .store
            .images_in_use()
            .map_or(true, |users| users.iter().any(|(used, _)| used == id))
    })?;
    removed_events(engine, &removed);
    Ok(removed)
}

/// docker's `untag` for each name taken away and `delete` for the image
/// gone, each by the image's id.
fn removed_events(engine: &Engine, removed: &Removed) {
    let id = &removed.image.id;
    for _ in &removed.untagged {
        engine.image_event("untag", id, id);
    }
    if removed.deleted {
        engine.image_event("delete", id, id);
    }
}

/// `image prune`: every image no container uses that has no name (or,
/// with `all`, any image no container uses), removed with its unshared
/// layers; what went.
pub(crate) fn prune(
    engine: &Engine,
    all: bool,
    keep: impl Fn(&tinydocker_fs::Image) -> bool,
) -> Result<Vec<Removed>> {
    let images = engine.store.images()?;
    let used: Vec<String> = engine
        .store
        .images_in_use()?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut removed = Vec::new();
    for image in images.list()? {
        let dangling = !image.names.iter().any(|n| !n.contains('@'));
        if (!all && !dangling) || used.contains(&image.id) || !keep(&image) {
            continue;
        }
        // By id: every name goes, and the image unless a container took
        // it meanwhile (asked again under the store's lock).
        let gone = images.remove(&image.id, |id| {
            engine
                .store
                .images_in_use()
                .map_or(true, |users| users.iter().any(|(used, _)| used == id))
        })?;
        removed_events(engine, &gone);
        if gone.deleted {
            removed.push(gone);
        }
    }
    Ok(removed)
}
