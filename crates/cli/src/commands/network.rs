//! `tinydocker network create|ls|inspect|rm|connect|disconnect|prune`.
//! `ls` and `inspect` show docker's predefined networks too: `bridge`
//! (made on first use), `host` and `none`.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use serde_json::json;
use tinydocker_engine::{rfc3339, BridgeRequest, Engine, Network, Observed, PREDEFINED_NETWORKS};

use crate::cli::{NetworkCommand, NetworkConnectArgs, NetworkLsArgs, NetworkPruneArgs};

/// A row of `network ls`: a network made here, or a predefined one not
/// made (yet).
struct Row {
    id: String,
    name: String,
    driver: &'static str,
    labels: BTreeMap<String, String>,
    builtin: bool,
}

/// Every network, the predefined ones included, by name.
fn rows(engine: &Engine) -> Result<Vec<Row>> {
    let made = engine.list_networks()?;
    let mut rows: Vec<Row> = made
        .into_iter()
        .map(|n| Row {
            builtin: n.name == tinydocker_engine::DEFAULT_NETWORK,
            id: n.id,
            name: n.name,
            driver: "bridge",
            labels: n.labels,
        })
        .collect();
    for (name, driver) in PREDEFINED_NETWORKS {
        if !rows.iter().any(|r| r.name == name) {
            rows.push(Row {
                id: engine.predefined_network_id(name),
                name: name.to_string(),
                driver,
                labels: BTreeMap::new(),
                builtin: true,
            });
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// One `--filter`: whether a row passes.
type Keep = Box<dyn Fn(&Row) -> bool>;

fn ls(engine: &Engine, args: NetworkLsArgs) -> Result<()> {
    let mut keep: Vec<Keep> = Vec::new();
    for f in &args.filter {
        let (key, value) = f.split_once('=').unwrap_or((f, ""));
        let value = value.to_string();
        keep.push(match key {
            "label" if !value.is_empty() => Box::new(move |r: &Row| {
                tinydocker_engine::labels_match(&r.labels, std::slice::from_ref(&value))
            }),
            // docker matches names by substring, ids by prefix.
            "name" => Box::new(move |r: &Row| r.name.contains(&value)),
            "id" => Box::new(move |r: &Row| r.id.starts_with(&value)),
            "driver" => Box::new(move |r: &Row| r.driver == value),
            "type" if value == "builtin" => Box::new(|r: &Row| r.builtin),
            "type" if value == "custom" => Box::new(|r: &Row| !r.builtin),
            "type" => bail!("invalid filter: 'type'='{value}'"),
            _ => bail!(
                "invalid filter '{f}' (tinydocker filters networks by driver=, id=, label=, name= and type=)"
            ),
        });
    }
    let shown: Vec<Row> = rows(engine)?
        .into_iter()
        .filter(|r| keep.iter().all(|k| k(r)))
        .collect();
    let id = |r: &Row| {
        if args.no_trunc {
            r.id.clone()
        } else {
            r.id[..12].to_string()
        }
    };
    if args.quiet {
        for r in &shown {
            println!("{}", id(r));
        }
        return Ok(());
    }
    let table: Vec<Vec<String>> = shown
        .iter()
        .map(|r| vec![id(r), r.name.clone(), r.driver.into(), "local".into()])
        .collect();
    super::print_table(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &table);
    Ok(())
}

/// docker's JSON for network `name`.
fn inspect_one(engine: &Engine, name: &str) -> Result<serde_json::Value> {
    let Some(n) = engine.network(name)? else {
        let Some((_, driver)) = PREDEFINED_NETWORKS.iter().find(|(n, _)| *n == name) else {
            bail!("network {name} not found");
        };
        // A predefined network not made (yet): what docker shows of it.
        return Ok(json!({
            "Name": name,
            "Id": engine.predefined_network_id(name),
            "Scope": "local",
            "Driver": driver,
            "EnableIPv6": false,
            "IPAM": { "Driver": "default", "Options": null, "Config": [] },
            "Internal": false,
            "Attachable": false,
            "Containers": {},
            "Options": {},
            "Labels": {},
        }));
    };
    json(engine, &n)
}

fn json(engine: &Engine, n: &Network) -> Result<serde_json::Value> {
    let containers: serde_json::Map<String, serde_json::Value> = engine
        .containers_map(|c| {
            let net = c.state.nets().find(|net| net.network == n.name)?.clone();
            matches!(c.observe(), Observed::Running { .. }).then(|| {
                (
                    c.config.id.clone(),
                    json!({
                        "Name": c.config.name,
                        "IPv4Address": format!("{}/{}", net.ip, net.prefix),
                        "HostInterface": net.host_if,
                    }),
                )
            })
        })?
        .into_iter()
        .collect();
    Ok(json!({
        "Name": n.name,
        "Id": n.id,
        "Created": rfc3339(n.created),
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": { "Driver": "default", "Options": {}, "Config": [ { "Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string() } ] },
        "Internal": false,
        "Attachable": false,
        "Containers": containers,
        "Options": { "com.docker.network.bridge.name": n.bridge },
        "Labels": n.labels,
    }))
}

pub fn network(engine: &Engine, cmd: NetworkCommand) -> Result<i32> {
    // docker's network commands fail with 1 (125 is `run`'s).
    Ok(match cmd {
        NetworkCommand::Create(args) => super::or_failed(create(engine, args)),
        NetworkCommand::Ls(args) => super::or_failed(ls(engine, args)),
        NetworkCommand::Inspect(args) => {
            let mut out = Vec::new();
            let mut failed = false;
            for name in &args.names {
                match inspect_one(engine, name) {
                    Ok(json) => out.push(json),
                    Err(e) => {
                        eprintln!("tinydocker: {}", crate::errors::one_line(&e));
                        failed = true;
                    }
                }
            }
            // What was found, as docker prints it even when some were not.
            println!(
                "{}",
                serde_json::to_string_pretty(&out).expect("json serialises")
            );
            i32::from(failed)
        }
        NetworkCommand::Rm(args) => {
            // On with the others after a failure, as docker; each said.
            let mut failed = false;
            for name in &args.names {
                match engine.remove_network(name) {
                    Ok(_) => println!("{name}"),
                    Err(e) => {
                        eprintln!("tinydocker: {}", e.one_line());
                        failed = true;
                    }
                }
            }
            i32::from(failed)
        }
        NetworkCommand::Connect(args) => super::or_failed(connect(engine, args)),
        NetworkCommand::Disconnect(args) => super::or_failed(
            engine
                .disconnect_network(&args.container, &args.network, args.force)
                .map_err(Into::into),
        ),
        NetworkCommand::Prune(args) => super::or_failed(prune(engine, args)),
    })
}

fn create(engine: &Engine, args: crate::cli::NetworkCreateArgs) -> Result<()> {
    let mut labels = BTreeMap::new();
    for entry in &args.label {
        let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
        if key.is_empty() {
            bail!("invalid label {entry:?}: empty name");
        }
        labels.insert(key.to_string(), value.to_string());
    }
    let net = engine.create_network_labelled(
        &args.name,
        args.subnet.as_deref(),
        args.gateway.as_deref(),
        labels,
    )?;
    println!("{}", net.id);
    Ok(())
}

fn connect(engine: &Engine, args: NetworkConnectArgs) -> Result<()> {
    let ip = args
        .ip
        .as_deref()
        .map(|ip| {
            ip.parse()
                .map_err(|_| anyhow!("--ip {ip:?}: expected an IPv4 address"))
        })
        .transpose()?;
    engine.connect_network(
        &args.container,
        BridgeRequest {
            network: args.network,
            ip,
            ports: Vec::new(),
            aliases: args.alias,
        },
    )?;
    Ok(())
}

fn prune(engine: &Engine, args: NetworkPruneArgs) -> Result<()> {
    let filters: Vec<(String, String)> = args
        .filter
        .iter()
        .map(|f| {
            let (key, value) = f.split_once('=').unwrap_or((f, ""));
            (key.to_string(), value.to_string())
        })
        .collect();
    let keep = prune_filter(&filters)?;
    if !args.force
        && !super::confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )?
    {
        return Ok(());
    }
    let removed = engine.prune_networks(keep)?;
    if !removed.is_empty() {
        println!("Deleted Networks:");
        for name in &removed {
            println!("{name}");
        }
    }
    Ok(())
}

/// docker's filters of `network prune` (`until=`, `label=`, `label!=`) as
/// one test of a network: filters of one key must all pass.
pub fn prune_filter(
    filters: &[(String, String)],
) -> Result<impl Fn(&Network) -> bool + Send + 'static> {
    let filter = super::system::PruneFilter::from_pairs(filters, "network prune")?;
    Ok(move |n: &Network| filter.keeps(&n.labels, n.created))
}
