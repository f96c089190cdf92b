//! Capabilities (`capabilities(7)`): names, docker's `--cap-add` and
//! `--cap-drop`, podman's default set, and the child side that applies a
//! set with plain system calls.

use std::fmt;

use nix::errno::Errno;
use nix::sys::prctl;
use thiserror::Error;

use crate::sys;

/// Every capability the kernel headers name, by number.
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// podman's default set (containers.conf `default_capabilities`).
pub const DEFAULT: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    #[error("unknown capability: {0:?}")]
    Unknown(String),
}

/// A set of capabilities, one bit per number.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CapSet(pub u64);

/// Parse `NAME`, `CAP_NAME` or `ALL` in any case into a capability number;
/// `None` for `ALL`.
fn parse_name(name: &str) -> Result<Option<u32>, Error> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(None);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    NAMES
        .iter()
        .position(|n| *n == full)
        .map(|i| Some(i as u32))
        .ok_or_else(|| Error::Unknown(name.to_string()))
}

impl CapSet {
    /// Every capability this table names.
    pub const ALL: CapSet = CapSet((1u64 << NAMES.len()) - 1);

    /// podman's default set.
    pub fn default_set() -> CapSet {
        DEFAULT.iter().fold(CapSet(0), |s, n| {
            s.with(NAMES.iter().position(|x| x == n).unwrap() as u32)
        })
    }

    /// The set docker computes from `--cap-add` and `--cap-drop`, starting
    /// from `base`: with `--cap-add ALL`, every capability but the dropped
    /// ones; with `--cap-drop ALL`, only the added ones; otherwise `base`
    /// minus the drops, plus the adds (so one named in both is kept).
    pub fn with_changes(base: CapSet, add: &[String], drop: &[String]) -> Result<CapSet, Error> {
        let parse = |names: &[String]| {
            names
                .iter()
                .map(|n| parse_name(n))
                .collect::<Result<Vec<_>, _>>()
        };
        let (adds, drops) = (parse(add)?, parse(drop)?);
        let bits = |caps: &[Option<u32>]| caps.iter().flatten().fold(0u64, |b, c| b | 1 << c);
        let (add_bits, drop_bits) = (bits(&adds), bits(&drops));
        Ok(if adds.contains(&None) {
            CapSet(CapSet::ALL.0 & !drop_bits)
        } else if drops.contains(&None) {
            CapSet(add_bits)
        } else {
            CapSet((base.0 & !drop_bits) | add_bits)
        })
    }

    pub fn with(self, cap: u32) -> CapSet {
        CapSet(self.0 | (1 << cap))
    }

    pub fn contains(&self, cap: u32) -> bool {
        cap < 64 && self.0 & (1 << cap) != 0
    }

    /// Whether the set holds the capability named `CAP_X` or `X`.
    pub fn contains_name(&self, name: &str) -> bool {
        matches!(parse_name(name), Ok(Some(cap)) if self.contains(cap))
    }

    /// The names in the set, in number order.
    pub fn names(&self) -> Vec<&'static str> {
        NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.contains(*i as u32))
            .map(|(_, n)| *n)
            .collect()
    }
}

impl fmt::Debug for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

/// Who the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// Child-side steps, for the error a failure reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    KeepCaps,
    Bounding,
    Groups,
    Gid,
    Uid,
    Capset,
    Ambient,
    NoNewPrivs,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::KeepCaps => "keep capabilities across the user change",
            Step::Bounding => "drop capabilities from the bounding set",
            Step::Groups => "set the supplementary groups",
            Step::Gid => "set the group id",
            Step::Uid => "set the user id",
            Step::Capset => "set the capability sets",
            Step::Ambient => "set the ambient capability set",
            Step::NoNewPrivs => "set no_new_privs",
        })
    }
}

/// Read a `/proc` file with one read(2): the kernel makes its text anew for
/// every read, and std's growing reads of a file whose size shows as 0
/// (32, 32, 64, ... bytes) would have it made several times.
fn read_proc(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(16 * 1024);
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// The calling process's bounding set: all a container it starts can have.
pub fn current_bounding() -> CapSet {
    let status = read_proc(std::path::Path::new("/proc/self/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .map_or(CapSet::ALL, |bits| CapSet(bits & CapSet::ALL.0))
}

/// Everything the child does to drop privileges, with no allocation:
/// prepared in the parent, applied between the mount plan and `execve`.
#[derive(Debug, Clone)]
pub struct Privileges {
    /// The five capability sets (`capabilities(7)`).
    pub sets: CapSets,
    pub identity: Identity,
    /// Set `PR_SET_NO_NEW_PRIVS`.
    pub no_new_privs: bool,
    /// The bounding set the process has now ([`current_bounding`]): what
    /// is in it and not in `sets.bounding` is dropped.
    pub current_bounding: CapSet,
}

/// A process's five capability sets, as an OCI runtime spec gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSets {
    /// What the process and its children can ever have.
    pub bounding: CapSet,
    /// What it uses now.
    pub effective: CapSet,
    /// What it may make effective.
    pub permitted: CapSet,
    /// What survives execve(2) into a file with inheritable file
    /// capabilities. docker and podman leave it empty since
    /// CVE-2022-24769: with it, a non-root user's exec of such a file
    /// gains them.
    pub inheritable: CapSet,
    /// What survives execve(2) into any file (each must also be
    /// permitted and inheritable).
    pub ambient: CapSet,
}

impl CapSets {
    /// `caps` in the bounding, effective and permitted sets, the other two
    /// empty: what docker and podman give a container.
    pub fn plain(caps: CapSet) -> CapSets {
        CapSets {
            bounding: caps,
            effective: caps,
            permitted: caps,
            inheritable: CapSet(0),
            ambient: CapSet(0),
        }
    }

    /// Each set without what is not in `available` (what a process with
    /// that bounding set can hand on).
    pub fn within(self, available: CapSet) -> CapSets {
        let cut = |set: CapSet| CapSet(set.0 & available.0);
        CapSets {
            bounding: cut(self.bounding),
            effective: cut(self.effective),
            permitted: cut(self.permitted),
            inheritable: cut(self.inheritable),
            ambient: cut(self.ambient),
        }
    }
}

impl Privileges {
    /// Drop the bounding set, switch to the identity, set the other sets,
    /// set the ambient set and no_new_privs (when asked): the order in
    /// which each step still has the capability it needs. Allocation-free,
    /// for a child between clone and exec.
    pub fn apply(&self) -> Result<(), (Step, i32)> {
        let at = |step: Step| move |errno: Errno| (step, errno as i32);
        let sets = &self.sets;
        prctl::set_keepcaps(true).map_err(at(Step::KeepCaps))?;
        for cap in 0..64 {
            if self.current_bounding.contains(cap) && !sets.bounding.contains(cap) {
                match sys::capbset_drop(cap) {
                    // EINVAL: a capability this kernel does not have.
                    Ok(()) | Err(Errno::EINVAL) => {}
                    Err(errno) => return Err(at(Step::Bounding)(errno)),
                }
            }
        }
        let id = &self.identity;
        sys::setgroups(&id.groups).map_err(at(Step::Groups))?;
        sys::setresgid(id.gid).map_err(at(Step::Gid))?;
        sys::setresuid(id.uid).map_err(at(Step::Uid))?;
        sys::capset(sets.effective.0, sets.permitted.0, sets.inheritable.0)
            .map_err(at(Step::Capset))?;
        match sys::clear_ambient() {
            // EINVAL: a kernel without ambient capabilities (before 4.3).
            Ok(()) | Err(Errno::EINVAL) if sets.ambient.0 == 0 => {}
            Ok(()) => {
                // The kernel raises only what is permitted and
                // inheritable: the rest is left out, as runc leaves it.
                for cap in 0..64 {
                    if sets.ambient.contains(cap)
                        && sets.permitted.contains(cap)
                        && sets.inheritable.contains(cap)
                    {
                        sys::raise_ambient(cap).map_err(at(Step::Ambient))?;
                    }
                }
            }
            Err(errno) => return Err(at(Step::Ambient)(errno)),
        }
        if self.no_new_privs {
            prctl::set_no_new_privs().map_err(at(Step::NoNewPrivs))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn within_cuts_every_set() {
        let sets = CapSets {
            ambient: CapSet(0b1),
            inheritable: CapSet(0b11),
            ..CapSets::plain(CapSet(0b111))
        };
        let cut = sets.within(CapSet(0b101));
        assert_eq!(cut.bounding, CapSet(0b101));
        assert_eq!(cut.effective, CapSet(0b101));
        assert_eq!(cut.permitted, CapSet(0b101));
        assert_eq!(cut.inheritable, CapSet(0b1));
        assert_eq!(cut.ambient, CapSet(0b1));
    }

    #[test]
    fn default_set_is_podmans() {
        insta::assert_debug_snapshot!(CapSet::default_set());
        assert_eq!(CapSet::default_set().names().len(), 11);
    }

    #[test]
    fn names_with_or_without_prefix_any_case() {
        let set =
            CapSet::with_changes(CapSet(0), &strings(&["net_admin", "CAP_SYS_TIME"]), &[]).unwrap();
        assert_eq!(set.names(), ["CAP_NET_ADMIN", "CAP_SYS_TIME"]);
        assert!(set.contains_name("NET_ADMIN"));
        assert!(set.contains_name("cap_sys_time"));
        assert!(!set.contains_name("SYS_ADMIN"));
    }

    #[test]
    fn add_and_drop() {
        let d = CapSet::default_set();
        let set = CapSet::with_changes(d, &strings(&["SYS_ADMIN"]), &strings(&["CHOWN"])).unwrap();
        assert!(set.contains_name("SYS_ADMIN"));
        assert!(!set.contains_name("CHOWN"));
        assert!(set.contains_name("KILL"));
        // drop ALL, then the adds.
        let set = CapSet::with_changes(d, &strings(&["KILL"]), &strings(&["ALL"])).unwrap();
        assert_eq!(set.names(), ["CAP_KILL"]);
        // add ALL, minus the drops.
        let set = CapSet::with_changes(d, &strings(&["all"]), &strings(&["SYS_ADMIN"])).unwrap();
        assert!(!set.contains_name("SYS_ADMIN"));
        assert_eq!(set.names().len(), NAMES.len() - 1);
        // Named in both: dropped from the base, then added back (docker's order).
        let set = CapSet::with_changes(d, &strings(&["KILL"]), &strings(&["KILL"])).unwrap();
        assert!(set.contains_name("KILL"));
    }

    #[test]
    fn unknown_names_are_refused() {
        for bad in ["CAP_NOPE", "", "SYS_ADMINX", "CAP_"] {
            assert_eq!(
                CapSet::with_changes(CapSet(0), &strings(&[bad]), &[]),
                Err(Error::Unknown(bad.to_string()))
            );
            assert!(CapSet::with_changes(CapSet(0), &[], &strings(&[bad])).is_err());
        }
    }

    #[test]
    fn all_covers_the_table() {
        assert_eq!(CapSet::ALL.names().len(), NAMES.len());
        assert!(CapSet::ALL.contains_name("CHECKPOINT_RESTORE"));
    }
}
