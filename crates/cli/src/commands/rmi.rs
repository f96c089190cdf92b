//! `tinydocker rmi [-f] IMAGE...`.

use anyhow::Result;
use tinydocker_engine::Engine;

use crate::cli::RmiArgs;

pub fn rmi(engine: &Engine, args: RmiArgs) -> Result<i32> {
    for name in &args.images {
        let removed = engine.remove_image(name, args.force)?;
        for n in &removed.untagged {
            println!("Untagged: {n}");
        }
        if removed.deleted {
            println!("Deleted: {}", removed.image.id);
        }
    }
    Ok(0)
}
