//! `tinydocker import [-c CHANGE]... SOURCE NAME[:TAG]` and `tinydocker tag SOURCE TARGET`.

use anyhow::Result;
use tinydocker_engine::Engine;
use tinydocker_fs::{ImageConfig, Reference};

use crate::cli::{ImportArgs, TagArgs};

pub fn import(engine: &Engine, args: ImportArgs) -> Result<i32> {
    let reference: Reference = args.reference.parse()?;
    // Every change checked before anything is imported.
    let mut config = ImageConfig::default();
    for change in &args.change {
        crate::change::apply(&mut config, change)?;
    }
    if reference.digest.is_some() {
        anyhow::bail!(
            "invalid reference format: {}: an imported image is named NAME[:TAG], its digest is not chosen",
            args.reference
        );
    }
    let image = engine
        .images()?
        .import_with_config(&args.source, &reference, config)?;
    engine.image_event("import", &image.id, &image.id);
    println!("{}", image.id);
    Ok(0)
}

/// `tinydocker tag SOURCE TARGET`: prints nothing, as docker.
pub fn tag(engine: &Engine, args: TagArgs) -> Result<i32> {
    let target: Reference = args.target.parse()?;
    if target.digest.is_some() {
        anyhow::bail!(
            "invalid reference format: {}: a tag cannot name a digest",
            args.target
        );
    }
    let image = engine.images()?.tag(&args.source, &target)?;
    engine.image_event("tag", &image.id, &target.to_string());
    Ok(0)
}
