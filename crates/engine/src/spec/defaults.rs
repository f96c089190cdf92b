//! What docker and podman put in a container's spec unless told
//! otherwise, for front ends that build specs from docker's flags: the
//! standard mounts, the namespaces, the sysctls of a network namespace of
//! its own, the device rules, and device nodes looked up on the host.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Mount};
use tinydocker_cgroups::{DeviceRule, DeviceType};
use tinydocker_fs::{DeviceNode, NodeKind};

use crate::error::{invalid, io_text, Result};

/// A mount entry of the spec.
pub fn mount(typ: &str, source: &str, target: &str, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_typ(Some(typ.to_string()));
    m.set_source(Some(source.into()));
    m.set_destination(target.into());
    m.set_options(Some(options.iter().map(|s| s.to_string()).collect()));
    m
}

/// A volume, `-v SOURCE:TARGET[:ro]`: a recursive bind, read-only all the
/// way down with `read_only`.
pub fn volume(source: &Path, target: &str, read_only: bool) -> Mount {
    let options: &[&str] = if read_only {
        &["rbind", "rro"]
    } else {
        &["rbind"]
    };
    mount("bind", &source.to_string_lossy(), target, options)
}

/// The mounts every container gets: `/proc`, `/sys` (read-only unless
/// privileged), a tmpfs `/dev`, its own devpts, `/dev/shm` and mqueue.
pub fn standard_mounts(privileged: bool) -> Vec<Mount> {
    let sys: &[&str] = if privileged {
        &["nosuid", "noexec", "nodev"]
    } else {
        &["nosuid", "noexec", "nodev", "ro"]
    };
    vec![
        mount("proc", "proc", "/proc", &["nosuid", "noexec", "nodev"]),
        mount("sysfs", "sysfs", "/sys", sys),
        mount(
            "tmpfs",
            "tmpfs",
            "/dev",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "devpts",
            "devpts",
            "/dev/pts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "tmpfs",
            "shm",
            "/dev/shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount(
            "mqueue",
            "mqueue",
            "/dev/mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
    ]
}

/// New PID, IPC, UTS, mount and cgroup namespaces, and a network one
/// unless it shares the host's.
pub fn namespaces(host_network: bool) -> Vec<LinuxNamespace> {
    let mut types = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ];
    if !host_network {
        types.push(LinuxNamespaceType::Network);
    }
    types
        .into_iter()
        .map(|typ| {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(typ);
            ns
        })
        .collect()
}

/// What docker sets in a container's own network namespace, so that ping
/// and low ports work without CAP_NET_RAW or CAP_NET_BIND_SERVICE.
pub fn netns_sysctls() -> HashMap<String, String> {
    [
        ("net.ipv4.ping_group_range", "0 2147483647"),
        ("net.ipv4.ip_unprivileged_port_start", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The device cgroup's rules: everything when privileged, else docker's
/// defaults and each device with its permissions (a subset of `rwm`).
pub fn device_rules(privileged: bool, devices: &[(DeviceNode, String)]) -> Vec<DeviceRule> {
    if privileged {
        return vec![DeviceRule::allow_all()];
    }
    let mut rules = DeviceRule::default_allowed();
    for (node, permissions) in devices {
        let kind = match node.kind {
            NodeKind::Char => DeviceType::Char,
            NodeKind::Block => DeviceType::Block,
            // Not a device: the device cgroup has no say over a fifo.
            NodeKind::Fifo => continue,
        };
        rules.push(DeviceRule::allow(
            kind,
            Some(node.major.into()),
            Some(node.minor.into()),
            permissions,
        ));
    }
    rules
}

/// The host's device node `host`, to be `container` in the container
/// (`--device`), with docker's words when it is not one.
pub fn device_node(host: &Path, container: &str) -> Result<DeviceNode> {
    let meta = fs::metadata(host).map_err(|e| {
        invalid!(
            "error gathering device information while adding custom device {:?}: {}",
            host.display().to_string(),
            io_text(&e)
        )
    })?;
    let kind = if meta.file_type().is_char_device() {
        NodeKind::Char
    } else if meta.file_type().is_block_device() {
        NodeKind::Block
    } else {
        return Err(invalid!(
            "error gathering device information while adding custom device {:?}: not a device node",
            host.display().to_string()
        ));
    };
    let rdev = meta.rdev();
    Ok(DeviceNode {
        path: container.to_string(),
        kind,
        major: nix::sys::stat::major(rdev) as u32,
        minor: nix::sys::stat::minor(rdev) as u32,
        mode: meta.mode() & 0o777,
        uid: meta.uid(),
        gid: meta.gid(),
    })
}

/// Every device node of the host's `/dev` (`dir`), for `--privileged`
/// (what docker gives): pseudo-terminals, shared memory and the like are
/// the container's own.
pub fn host_devices(dir: &Path, out: &mut Vec<DeviceNode>) {
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
            if let Ok(node) = device_node(&path, &path.to_string_lossy()) {
                out.push(node);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_of_the_host() {
        let null = device_node(Path::new("/dev/null"), "/dev/x").unwrap();
        assert_eq!((null.kind, null.major, null.minor), (NodeKind::Char, 1, 3));
        assert_eq!(null.path, "/dev/x");
        let err = device_node(Path::new("/etc/hostname"), "/dev/x").unwrap_err();
        assert!(err.to_string().ends_with("not a device node"), "{err}");
        let mut all = Vec::new();
        host_devices(Path::new("/dev"), &mut all);
        assert!(all.iter().any(|d| d.path == "/dev/null"));
        assert!(!all.iter().any(|d| d.path == "/dev/ptmx"));
    }

    #[test]
    fn the_defaults_are_what_the_engine_takes() {
        for m in standard_mounts(false) {
            crate::spec::mounts::mount_spec(&m).unwrap();
        }
        assert_eq!(namespaces(true).len(), 5);
        assert_eq!(namespaces(false).len(), 6);
        assert_eq!(device_rules(true, &[]), [DeviceRule::allow_all()]);
    }
}
