//! `tinydocker update [limits] CONTAINER...`: change the resource limits of
//! running containers, in their cgroups and in their records.

use anyhow::{bail, Context, Result};
use tinydocker_cgroups::{Layout, Manager};

use crate::cli::UpdateArgs;
use crate::limits::Host;
use crate::state::{Observed, Root};

pub fn update(root: &Root, args: UpdateArgs) -> Result<i32> {
    if !args.limits.any() {
        bail!("you must provide one or more flags when using this command (see tinydocker update --help)");
    }
    let host = Host::detect()?;
    let layout = Layout::detect()?;
    for key in &args.containers {
        let container = root.find(key)?;
        let Some(_lock) = container.lock()? else {
            bail!("No such container: {key}");
        };
        let mut container = root.find(&container.config.id)?;
        if !matches!(container.observe(), Observed::Running { .. }) {
            bail!(
                "cannot update container {}: it is not running",
                container.config.name
            );
        }
        let resources = args.limits.resources(&host, &container.config.resources)?;
        let cgroup = container
            .cgroup(&layout)
            .with_context(|| format!("container {} has no cgroup", container.config.name))?;
        cgroup
            .apply(&resources)
            .with_context(|| format!("update the limits of {}", container.config.name))?;
        container.config.resources = resources;
        let state = container.state.clone();
        container.save_state_locked(state)?;
        println!("{key}");
    }
    Ok(0)
}
