//! `tinydocker network create|ls|inspect|rm`.

use anyhow::{anyhow, Result};

use crate::cli::NetworkCommand;
use crate::networks::Networks;
use crate::state::{Observed, Root};

/// Running containers attached to a network.
fn attached(root: &Root, network: &str) -> Vec<String> {
    root.list()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.config.net.as_ref().is_some_and(|n| n.network == network))
        // One being started (run, start, a restart) that has claimed its
        // address, and a Dead one (its runtime was killed), which holds it
        // until rm.
        .filter(|c| {
            matches!(
                c.observe(),
                Observed::Created | Observed::Running { .. } | Observed::Dead
            ) && !c.state.net_released
        })
        .map(|c| c.config.name)
        .collect()
}

pub fn network(root: &Root, cmd: NetworkCommand) -> Result<i32> {
    let networks = Networks::new(&root.path);
    match cmd {
        NetworkCommand::Create(args) => {
            let net =
                networks.create(&args.name, args.subnet.as_deref(), args.gateway.as_deref())?;
            println!("{}", net.id);
        }
        NetworkCommand::Ls(args) => {
            let all = networks.list()?;
            if args.quiet {
                for n in &all {
                    println!("{}", &n.id[..12]);
                }
                return Ok(0);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|n| {
                    vec![
                        n.id[..12].to_string(),
                        n.name.clone(),
                        "bridge".into(),
                        "local".into(),
                    ]
                })
                .collect();
            super::print_table(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows);
        }
        NetworkCommand::Inspect(args) => {
            let mut out = Vec::new();
            for name in &args.names {
                let n = networks
                    .get(name)?
                    .ok_or_else(|| anyhow!("network {name} not found"))?;
                let containers: serde_json::Map<String, serde_json::Value> = root
                    .list()?
                    .into_iter()
                    .filter_map(|c| {
                        let net = c.config.net.clone()?;
                        (net.network == n.name && matches!(c.observe(), Observed::Running { .. }))
                            .then(|| {
                                (
                                    c.config.id.clone(),
                                    serde_json::json!({
                                        "Name": c.config.name,
                                        "IPv4Address": format!("{}/{}", net.ip, net.prefix),
                                        "HostInterface": net.host_if,
                                    }),
                                )
                            })
                    })
                    .collect();
                out.push(serde_json::json!({
                    "Name": n.name,
                    "Id": n.id,
                    "Driver": "bridge",
                    "Scope": "local",
                    "IPAM": { "Driver": "default", "Config": [ { "Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string() } ] },
                    "Options": { "com.docker.network.bridge.name": n.bridge },
                    "Containers": containers,
                }));
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&out).expect("json serialises")
            );
        }
        NetworkCommand::Rm(args) => {
            for name in &args.names {
                networks.remove(name, |n| attached(root, n))?;
                println!("{name}");
            }
        }
    }
    Ok(0)
}
