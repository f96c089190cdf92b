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
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct MountFlags(pub u64);

const FLAG_NAMES: [(u64, &str); 22] = [
    (libc::MS_RDONLY, "ro"),
    (libc::MS_NOSUID, "nosuid"),
    (libc::MS_NODEV, "nodev"),
    (libc::MS_NOEXEC, "noexec"),
    (libc::MS_SYNCHRONOUS, "sync"),
    (libc::MS_REMOUNT, "remount"),
    (libc::MS_MANDLOCK, "mand"),
    (libc::MS_DIRSYNC, "dirsync"),
    (libc::MS_NOATIME, "noatime"),
    (libc::MS_NODIRATIME, "nodiratime"),
    (libc::MS_BIND, "bind"),
    (libc::MS_REC, "rec"),
    (libc::MS_SILENT, "silent"),
    (libc::MS_UNBINDABLE, "unbindable"),
    (libc::MS_PRIVATE, "private"),
    (libc::MS_SLAVE, "slave"),
    (libc::MS_SHARED, "shared"),
    (libc::MS_RELATIME, "relatime"),
    (libc::MS_I_VERSION, "iversion"),
    (libc::MS_STRICTATIME, "strictatime"),
    (libc::MS_LAZYTIME, "lazytime"),
    (libc::MS_MOVE, "move"),
];

impl MountFlags {
    fn names(self) -> Vec<&'static str> {
        FLAG_NAMES
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, n)| *n)
            .collect()
    }

    /// No flag set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
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

fn no_flags(flags: &MountFlags) -> bool {
    flags.is_empty()
}

fn is_false(b: &bool) -> bool {
    !*b
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

/// The kind of a device node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    Char,
    Block,
    /// A named pipe (no device numbers).
    Fifo,
}

/// A device node the container gets besides the standard ones (a
/// runtime spec's `linux.devices`).
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

/// Where the root filesystem comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    /// Read-only image layers (bottom first) under an overlay whose
    /// writable layer is `upper`/`work`, or, with `scratch`, a tmpfs
    /// mounted there inside the container's own mount namespace: it
    /// vanishes with the container and costs no disk I/O (for `--rm`
    /// containers).
    Overlay {
        layers: Vec<PathBuf>,
        upper: PathBuf,
        work: PathBuf,
        scratch: Option<PathBuf>,
    },
    /// A directory bound as it is (an OCI bundle's `rootfs`).
    Directory(PathBuf),
}

/// What a mount mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A filesystem of a type (`proc`, `tmpfs`, ...) and its source name.
    Filesystem { fstype: String, source: String },
    /// A host path bound there (`recursive`: with the mounts below it).
    Bind {
        source: PathBuf,
        create: Create,
        recursive: bool,
    },
}

/// One mount of the container, as a runtime spec's `mounts` entry says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub source: MountSource,
    /// Absolute container path.
    pub target: String,
    /// `MS_*` flags: given to the mount (a filesystem), or to a remount
    /// after it (a bind, where the kernel ignores them on the first call).
    pub flags: MountFlags,
    /// Make the mount and every mount below it read-only (`rro`).
    pub recursive_read_only: bool,
    /// `MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE` or `MS_UNBINDABLE`, with
    /// `MS_REC`: set once mounted. Empty: as it comes.
    pub propagation: MountFlags,
    /// Filesystem options (`mode=755,size=65536k`).
    pub data: String,
}

/// What a container's filesystem is made of.
#[derive(Debug, Clone)]
pub struct RootfsSpec {
    pub root: RootSource,
    /// Where the root is mounted (in the container's mount namespace only).
    pub merged: PathBuf,
    /// Mounts, in order.
    pub mounts: Vec<MountSpec>,
    /// Files the runtime provides (`/etc/hosts`, `/etc/hostname`,
    /// `/etc/resolv.conf`): written by the child, then bound over the
    /// image's, after the mounts.
    pub files: Vec<ProvidedFile>,
    /// Remount the root read-only after the pivot.
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
    /// The propagation of `/` once it is the root (`MS_REC` with one of
    /// `MS_PRIVATE`, `MS_SLAVE`, `MS_SHARED`); empty: left private.
    pub root_propagation: MountFlags,
    /// Device nodes are bound from the host's instead of made (a user
    /// namespace's root may not `mknod(2)` a device).
    pub bind_devices: bool,
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
    /// Bind a host directory, and the mounts below it, at `target` (a host
    /// path) as the root.
    BindRoot { source: PathBuf, target: PathBuf },
    /// Mount a filesystem at a container path (created as a directory).
    Mount {
        fstype: String,
        source: String,
        target: String,
        flags: MountFlags,
        data: String,
    },
    /// Bind a host path at a container path, then remount it with `flags`
    /// (when any), or make it read-only all the way down.
    Bind {
        source: PathBuf,
        target: String,
        create: Create,
        #[serde(skip_serializing_if = "is_false")]
        recursive: bool,
        #[serde(skip_serializing_if = "no_flags")]
        flags: MountFlags,
        #[serde(skip_serializing_if = "is_false")]
        read_only: bool,
    },
    /// Change the propagation of the mount at a container path.
    Propagation { target: String, flags: MountFlags },
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
    /// Set the propagation of the new root (`rootfsPropagation`).
    RootPropagation { flags: MountFlags },
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
            Step::BindRoot { source, .. } => {
                write!(f, "bind the root filesystem {}", source.display())
            }
            Step::Mount { fstype, target, .. } => write!(f, "mount {fstype} on {target}"),
            Step::Bind { source, target, .. } => {
                write!(f, "bind mount {} on {target}", source.display())
            }
            Step::Propagation { target, .. } => {
                write!(f, "set the mount propagation of {target}")
            }
            Step::Mknod { path, .. } => write!(f, "create device {path}"),
            Step::Symlink { link, .. } => write!(f, "create symlink {link}"),
            Step::Mask { path } => write!(f, "mask {path}"),
            Step::ReadOnlyPath { path } => write!(f, "make {path} read-only"),
            Step::MkdirAll { path } => write!(f, "create directory {path}"),
            Step::WriteFile { path, .. } => write!(f, "write {}", path.display()),
            Step::PivotRoot => write!(f, "pivot_root into the container's root filesystem"),
            Step::RootPropagation { .. } => write!(f, "set the mount propagation of /"),
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

/// The nodes every container gets, as runc makes them.
const STANDARD_NODES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Decide every step that builds the container's filesystem: the root,
/// the mounts in the order given, the device nodes and links of `/dev`,
/// the provided files, the masked and read-only paths, the pivot.
pub fn plan(spec: &RootfsSpec) -> MountPlan {
    let mut steps = vec![Step::MakePrivate];
    match &spec.root {
        RootSource::Overlay {
            layers,
            upper,
            work,
            scratch,
        } => {
            let (upper, work) = match scratch {
                Some(target) => {
                    steps.push(Step::Scratch {
                        target: target.clone(),
                    });
                    (target.join("upper"), target.join("work"))
                }
                None => (upper.clone(), work.clone()),
            };
            steps.push(Step::Overlay {
                target: spec.merged.clone(),
                // overlayfs lists the top layer first.
                lower: layers.iter().rev().cloned().collect(),
                upper,
                work,
            });
        }
        RootSource::Directory(source) => steps.push(Step::BindRoot {
            source: source.clone(),
            target: spec.merged.clone(),
        }),
    }
    // As docker does: the nodes and links of /dev right after the spec's
    // mount of /dev, and the provided files just before the first bind
    // mount, so a volume on /etc/hosts is bound over the provided file.
    let mut dev_done = false;
    let mut files_done = false;
    for m in &spec.mounts {
        if !files_done && matches!(m.source, MountSource::Bind { .. }) {
            files(spec, &mut steps);
            files_done = true;
        }
        steps.push(match &m.source {
            MountSource::Filesystem { fstype, source } => Step::Mount {
                fstype: fstype.clone(),
                source: source.clone(),
                target: m.target.clone(),
                flags: m.flags,
                data: m.data.clone(),
            },
            MountSource::Bind {
                source,
                create,
                recursive,
            } => Step::Bind {
                source: source.clone(),
                target: m.target.clone(),
                create: *create,
                recursive: *recursive,
                flags: m.flags,
                read_only: m.recursive_read_only,
            },
        });
        if !m.propagation.is_empty() {
            steps.push(Step::Propagation {
                target: m.target.clone(),
                flags: m.propagation,
            });
        }
        if !dev_done && m.target == "/dev" {
            dev(spec, &mut steps);
            dev_done = true;
        }
    }
    if !dev_done {
        dev(spec, &mut steps);
    }
    if !files_done {
        files(spec, &mut steps);
    }
    if spec.workdir != "/" {
        steps.push(Step::MkdirAll {
            path: spec.workdir.clone(),
        });
    }
    // Last before the pivot, over the mounts too: a volume on /proc/sys
    // is made read-only again, one on a masked path is masked.
    for path in &spec.masked_paths {
        steps.push(Step::Mask { path: path.clone() });
    }
    for path in &spec.readonly_paths {
        steps.push(Step::ReadOnlyPath { path: path.clone() });
    }
    steps.push(Step::PivotRoot);
    if !spec.root_propagation.is_empty() {
        steps.push(Step::RootPropagation {
            flags: spec.root_propagation,
        });
    }
    // Into the working directory (made when missing) before a read-only
    // root could refuse to make it.
    steps.push(Step::Chdir {
        path: spec.workdir.clone(),
    });
    if spec.read_only {
        steps.push(Step::RemountRootReadOnly);
    }
    MountPlan { steps }
}

/// The device nodes (the standard ones, then the spec's) and the links of `/dev`.
fn dev(spec: &RootfsSpec, steps: &mut Vec<Step>) {
    for (name, major, minor) in STANDARD_NODES {
        let path = format!("/dev/{name}");
        if spec.devices.iter().any(|d| d.path == path) {
            continue;
        }
        if spec.bind_devices {
            steps.push(bind_device(&path));
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
        // A fifo is no device: anyone may make one.
        if spec.bind_devices && d.kind != NodeKind::Fifo {
            steps.push(bind_device(&d.path));
            continue;
        }
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
}

/// The host's device node at the same path, bound over an empty file.
fn bind_device(path: &str) -> Step {
    Step::Bind {
        source: PathBuf::from(path),
        target: path.to_string(),
        create: Create::File,
        recursive: false,
        flags: MountFlags::default(),
        read_only: false,
    }
}

/// The provided files: each written, then bound at its place.
fn files(spec: &RootfsSpec, steps: &mut Vec<Step>) {
    for file in &spec.files {
        steps.push(Step::WriteFile {
            path: file.host.clone(),
            content: file.content.clone(),
        });
        steps.push(Step::Bind {
            source: file.host.clone(),
            target: file.target.clone(),
            create: Create::File,
            recursive: false,
            flags: MountFlags::default(),
            read_only: false,
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn fs(fstype: &str, source: &str, target: &str, flags: u64, data: &str) -> MountSpec {
        MountSpec {
            source: MountSource::Filesystem {
                fstype: fstype.into(),
                source: source.into(),
            },
            target: target.into(),
            flags: MountFlags(flags),
            recursive_read_only: false,
            propagation: MountFlags::default(),
            data: data.into(),
        }
    }

    /// The mounts every tinydocker container gets (what `run` puts in the
    /// spec), read-only /sys unless `sys_writable`.
    pub(crate) fn standard_mounts(sys_writable: bool) -> Vec<MountSpec> {
        let (nosuid, nodev, noexec) = (libc::MS_NOSUID, libc::MS_NODEV, libc::MS_NOEXEC);
        let ro = if sys_writable { 0 } else { libc::MS_RDONLY };
        vec![
            fs("proc", "proc", "/proc", nosuid | nodev | noexec, ""),
            fs("sysfs", "sysfs", "/sys", nosuid | nodev | noexec | ro, ""),
            fs(
                "tmpfs",
                "tmpfs",
                "/dev",
                nosuid | libc::MS_STRICTATIME,
                "mode=755,size=65536k",
            ),
            fs(
                "devpts",
                "devpts",
                "/dev/pts",
                nosuid | noexec,
                "newinstance,ptmxmode=0666,mode=0620,gid=5",
            ),
            fs(
                "tmpfs",
                "shm",
                "/dev/shm",
                nosuid | nodev | noexec,
                "mode=1777,size=65536k",
            ),
            fs(
                "mqueue",
                "mqueue",
                "/dev/mqueue",
                nosuid | nodev | noexec,
                "",
            ),
        ]
    }

    fn bind(source: &str, target: &str, create: Create, read_only: bool) -> MountSpec {
        MountSpec {
            source: MountSource::Bind {
                source: source.into(),
                create,
                recursive: true,
            },
            target: target.into(),
            flags: MountFlags::default(),
            recursive_read_only: read_only,
            propagation: MountFlags::default(),
            data: String::new(),
        }
    }

    fn spec() -> RootfsSpec {
        RootfsSpec {
            root: RootSource::Overlay {
                layers: vec!["/s/images/layers/aaa".into(), "/s/images/layers/bbb".into()],
                upper: "/s/containers/ID/upper".into(),
                work: "/s/containers/ID/work".into(),
                scratch: None,
            },
            merged: "/s/containers/ID/merged".into(),
            mounts: standard_mounts(false),
            files: vec![],
            read_only: false,
            workdir: "/".into(),
            devices: vec![],
            masked_paths: MASKED_PATHS.map(String::from).to_vec(),
            readonly_paths: READONLY_PATHS.map(String::from).to_vec(),
            root_propagation: MountFlags::default(),
            bind_devices: false,
        }
    }

    /// In a user namespace the nodes are the host's, bound; a fifo is
    /// still made.
    #[test]
    fn devices_are_bound_in_a_user_namespace() {
        let mut s = spec();
        s.bind_devices = true;
        s.devices = vec![DeviceNode {
            path: "/dev/pipe".into(),
            kind: NodeKind::Fifo,
            major: 0,
            minor: 0,
            mode: 0o600,
            uid: 0,
            gid: 0,
        }];
        let steps = plan(&s).steps;
        assert!(steps.iter().any(|st| matches!(st,
            Step::Bind { source, target, create: Create::File, .. }
                if source == std::path::Path::new("/dev/null") && target == "/dev/null")));
        assert!(steps.iter().any(
            |st| matches!(st, Step::Mknod { path, kind: NodeKind::Fifo, .. } if path == "/dev/pipe")
        ));
        assert!(!steps.iter().any(|st| matches!(
            st,
            Step::Mknod {
                kind: NodeKind::Char,
                ..
            }
        )));
    }

    #[test]
    fn default_plan() {
        insta::assert_yaml_snapshot!(plan(&spec()));
    }

    #[test]
    fn volumes_read_only_root_and_workdir() {
        let mut s = spec();
        s.mounts
            .push(bind("/srv/data", "/data", Create::Dir, false));
        s.mounts
            .push(bind("/etc/motd", "/etc/motd", Create::File, true));
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
        s.mounts = standard_mounts(true);
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
        // The spec's node replaces the standard one.
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
        if let RootSource::Overlay { scratch, .. } = &mut s.root {
            *scratch = Some("/s/scratch".into());
        }
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
    fn a_directory_root_is_bound_and_propagation_set() {
        let mut s = spec();
        s.root = RootSource::Directory("/bundle/rootfs".into());
        s.root_propagation = MountFlags(libc::MS_REC | libc::MS_SLAVE);
        let mut shared = bind("/srv", "/srv", Create::Dir, false);
        shared.propagation = MountFlags(libc::MS_REC | libc::MS_SHARED);
        s.mounts.push(shared);
        let steps = plan(&s).steps;
        assert_eq!(
            steps[1],
            Step::BindRoot {
                source: "/bundle/rootfs".into(),
                target: "/s/containers/ID/merged".into()
            }
        );
        let pivot = steps.iter().position(|s| *s == Step::PivotRoot).unwrap();
        assert_eq!(
            steps[pivot + 1],
            Step::RootPropagation {
                flags: MountFlags(libc::MS_REC | libc::MS_SLAVE)
            }
        );
        let bound = steps
            .iter()
            .position(|s| matches!(s, Step::Bind { target, .. } if target == "/srv"))
            .unwrap();
        assert_eq!(
            steps[bound + 1],
            Step::Propagation {
                target: "/srv".into(),
                flags: MountFlags(libc::MS_REC | libc::MS_SHARED)
            }
        );
    }

    #[test]
    fn a_volume_at_a_provided_file_is_bound_over_it() {
        let mut s = spec();
        s.files = vec![ProvidedFile {
            host: "/s/containers/ID/hosts".into(),
            content: "x\n".into(),
            target: "/etc/hosts".into(),
        }];
        s.mounts
            .push(bind("/srv/hosts", "/etc/hosts", Create::File, false));
        let steps = plan(&s).steps;
        let at_hosts: Vec<_> = steps
            .iter()
            .filter_map(|st| match st {
                Step::Bind { source, target, .. } if target == "/etc/hosts" => Some(source),
                _ => None,
            })
            .collect();
        // The provided file first, the volume over it.
        assert_eq!(
            at_hosts,
            [
                &PathBuf::from("/s/containers/ID/hosts"),
                &PathBuf::from("/srv/hosts")
            ]
        );
    }

    #[test]
    fn dev_nodes_follow_the_mount_of_dev_and_files_precede_the_first_bind() {
        let mut s = spec();
        s.files = vec![ProvidedFile {
            host: "/s/containers/ID/hosts".into(),
            content: "x\n".into(),
            target: "/etc/hosts".into(),
        }];
        s.mounts
            .push(bind("/srv/data", "/data", Create::Dir, false));
        let steps = plan(&s).steps;
        let dev = steps
            .iter()
            .position(|st| matches!(st, Step::Mount { target, .. } if target == "/dev"))
            .unwrap();
        assert!(matches!(&steps[dev + 1], Step::Mknod { path, .. } if path == "/dev/null"));
        let write = steps
            .iter()
            .position(|st| matches!(st, Step::WriteFile { .. }))
            .unwrap();
        let data = steps
            .iter()
            .position(|st| matches!(st, Step::Bind { target, .. } if target == "/data"))
            .unwrap();
        assert_eq!(write + 2, data);
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
        s.mounts
            .push(bind("/proc/sys", "/proc/sys", Create::Dir, false));
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
