//! `POST /containers/create?name=NAME`: docker's container Config,
//! HostConfig and NetworkingConfig turned into the arguments `run` would
//! get, parsed by the same clap definition and made by the same code as
//! `tinydocker create` ([`crate::commands::create_container`]), so every
//! flag is checked one way. A field the command line has no flag for is
//! refused with 400 when it asks for anything but the default, rather
//! than silently dropped.

use clap::Parser;
use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::{json_response, Answer, ApiError, Call};
use crate::cli::RunArgs;

/// `run`'s flags on their own, as clap parses them for the API.
#[derive(Debug, Parser)]
#[command(name = "create", disable_help_flag = true)]
struct CreateCommand {
    #[command(flatten)]
    args: RunArgs,
}

pub async fn create(call: &Call) -> Answer {
    let body = call.json()?;
    let name = call.query.get("name").filter(|n| !n.is_empty());
    let argv = run_argv(name, &body).map_err(ApiError::bad_request)?;
    let image = body["Image"].as_str().unwrap_or_default().to_string();
    // docker's client sets it with `run -i`: stdin ends with the first
    // attacher's (`echo hi | docker run -i busybox cat`).
    let stdin_once = truthy(body.get("StdinOnce"));
    let args = CreateCommand::try_parse_from(std::iter::once("create".to_string()).chain(argv))
        .map_err(|e| ApiError::bad_request(clap_message(&e)))?
        .args;
    let id = call
        .blocking(move |engine| {
            crate::commands::create_container(engine, &args, stdin_once)
                .map_err(|e| api_error(e, &image))
        })
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "Id": id, "Warnings": [] }),
    ))
}

/// clap's error, its first line without the "error: " prefix.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// docker's statuses: a missing image 404 (its client then pulls it and
/// asks again), a name in use 409, bad input 400.
fn api_error(e: anyhow::Error, image: &str) -> ApiError {
    if let Some(tinydocker_fs::Error::NoSuchImage(_)) = e.downcast_ref::<tinydocker_fs::Error>() {
        return ApiError::not_found(format!("No such image: {}", with_tag(image)));
    }
    match e.downcast::<tinydocker_engine::Error>() {
        Ok(tinydocker_engine::Error::Invalid(text)) => ApiError::bad_request(text),
        Ok(err) => ApiError::from(err),
        Err(e) => ApiError::bad_request(format!("{e:#}")),
    }
}

/// `NAME:latest` for a reference without tag or digest, as docker says
/// it in "No such image".
fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// The arguments `run` would get for this body (after `run`, before the
/// image: the flags, then `IMAGE [COMMAND...]`), or why it cannot be.
pub fn run_argv(name: Option<&str>, body: &Value) -> Result<Vec<String>, String> {
    let empty = Map::new();
    let config = body.as_object().ok_or("the body must be a JSON object")?;
    let host = object(body, "HostConfig")?.unwrap_or(&empty);
    let mut argv = Argv::default();
    // Every image is resolved by the store as it is; a pull is the
    // client's (docker's pulls on 404 and asks again).
    argv.flag("--pull", "never");
    if let Some(name) = name {
        argv.flag("--name", name);
    }
    config_flags(config, &mut argv)?;
    host_flags(host, &mut argv)?;
    networking_flags(body, host, &mut argv)?;
    refuse_others(config, CONFIG_FIELDS, "")?;
    refuse_others(host, HOST_FIELDS, "HostConfig.")?;
    let image = config.get("Image").map(string).unwrap_or_default();
    if image.is_empty() {
        return Err("Config.Image is required".into());
    }
    // The entrypoint is one word for `run`: the rest of docker's array
    // goes before the command, as docker runs ENTRYPOINT + CMD.
    let mut command = Vec::new();
    match &config.get("Entrypoint") {
        None | Some(Value::Null) => {}
        Some(entrypoint) => {
            let words = words(entrypoint, "Entrypoint")?;
            match words.split_first() {
                Some((first, rest)) => {
                    argv.flag("--entrypoint", first);
                    command.extend_from_slice(rest);
                }
                None => argv.flag("--entrypoint", ""),
            }
        }
    }
    if let Some(cmd) = config.get("Cmd").filter(|c| !c.is_null()) {
        command.extend(words(cmd, "Cmd")?);
    }
    let mut out = argv.0;
    out.push(image);
    out.extend(command);
    Ok(out)
}

/// Flags in the order they are added.
#[derive(Default)]
struct Argv(Vec<String>);

impl Argv {
    fn flag(&mut self, flag: &str, value: &str) {
        self.0.push(format!("{flag}={value}"));
    }

    fn switch(&mut self, flag: &str, on: bool) {
        if on {
            self.0.push(flag.to_string());
        }
    }

    /// `flag` with the number unless it is 0 (docker's "not set").
    fn number(&mut self, flag: &str, value: Option<&Value>) {
        match value.and_then(Value::as_i64) {
            Some(0) | None => {}
            Some(n) => self.flag(flag, &n.to_string()),
        }
    }

    fn each(&mut self, flag: &str, values: &[String]) {
        for v in values {
            self.flag(flag, v);
        }
    }
}

/// The Config fields mapped or knowingly ignored (the attach and stdin
/// ones are the client's business; a health check is not run).
const CONFIG_FIELDS: &[&str] = &[
    "Image",
    "Cmd",
    "Entrypoint",
    "Env",
    "WorkingDir",
    "User",
    "Labels",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "ExposedPorts",
    "Hostname",
    "StopSignal",
    "StopTimeout",
    "Healthcheck",
    "ArgsEscaped",
    "HostConfig",
    "NetworkingConfig",
];

const HOST_FIELDS: &[&str] = &[
    "Binds",
    "Mounts",
    "PortBindings",
    "PublishAllPorts",
    "RestartPolicy",
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "NanoCpus",
    "CpuShares",
    "CpuPeriod",
    "CpuQuota",
    "CpusetCpus",
    "CpusetMems",
    "PidsLimit",
    "CapAdd",
    "CapDrop",
    "Privileged",
    "SecurityOpt",
    "Devices",
    "NetworkMode",
    "Dns",
    "ExtraHosts",
    "Init",
    "AutoRemove",
    "ReadonlyRootfs",
    "LogConfig",
    "GroupAdd",
    "CgroupParent",
    // docker's default size of /dev/shm, which tinydocker's is.
    "ShmSize",
    "Tmpfs",
    "Ulimits",
];

fn config_flags(config: &Map<String, Value>, argv: &mut Argv) -> Result<(), String> {
    // `-e NAME` would take the service's own value: only NAME=VALUE.
    let env: Vec<String> = strings(config.get("Env"), "Env")?
        .into_iter()
        .filter(|e| e.contains('='))
        .collect();
    argv.each("--env", &env);
    if let Some(dir) = config
        .get("WorkingDir")
        .map(string)
        .filter(|d| !d.is_empty())
    {
        argv.flag("--workdir", &dir);
    }
    if let Some(user) = config.get("User").map(string).filter(|u| !u.is_empty()) {
        argv.flag("--user", &user);
    }
    if let Some(labels) = config.get("Labels").and_then(Value::as_object) {
        for (key, value) in labels {
            argv.flag("--label", &format!("{key}={}", string(value)));
        }
    }
    argv.switch("--tty", truthy(config.get("Tty")));
    argv.switch("--interactive", truthy(config.get("OpenStdin")));
    if let Some(h) = config.get("Hostname").map(string).filter(|h| !h.is_empty()) {
        argv.flag("--hostname", &h);
    }
    if let Some(s) = config
        .get("StopSignal")
        .map(string)
        .filter(|s| !s.is_empty())
    {
        argv.flag("--stop-signal", &s);
    }
    if let Some(t) = config.get("StopTimeout").and_then(Value::as_i64) {
        argv.flag("--stop-timeout", &t.to_string());
    }
    Ok(())
}

fn host_flags(host: &Map<String, Value>, argv: &mut Argv) -> Result<(), String> {
    argv.each("--volume", &strings(host.get("Binds"), "HostConfig.Binds")?);
    mounts(host.get("Mounts"), argv)?;
    if let Some(bindings) = host.get("PortBindings").and_then(Value::as_object) {
        for (port, hosts) in bindings {
            let hosts = hosts.as_array().cloned().unwrap_or_default();
            if hosts.is_empty() {
                argv.flag("--publish", port);
            }
            for h in hosts {
                let (ip, hport) = (string(&h["HostIp"]), string(&h["HostPort"]));
                argv.flag(
                    "--publish",
                    &match (ip.as_str(), hport.as_str()) {
                        ("", "") => port.clone(),
                        ("", hp) => format!("{hp}:{port}"),
                        (ip, hp) => format!("{ip}:{hp}:{port}"),
                    },
                );
            }
        }
    }
    argv.switch("--publish-all", truthy(host.get("PublishAllPorts")));
    if let Some(policy) = host.get("RestartPolicy").filter(|p| !p.is_null()) {
        let name = string(&policy["Name"]);
        match policy["MaximumRetryCount"].as_i64() {
            Some(n) if n > 0 && !name.is_empty() => argv.flag("--restart", &format!("{name}:{n}")),
            _ if !name.is_empty() => argv.flag("--restart", &name),
            _ => {}
        }
    }
    argv.number("--memory", host.get("Memory"));
    argv.number("--memory-swap", host.get("MemorySwap"));
    argv.number("--memory-reservation", host.get("MemoryReservation"));
    if let Some(nanos) = host
        .get("NanoCpus")
        .and_then(Value::as_i64)
        .filter(|n| *n != 0)
    {
        argv.flag("--cpus", &format!("{}", nanos as f64 / 1e9));
    }
    argv.number("--cpu-shares", host.get("CpuShares"));
    argv.number("--cpu-period", host.get("CpuPeriod"));
    argv.number("--cpu-quota", host.get("CpuQuota"));
    for (field, flag) in [
        ("CpusetCpus", "--cpuset-cpus"),
        ("CpusetMems", "--cpuset-mems"),
    ] {
        if let Some(v) = host.get(field).map(string).filter(|v| !v.is_empty()) {
            argv.flag(flag, &v);
        }
    }
    argv.number("--pids-limit", host.get("PidsLimit"));
    argv.each(
        "--cap-add",
        &strings(host.get("CapAdd"), "HostConfig.CapAdd")?,
    );
    argv.each(
        "--cap-drop",
        &strings(host.get("CapDrop"), "HostConfig.CapDrop")?,
    );
    argv.switch("--privileged", truthy(host.get("Privileged")));
    argv.each(
        "--security-opt",
        &strings(host.get("SecurityOpt"), "HostConfig.SecurityOpt")?,
    );
    for device in host
        .get("Devices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let on_host = string(&device["PathOnHost"]);
        let inside = string(&device["PathInContainer"]);
        let perms = string(&device["CgroupPermissions"]);
        let inside = if inside.is_empty() { &on_host } else { &inside };
        let perms = if perms.is_empty() { "rwm" } else { &perms };
        argv.flag("--device", &format!("{on_host}:{inside}:{perms}"));
    }
    argv.each("--dns", &strings(host.get("Dns"), "HostConfig.Dns")?);
    argv.each(
        "--add-host",
        &strings(host.get("ExtraHosts"), "HostConfig.ExtraHosts")?,
    );
    argv.switch("--init", truthy(host.get("Init")));
    argv.switch("--rm", truthy(host.get("AutoRemove")));
    argv.switch("--read-only", truthy(host.get("ReadonlyRootfs")));
    if let Some(tmpfs) = host.get("Tmpfs").and_then(Value::as_object) {
        for (path, options) in tmpfs {
            argv.flag("--tmpfs", &tmpfs_flag(path, &string(options)));
        }
    }
    for u in host
        .get("Ulimits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(soft), Some(hard)) = (u["Soft"].as_i64(), u["Hard"].as_i64()) else {
            return Err(format!(
                "HostConfig.Ulimits: expected Name, Soft and Hard, got {u}"
            ));
        };
        argv.flag("--ulimit", &format!("{}={soft}:{hard}", string(&u["Name"])));
    }
    match host.get("LogConfig").map(|l| string(&l["Type"])).as_deref() {
        None | Some("" | "json-file") => {}
        Some("none") => argv.flag("--log-driver", "none"),
        Some(other) => {
            return Err(format!(
                "HostConfig.LogConfig.Type {other:?} is not supported: json-file or none"
            ))
        }
    }
    argv.each(
        "--group-add",
        &strings(host.get("GroupAdd"), "HostConfig.GroupAdd")?,
    );
    if let Some(parent) = host
        .get("CgroupParent")
        .map(string)
        .filter(|p| !p.is_empty())
    {
        argv.flag("--cgroup-parent", &parent);
    }
    match host.get("ShmSize").and_then(Value::as_i64) {
        None | Some(0) | Some(67_108_864) => Ok(()),
        Some(n) => Err(format!(
            "HostConfig.ShmSize {n} is not supported: /dev/shm is 64 MiB"
        )),
    }
}

/// `--tmpfs PATH[:OPTIONS]`.
fn tmpfs_flag(path: &str, options: &str) -> String {
    if options.is_empty() {
        path.to_string()
    } else {
        format!("{path}:{options}")
    }
}

/// HostConfig.Mounts: binds and volumes as `-v`, tmpfs as `--tmpfs`
/// (with TmpfsOptions' size and mode); others are refused.
fn mounts(mounts: Option<&Value>, argv: &mut Argv) -> Result<(), String> {
    for m in mounts.and_then(Value::as_array).into_iter().flatten() {
        let (kind, source, target) = (
            string(&m["Type"]),
            string(&m["Source"]),
            string(&m["Target"]),
        );
        let mode = if truthy(m.get("ReadOnly")) { ":ro" } else { "" };
        match kind.as_str() {
            "bind" | "volume" if !source.is_empty() => {
                argv.flag("--volume", &format!("{source}:{target}{mode}"))
            }
            "tmpfs" => {
                let options = &m["TmpfsOptions"];
                let mut o = Vec::new();
                if let Some(size) = options["SizeBytes"].as_i64().filter(|s| *s > 0) {
                    o.push(format!("size={size}"));
                }
                if let Some(mode) = options["Mode"].as_u64().filter(|m| *m > 0) {
                    o.push(format!("mode={mode:o}"));
                }
                if truthy(m.get("ReadOnly")) {
                    o.push("ro".into());
                }
                argv.flag("--tmpfs", &tmpfs_flag(&target, &o.join(",")));
            }
            "volume" => {
                return Err(format!(
                    "HostConfig.Mounts: an anonymous volume at {target} is not supported: name the volume"
                ))
            }
            other => {
                return Err(format!(
                    "HostConfig.Mounts: mounts of type {other:?} are not supported (bind and volume are)"
                ))
            }
        }
    }
    Ok(())
}

/// NetworkMode, and the one network of NetworkingConfig.EndpointsConfig
/// with its aliases and address.
fn networking_flags(
    body: &Value,
    host: &Map<String, Value>,
    argv: &mut Argv,
) -> Result<(), String> {
    let mode = host.get("NetworkMode").map(string).unwrap_or_default();
    let mode = match mode.as_str() {
        "" | "default" => None,
        m => Some(m.to_string()),
    };
    let endpoints = body["NetworkingConfig"]["EndpointsConfig"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if endpoints.len() > 1 {
        return Err(
            "Container cannot be connected to network endpoints: only one network at creation"
                .into(),
        );
    }
    let endpoint = endpoints.iter().next();
    // Newer clients (docker 25 on) name the default network's endpoint
    // "default", as NetworkMode says it.
    let named = endpoint.filter(|(n, _)| n.as_str() != "default");
    let network = match (mode, named) {
        (Some(m), Some((n, _))) if m != *n => {
            return Err(format!(
                "NetworkMode {m:?} and NetworkingConfig's network {n:?} differ"
            ))
        }
        (Some(m), _) => Some(m),
        (None, Some((n, _))) => Some(n.clone()),
        (None, None) => None,
    };
    if let Some(network) = network {
        argv.flag("--network", &network);
    }
    if let Some((_, endpoint)) = endpoint {
        argv.each(
            "--network-alias",
            &strings(endpoint.get("Aliases"), "EndpointsConfig.Aliases")?,
        );
        let ip = string(&endpoint["IPAMConfig"]["IPv4Address"]);
        if !ip.is_empty() {
            argv.flag("--ip", &ip);
        }
    }
    Ok(())
}

/// A field of `fields` nobody maps must hold its default (null, false, 0,
/// "", or empty), else the request is refused.
fn refuse_others(object: &Map<String, Value>, known: &[&str], prefix: &str) -> Result<(), String> {
    for (key, value) in object {
        let unset =
            is_default(value) || NOT_ZERO_DEFAULTS.contains(&(key.as_str(), value.as_i64()));
        if !known.contains(&key.as_str()) && !unset {
            return Err(format!(
                "{prefix}{key} is not supported by tinydocker (got {value})"
            ));
        }
    }
    Ok(())
}

/// Fields whose "not set" docker's client spells other than zero.
const NOT_ZERO_DEFAULTS: &[(&str, Option<i64>)] = &[("MemorySwappiness", Some(-1))];

/// docker's zero value. An object of fields (capitalised keys, as
/// `{"Type":"","Config":{}}`) is zero when they all are; a map of the
/// user's keys (`Tmpfs`'s paths, `Sysctls`' names) only when empty.
fn is_default(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_default),
        Value::Object(o) => o.iter().all(|(key, value)| {
            key.starts_with(|c: char| c.is_ascii_uppercase()) && is_default(value)
        }),
    }
}

fn object<'a>(body: &'a Value, key: &str) -> Result<Option<&'a Map<String, Value>>, String> {
    match &body[key] {
        Value::Null => Ok(None),
        Value::Object(o) => Ok(Some(o)),
        other => Err(format!("{key} must be an object, not {other}")),
    }
}

fn string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn truthy(value: Option<&Value>) -> bool {
    value.and_then(Value::as_bool).unwrap_or(false)
}

/// A list of strings (null: none).
fn strings(value: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what}: expected strings, got {v}"))
            })
            .collect(),
        Some(other) => Err(format!("{what}: expected a list of strings, got {other}")),
    }
}

/// docker's "strslice": a list of words, or one string (one word).
fn words(value: &Value, what: &str) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        other => strings(Some(other), what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body docker's client sends for
    /// `docker run -d --name web -m 64m --cpus 1.5 -p 127.0.0.1:8080:80 ...`,
    /// with the zero fields it always sends.
    fn docker_body() -> Value {
        json!({
            "Hostname": "", "Domainname": "", "User": "nobody",
            "AttachStdin": false, "AttachStdout": true, "AttachStderr": true,
            "ExposedPorts": { "80/tcp": {} },
            "Tty": false, "OpenStdin": false, "StdinOnce": false,
            "Env": ["A=1", "UNSET"], "Cmd": ["sh", "-c", "echo hi"], "Image": "busybox",
            "Volumes": {}, "WorkingDir": "/tmp", "Entrypoint": null, "OnBuild": null,
            "Labels": { "team": "api" }, "StopTimeout": 3,
            "HostConfig": {
                "Binds": ["/srv:/data:ro"], "ContainerIDFile": "",
                "LogConfig": { "Type": "", "Config": {} }, "NetworkMode": "default",
                "PortBindings": { "80/tcp": [{ "HostIp": "127.0.0.1", "HostPort": "8080" }] },
                "RestartPolicy": { "Name": "on-failure", "MaximumRetryCount": 2 },
                "AutoRemove": true, "VolumeDriver": "", "VolumesFrom": null,
                "CapAdd": ["NET_ADMIN"], "CapDrop": null, "CgroupnsMode": "",
                "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": null,
                "GroupAdd": null, "IpcMode": "", "Cgroup": "", "Links": null,
                "OomScoreAdj": 0, "PidMode": "", "Privileged": false,
                "PublishAllPorts": false, "ReadonlyRootfs": true, "SecurityOpt": null,
                "UTSMode": "", "UsernsMode": "", "ShmSize": 0, "ConsoleSize": [0, 0],
                "Isolation": "", "CpuShares": 0, "Memory": 67108864, "NanoCpus": 1500000000,
                "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [],
                "CpuPeriod": 0, "CpuQuota": 0, "CpusetCpus": "", "CpusetMems": "",
                "Devices": [], "DeviceCgroupRules": null, "DeviceRequests": null,
                "KernelMemory": 0, "MemoryReservation": 0, "MemorySwap": -1,
                "MemorySwappiness": -1, "OomKillDisable": false, "PidsLimit": 50,
                "Ulimits": null, "MaskedPaths": null, "ReadonlyPaths": null, "Init": null
            },
            "NetworkingConfig": { "EndpointsConfig": {} }
        })
    }

    #[test]
    fn docker_s_body_becomes_run_s_flags() {
        let argv = run_argv(Some("web"), &docker_body()).unwrap();
        assert_eq!(
            argv,
            [
                "--pull=never",
                "--name=web",
                "--env=A=1",
                "--workdir=/tmp",
                "--user=nobody",
                "--label=team=api",
                "--stop-timeout=3",
                "--volume=/srv:/data:ro",
                "--publish=127.0.0.1:8080:80/tcp",
                "--restart=on-failure:2",
                "--memory=67108864",
                "--memory-swap=-1",
                "--cpus=1.5",
                "--pids-limit=50",
                "--cap-add=NET_ADMIN",
                "--rm",
                "--read-only",
                "busybox",
                "sh",
                "-c",
                "echo hi",
            ]
        );
        // Parsed by run's own definition.
        let args = CreateCommand::try_parse_from(std::iter::once("create".to_string()).chain(argv))
            .unwrap()
            .args;
        assert_eq!(args.name.as_deref(), Some("web"));
        assert!(args.rm && args.read_only);
        assert_eq!(args.command, ["sh", "-c", "echo hi"]);
    }

    #[test]
    fn entrypoints_networks_and_mounts() {
        let body = json!({
            "Image": "busybox", "Entrypoint": ["/bin/sh", "-c"], "Cmd": "date",
            "Tty": true, "OpenStdin": true,
            "HostConfig": {
                "NetworkMode": "front",
                "Mounts": [
                    { "Type": "volume", "Source": "db", "Target": "/db", "ReadOnly": true },
                    { "Type": "bind", "Source": "/srv", "Target": "/srv" }
                ],
                "LogConfig": { "Type": "none" },
                "Devices": [{ "PathOnHost": "/dev/null", "PathInContainer": "", "CgroupPermissions": "" }],
                "Init": true
            },
            "NetworkingConfig": { "EndpointsConfig": { "front": {
                "Aliases": ["web", "www"], "IPAMConfig": { "IPv4Address": "10.1.0.5" } } } }
        });
        assert_eq!(
            run_argv(None, &body).unwrap(),
            [
                "--pull=never",
                "--tty",
                "--interactive",
                "--volume=db:/db:ro",
                "--volume=/srv:/srv",
                "--device=/dev/null:/dev/null:rwm",
                "--init",
                "--log-driver=none",
                "--network=front",
                "--network-alias=web",
                "--network-alias=www",
                "--ip=10.1.0.5",
                "--entrypoint=/bin/sh",
                "busybox",
                "-c",
                "date",
            ]
        );
        let limits = json!({
            "Image": "busybox",
            "HostConfig": {
                "Tmpfs": { "/run": "", "/cache": "size=1m,exec" },
                "Ulimits": [{ "Name": "nofile", "Soft": 10, "Hard": 20 }],
                "Mounts": [{ "Type": "tmpfs", "Target": "/t", "ReadOnly": true,
                    "TmpfsOptions": { "SizeBytes": 4096, "Mode": 448 } }]
            }
        });
        assert_eq!(
            run_argv(None, &limits).unwrap(),
            [
                "--pull=never",
                "--tmpfs=/t:size=4096,mode=700,ro",
                "--tmpfs=/cache:size=1m,exec",
                "--tmpfs=/run",
                "--ulimit=nofile=10:20",
                "busybox",
            ]
        );
        // docker 25 and later name the default network's endpoint.
        let default = json!({ "Image": "busybox", "HostConfig": { "NetworkMode": "default" },
            "NetworkingConfig": { "EndpointsConfig": { "default": { "Aliases": null } } } });
        assert_eq!(
            run_argv(None, &default).unwrap(),
            ["--pull=never", "busybox"]
        );
        // An empty Entrypoint clears the image's.
        let cleared = run_argv(None, &json!({ "Image": "busybox", "Entrypoint": [] })).unwrap();
        assert_eq!(cleared, ["--pull=never", "--entrypoint=", "busybox"]);
    }

    #[test]
    fn what_cannot_be_honoured_is_refused() {
        for (body, word) in [
            (
                json!({ "Image": "busybox", "HostConfig": { "Sysctls": { "a": "1" } } }),
                "Sysctls",
            ),
            (
                json!({ "Image": "busybox", "HostConfig": { "Ulimits": [{ "Name": "nofile" }] } }),
                "Ulimits",
            ),
            (
                json!({ "Image": "busybox", "HostConfig": { "Mounts": [{ "Type": "npipe", "Target": "/t" }] } }),
                "npipe",
            ),
            (
                json!({ "Image": "busybox", "HostConfig": { "LogConfig": { "Type": "syslog" } } }),
                "syslog",
            ),
            (
                json!({ "Image": "busybox", "HostConfig": { "OomKillDisable": true } }),
                "OomKillDisable",
            ),
            (
                json!({ "Image": "busybox", "HostConfig": { "ShmSize": 1024 } }),
                "ShmSize",
            ),
            (
                json!({ "Image": "busybox", "Domainname": "example.com" }),
                "Domainname",
            ),
            (
                json!({ "Image": "busybox", "Volumes": { "/data": {} } }),
                "Volumes",
            ),
            (
                json!({ "Image": "busybox", "HostConfig": { "DnsSearch": ["x"] } }),
                "DnsSearch",
            ),
            (json!({ "Cmd": ["true"] }), "Image"),
            (json!([1]), "object"),
        ] {
            let err = run_argv(None, &body).unwrap_err();
            assert!(err.contains(word), "{body}: {err}");
        }
    }
}
