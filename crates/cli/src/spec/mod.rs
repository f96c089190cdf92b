//! docker's flags and the image's configuration → an OCI runtime spec and
//! the engine's configuration beside it: a pure function ([`build`]), as
//! podman's `pkg/specgen` and moby's `daemon/oci_linux.go` make the spec
//! they hand runc. Everything it needs from the host and the image is read
//! before and passed in ([`Host`], [`Image`], the resolved user), so it is
//! snapshot-tested without root.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{bail, Result};
use oci_spec::runtime::{Linux, Process, Root, Spec};
use tinydocker_cgroups::Resources;
use tinydocker_engine::spec::{
    defaults, resources, seccomp as spec_seccomp, security as spec_security,
};
use tinydocker_engine::{
    set_env, BridgeRequest, ContainerConfig, EtcConfig, LogDriver, Meta, Origin, RestartPolicy,
    Rootfs, VolumeMount,
};
use tinydocker_fs::{DeviceNode, MASKED_PATHS, READONLY_PATHS};
use tinydocker_net::PortMapping;
use tinydocker_security::caps::CapSets;
use tinydocker_security::seccomp;
use tinydocker_security::user::User;

use crate::security::{Checked, SeccompChoice};

pub mod options;
pub use options::{Tmpfs, Ulimit};

/// The runtime spec version written.
const OCI_VERSION: &str = "1.2.0";

/// `--network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    None,
    Host,
    /// The default bridge or a network made with `network create`.
    Bridge(String),
}

/// A bind volume, `-v HOST:CONTAINER[:ro]`, its host path resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// A named volume, `-v NAME:CONTAINER[:ro]` (made or found once the image
/// is known, then bound in by an entry of [`Request::volumes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedVolume {
    pub name: String,
    pub target: String,
    pub read_only: bool,
}

/// Every flag of `run`, checked.
#[derive(Debug, Clone)]
pub struct Request {
    pub name: Option<String>,
    /// The image as named.
    pub image: String,
    /// The command after the image name (empty: the image's).
    pub command: Vec<String>,
    /// `--entrypoint`: replaces the image's, and drops its Cmd.
    pub entrypoint: Option<String>,
    /// `-e` and `--env-file` entries, in order.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub volumes: Vec<Volume>,
    pub hostname: Option<String>,
    pub read_only: bool,
    pub network: Network,
    /// `--network` as given.
    pub network_mode: String,
    pub ip: Option<Ipv4Addr>,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    pub ports: Vec<PortMapping>,
    pub dns: Vec<Ipv4Addr>,
    pub add_hosts: Vec<(String, Ipv4Addr)>,
    pub resources: Resources,
    pub cgroup_parent: String,
    pub security: Checked,
    pub restart: RestartPolicy,
    pub auto_remove: bool,
    pub interactive: bool,
    pub tty: bool,
    pub init: bool,
    /// `--stop-signal` as given, else the image's StopSignal (set once the
    /// image is known); empty: SIGTERM.
    pub stop_signal: String,
    /// `--stop-timeout`, in seconds.
    pub stop_timeout: Option<u64>,
    /// `--label-file` then `--label` entries (the image's go under them).
    pub labels: BTreeMap<String, String>,
    /// The anonymous volumes made for the image's Volumes (bound in by
    /// entries of `volumes`).
    pub anonymous_volumes: Vec<VolumeMount>,
    /// `-v NAME:...` as given.
    pub named: Vec<NamedVolume>,
    /// The named volumes once made or found (bound in by entries of
    /// `volumes`).
    pub named_volumes: Vec<VolumeMount>,
    /// Where the output of a detached run goes (`--log-driver`).
    pub log: LogDriver,
    /// `--tmpfs`.
    pub tmpfs: Vec<Tmpfs>,
    /// `--ulimit`, one per resource.
    pub ulimits: Vec<Ulimit>,
}

/// The image a container is made from.
#[derive(Debug, Clone)]
pub struct Image {
    pub id: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    /// Layer directories, bottom first (the runtime's init layer on top).
    pub layers: Vec<PathBuf>,
}

/// What the host contributes.
#[derive(Debug, Clone)]
pub struct Host {
    /// The host's name, for `--network host`.
    pub hostname: String,
    /// Every device node of the host, for `--privileged`.
    pub devices: Vec<DeviceNode>,
    /// The architecture and kernel seccomp profiles are resolved for.
    pub seccomp: seccomp::Host,
    /// Where container roots are mounted (the spec's `root.path`).
    pub mountpoint: PathBuf,
}

/// The command, by docker's rules: the entrypoint (`--entrypoint`, or the
/// image's), then the arguments after the image name or, when there are
/// none, the image's Cmd — unless `--entrypoint` was given, which drops it.
pub fn command(request: &Request, image: &Image) -> Vec<String> {
    let (entrypoint, image_cmd) = match &request.entrypoint {
        Some(e) if e.is_empty() => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.clone()], Vec::new()),
        None => (image.entrypoint.clone(), image.cmd.clone()),
    };
    let args = if request.command.is_empty() {
        image_cmd
    } else {
        request.command.clone()
    };
    entrypoint.into_iter().chain(args).collect()
}

/// The spec and configuration of container `id`, as `run` would make it
/// from `request`, running as `user` (resolved against the image).
pub fn build(
    id: &str,
    request: &Request,
    image: &Image,
    user: &User,
    host: &Host,
) -> Result<(Spec, ContainerConfig)> {
    let cmd = command(request, image);
    if cmd.is_empty() {
        bail!(
            "no command specified: the image {} has none, give one after the image name",
            request.image
        );
    }
    let hostname = match (&request.hostname, &request.network) {
        (Some(h), _) => h.clone(),
        (None, Network::Host) => host.hostname.clone(),
        (None, _) => id[..12].to_string(),
    };
    let home = match &user.home {
        Some(home) => home.clone(),
        None if user.identity.uid == 0 => "/root".to_string(),
        None => "/".to_string(),
    };
    let mut env = vec![
        format!("PATH={}", tinydocker_engine::DEFAULT_PATH),
        format!("HOSTNAME={hostname}"),
        format!("HOME={home}"),
    ];
    for e in image.env.iter().chain(&request.env) {
        set_env(&mut env, e.clone());
    }
    let workdir = request
        .workdir
        .clone()
        .unwrap_or_else(|| match image.working_dir.as_str() {
            "" => "/".to_string(),
            dir => dir.to_string(),
        });
    let security = &request.security;

    // Built from the defaults of oci-spec's types, with every field they
    // fill in that tinydocker does not want cleared (their rlimits, their
    // masked paths, their annotations).
    let mut spec_user = oci_spec::runtime::User::default();
    spec_user.set_uid(user.identity.uid);
    spec_user.set_gid(user.identity.gid);
    spec_user.set_additional_gids(
        (!user.identity.groups.is_empty()).then(|| user.identity.groups.clone()),
    );
    let mut process = Process::default();
    process.set_terminal(Some(request.tty));
    process.set_user(spec_user);
    process.set_args(Some(cmd));
    process.set_env(Some(env));
    process.set_cwd(workdir.into());
    process.set_capabilities(Some(spec_security::capsets_to_spec(&CapSets::plain(
        security.caps,
    ))));
    process.set_no_new_privileges(Some(security.no_new_privileges));
    process.set_rlimits(
        (!request.ulimits.is_empty())
            .then(|| request.ulimits.iter().map(Ulimit::to_rlimit).collect()),
    );

    let mut mounts = defaults::standard_mounts(security.privileged);
    for v in &request.volumes {
        mounts.push(defaults::volume(&v.source, &v.target, v.read_only));
    }
    for t in &request.tmpfs {
        if request.volumes.iter().any(|v| v.target == t.target) {
            bail!("Duplicate mount point: {}", t.target);
        }
        mounts.push(t.to_mount());
    }

    // --device nodes come last: one at a host device's path replaces it.
    let mut devices = if security.privileged {
        host.devices.clone()
    } else {
        Vec::new()
    };
    for (_, node) in &security.devices {
        devices.retain(|n| n.path != node.path);
        devices.push(node.clone());
    }
    let mut linux_resources = resources::resources_to_spec(&request.resources, None);
    let devices_asked: Vec<_> = security
        .devices
        .iter()
        .map(|(origin, node)| (node.clone(), origin.permissions.clone()))
        .collect();
    linux_resources.set_devices(Some(resources::device_rules_to_spec(
        &defaults::device_rules(security.privileged, &devices_asked),
    )));

    let mut linux = Linux::default();
    linux.set_namespaces(Some(defaults::namespaces(request.network == Network::Host)));
    linux.set_cgroups_path(Some(PathBuf::from(format!(
        "{}/{id}",
        request.cgroup_parent
    ))));
    linux.set_resources(Some(linux_resources));
    linux.set_devices((!devices.is_empty()).then(|| {
        devices
            .iter()
            .map(tinydocker_engine::spec::device_to_spec)
            .collect()
    }));
    let (masked, readonly) = if security.privileged {
        (None, None)
    } else {
        (
            Some(MASKED_PATHS.map(String::from).to_vec()),
            Some(READONLY_PATHS.map(String::from).to_vec()),
        )
    };
    linux.set_masked_paths(masked);
    linux.set_readonly_paths(readonly);
    linux.set_sysctl((request.network != Network::Host).then(defaults::netns_sysctls));
    if security.seccomp != SeccompChoice::Unconfined {
        let resolved = match &security.profile {
            Some(profile) => seccomp::resolve_for(profile, &security.caps, &host.seccomp)?,
            None => seccomp::resolve_default(&security.caps, &host.seccomp),
        };
        linux.set_seccomp(Some(spec_seccomp::seccomp_to_spec(resolved)));
    }

    let mut root = Root::default();
    root.set_path(host.mountpoint.clone());
    root.set_readonly(Some(request.read_only));
    let mut spec = Spec::default();
    spec.set_version(OCI_VERSION.to_string());
    spec.set_root(Some(root));
    spec.set_hostname(Some(hostname));
    spec.set_mounts(Some(mounts));
    spec.set_process(Some(process));
    spec.set_linux(Some(linux));
    spec.set_annotations(None);

    let config = ContainerConfig {
        id: id.to_string(),
        name: request.name.clone().unwrap_or_default(),
        image: request.image.clone(),
        image_id: image.id.clone(),
        rootfs: Rootfs::Layers(image.layers.clone()),
        created: 0,
        extra_networks: Vec::new(),
        bridge: match &request.network {
            Network::Bridge(network) => Some(BridgeRequest {
                network: network.clone(),
                ip: request.ip,
                ports: request.ports.clone(),
                aliases: request.aliases.clone(),
            }),
            _ => None,
        },
        etc_files: Some(EtcConfig {
            dns: request.dns.clone(),
            add_hosts: request.add_hosts.clone(),
        }),
        restart: request.restart.clone(),
        auto_remove: request.auto_remove,
        interactive: request.interactive,
        init: request.init,
        log: request.log,
        origin: Origin {
            network_mode: request.network_mode.clone(),
            privileged: security.privileged,
            cap_add: security.cap_add.clone(),
            cap_drop: security.cap_drop.clone(),
            security_opt: security.security_opt.clone(),
            user: security.user.clone(),
            group_add: security.group_add.clone(),
            devices: security.devices.iter().map(|(o, _)| o.clone()).collect(),
            seccomp: security.seccomp.describe(),
            tmpfs: request
                .tmpfs
                .iter()
                .map(|t| (t.target.clone(), t.given.clone()))
                .collect(),
        },
        bundle: None,
        meta: Meta {
            stop_signal: request.stop_signal.clone(),
            stop_timeout: request.stop_timeout,
            labels: request.labels.clone(),
            volumes: request.anonymous_volumes.clone(),
            named_volumes: request.named_volumes.clone(),
            ..Meta::default()
        },
    };
    Ok((spec, config))
}

#[cfg(test)]
mod tests;
