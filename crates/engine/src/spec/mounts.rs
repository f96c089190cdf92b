//! The spec's `mounts` as the fs crate's [`MountSpec`]s: options split into
//! `MS_*` flags, propagation and the filesystem's own data, as runc reads
//! them (`mount(8)`'s names; unknown ones are the filesystem's).

use std::fs;
use std::path::Path;

use oci_spec::runtime::Mount;
use tinydocker_fs::{Create, MountFlags, MountSource, MountSpec};

use crate::error::{invalid, Result};

/// What an option does.
enum Opt {
    /// Set (`true`) or clear a flag.
    Flag(bool, u64),
    /// Set a propagation.
    Propagation(u64),
    /// A bind, recursive or not.
    Bind { recursive: bool },
    /// Recursively read-only (`rro`, mount_setattr(2)).
    RecursiveReadOnly,
}

fn option(name: &str) -> Option<Opt> {
    use Opt::{Flag, Propagation};
    Some(match name {
        "ro" => Flag(true, libc::MS_RDONLY),
        "rw" => Flag(false, libc::MS_RDONLY),
        "nosuid" => Flag(true, libc::MS_NOSUID),
        "suid" => Flag(false, libc::MS_NOSUID),
        "nodev" => Flag(true, libc::MS_NODEV),
        "dev" => Flag(false, libc::MS_NODEV),
        "noexec" => Flag(true, libc::MS_NOEXEC),
        "exec" => Flag(false, libc::MS_NOEXEC),
        "sync" => Flag(true, libc::MS_SYNCHRONOUS),
        "async" => Flag(false, libc::MS_SYNCHRONOUS),
        "dirsync" => Flag(true, libc::MS_DIRSYNC),
        "remount" => Flag(true, libc::MS_REMOUNT),
        "mand" => Flag(true, libc::MS_MANDLOCK),
        "nomand" => Flag(false, libc::MS_MANDLOCK),
        "atime" => Flag(false, libc::MS_NOATIME),
        "noatime" => Flag(true, libc::MS_NOATIME),
        "diratime" => Flag(false, libc::MS_NODIRATIME),
        "nodiratime" => Flag(true, libc::MS_NODIRATIME),
        "relatime" => Flag(true, libc::MS_RELATIME),
        "norelatime" => Flag(false, libc::MS_RELATIME),
        "strictatime" => Flag(true, libc::MS_STRICTATIME),
        "nostrictatime" => Flag(false, libc::MS_STRICTATIME),
        "lazytime" => Flag(true, libc::MS_LAZYTIME),
        "nolazytime" => Flag(false, libc::MS_LAZYTIME),
        "silent" => Flag(true, libc::MS_SILENT),
        "loud" => Flag(false, libc::MS_SILENT),
        "iversion" => Flag(true, libc::MS_I_VERSION),
        "noiversion" => Flag(false, libc::MS_I_VERSION),
        "private" => Propagation(libc::MS_PRIVATE),
        "rprivate" => Propagation(libc::MS_PRIVATE | libc::MS_REC),
        "shared" => Propagation(libc::MS_SHARED),
        "rshared" => Propagation(libc::MS_SHARED | libc::MS_REC),
        "slave" => Propagation(libc::MS_SLAVE),
        "rslave" => Propagation(libc::MS_SLAVE | libc::MS_REC),
        "unbindable" => Propagation(libc::MS_UNBINDABLE),
        "runbindable" => Propagation(libc::MS_UNBINDABLE | libc::MS_REC),
        "bind" => Opt::Bind { recursive: false },
        "rbind" => Opt::Bind { recursive: true },
        "rro" => Opt::RecursiveReadOnly,
        _ => return None,
    })
}

/// A propagation option (`rootfsPropagation`) as flags.
pub fn propagation(name: &str) -> Result<MountFlags> {
    match option(name) {
        Some(Opt::Propagation(flags)) => Ok(MountFlags(flags)),
        _ => Err(invalid!(
            "rootfsPropagation {name:?}: expected private, rprivate, shared, rshared, slave, rslave, unbindable or runbindable"
        )),
    }
}

/// One mount of the spec. A bind's source must exist (it decides whether
/// a directory or a file is made at the target); filesystems other than
/// bind mounts are the kernel's to refuse.
pub fn mount_spec(m: &Mount) -> Result<MountSpec> {
    let target = m.destination().to_string_lossy().into_owned();
    if !target.starts_with('/') {
        return Err(invalid!(
            "mount destination {target:?} is not an absolute path"
        ));
    }
    let mut flags = 0u64;
    let mut propagation = 0u64;
    let mut bind = None;
    let mut recursive_read_only = false;
    let mut data: Vec<&str> = Vec::new();
    for opt in m.options().iter().flatten() {
        match option(opt) {
            Some(Opt::Flag(true, bit)) => flags |= bit,
            Some(Opt::Flag(false, bit)) => flags &= !bit,
            Some(Opt::Propagation(p)) => propagation = p,
            Some(Opt::Bind { recursive }) => bind = Some(recursive),
            Some(Opt::RecursiveReadOnly) => recursive_read_only = true,
            None => data.push(opt),
        }
    }
    let fstype = m.typ().clone().unwrap_or_default();
    if fstype == "bind" && bind.is_none() {
        bind = Some(false);
    }
    let source_text = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source = match bind {
        Some(recursive) => {
            let meta = fs::metadata(&source_text).map_err(|_| {
                invalid!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {source_text}"
                )
            })?;
            MountSource::Bind {
                source: Path::new(&source_text).to_path_buf(),
                create: if meta.is_dir() {
                    Create::Dir
                } else {
                    Create::File
                },
                recursive,
            }
        }
        None => MountSource::Filesystem {
            fstype,
            source: source_text,
        },
    };
    Ok(MountSpec {
        source,
        target,
        flags: MountFlags(flags),
        recursive_read_only,
        propagation: MountFlags(propagation),
        data: data.join(","),
    })
}

/// A spec's `cgroup` mount made of the host's hierarchies, as runc makes
/// it: with a cgroup namespace of the container's own, the cgroup
/// filesystems mounted anew (each then shows the container's cgroup as
/// its root); without one, the container's own cgroup directories bound.
/// On cgroup v1 (and hybrid) a tmpfs holds a directory per hierarchy.
/// `own_dirs`: the container's cgroup directories (v1), `v2_dir` its
/// directory on v2. The spec's flags (`ro`, `nosuid`, ...) apply to each.
pub fn cgroup_mounts(
    m: &Mount,
    layout: &tinydocker_cgroups::Layout,
    own_namespace: bool,
    own_dirs: &[std::path::PathBuf],
    v2_dir: &Path,
) -> Result<Vec<MountSpec>> {
    use tinydocker_cgroups::Layout;
    let base = mount_spec(m)?;
    let at = |target: String, source: MountSource, data: String| MountSpec {
        source,
        target,
        data,
        ..base.clone()
    };
    let fresh = |fstype: &str| MountSource::Filesystem {
        fstype: fstype.into(),
        source: "cgroup".into(),
    };
    let bind = |dir: &Path| MountSource::Bind {
        source: dir.to_path_buf(),
        create: Create::Dir,
        recursive: false,
    };
    let dest = base.target.trim_end_matches('/').to_string();
    let (hierarchies, unified) = match layout {
        Layout::Unified { .. } => {
            let source = if own_namespace {
                fresh("cgroup2")
            } else {
                bind(v2_dir)
            };
            return Ok(vec![at(base.target.clone(), source, String::new())]);
        }
        Layout::Legacy { hierarchies } => (hierarchies, None),
        Layout::Hybrid {
            hierarchies,
            unified,
        } => (hierarchies, Some(unified)),
    };
    let mut out = vec![MountSpec {
        source: MountSource::Filesystem {
            fstype: "tmpfs".into(),
            source: "tmpfs".into(),
        },
        target: base.target.clone(),
        // The directories for the hierarchies are made in it: writable.
        flags: MountFlags(libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV),
        recursive_read_only: false,
        propagation: base.propagation,
        data: "mode=755".into(),
    }];
    for h in hierarchies {
        let Some(name) = h.path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let target = format!("{dest}/{name}");
        if own_namespace {
            out.push(at(target, fresh("cgroup"), h.controllers.join(",")));
        } else if let Some(dir) = own_dirs.iter().find(|d| d.starts_with(&h.path)) {
            out.push(at(target, bind(dir), String::new()));
        }
    }
    if let (Some(unified), true) = (unified, own_namespace) {
        let name = unified
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("unified");
        out.push(at(
            format!("{dest}/{name}"),
            fresh("cgroup2"),
            String::new(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(typ: &str, source: &str, target: &str, options: &[&str]) -> Mount {
        let mut m = Mount::default();
        m.set_typ(Some(typ.into()));
        m.set_source(Some(source.into()));
        m.set_destination(target.into());
        m.set_options(Some(options.iter().map(|s| s.to_string()).collect()));
        m
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let m = mount_spec(&mount(
            "tmpfs",
            "tmpfs",
            "/dev",
            &["nosuid", "strictatime", "mode=755", "size=65536k", "rslave"],
        ))
        .unwrap();
        assert_eq!(m.flags, MountFlags(libc::MS_NOSUID | libc::MS_STRICTATIME));
        assert_eq!(m.propagation, MountFlags(libc::MS_SLAVE | libc::MS_REC));
        assert_eq!(m.data, "mode=755,size=65536k");
        assert!(matches!(m.source, MountSource::Filesystem { .. }));
    }

    #[test]
    fn binds_look_at_their_source() {
        let m = mount_spec(&mount(
            "bind",
            "/etc/hostname",
            "/x",
            &["rbind", "ro", "rro"],
        ))
        .unwrap();
        assert_eq!(
            m.source,
            MountSource::Bind {
                source: "/etc/hostname".into(),
                create: Create::File,
                recursive: true
            }
        );
        assert!(m.recursive_read_only);
        assert_eq!(m.flags, MountFlags(libc::MS_RDONLY));
        let m = mount_spec(&mount("none", "/tmp", "/t", &["bind"])).unwrap();
        assert!(matches!(
            m.source,
            MountSource::Bind {
                create: Create::Dir,
                recursive: false,
                ..
            }
        ));
        let err = mount_spec(&mount("bind", "/no/such", "/t", &[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid mount config for type \"bind\": bind source path does not exist: /no/such"
        );
        assert!(mount_spec(&mount("tmpfs", "tmpfs", "relative", &[])).is_err());
        assert!(propagation("rshared").is_ok() && propagation("ro").is_err());
    }
}
