//! Resolved rules to a BPF program with libseccomp (`seccomp_init(3)`,
//! `seccomp_rule_add(3)`, `seccomp_export_bpf(3)`), following runc: names
//! libseccomp does not know are skipped, rules with the default action are
//! left out (libseccomp refuses them), and when two comparisons test the
//! same argument each becomes a rule of its own.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use libseccomp::{
    ScmpAction, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall, ScmpVersion,
};
use nix::sys::memfd::{memfd_create, MFdFlags};

use super::filter::{Filter, MAX_INSTRUCTIONS};
use super::profile::{ArgRule, CmpOp};
use super::resolve::{Action, Host, Resolved};
use super::{cache, Error};

/// Compile `resolved` to a BPF program, through the cache in `cache_dir`
/// when given (see [`cache_file`](super::cache_file)).
///
/// ```
/// use tinydocker_security::caps::CapSet;
/// use tinydocker_security::seccomp::{self, Profile};
///
/// let resolved = seccomp::resolve(&Profile::docker_default(), &CapSet::default_set())?;
/// let filter = seccomp::compile(&resolved, None)?;
/// assert!(filter.len() > 100);
/// # Ok::<(), seccomp::Error>(())
/// ```
pub fn compile(resolved: &Resolved, cache_dir: Option<&Path>) -> Result<Filter, Error> {
    let flags = resolved.flags.iter().fold(0, |f, flag| f | flag.bits());
    let bytes = match cache_dir {
        Some(dir) => cache::load_or_build(dir, resolved, build)?,
        None => build(resolved)?,
    };
    Filter::from_bytes(&bytes, flags).ok_or(Error::Program(bytes.len()))
}

/// The program for rules known by `key` (bytes that say exactly what the
/// rules are: a runtime spec's `linux.seccomp` as JSON, say), from
/// `cache_dir` when it was compiled before, found without resolving or
/// building anything (the cache file is named by a hash of the key, this
/// host, libseccomp's version and this code's); else `rules()` is
/// compiled and cached. `flags` are the filter's `SECCOMP_FILTER_FLAG_*`.
///
/// ```
/// use tinydocker_security::caps::CapSet;
/// use tinydocker_security::seccomp::{self, Profile};
///
/// let dir = tempfile::tempdir()?;
/// let rules = || seccomp::resolve(&Profile::docker_default(), &CapSet::default_set());
/// let first = seccomp::compile_keyed(b"default, default caps", 0, dir.path(), rules)?;
/// let again: seccomp::Filter =
///     seccomp::compile_keyed::<seccomp::Error>(b"default, default caps", 0, dir.path(), || unreachable!())?;
/// assert_eq!(first.to_bytes(), again.to_bytes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn compile_keyed<E: From<Error>>(
    key: &[u8],
    flags: u32,
    cache_dir: &Path,
    rules: impl FnOnce() -> Result<Resolved, E>,
) -> Result<Filter, E> {
    let host = Host::current()?;
    let path = cache::keyed_file(cache_dir, key, &host)?;
    let mut failed = None;
    let built = cache::load_or_build_at(cache_dir, path, || match rules() {
        Ok(resolved) => build(&resolved),
        Err(e) => {
            failed = Some(e);
            Err(Error::Unsupported("rules that could not be read"))
        }
    });
    let bytes = match (built, failed) {
        (_, Some(e)) => return Err(e),
        (built, None) => built?,
    };
    Filter::from_bytes(&bytes, flags).ok_or_else(|| Error::Program(bytes.len()).into())
}

/// The running libseccomp's version, `major.minor.micro`.
pub fn libseccomp_version() -> Result<String, Error> {
    let v = ScmpVersion::current().map_err(|source| Error::Libseccomp {
        step: "report its version".into(),
        source,
    })?;
    Ok(format!("{}.{}.{}", v.major, v.minor, v.micro))
}

fn scmp_action(action: Action) -> ScmpAction {
    match action {
        Action::Allow => ScmpAction::Allow,
        Action::Errno(errno) => ScmpAction::Errno(errno.into()),
        Action::KillThread => ScmpAction::KillThread,
        Action::KillProcess => ScmpAction::KillProcess,
        Action::Trap => ScmpAction::Trap,
        Action::Trace(msg) => ScmpAction::Trace(msg),
        Action::Log => ScmpAction::Log,
    }
}

fn scmp_compare(arg: &ArgRule) -> ScmpArgCompare {
    let (op, datum) = match arg.op {
        CmpOp::Ne => (ScmpCompareOp::NotEqual, arg.value),
        CmpOp::Lt => (ScmpCompareOp::Less, arg.value),
        CmpOp::Le => (ScmpCompareOp::LessOrEqual, arg.value),
        CmpOp::Eq => (ScmpCompareOp::Equal, arg.value),
        CmpOp::Ge => (ScmpCompareOp::GreaterEqual, arg.value),
        CmpOp::Gt => (ScmpCompareOp::Greater, arg.value),
        CmpOp::MaskedEq => (ScmpCompareOp::MaskedEqual(arg.value), arg.value_two),
    };
    ScmpArgCompare::new(arg.index, op, datum)
}

/// The syscall names of `resolved` the installed libseccomp does not know
/// on this architecture (left out of the filter, so denied).
pub fn unknown_syscalls(resolved: &Resolved) -> Vec<&str> {
    let mut unknown: Vec<&str> = resolved
        .rules
        .iter()
        .flat_map(|r| &r.names)
        .filter(|n| ScmpSyscall::from_name(n).is_err())
        .map(String::as_str)
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    unknown
}

/// The program libseccomp generates for `resolved`, in its export format.
pub(crate) fn build(resolved: &Resolved) -> Result<Vec<u8>, Error> {
    let lib = |step: String| move |source| Error::Libseccomp { step, source };
    let mut ctx = ScmpFilterContext::new(scmp_action(resolved.default_action))
        .map_err(lib("create a filter context".into()))?;
    // The runtime sets no_new_privs itself (or not, for a privileged
    // container); the attribute only matters to seccomp_load anyway.
    ctx.set_ctl_nnp(false)
        .map_err(lib("turn off the context's no_new_privs".into()))?;
    // A binary tree of syscall numbers rather than a linear list: the
    // kernel loads it (verifies, JITs, precomputes its per-syscall cache by
    // emulating the program) in about a third of the time, 0.5 ms against
    // 1.5 ms here for the default profile, and runs it in fewer steps.
    ctx.set_ctl_optimize(2)
        .map_err(lib("ask for a binary-tree filter".into()))?;
    for arch in &resolved.architectures {
        let scmp = arch.to_scmp();
        let present = ctx
            .is_arch_present(scmp)
            .map_err(lib(format!("look up architecture {arch}")))?;
        if !present {
            ctx.add_arch(scmp)
                .map_err(lib(format!("add architecture {arch}")))?;
        }
    }

    for rule in &resolved.rules {
        if rule.action == resolved.default_action {
            continue;
        }
        let action = scmp_action(rule.action);
        let conditions: Vec<ScmpArgCompare> = rule.args.iter().map(scmp_compare).collect();
        let same_arg_twice = rule
            .args
            .iter()
            .enumerate()
            .any(|(i, a)| rule.args[..i].iter().any(|b| b.index == a.index));
        for name in &rule.names {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let added = if conditions.is_empty() {
                ctx.add_rule(action, syscall).map(drop)
            } else if same_arg_twice {
                conditions
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(action, syscall, &[*c]).map(drop))
            } else {
                ctx.add_rule_conditional(action, syscall, &conditions)
                    .map(drop)
            };
            added.map_err(lib(format!("add the rule for {name:?}")))?;
        }
    }

    let bytes = export(&ctx)?;
    if bytes.len() / 8 > MAX_INSTRUCTIONS {
        return Err(Error::TooLong(bytes.len() / 8));
    }
    Ok(bytes)
}

/// libseccomp 2.5 exports only to a file descriptor: use a memfd.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, Error> {
    let fd = memfd_create(c"tinydocker-seccomp", MFdFlags::MFD_CLOEXEC)
        .map_err(|errno| Error::Export(errno.into()))?;
    let mut file = File::from(fd);
    ctx.export_bpf(&file).map_err(|source| Error::Libseccomp {
        step: "export the BPF program".into(),
        source,
    })?;
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(Error::Export)?;
    Ok(bytes)
}
