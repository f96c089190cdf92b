//! `linux.namespaces` (`namespaces(7)`): which the init's `clone3(2)`
//! creates, which it joins by `path` with `setns(2)`, and which it shares
//! with the runtime (those the spec does not list).

use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use tinydocker_ns::Namespaces;

use crate::error::{invalid, Result};

/// The container's namespaces, decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePlan {
    /// Created by the clone (mount, UTS, IPC, PID, network).
    pub clone: Namespaces,
    /// A new cgroup namespace, entered by the child once it is in its
    /// cgroup (so its cgroup is the namespace's root).
    pub new_cgroup: bool,
    /// Joined by the child, by path (`CLONE_NEW*` flag, file).
    pub join: Vec<(i32, PathBuf)>,
    /// The PID namespace joined by path: the runtime enters it for its
    /// children just around the clone (`setns(2)` on a PID namespace
    /// moves only where children are born).
    pub join_pid: Option<PathBuf>,
    /// A new user namespace: the spec's uid and gid mappings
    /// (`containerID hostID size`), written by the runtime before the
    /// child goes on.
    pub user: Option<IdMaps>,
}

/// A user namespace's `uid_map` and `gid_map`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMaps {
    /// `(containerID, hostID, size)` ranges of user ids.
    pub uid: Vec<(u32, u32, u32)>,
    /// The same of group ids.
    pub gid: Vec<(u32, u32, u32)>,
}

impl IdMaps {
    /// The text of a `/proc/PID/uid_map` (or `gid_map`).
    pub fn text(map: &[(u32, u32, u32)]) -> String {
        map.iter()
            .map(|(inside, outside, size)| format!("{inside} {outside} {size}\n"))
            .collect()
    }

    /// Whether id 0 in the namespace maps to a host id, for uids and gids.
    pub fn maps_root(&self) -> bool {
        let has_zero =
            |m: &[(u32, u32, u32)]| m.iter().any(|(inside, _, size)| *inside == 0 && *size > 0);
        has_zero(&self.uid) && has_zero(&self.gid)
    }
}

impl NamespacePlan {
    /// The container has a network namespace of its own (new or joined),
    /// not the host's.
    pub fn own_network(&self) -> bool {
        self.clone.contains(Namespaces::NET) || self.joins(libc::CLONE_NEWNET)
    }

    /// It has a network namespace of its own that the engine made: one to
    /// bring `lo` up in, and to attach to a bridge.
    pub fn new_network(&self) -> bool {
        self.clone.contains(Namespaces::NET)
    }

    /// It has an IPC namespace of its own (new or joined).
    pub fn own_ipc(&self) -> bool {
        self.clone.contains(Namespaces::IPC) || self.joins(libc::CLONE_NEWIPC)
    }

    /// It has a UTS namespace of its own (new or joined).
    pub fn own_uts(&self) -> bool {
        self.clone.contains(Namespaces::UTS) || self.joins(libc::CLONE_NEWUTS)
    }

    fn joins(&self, flag: i32) -> bool {
        self.join.iter().any(|(f, _)| *f == flag)
    }
}

/// Read `linux.namespaces`. User and time namespaces, and joining another
/// mount namespace, are refused: the engine would not set them up right.
pub fn namespaces(spec: &Spec) -> Result<NamespacePlan> {
    let mut plan = NamespacePlan {
        clone: Namespaces::NONE,
        new_cgroup: false,
        join: Vec::new(),
        join_pid: None,
        user: None,
    };
    let mut seen = Vec::new();
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    for ns in list.into_iter().flatten() {
        let typ = ns.typ();
        if seen.contains(&typ) {
            return Err(invalid!("linux.namespaces: {typ} is listed twice"));
        }
        seen.push(typ);
        let (flag, new) = match typ {
            LinuxNamespaceType::Mount => (libc::CLONE_NEWNS, Namespaces::MOUNT),
            LinuxNamespaceType::Uts => (libc::CLONE_NEWUTS, Namespaces::UTS),
            LinuxNamespaceType::Ipc => (libc::CLONE_NEWIPC, Namespaces::IPC),
            LinuxNamespaceType::Pid => (libc::CLONE_NEWPID, Namespaces::PID),
            LinuxNamespaceType::Network => (libc::CLONE_NEWNET, Namespaces::NET),
            LinuxNamespaceType::Cgroup => (libc::CLONE_NEWCGROUP, Namespaces::NONE),
            LinuxNamespaceType::User => (libc::CLONE_NEWUSER, Namespaces::USER),
            LinuxNamespaceType::Time => {
                return Err(invalid!(
                    "linux.namespaces: time namespaces are not supported by tinydocker"
                ))
            }
        };
        match ns.path() {
            None => {
                if typ == LinuxNamespaceType::Cgroup {
                    plan.new_cgroup = true;
                } else {
                    plan.clone = plan.clone.with(new);
                }
            }
            Some(path) => {
                if !path.is_absolute() {
                    return Err(invalid!(
                        "linux.namespaces: the {typ} namespace path {} is not absolute",
                        path.display()
                    ));
                }
                match typ {
                    LinuxNamespaceType::User => {
                        return Err(invalid!(
                            "linux.namespaces: joining a user namespace ({}) is not supported by tinydocker",
                            path.display()
                        ))
                    }
                    LinuxNamespaceType::Mount => {
                        return Err(invalid!(
                            "linux.namespaces: joining a mount namespace ({}) is not supported by tinydocker",
                            path.display()
                        ))
                    }
                    LinuxNamespaceType::Pid => plan.join_pid = Some(path.clone()),
                    _ => plan.join.push((flag, path.clone())),
                }
            }
        }
    }
    let linux = spec.linux().as_ref();
    let maps = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<(u32, u32, u32)> {
        m.into_iter()
            .flatten()
            .map(|m| (m.container_id(), m.host_id(), m.size()))
            .collect()
    };
    let uid = maps(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid = maps(linux.and_then(|l| l.gid_mappings().as_ref()));
    if plan.clone.contains(Namespaces::USER) {
        if uid.is_empty() || gid.is_empty() {
            return Err(invalid!(
                "linux.namespaces: a user namespace needs linux.uidMappings and linux.gidMappings"
            ));
        }
        plan.user = Some(IdMaps { uid, gid });
    } else if !uid.is_empty() || !gid.is_empty() {
        return Err(invalid!(
            "linux.uidMappings and linux.gidMappings need a user namespace of the container's own"
        ));
    }
    if !plan.clone.contains(Namespaces::MOUNT) {
        return Err(invalid!(
            "linux.namespaces: a container needs a mount namespace of its own"
        ));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxNamespaceBuilder, SpecBuilder};

    fn spec(list: &[(LinuxNamespaceType, Option<&str>)]) -> Spec {
        let namespaces = list
            .iter()
            .map(|(typ, path)| {
                let mut b = LinuxNamespaceBuilder::default().typ(*typ);
                if let Some(p) = path {
                    b = b.path(*p);
                }
                b.build().unwrap()
            })
            .collect::<Vec<_>>();
        SpecBuilder::default()
            .linux(
                LinuxBuilder::default()
                    .namespaces(namespaces)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn new_and_joined() {
        use LinuxNamespaceType::*;
        let plan = namespaces(&spec(&[
            (Mount, None),
            (Pid, Some("/proc/1/ns/pid")),
            (Network, Some("/run/netns/pod")),
            (Cgroup, None),
            (Uts, None),
        ]))
        .unwrap();
        assert_eq!(plan.clone, Namespaces::MOUNT.with(Namespaces::UTS));
        assert!(plan.new_cgroup);
        assert_eq!(plan.join_pid, Some("/proc/1/ns/pid".into()));
        assert_eq!(plan.join, [(libc::CLONE_NEWNET, "/run/netns/pod".into())]);
        assert!(plan.own_network() && !plan.new_network());
        assert!(!plan.own_ipc() && plan.own_uts());
    }

    #[test]
    fn refused() {
        use LinuxNamespaceType::*;
        for (list, why) in [
            (vec![(Mount, None), (User, None)], "uidMappings"),
            (
                vec![(Mount, None), (User, Some("/proc/1/ns/user"))],
                "joining a user namespace",
            ),
            (
                vec![(Mount, Some("/proc/1/ns/mnt"))],
                "joining a mount namespace",
            ),
            (vec![(Pid, None)], "mount namespace of its own"),
            (vec![(Mount, None), (Mount, None)], "twice"),
            (vec![(Mount, None), (Network, Some("rel"))], "not absolute"),
        ] {
            let err = namespaces(&spec(&list)).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }
}
