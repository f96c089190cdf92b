//! `tinydocker rmi [-f] IMAGE...`.

use anyhow::{bail, Result};

use crate::cli::RmiArgs;
use crate::state::Root;

pub fn rmi(root: &Root, args: RmiArgs) -> Result<i32> {
    let store = root.images()?;
    for name in &args.images {
        let image = store.resolve(name)?;
        let users = root.images_in_use()?;
        if let (Some((_, container)), false) =
            (users.iter().find(|(id, _)| *id == image.id), args.force)
        {
            bail!(
                "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                &container[..12],
                image.short_id()
            );
        }
        // Asked again under the store's lock: a `run` that resolved the
        // image holds the store until its record names the image.
        let removed = store.remove(name, |id| {
            root.images_in_use()
                .map_or(true, |users| users.iter().any(|(used, _)| used == id))
        })?;
        for n in &removed.untagged {
            println!("Untagged: {n}");
        }
        if removed.deleted {
            println!("Deleted: {}", removed.image.id);
        }
    }
    Ok(0)
}
