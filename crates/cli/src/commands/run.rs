//! `tinydocker run`: check every flag (nothing is made on bad input),
//! resolve the image and the user, build the container's spec
//! ([`crate::spec::build`]), and have the engine run it: in the
//! foreground, supervised by this process (signals forwarded, or the
//! container's terminal relayed), or detached.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use tinydocker_engine::{image_file, Engine, RestartPolicy, Stdio, DEFAULT_NETWORK};
use tinydocker_net::PortMapping;
use tinydocker_ns::{pty, SignalForwarder};
use tinydocker_security::{caps, seccomp, user};

use crate::cli::RunArgs;
use crate::limits::{self, binary_size, Host};
use crate::security;
use crate::spec::{self, NamedVolume, Network, Request, Volume};

pub(crate) fn parse_env_entry(entry: &str, out: &mut Vec<String>) -> Result<()> {
    let (key, value) = match entry.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (entry, None),
    };
    if key.is_empty() {
        bail!("invalid environment variable: {entry:?}: the name is empty");
    }
    if key.chars().any(char::is_whitespace) {
        bail!("invalid environment variable: {entry:?}: the name contains whitespace");
    }
    match value {
        Some(_) => out.push(entry.to_string()),
        // `-e NAME` passes the host's value, and nothing when it has none.
        None => {
            if let Ok(v) = std::env::var(key) {
                out.push(format!("{key}={v}"));
            }
        }
    }
    Ok(())
}

/// Volumes made for a container, removed on drop unless `kept` or the
/// container's record exists (a start that failed after it was written):
/// its anonymous ones, and the named ones it made unless another
/// container's record names them by then.
pub(crate) struct MadeVolumes<'a> {
    engine: &'a Engine,
    id: String,
    names: Vec<String>,
    named: Vec<String>,
    /// Set once the container's record names them.
    pub kept: bool,
}

impl Drop for MadeVolumes<'_> {
    fn drop(&mut self) {
        let made = !self.names.is_empty() || !self.named.is_empty();
        if !self.kept && made && self.engine.container(&self.id).is_err() {
            self.engine.discard_volumes(&self.names);
            self.engine.discard_unused_volumes(&self.named);
        }
    }
}

/// Each `-v NAME:PATH`: the volume, made on first use and filled with
/// what the image has at PATH while empty, bound in.
fn named_volumes(
    engine: &Engine,
    hold: &mut tinydocker_engine::ImageHold,
    request: &mut Request,
    layers: &[std::path::PathBuf],
    made: &mut MadeVolumes,
) -> Result<()> {
    for v in std::mem::take(&mut request.named) {
        let (source, new) = engine.use_named_volume(hold, &v.name, layers, &v.target)?;
        if new {
            made.named.push(v.name.clone());
        }
        request.volumes.push(Volume {
            source,
            target: v.target.clone(),
            read_only: v.read_only,
        });
        request.named_volumes.push(tinydocker_engine::VolumeMount {
            name: v.name,
            destination: v.target,
        });
    }
    Ok(())
}

/// An anonymous volume for each path of the image's Volumes that no `-v`
/// mounts on, filled with what the image has there.
fn anonymous_volumes(
    engine: &Engine,
    hold: &mut tinydocker_engine::ImageHold,
    request: &mut Request,
    paths: &[String],
    layers: &[std::path::PathBuf],
    made: &mut MadeVolumes,
) -> Result<()> {
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    for path in paths {
        if request.volumes.iter().any(|v| same(&v.target, path))
            || request
                .anonymous_volumes
                .iter()
                .any(|v| same(&v.destination, path))
        {
            continue;
        }
        let name = engine
            .create_volume(hold, layers, path)
            .with_context(|| format!("make the volume for {path}"))?;
        made.names.push(name.clone());
        request.volumes.push(Volume {
            source: engine.volume_path(&name),
            target: path.clone(),
            read_only: false,
        });
        request
            .anonymous_volumes
            .push(tinydocker_engine::VolumeMount {
                name,
                destination: path.clone(),
            });
    }
    Ok(())
}

/// `KEY=VALUE`, or `KEY` (an empty value), as docker's `--label`.
fn add_label(entry: &str, labels: &mut BTreeMap<String, String>) -> Result<()> {
    let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
    if key.is_empty() {
        bail!("invalid label {entry:?}: empty name");
    }
    labels.insert(key.to_string(), value.to_string());
    Ok(())
}

/// A `-v`: a bind of a host path, or a named volume.
#[derive(Debug)]
enum VolumeArg {
    Bind(Volume),
    Named(NamedVolume),
}

fn parse_volume(spec: &str) -> Result<VolumeArg> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, target, mode) = match parts.as_slice() {
        [h, t] => (*h, *t, "rw"),
        [h, t, m] => (*h, *t, *m),
        _ => bail!("invalid volume specification: {spec:?}: expected HOST:CONTAINER[:ro|rw]"),
    };
    let read_only = match mode {
        "ro" => true,
        "rw" => false,
        other => bail!(
            "invalid volume specification: {spec:?}: unknown mode {other:?} (expected ro or rw)"
        ),
    };
    if !host.contains('/') && !tinydocker_engine::valid_volume_name(host) {
        bail!("create {host}: {host:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path");
    }
    if !host.starts_with('/') && host.contains('/') {
        bail!("invalid volume specification: {spec:?}: the host path {host:?} must be absolute");
    }
    if !target.starts_with('/') {
        bail!("invalid volume specification: {spec:?}: the container path {target:?} must be absolute");
    }
    if target.split('/').all(|c| c.is_empty() || c == ".") {
        bail!("invalid volume specification: {spec:?}: the container path cannot be '/'");
    }
    if target.split('/').any(|c| c == "..") {
        bail!("invalid volume specification: {spec:?}: the container path may not contain '..'");
    }
    if !host.starts_with('/') {
        return Ok(VolumeArg::Named(NamedVolume {
            name: host.to_string(),
            target: target.to_string(),
            read_only,
        }));
    }
    let source = fs::canonicalize(host).map_err(|_| {
        anyhow!("invalid mount config for type \"bind\": bind source path does not exist: {host}")
    })?;
    Ok(VolumeArg::Bind(Volume {
        source,
        target: target.to_string(),
        read_only,
    }))
}

fn validate_hostname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !ok {
        bail!("invalid hostname {name:?}: expected letters, digits, '-' and '.', at most 64 characters");
    }
    Ok(())
}

/// `--pull`: `always`, or `missing` (the default) when the store has no
/// such image, fetches it first (docker's lines on stderr); `never` does
/// not. Before the image is held: a pull writes the store.
fn pull_as_asked(
    engine: &Engine,
    images: &tinydocker_fs::ImageStore,
    args: &RunArgs,
) -> Result<()> {
    let missing = matches!(
        images.resolve(&args.image),
        Err(tinydocker_fs::Error::NoSuchImage(_))
    );
    let pull = match args.pull.as_str() {
        "always" => true,
        "missing" => missing,
        _ => false,
    };
    if !pull {
        return Ok(());
    }
    if missing {
        eprintln!("Unable to find image '{}' locally", with_tag(&args.image));
    }
    let pull = crate::cli::PullArgs {
        platform: args.platform.clone(),
        quiet: false,
        all_tags: false,
        max_concurrent_downloads: 3,
        reference: args.image.clone(),
    };
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    super::pull::pull_with(engine, &pull, std::io::stderr(), false, terminal)
}

/// `-P`: each port the image exposes (`PORT[/PROTO]`) not already
/// published with `-p`, on a free host port of the kernel's choosing.
fn publish_all(request: &mut spec::Request, exposed: &[String]) -> Result<()> {
    use tinydocker_net::Proto;
    for entry in exposed {
        let (port, proto) = entry.split_once('/').unwrap_or((entry, "tcp"));
        let container_port: u16 = port
            .parse()
            .map_err(|_| anyhow!("the image exposes {entry:?}: not PORT[/tcp|/udp]"))?;
        let proto = match proto {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            // docker publishes sctp too; tinydocker's NAT is tcp and udp.
            _ => continue,
        };
        if request
            .ports
            .iter()
            .any(|p| p.container_port == container_port && p.proto == proto)
        {
            continue;
        }
        if !matches!(request.network, spec::Network::Bridge(_)) {
            bail!(
                "-P needs a bridge network: with --network {} there is nothing to publish through",
                request.network_mode
            );
        }
        let host_port = free_port(proto)?;
        request.ports.push(PortMapping {
            host_ip: None,
            host_port,
            container_port,
            proto,
        });
    }
    Ok(())
}

/// A port the kernel says is free now (bound to port 0, then let go).
fn free_port(proto: tinydocker_net::Proto) -> Result<u16> {
    let addr = (Ipv4Addr::UNSPECIFIED, 0);
    let port = match proto {
        tinydocker_net::Proto::Tcp => std::net::TcpListener::bind(addr)?.local_addr()?.port(),
        tinydocker_net::Proto::Udp => std::net::UdpSocket::bind(addr)?.local_addr()?.port(),
    };
    Ok(port)
}

/// `NAME:latest` for a `NAME` without tag or digest, as docker says it.
fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// Every flag, checked. Building this touches nothing.
fn validate(engine: &Engine, args: &RunArgs) -> Result<Request> {
    if let Some(name) = &args.name {
        tinydocker_engine::validate_name(name)?;
    }
    if args.image.parse::<tinydocker_fs::Reference>().is_err()
        && !args.image.bytes().all(|b| b.is_ascii_hexdigit())
    {
        // Let the parser say what is wrong.
        args.image.parse::<tinydocker_fs::Reference>()?;
    }
    let mut env = Vec::new();
    for file in &args.env_file {
        let text = fs::read_to_string(file)
            .with_context(|| format!("open env file {}", file.display()))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            parse_env_entry(line, &mut env)
                .with_context(|| format!("env file {}", file.display()))?;
        }
    }
    for entry in &args.env {
        parse_env_entry(entry, &mut env)?;
    }
    if let Some(dir) = &args.workdir {
        if !dir.starts_with('/') {
            bail!("the working directory {dir:?} is invalid, it needs to be an absolute path");
        }
    }
    let (mut volumes, mut named) = (Vec::new(), Vec::new());
    for v in &args.volume {
        match parse_volume(v)? {
            VolumeArg::Bind(bind) => volumes.push(bind),
            VolumeArg::Named(volume) => named.push(volume),
        }
    }
    if let Some(h) = &args.hostname {
        validate_hostname(h)?;
    }
    let network = match args.network.as_str() {
        "none" => Network::None,
        "host" => Network::Host,
        name => {
            if name != DEFAULT_NETWORK && engine.network(name)?.is_none() {
                bail!("network {name} not found");
            }
            Network::Bridge(name.to_string())
        }
    };
    let bridged = matches!(network, Network::Bridge(_));
    // docker's: aliases are names on a user network's name server.
    if !args.network_alias.is_empty() && (!bridged || args.network == DEFAULT_NETWORK) {
        bail!("network-scoped alias is supported only for containers in user defined networks");
    }
    let ip = match &args.ip {
        Some(text) => {
            let ip: Ipv4Addr = text
                .parse()
                .map_err(|_| anyhow!("--ip {text:?}: expected an IPv4 address"))?;
            if !bridged {
                bail!(
                    "--ip needs a bridge network, not --network {}",
                    args.network
                );
            }
            Some(ip)
        }
        None => None,
    };
    let mut ports: Vec<PortMapping> = Vec::new();
    for text in &args.publish {
        let mapping: PortMapping = text.parse()?;
        if let Some(other) = ports.iter().find(|p| p.conflicts(&mapping)) {
            bail!(
                "-p {text}: host port {} is published twice ({other})",
                mapping.host_port
            );
        }
        ports.push(mapping);
    }
    if !ports.is_empty() && !bridged {
        bail!(
            "-p needs a bridge network: with --network {} there is nothing to publish through",
            args.network
        );
    }
    let dns = args
        .dns
        .iter()
        .map(|d| {
            d.parse::<Ipv4Addr>()
                .map_err(|_| anyhow!("--dns {d:?}: expected an IPv4 address"))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut add_hosts = Vec::new();
    for entry in &args.add_host {
        let Some((name, addr)) = entry.split_once(':') else {
            bail!("--add-host {entry:?}: expected NAME:IP");
        };
        validate_hostname(name)
            .map_err(|_| anyhow!("--add-host {entry:?}: {name:?} is not a valid host name"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| anyhow!("--add-host {entry:?}: {addr:?} is not an IPv4 address"))?;
        add_hosts.push((name.to_string(), addr));
    }
    // The host is only asked when a limit needs checking against it.
    let resources = if args.limits.any() {
        args.limits
            .resources(&Host::detect()?, &Default::default())?
    } else {
        Default::default()
    };
    let cgroup_parent = match &args.cgroup_parent {
        Some(parent) => limits::cgroup_parent(parent)?,
        None => tinydocker_engine::DEFAULT_CGROUP_PARENT.to_string(),
    };
    let security = security::check(&args.security, caps::current_bounding())?;
    if let Some(signal) = &args.stop_signal {
        tinydocker_engine::parse_signal(signal)?;
    }
    let stop_timeout = args
        .stop_timeout
        .as_deref()
        .map(|t| {
            super::kill::grace_period(t)
                .map(|d| d.as_secs())
                .map_err(|_| {
                    anyhow!("--stop-timeout {t:?}: expected a number of seconds, 0 or more")
                })
        })
        .transpose()?;
    let mut labels = BTreeMap::new();
    for file in &args.label_file {
        let text = fs::read_to_string(file)
            .with_context(|| format!("open label file {}", file.display()))?;
        for line in text.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                add_label(line, &mut labels)
                    .with_context(|| format!("label file {}", file.display()))?;
            }
        }
    }
    for label in &args.label {
        add_label(label, &mut labels)?;
    }
    let restart = RestartPolicy::parse(&args.restart)?;
    let mut tmpfs: Vec<spec::Tmpfs> = Vec::new();
    for arg in &args.tmpfs {
        let t = spec::options::parse_tmpfs(arg)?;
        if tmpfs.iter().any(|o| o.target == t.target) {
            bail!("Duplicate mount point: {}", t.target);
        }
        tmpfs.push(t);
    }
    if !restart.is_none() && args.rm {
        bail!("conflicting options: --restart and --rm");
    }
    Ok(Request {
        name: args.name.clone(),
        image: args.image.clone(),
        command: args.command.clone(),
        entrypoint: args.entrypoint.clone(),
        env,
        workdir: args.workdir.clone(),
        volumes,
        hostname: args.hostname.clone(),
        read_only: args.read_only,
        network,
        network_mode: args.network.clone(),
        ip,
        aliases: args.network_alias.clone(),
        ports,
        dns,
        add_hosts,
        resources,
        cgroup_parent,
        security,
        restart,
        auto_remove: args.rm,
        interactive: args.interactive,
        tty: args.tty,
        init: args.init,
        stop_signal: args.stop_signal.clone().unwrap_or_default(),
        stop_timeout,
        labels,
        anonymous_volumes: Vec::new(),
        named,
        named_volumes: Vec::new(),
        tmpfs,
        ulimits: spec::options::ulimits(&args.ulimit)?,
        log: match args.log_driver.as_str() {
            "none" => tinydocker_engine::LogDriver::None,
            _ => tinydocker_engine::LogDriver::JsonFile,
        },
    })
}

/// A container made ready from `run`'s flags, not made yet: its spec and
/// configuration, the hold on its image, and the volumes made for it
/// (removed again on drop unless kept).
pub(crate) struct Prepared<'a> {
    pub spec: tinydocker_engine::Spec,
    pub config: tinydocker_engine::ContainerConfig,
    pub hold: tinydocker_engine::ImageHold,
    pub made: MadeVolumes<'a>,
}

/// Everything `run` and `create` do before the engine makes the
/// container: check the flags, pull the image as `--pull` says, resolve
/// it and the user, make the volumes, and build the spec.
pub(crate) fn prepare<'a>(engine: &'a Engine, args: &RunArgs) -> Result<Prepared<'a>> {
    let mut request = validate(engine, args)?;
    let images = engine.images()?;
    pull_as_asked(engine, &images, args)?;
    // No `rmi` takes the image away until the record names it.
    let mut hold = engine.hold_images()?;
    let image = images.resolve(&args.image)?;
    if args.publish_all {
        publish_all(&mut request, &image.config.exposed_ports)?;
    }
    if request.stop_signal.is_empty() {
        request.stop_signal = image.config.stop_signal.clone();
    }
    // The user's labels over the image's.
    for (key, value) in &image.config.labels {
        request
            .labels
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
    let mut layers = images.layer_paths(&image);
    let id = engine.new_id();
    // Removed again unless the container's record comes to name them.
    let mut made = MadeVolumes {
        engine,
        id: id.clone(),
        names: Vec::new(),
        named: Vec::new(),
        kept: false,
    };
    named_volumes(engine, &mut hold, &mut request, &layers, &mut made)?;
    anonymous_volumes(
        engine,
        &mut hold,
        &mut request,
        &image.config.volumes,
        &layers,
        &mut made,
    )?;
    let passwd = image_file(&layers, "passwd");
    let group = image_file(&layers, "group");
    // `-u`, else the image's USER.
    let wanted_user = if request.security.user.is_empty() {
        &image.config.user
    } else {
        &request.security.user
    };
    let user = user::resolve(wanted_user, &request.security.group_add, &passwd, &group)?;
    layers.push(images.init_layer()?);
    let mut devices = Vec::new();
    if request.security.privileged {
        tinydocker_engine::spec::defaults::host_devices(Path::new("/dev"), &mut devices);
    }
    let host = spec::Host {
        hostname: tinydocker_engine::host_hostname(),
        devices,
        seccomp: seccomp::Host::current()?,
        mountpoint: engine.root().join("rootfs"),
    };
    let image = spec::Image {
        id: image.id.clone(),
        entrypoint: image.config.entrypoint.clone(),
        cmd: image.config.cmd.clone(),
        env: image.config.env.clone(),
        working_dir: image.config.working_dir.clone(),
        layers,
    };
    let (spec, config) = spec::build(&id, &request, &image, &user, &host)?;
    Ok(Prepared {
        spec,
        config,
        hold,
        made,
    })
}

pub fn run(engine: &Engine, args: RunArgs) -> Result<i32> {
    // Blocked from the start, so an INT or TERM during setup cannot kill this
    // process half-way (it is forwarded to the container once that runs),
    // and never unblocked: see SignalForwarder::keep_blocked.
    let signals = SignalForwarder::block()?;
    let result = run_blocked(engine, args, &signals);
    signals.keep_blocked();
    result
}

fn run_blocked(engine: &Engine, args: RunArgs, signals: &SignalForwarder) -> Result<i32> {
    let stdin = std::io::stdin();
    if !args.detach && args.tty && args.interactive && pty::window_size(stdin.as_fd()).is_err() {
        bail!("the input device is not a TTY");
    }
    let Prepared {
        spec,
        config,
        hold,
        mut made,
    } = prepare(engine, &args)?;

    if args.detach {
        let id = engine.run_detached(spec, config, hold)?;
        made.kept = true;
        println!("{id}");
        return Ok(0);
    }
    // The user's terminal matters only with -t (no ioctls otherwise).
    let user_terminal = if args.tty { pty::user_terminal() } else { None };
    let size = user_terminal.and_then(|t| pty::window_size(t).ok());
    let mut launched = engine.run(
        spec,
        config,
        hold,
        Stdio {
            tty_size: size,
            ..Stdio::default()
        },
    )?;
    made.kept = true;
    let status = match &launched.terminal {
        Some(master) => {
            // The user's keys go to the program as they are (Ctrl-C
            // included) while it runs; the terminal is restored after.
            let raw = if args.interactive {
                Some(pty::RawMode::enter(stdin.as_fd())?)
            } else {
                None
            };
            let stdout = std::io::stdout();
            let user = pty::UserSide {
                input: args.interactive.then(|| stdin.as_fd()),
                output: stdout.as_fd(),
                terminal: user_terminal,
            };
            let status = pty::relay(master.as_fd(), &user, signals, &mut launched.init);
            drop(raw);
            status?
        }
        None => signals.supervise(&mut launched.init)?,
    };
    let exit = engine.finish(&mut launched, status)?;
    if exit.oom_killed {
        let limit = match exit.memory_limit {
            Some(bytes) => format!("its memory limit of {}", binary_size(bytes as u64)),
            None => "no memory limit: the host ran out of memory".to_string(),
        };
        eprintln!(
            "tinydocker: container {} was killed by the kernel's OOM killer ({limit})",
            launched.container.config.name
        );
    }
    Ok(exit.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_entries() {
        let mut env = Vec::new();
        parse_env_entry("A=1", &mut env).unwrap();
        parse_env_entry("B=", &mut env).unwrap();
        parse_env_entry("C=x=y", &mut env).unwrap();
        std::env::set_var("TINYDOCKER_TEST_PASS", "host");
        parse_env_entry("TINYDOCKER_TEST_PASS", &mut env).unwrap();
        parse_env_entry("TINYDOCKER_TEST_UNSET_XYZ", &mut env).unwrap();
        assert_eq!(env, ["A=1", "B=", "C=x=y", "TINYDOCKER_TEST_PASS=host"]);
        assert!(parse_env_entry("=1", &mut env).is_err());
        assert!(parse_env_entry("", &mut env).is_err());
        assert!(parse_env_entry("A B=1", &mut env).is_err());
    }

    #[test]
    fn volumes() {
        let VolumeArg::Bind(v) = parse_volume("/tmp:/data:ro").unwrap() else {
            panic!("a bind");
        };
        assert!(v.read_only);
        assert_eq!(v.target, "/data");
        let VolumeArg::Named(v) = parse_volume("db-1.x:/data").unwrap() else {
            panic!("a named volume");
        };
        assert_eq!((v.name.as_str(), v.read_only), ("db-1.x", false));
        for bad in [
            "/tmp",
            "/tmp:data",
            "a$b:/data",
            "-x:/data",
            "tmp/x:/data",
            "x:data",
            "/tmp:/data:rx",
            "/tmp:/",
            "/tmp:/a/../b",
            "/no/such/path/x:/data",
            "/a:/b:ro:x",
        ] {
            assert!(parse_volume(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostnames() {
        validate_hostname("web-1.local").unwrap();
        for bad in ["", "-a", "a-", "a..b", "a_b", &"x".repeat(65)] {
            assert!(validate_hostname(bad).is_err(), "{bad}");
        }
    }
}
