//! `tinydocker inspect NAME|ID...`: containers, networks and images as JSON,
//! with docker's field names.

use anyhow::Result;
use serde_json::{json, Value};
use tinydocker_engine::spec::{resources::resources_from_spec, security::caps_from_spec};
use tinydocker_engine::{Container, Engine, Observed, Spec};

use crate::cli::InspectArgs;
use crate::human::rfc3339;

/// A bind mount of the container's (a volume), as its spec lists it.
struct Bind {
    source: String,
    target: String,
    read_only: bool,
}

/// The container's bind mounts, read from the spec alone (nothing on the
/// host is looked at: a source may be gone by now).
fn binds(spec: &Spec) -> Vec<Bind> {
    spec.mounts()
        .iter()
        .flatten()
        .filter_map(|m| {
            let options = m.options().as_deref().unwrap_or_default();
            let has = |names: &[&str]| options.iter().any(|o| names.contains(&o.as_str()));
            let bind = m.typ().as_deref() == Some("bind") || has(&["bind", "rbind"]);
            bind.then(|| Bind {
                source: m
                    .source()
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string()),
                target: m.destination().display().to_string(),
                read_only: has(&["ro", "rro"]),
            })
        })
        .collect()
}

/// Its NetworkSettings.Networks: each network its configuration has it on
/// (its first, those connected later), with its place there in its last
/// (or current) run; a network it was connected to while stopped has none
/// yet. On a user network, its aliases there and its short id, which name
/// it in the network's DNS.
fn networks_json(c: &Container) -> serde_json::Map<String, Value> {
    let requests = c.config.bridge.iter().chain(&c.config.extra_networks);
    requests
        .map(|r| {
            let mut value = match c.state.nets().find(|n| n.network == r.network) {
                Some(n) => {
                    json!({ "IPAddress": n.ip.to_string(), "IPPrefixLen": n.prefix, "Gateway": n.gateway.to_string(), "HostInterface": n.host_if })
                }
                None => json!({ "IPAddress": "", "IPPrefixLen": 0, "Gateway": "" }),
            };
            if r.network != tinydocker_engine::DEFAULT_NETWORK {
                let mut aliases = r.aliases.clone();
                aliases.push(c.short_id().to_string());
                value["Aliases"] = json!(aliases);
            }
            (r.network.clone(), value)
        })
        .collect()
}

/// A container as `docker inspect` shows it.
pub fn container_json(c: &Container) -> Result<Value> {
    let observed = c.observe();
    let config = &c.config;
    let origin = &config.origin;
    let state = &c.state;
    let spec = c.spec()?;
    let process = spec.process().as_ref();
    let linux = spec.linux().as_ref();
    let running = matches!(observed, Observed::Running { .. });
    let r = linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| resources_from_spec(r).ok())
        .unwrap_or_default();
    let ports: serde_json::Map<String, Value> = state
        .net
        .iter()
        .flat_map(|n| n.ports.iter())
        .map(|p| {
            (
                format!("{}/{}", p.container_port, p.proto),
                json!([{ "HostIp": p.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string()), "HostPort": p.host_port.to_string() }]),
            )
        })
        .collect();
    // What was asked for (NetworkSettings.Ports says what is published
    // now: nothing before the container's first start).
    let bindings: serde_json::Map<String, Value> = config
        .bridge
        .iter()
        .flat_map(|b| b.ports.iter())
        .map(|p| {
            (
                format!("{}/{}", p.container_port, p.proto),
                json!([{ "HostIp": p.host_ip.map_or(String::new(), |ip| ip.to_string()), "HostPort": p.host_port.to_string() }]),
            )
        })
        .collect();
    let networks = networks_json(c);
    // The volumes (anonymous and named) among the spec's binds, by
    // destination.
    let meta = &config.meta;
    let volume_at = |target: &str| {
        meta.volumes
            .iter()
            .chain(&meta.named_volumes)
            .find(|v| v.destination == target)
    };
    let (anonymous, binds): (Vec<Bind>, Vec<Bind>) = binds(spec)
        .into_iter()
        .partition(|b| volume_at(&b.target).is_some());
    let args = c.args();
    let capabilities = caps_from_spec(
        process
            .and_then(|p| p.capabilities().as_ref())
            .and_then(|caps| caps.bounding().as_ref()),
    )
    .unwrap_or_default();
    let cgroup = c.cgroup_path()?;
    let mut value = json!({
        "Id": config.id,
        "Created": rfc3339(config.created),
        "Path": args.first(),
        "Args": args.get(1..).unwrap_or_default(),
        "State": {
            "Status": super::ps::state_word(c, observed),
            "Running": running,
            "Paused": running && state.paused,
            "Restarting": matches!(observed, Observed::Restarting { .. }),
            "Dead": matches!(observed, Observed::Dead),
            "Pid": if running { state.pid } else { 0 },
            "ExitCode": match observed {
                Observed::Exited { code, .. } | Observed::Restarting { code, .. } => code,
                _ => state.exit_code,
            },
            "OOMKilled": state.oom_killed,
            "Error": state.error,
            "StartedAt": rfc3339(state.started_at),
            "FinishedAt": rfc3339(state.finished_at),
        },
        "Image": config.image_id,
        "Name": format!("/{}", config.name),
        "RestartCount": state.restart_count,
        "LogPath": c.dir.join(tinydocker_engine::logs::LOG_FILE),
        "Config": {
            "Hostname": spec.hostname(),
            "Env": process.and_then(|p| p.env().clone()).unwrap_or_default(),
            "Cmd": args,
            "Image": config.image,
            "WorkingDir": process.map(|p| p.cwd().clone()),
            "OpenStdin": config.interactive,
            "Tty": tinydocker_engine::spec::terminal(spec),
            "User": origin.user,
        },
        "HostConfig": {
            "Binds": binds.iter().map(|m| format!("{}:{}{}", m.source, m.target, if m.read_only { ":ro" } else { "" })).collect::<Vec<_>>(),
            "NetworkMode": origin.network_mode,
            "PortBindings": bindings,
            "AutoRemove": config.auto_remove,
            // compose reads logs only from a driver that keeps them.
            "LogConfig": {
                "Type": match config.log { tinydocker_engine::LogDriver::None => "none", _ => "json-file" },
                "Config": {},
            },
            "RestartPolicy": {
                "Name": if config.restart.name.is_empty() { "no" } else { config.restart.name.as_str() },
                "MaximumRetryCount": config.restart.maximum_retry_count,
            },
            "Init": config.init,
            "ReadonlyRootfs": spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false),
            "Ulimits": process.and_then(|p| p.rlimits().as_ref()).map(|limits| limits.iter().map(ulimit_json).collect::<Vec<_>>()),
            "CgroupParent": cgroup.rsplit_once('/').map_or("", |(parent, _)| parent),
            "NanoCpus": match (r.cpu_quota, r.cpu_period) { (Some(q), Some(p)) if q > 0 => q as u64 * 1_000_000_000 / p.max(1), _ => 0 },
            "CpuPeriod": r.cpu_period.unwrap_or(0),
            "CpuQuota": r.cpu_quota.unwrap_or(0),
            "CpuShares": r.cpu_shares.unwrap_or(0),
            "CpusetCpus": r.cpuset_cpus.clone().unwrap_or_default(),
            "CpusetMems": r.cpuset_mems.clone().unwrap_or_default(),
            "Memory": r.memory.unwrap_or(0),
            "MemorySwap": r.memory_swap.unwrap_or(0),
            "MemoryReservation": r.memory_reservation.unwrap_or(0),
            "PidsLimit": r.pids_limit.unwrap_or(0),
            "Privileged": origin.privileged,
            "CapAdd": origin.cap_add,
            "CapDrop": origin.cap_drop,
            "SecurityOpt": origin.security_opt,
            "GroupAdd": origin.group_add,
            "Devices": origin.devices.iter().map(|d| json!({
                "PathOnHost": d.host,
                "PathInContainer": d.container,
                "CgroupPermissions": d.permissions,
            })).collect::<Vec<_>>(),
            "Capabilities": capabilities.names(),
            "NoNewPrivileges": process.and_then(|p| p.no_new_privileges()).unwrap_or(false),
            "Seccomp": origin.seccomp,
            "DeviceCgroup": state.device_cgroup,
        },
        "NetworkSettings": {
            "IPAddress": state.net.as_ref().map_or(String::new(), |n| n.ip.to_string()),
            "Gateway": state.net.as_ref().map_or(String::new(), |n| n.gateway.to_string()),
            "Ports": ports,
            "Networks": networks,
        },
        "Mounts": binds.iter().map(|m| json!({
            "Type": "bind",
            "Source": m.source,
            "Destination": m.target,
            "RW": !m.read_only,
        })).chain(anonymous.iter().map(|m| json!({
            "Type": "volume",
            "Name": volume_at(&m.target).map(|v| v.name.as_str()),
            "Source": m.source,
            "Destination": m.target,
            "Driver": "local",
            "RW": !m.read_only,
        }))).collect::<Vec<_>>(),
    });
    // Left out when not set, as docker's omitempty does.
    if !meta.stop_signal.is_empty() {
        value["Config"]["StopSignal"] = json!(meta.stop_signal);
    }
    value["Config"]["Labels"] = json!(meta.labels);
    if !meta.volumes.is_empty() {
        value["Config"]["Volumes"] = meta
            .volumes
            .iter()
            .map(|v| (v.destination.clone(), json!({})))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    // HostConfig.Tmpfs is left out when empty, as docker's omitempty does.
    if !origin.tmpfs.is_empty() {
        value["HostConfig"]["Tmpfs"] = json!(origin.tmpfs);
    }
    if let Some(timeout) = meta.stop_timeout {
        value["Config"]["StopTimeout"] = json!(timeout);
    }
    Ok(value)
}

/// A `process.rlimits` entry as docker's HostConfig.Ulimits shows it
/// (`nofile`, -1 for unlimited).
fn ulimit_json(limit: &oci_spec::runtime::PosixRlimit) -> serde_json::Value {
    let typ = serde_json::to_value(limit.typ()).unwrap_or_default();
    let name = typ.as_str().unwrap_or_default();
    let value = |v: u64| i64::try_from(v).unwrap_or(-1);
    json!({
        "Name": name.trim_start_matches("RLIMIT_").to_lowercase(),
        "Soft": value(limit.soft()),
        "Hard": value(limit.hard()),
    })
}

/// An image as `docker image inspect` shows it.
pub fn image_json(image: &tinydocker_fs::Image) -> serde_json::Value {
    let tags: Vec<&String> = image.names.iter().filter(|n| !n.contains('@')).collect();
    let digests: Vec<&String> = image.names.iter().filter(|n| n.contains('@')).collect();
    json!({
        "Id": image.id,
        "RepoTags": tags,
        "RepoDigests": digests,
        "Created": rfc3339(u128::from(image.created) * 1_000_000_000),
        "Size": image.size,
        "RootFS": { "Type": "layers", "Layers": image.layers },
        "Config": image_config(&image.config),
    })
}

/// `image inspect IMAGE...`: images only.
pub fn inspect_images(engine: &Engine, args: InspectArgs) -> Result<i32> {
    let store = engine.images()?;
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for key in &args.objects {
        let image = match store.resolve(key) {
            Ok(image) => image,
            Err(e) => {
                missing.push(e.to_string());
                continue;
            }
        };
        let names = store
            .list()?
            .into_iter()
            .find(|i| i.id == image.id)
            .map(|i| i.names)
            .unwrap_or_default();
        out.push(image_json(&tinydocker_fs::Image { names, ..image }));
    }
    // As docker: what was found, then a line for each that was not, exit 1.
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("json serialises")
    );
    for line in &missing {
        eprintln!("tinydocker: {line}");
    }
    Ok(if missing.is_empty() { 0 } else { 1 })
}

pub fn inspect(engine: &Engine, args: InspectArgs) -> Result<i32> {
    let store = engine.images()?;
    let mut out = Vec::new();
    let mut missing = false;
    for key in &args.objects {
        // Containers first, then networks, then images, as docker looks.
        if let Ok(c) = engine.container(key) {
            out.push(container_json(&c)?);
        } else if let Some(n) = engine.network(key)? {
            out.push(json!({
                "Name": n.name,
                "Id": n.id,
                "Created": rfc3339(n.created),
                "Driver": "bridge",
                "IPAM": { "Config": [ { "Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string() } ] },
                "Options": { "com.docker.network.bridge.name": n.bridge },
            }));
        } else if let Ok(image) = store.resolve(key) {
            out.push(image_json(&image));
        } else {
            // docker's words; on with the others.
            eprintln!("Error: No such object: {key}");
            missing = true;
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("json serialises")
    );
    // docker's code for a failed inspect (not 125).
    Ok(i32::from(missing))
}

/// An image's config as docker's `inspect` shows it: null for what is
/// not set, ports and volumes as objects of empty objects.
fn image_config(c: &tinydocker_fs::ImageConfig) -> serde_json::Value {
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let set = |v: &Vec<String>| {
        (!v.is_empty()).then(|| {
            v.iter()
                .map(|k| (k.clone(), json!({})))
                .collect::<serde_json::Map<_, _>>()
        })
    };
    json!({
        "User": c.user,
        "ExposedPorts": set(&c.exposed_ports),
        "Env": list(&c.env),
        "Cmd": list(&c.cmd),
        "Volumes": set(&c.volumes),
        "WorkingDir": c.working_dir,
        "Entrypoint": list(&c.entrypoint),
        "Labels": (!c.labels.is_empty()).then(|| c.labels.clone()),
        "StopSignal": (!c.stop_signal.is_empty()).then(|| c.stop_signal.clone()),
    })
}
