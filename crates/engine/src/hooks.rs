//! The spec's `hooks` (runtime-spec `config.md#posix-platform-hooks`):
//! programs run at points of a container's life with its state (JSON) on
//! their stdin. `prestart`, `createRuntime`, `poststart` and `poststop`
//! run in the runtime's namespaces; `createContainer` and
//! `startContainer` in the container's (mount, UTS, IPC, network, cgroup
//! and PID), joined through the init's pidfd. A hook that fails, or runs
//! past its `timeout`, fails the step it belongs to (`poststart` and
//! `poststop` only warn: the container runs, or is gone, by then).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{ContainerState, Hook, Hooks, Spec, State};

use crate::error::{invalid, Error, Result};
use crate::store::readable;

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPoint {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookPoint {
    pub(crate) fn name(self) -> &'static str {
        match self {
            HookPoint::Prestart => "prestart",
            HookPoint::CreateRuntime => "createRuntime",
            HookPoint::CreateContainer => "createContainer",
            HookPoint::StartContainer => "startContainer",
            HookPoint::Poststart => "poststart",
            HookPoint::Poststop => "poststop",
        }
    }

    /// Whether it runs in the container's namespaces.
    fn in_container(self) -> bool {
        matches!(self, HookPoint::CreateContainer | HookPoint::StartContainer)
    }

    /// The container's status the state it is given says.
    fn status(self) -> ContainerState {
        match self {
            // Called (in runtime spec 1.0's terms) once the container
            // is created, as the validation suite checks.
            HookPoint::Prestart => ContainerState::Created,
            HookPoint::CreateRuntime | HookPoint::CreateContainer => ContainerState::Creating,
            HookPoint::StartContainer => ContainerState::Created,
            HookPoint::Poststart => ContainerState::Running,
            HookPoint::Poststop => ContainerState::Stopped,
        }
    }
}

/// The hooks of the spec for `point`.
pub fn hooks_at(spec: &Spec, point: HookPoint) -> &[Hook] {
    let Some(hooks) = spec.hooks().as_ref() else {
        return &[];
    };
    #[allow(deprecated)]
    let list: &Option<Vec<Hook>> = match point {
        HookPoint::Prestart => hooks.prestart(),
        HookPoint::CreateRuntime => hooks.create_runtime(),
        HookPoint::CreateContainer => hooks.create_container(),
        HookPoint::StartContainer => hooks.start_container(),
        HookPoint::Poststart => hooks.poststart(),
        HookPoint::Poststop => hooks.poststop(),
    };
    list.as_deref().unwrap_or_default()
}

/// Check every hook's path and timeout before anything is made.
pub fn check(hooks: Option<&Hooks>) -> Result<()> {
    let Some(hooks) = hooks else { return Ok(()) };
    #[allow(deprecated)]
    let all = [
        hooks.prestart(),
        hooks.create_runtime(),
        hooks.create_container(),
        hooks.start_container(),
        hooks.poststart(),
        hooks.poststop(),
    ];
    for hook in all.into_iter().flatten().flatten() {
        if !hook.path().is_absolute() {
            return Err(invalid!(
                "hook {}: the path must be absolute",
                hook.path().display()
            ));
        }
        if hook.timeout().is_some_and(|t| t <= 0) {
            return Err(invalid!(
                "hook {}: the timeout must be a positive number of seconds",
                hook.path().display()
            ));
        }
    }
    Ok(())
}

/// The state a hook reads on its stdin.
pub struct HookState<'a> {
    pub id: &'a str,
    pub pid: Option<i32>,
    /// The container's directory (an OCI bundle's, for a bundle).
    pub bundle: &'a Path,
    pub spec: &'a Spec,
}

/// Run the hooks of `point` in order; the first failure stops them. For
/// the container's hooks `init` is its init's pidfd.
pub fn run(point: HookPoint, state: &HookState<'_>, init: Option<BorrowedFd<'_>>) -> Result<()> {
    run_each(point, state, init, &mut |e| Err(e))
}

/// Run `point`'s hooks, and say what failed instead of failing (the
/// container is running, or gone, by then): a failed hook is a warning,
/// and the hooks after it still run, as the runtime spec asks of
/// `poststart` and `poststop`.
pub fn run_and_warn(point: HookPoint, state: &HookState<'_>, warn: &dyn Fn(String)) {
    let _ = run_each(point, state, None, &mut |e| {
        warn(e.one_line());
        Ok(())
    });
}

/// Each hook of `point` in order; a failure goes to `failed`, which stops
/// the rest by returning it or lets them run with `Ok`.
fn run_each(
    point: HookPoint,
    state: &HookState<'_>,
    init: Option<BorrowedFd<'_>>,
    failed: &mut dyn FnMut(Error) -> Result<()>,
) -> Result<()> {
    let hooks = hooks_at(state.spec, point);
    if hooks.is_empty() {
        return Ok(());
    }
    let mut oci = State::default();
    oci.set_version(state.spec.version().clone());
    oci.set_id(state.id.to_string());
    oci.set_status(point.status());
    oci.set_pid(state.pid);
    oci.set_bundle(state.bundle.to_path_buf());
    oci.set_annotations(state.spec.annotations().clone());
    let json = serde_json::to_vec(&oci)?;
    let init = if point.in_container() {
        Some(init.ok_or_else(|| invalid!("{} hooks need the container's init", point.name()))?)
    } else {
        None
    };
    for (i, hook) in hooks.iter().enumerate() {
        if let Err(e) = run_one(hook, &json, init) {
            failed(Error::Context {
                context: format!("{} hook #{i} ({})", point.name(), hook.path().display()),
                source: Box::new(e),
            })?;
        }
    }
    Ok(())
}

const CONTAINER_NAMESPACES: i32 = libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP;

/// The most of a hook's output kept for its error message.
const OUTPUT_KEPT: usize = 4096;

fn run_one(hook: &Hook, state: &[u8], init: Option<BorrowedFd<'_>>) -> Result<()> {
    let path: &PathBuf = hook.path();
    let mut command = Command::new(path);
    let args = hook.args().as_deref().unwrap_or_default();
    if let Some((first, rest)) = args.split_first() {
        command.arg0(first).args(rest);
    }
    command.env_clear();
    for entry in hook.env().iter().flatten() {
        if let Some((k, v)) = entry.split_once('=') {
            command.env(k, v);
        }
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawned = match init {
        Some(init) => {
            let fd: RawFd = init.as_raw_fd();
            // SAFETY: the closure runs in the forked child before exec and
            // only calls setns(2), which is async-signal-safe.
            unsafe {
                command.pre_exec(move || {
                    tinydocker_ns::child::setns(fd, CONTAINER_NAMESPACES)
                        .map_err(std::io::Error::from_raw_os_error)
                });
            }
            // Born in the container's PID namespace: this process enters
            // it for its children just around the fork.
            with_children_in_pid_namespace(init, ENTER_THROUGH_PIDFD, || command.spawn())?
        }
        None => command.spawn(),
    };
    let mut child = spawned.map_err(|e| Error::io("start", path, e))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state is no failure.
        let _ = stdin.write_all(state);
    }
    let pidfd =
        tinydocker_ns::pidfd::open(child.id() as i32).map_err(|e| Error::sys("pidfd_open", e))?;
    let deadline = hook
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut outputs: [Option<File>; 2] = [
        child.stdout.take().map(|o| File::from(OwnedFd::from(o))),
        child.stderr.take().map(|e| File::from(OwnedFd::from(e))),
    ];
    let mut text = [Vec::new(), Vec::new()];
    let mut exited = false;
    while !exited || outputs.iter().any(Option::is_some) {
        let [out, err] = &outputs;
        let ready = readable(
            [
                (!exited).then(|| pidfd.as_fd()),
                out.as_ref().map(|f| f.as_fd()),
                err.as_ref().map(|f| f.as_fd()),
            ],
            deadline,
        )?;
        if ready == [false; 3] {
            let _ = child.kill();
            let _ = child.wait();
            return Err(invalid!(
                "timed out after {} s",
                hook.timeout().unwrap_or_default()
            ));
        }
        exited |= ready[0];
        for (i, slot) in outputs.iter_mut().enumerate() {
            if !ready[i + 1] {
                continue;
            }
            let Some(file) = slot else { continue };
            let mut buf = [0u8; 4096];
            match file.read(&mut buf) {
                Ok(0) | Err(_) => *slot = None,
                Ok(n) => {
                    let keep = (OUTPUT_KEPT - text[i].len().min(OUTPUT_KEPT)).min(n);
                    text[i].extend_from_slice(&buf[..keep]);
                }
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::sys("wait for the hook", e))?;
    if status.success() {
        return Ok(());
    }
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "failed".to_string(),
    };
    let output = |b: &Vec<u8>| String::from_utf8_lossy(b).trim().to_string();
    Err(Error::Setup(format!(
        "{how}, stdout: {}, stderr: {}",
        output(&text[0]),
        output(&text[1])
    )))
}

/// What entering a container's PID namespace through its init's pidfd is.
pub(crate) const ENTER_THROUGH_PIDFD: &str =
    "enter the container's PID namespace (through a pidfd: Linux 5.8 or later)";

/// Run `f` with this process's children born in the PID namespace `ns`
/// names (a pidfd, or a namespace file), then come back to its own
/// (`setns(2)` on a PID namespace only changes where children are born;
/// going back to one's own active namespace is allowed). `entering` says
/// what entering it is, for the error.
pub(crate) fn with_children_in_pid_namespace<T>(
    ns: BorrowedFd<'_>,
    entering: &str,
    f: impl FnOnce() -> T,
) -> Result<T> {
    let own = std::fs::File::open("/proc/self/ns/pid")
        .map_err(|e| Error::io("open", "/proc/self/ns/pid", e))?;
    tinydocker_ns::child::setns(ns.as_raw_fd(), libc::CLONE_NEWPID)
        .map_err(|errno| Error::sys(entering, std::io::Error::from_raw_os_error(errno)))?;
    let result = f();
    // Back to this process's own active namespace, which setns(2) always
    // allows a process that could enter the other; an error here would
    // also lose what `f` made (a running child), so there is none to give.
    let _ = tinydocker_ns::child::setns(own.as_raw_fd(), libc::CLONE_NEWPID);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{HookBuilder, HooksBuilder, SpecBuilder};

    fn spec_with(point: HookPoint, hooks: Vec<Hook>) -> Spec {
        let mut b = HooksBuilder::default();
        b = match point {
            HookPoint::CreateRuntime => b.create_runtime(hooks),
            HookPoint::Poststop => b.poststop(hooks),
            _ => unreachable!(),
        };
        SpecBuilder::default()
            .hooks(b.build().unwrap())
            .build()
            .unwrap()
    }

    fn sh(script: &str, timeout: Option<i64>) -> Hook {
        let mut b = HookBuilder::default().path("/bin/sh").args(vec![
            "sh".to_string(),
            "-c".to_string(),
            script.to_string(),
        ]);
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        b.build().unwrap()
    }

    fn state(spec: &Spec) -> HookState<'_> {
        HookState {
            id: "abc",
            pid: Some(42),
            bundle: Path::new("/b"),
            spec,
        }
    }

    #[test]
    fn a_hook_reads_the_state_and_its_failure_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("state");
        let spec = spec_with(
            HookPoint::CreateRuntime,
            vec![sh(&format!("cat > {}", out.display()), Some(10))],
        );
        run(HookPoint::CreateRuntime, &state(&spec), None).unwrap();
        let state_json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(state_json["id"], "abc");
        assert_eq!(state_json["pid"], 42);
        assert_eq!(state_json["status"], "creating");
        assert_eq!(state_json["bundle"], "/b");

        let spec = spec_with(
            HookPoint::CreateRuntime,
            vec![sh("echo oops >&2; exit 3", None)],
        );
        let err = run(HookPoint::CreateRuntime, &state(&spec), None)
            .unwrap_err()
            .one_line();
        assert_eq!(
            err,
            "createRuntime hook #0 (/bin/sh): exit status 3, stdout: , stderr: oops"
        );
    }

    #[test]
    fn a_hook_past_its_timeout_is_killed() {
        let spec = spec_with(HookPoint::Poststop, vec![sh("exec sleep 100", Some(1))]);
        let started = Instant::now();
        let err = run(HookPoint::Poststop, &state(&spec), None).unwrap_err();
        assert!(err.one_line().ends_with("timed out after 1 s"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(50));
    }

    #[test]
    fn paths_must_be_absolute() {
        let mut hook = sh("true", None);
        hook.set_path("sh".into());
        let spec = spec_with(HookPoint::Poststop, vec![hook]);
        assert!(check(spec.hooks().as_ref()).is_err());
    }
}
