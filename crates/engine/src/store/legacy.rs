//! Records written before the engine (tinydocker up to d2d1d6b): `config`
//! held docker's flags as the command line had checked them, not a spec.
//! They are read into the spec `run` makes from the same flags, so the
//! containers of a host that upgrades are still listed, stopped, started,
//! execed into and removed; the first write of a record (a start, an exit)
//! writes it in the new form.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Linux, Process, Root, Spec, User as SpecUser};
use serde::Deserialize;
use tinydocker_cgroups::Resources;
use tinydocker_net::PortMapping;
use tinydocker_security::caps::{self, CapSet, CapSets};
use tinydocker_security::{seccomp, user};

use super::record::{State, Status};
use crate::config::{
    BridgeRequest, ContainerConfig, DeviceOrigin, EtcConfig, LogDriver, Origin, RestartPolicy,
    Rootfs,
};
use crate::container::exec::image_file;
use crate::error::Result;
use crate::network::NetSettings;
use crate::spec::{defaults, resources, security as spec_security};

#[derive(Deserialize)]
pub(crate) struct Record {
    config: Config,
    state: OldState,
}

#[derive(Deserialize)]
struct Volume {
    source: PathBuf,
    target: String,
    read_only: bool,
}

#[derive(Deserialize)]
struct Config {
    id: String,
    name: String,
    image: String,
    image_id: String,
    layers: Vec<PathBuf>,
    cmd: Vec<String>,
    env: Vec<String>,
    workdir: String,
    hostname: String,
    volumes: Vec<Volume>,
    read_only: bool,
    network: String,
    interactive: bool,
    auto_remove: bool,
    #[serde(default)]
    init: bool,
    #[serde(default)]
    tty: bool,
    created: u128,
    #[serde(default)]
    resources: Resources,
    #[serde(default)]
    cgroup: String,
    #[serde(default)]
    net: Option<NetSettings>,
    #[serde(default)]
    security: Security,
    #[serde(default)]
    dns: Vec<Ipv4Addr>,
    #[serde(default)]
    add_hosts: Vec<(String, Ipv4Addr)>,
    #[serde(default)]
    restart: RestartPolicy,
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Seccomp {
    #[default]
    Default,
    Unconfined,
    Profile(PathBuf),
}

#[derive(Deserialize)]
struct Security {
    privileged: bool,
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
    capabilities: Vec<String>,
    no_new_privileges: bool,
    seccomp: Seccomp,
    security_opt: Vec<String>,
    devices: Vec<DeviceOrigin>,
    user: String,
    group_add: Vec<String>,
    #[serde(default)]
    device_cgroup: String,
    #[serde(default)]
    seccomp_profile: Option<String>,
}

impl Default for Security {
    /// What a record written before these flags existed meant: nothing
    /// restricted.
    fn default() -> Self {
        Security {
            privileged: true,
            cap_add: vec![],
            cap_drop: vec![],
            capabilities: CapSet::ALL.names().iter().map(|s| s.to_string()).collect(),
            no_new_privileges: false,
            seccomp: Seccomp::Unconfined,
            security_opt: vec![],
            devices: vec![],
            user: String::new(),
            group_add: vec![],
            device_cgroup: String::new(),
            seccomp_profile: None,
        }
    }
}

#[derive(Deserialize)]
struct OldState {
    status: Status,
    #[serde(default)]
    pid: i32,
    #[serde(default)]
    pid_start: u64,
    #[serde(default)]
    exit_code: i32,
    #[serde(default)]
    error: String,
    #[serde(default)]
    started_at: u128,
    #[serde(default)]
    finished_at: u128,
    #[serde(default)]
    oom_killed: bool,
    #[serde(default)]
    net_released: bool,
    #[serde(default)]
    runtime_pid: i32,
    #[serde(default)]
    runtime_start: u64,
    #[serde(default)]
    restart_count: u32,
    #[serde(default)]
    stopped_by_user: bool,
    #[serde(default)]
    boot_id: String,
}

impl Record {
    /// The record in today's form: the spec `run` makes from the same
    /// flags, on this host (its seccomp filter resolved for its
    /// capabilities, its devices looked up), and the engine's
    /// configuration and state.
    pub(crate) fn upgrade(self, mountpoint: &Path) -> Result<(Spec, ContainerConfig, State)> {
        let Record {
            config: c,
            state: s,
        } = self;
        let sec = &c.security;
        let host_network = c.network == "host";
        let caps = CapSet(
            CapSet::with_changes(CapSet(0), &sec.capabilities, &[])
                .unwrap_or_default()
                .0
                & caps::current_bounding().0,
        );
        let passwd = image_file(&c.layers, "passwd");
        let group = image_file(&c.layers, "group");
        let identity = user::resolve(&sec.user, &sec.group_add, &passwd, &group)?.identity;

        let mut spec_user = SpecUser::default();
        spec_user.set_uid(identity.uid);
        spec_user.set_gid(identity.gid);
        spec_user.set_additional_gids((!identity.groups.is_empty()).then_some(identity.groups));
        let mut process = Process::default();
        process.set_terminal(Some(c.tty));
        process.set_user(spec_user);
        process.set_args(Some(c.cmd));
        process.set_env(Some(c.env));
        process.set_cwd(c.workdir.into());
        process.set_capabilities(Some(spec_security::capsets_to_spec(&CapSets::plain(caps))));
        process.set_no_new_privileges(Some(sec.no_new_privileges));
        process.set_rlimits(None);

        let mut mounts = defaults::standard_mounts(sec.privileged);
        for v in &c.volumes {
            mounts.push(defaults::volume(&v.source, &v.target, v.read_only));
        }
        let mut nodes = Vec::new();
        if sec.privileged {
            defaults::host_devices(Path::new("/dev"), &mut nodes);
        }
        let mut asked = Vec::new();
        for d in &sec.devices {
            // Looked up again, as each start of an older tinydocker did; one
            // gone from the host is left out (its start failed then too).
            if let Ok(node) = defaults::device_node(&d.host, &d.container) {
                nodes.retain(|n| n.path != node.path);
                nodes.push(node.clone());
                asked.push((node, d.permissions.clone()));
            }
        }
        let mut r = resources::resources_to_spec(&c.resources, None);
        r.set_devices(Some(resources::device_rules_to_spec(
            &defaults::device_rules(sec.privileged, &asked),
        )));
        let mut linux = Linux::default();
        linux.set_namespaces(Some(defaults::namespaces(host_network)));
        linux.set_cgroups_path((!c.cgroup.is_empty()).then(|| c.cgroup.clone().into()));
        linux.set_resources(Some(r));
        linux.set_devices(
            (!nodes.is_empty()).then(|| nodes.iter().map(crate::spec::device_to_spec).collect()),
        );
        let (masked, readonly) = if sec.privileged {
            (None, None)
        } else {
            (
                Some(tinydocker_fs::MASKED_PATHS.map(String::from).to_vec()),
                Some(tinydocker_fs::READONLY_PATHS.map(String::from).to_vec()),
            )
        };
        linux.set_masked_paths(masked);
        linux.set_readonly_paths(readonly);
        linux.set_sysctl((!host_network).then(defaults::netns_sysctls));
        let host = seccomp::Host::current()?;
        let resolved = match (&sec.seccomp, &sec.seccomp_profile) {
            (Seccomp::Unconfined, _) => None,
            (Seccomp::Default, _) => Some(seccomp::resolve_default(&caps, &host)),
            (Seccomp::Profile(_), Some(text)) => Some(seccomp::resolve_for(
                &seccomp::Profile::from_json(text)?,
                &caps,
                &host,
            )?),
            (Seccomp::Profile(path), None) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| crate::Error::io("read the seccomp profile", path, e))?;
                Some(seccomp::resolve_for(
                    &seccomp::Profile::from_json(&text)?,
                    &caps,
                    &host,
                )?)
            }
        };
        linux.set_seccomp(resolved.map(crate::spec::seccomp::seccomp_to_spec));

        let mut root = Root::default();
        root.set_path(mountpoint.to_path_buf());
        root.set_readonly(Some(c.read_only));
        let mut spec = Spec::default();
        spec.set_version("1.2.0".to_string());
        spec.set_root(Some(root));
        spec.set_hostname(Some(c.hostname));
        spec.set_mounts(Some(mounts));
        spec.set_process(Some(process));
        spec.set_linux(Some(linux));
        spec.set_annotations(None);

        let bridged = !matches!(c.network.as_str(), "none" | "host");
        let ports: Vec<PortMapping> = c.net.as_ref().map(|n| n.ports.clone()).unwrap_or_default();
        let config = ContainerConfig {
            id: c.id,
            name: c.name,
            image: c.image,
            image_id: c.image_id,
            rootfs: Rootfs::Layers(c.layers),
            created: c.created,
            extra_networks: Vec::new(),
            bridge: bridged.then(|| BridgeRequest {
                network: c.network.clone(),
                ip: None,
                ports,
                aliases: Vec::new(),
            }),
            etc_files: Some(EtcConfig {
                dns: c.dns,
                add_hosts: c.add_hosts,
            }),
            restart: c.restart,
            auto_remove: c.auto_remove,
            interactive: c.interactive,
            init: c.init,
            log: LogDriver::JsonFile,
            origin: Origin {
                network_mode: c.network,
                privileged: sec.privileged,
                cap_add: sec.cap_add.clone(),
                cap_drop: sec.cap_drop.clone(),
                security_opt: sec.security_opt.clone(),
                user: sec.user.clone(),
                group_add: sec.group_add.clone(),
                devices: sec.devices.clone(),
                seccomp: match &sec.seccomp {
                    Seccomp::Default => "default".to_string(),
                    Seccomp::Unconfined => "unconfined".to_string(),
                    Seccomp::Profile(p) => p.display().to_string(),
                },
                tmpfs: Default::default(),
            },
            bundle: None,
            meta: Default::default(),
        };
        let state = State {
            status: s.status,
            pid: s.pid,
            pid_start: s.pid_start,
            exit_code: s.exit_code,
            error: s.error,
            started_at: s.started_at,
            finished_at: s.finished_at,
            oom_killed: s.oom_killed,
            net_released: s.net_released,
            runtime_pid: s.runtime_pid,
            runtime_start: s.runtime_start,
            restart_count: s.restart_count,
            stopped_by_user: s.stopped_by_user,
            boot_id: s.boot_id,
            net: c.net,
            extra_nets: Vec::new(),
            device_cgroup: sec.device_cgroup.clone(),
            paused: false,
        };
        Ok((spec, config, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgraded(json: &str) -> (Spec, ContainerConfig, State) {
        let record: Record = serde_json::from_str(json).unwrap();
        record.upgrade(Path::new("/s/rootfs")).unwrap()
    }

    #[test]
    fn a_bridged_container_with_limits_volumes_and_a_restart_policy() {
        let (spec, config, state) = upgraded(include_str!("legacy-web.json"));
        assert_eq!(config.name, "web");
        assert_eq!(
            crate::spec::args(&spec).unwrap(),
            ["sleep".to_string(), "1000".to_string()]
        );
        assert_eq!(
            crate::spec::cgroup_path(&spec),
            format!("tinydocker/{}", config.id)
        );
        let r = spec.linux().as_ref().unwrap().resources().as_ref().unwrap();
        assert_eq!(
            resources::resources_from_spec(r).unwrap().memory,
            Some(64 << 20)
        );
        let bridge = config.bridge.as_ref().unwrap();
        assert_eq!(bridge.network, "bridge");
        assert_eq!(bridge.ports.len(), 1);
        assert_eq!(state.net.as_ref().unwrap().ip.to_string(), "10.88.0.2");
        assert_eq!(config.restart.name, "on-failure");
        assert_eq!(config.origin.cap_add, ["NET_ADMIN"]);
        let caps = spec_security::caps_from_spec(
            spec.process()
                .as_ref()
                .unwrap()
                .capabilities()
                .as_ref()
                .unwrap()
                .bounding()
                .as_ref(),
        )
        .unwrap();
        assert!(caps.contains_name("CAP_NET_ADMIN"));
        assert!(spec.linux().as_ref().unwrap().seccomp().is_some());
        let volume = spec.mounts().as_ref().unwrap().last().unwrap();
        assert_eq!(volume.destination(), Path::new("/data"));
        assert_eq!(
            volume.options().as_deref().unwrap(),
            ["rbind".to_string(), "rro".to_string()]
        );
        // And the engine takes it.
        crate::spec::check_supported(&spec).unwrap();
    }

    #[test]
    fn an_exited_unconfined_container_of_another_user() {
        let (spec, config, state) = upgraded(include_str!("legacy-done.json"));
        assert_eq!(state.status, Status::Exited);
        assert!(config.bridge.is_none());
        assert_eq!(config.origin.network_mode, "none");
        assert_eq!(config.origin.seccomp, "unconfined");
        assert!(spec.linux().as_ref().unwrap().seccomp().is_none());
        let user = spec.process().as_ref().unwrap().user();
        assert_eq!((user.uid(), user.gid()), (1000, 1000));
    }
}
