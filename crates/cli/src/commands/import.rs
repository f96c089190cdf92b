//! `tinydocker import SOURCE NAME[:TAG]`.

use anyhow::Result;
use tinydocker_fs::Reference;

use crate::cli::ImportArgs;
use crate::state::Root;

pub fn import(root: &Root, args: ImportArgs) -> Result<i32> {
    let reference: Reference = args.reference.parse()?;
    let image = root.images()?.import(&args.source, &reference)?;
    println!("{}", image.id);
    Ok(0)
}
