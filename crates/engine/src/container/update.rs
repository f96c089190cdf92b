//! New limits for a running container, in its cgroup and in its record.

use tinydocker_cgroups::{Layout, Manager, Resources};

use crate::error::{Context, Error, Result};
use crate::spec::resources::{check_hierarchies, resources_from_spec, resources_to_spec};
use crate::store::Observed;
use crate::Engine;

pub(crate) fn update(
    engine: &Engine,
    key: &str,
    change: impl FnOnce(&Resources) -> Result<Resources>,
) -> Result<()> {
    let store = &engine.store;
    let layout = Layout::detect()?;
    let container = store.find(key)?;
    let Some(_lock) = container.lock()? else {
        return Err(Error::NoSuchContainer(key.to_string()));
    };
    let mut container = store.find(&container.config.id)?;
    if !matches!(container.observe(), Observed::Running { .. }) {
        return Err(Error::State(format!(
            "cannot update container {}: it is not running",
            container.config.name
        )));
    }
    let current_spec = container
        .spec()?
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone());
    let current = match &current_spec {
        Some(r) => resources_from_spec(r)?,
        None => Resources::default(),
    };
    let resources = change(&current)?;
    let cgroup = container.cgroup(&layout)?.ok_or_else(|| {
        Error::State(format!("container {} has no cgroup", container.config.name))
    })?;
    check_hierarchies(&resources, &cgroup)?;
    cgroup
        .apply(&resources)
        .with_context(|| format!("update the limits of {}", container.config.name))?;
    let updated = resources_to_spec(&resources, current_spec.as_ref());
    if let Some(linux) = container.spec_mut()?.linux_mut() {
        linux.set_resources(Some(updated));
    }
    let state = container.state.clone();
    container.save_state_locked(state)
}
