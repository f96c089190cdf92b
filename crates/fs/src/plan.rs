//! The mount plan: every step that builds a container's root filesystem, as
//! plain data (`mount(2)`, `mknod(2)`, `symlink(2)`, `pivot_root(2)`).
//!
//! Targets are paths *inside* the container (relative to its root). The
//! executor resolves them within the new root (`openat2(2)` with
//! `RESOLVE_IN_ROOT`), so a symlink in an image can never point a mount at
//! the host.

use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

/// `MS_*` mount flags, shown by name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MountFlags(pub u64);

const FLAG_NAMES: [(u64, &str); 8] = [
    (libc::MS_RDONLY, "ro"),
    (libc::MS_NOSUID, "nosuid"),
    (libc::MS_NODEV, "nodev"),
    (libc::MS_NOEXEC, "noexec"),
    (libc::MS_STRICTATIME, "strictatime"),
    (libc::MS_BIND, "bind"),
    (libc::MS_REC, "rec"),
    (libc::MS_PRIVATE, "private"),
];

impl MountFlags {
    fn names(self) -> Vec<&'static str> {
        FLAG_NAMES
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, n)| *n)
            .collect()
    }
}

impl fmt::Debug for MountFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.names().join(","))
    }
}

impl Serialize for MountFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn octal<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{mode:04o}"))
}

/// What to create at a bind mount's target when it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Create {
    Dir,
    File,
}

/// A bind volume, `-v SOURCE:TARGET[:ro]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Absolute host path, symlinks already resolved.
    pub source: PathBuf,
    /// Absolute container path.
    pub target: String,
    pub read_only: bool,
    /// Whether the source is a directory or a file.
    pub kind: Create,
}

/// The kind of a device node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    Char,
    Block,
}

/// A device node the container gets besides the standard ones (`--device`,
/// or every host device under `--privileged`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Absolute container path.
    pub path: String,
    pub kind: NodeKind,
    pub major: u32,
    pub minor: u32,
    /// Permission bits.
    pub mode: u32,
    /// Owner, as on the host.
    pub uid: u32,
    pub gid: u32,
}

/// docker's masked paths and podman's (`/sys/dev/block`, `/sys/fs/selinux`):
/// an empty read-only tmpfs over a directory,
/// `/dev/null` over a file. Those missing on the host are skipped.
pub const MASKED_PATHS: [&str; 14] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/dev/block",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
    "/sys/fs/selinux",
];

/// docker's read-only paths: bound on themselves and made read-only.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// A file the runtime writes for the container and binds into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvidedFile {
    /// Where it is written: the container's directory, or its scratch tmpfs.
    pub host: PathBuf,
    pub content: String,
    /// Absolute container path it is bound on.
    pub target: String,
}

/// What a container's filesystem is made of.
#[derive(Debug, Clone)]
pub struct RootfsSpec {
    /// Image layer directories, bottom first.
    pub layers: Vec<PathBuf>,
    /// The container's writable layer and overlayfs work directory.
    pub upper: PathBuf,
    pub work: PathBuf,
    /// When set, the writable layer is not `upper`/`work` but a tmpfs
    /// mounted here inside the container's own mount namespace: it vanishes
    /// with the container and costs no disk I/O (for `--rm` containers).
    pub scratch: Option<PathBuf>,
    /// Where the overlay is mounted (in the container's mount namespace only).
    pub merged: PathBuf,
    pub volumes: Vec<Volume>,
    /// Files the runtime provides (`/etc/hosts`, `/etc/hostname`,
    /// `/etc/resolv.conf`): written by the child, then bound over the image's.
    pub files: Vec<ProvidedFile>,
    /// `--read-only`.
    pub read_only: bool,
    /// Absolute container path to start in; created when missing.
    pub workdir: String,
    /// Device nodes besides the standard ones; one at a standard node's
    /// path replaces it.
    pub devices: Vec<DeviceNode>,
    /// Paths hidden from the container ([`MASKED_PATHS`] by default).
    pub masked_paths: Vec<String>,
    /// Paths made read-only ([`READONLY_PATHS`] by default).
    pub readonly_paths: Vec<String>,
    /// Mount `/sys` read-write (`--privileged`).
    pub sys_writable: bool,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Step {
    /// `mount --make-rprivate /`: nothing mounted here propagates back to the host.
    MakePrivate,
    /// Mount a tmpfs at `target` (a host path, seen only in the container's
    /// mount namespace) holding empty `upper` and `work` directories.
    Scratch { target: PathBuf },
    /// Mount the overlay root at `target` (a host path).
    Overlay {
        target: PathBuf,
        lower: Vec<PathBuf>,
        upper: PathBuf,
        work: PathBuf,
    },
    /// Mount a filesystem at a container path (created as a directory).
    Mount {
        fstype: String,
        source: String,
        target: String,
        flags: MountFlags,
        data: String,
    },
    /// Bind a host path at a container path.
    Bind {
        source: PathBuf,
        target: String,
        create: Create,
        read_only: bool,
    },
    /// Create a device node (replacing whatever is at `path`).
    Mknod {
        path: String,
        kind: NodeKind,
        major: u32,
        minor: u32,
        #[serde(serialize_with = "octal")]
        mode: u32,
        /// Owner (the standard nodes are root's).
        #[serde(skip_serializing_if = "is_zero")]
        uid: u32,
        #[serde(skip_serializing_if = "is_zero")]
        gid: u32,
    },
    /// Create a symbolic link at `link` pointing to `target`.
    Symlink { link: String, target: String },
    /// Write a file (a host path, seen in the container's mount namespace).
    WriteFile { path: PathBuf, content: String },
    /// Create a directory and its parents.
    MkdirAll { path: String },
    /// Hide a path: an empty read-only tmpfs over a directory, the
    /// container's `/dev/null` over anything else; nothing if it is missing.
    Mask { path: String },
    /// Bind a path on itself and make it read-only (recursively); nothing
    /// if it is missing.
    ReadOnlyPath { path: String },
    /// Make the overlay the root and detach the old root.
    PivotRoot,
    /// Remount `/` read-only (`--read-only`).
    RemountRootReadOnly,
    /// Change to the working directory.
    Chdir { path: String },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::MakePrivate => write!(f, "make mount propagation private"),
            Step::Scratch { target } => write!(
                f,
                "mount the writable layer's tmpfs on {}",
                target.display()
            ),
            Step::Overlay { target, .. } => write!(
                f,
                "mount the overlay root filesystem on {}",
                target.display()
            ),
            Step::Mount { fstype, target, .. } => write!(f, "mount {fstype} on {target}"),
            Step::Bind { source, target, .. } => {
                write!(f, "bind mount {} on {target}", source.display())
            }
            Step::Mknod { path, .. } => write!(f, "create device {path}"),
            Step::Symlink { link, .. } => write!(f, "create symlink {link}"),
            Step::Mask { path } => write!(f, "mask {path}"),
            Step::ReadOnlyPath { path } => write!(f, "make {path} read-only"),
            Step::MkdirAll { path } => write!(f, "create directory {path}"),
            Step::WriteFile { path, .. } => write!(f, "write {}", path.display()),
            Step::PivotRoot => write!(f, "pivot_root into the container's root filesystem"),
            Step::RemountRootReadOnly => write!(f, "remount the root filesystem read-only"),
            Step::Chdir { path } => write!(f, "change to working directory {path}"),
        }
    }
}

/// The plan: steps in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountPlan {
    pub steps: Vec<Step>,
}

const NOSUID: u64 = libc::MS_NOSUID;
const NODEV: u64 = libc::MS_NODEV;
const NOEXEC: u64 = libc::MS_NOEXEC;

fn mount(fstype: &str, source: &str, target: &str, flags: u64, data: &str) -> Step {
    Step::Mount {
        fstype: fstype.into(),
        source: source.into(),
        target: target.into(),
        flags: MountFlags(flags),
        data: data.into(),
    }
}

/// Decide every step that builds the container's filesystem.
pub fn plan(spec: &RootfsSpec) -> MountPlan {
    let mut steps = vec![Step::MakePrivate];
    let (upper, work) = match &spec.scratch {
        Some(target) => {
            steps.push(Step::Scratch {
                target: target.clone(),
            });
            (target.join("upper"), target.join("work"))
        }
        None => (spec.upper.clone(), spec.work.clone()),
    };
    steps.extend([
        Step::Overlay {
            target: spec.merged.clone(),
            // overlayfs lists the top layer first.
            lower: spec.layers.iter().rev().cloned().collect(),
            upper,
            work,
        },
        mount("proc", "proc", "/proc", NOSUID | NODEV | NOEXEC, ""),
        mount(
            "sysfs",
            "sysfs",
            "/sys",
            NOSUID
                | NODEV
                | NOEXEC
                | if spec.sys_writable {
                    0
                } else {
                    libc::MS_RDONLY
                },
            "",
        ),
        mount(
            "tmpfs",
            "tmpfs",
            "/dev",
            NOSUID | libc::MS_STRICTATIME,
            "mode=755,size=65536k",
        ),
    ]);
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let path = format!("/dev/{name}");
        if spec.devices.iter().any(|d| d.path == path) {
            continue;
        }
        steps.push(Step::Mknod {
            path,
            kind: NodeKind::Char,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        });
    }
    for d in &spec.devices {
        steps.push(Step::Mknod {
            path: d.path.clone(),
            kind: d.kind,
            major: d.major,
            minor: d.minor,
            mode: d.mode,
            uid: d.uid,
            gid: d.gid,
        });
    }
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/ptmx", "pts/ptmx"),
    ] {
        steps.push(Step::Symlink {
            link: link.into(),
            target: target.into(),
        });
    }
    steps.extend([
        mount(
            "devpts",
            "devpts",
            "/dev/pts",
            NOSUID | NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620,gid=5",
        ),
        mount(
            "tmpfs",
            "shm",
            "/dev/shm",
            NOSUID | NODEV | NOEXEC,
            "mode=1777,size=65536k",
        ),
        mount(
            "mqueue",
            "mqueue",
            "/dev/mqueue",
            NOSUID | NODEV | NOEXEC,
            "",
        ),
    ]);
    for file in &spec.files {
        steps.push(Step::WriteFile {
            path: file.host.clone(),
            content: file.content.clone(),
        });
        steps.push(Step::Bind {
            source: file.host.clone(),
            target: file.target.clone(),
            create: Create::File,
            read_only: false,
        });
    }

    for v in &spec.volumes {
        steps.push(Step::Bind {
            source: v.source.clone(),
            target: v.target.clone(),
            create: v.kind,
            read_only: v.read_only,
        });
    }
    if spec.workdir != "/" {
        steps.push(Step::MkdirAll {
            path: spec.workdir.clone(),
        });
    }
    // Last before the pivot, over the volumes too: a volume on /proc/sys
    // is made read-only again, one on a masked path is masked.
    for path in &spec.masked_paths {
        steps.push(Step::Mask { path: path.clone() });
    }
    for path in &spec.readonly_paths {
        steps.push(Step::ReadOnlyPath { path: path.clone() });
    }
    steps.push(Step::PivotRoot);
    if spec.read_only {
        steps.push(Step::RemountRootReadOnly);
    }
    steps.push(Step::Chdir {
        path: spec.workdir.clone(),
    });
    MountPlan { steps }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RootfsSpec {
        RootfsSpec {
            layers: vec!["/s/images/layers/aaa".into(), "/s/images/layers/bbb".into()],
            upper: "/s/containers/ID/upper".into(),
            work: "/s/containers/ID/work".into(),
            merged: "/s/containers/ID/merged".into(),
            scratch: None,
            volumes: vec![],
            files: vec![],
            read_only: false,
            workdir: "/".into(),
            devices: vec![],
            masked_paths: MASKED_PATHS.map(String::from).to_vec(),
            readonly_paths: READONLY_PATHS.map(String::from).to_vec(),
            sys_writable: false,
        }
    }

    #[test]
    fn default_plan() {
        insta::assert_yaml_snapshot!(plan(&spec()));
    }

    #[test]
    fn volumes_read_only_root_and_workdir() {
        let mut s = spec();
        s.volumes = vec![
            Volume {
                source: "/srv/data".into(),
                target: "/data".into(),
                read_only: false,
                kind: Create::Dir,
            },
            Volume {
                source: "/etc/motd".into(),
                target: "/etc/motd".into(),
                read_only: true,
                kind: Create::File,
            },
        ];
        s.files = vec![ProvidedFile {
            host: "/s/containers/ID/hostname".into(),
            content: "box\n".into(),
            target: "/etc/hostname".into(),
        }];
        s.read_only = true;
        s.workdir = "/work/dir".into();
        let steps = plan(&s).steps;
        // Only what differs from the default plan, so the snapshot stays short.
        let tail: Vec<_> = steps
            .iter()
            .filter(|st| !plan(&spec()).steps.contains(st))
            .collect();
        insta::assert_yaml_snapshot!(tail);
    }

    #[test]
    fn privileged_devices_and_no_masks() {
        let mut s = spec();
        s.masked_paths.clear();
        s.readonly_paths.clear();
        s.sys_writable = true;
        s.devices = vec![
            DeviceNode {
                path: "/dev/null".into(),
                kind: NodeKind::Char,
                major: 1,
                minor: 3,
                mode: 0o620,
                uid: 0,
                gid: 5,
            },
            DeviceNode {
                path: "/dev/sda".into(),
                kind: NodeKind::Block,
                major: 8,
                minor: 0,
                mode: 0o660,
                uid: 0,
                gid: 6,
            },
        ];
        let steps = plan(&s).steps;
        assert!(!steps
            .iter()
            .any(|st| matches!(st, Step::Mask { .. } | Step::ReadOnlyPath { .. })));
        let nulls: Vec<_> = steps
            .iter()
            .filter(|st| matches!(st, Step::Mknod { path, .. } if path == "/dev/null"))
            .collect();
        // The --device node replaces the standard one.
        assert_eq!(nulls.len(), 1);
        insta::assert_yaml_snapshot!(steps
            .iter()
            .filter(|st| match st {
                Step::Mknod { .. } => true,
                Step::Mount { fstype, .. } => fstype == "sysfs",
                _ => false,
            })
            .collect::<Vec<_>>());
    }

    #[test]
    fn scratch_layer_replaces_upper_and_work() {
        let mut s = spec();
        s.scratch = Some("/s/scratch".into());
        let steps = plan(&s).steps;
        assert_eq!(
            steps[1],
            Step::Scratch {
                target: "/s/scratch".into()
            }
        );
        let Step::Overlay { upper, work, .. } = &steps[2] else {
            panic!("{:?}", steps[2])
        };
        assert_eq!(
            (upper.to_str().unwrap(), work.to_str().unwrap()),
            ("/s/scratch/upper", "/s/scratch/work")
        );
    }

    #[test]
    fn pivot_comes_after_every_mount_and_before_chdir() {
        let steps = plan(&spec()).steps;
        let pivot = steps.iter().position(|s| *s == Step::PivotRoot).unwrap();
        assert!(steps[..pivot]
            .iter()
            .all(|s| !matches!(s, Step::Chdir { .. })));
        assert!(steps[pivot..]
            .iter()
            .all(|s| !matches!(s, Step::Mount { .. } | Step::Bind { .. })));
        assert_eq!(steps[0], Step::MakePrivate);
    }

    #[test]
    fn masks_cover_volumes() {
        let mut s = spec();
        s.volumes = vec![Volume {
            source: "/proc/sys".into(),
            target: "/proc/sys".into(),
            read_only: false,
            kind: Create::Dir,
        }];
        let steps = plan(&s).steps;
        let last_bind = steps
            .iter()
            .rposition(|s| matches!(s, Step::Bind { .. }))
            .unwrap();
        let first_mask = steps
            .iter()
            .position(|s| matches!(s, Step::Mask { .. } | Step::ReadOnlyPath { .. }))
            .unwrap();
        assert!(first_mask > last_bind, "{steps:#?}");
    }
}
