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
    Ok(images.remove(name, |id| {
        engine
            .store
            .images_in_use()
            .map_or(true, |users| users.iter().any(|(used, _)| used == id))
    })?)
}
