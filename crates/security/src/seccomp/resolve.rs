//! A profile evaluated for one container on one host: docker's
//! `includes`/`excludes` conditions (capabilities in the container's
//! bounding set, the native architecture, the running kernel) decide which
//! entries apply, and the errno defaults are filled in. The result is what
//! gets compiled, and what the cache key is computed from.

use nix::sys::utsname::uname;
use serde::Serialize;

use super::profile::{
    ActionName, Arch, ArchMap, ArgRule, Conditions, FilterFlag, KernelVersion, Profile,
};
use super::profile::{SyscallRule, EPERM};
use super::Error;
use crate::caps::CapSet;

/// What the conditions are evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// The native architecture.
    pub arch: Arch,
    /// The running kernel (`uname -r`), without the minor revision.
    pub kernel: KernelVersion,
}

impl Host {
    /// This machine.
    pub fn current() -> Result<Host, Error> {
        let arch = Arch::native().ok_or(Error::NativeArch)?;
        let uts = uname().map_err(|errno| Error::Uname(errno.into()))?;
        let release = uts.release().to_string_lossy();
        let kernel = KernelVersion::from_release(&release)
            .ok_or_else(|| Error::KernelRelease(release.to_string()))?;
        Ok(Host { arch, kernel })
    }
}

/// The action of a resolved rule, with its errno filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    Allow,
    Errno(u16),
    KillThread,
    KillProcess,
    Trap,
    Trace(u16),
    Log,
}

impl Action {
    pub(crate) fn new(name: ActionName, errno_ret: Option<u16>) -> Action {
        match name {
            ActionName::Allow => Action::Allow,
            ActionName::Errno => Action::Errno(errno_ret.unwrap_or(EPERM)),
            ActionName::Kill | ActionName::KillThread => Action::KillThread,
            ActionName::KillProcess => Action::KillProcess,
            ActionName::Trap => Action::Trap,
            ActionName::Trace => Action::Trace(errno_ret.unwrap_or(EPERM)),
            ActionName::Log => Action::Log,
        }
    }
}

/// One rule that applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub names: Vec<String>,
    pub action: Action,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgRule>,
}

/// The rules that apply to one container on this host; compile it with
/// [`compile`](super::compile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub default_action: Action,
    /// The architectures filtered, the native one first.
    pub architectures: Vec<Arch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<FilterFlag>,
    pub rules: Vec<Rule>,
}

impl Resolved {
    /// Whether some rule allows `syscall` whatever its arguments.
    pub fn allows(&self, syscall: &str) -> bool {
        self.rules.iter().any(|r| {
            matches!(r.action, Action::Allow | Action::Log)
                && r.args.is_empty()
                && r.names.iter().any(|n| n == syscall)
        })
    }
}

/// The rules of `profile` that apply to a container with the bounding set
/// `caps` on this host.
///
/// ```
/// use tinydocker_security::caps::CapSet;
/// use tinydocker_security::seccomp::{self, Profile};
///
/// let profile = Profile::docker_default();
/// assert!(!seccomp::resolve(&profile, &CapSet::default_set())?.allows("unshare"));
/// assert!(seccomp::resolve(&profile, &CapSet::ALL)?.allows("unshare"));
/// # Ok::<(), seccomp::Error>(())
/// ```
pub fn resolve(profile: &Profile, caps: &CapSet) -> Result<Resolved, Error> {
    resolve_for(profile, caps, &Host::current()?)
}

/// [`resolve`] for a given host, e.g. to see what another kernel would get.
pub fn resolve_for(profile: &Profile, caps: &CapSet, host: &Host) -> Result<Resolved, Error> {
    resolve_owned(profile.clone(), caps, host)
}

/// [`resolve_for`] of a profile that is not needed after: its rules move
/// into the result rather than being copied (the default profile's 400
/// names, on the path of every `run`).
pub fn resolve_owned(profile: Profile, caps: &CapSet, host: &Host) -> Result<Resolved, Error> {
    if !profile.architectures.is_empty() && !profile.arch_map.is_empty() {
        return Err(Error::ArchitecturesAndArchMap);
    }
    let architectures = architectures_for(&profile.architectures, &profile.arch_map, host);

    let default_action = Action::new(profile.default_action, profile.default_errno_ret);
    let mut flags = profile.flags;
    let rules = profile
        .syscalls
        .into_iter()
        .filter(|s| applies(s, caps, host))
        .map(|s| Rule {
            action: Action::new(s.action, s.errno_ret),
            names: s.names,
            args: s.args,
        })
        .collect();

    flags.sort_by_key(|f| f.bits());
    flags.dedup();
    Ok(Resolved {
        default_action,
        architectures,
        flags,
        rules,
    })
}

/// The architectures filtered: the native one first, then the profile's
/// own list, or else what its map gives the native one.
pub(crate) fn architectures_for(listed: &[Arch], map: &[ArchMap], host: &Host) -> Vec<Arch> {
    let mut architectures = vec![host.arch];
    let extra = if listed.is_empty() {
        map.iter()
            .find(|m| m.architecture == host.arch)
            .map(|m| m.sub_architectures.as_slice())
            .unwrap_or_default()
    } else {
        listed
    };
    for arch in extra {
        if !architectures.contains(arch) {
            architectures.push(*arch);
        }
    }
    architectures
}

/// One side of a rule's conditions: capability names, short architecture
/// names, the least kernel.
pub(crate) type Parts<'a, S> = (&'a [S], &'a [S], Option<KernelVersion>);

/// docker's rule: any exclude condition that holds drops the entry; every
/// include condition must hold.
pub(crate) fn holds<S: AsRef<str>>(
    includes: Parts<'_, S>,
    excludes: Parts<'_, S>,
    caps: &CapSet,
    host: &Host,
) -> bool {
    let arch = host.arch.short_name();
    let (no_caps, no_arches, no_kernel) = excludes;
    if no_arches.iter().any(|a| a.as_ref() == arch)
        || no_caps.iter().any(|c| caps.contains_name(c.as_ref()))
        || no_kernel.is_some_and(|k| host.kernel >= k)
    {
        return false;
    }
    let (need_caps, need_arches, need_kernel) = includes;
    (need_arches.is_empty() || need_arches.iter().any(|a| a.as_ref() == arch))
        && need_caps.iter().all(|c| caps.contains_name(c.as_ref()))
        && need_kernel.is_none_or(|k| host.kernel >= k)
}

fn applies(rule: &SyscallRule, caps: &CapSet, host: &Host) -> bool {
    fn parts(c: &Conditions) -> Parts<'_, String> {
        (&c.caps, &c.arches, c.min_kernel)
    }
    holds(parts(&rule.includes), parts(&rule.excludes), caps, host)
}
