//! `tinydocker import SOURCE NAME[:TAG]`.

use anyhow::Result;
use tinydocker_engine::Engine;
use tinydocker_fs::Reference;

use crate::cli::ImportArgs;

pub fn import(engine: &Engine, args: ImportArgs) -> Result<i32> {
    let reference: Reference = args.reference.parse()?;
    let image = engine.images()?.import(&args.source, &reference)?;
    println!("{}", image.id);
    Ok(0)
}
