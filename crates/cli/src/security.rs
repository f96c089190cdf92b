//! `run`'s security flags (docker's names): `--privileged`, `--cap-add`,
//! `--cap-drop`, `--security-opt`, `--device`, `--user`, `--group-add`;
//! what a container is allowed, as recorded, and what the child applies.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use tinydocker_cgroups::{DeviceRule, DeviceType};
use tinydocker_fs::{DeviceNode, NodeKind, MASKED_PATHS, READONLY_PATHS};
use tinydocker_security::caps::{self, CapSet, Privileges};
use tinydocker_security::{seccomp, user};

#[derive(Debug, Args, Default, Clone)]
pub struct SecurityArgs {
    /// Give extended privileges to this container: every capability, every
    /// host device, no seccomp filter, no masked paths
    #[arg(long)]
    pub privileged: bool,

    /// Add Linux capabilities (NAME or CAP_NAME, or ALL)
    #[arg(long = "cap-add", value_name = "CAPABILITY")]
    pub cap_add: Vec<String>,

    /// Drop Linux capabilities (NAME or CAP_NAME, or ALL)
    #[arg(long = "cap-drop", value_name = "CAPABILITY")]
    pub cap_drop: Vec<String>,

    /// Security options: no-new-privileges[=true|false],
    /// seccomp=unconfined|PROFILE.json
    #[arg(long = "security-opt", value_name = "OPTION")]
    pub security_opt: Vec<String>,

    /// Add a host device to the container (HOST[:CONTAINER][:rwm])
    #[arg(long = "device", value_name = "DEVICE")]
    pub device: Vec<String>,

    /// Username or UID, with an optional group (USER[:GROUP])
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// Add additional groups to join
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
}

/// A `--device`, as given and as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub host: PathBuf,
    pub container: String,
    /// A subset of "rwm".
    pub permissions: String,
}

/// The seccomp filter a container runs under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SeccompChoice {
    /// tinydocker's default profile (docker's semantics).
    #[default]
    Default,
    Unconfined,
    /// A docker-format profile file, read at `run`.
    Profile(PathBuf),
}

/// What a container is allowed: recorded with its configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecurityConfig {
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// The resulting capability set, by name.
    pub capabilities: Vec<String>,
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
    /// `--security-opt` as given.
    pub security_opt: Vec<String>,
    pub devices: Vec<DeviceRecord>,
    /// `--user` as given ("" for the image's default, root).
    pub user: String,
    pub group_add: Vec<String>,
    /// Whether the device cgroup restricts the container ("enforced"), or
    /// why it cannot ("unavailable: ..."); "all devices allowed" when
    /// privileged.
    #[serde(default)]
    pub device_cgroup: String,
    /// A `seccomp=PROFILE.json` file's content as `run` read it: `exec`
    /// applies the same filter even if the file changed or went since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_profile: Option<String>,
}

impl Default for SecurityConfig {
    /// What a record written before these flags existed meant: nothing
    /// restricted.
    fn default() -> Self {
        SecurityConfig {
            privileged: true,
            cap_add: vec![],
            cap_drop: vec![],
            capabilities: CapSet::ALL.names().iter().map(|s| s.to_string()).collect(),
            no_new_privileges: false,
            seccomp: SeccompChoice::Unconfined,
            security_opt: vec![],
            devices: vec![],
            user: String::new(),
            group_add: vec![],
            device_cgroup: String::new(),
            seccomp_profile: None,
        }
    }
}

/// The checked flags, before the image is known.
#[derive(Debug)]
pub struct Checked {
    pub config: SecurityConfig,
    caps: CapSet,
    /// tinydocker's own bounding set, read once.
    available: CapSet,
    /// A profile file, parsed, and its bytes.
    profile: Option<(seccomp::Profile, Vec<u8>)>,
    devices: Vec<(DeviceRecord, DeviceNode)>,
}

fn parse_bool(option: &str, value: &str) -> Result<bool> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => bail!("invalid --security-opt {option:?}: expected true or false"),
    }
}

/// Check every security flag: nothing is created on bad input.
pub fn check(args: &SecurityArgs) -> Result<Checked> {
    let base = if args.privileged {
        CapSet::ALL
    } else {
        CapSet::default_set()
    };
    let caps = CapSet::with_changes(base, &args.cap_add, &args.cap_drop)
        .map_err(|e| anyhow!("invalid capability: {e}"))?;
    // ALL means all that tinydocker itself may hand on; one named
    // explicitly that it does not have is an error.
    let available = caps::current_bounding();
    let named = CapSet::with_changes(CapSet(0), &args.cap_add, &[]).unwrap_or_default();
    let missing = CapSet(named.0 & !available.0);
    if !args.cap_add.iter().any(|c| c.eq_ignore_ascii_case("all")) && missing.0 != 0 {
        bail!(
            "capability {} is not available: tinydocker's own bounding set does not have it",
            missing.names().join(", ")
        );
    }
    let caps = CapSet(caps.0 & available.0);
    let mut no_new_privileges = !args.privileged;
    let mut choice = if args.privileged {
        SeccompChoice::Unconfined
    } else {
        SeccompChoice::Default
    };
    for option in &args.security_opt {
        // docker accepts KEY=VALUE and the older KEY:VALUE.
        let (key, value) = match option.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (option.as_str(), None),
        };
        match (key, value) {
            ("no-new-privileges", None) => no_new_privileges = true,
            ("no-new-privileges", Some(v)) => no_new_privileges = parse_bool(option, v)?,
            ("seccomp", Some("unconfined")) => choice = SeccompChoice::Unconfined,
            ("seccomp", Some("builtin" | "default")) => choice = SeccompChoice::Default,
            ("seccomp", Some(path)) if !path.is_empty() => {
                choice = SeccompChoice::Profile(PathBuf::from(path))
            }
            // No AppArmor or SELinux here: turning them off asks for nothing.
            ("apparmor", Some("unconfined")) | ("label", Some("disable")) => {}
            ("apparmor" | "label", _) => bail!(
                "invalid --security-opt {option:?}: tinydocker has no AppArmor or SELinux support"
            ),
            _ => bail!(
                "invalid --security-opt {option:?}: expected no-new-privileges[=true|false] or seccomp=unconfined|PROFILE.json"
            ),
        }
    }
    // A profile file is read now, so a bad one stops the run before
    // anything exists. (The default one is only built when its compiled
    // program is not in the cache.)
    let profile = match &choice {
        SeccompChoice::Unconfined | SeccompChoice::Default => None,
        SeccompChoice::Profile(path) => {
            let bytes = fs::read(path).map_err(|e| {
                anyhow!(
                    "opening seccomp profile {}: {}",
                    path.display(),
                    crate::errors::io_text(&e)
                )
            })?;
            Some(parse_profile(path, bytes)?)
        }
    };
    let devices = args
        .device
        .iter()
        .map(|d| parse_device(d))
        .collect::<Result<Vec<_>>>()?;
    if let Some(u) = &args.user {
        if u.is_empty() {
            bail!("invalid --user \"\": expected USER[:GROUP]");
        }
    }
    Ok(Checked {
        config: SecurityConfig {
            privileged: args.privileged,
            cap_add: args.cap_add.clone(),
            cap_drop: args.cap_drop.clone(),
            capabilities: caps.names().iter().map(|s| s.to_string()).collect(),
            no_new_privileges,
            seccomp: choice,
            security_opt: args.security_opt.clone(),
            devices: devices.iter().map(|(r, _)| r.clone()).collect(),
            user: args.user.clone().unwrap_or_default(),
            group_add: args.group_add.clone(),
            device_cgroup: String::new(),
            seccomp_profile: profile
                .as_ref()
                .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned()),
        },
        caps,
        available,
        profile,
        devices,
    })
}

fn parse_profile(path: &Path, bytes: Vec<u8>) -> Result<(seccomp::Profile, Vec<u8>)> {
    let text = String::from_utf8_lossy(&bytes);
    let parsed = seccomp::Profile::from_json(&text)
        .with_context(|| format!("decoding seccomp profile {}", path.display()))?;
    Ok((parsed, bytes))
}

fn node_of(host: &Path, container: &str) -> Result<DeviceNode> {
    let meta = fs::metadata(host).map_err(|e| {
        anyhow!(
            "error gathering device information while adding custom device {:?}: {}",
            host.display().to_string(),
            crate::errors::io_text(&e)
        )
    })?;
    let kind = if meta.file_type().is_char_device() {
        NodeKind::Char
    } else if meta.file_type().is_block_device() {
        NodeKind::Block
    } else {
        bail!(
            "error gathering device information while adding custom device {:?}: not a device node",
            host.display().to_string()
        );
    };
    let rdev = meta.rdev();
    Ok(DeviceNode {
        path: container.to_string(),
        kind,
        major: libc::major(rdev),
        minor: libc::minor(rdev),
        mode: meta.mode() & 0o777,
        uid: meta.uid(),
        gid: meta.gid(),
    })
}

fn is_permissions(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

/// `HOST[:CONTAINER][:PERMISSIONS]`, as docker reads it.
fn parse_device(spec: &str) -> Result<(DeviceRecord, DeviceNode)> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, container, permissions) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_permissions(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => bail!("invalid device specification: {spec:?}: expected HOST[:CONTAINER][:rwm]"),
    };
    if !is_permissions(permissions) {
        bail!("invalid device specification: {spec:?}: bad cgroup permissions {permissions:?} (expected a combination of r, w and m)");
    }
    for path in [host, container] {
        if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
            bail!("invalid device specification: {spec:?}: {path:?} must be an absolute path without '..'");
        }
    }
    // Where a node cannot go: over the root or /dev, or into a filesystem
    // the runtime mounts (read-only, or the container's own devpts, shm,
    // mqueue).
    let target = container.trim_end_matches('/');
    let under = |dir: &str| target == dir || target.starts_with(&format!("{dir}/"));
    if target.is_empty()
        || target == "/dev"
        || ["/proc", "/sys", "/dev/pts", "/dev/shm", "/dev/mqueue"]
            .iter()
            .any(|d| under(d))
    {
        bail!("invalid device specification: {spec:?}: a device cannot be put at {container:?}");
    }
    let host_path = PathBuf::from(host);
    let node = node_of(&host_path, container)?;
    Ok((
        DeviceRecord {
            host: host_path,
            container: container.to_string(),
            permissions: permissions.to_string(),
        },
        node,
    ))
}

/// Every device node of the host's `/dev`, for `--privileged` (what docker
/// gives): pseudo-terminals, shared memory and the like are the
/// container's own.
fn host_devices(dir: &Path, out: &mut Vec<DeviceNode>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        let name = entry.file_name();
        if ft.is_dir() {
            let skip = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
            if !skip.iter().any(|s| name == *s) {
                host_devices(&path, out);
            }
        } else if (ft.is_char_device() || ft.is_block_device())
            // The container's own: its console, and the ptmx of its devpts.
            && path != Path::new("/dev/console")
            && path != Path::new("/dev/ptmx")
        {
            if let Ok(node) = node_of(&path, &path.to_string_lossy()) {
                out.push(node);
            }
        }
    }
}

/// Read `etc/<name>` of the image as the container will see it: from the
/// top layer that has it, stopping at a whiteout. Symlinks are not followed
/// (they would resolve on the host).
fn image_file(layers: &[PathBuf], name: &str) -> String {
    for layer in layers.iter().rev() {
        let etc = layer.join("etc");
        match fs::symlink_metadata(&etc) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return String::new(),
            Err(_) => continue,
        }
        if etc.join(format!(".wh.{name}")).exists() {
            return String::new();
        }
        match fs::symlink_metadata(etc.join(name)) {
            Ok(m) if m.is_file() => return fs::read_to_string(etc.join(name)).unwrap_or_default(),
            Ok(_) => return String::new(),
            Err(_) => {}
        }
        if etc.join(".wh..wh..opq").exists() {
            return String::new();
        }
    }
    String::new()
}

/// What the child applies, and what the parent sets up for it.
pub struct Prepared {
    pub privileges: Privileges,
    pub seccomp: Option<seccomp::Filter>,
    /// Extra device nodes for the mount plan.
    pub nodes: Vec<DeviceNode>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub sys_writable: bool,
    /// The device cgroup's allow list.
    pub device_rules: Vec<DeviceRule>,
    /// From the user's passwd entry, for `HOME`.
    pub home: Option<String>,
}

fn device_rule(node: &DeviceNode, permissions: &str) -> DeviceRule {
    let kind = match node.kind {
        NodeKind::Char => DeviceType::Char,
        NodeKind::Block => DeviceType::Block,
    };
    DeviceRule::allow(
        kind,
        Some(node.major.into()),
        Some(node.minor.into()),
        permissions,
    )
}

/// What a process of the container runs under: for its init (`run`) and
/// for every process `exec` starts in it.
pub struct ProcessSecurity {
    pub privileges: Privileges,
    pub seccomp: Option<seccomp::Filter>,
    /// From the user's passwd entry, for `HOME`.
    pub home: Option<String>,
}

impl Checked {
    /// The recorded configuration of a container, checked again, to start
    /// another process under the same rules (`exec`): the same
    /// capabilities (within what this process may hand on), the same
    /// seccomp filter (a profile file's as recorded), no_new_privs and user.
    pub fn from_config(config: &SecurityConfig) -> Result<Checked> {
        let caps = CapSet::with_changes(CapSet(0), &config.capabilities, &[])
            .map_err(|e| anyhow!("the container's recorded capabilities: {e}"))?;
        let available = caps::current_bounding();
        let profile = match (&config.seccomp, &config.seccomp_profile) {
            (SeccompChoice::Profile(path), Some(text)) => {
                Some(parse_profile(path, text.clone().into_bytes())?)
            }
            // A record from before profiles were recorded: the file again.
            (SeccompChoice::Profile(path), None) => {
                let bytes = fs::read(path).map_err(|e| {
                    anyhow!(
                        "opening the container's seccomp profile {}: {}",
                        path.display(),
                        crate::errors::io_text(&e)
                    )
                })?;
                Some(parse_profile(path, bytes)?)
            }
            _ => None,
        };
        Ok(Checked {
            config: config.clone(),
            caps: CapSet(caps.0 & available.0),
            available,
            profile,
            devices: vec![],
        })
    }

    /// With the recorded `--device` nodes looked up again on the host (to
    /// start the container anew: `start`, a restart).
    pub fn with_devices(mut self) -> Result<Checked> {
        self.devices = self
            .config
            .devices
            .iter()
            .map(|d| Ok((d.clone(), node_of(&d.host, &d.container)?)))
            .collect::<Result<_>>()?;
        Ok(self)
    }

    /// Resolve the user against the image and compile the seccomp filter
    /// (from the cache under `state_root` when it was compiled before).
    pub fn process(&self, layers: &[PathBuf], state_root: &Path) -> Result<ProcessSecurity> {
        let cfg = &self.config;
        let passwd = image_file(layers, "passwd");
        let group = image_file(layers, "group");
        let user = user::resolve(&cfg.user, &cfg.group_add, &passwd, &group)?;
        let cache = state_root.join("seccomp");
        let seccomp = match (&cfg.seccomp, &self.profile) {
            (SeccompChoice::Unconfined, _) => None,
            (_, Some((profile, bytes))) => Some(seccomp::compile_cached(
                seccomp::Source::File(profile, bytes),
                &self.caps,
                &cache,
            )?),
            (_, None) => Some(seccomp::compile_cached(
                seccomp::Source::Default,
                &self.caps,
                &cache,
            )?),
        };
        Ok(ProcessSecurity {
            privileges: Privileges {
                caps: self.caps,
                identity: user.identity,
                no_new_privs: cfg.no_new_privileges,
                bounding: self.available,
            },
            seccomp,
            home: user.home,
        })
    }

    /// [`Checked::process`], and what the parent sets up for the init: its
    /// devices and masked paths.
    pub fn prepare(&self, layers: &[PathBuf], state_root: &Path) -> Result<Prepared> {
        let cfg = &self.config;
        let process = self.process(layers, state_root)?;
        let mut nodes = Vec::new();
        let device_rules = if cfg.privileged {
            host_devices(Path::new("/dev"), &mut nodes);
            vec![DeviceRule::allow_all()]
        } else {
            let mut rules = DeviceRule::default_allowed();
            for (record, node) in &self.devices {
                rules.push(device_rule(node, &record.permissions));
            }
            rules
        };
        // --device nodes come last: one at a host device's path replaces it.
        for (_, node) in &self.devices {
            nodes.retain(|n| n.path != node.path);
            nodes.push(node.clone());
        }
        let (masked_paths, readonly_paths) = if cfg.privileged {
            (vec![], vec![])
        } else {
            (
                MASKED_PATHS.map(String::from).to_vec(),
                READONLY_PATHS.map(String::from).to_vec(),
            )
        };
        Ok(Prepared {
            privileges: process.privileges,
            seccomp: process.seccomp,
            nodes,
            masked_paths,
            readonly_paths,
            sys_writable: cfg.privileged,
            device_rules,
            home: process.home,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(f: impl FnOnce(&mut SecurityArgs)) -> SecurityArgs {
        let mut a = SecurityArgs::default();
        f(&mut a);
        a
    }

    #[test]
    fn defaults() {
        let c = check(&SecurityArgs::default()).unwrap();
        assert!(c.config.no_new_privileges);
        assert_eq!(c.config.seccomp, SeccompChoice::Default);
        assert_eq!(c.caps, CapSet::default_set());
        let p = check(&args(|a| a.privileged = true)).unwrap();
        assert!(!p.config.no_new_privileges);
        assert_eq!(p.config.seccomp, SeccompChoice::Unconfined);
        assert_eq!(p.caps, caps::current_bounding());
    }

    #[test]
    fn security_opts() {
        let nnp = |opt: &str| {
            check(&args(|a| a.security_opt = vec![opt.into()])).map(|c| c.config.no_new_privileges)
        };
        assert!(nnp("no-new-privileges").unwrap());
        assert!(!nnp("no-new-privileges=false").unwrap());
        assert!(!nnp("no-new-privileges:false").unwrap());
        assert!(nnp("no-new-privileges=true").unwrap());
        assert!(nnp("no-new-privileges=maybe").is_err());
        let c = check(&args(|a| {
            a.security_opt = vec!["seccomp=unconfined".into()]
        }))
        .unwrap();
        assert_eq!(c.config.seccomp, SeccompChoice::Unconfined);
        assert!(c.profile.is_none());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.json");
        fs::write(&file, r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
        let opt = format!("seccomp={}", file.display());
        let c = check(&args(|a| a.security_opt = vec![opt])).unwrap();
        assert_eq!(c.config.seccomp, SeccompChoice::Profile(file.clone()));
        assert!(c.profile.is_some());
        fs::write(&file, "{").unwrap();
        let opt = format!("seccomp={}", file.display());
        let err = check(&args(|a| a.security_opt = vec![opt])).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("decoding seccomp profile"),
            "{err:#}"
        );
        for bad in [
            "bogus",
            "seccomp",
            "seccomp=",
            "apparmor=docker-default",
            "label=type:x",
        ] {
            let err = check(&args(|a| a.security_opt = vec![bad.into()])).unwrap_err();
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
        let err = check(&args(|a| {
            a.security_opt = vec!["seccomp=/no/such/profile.json".into()]
        }))
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("/no/such/profile.json"),
            "{err:#}"
        );
    }

    #[test]
    fn a_recorded_config_checks_back_to_the_same_rules() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.json");
        let json = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#;
        fs::write(&file, json).unwrap();
        let c = check(&args(|a| {
            a.cap_drop = vec!["CHOWN".into()];
            a.security_opt = vec![format!("seccomp={}", file.display())];
            a.user = Some("1000".into());
        }))
        .unwrap();
        assert_eq!(c.config.seccomp_profile.as_deref(), Some(json));
        // Recorded, then the file changes: the record's profile counts.
        let record: SecurityConfig =
            serde_json::from_str(&serde_json::to_string(&c.config).unwrap()).unwrap();
        fs::write(&file, "{").unwrap();
        let again = Checked::from_config(&record).unwrap();
        assert_eq!(again.caps, c.caps);
        assert_eq!(again.available, c.available);
        assert_eq!(again.config.user, "1000");
        assert!(again.config.no_new_privileges);
        let (profile, bytes) = again.profile.as_ref().unwrap();
        assert_eq!(bytes.as_slice(), json.as_bytes());
        assert_eq!(profile.syscalls.len(), 1);
        // Defaults record no profile; an old record without one reads the file.
        let plain = check(&SecurityArgs::default()).unwrap();
        assert_eq!(plain.config.seccomp_profile, None);
        assert!(Checked::from_config(&plain.config)
            .unwrap()
            .profile
            .is_none());
        let mut old = record.clone();
        old.seccomp_profile = None;
        assert!(
            Checked::from_config(&old).is_err(),
            "the file is no profile now"
        );
    }

    #[test]
    fn capabilities() {
        let c = check(&args(|a| {
            a.cap_add = vec!["net_admin".into()];
            a.cap_drop = vec!["CAP_CHOWN".into()];
        }))
        .unwrap();
        assert!(c.config.capabilities.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!c.config.capabilities.contains(&"CAP_CHOWN".to_string()));
        let err = check(&args(|a| a.cap_add = vec!["CAP_NOPE".into()])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid capability: unknown capability: \"CAP_NOPE\""
        );
    }

    #[test]
    fn devices() {
        let (r, n) = parse_device("/dev/null").unwrap();
        assert_eq!(
            (r.container.as_str(), r.permissions.as_str()),
            ("/dev/null", "rwm")
        );
        assert_eq!((n.kind, n.major, n.minor), (NodeKind::Char, 1, 3));
        let (r, _) = parse_device("/dev/null:r").unwrap();
        assert_eq!(
            (r.container.as_str(), r.permissions.as_str()),
            ("/dev/null", "r")
        );
        let (r, n) = parse_device("/dev/zero:/dev/z:rw").unwrap();
        assert_eq!(
            (r.container.as_str(), r.permissions.as_str()),
            ("/dev/z", "rw")
        );
        assert_eq!(n.path, "/dev/z");
        for bad in [
            "/dev/no-such-device",
            "/dev/null:/dev/x:rwx",
            "/dev/null:relative",
            "/etc/hostname",
            "/dev/null:/a:r:extra",
            "/dev/null:/",
            "/dev/null:/dev",
            "/dev/null:/dev/",
            "/dev/null:/proc/x",
            "/dev/null:/sys/x",
            "/dev/null:/dev/pts/x",
            "/dev/null:/dev/shm/x",
            "/dev/null:/dev/mqueue/x",
        ] {
            assert!(parse_device(bad).is_err(), "{bad}");
        }
        let err = parse_device("/dev/no-such-device").unwrap_err().to_string();
        assert_eq!(err, "error gathering device information while adding custom device \"/dev/no-such-device\": no such file or directory");
    }

    #[test]
    fn image_files_follow_layers_and_whiteouts() {
        let dir = tempfile::tempdir().unwrap();
        let layer = |name: &str, files: &[(&str, &str)]| {
            let l = dir.path().join(name);
            fs::create_dir_all(l.join("etc")).unwrap();
            for (f, content) in files {
                fs::write(l.join("etc").join(f), content).unwrap();
            }
            l
        };
        let bottom = layer("a", &[("passwd", "bottom")]);
        let top = layer("b", &[("group", "top")]);
        assert_eq!(
            image_file(&[bottom.clone(), top.clone()], "passwd"),
            "bottom"
        );
        assert_eq!(image_file(&[bottom.clone(), top.clone()], "group"), "top");
        let gone = layer("c", &[(".wh.passwd", "")]);
        assert_eq!(image_file(&[bottom.clone(), top, gone], "passwd"), "");
        let linked = dir.path().join("d");
        fs::create_dir_all(linked.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", linked.join("etc/passwd")).unwrap();
        assert_eq!(image_file(&[bottom, linked], "passwd"), "");
    }
}
