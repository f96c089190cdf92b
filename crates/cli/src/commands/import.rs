//! `tinydocker import SOURCE NAME[:TAG]`.

use anyhow::Result;
use tinydocker_engine::Engine;
use tinydocker_fs::Reference;

use crate::cli::ImportArgs;

pub fn import(engine: &Engine, args: ImportArgs) -> Result<i32> {
    let reference: Reference = args.reference.parse()?;
    if reference.digest.is_some() {
        anyhow::bail!(
            "invalid reference format: {}: an imported image is named NAME[:TAG], its digest is not chosen",
            args.reference
        );
    }
    let image = engine.images()?.import(&args.source, &reference)?;
    println!("{}", image.id);
    Ok(0)
}
