//! `tinydocker run`: the life of a container in the foreground.
//!
//! 1. validate every flag (nothing is created on bad input);
//! 2. resolve the image; 3. create the record (name taken under a lock);
//! 4. decide the mount plan and the exec, as data, in the parent;
//! 5. clone the init into new namespaces, then say go;
//! 6. the child applies the plan, sets the host name, brings `lo` up and
//!    execs; any failure comes back as (step, errno);
//! 7. supervise: forward signals, wait, record the exit code.

use std::convert::Infallible;
use std::ffi::{c_char, CString};
use std::fs;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use tinydocker_cgroups::{AnyManager, DeviceControl, Layout, Manager, Resources};
use tinydocker_fs::{plan, Create, MountPlan, PreparedPlan, ProvidedFile, RootfsSpec, Volume};
use tinydocker_net::{nft, Endpoint, Netlink, PortMapping};
use tinydocker_ns::{
    child, pty, spawn, Barrier, ChildChannel, ChildFailure, ExitStatus, Namespaces, SignalForwarder,
};
use tinydocker_security::caps::{self, Privileges};
use tinydocker_security::seccomp;

use crate::cli::RunArgs;
use crate::errors::{self, Exit};
use crate::limits::{self, Host};
use crate::names;
use crate::networks::{self, Networks};
use crate::security;
use crate::state::{self, Config, Container, NetSettings, Root, State, Status, VolumeRecord};
use crate::supervisor;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Child steps after the mount plan, numbered past any plan's length.
const STEP_CGROUP_NS: u32 = 1000;
const STEP_HOSTNAME: u32 = 1001;
const STEP_LOOPBACK: u32 = 1002;
const STEP_STDIN: u32 = 1003;
const STEP_FDS: u32 = 1004;
const STEP_SESSION: u32 = 1005;
const STEP_EXEC: u32 = 1006;
const STEP_CGROUP: u32 = 1007;
const STEP_SECCOMP: u32 = 1008;
const STEP_INIT: u32 = 1009;
const STEP_TTY: u32 = 1010;
/// Writing a sysctl: this plus its index in `ChildPlan::sysctls`.
const STEP_SYSCTL: u32 = 1200;

/// What docker sets in a container's own network namespace, so that ping
/// and low ports work without CAP_NET_RAW or CAP_NET_BIND_SERVICE.
const NETNS_SYSCTLS: [(&str, &str); 2] = [
    ("net/ipv4/ping_group_range", "0 2147483647"),
    ("net/ipv4/ip_unprivileged_port_start", "0"),
];
/// Dropping privileges: this plus the index of the capability step.
const STEP_PRIVILEGES: u32 = 1100;
pub(crate) const PRIVILEGE_STEPS: [caps::Step; 8] = [
    caps::Step::KeepCaps,
    caps::Step::Bounding,
    caps::Step::Groups,
    caps::Step::Gid,
    caps::Step::Uid,
    caps::Step::Capset,
    caps::Step::Ambient,
    caps::Step::NoNewPrivs,
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Network {
    None,
    Host,
    /// The default bridge or a network made with `network create`.
    Bridge(String),
}

/// Every flag, checked. Building this touches nothing.
#[derive(Debug)]
struct Validated {
    name: Option<String>,
    env: Vec<String>,
    workdir: Option<String>,
    volumes: Vec<Volume>,
    hostname: Option<String>,
    network: Network,
    resources: Resources,
    cgroup_parent: String,
    ip: Option<Ipv4Addr>,
    ports: Vec<PortMapping>,
    dns: Vec<Ipv4Addr>,
    add_hosts: Vec<(String, Ipv4Addr)>,
    security: security::Checked,
    restart: state::RestartPolicy,
}

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

fn parse_volume(spec: &str) -> Result<Volume> {
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
    if !host.starts_with('/') {
        bail!("invalid volume specification: {spec:?}: the host path must be absolute (named volumes are not supported)");
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
    let source = fs::canonicalize(host).map_err(|_| {
        anyhow!("invalid mount config for type \"bind\": bind source path does not exist: {host}")
    })?;
    let kind = if source.is_dir() {
        Create::Dir
    } else {
        Create::File
    };
    Ok(Volume {
        source,
        target: target.to_string(),
        read_only,
        kind,
    })
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

fn validate(args: &RunArgs, root_path: &Path) -> Result<Validated> {
    if let Some(name) = &args.name {
        names::validate(name)?;
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
    let volumes = args
        .volume
        .iter()
        .map(|v| parse_volume(v))
        .collect::<Result<Vec<_>>>()?;
    if let Some(h) = &args.hostname {
        validate_hostname(h)?;
    }
    let network = match args.network.as_str() {
        "none" => Network::None,
        "host" => Network::Host,
        name => {
            if name != networks::DEFAULT && Networks::new(root_path).get(name)?.is_none() {
                bail!("network {name} not found");
            }
            Network::Bridge(name.to_string())
        }
    };
    let bridged = matches!(network, Network::Bridge(_));
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
            .resources(&Host::detect()?, &Resources::default())?
    } else {
        Resources::default()
    };
    let cgroup_parent = match &args.cgroup_parent {
        Some(parent) => limits::cgroup_parent(parent)?,
        None => state::DEFAULT_CGROUP_PARENT.to_string(),
    };
    let security = security::check(&args.security)?;
    let restart = state::RestartPolicy::parse(&args.restart)?;
    if restart.name != "no" && args.rm {
        bail!("conflicting options: --restart and --rm");
    }
    Ok(Validated {
        restart,
        name: args.name.clone(),
        env,
        workdir: args.workdir.clone(),
        volumes,
        hostname: args.hostname.clone(),
        network,
        resources,
        cgroup_parent,
        ip,
        ports,
        dns,
        add_hosts,
        security,
    })
}

/// Set `KEY=VALUE` in an environment list, replacing an earlier `KEY`.
pub(crate) fn set_env(env: &mut Vec<String>, entry: String) {
    let key = entry.split('=').next().unwrap_or_default().to_string();
    env.retain(|e| e.split('=').next() != Some(key.as_str()));
    env.push(entry);
}

fn host_hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "localhost".into(), |s| s.trim().to_string())
}

pub fn run(root: &Root, args: RunArgs) -> Result<i32> {
    // Blocked from the start, so an INT or TERM during setup cannot kill this
    // process half-way (it is forwarded to the container once that runs),
    // and never unblocked: see SignalForwarder::keep_blocked.
    let signals = SignalForwarder::block()?;
    let result = run_blocked(root, args, &signals);
    signals.keep_blocked();
    result
}

fn run_blocked(root: &Root, args: RunArgs, signals: &SignalForwarder) -> Result<i32> {
    if args.detach {
        let (interactive, tty) = (args.interactive, args.tty);
        return supervisor::detach(root, interactive, tty, None, |stdio| {
            launch(root, &args, stdio)
        });
    }
    // The user's terminal matters only with -t (no ioctls otherwise).
    let stdin = std::io::stdin();
    let user_terminal = if args.tty { pty::user_terminal() } else { None };
    if args.tty && args.interactive && pty::window_size(stdin.as_fd()).is_err() {
        bail!("the input device is not a TTY");
    }
    let size = user_terminal.and_then(|t| pty::window_size(t).ok());
    let mut launched = launch(
        root,
        &args,
        Stdio {
            tty_size: size,
            ..Stdio::default()
        },
    )?;
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
    finish(
        root,
        &mut launched.container,
        &launched.cgroup,
        status,
        false,
    )
}

/// Where the container's standard streams come from: runtime fds put on
/// its 0, 1 and 2 (None: the runtime's own; for stdin, /dev/null unless
/// the container is interactive).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stdio {
    pub fds: [Option<RawFd>; 3],
    /// `-t`: the window size of the container's pseudo-terminal.
    pub tty_size: Option<libc::winsize>,
}

/// A container whose command runs: what its supervisor needs.
pub(crate) struct Launched {
    pub container: Container,
    pub init: tinydocker_ns::Child,
    pub cgroup: AnyManager,
    /// `-t`: the master of the container's pseudo-terminal.
    pub terminal: Option<OwnedFd>,
}

/// Create the container and start its command. On failure nothing of it is
/// left but its record, which says why (and not even that with `--rm`).
fn launch(root: &Root, args: &RunArgs, stdio: Stdio) -> Result<Launched> {
    let v = validate(args, &root.path)?;
    let store = root.images()?;
    // No `rmi` takes the image away until the record below names it.
    let image_hold = store.hold()?;
    let image = store.resolve(&args.image)?;
    let cmd = if args.command.is_empty() {
        image.config.cmd.clone()
    } else {
        args.command.clone()
    };
    if cmd.is_empty() {
        bail!(
            "no command specified: the image {} has none, give one after the image name",
            args.image
        );
    }

    let id = names::new_id();
    let hostname = match (&v.hostname, &v.network) {
        (Some(h), _) => h.clone(),
        (None, Network::Host) => host_hostname(),
        (None, _) => id[..12].to_string(),
    };
    let mut layers = store.layer_paths(&image);
    let security = v.security.prepare(&layers, &root.path)?;
    let home = match &security.home {
        Some(home) => home.clone(),
        None if security.privileges.identity.uid == 0 => "/root".to_string(),
        None => "/".to_string(),
    };
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
        format!("HOME={home}"),
    ];
    for e in image.config.env.iter().chain(&v.env) {
        set_env(&mut env, e.clone());
    }
    let workdir = v
        .workdir
        .clone()
        .unwrap_or_else(|| match image.config.working_dir.as_str() {
            "" => "/".to_string(),
            dir => dir.to_string(),
        });

    layers.push(store.init_layer()?);
    let mut config = Config {
        id: id.clone(),
        name: v.name.clone().unwrap_or_else(|| names::generate(&id, 0)),
        image: args.image.clone(),
        image_id: image.id.clone(),
        layers,
        cmd,
        env,
        workdir,
        hostname,
        volumes: v
            .volumes
            .iter()
            .map(|v| VolumeRecord {
                source: v.source.clone(),
                target: v.target.clone(),
                read_only: v.read_only,
            })
            .collect(),
        read_only: args.read_only,
        network: args.network.clone(),
        interactive: args.interactive,
        auto_remove: args.rm,
        init: args.init,
        tty: args.tty,
        created: state::now_nanos(),
        resources: v.resources.clone(),
        cgroup: format!("{}/{id}", v.cgroup_parent),
        net: None,
        security: v.security.config.clone(),
        dns: v.dns.clone(),
        add_hosts: v.add_hosts.clone(),
        restart: v.restart.clone(),
    };

    // Bridge networking, with the ports lock held until the record exists.
    let mut ports_lock = None;
    if let Network::Bridge(name) = &v.network {
        let (net, lock) = claim_bridge(root, name, &id, v.ip, false, &v.ports)?;
        config.net = Some(net);
        ports_lock = lock;
    }
    let mut undo = NetUndo {
        root,
        id: &id,
        net: config.net.clone(),
    };
    // The cgroup exists, with its limits, before the init does: the init
    // starts inside it (clone3 CLONE_INTO_CGROUP on v2; on v1 the child
    // writes itself into it first thing), so the user's command never runs
    // unlimited.
    let layout = Layout::detect()?;
    let cgroup = AnyManager::new(&layout, &config.cgroup);
    // First the container's directory, under a name that says who makes
    // it: whatever kills this process from here on, what it made (the
    // directory, the cgroup, the name) is found and swept. The init sets
    // the container up in it; the record is written once, with the init's
    // pid, when the container is whole, and the directory renamed then.
    let making = root.begin(&id, &config.cgroup, !config.auto_remove)?;
    let prepared = match Prepared::new(
        root, &config, &making, &v.volumes, &cgroup, &security, stdio,
    ) {
        Ok(prepared) => prepared,
        Err(e) => {
            root.abandon(&making);
            return Err(e);
        }
    };
    let control = match cgroup
        .create()
        .and_then(|()| cgroup.apply(&config.resources))
        .and_then(|()| cgroup.set_devices(&security.device_rules))
    {
        Ok(control) => control,
        Err(e) => {
            let _ = state::remove_cgroup(&cgroup);
            root.abandon(&making);
            return Err(anyhow::Error::new(e).context(format!("set up cgroup {}", config.cgroup)));
        }
    };
    config.security.device_cgroup = device_control_text(&config, control);
    // Clone the init (it waits for go).
    let mut init = match prepared.spawn(&cgroup) {
        Ok(init) => init,
        Err(e) => {
            let _ = state::remove_cgroup(&cgroup);
            root.abandon(&making);
            return Err(e);
        }
    };
    // Up to the barrier (the container whole, the command not started)
    // before the record is written: once, as running. A start that failed
    // on the way is recorded too (as docker keeps a container that failed
    // to start), below.
    let reached = to_the_barrier(&config, &prepared, &mut init);
    let pid = init.pid();
    let (me, me_start) = state::this_process();
    let running = State {
        status: match reached {
            Ok(true) => Status::Running,
            _ => Status::Created,
        },
        pid,
        pid_start: state::pid_start_time(pid).unwrap_or(0),
        started_at: state::now_nanos(),
        runtime_pid: me,
        runtime_start: me_start,
        ..State::created()
    };
    let mut attempt = 0;
    let mut container = loop {
        match root.create(config.clone(), running.clone(), &making) {
            Ok(c) => break c,
            // A generated name that happens to be taken: try a longer one.
            Err(_) if v.name.is_none() && attempt < 8 => {
                attempt += 1;
                config.name = names::generate(&id, attempt);
            }
            Err(e) => {
                let _ = init.kill_and_reap();
                let _ = state::remove_cgroup(&cgroup);
                root.abandon(&making);
                return Err(reached.err().unwrap_or(e));
            }
        }
    };
    // From here on the record names everything to undo, and counts
    // among the containers that hold ports and images.
    undo.net = None;
    drop(ports_lock);
    drop(image_hold);
    let started = match reached {
        Ok(true) => from_the_barrier(&container.config, &prepared, &mut init),
        // Died on the way: its exit is recorded from its status.
        Ok(false) => Ok(None),
        Err(e) => Err(e),
    };
    match started {
        Ok(terminal) => Ok(Launched {
            container,
            init,
            cgroup,
            terminal,
        }),
        Err(err) => Err(failed_start(
            root,
            &mut container,
            &cgroup,
            &mut Some(init),
            err,
        )),
    }
}

/// What `inspect` says of the device cgroup.
fn device_control_text(config: &Config, control: DeviceControl) -> String {
    match control {
        _ if config.security.privileged => "all devices allowed".to_string(),
        DeviceControl::Enforced => "enforced".to_string(),
        DeviceControl::Unavailable(why) => {
            eprintln!(
                "tinydocker: warning: the device cgroup is not enforced for {}: {why}",
                config.name
            );
            format!("unavailable: {why}")
        }
    }
}

/// After a failure to start: kill the init if there is one, release what
/// the container held, and record why (without --rm) or remove it.
fn failed_start(
    root: &Root,
    container: &mut Container,
    cgroup: &AnyManager,
    init: &mut Option<tinydocker_ns::Child>,
    err: anyhow::Error,
) -> anyhow::Error {
    if let Some(init) = init.as_mut() {
        let _ = init.kill_and_reap();
    }
    release_runtime(root, container, cgroup, networks::Veth::Delete);
    container.state.net_released = true;
    let code = errors::exit_code(&err);
    let outcome = if container.config.auto_remove {
        container.lock().and_then(|_lock| root.remove(container))
    } else {
        let mut state = container.state.clone();
        state.status = Status::Exited;
        state.exit_code = code;
        state.error = errors::one_line(&err);
        state.finished_at = state::now_nanos();
        container.save_state(state)
    };
    if let Err(cleanup) = outcome {
        eprintln!(
            "tinydocker: clean up after failed start: {}",
            errors::one_line(&cleanup)
        );
    }
    err
}

/// Start an existing container again (`start`, a restart policy): its
/// record, name and writable layer are kept; its network address, cgroup,
/// endpoint and init are made anew, as `run` makes them.
pub(crate) fn relaunch(root: &Root, key: &str, stdio: Stdio, restarts: u32) -> Result<Launched> {
    let found = root.find(key)?;
    let mut container = {
        let Some(_lock) = found.lock()? else {
            bail!("No such container: {key}");
        };
        // Read again under the lock: another command may have started it.
        let mut c = root.find(&found.config.id)?;
        match c.observe() {
            state::Observed::Running { .. } | state::Observed::Created => {
                return Err(Exit {
                    code: errors::USAGE,
                    message: format!("container {} is already running", c.config.name),
                }
                .into())
            }
            // Killed with its runtime (or by a reboot): what it held first.
            state::Observed::Dead
            | state::Observed::Exited { .. }
            | state::Observed::Restarting { .. } => release_leftovers(root, &c)?,
        }
        // A restart the user's stop, kill or rm -f overtook: none.
        if restarts > 0 && c.state.stopped_by_user {
            let mut state = c.state.clone();
            state.status = Status::Exited;
            c.save_state_locked(state)?;
            bail!("container {} was stopped", c.config.name);
        }
        let (me, me_start) = state::this_process();
        let claim = State {
            runtime_pid: me,
            runtime_start: me_start,
            restart_count: restarts,
            exit_code: c.state.exit_code,
            finished_at: c.state.finished_at,
            net_released: true,
            ..State::created()
        };
        c.save_state_locked(claim)?;
        c
    };
    let layout = Layout::detect()?;
    let cgroup = AnyManager::new(&layout, &container.config.cgroup);
    let mut init = None;
    match relaunch_steps(root, &mut container, &cgroup, stdio, &mut init) {
        Ok(terminal) => Ok(Launched {
            container,
            init: init.expect("a started container has an init"),
            cgroup,
            terminal,
        }),
        Err(err) => Err(failed_start(root, &mut container, &cgroup, &mut init, err)),
    }
}

fn relaunch_steps(
    root: &Root,
    container: &mut Container,
    cgroup: &AnyManager,
    stdio: Stdio,
    init: &mut Option<tinydocker_ns::Child>,
) -> Result<Option<OwnedFd>> {
    let volumes = volumes_of(&container.config)?;
    let id = container.config.id.clone();
    // Held until the container runs, as `run` holds it.
    let mut _ports_lock = None;
    if let Network::Bridge(name) = network_of(&container.config) {
        let ports = container
            .config
            .net
            .as_ref()
            .map(|n| n.ports.clone())
            .unwrap_or_default();
        // Its address of before when it is free, as docker keeps it.
        let previous = container.config.net.as_ref().map(|n| n.ip);
        let (net, lock) = claim_bridge(root, &name, &id, previous, true, &ports)?;
        _ports_lock = lock;
        let host_if = net.host_if.clone();
        container.config.net = Some(net);
        let mut state = container.state.clone();
        state.net_released = false;
        container.save_state(state)?;
        // The veth of its last run goes with that run's network namespace,
        // which the kernel tears down in the background: make sure it is
        // gone before a new one of the same name is made.
        Netlink::new()?.delete_link(&host_if)?;
    }
    let security = security::Checked::from_config(&container.config.security)?
        .with_devices()?
        .prepare(&container.config.layers, &root.path)?;
    let prepared = Prepared::new(
        root,
        &container.config,
        &container.dir,
        &volumes,
        cgroup,
        &security,
        stdio,
    )?;
    boot(container, &prepared, &security, cgroup, init)
}

/// A place on bridge network `name` for container `id`: the network (the
/// default one is made on first use), an address (`ip` when asked for;
/// with `or_any`, another one when that is taken), and the published
/// `ports` checked against those of running containers under a lock, for
/// the caller to hold until the container counts among them.
fn claim_bridge(
    root: &Root,
    name: &str,
    id: &str,
    ip: Option<Ipv4Addr>,
    or_any: bool,
    ports: &[PortMapping],
) -> Result<(NetSettings, Option<state::Lock>)> {
    let networks = Networks::new(&root.path);
    let net = networks
        .for_run(name)?
        .ok_or_else(|| anyhow!("network {name} not found"))?;
    let ports_lock = if ports.is_empty() {
        None
    } else {
        let lock = state::lock_file(&networks.dir().join("ports.lock"))?;
        check_ports(root, ports)?;
        Some(lock)
    };
    let ipam = networks.ipam(name);
    let alive = |owner: &str| root.container_dir(owner).join(state::RECORD).exists();
    let ip = match ipam.allocate(net.subnet, net.gateway, id, ip, alive) {
        Ok(ip) => ip,
        Err(_) if or_any && ip.is_some() => {
            ipam.allocate(net.subnet, net.gateway, id, None, alive)?
        }
        Err(e) => return Err(e.into()),
    };
    let settings = NetSettings {
        network: name.to_string(),
        bridge: net.bridge,
        ip,
        prefix: net.subnet.prefix(),
        gateway: net.gateway,
        host_if: networks::host_if(id),
        ports: ports.to_vec(),
    };
    Ok((settings, ports_lock))
}

/// What a container killed with its runtime (or by a reboot) may still
/// hold: its cgroup, and its network side unless released.
pub(crate) fn release_leftovers(root: &Root, container: &Container) -> Result<()> {
    if let Some(cgroup) = container.cgroup(&Layout::detect()?) {
        state::remove_cgroup(&cgroup)
            .with_context(|| format!("remove cgroup {}", container.config.cgroup))?;
    }
    if let (Some(net), false) = (&container.config.net, container.state.net_released) {
        if let Err(e) = networks::release(
            &root.path,
            &container.config.id,
            net,
            networks::Veth::Delete,
        ) {
            eprintln!(
                "tinydocker: release the network of {}: {e:#}",
                container.config.name
            );
        }
    }
    Ok(())
}

/// Make the container's cgroup with its limits, clone its init into it,
/// and start it: to its barrier, record it running, and on (see
/// [`to_the_barrier`]). The init, once cloned, is left in `init` for the
/// caller to clean up after a failure.
fn boot(
    container: &mut Container,
    prepared: &Prepared,
    security: &security::Prepared,
    cgroup: &AnyManager,
    init: &mut Option<tinydocker_ns::Child>,
) -> Result<Option<OwnedFd>> {
    let control = cgroup
        .create()
        .and_then(|()| cgroup.apply(&container.config.resources))
        .and_then(|()| cgroup.set_devices(&security.device_rules))
        .map_err(|e| {
            anyhow::Error::new(e).context(format!("set up cgroup {}", container.config.cgroup))
        })?;
    container.config.security.device_cgroup = device_control_text(&container.config, control);
    // Clone the init; its pid is recorded with the running state at the
    // barrier (until then the claim says it is being started, and a kill
    // of this runtime leaves it dead, its cgroup naming what to kill).
    let child = init.insert(prepared.spawn(cgroup)?);
    let pid = child.pid();
    let running = State {
        pid,
        pid_start: state::pid_start_time(pid).unwrap_or(0),
        started_at: state::now_nanos(),
        ..container.state.clone()
    };
    if !to_the_barrier(&container.config, prepared, child)? {
        container.state = running;
        return Ok(None);
    }
    if !record_running(container, running, child)? {
        return Ok(None);
    }
    from_the_barrier(&container.config, prepared, child)
}

/// Record the container running, once it is whole and before its command
/// runs (the init waits at its barrier). Before, a restarted container is
/// recorded as created (being started): `exec`, `kill` and `update` refuse
/// it, since its init may not have entered its root yet, and `stop` and
/// `rm -f` wait for the start to end. A `stop` or `rm -f` that marked the
/// record anyway (it read it just before this start claimed it) asked for
/// the end of this run: the init is killed instead, and false returned
/// (its exit is then recorded as any other).
fn record_running(
    container: &mut Container,
    running: State,
    init: &tinydocker_ns::Child,
) -> Result<bool> {
    container.save_state_then(running, |state| {
        if !state.stopped_by_user {
            state.status = Status::Running;
        }
    })?;
    if container.state.stopped_by_user {
        init.signal(libc::SIGKILL)?;
        return Ok(false);
    }
    Ok(true)
}

/// What a container holds only while it runs: its cgroup, and on a bridge
/// network its address, published ports and veth, unless released already
/// (a restart that failed before it claimed an address: the one in its
/// record is its last run's, and may be another container's by now). Best
/// effort: a failure is reported on stderr and the rest is still released.
fn release_runtime(root: &Root, container: &Container, cgroup: &AnyManager, veth: networks::Veth) {
    let config = &container.config;
    if let Err(e) = state::remove_cgroup(cgroup) {
        eprintln!("tinydocker: remove cgroup {}: {e:#}", config.cgroup);
    }
    if let (Some(net), false) = (&config.net, container.state.net_released) {
        if let Err(e) = networks::release(&root.path, &config.id, net, veth) {
            eprintln!("tinydocker: release the network of {}: {e:#}", config.name);
        }
    }
}

/// Releases what a start reserved on a network (its address) when it fails
/// before the container's record exists; after that, the record says what
/// to undo and `net` is cleared.
struct NetUndo<'a> {
    root: &'a Root,
    id: &'a str,
    net: Option<NetSettings>,
}

impl Drop for NetUndo<'_> {
    fn drop(&mut self) {
        if let Some(net) = &self.net {
            let _ = networks::release(&self.root.path, self.id, net, networks::Veth::Delete);
        }
    }
}

/// A published host port must not be in use by a running container.
fn check_ports(root: &Root, ports: &[PortMapping]) -> Result<()> {
    for other in root.list()? {
        // A Dead one (its runtime was killed) still holds its ports until
        // rm, and one being set up holds them already.
        if matches!(other.observe(), state::Observed::Exited { .. }) || other.state.net_released {
            continue;
        }
        let Some(net) = &other.config.net else {
            continue;
        };
        for mine in ports {
            if let Some(theirs) = net.ports.iter().find(|p| p.conflicts(mine)) {
                bail!(
                    "Bind for {}:{} failed: port is already allocated (published by container {}: {theirs})",
                    mine.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string()),
                    mine.host_port,
                    other.config.name
                );
            }
        }
    }
    Ok(())
}

/// The kind of network a container was made with.
fn network_of(config: &Config) -> Network {
    match config.network.as_str() {
        "none" => Network::None,
        "host" => Network::Host,
        name => Network::Bridge(name.to_string()),
    }
}

/// A container's volumes as recorded, checked again (for `start`).
fn volumes_of(config: &Config) -> Result<Vec<Volume>> {
    config
        .volumes
        .iter()
        .map(|v| {
            let meta = fs::metadata(&v.source).map_err(|_| {
                anyhow!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    v.source.display()
                )
            })?;
            Ok(Volume {
                source: v.source.clone(),
                target: v.target.clone(),
                read_only: v.read_only,
                kind: if meta.is_dir() {
                    Create::Dir
                } else {
                    Create::File
                },
            })
        })
        .collect()
}

/// /etc/hosts, /etc/hostname and /etc/resolv.conf, written by the child into
/// `dir`, the container's directory (or, for --rm, its scratch tmpfs), and
/// bound over the image's.
fn etc_files(root: &Root, config: &Config, dir: &Path) -> Vec<ProvidedFile> {
    let files = networks::EtcFiles {
        hostname: &config.hostname,
        name: &config.name,
        ip: config.net.as_ref().map(|n| n.ip),
        add_hosts: &config.add_hosts,
        dns: &config.dns,
        bridged: matches!(network_of(config), Network::Bridge(_)),
    };
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let dir = if config.auto_remove {
        root.scratch()
    } else {
        dir.to_path_buf()
    };
    vec![
        ProvidedFile {
            host: dir.join("hosts"),
            content: files.hosts(),
            target: "/etc/hosts".into(),
        },
        ProvidedFile {
            host: dir.join("hostname"),
            content: files.hostname(),
            target: "/etc/hostname".into(),
        },
        ProvidedFile {
            host: dir.join("resolv.conf"),
            content: files.resolv_conf(&host_resolv),
            target: "/etc/resolv.conf".into(),
        },
    ]
}

/// What the child needs, all prepared in the parent so the child only makes
/// system calls.
struct ChildPlan {
    /// v1: the cgroup `tasks` files the child writes itself into.
    join_cgroup: Vec<CString>,
    mounts: PreparedPlan,
    hostname: CString,
    loopback: bool,
    null_stdin: bool,
    /// Runtime fds for the container's 0, 1 and 2.
    stdio: [Option<RawFd>; 3],
    /// `--init`: stay as pid 1 and fork the command.
    init: bool,
    /// `-t`: open a pseudo-terminal in the container (this size), pass its
    /// master to the runtime and make the slave the command's terminal.
    tty: Option<Option<libc::winsize>>,
    candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    privileges: Privileges,
    seccomp: Option<seccomp::Filter>,
    /// `/proc/sys/...` files and values, written before the mount plan
    /// (through the host's /proc, which shows the child's own network
    /// namespace).
    sysctls: Vec<(CString, Vec<u8>)>,
}

/// Where `execve` will look for the command: the command itself when it has
/// a '/', else each directory of the container's PATH (empty means ".").
pub(crate) fn exec_candidates(cmd: &str, env: &[String]) -> Vec<String> {
    if cmd.contains('/') {
        return vec![cmd.to_string()];
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    path.split(':')
        .map(|dir| {
            if dir.is_empty() {
                cmd.to_string()
            } else {
                format!("{}/{cmd}", dir.trim_end_matches('/'))
            }
        })
        .collect()
}

pub(crate) fn cstrings<'a>(items: impl IntoIterator<Item = &'a String>) -> Result<Vec<CString>> {
    items
        .into_iter()
        .map(|s| CString::new(s.as_str()).map_err(|_| anyhow!("{s:?} contains a NUL byte")))
        .collect()
}

fn child_main(
    chan: ChildChannel,
    plan: &ChildPlan,
    argv: &[*const c_char],
    envp: &[*const c_char],
    cands: &[&std::ffi::CStr],
) -> Infallible {
    // Die with the runtime: a foreground container must not outlive it. Set
    // before waiting for go, so a parent that died first is noticed as EOF.
    if let Err(e) = child::set_parent_death_signal(libc::SIGKILL) {
        chan.fail(STEP_SESSION, e);
    }
    // Into the cgroup first, so everything after (mounts included) is
    // accounted to it. (v2: the child was cloned into it.)
    if let Err(e) = tinydocker_cgroups::join_self(&plan.join_cgroup) {
        chan.fail(STEP_CGROUP, e);
    }
    chan.wait_go();
    // Signals from the user's terminal reach the container through the
    // runtime's forwarding only.
    // SAFETY: setsid has no preconditions.
    if unsafe { libc::setsid() } < 0 {
        chan.fail(STEP_SESSION, child::errno());
    }
    if let Err(e) = child::unshare_cgroup_namespace() {
        chan.fail(STEP_CGROUP_NS, e);
    }
    for (i, (path, value)) in plan.sysctls.iter().enumerate() {
        if let Err(e) = child::write_file(path, value) {
            chan.fail(STEP_SYSCTL + i as u32, e);
        }
    }
    if let Err(f) = plan.mounts.apply() {
        chan.fail(f.step, f.errno);
    }
    if let Err(e) = child::set_hostname(&plan.hostname) {
        chan.fail(STEP_HOSTNAME, e);
    }
    if plan.loopback {
        if let Err(e) = tinydocker_net::loopback_up() {
            chan.fail(STEP_LOOPBACK, e);
        }
    }
    // The container is whole (its root, mounts, host name): the runtime
    // records it running before its command can run.
    chan.ready();
    if plan.null_stdin {
        // SAFETY: open/dup2/close on a valid C string and fds.
        unsafe {
            let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            if fd < 0 || libc::dup2(fd, 0) < 0 {
                chan.fail(STEP_STDIN, child::errno());
            }
            libc::close(fd);
        }
    }
    if let Some(size) = &plan.tty {
        match pty::open_in_child(size.as_ref()) {
            Ok((master, slave)) => {
                if let Err(e) = chan.send_fd(master) {
                    chan.fail(STEP_TTY, e);
                }
                child::close(master);
                if let Err(e) = pty::attach(slave) {
                    chan.fail(STEP_TTY, e);
                }
            }
            Err(e) => chan.fail(STEP_TTY, e),
        }
    }
    for (target, fd) in plan.stdio.iter().enumerate() {
        if let Some(fd) = *fd {
            // SAFETY: dup2 of an fd the runtime opened onto a standard one.
            if unsafe { libc::dup2(fd, target as i32) } < 0 {
                chan.fail(STEP_STDIN, child::errno());
            }
        }
    }
    if let Err(e) = child::mark_fds_cloexec() {
        chan.fail(STEP_FDS, e);
    }
    lock_down(
        &chan,
        &plan.privileges,
        plan.seccomp.as_ref(),
        LockDownSteps {
            seccomp: STEP_SECCOMP,
            privileges: STEP_PRIVILEGES,
            session: STEP_SESSION,
        },
    );
    let exec = || -> Infallible {
        child::reset_signals();
        let errno = child::exec_first(cands, argv, envp);
        chan.fail(STEP_EXEC, errno)
    };
    if plan.init {
        let errno = tinydocker_ns::init::fork_and_reap(chan.as_raw_fd(), exec);
        chan.fail(STEP_INIT, errno)
    }
    match exec() {}
}

/// The step numbers [`lock_down`] reports its failures with.
pub(crate) struct LockDownSteps {
    pub seccomp: u32,
    /// Plus the index of the failed step in [`PRIVILEGE_STEPS`].
    pub privileges: u32,
    pub session: u32,
}

/// The last steps before exec, the same for a container's init and for
/// every process `exec` starts in it. Without no_new_privs, loading a
/// filter takes CAP_SYS_ADMIN: it is loaded while the process still has it
/// (the filter must then allow what dropping privileges calls, as docker's
/// does). With no_new_privs it is loaded last, so it does not constrain the
/// runtime's own steps. A change of user clears the parent-death signal: it
/// is armed again, then the runtime is checked to be still alive.
pub(crate) fn lock_down(
    chan: &ChildChannel,
    privileges: &Privileges,
    seccomp: Option<&seccomp::Filter>,
    steps: LockDownSteps,
) {
    let load_seccomp = || {
        if let Some(filter) = seccomp {
            if let Err(e) = filter.load() {
                chan.fail(steps.seccomp, e);
            }
        }
    };
    if !privileges.no_new_privs {
        load_seccomp();
    }
    if let Err((step, e)) = privileges.apply() {
        let index = PRIVILEGE_STEPS.iter().position(|s| *s == step).unwrap_or(0);
        chan.fail(steps.privileges + index as u32, e);
    }
    if let Err(e) = child::set_parent_death_signal(libc::SIGKILL) {
        chan.fail(steps.session, e);
    }
    chan.exit_if_parent_gone();
    if privileges.no_new_privs {
        load_seccomp();
    }
}

/// The text of an errno, without Rust's " (os error N)".
pub(crate) fn errno_text(errno: i32) -> String {
    errors::io_text(&std::io::Error::from_raw_os_error(errno))
}

/// A failed execve(2) of `cmd`, as docker reports it: 127 when it is not
/// found, 126 when it cannot be executed (for `run` and `exec` alike).
pub(crate) fn exec_failure(cmd: &str, errno: i32) -> Exit {
    let (code, message) = match errno {
        libc::ENOENT if cmd.contains('/') => (
            errors::NOT_FOUND,
            format!("exec: \"{cmd}\": stat {cmd}: no such file or directory"),
        ),
        libc::ENOENT => (
            errors::NOT_FOUND,
            format!("exec: \"{cmd}\": executable file not found in $PATH"),
        ),
        _ => (
            errors::CANNOT_EXECUTE,
            format!("exec: \"{cmd}\": {}", errno_text(errno)),
        ),
    };
    Exit { code, message }
}

fn describe_failure(failure: ChildFailure, mounts: &MountPlan, cmd: &str) -> Exit {
    if failure.step == STEP_EXEC {
        return exec_failure(cmd, failure.errno);
    }
    let why = errno_text(failure.errno);
    let (code, message) = match failure.step {
        STEP_CGROUP => (errors::USAGE, format!("join the container's cgroup: {why}")),
        STEP_CGROUP_NS => (
            errors::USAGE,
            format!("enter a new cgroup namespace: {why}"),
        ),
        STEP_HOSTNAME => (errors::USAGE, format!("set the host name: {why}")),
        STEP_LOOPBACK => (
            errors::USAGE,
            format!("bring up the loopback interface: {why}"),
        ),
        STEP_STDIN => (errors::USAGE, format!("set up the standard streams: {why}")),
        STEP_FDS => (
            errors::USAGE,
            format!("mark file descriptors close-on-exec: {why}"),
        ),
        STEP_SESSION => (errors::USAGE, format!("start a new session: {why}")),
        STEP_SECCOMP => (errors::USAGE, format!("load the seccomp filter: {why}")),
        STEP_INIT => (
            errors::USAGE,
            format!("fork the command from --init: {why}"),
        ),
        n if (STEP_SYSCTL..STEP_SYSCTL + NETNS_SYSCTLS.len() as u32).contains(&n) => (
            errors::USAGE,
            format!(
                "set sysctl {}: {why}",
                NETNS_SYSCTLS[(n - STEP_SYSCTL) as usize]
                    .0
                    .replace('/', ".")
            ),
        ),
        n if (STEP_PRIVILEGES..STEP_PRIVILEGES + PRIVILEGE_STEPS.len() as u32).contains(&n) => (
            errors::USAGE,
            format!("{}: {why}", PRIVILEGE_STEPS[(n - STEP_PRIVILEGES) as usize]),
        ),
        n => match mounts.steps.get(n as usize) {
            Some(step) => (errors::USAGE, format!("{step}: {why}")),
            None => (errors::USAGE, format!("container setup step {n}: {why}")),
        },
    };
    Exit { code, message }
}

/// Everything the child needs, decided and converted in the parent before
/// the clone.
struct Prepared {
    mounts: MountPlan,
    child: ChildPlan,
    clone: Namespaces,
}

impl Prepared {
    fn new(
        root: &Root,
        config: &Config,
        dir: &Path,
        volumes: &[Volume],
        cgroup: &AnyManager,
        security: &security::Prepared,
        stdio: Stdio,
    ) -> Result<Prepared> {
        let files = etc_files(root, config, dir);
        let spec = RootfsSpec {
            layers: config.layers.clone(),
            upper: dir.join("upper"),
            work: dir.join("work"),
            merged: root.mountpoint(),
            scratch: config.auto_remove.then(|| root.scratch()),
            volumes: volumes.to_vec(),
            files,
            read_only: config.read_only,
            workdir: config.workdir.clone(),
            devices: security.nodes.clone(),
            masked_paths: security.masked_paths.clone(),
            readonly_paths: security.readonly_paths.clone(),
            sys_writable: security.sys_writable,
        };
        for layer in &spec.layers {
            if !Path::new(layer).is_dir() {
                bail!(
                    "image layer {} is missing: import the image again",
                    layer.display()
                );
            }
        }
        let mounts = plan(&spec);
        let candidates = exec_candidates(&config.cmd[0], &config.env);
        // Every namespace in the one clone3 call. (Creating the network
        // namespace in the child instead, in parallel with the parent's
        // record writing, measured no faster here.)
        let network = network_of(config);
        let clone = match network {
            Network::Host => Namespaces::CONTAINER.without(Namespaces::NET),
            Network::None | Network::Bridge(_) => Namespaces::CONTAINER,
        };
        let join: Vec<String> = cgroup
            .self_join_files()
            .unwrap_or_default()
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let child = ChildPlan {
            join_cgroup: cstrings(&join)?,
            mounts: PreparedPlan::new(&mounts)?,
            hostname: CString::new(config.hostname.as_str())?,
            loopback: network != Network::Host,
            null_stdin: !config.interactive && !config.tty && stdio.fds[0].is_none(),
            stdio: stdio.fds,
            init: config.init,
            tty: config.tty.then_some(stdio.tty_size),
            candidates: cstrings(&candidates)?,
            argv: cstrings(&config.cmd)?,
            envp: cstrings(&config.env)?,
            privileges: security.privileges.clone(),
            seccomp: security.seccomp.clone(),
            sysctls: if network == Network::Host {
                vec![]
            } else {
                NETNS_SYSCTLS
                    .iter()
                    .map(|(key, value)| {
                        Ok((
                            CString::new(format!("/proc/sys/{key}"))?,
                            value.as_bytes().to_vec(),
                        ))
                    })
                    .collect::<Result<_>>()?
            },
        };
        Ok(Prepared {
            mounts,
            child,
            clone,
        })
    }

    /// Clone the container's init into its cgroup; it waits for go.
    fn spawn(&self, cgroup: &AnyManager) -> Result<tinydocker_ns::Child> {
        let plan = &self.child;
        let null = std::ptr::null::<c_char>();
        let argv: Vec<*const c_char> = plan.argv.iter().map(|s| s.as_ptr()).chain([null]).collect();
        let envp: Vec<*const c_char> = plan.envp.iter().map(|s| s.as_ptr()).chain([null]).collect();
        let cands: Vec<&std::ffi::CStr> = plan.candidates.iter().map(|c| c.as_c_str()).collect();
        // v2: born in the cgroup. Kernels or hierarchies that refuse
        // CLONE_INTO_CGROUP get moved in before go. (v1: the child joins
        // by itself, see ChildPlan::join_cgroup.)
        if let Some(dir) = cgroup.open_dir()? {
            let born_inside = spawn(self.clone, Some(dir.as_raw_fd()), |chan| {
                child_main(chan, plan, &argv, &envp, &cands)
            });
            if let Ok(init) = born_inside {
                return Ok(init);
            }
        }
        let mut init = spawn(self.clone, None, |chan| {
            child_main(chan, plan, &argv, &envp, &cands)
        })?;
        if cgroup.is_v2() {
            if let Err(e) = cgroup.add_task(init.pid()) {
                let _ = init.kill_and_reap();
                return Err(anyhow::Error::new(e).context("move the container into its cgroup"));
            }
        }
        Ok(init)
    }
}

/// Connect the init to its network (while it waits for go), say go, and
/// wait until it has made the container whole (its root, mounts, host
/// name) and waits at its barrier: true. False when it died on the way
/// (killed, out of memory): its exit status then tells how it ended.
fn to_the_barrier(
    config: &Config,
    prepared: &Prepared,
    init: &mut tinydocker_ns::Child,
) -> Result<bool> {
    if let Some(net) = &config.net {
        let netns = networks::netns_fd(init.pid())?;
        Netlink::new()?.create_endpoint(&Endpoint {
            host_if: &net.host_if,
            bridge: &net.bridge,
            netns: netns.as_fd(),
            container_if: "eth0",
            address: net.ip,
            prefix: net.prefix,
            gateway: net.gateway,
        })?;
    }
    init.go()?;
    match init.wait_ready()? {
        Barrier::Reached => Ok(true),
        Barrier::Failed(failure) => Err(setup_failed(init, failure, prepared, config)),
        Barrier::Ended => Ok(false),
    }
}

/// Once the container is recorded running: publish its ports, let the
/// init go on, and wait until it has exec'd the command or failed. With
/// `-t`, returns the master of the pseudo-terminal the init opened in the
/// container.
fn from_the_barrier(
    config: &Config,
    prepared: &Prepared,
    init: &mut tinydocker_ns::Child,
) -> Result<Option<OwnedFd>> {
    if let Some(net) = &config.net {
        nft::run(&nft::publish_script(&net.bridge, net.ip, &net.ports))?;
    }
    init.go()?;
    let terminal = if config.tty {
        match init.receive_fd()? {
            Ok(master) => Some(master),
            Err(failure) => return Err(setup_failed(init, failure, prepared, config)),
        }
    } else {
        None
    };
    if let Some(failure) = init.wait_exec()? {
        return Err(setup_failed(init, failure, prepared, config));
    }
    Ok(terminal)
}

/// A failure the init reported: reaped, and described.
fn setup_failed(
    init: &mut tinydocker_ns::Child,
    failure: ChildFailure,
    prepared: &Prepared,
    config: &Config,
) -> anyhow::Error {
    let _ = init.try_wait(true);
    describe_failure(failure, &prepared.mounts, &config.cmd[0]).into()
}

/// After the container's init exited: release what it held, record how it
/// ended (or remove it, with `--rm`); return its exit code. A `supervised`
/// run whose restart policy restarts it is recorded as restarting in the
/// same write, so nothing (a `container prune`) sees it exited between.
pub(crate) fn finish(
    root: &Root,
    container: &mut Container,
    cgroup: &AnyManager,
    status: ExitStatus,
    supervised: bool,
) -> Result<i32> {
    // The OOM count lives in the cgroup: read it before the cgroup goes.
    let oom_kills = cgroup.oom_kills().unwrap_or(0);
    release_runtime(root, container, cgroup, networks::Veth::GoesWithNamespace);
    let mut state = container.state.clone();
    state.status = Status::Exited;
    state.exit_code = status.code();
    state.finished_at = state::now_nanos();
    state.oom_killed = oom_kills > 0;
    state.net_released = true;
    if state.oom_killed {
        let limit = match container.config.resources.memory {
            Some(bytes) => format!("its memory limit of {}", limits::binary_size(bytes as u64)),
            None => "no memory limit: the host ran out of memory".to_string(),
        };
        eprintln!(
            "tinydocker: container {} was killed by the kernel's OOM killer ({limit})",
            container.config.name
        );
    }
    if container.config.auto_remove {
        // A `wait` on it reads the exit from the record before it goes.
        let waited_on = container.has_waiters();
        if waited_on {
            container.save_state(state)?;
            container.waiters_done()?;
        }
        if let Some(_lock) = container.lock()? {
            // Unless started again meanwhile: its new runtime owns it.
            let restarted = waited_on
                && root
                    .find(&container.config.id)
                    .is_ok_and(|c| c.state.status != Status::Exited);
            if !restarted {
                root.remove(container)?;
            }
        }
    } else {
        let policy = container.config.restart.clone();
        container.save_state_then(state, |state| {
            if supervised
                && policy.restarts(state.exit_code, state.restart_count, state.stopped_by_user)
            {
                state.status = Status::Restarting;
            }
        })?;
    }
    Ok(status.code())
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
    fn later_env_wins() {
        let mut env = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        set_env(&mut env, "PATH=/x".into());
        assert_eq!(env, ["A=1", "PATH=/x"]);
    }

    #[test]
    fn volumes() {
        let v = parse_volume("/tmp:/data:ro").unwrap();
        assert!(v.read_only);
        assert_eq!(v.target, "/data");
        assert_eq!(v.kind, Create::Dir);
        for bad in [
            "/tmp",
            "/tmp:data",
            "tmp:/data",
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
    fn path_search() {
        let env = vec!["PATH=/usr/bin::/bin/".to_string()];
        assert_eq!(
            exec_candidates("ls", &env),
            ["/usr/bin/ls", "ls", "/bin/ls"]
        );
        assert_eq!(exec_candidates("./x", &env), ["./x"]);
    }

    #[test]
    fn exec_failures_map_to_dockers_codes() {
        let plan = MountPlan { steps: vec![] };
        let not_found = describe_failure(
            ChildFailure {
                step: STEP_EXEC,
                errno: libc::ENOENT,
            },
            &plan,
            "nope",
        );
        assert_eq!(not_found.code, 127);
        assert_eq!(
            not_found.message,
            "exec: \"nope\": executable file not found in $PATH"
        );
        let denied = describe_failure(
            ChildFailure {
                step: STEP_EXEC,
                errno: libc::EACCES,
            },
            &plan,
            "/etc/passwd",
        );
        assert_eq!(denied.code, 126);
        assert_eq!(denied.message, "exec: \"/etc/passwd\": permission denied");
    }

    #[test]
    fn hostnames() {
        validate_hostname("web-1.local").unwrap();
        for bad in ["", "-a", "a-", "a..b", "a_b", &"x".repeat(65)] {
            assert!(validate_hostname(bad).is_err(), "{bad}");
        }
    }
}
