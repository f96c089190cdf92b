//! A profile evaluated for one container on one host: docker's
//! `includes`/`excludes` conditions (capabilities in the container's
//! bounding set, the native architecture, the running kernel) decide which
//! entries apply, and the errno defaults are filled in. The result is what
//! gets compiled, and what the cache key is computed from.

use nix::sys::utsname::uname;
use serde::Serialize;

use super::profile::{ActionName, Arch, ArgRule, Conditions, FilterFlag, KernelVersion, Profile};
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
    fn new(name: ActionName, errno_ret: Option<u16>) -> Action {
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
    if !profile.architectures.is_empty() && !profile.arch_map.is_empty() {
        return Err(Error::ArchitecturesAndArchMap);
    }
    let mut architectures = vec![host.arch];
    let extra = if profile.architectures.is_empty() {
        profile
            .arch_map
            .iter()
            .find(|m| m.architecture == host.arch)
            .map(|m| m.sub_architectures.as_slice())
            .unwrap_or_default()
    } else {
        profile.architectures.as_slice()
    };
    for arch in extra {
        if !architectures.contains(arch) {
            architectures.push(*arch);
        }
    }

    let rules = profile
        .syscalls
        .iter()
        .filter(|s| applies(s, caps, host))
        .map(|s| Rule {
            names: s.names.clone(),
            action: Action::new(s.action, s.errno_ret),
            args: s.args.clone(),
        })
        .collect();

    let mut flags = profile.flags.clone();
    flags.sort_by_key(|f| f.bits());
    flags.dedup();
    Ok(Resolved {
        default_action: Action::new(profile.default_action, profile.default_errno_ret),
        architectures,
        flags,
        rules,
    })
}

/// docker's rule: any exclude condition that holds drops the entry; every
/// include condition must hold.
fn applies(rule: &SyscallRule, caps: &CapSet, host: &Host) -> bool {
    let arch = host.arch.short_name();
    let Conditions {
        caps: no_caps,
        arches: no_arches,
        min_kernel: no_kernel,
    } = &rule.excludes;
    if no_arches.iter().any(|a| a == arch)
        || no_caps.iter().any(|c| caps.contains_name(c))
        || no_kernel.is_some_and(|k| host.kernel >= k)
    {
        return false;
    }
    let Conditions {
        caps: need_caps,
        arches: need_arches,
        min_kernel: need_kernel,
    } = &rule.includes;
    (need_arches.is_empty() || need_arches.iter().any(|a| a == arch))
        && need_caps.iter().all(|c| caps.contains_name(c))
        && need_kernel.is_none_or(|k| host.kernel >= k)
}
