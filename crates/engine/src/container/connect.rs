//! `network connect` and `network disconnect`: a container's networks
//! beside its first. A running container gets (or loses) an interface
//! at once: a veth into its network namespace, `eth1`, `eth2`..., its
//! address from the network's IPAM, no change to its default route. A
//! stopped one is only recorded, and attached at its next start, as
//! docker does. Either way its configuration keeps the network, so that
//! each later start attaches it again and each exit releases it.

use tinydocker_net::Netlink;

use super::start::claim_extra;
use crate::config::BridgeRequest;
use crate::error::{invalid, Error, Result};
use crate::network::{self, Networks, Veth, DEFAULT};
use crate::store::{Container, Observed, Status};
use crate::Engine;

/// docker's refusal of an alias on the default bridge.
pub(crate) const ALIAS_ON_DEFAULT: &str =
    "network-scoped alias is supported only for containers in user defined networks";

/// Connect container `key` to network `request.network`.
pub(crate) fn connect(engine: &Engine, key: &str, request: BridgeRequest) -> Result<()> {
    let name = request.network.clone();
    check_network(engine, &name)?;
    if name == DEFAULT && !request.aliases.is_empty() {
        return Err(invalid!("{ALIAS_ON_DEFAULT}"));
    }
    let found = engine.store.find(key)?;
    let Some(_lock) = found.lock()? else {
        return Err(Error::NoSuchContainer(key.to_string()));
    };
    let mut c = engine.store.find(&found.config.id)?;
    if matches!(c.config.origin.network_mode.as_str(), "host" | "none") {
        return Err(invalid!(
            "container {} has --network {}: it cannot be connected to other networks",
            c.config.name,
            c.config.origin.network_mode
        ));
    }
    if connected(&c, &name) {
        return Err(Error::State(format!(
            "endpoint with name {} already exists in network {name}",
            c.config.name
        )));
    }
    let mut state = c.state.clone();
    if running(&c) {
        let index = network::free_index(c.state.nets());
        let net = claim_extra(engine, &request, &c.config.id, request.ip, index)?;
        let attached = network::netns_fd(c.state.pid).and_then(|netns| {
            network::connect_endpoint(&Netlink::new()?, &net, std::os::fd::AsFd::as_fd(&netns))
        });
        if let Err(e) = attached {
            let _ = network::release(&engine.store.path, &c.config.id, &net, Veth::Delete);
            return Err(e);
        }
        state.extra_nets.push(net);
    }
    c.config.extra_networks.push(request);
    c.save_state_locked(state)
}

/// Disconnect container `key` from network `name` (its first one too: it
/// is then on none). With `force`, a failure to release its place there
/// is a warning and the record changes anyway.
pub(crate) fn disconnect(engine: &Engine, key: &str, name: &str, force: bool) -> Result<()> {
    if matches!(name, "host" | "none") {
        return Err(invalid!(
            "container cannot be disconnected from host network or connected to host network"
        ));
    }
    check_network(engine, name)?;
    let found = engine.store.find(key)?;
    let Some(_lock) = found.lock()? else {
        return Err(Error::NoSuchContainer(key.to_string()));
    };
    let mut c = engine.store.find(&found.config.id)?;
    if !connected(&c, name) {
        return Err(Error::State(format!(
            "container {} is not connected to network {name}",
            c.config.id
        )));
    }
    let mut state = c.state.clone();
    if running(&c) {
        if let Some(net) = c.state.nets().find(|n| n.network == name) {
            match network::release(&engine.store.path, &c.config.id, net, Veth::Delete) {
                Err(e) if force => engine.warn(&format!("warning: {}", e.one_line())),
                released => released?,
            }
        }
    }
    // Its last run's place goes from the record either way: released at
    // its exit, or just now.
    state.extra_nets.retain(|n| n.network != name);
    if state.net.as_ref().is_some_and(|n| n.network == name) {
        state.net = None;
    }
    c.config.extra_networks.retain(|r| r.network != name);
    if c.config.bridge.as_ref().is_some_and(|b| b.network == name) {
        c.config.bridge = None;
    }
    c.save_state_locked(state)
}

/// The network must exist (the default bridge is made on first use).
fn check_network(engine: &Engine, name: &str) -> Result<()> {
    if name != DEFAULT && Networks::new(&engine.store.path).get(name)?.is_none() {
        return Err(invalid!("network {name} not found"));
    }
    Ok(())
}

/// Whether the container's configuration has it on network `name`.
fn connected(c: &Container, name: &str) -> bool {
    c.config
        .bridge
        .iter()
        .chain(&c.config.extra_networks)
        .any(|r| r.network == name)
}

/// Whether it runs now with its network places held: what it is
/// connected to changes at once.
fn running(c: &Container) -> bool {
    c.state.status == Status::Running
        && !c.state.net_released
        && matches!(c.observe(), Observed::Running { .. })
}
