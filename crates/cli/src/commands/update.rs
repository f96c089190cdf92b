//! `tinydocker update [limits] CONTAINER...`: new resource limits for
//! running containers, laid over the ones they have.

use anyhow::{bail, Result};
use tinydocker_engine::Engine;

use crate::cli::UpdateArgs;
use crate::limits::Host;

pub fn update(engine: &Engine, args: UpdateArgs) -> Result<i32> {
    if !args.limits.any() {
        bail!("you must provide one or more flags when using this command (see tinydocker update --help)");
    }
    let host = Host::detect()?;
    for key in &args.containers {
        let mut invalid = None;
        let updated = engine.update(key, |current| {
            args.limits.resources(&host, current).map_err(|e| {
                let message = format!("{e:#}");
                invalid = Some(e);
                tinydocker_engine::Error::Invalid(message)
            })
        });
        if let Err(e) = updated {
            return Err(invalid.unwrap_or_else(|| e.into()));
        }
        println!("{key}");
    }
    Ok(0)
}
