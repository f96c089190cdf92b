//! `tinydocker inspect NAME|ID...`: containers, networks and images as JSON,
//! with docker's field names.

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

use crate::cli::InspectArgs;
use crate::commands::ps::status_word;
use crate::human::rfc3339;
use crate::networks::Networks;
use crate::security::SeccompChoice;
use crate::state::{Container, Observed, Root};

fn container(c: &Container) -> Value {
    let observed = c.observe();
    let config = &c.config;
    let state = &c.state;
    let running = matches!(observed, Observed::Running { .. });
    let r = &config.resources;
    let ports: serde_json::Map<String, Value> = config
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
    let networks: serde_json::Map<String, Value> = config
        .net
        .iter()
        .map(|n| {
            (
                n.network.clone(),
                json!({ "IPAddress": n.ip.to_string(), "IPPrefixLen": n.prefix, "Gateway": n.gateway.to_string(), "HostInterface": n.host_if }),
            )
        })
        .collect();
    let sec = &config.security;
    json!({
        "Id": config.id,
        "Created": rfc3339(config.created),
        "Path": config.cmd.first(),
        "Args": config.cmd.get(1..).unwrap_or_default(),
        "State": {
            "Status": status_word(observed),
            "Running": running,
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
        "LogPath": c.dir.join(crate::logs::LOG_FILE),
        "Config": {
            "Hostname": config.hostname,
            "Env": config.env,
            "Cmd": config.cmd,
            "Image": config.image,
            "WorkingDir": config.workdir,
            "OpenStdin": config.interactive,
            "Tty": config.tty,
            "User": sec.user,
        },
        "HostConfig": {
            "Binds": config.volumes.iter().map(|v| format!("{}:{}{}", v.source.display(), v.target, if v.read_only { ":ro" } else { "" })).collect::<Vec<_>>(),
            "NetworkMode": config.network,
            "PortBindings": ports,
            "AutoRemove": config.auto_remove,
            "RestartPolicy": {
                "Name": if config.restart.name.is_empty() { "no" } else { config.restart.name.as_str() },
                "MaximumRetryCount": config.restart.maximum_retry_count,
            },
            "Init": config.init,
            "ReadonlyRootfs": config.read_only,
            "CgroupParent": config.cgroup.rsplit_once('/').map_or("", |(parent, _)| parent),
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
            "Privileged": sec.privileged,
            "CapAdd": sec.cap_add,
            "CapDrop": sec.cap_drop,
            "SecurityOpt": sec.security_opt,
            "GroupAdd": sec.group_add,
            "Devices": sec.devices.iter().map(|d| json!({
                "PathOnHost": d.host,
                "PathInContainer": d.container,
                "CgroupPermissions": d.permissions,
            })).collect::<Vec<_>>(),
            "Capabilities": sec.capabilities,
            "NoNewPrivileges": sec.no_new_privileges,
            "Seccomp": match &sec.seccomp {
                SeccompChoice::Default => "default".to_string(),
                SeccompChoice::Unconfined => "unconfined".to_string(),
                SeccompChoice::Profile(p) => p.display().to_string(),
            },
            "DeviceCgroup": sec.device_cgroup,
        },
        "NetworkSettings": {
            "IPAddress": config.net.as_ref().map_or(String::new(), |n| n.ip.to_string()),
            "Gateway": config.net.as_ref().map_or(String::new(), |n| n.gateway.to_string()),
            "Ports": ports,
            "Networks": networks,
        },
        "Mounts": config.volumes.iter().map(|v| json!({
            "Type": "bind",
            "Source": v.source,
            "Destination": v.target,
            "RW": !v.read_only,
        })).collect::<Vec<_>>(),
    })
}

pub fn inspect(root: &Root, args: InspectArgs) -> Result<i32> {
    let networks = Networks::new(&root.path);
    let store = root.images()?;
    let mut out = Vec::new();
    for key in &args.objects {
        // Containers first, then networks, then images, as docker looks.
        if let Ok(c) = root.find(key) {
            out.push(container(&c));
        } else if let Some(n) = networks.get(key)? {
            out.push(json!({
                "Name": n.name,
                "Id": n.id,
                "Created": rfc3339(n.created),
                "Driver": "bridge",
                "IPAM": { "Config": [ { "Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string() } ] },
                "Options": { "com.docker.network.bridge.name": n.bridge },
            }));
        } else if let Ok(image) = store.resolve(key) {
            out.push(json!({
                "Id": image.id,
                "Created": rfc3339(u128::from(image.created) * 1_000_000_000),
                "Size": image.size,
                "RootFS": { "Type": "layers", "Layers": image.layers },
                "Config": { "Env": image.config.env, "Cmd": image.config.cmd, "WorkingDir": image.config.working_dir },
            }));
        } else {
            return Err(anyhow!("No such object: {key}"));
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("json serialises")
    );
    Ok(0)
}
