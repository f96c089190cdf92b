//! `tinydocker import [-c CHANGE]... SOURCE NAME[:TAG]` and `tinydocker tag SOURCE TARGET`.

use anyhow::Result;
use tinydocker_engine::Engine;
use tinydocker_fs::{ImageConfig, Reference};

use crate::cli::{ImportArgs, TagArgs};

pub fn import(engine: &Engine, args: ImportArgs) -> Result<i32> {
    let image = import_image(engine, &args.source, Some(&args.reference), &args.change)?;
    println!("{}", image.id);
    Ok(0)
}

/// Import `source` (a tarball, plain or gzip, or a directory) as an image
/// named `reference` (or only known by its id), its config made by
/// `changes` (Dockerfile instructions, as `import -c`). The CLI's `import`
/// and the API's `images/create?fromSrc=-`.
pub fn import_image(
    engine: &Engine,
    source: &std::path::Path,
    reference: Option<&str>,
    changes: &[String],
) -> Result<tinydocker_fs::Image> {
    let parsed: Option<Reference> = reference.map(str::parse).transpose()?;
    // Every change checked before anything is imported.
    let mut config = ImageConfig::default();
    for change in changes {
        crate::change::apply(&mut config, change)?;
    }
    if parsed.as_ref().is_some_and(|r| r.digest.is_some()) {
        anyhow::bail!(
            "invalid reference format: {}: an imported image is named NAME[:TAG], its digest is not chosen",
            reference.unwrap_or_default()
        );
    }
    let image = engine
        .images()?
        .import_as(source, parsed.as_ref(), config)?;
    engine.image_event("import", &image.id, &image.id);
    Ok(image)
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
