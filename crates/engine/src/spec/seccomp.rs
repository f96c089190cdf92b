//! seccomp in the spec's form (`linux.seccomp`) and the security crate's
//! [`Resolved`] rules, both ways: a docker profile is resolved for a
//! container (its capabilities, this host) and written into the spec, as
//! moby does; the engine compiles the spec's rules back into a filter.

use oci_spec::runtime::{
    Arch as SpecArch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};
use tinydocker_security::seccomp::{
    Action, Arch, ArgRule, CmpOp, Filter, FilterFlag, Resolved, Rule,
};

use crate::error::{invalid, Result};

const ARCHES: [(Arch, SpecArch); 21] = [
    (Arch::X86, SpecArch::ScmpArchX86),
    (Arch::X86_64, SpecArch::ScmpArchX86_64),
    (Arch::X32, SpecArch::ScmpArchX32),
    (Arch::Arm, SpecArch::ScmpArchArm),
    (Arch::Aarch64, SpecArch::ScmpArchAarch64),
    (Arch::Loongarch64, SpecArch::ScmpArchLoongarch64),
    (Arch::M68k, SpecArch::ScmpArchM68k),
    (Arch::Mips, SpecArch::ScmpArchMips),
    (Arch::Mips64, SpecArch::ScmpArchMips64),
    (Arch::Mips64N32, SpecArch::ScmpArchMips64n32),
    (Arch::Mipsel, SpecArch::ScmpArchMipsel),
    (Arch::Mipsel64, SpecArch::ScmpArchMipsel64),
    (Arch::Mipsel64N32, SpecArch::ScmpArchMipsel64n32),
    (Arch::Ppc, SpecArch::ScmpArchPpc),
    (Arch::Ppc64, SpecArch::ScmpArchPpc64),
    (Arch::Ppc64Le, SpecArch::ScmpArchPpc64le),
    (Arch::S390, SpecArch::ScmpArchS390),
    (Arch::S390X, SpecArch::ScmpArchS390x),
    (Arch::Parisc, SpecArch::ScmpArchParisc),
    (Arch::Parisc64, SpecArch::ScmpArchParisc64),
    (Arch::Riscv64, SpecArch::ScmpArchRiscv64),
];

const OPS: [(CmpOp, LinuxSeccompOperator); 7] = [
    (CmpOp::Ne, LinuxSeccompOperator::ScmpCmpNe),
    (CmpOp::Lt, LinuxSeccompOperator::ScmpCmpLt),
    (CmpOp::Le, LinuxSeccompOperator::ScmpCmpLe),
    (CmpOp::Eq, LinuxSeccompOperator::ScmpCmpEq),
    (CmpOp::Ge, LinuxSeccompOperator::ScmpCmpGe),
    (CmpOp::Gt, LinuxSeccompOperator::ScmpCmpGt),
    (CmpOp::MaskedEq, LinuxSeccompOperator::ScmpCmpMaskedEq),
];

fn action_to_spec(action: Action) -> (LinuxSeccompAction, Option<u32>) {
    match action {
        Action::Allow => (LinuxSeccompAction::ScmpActAllow, None),
        Action::Errno(e) => (LinuxSeccompAction::ScmpActErrno, Some(e.into())),
        Action::KillThread => (LinuxSeccompAction::ScmpActKillThread, None),
        Action::KillProcess => (LinuxSeccompAction::ScmpActKillProcess, None),
        Action::Trap => (LinuxSeccompAction::ScmpActTrap, None),
        Action::Trace(m) => (LinuxSeccompAction::ScmpActTrace, Some(m.into())),
        Action::Log => (LinuxSeccompAction::ScmpActLog, None),
    }
}

fn action_from_spec(action: LinuxSeccompAction, errno: Option<u32>) -> Result<Action> {
    let ret = |what: &str| -> Result<u16> {
        match errno {
            None => Ok(libc::EPERM as u16),
            Some(e) if e <= 4095 => Ok(e as u16),
            Some(e) => Err(invalid!(
                "linux.seccomp: {what} {e} is out of range (0 to 4095)"
            )),
        }
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActAllow => Action::Allow,
        LinuxSeccompAction::ScmpActErrno => Action::Errno(ret("errnoRet")?),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            Action::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => Action::KillProcess,
        LinuxSeccompAction::ScmpActTrap => Action::Trap,
        LinuxSeccompAction::ScmpActTrace => Action::Trace(ret("the trace message")?),
        LinuxSeccompAction::ScmpActLog => Action::Log,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(invalid!(
                "linux.seccomp: SCMP_ACT_NOTIFY needs a seccomp agent, which tinydocker does not support"
            ))
        }
    })
}

fn flag_to_spec(flag: FilterFlag) -> LinuxSeccompFilterFlag {
    match flag {
        FilterFlag::Tsync => LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
        FilterFlag::Log => LinuxSeccompFilterFlag::SeccompFilterFlagLog,
        FilterFlag::SpecAllow => LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
    }
}

/// Resolved rules in the spec's form (moved, not copied).
pub fn seccomp_to_spec(resolved: Resolved) -> LinuxSeccomp {
    let (default_action, default_errno) = action_to_spec(resolved.default_action);
    let syscalls = resolved
        .rules
        .into_iter()
        .map(|rule| {
            let (action, errno) = action_to_spec(rule.action);
            let mut s = LinuxSyscall::default();
            s.set_names(rule.names);
            s.set_action(action);
            s.set_errno_ret(errno);
            if !rule.args.is_empty() {
                s.set_args(Some(
                    rule.args
                        .iter()
                        .map(|a| {
                            let mut arg = LinuxSeccompArgBuilder::default()
                                .index(a.index as usize)
                                .value(a.value)
                                .op(OPS
                                    .iter()
                                    .find(|(op, _)| *op == a.op)
                                    .map(|(_, s)| *s)
                                    .unwrap_or_default());
                            if a.value_two != 0 {
                                arg = arg.value_two(a.value_two);
                            }
                            arg.build().expect("every field is set")
                        })
                        .collect(),
                ));
            }
            s
        })
        .collect();
    let mut out = LinuxSeccomp::default();
    out.set_default_action(default_action);
    out.set_default_errno_ret(default_errno);
    out.set_architectures(Some(
        resolved
            .architectures
            .iter()
            .filter_map(|a| ARCHES.iter().find(|(ours, _)| ours == a).map(|(_, s)| *s))
            .collect(),
    ));
    if !resolved.flags.is_empty() {
        out.set_flags(Some(
            resolved.flags.iter().copied().map(flag_to_spec).collect(),
        ));
    }
    out.set_syscalls(Some(syscalls));
    out
}

/// The spec's seccomp rules, to compile. The native architecture comes
/// first (libseccomp's context starts with it).
pub fn seccomp_from_spec(seccomp: &LinuxSeccomp) -> Result<Resolved> {
    if seccomp.listener_path().is_some() {
        return Err(invalid!(
            "linux.seccomp.listenerPath: a seccomp agent is not supported by tinydocker"
        ));
    }
    let native = Arch::native().ok_or_else(|| invalid!("seccomp: unknown native architecture"))?;
    let mut architectures = vec![native];
    for arch in seccomp.architectures().iter().flatten() {
        let ours = ARCHES
            .iter()
            .find(|(_, s)| s == arch)
            .map(|(ours, _)| *ours)
            .ok_or_else(|| invalid!("linux.seccomp: architecture {arch} is not supported"))?;
        if !architectures.contains(&ours) {
            architectures.push(ours);
        }
    }
    let mut flags = Vec::new();
    for flag in seccomp.flags().iter().flatten() {
        flags.push(match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FilterFlag::Tsync,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FilterFlag::Log,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FilterFlag::SpecAllow,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                return Err(invalid!(
                    "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV belongs to a seccomp agent, which tinydocker does not support"
                ))
            }
        });
    }
    flags.sort_by_key(|f| f.bits());
    flags.dedup();
    let mut rules = Vec::new();
    for (i, s) in seccomp.syscalls().iter().flatten().enumerate() {
        let action = action_from_spec(s.action(), s.errno_ret())?;
        let mut args = Vec::new();
        for a in s.args().iter().flatten() {
            if a.index() > 5 {
                return Err(invalid!(
                    "linux.seccomp.syscalls[{i}]: argument index {} is out of range (0 to 5)",
                    a.index()
                ));
            }
            args.push(ArgRule {
                index: a.index() as u32,
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
                op: OPS
                    .iter()
                    .find(|(_, spec)| *spec == a.op())
                    .map(|(op, _)| *op)
                    .unwrap_or(CmpOp::Eq),
            });
        }
        rules.push(Rule {
            names: s.names().clone(),
            action,
            args,
        });
    }
    Ok(Resolved {
        default_action: action_from_spec(seccomp.default_action(), seccomp.default_errno_ret())?,
        architectures,
        flags,
        rules,
    })
}

/// Check the spec's seccomp rules without converting them (what
/// [`seccomp_from_spec`] would refuse).
pub fn check(seccomp: &LinuxSeccomp) -> Result<()> {
    if seccomp.listener_path().is_some() {
        return Err(invalid!(
            "linux.seccomp.listenerPath: a seccomp agent is not supported by tinydocker"
        ));
    }
    let notify = seccomp.default_action() == LinuxSeccompAction::ScmpActNotify
        || seccomp
            .syscalls()
            .iter()
            .flatten()
            .any(|s| s.action() == LinuxSeccompAction::ScmpActNotify);
    if notify {
        return Err(invalid!(
            "linux.seccomp: SCMP_ACT_NOTIFY needs a seccomp agent, which tinydocker does not support"
        ));
    }
    if seccomp
        .flags()
        .iter()
        .flatten()
        .any(|f| *f == LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv)
    {
        return Err(invalid!(
            "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV belongs to a seccomp agent, which tinydocker does not support"
        ));
    }
    for arch in seccomp.architectures().iter().flatten() {
        if !ARCHES.iter().any(|(_, s)| s == arch) {
            return Err(invalid!(
                "linux.seccomp: architecture {arch} is not supported"
            ));
        }
    }
    for (i, s) in seccomp.syscalls().iter().flatten().enumerate() {
        if s.args().iter().flatten().any(|a| a.index() > 5) {
            return Err(invalid!(
                "linux.seccomp.syscalls[{i}]: an argument index is out of range (0 to 5)"
            ));
        }
    }
    Ok(())
}

/// The rules, every field of them, as bytes to key the cache with:
/// cheaper than their JSON (no escaping, no formatting), and as exact.
fn cache_key(seccomp: &LinuxSeccomp) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 * 1024);
    // Every part fixed-size or preceded by its length: no two rule sets
    // write the same bytes.
    let number = |key: &mut Vec<u8>, n: u64| key.extend_from_slice(&n.to_le_bytes());
    number(
        &mut key,
        seccomp
            .default_action()
            .as_u32(seccomp.default_errno_ret())
            .into(),
    );
    let architectures = seccomp.architectures().as_deref().unwrap_or_default();
    number(&mut key, architectures.len() as u64);
    for arch in architectures {
        number(&mut key, *arch as u64);
    }
    let flags = seccomp.flags().as_deref().unwrap_or_default();
    number(&mut key, flags.len() as u64);
    for flag in flags {
        number(&mut key, *flag as u64);
    }
    for s in seccomp.syscalls().iter().flatten() {
        number(&mut key, s.action().as_u32(s.errno_ret()).into());
        number(&mut key, s.names().len() as u64);
        for name in s.names() {
            number(&mut key, name.len() as u64);
            key.extend_from_slice(name.as_bytes());
        }
        let args = s.args().as_deref().unwrap_or_default();
        number(&mut key, args.len() as u64);
        for a in args {
            number(&mut key, a.index() as u64);
            number(&mut key, a.value());
            number(&mut key, a.value_two().unwrap_or(0));
            number(&mut key, a.op() as u64);
        }
    }
    key
}

/// The filter for the spec's rules: from the compiled programs cached in
/// `cache_dir`, keyed by the rules as the spec writes them down (nothing
/// is converted or compiled on a hit, the path of every start).
pub fn filter(seccomp: &LinuxSeccomp, cache_dir: &std::path::Path) -> Result<Filter> {
    let key = cache_key(seccomp);
    let flags = seccomp
        .flags()
        .iter()
        .flatten()
        .map(|f| match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FilterFlag::Tsync.bits(),
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FilterFlag::Log.bits(),
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FilterFlag::SpecAllow.bits(),
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        })
        .fold(0, |all, bit| all | bit);
    tinydocker_security::seccomp::compile_keyed(&key, flags, cache_dir, || {
        seccomp_from_spec(seccomp)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinydocker_security::caps::CapSet;
    use tinydocker_security::seccomp::{resolve, Profile};

    #[test]
    fn the_default_profile_goes_through_the_spec_unchanged() {
        let resolved = resolve(&Profile::docker_default(), &CapSet::default_set()).unwrap();
        let spec = seccomp_to_spec(resolved.clone());
        assert_eq!(spec.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(seccomp_from_spec(&spec).unwrap(), resolved);
        // And through its JSON, as a record or a bundle holds it.
        let json = serde_json::to_string(&spec).unwrap();
        let back: LinuxSeccomp = serde_json::from_str(&json).unwrap();
        assert_eq!(seccomp_from_spec(&back).unwrap(), resolved);
    }

    #[test]
    fn the_cache_key_tells_rules_apart() {
        let resolved = resolve(&Profile::docker_default(), &CapSet::default_set()).unwrap();
        let spec = seccomp_to_spec(resolved.clone());
        let admin = resolve(&Profile::docker_default(), &CapSet::ALL).unwrap();
        assert_eq!(cache_key(&spec), cache_key(&spec.clone()));
        assert_ne!(cache_key(&spec), cache_key(&seccomp_to_spec(admin)));
        let mut errno = spec.clone();
        errno.set_default_errno_ret(Some(38));
        assert_ne!(cache_key(&spec), cache_key(&errno));
    }

    #[test]
    fn notify_is_refused_clearly() {
        let mut spec = LinuxSeccomp::default();
        spec.set_default_action(LinuxSeccompAction::ScmpActNotify);
        let err = seccomp_from_spec(&spec).unwrap_err().to_string();
        assert!(err.contains("SCMP_ACT_NOTIFY"), "{err}");
    }
}
