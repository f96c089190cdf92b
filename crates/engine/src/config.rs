//! What the engine needs beside a container's OCI runtime spec: where its
//! root filesystem comes from, its network attachment and published
//! ports, its restart policy, its logs, whether it is removed at exit —
//! the things an OCI runtime spec has no word for, as docker keeps them in
//! its HostConfig beside the spec it hands runc.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tinydocker_net::PortMapping;

use crate::error::{invalid, Result};

/// The engine's own configuration of a container, fixed at creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// 64 hex digits ([`crate::new_id`]).
    pub id: String,
    /// Unique among the containers of the state root; docker's rule
    /// ([`crate::validate_name`]). Empty: a generated `adjective_surname`.
    pub name: String,
    /// The image as the user named it (for `ps`), and its id.
    pub image: String,
    /// The image's id (`sha256:...`): what `rmi` checks is unused.
    pub image_id: String,
    /// Where its root filesystem comes from.
    pub rootfs: Rootfs,
    /// Nanoseconds since the epoch; set by the engine at creation.
    #[serde(default)]
    pub created: u128,
    /// A place on a bridge network (the spec must ask for a new network
    /// namespace). None: the engine attaches nothing.
    #[serde(default)]
    pub bridge: Option<BridgeRequest>,
    /// The networks it was connected to beside its first one (`network
    /// connect`), attached at each start after it, without a default route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_networks: Vec<BridgeRequest>,
    /// The container's `/etc/hosts`, `/etc/hostname` and
    /// `/etc/resolv.conf`, written by the engine and bound over the
    /// image's. None: the image's stay (an OCI bundle brings its own).
    #[serde(default)]
    pub etc_files: Option<EtcConfig>,
    /// Whether its supervisor starts it again when it exits.
    #[serde(default)]
    pub restart: RestartPolicy,
    /// Removed when it exits (`--rm`). Its writable layer is then a tmpfs
    /// of its own mount namespace.
    #[serde(default)]
    pub auto_remove: bool,
    /// The command's stdin stays open (`-i`); otherwise it is `/dev/null`
    /// unless the caller hands one over.
    #[serde(default)]
    pub interactive: bool,
    /// A minimal init runs as pid 1, forwards signals and reaps orphans,
    /// and forks the command (`--init`).
    #[serde(default)]
    pub init: bool,
    /// Where the output of a detached run goes.
    #[serde(default)]
    pub log: LogDriver,
    /// How the container was asked for, in docker's terms, where the spec
    /// does not say (for `inspect`).
    #[serde(default)]
    pub origin: Origin,
    /// An OCI bundle's container (an OCI runtime's `create`): no
    /// supervisor records its exit, the caller that created it waits for
    /// its init. Its hooks see its name as the id and this directory as
    /// the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<PathBuf>,
    /// How it is stopped, its labels and anonymous volumes: docker's
    /// Config fields the spec has no word for.
    #[serde(default)]
    pub meta: Meta,
}

/// A container's stop signal and timeout, labels and anonymous volumes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Meta {
    /// The signal `stop` and `restart` send first (`--stop-signal`, else
    /// the image's StopSignal), as given; empty: SIGTERM.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    /// Seconds `stop` waits before SIGKILL (`--stop-timeout`); None: 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    /// The image's labels with `--label` and `--label-file` over them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Its anonymous volumes ([`crate::Engine::create_volume`]), bound in
    /// by its spec's mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeMount>,
    /// Its named volumes (`-v NAME:PATH`, [`crate::Engine::use_named_volume`]),
    /// bound in by its spec's mounts; kept when it is removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named_volumes: Vec<VolumeMount>,
    /// docker's `StdinOnce`: the first attach that takes the stdin of an
    /// interactive detached container ends it when it closes its own
    /// (`docker run -i`); otherwise the stdin stays open for later
    /// attaches (`run -d -i`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stdin_once: bool,
}

/// A volume of a container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeMount {
    /// The volume's name (64 hex digits for an anonymous one).
    pub name: String,
    /// Where it is in the container.
    pub destination: String,
}

impl Meta {
    /// The signal `stop` sends first.
    pub fn stop_signal(&self) -> i32 {
        match self.stop_signal.as_str() {
            "" => libc::SIGTERM,
            text => crate::parse_signal(text).unwrap_or(libc::SIGTERM),
        }
    }

    /// Whether its labels pass docker's `label=KEY` and `label=KEY=VALUE`
    /// filters (all of them).
    pub fn has_labels(&self, filters: &[String]) -> bool {
        labels_match(&self.labels, filters)
    }

    /// How long `stop` waits before SIGKILL when not told.
    pub fn stop_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.stop_timeout.unwrap_or(10))
    }
}

/// Where a container's root filesystem comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Rootfs {
    /// Image layer directories, bottom first, under an overlay whose
    /// writable layer is the container's own (on disk in its directory,
    /// or a tmpfs with `auto_remove`). The spec's `root.path` is where
    /// it is mounted, in the container's mount namespace only.
    Layers(Vec<PathBuf>),
    /// The spec's `root.path`, a directory bound as the root as it is
    /// (an OCI bundle's `rootfs`).
    Path,
}

/// A bridge network place, as asked for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BridgeRequest {
    /// `bridge` (the default network, made on first use) or a network
    /// made with [`crate::Engine::create_network`].
    pub network: String,
    /// An address of the network's subnet (`--ip`); None: the next free one.
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    /// Published ports.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// Its names on the network beside its name and short id
    /// (`--network-alias`): a user network's embedded DNS server answers
    /// them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// What the engine writes into `/etc` for the container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EtcConfig {
    /// Name servers for `/etc/resolv.conf`; empty: the host's.
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    /// Extra `/etc/hosts` entries (`--add-host NAME:IP`).
    #[serde(default)]
    pub add_hosts: Vec<(String, Ipv4Addr)>,
}

/// Where the output of a detached container goes.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    /// docker's json-file format, in `containers/<id>/container.log`.
    #[default]
    JsonFile,
    /// Read and dropped.
    None,
}

/// docker's restart policies: `no`, `on-failure[:N]`, `always`,
/// `unless-stopped`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// "no", "on-failure", "always" or "unless-stopped" (docker's names).
    pub name: String,
    /// on-failure's limit of restarts (0: none).
    #[serde(default)]
    pub maximum_retry_count: u32,
}

impl RestartPolicy {
    /// `no`, `on-failure[:N]`, `always` or `unless-stopped`.
    ///
    /// ```
    /// let policy = tinydocker_engine::RestartPolicy::parse("on-failure:3")?;
    /// assert!(policy.restarts(1, 2, false) && !policy.restarts(1, 3, false));
    /// # Ok::<(), tinydocker_engine::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<RestartPolicy> {
        let (name, count) = match text.split_once(':') {
            Some((name, count)) => (name, Some(count)),
            None => (text, None),
        };
        let maximum_retry_count = match (name, count) {
            ("on-failure", Some(n)) => n.parse::<u32>().map_err(|_| {
                invalid!("invalid restart policy {text:?}: the maximum retry count must be a number, 0 or more")
            })?,
            (_, None) => 0,
            (_, Some(_)) => {
                return Err(invalid!(
                "invalid restart policy {text:?}: maximum retry count can only be used with 'on-failure'"
            ))
            }
        };
        match name {
            "no" | "on-failure" | "always" | "unless-stopped" => Ok(RestartPolicy {
                name: name.to_string(),
                maximum_retry_count,
            }),
            _ => Err(invalid!(
                "invalid restart policy {text:?}: expected no, on-failure[:N], always or unless-stopped"
            )),
        }
    }

    /// No restarts at all.
    pub fn is_none(&self) -> bool {
        matches!(self.name.as_str(), "" | "no")
    }

    /// Whether a run that ended with `code` is restarted, after
    /// `restarts` restarts so far. A container stopped by the user
    /// (`stop`, `kill`) never is.
    pub fn restarts(&self, code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                code != 0 && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
            _ => false,
        }
    }
}

/// How a container was asked for, in docker's terms, where its spec does
/// not say: what `inspect` shows as docker's HostConfig and Config.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Origin {
    /// docker's NetworkMode: `bridge`, `none`, `host` or a network's name.
    #[serde(default)]
    pub network_mode: String,
    /// `--privileged`.
    #[serde(default)]
    pub privileged: bool,
    /// `--cap-add` as given.
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// `--cap-drop` as given.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// `--security-opt` as given.
    #[serde(default)]
    pub security_opt: Vec<String>,
    /// `--user` as given ("" for the image's default).
    #[serde(default)]
    pub user: String,
    /// `--group-add` as given.
    #[serde(default)]
    pub group_add: Vec<String>,
    /// `--device` as given.
    #[serde(default)]
    pub devices: Vec<DeviceOrigin>,
    /// "default", "unconfined" or a profile file's path.
    #[serde(default)]
    pub seccomp: String,
    /// `--tmpfs`: each path and its options as given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tmpfs: BTreeMap<String, String>,
}

/// Whether `labels` pass every one of docker's label filters: `KEY` (the
/// label is there) or `KEY=VALUE` (with that value).
///
/// ```
/// let labels = [("team".to_string(), "core".to_string())].into();
/// assert!(tinydocker_engine::labels_match(&labels, &["team=core".into()]));
/// assert!(!tinydocker_engine::labels_match(&labels, &["team".into(), "tier".into()]));
/// ```
pub fn labels_match(labels: &BTreeMap<String, String>, filters: &[String]) -> bool {
    filters.iter().all(|f| match f.split_once('=') {
        Some((key, value)) => labels.get(key).is_some_and(|v| v == value),
        None => labels.contains_key(f),
    })
}

/// A `--device HOST[:CONTAINER][:PERMISSIONS]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceOrigin {
    /// The node on the host.
    pub host: PathBuf,
    /// Where it is in the container.
    pub container: String,
    /// A subset of "rwm".
    pub permissions: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        let p = |t: &str| RestartPolicy::parse(t).unwrap();
        assert!(!p("no").restarts(1, 0, false));
        assert!(p("always").restarts(0, 99, false));
        assert!(p("unless-stopped").restarts(0, 0, false));
        assert!(!p("always").restarts(1, 0, true), "stopped by the user");
        let limited = p("on-failure:2");
        assert_eq!(limited.maximum_retry_count, 2);
        assert!(limited.restarts(3, 1, false));
        assert!(!limited.restarts(3, 2, false));
        assert!(!limited.restarts(0, 0, false), "a success is no failure");
        assert!(p("on-failure").restarts(1, 1000, false));
        for bad in ["", "sometimes", "always:1", "on-failure:-1", "on-failure:x"] {
            assert!(RestartPolicy::parse(bad).is_err(), "{bad}");
        }
    }
}
