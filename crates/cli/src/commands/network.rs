//! `tinydocker network create|ls|inspect|rm`.

use anyhow::{anyhow, Result};
use tinydocker_engine::{Engine, Observed};

use crate::cli::NetworkCommand;

pub fn network(engine: &Engine, cmd: NetworkCommand) -> Result<i32> {
    match cmd {
        NetworkCommand::Create(args) => {
            let net = engine.create_network(
                &args.name,
                args.subnet.as_deref(),
                args.gateway.as_deref(),
            )?;
            println!("{}", net.id);
        }
        NetworkCommand::Ls(args) => {
            let all = engine.list_networks()?;
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
                let n = engine
                    .network(name)?
                    .ok_or_else(|| anyhow!("network {name} not found"))?;
                let containers: serde_json::Map<String, serde_json::Value> = engine
                    .containers_map(|c| {
                        let net = c.state.net.clone()?;
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
                    })?
                    .into_iter()
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
                engine.remove_network(name)?;
                println!("{name}");
            }
        }
    }
    Ok(0)
}
