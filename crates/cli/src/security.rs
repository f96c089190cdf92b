//! `run`'s security flags (docker's names): `--privileged`, `--cap-add`,
//! `--cap-drop`, `--security-opt`, `--device`, `--user`, `--group-add`,
//! checked into what the spec builder needs. Nothing here makes anything.

use std::fs;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use tinydocker_engine::spec::defaults;
use tinydocker_engine::{io_text, DeviceOrigin};
use tinydocker_fs::DeviceNode;
use tinydocker_security::caps::CapSet;
use tinydocker_security::seccomp;

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

/// The seccomp filter a container runs under.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SeccompChoice {
    /// tinydocker's default profile (docker's semantics).
    #[default]
    Default,
    Unconfined,
    /// A docker-format profile file, read at `run`.
    Profile(PathBuf),
}

impl SeccompChoice {
    /// What `inspect` says: "default", "unconfined" or the file.
    pub fn describe(&self) -> String {
        match self {
            SeccompChoice::Default => "default".to_string(),
            SeccompChoice::Unconfined => "unconfined".to_string(),
            SeccompChoice::Profile(p) => p.display().to_string(),
        }
    }
}

/// The checked flags, before the image is known.
#[derive(Debug, Clone)]
pub struct Checked {
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `--security-opt` as given.
    pub security_opt: Vec<String>,
    /// The resulting capability set, within what tinydocker may hand on.
    pub caps: CapSet,
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
    /// A profile file, parsed.
    pub profile: Option<seccomp::Profile>,
    /// `--device` as given, and the node it names.
    pub devices: Vec<(DeviceOrigin, DeviceNode)>,
    /// `--user` as given ("" for the image's default, root).
    pub user: String,
    pub group_add: Vec<String>,
}

fn parse_bool(option: &str, value: &str) -> Result<bool> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => bail!("invalid --security-opt {option:?}: expected true or false"),
    }
}

/// Check every security flag: nothing is created on bad input. `available`
/// is tinydocker's own bounding set: all a container can get.
pub fn check(args: &SecurityArgs, available: CapSet) -> Result<Checked> {
    let base = if args.privileged {
        CapSet::ALL
    } else {
        CapSet::default_set()
    };
    let caps = CapSet::with_changes(base, &args.cap_add, &args.cap_drop)
        .map_err(|e| anyhow!("invalid capability: {e}"))?;
    // ALL means all that tinydocker itself may hand on; one named
    // explicitly that it does not have is an error.
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
    // anything exists.
    let profile = match &choice {
        SeccompChoice::Unconfined | SeccompChoice::Default => None,
        SeccompChoice::Profile(path) => {
            let bytes = fs::read(path).map_err(|e| {
                anyhow!(
                    "opening seccomp profile {}: {}",
                    path.display(),
                    io_text(&e)
                )
            })?;
            let text = String::from_utf8_lossy(&bytes);
            Some(
                seccomp::Profile::from_json(&text)
                    .with_context(|| format!("decoding seccomp profile {}", path.display()))?,
            )
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
        privileged: args.privileged,
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
        security_opt: args.security_opt.clone(),
        caps,
        no_new_privileges,
        seccomp: choice,
        profile,
        devices,
        user: args.user.clone().unwrap_or_default(),
        group_add: args.group_add.clone(),
    })
}

fn is_permissions(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

/// `HOST[:CONTAINER][:PERMISSIONS]`, as docker reads it.
fn parse_device(spec: &str) -> Result<(DeviceOrigin, DeviceNode)> {
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
    let node = defaults::device_node(&host_path, container)?;
    Ok((
        DeviceOrigin {
            host: host_path,
            container: container.to_string(),
            permissions: permissions.to_string(),
        },
        node,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinydocker_fs::NodeKind;

    fn args(f: impl FnOnce(&mut SecurityArgs)) -> SecurityArgs {
        let mut a = SecurityArgs::default();
        f(&mut a);
        a
    }

    #[test]
    fn defaults() {
        let c = check(&SecurityArgs::default(), CapSet::ALL).unwrap();
        assert!(c.no_new_privileges);
        assert_eq!(c.seccomp, SeccompChoice::Default);
        assert_eq!(c.caps, CapSet::default_set());
        let p = check(&args(|a| a.privileged = true), CapSet::ALL).unwrap();
        assert!(!p.no_new_privileges);
        assert_eq!(p.seccomp, SeccompChoice::Unconfined);
        assert_eq!(p.caps, CapSet::ALL);
    }

    #[test]
    fn security_opts() {
        let nnp = |opt: &str| {
            check(&args(|a| a.security_opt = vec![opt.into()]), CapSet::ALL)
                .map(|c| c.no_new_privileges)
        };
        assert!(nnp("no-new-privileges").unwrap());
        assert!(!nnp("no-new-privileges=false").unwrap());
        assert!(!nnp("no-new-privileges:false").unwrap());
        assert!(nnp("no-new-privileges=true").unwrap());
        assert!(nnp("no-new-privileges=maybe").is_err());
        let c = check(
            &args(|a| a.security_opt = vec!["seccomp=unconfined".into()]),
            CapSet::ALL,
        )
        .unwrap();
        assert_eq!(c.seccomp, SeccompChoice::Unconfined);
        assert!(c.profile.is_none());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.json");
        fs::write(&file, r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
        let opt = format!("seccomp={}", file.display());
        let c = check(&args(|a| a.security_opt = vec![opt]), CapSet::ALL).unwrap();
        assert_eq!(c.seccomp, SeccompChoice::Profile(file.clone()));
        assert!(c.profile.is_some());
        fs::write(&file, "{").unwrap();
        let opt = format!("seccomp={}", file.display());
        let err = check(&args(|a| a.security_opt = vec![opt]), CapSet::ALL).unwrap_err();
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
            let err = check(&args(|a| a.security_opt = vec![bad.into()]), CapSet::ALL).unwrap_err();
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
        let err = check(
            &args(|a| a.security_opt = vec!["seccomp=/no/such/profile.json".into()]),
            CapSet::ALL,
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("/no/such/profile.json"),
            "{err:#}"
        );
    }

    #[test]
    fn capabilities() {
        let c = check(
            &args(|a| {
                a.cap_add = vec!["net_admin".into()];
                a.cap_drop = vec!["CAP_CHOWN".into()];
            }),
            CapSet::ALL,
        )
        .unwrap();
        assert!(c.caps.contains_name("CAP_NET_ADMIN"));
        assert!(!c.caps.contains_name("CAP_CHOWN"));
        let err = check(&args(|a| a.cap_add = vec!["CAP_NOPE".into()]), CapSet::ALL).unwrap_err();
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
}
