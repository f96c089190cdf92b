//! Reading a container's OCI runtime spec (`config.json`): each part the
//! engine understands, turned into what the library crates take, and each
//! part it does not refused by name before anything is made.
//!
//! - [`namespaces`]: `linux.namespaces`, new ones or joined by `path`;
//! - [`mounts`]: `mounts`, with options and propagation, and `root`;
//! - [`security`]: `process.capabilities` (the five sets), `user`,
//!   `noNewPrivileges`;
//! - [`seccomp`]: `linux.seccomp`, both ways;
//! - [`resources`]: `linux.resources`, both ways, and `cgroupsPath`;
//! - [`sysctl`]: `linux.sysctl`, only those a namespace of the container's
//!   own confines;
//! - `process.rlimits`, `oomScoreAdj`, `linux.personality`,
//!   `linux.devices`, `maskedPaths`, `readonlyPaths`, `hooks` (in
//!   `container/` and `hooks.rs`, where they are applied).

pub mod defaults;
pub mod mounts;
pub mod namespaces;
pub mod resources;
pub mod seccomp;
pub mod security;
pub mod sysctl;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, PosixRlimitType, Process, Spec};
use tinydocker_fs::{DeviceNode, NodeKind};

use crate::error::{invalid, Result};

/// The spec's cgroup (`linux.cgroupsPath`), relative to the hierarchy
/// roots (`tinydocker/<id>`); "" when it names none. An absolute path is
/// taken from the root, as a relative one is: both are under the roots.
pub fn cgroup_path(spec: &Spec) -> String {
    spec.linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().trim_matches('/').to_string())
        .unwrap_or_default()
}

/// Whether the spec's process has a terminal of its own
/// (`process.terminal`).
pub fn terminal(spec: &Spec) -> bool {
    spec.process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false)
}

/// The spec's process, which a container's spec must have.
pub fn process(spec: &Spec) -> Result<&Process> {
    spec.process()
        .as_ref()
        .ok_or_else(|| invalid!("the spec has no process to run"))
}

/// The command to run: `process.args`, which must name one.
pub fn args(spec: &Spec) -> Result<&[String]> {
    match process(spec)?.args().as_deref() {
        Some(args) if !args.is_empty() => Ok(args),
        _ => Err(invalid!(
            "the spec's process.args is empty: no command to run"
        )),
    }
}

/// What a container made from a spec without `process` (valid for an OCI
/// runtime's `create`) is set up as: root, no capabilities, no new
/// privileges, in `/`. It never runs a program: `start` refuses it.
pub fn no_process() -> Process {
    let mut process = Process::default();
    process
        .set_args(None)
        .set_env(None)
        .set_capabilities(None)
        .set_rlimits(None)
        .set_no_new_privileges(Some(true))
        .set_cwd("/".into());
    process
}

/// Refuse what the engine does not do, naming it: nothing is made for a
/// spec that asks for more than it would get. A spec without `process` is
/// checked as [`no_process`].
pub fn check_supported(spec: &Spec) -> Result<()> {
    let unsupported = |what: &str| invalid!("{what} is not supported by tinydocker");
    let none = no_process();
    let process = match spec.process() {
        Some(_) => {
            args(spec)?;
            process(spec)?
        }
        None => &none,
    };
    if process
        .apparmor_profile()
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        return Err(invalid!(
            "process.apparmorProfile: this host has no AppArmor support in tinydocker"
        ));
    }
    if process
        .selinux_label()
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        return Err(invalid!(
            "process.selinuxLabel: this host has no SELinux support in tinydocker"
        ));
    }
    if process.io_priority().is_some() {
        return Err(unsupported("process.ioPriority"));
    }
    if process.scheduler().is_some() {
        return Err(unsupported("process.scheduler"));
    }
    if process.exec_cpu_affinity().is_some() {
        return Err(unsupported("process.execCPUAffinity"));
    }
    if let Some(linux) = spec.linux() {
        if linux.intel_rdt().is_some() {
            return Err(unsupported("linux.intelRdt"));
        }
        if linux.memory_policy().is_some() {
            return Err(unsupported("linux.memoryPolicy"));
        }
        if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(unsupported("linux.netDevices"));
        }
        if linux.time_offsets().as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(unsupported("linux.timeOffsets"));
        }
        if linux
            .mount_label()
            .as_deref()
            .is_some_and(|l| !l.is_empty())
        {
            return Err(invalid!(
                "linux.mountLabel: this host has no SELinux support in tinydocker"
            ));
        }
        if let Some(p) = linux.personality() {
            if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
                return Err(unsupported("linux.personality.flags"));
            }
        }
    }
    for m in spec.mounts().iter().flatten() {
        if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
            return Err(invalid!(
                "mount {}: idmapped mounts are not supported by tinydocker",
                m.destination().display()
            ));
        }
    }
    Ok(())
}

/// `process.rlimits` as (`RLIMIT_*` number, soft, hard).
pub fn rlimits(process: &Process) -> Vec<(i32, u64, u64)> {
    process
        .rlimits()
        .iter()
        .flatten()
        .map(|r| {
            let resource = match r.typ() {
                PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
                PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
                PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
                PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
                PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
                PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
                PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
                PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
                PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
                PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
                PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
                PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
                PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
                PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
                PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
                PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
            };
            (resource as i32, r.soft(), r.hard())
        })
        .collect()
}

/// `linux.devices` as device nodes to make.
pub fn devices(spec: &Spec) -> Result<Vec<DeviceNode>> {
    let Some(devices) = spec.linux().as_ref().and_then(|l| l.devices().as_ref()) else {
        return Ok(Vec::new());
    };
    devices.iter().map(device_node).collect()
}

fn device_node(d: &LinuxDevice) -> Result<DeviceNode> {
    let path = d.path().to_string_lossy().into_owned();
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => NodeKind::Char,
        LinuxDeviceType::B => NodeKind::Block,
        LinuxDeviceType::P => NodeKind::Fifo,
        other => {
            return Err(invalid!(
                "linux.devices {path}: type {} is not a device node tinydocker can make",
                other.as_str()
            ))
        }
    };
    let number = |n: i64, what: &str| {
        u32::try_from(n).map_err(|_| invalid!("linux.devices {path}: bad {what} number {n}"))
    };
    let target = path.trim_end_matches('/');
    if !path.starts_with('/')
        || path.split('/').any(|c| c == "..")
        || target.is_empty()
        || target == "/dev"
    {
        return Err(invalid!(
            "linux.devices {path}: a device node goes at an absolute path without '..', other than / and /dev"
        ));
    }
    Ok(DeviceNode {
        kind,
        major: number(d.major(), "major")?,
        minor: number(d.minor(), "minor")?,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
        path,
    })
}

/// A `linux.devices` entry for a node (as `--device` and `--privileged`
/// add them).
pub fn device_to_spec(node: &DeviceNode) -> LinuxDevice {
    let mut d = LinuxDevice::default();
    d.set_path(node.path.clone().into());
    d.set_typ(match node.kind {
        NodeKind::Char => LinuxDeviceType::C,
        NodeKind::Block => LinuxDeviceType::B,
        NodeKind::Fifo => LinuxDeviceType::P,
    });
    d.set_major(node.major.into());
    d.set_minor(node.minor.into());
    d.set_file_mode(Some(node.mode));
    d.set_uid(Some(node.uid));
    d.set_gid(Some(node.gid));
    d
}
