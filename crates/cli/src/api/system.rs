//! `/_ping`, `/version`, `/info`, `/system/df`.

use hyper::{Response, StatusCode};
use serde_json::json;

use super::{json_response, Answer, Call, API_VERSION, MIN_API_VERSION};

/// `OK`, with the headers docker's clients read to pick the API version.
pub fn ping(_call: &Call) -> Answer {
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Api-Version", API_VERSION)
        .header("Docker-Experimental", "false")
        .header("Ostype", "linux")
        .header("Builder-Version", "1")
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(super::full("OK"))
        .expect("a response of valid parts"))
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub async fn version(_call: &Call) -> Answer {
    let version = env!("CARGO_PKG_VERSION");
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "Platform": { "Name": "tinydocker" },
            "Components": [{
                "Name": "Engine",
                "Version": version,
                "Details": {
                    "ApiVersion": API_VERSION,
                    "MinAPIVersion": MIN_API_VERSION,
                    "Os": "linux",
                    "Arch": go_arch(),
                    "KernelVersion": kernel(),
                },
            }],
            "Version": version,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "",
            "Os": "linux",
            "Arch": go_arch(),
            "KernelVersion": kernel(),
            "BuildTime": "",
        }),
    ))
}

pub async fn info(call: &Call) -> Answer {
    let (containers, images, root) = call
        .blocking(|engine| {
            let counts = engine.containers_map(|c| Some(c.observe()))?;
            let images = engine.images()?.list()?.len();
            Ok((counts, images, engine.root().to_path_buf()))
        })
        .await?;
    use tinydocker_engine::Observed;
    let running = containers
        .iter()
        .filter(|o| matches!(o, Observed::Running { .. }))
        .count();
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem_total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    let cgroup_version = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "ID": "",
            "Containers": containers.len(),
            "ContainersRunning": running,
            "ContainersPaused": 0,
            "ContainersStopped": containers.len() - running,
            "Images": images,
            "Driver": "overlay2",
            "DriverStatus": [],
            "DockerRootDir": root,
            "Plugins": { "Volume": ["local"], "Network": ["bridge", "host", "null"], "Log": ["json-file"] },
            "MemoryLimit": true,
            "SwapLimit": true,
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "CPUSet": true,
            "PidsLimit": true,
            "IPv4Forwarding": true,
            "Debug": false,
            "NFd": 0,
            "NGoroutines": 0,
            "SystemTime": chrono_now(),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cgroup_version,
            "KernelVersion": kernel(),
            "OperatingSystem": os_name(),
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
            "NCPU": cpus,
            "MemTotal": mem_total,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": { "IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": [] },
            "Name": hostname,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": env!("CARGO_PKG_VERSION"),
            "Runtimes": { "tinydocker": { "path": "tinydocker" } },
            "DefaultRuntime": "tinydocker",
            "Swarm": { "LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "", "ControlAvailable": false, "Error": "", "RemoteManagers": null },
            "LiveRestoreEnabled": true,
            "Isolation": "",
            "InitBinary": "",
            "SecurityOptions": ["name=seccomp,profile=default"],
            "Warnings": [],
        }),
    ))
}

fn chrono_now() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    crate::human::rfc3339(nanos)
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".into())
}

/// `GET /system/df`: what images, containers and volumes take on disk.
pub async fn df(call: &Call) -> Answer {
    let usage = call.blocking(|engine| Ok(engine.disk_usage()?)).await?;
    let images: Vec<serde_json::Value> = usage
        .images
        .iter()
        .map(|i| {
            let mut row = super::images::summary(&i.image);
            row["Size"] = json!(i.size);
            row["VirtualSize"] = json!(i.size);
            row["SharedSize"] = json!(i.shared_size);
            row["Containers"] = json!(i.containers);
            row
        })
        .collect();
    let containers: Vec<serde_json::Value> = usage
        .containers
        .iter()
        .map(|c| {
            let summary = super::containers::summary(&c.container, c.container.observe());
            super::containers::with_sizes(summary, c.size_rw, c.size_root_fs)
        })
        .collect();
    let volumes: Vec<serde_json::Value> = usage
        .volumes
        .iter()
        .map(|v| {
            let mut row = crate::commands::volume_json(&v.info);
            row["UsageData"] = json!({ "Size": v.size, "RefCount": v.ref_count });
            row
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "LayersSize": usage.layers_size,
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }),
    ))
}
