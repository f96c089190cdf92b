//! `tinydocker exec`: run another process in a running container.
//!
//! The process joins every namespace of the container's init through its
//! pidfd (`setns(2)`): mount (which also puts it at the container's root),
//! UTS, IPC, network and cgroup at once, in the child; the PID namespace
//! in this process, where `setns` only decides where its *children* are
//! born, before the child is cloned. The child starts in the container's
//! cgroup (v2: `CLONE_INTO_CGROUP`; v1: it writes itself into the `tasks`
//! files first thing), and runs under what the container runs under:
//! its capabilities and bounding set, seccomp filter and no_new_privs, and
//! its user unless `-u` names another. Everything is prepared here before
//! the clone; the child makes only system calls, and its failures come
//! back as (step, errno) as `run`'s do.

use std::convert::Infallible;
use std::ffi::{c_char, CStr, CString};
use std::fs::File;
use std::io::{self, IsTerminal};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tinydocker_cgroups::{AnyManager, Layout, Manager};
use tinydocker_ns::pty::{self, Pty, RawMode, UserSide};
use tinydocker_ns::{child, spawn, ChildChannel, ChildFailure, Namespaces, SignalForwarder};
use tinydocker_security::caps::Privileges;
use tinydocker_security::seccomp;

use crate::cli::ExecArgs;
use crate::commands::run::{
    cstrings, errno_text, exec_candidates, exec_failure, lock_down, parse_env_entry, set_env,
    LockDownSteps, PRIVILEGE_STEPS,
};
use crate::errors::{self, Exit};
use crate::process::Process;
use crate::security;
use crate::state::{Observed, Root};

/// The child's steps, for [`describe_failure`].
const STEP_DUMPABLE: u32 = 1;
const STEP_CGROUP: u32 = 2;
const STEP_NAMESPACES: u32 = 3;
const STEP_WORKDIR: u32 = 4;
const STEP_SESSION: u32 = 5;
const STEP_TERMINAL: u32 = 6;
const STEP_STDIN: u32 = 7;
const STEP_FDS: u32 = 8;
const STEP_SECCOMP: u32 = 9;
const STEP_EXEC: u32 = 10;
/// Dropping privileges: this plus the index of the capability step.
const STEP_PRIVILEGES: u32 = 100;

/// What the child joins through the init's pidfd (the PID namespace is
/// joined by this process: see the module's documentation).
const JOINED_NAMESPACES: i32 = libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP;

/// Everything the child needs, prepared before the clone.
struct ExecPlan {
    /// v1: the cgroup `tasks` files the child writes itself into.
    join_cgroup: Vec<CString>,
    /// The container init's pidfd.
    init: RawFd,
    workdir: CString,
    /// `/dev/null`, for stdin without `-i` or `-t`.
    null_stdin: Option<RawFd>,
    /// The pseudo-terminal's slave, with `-t`.
    terminal: Option<RawFd>,
    candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    privileges: Privileges,
    seccomp: Option<seccomp::Filter>,
}

pub fn exec(root: &Root, args: ExecArgs) -> Result<i32> {
    // As `run`: blocked from the start and for good, so a signal during
    // setup cannot kill this process half-way, and one that arrives once
    // the command has exited cannot change the exit code.
    let signals = SignalForwarder::block()?;
    let result = exec_blocked(root, args, &signals);
    signals.keep_blocked();
    result
}

fn exec_blocked(root: &Root, args: ExecArgs, signals: &SignalForwarder) -> Result<i32> {
    let mut extra_env = Vec::new();
    for entry in &args.env {
        parse_env_entry(entry, &mut extra_env)?;
    }
    if let Some(dir) = &args.workdir {
        if !dir.starts_with('/') {
            bail!("the working directory {dir:?} is invalid, it needs to be an absolute path");
        }
    }
    if args.user.as_deref() == Some("") {
        bail!("invalid --user \"\": expected USER[:GROUP]");
    }
    let stdin = io::stdin();
    let stdin_is_tty = stdin.is_terminal();
    if args.tty && args.interactive && !stdin_is_tty {
        bail!("the input device is not a TTY");
    }

    let container = root.find(&args.container)?;
    let name = container.config.name.clone();
    let not_running = || anyhow!("container {name} is not running");
    if !matches!(container.observe(), Observed::Running { .. }) {
        return Err(not_running());
    }
    let init =
        Process::open(container.state.pid, container.state.pid_start).ok_or_else(not_running)?;
    let config = &container.config;

    let mut recorded = config.security.clone();
    if let Some(user) = &args.user {
        recorded.user = user.clone();
    }
    let security =
        security::Checked::from_config(&recorded)?.process(&config.layers, &root.path)?;
    let mut env = config.env.clone();
    for entry in extra_env {
        set_env(&mut env, entry);
    }
    let workdir = match (&args.workdir, config.workdir.as_str()) {
        (Some(dir), _) => dir.clone(),
        (None, "") => "/".to_string(),
        (None, dir) => dir.to_string(),
    };
    let cgroup = container.cgroup(&Layout::detect()?);
    let join: Vec<String> = cgroup
        .as_ref()
        .and_then(AnyManager::self_join_files)
        .unwrap_or_default()
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();

    let null = if args.interactive || args.tty {
        None
    } else {
        Some(File::open("/dev/null").context("open /dev/null")?)
    };
    let pty = if args.tty {
        let pty = container_pty(&init, container.state.pid).map_err(|e| match e {
            PtyError::Gone => not_running(),
            PtyError::Other(e) => e,
        })?;
        // The program owns its terminal, as with runc.
        let uid = security.privileges.identity.uid;
        // SAFETY: fchown on an open fd; -1 keeps the group (devpts's tty).
        if unsafe { libc::fchown(pty.slave.as_raw_fd(), uid, u32::MAX) } != 0 {
            return Err(io::Error::last_os_error()).context("hand the terminal to the user");
        }
        if let Some(terminal) = pty::user_terminal() {
            pty::copy_window_size(terminal, pty.master.as_fd())?;
        }
        Some(pty)
    } else {
        None
    };

    let plan = ExecPlan {
        join_cgroup: cstrings(&join)?,
        init: init.pidfd().as_raw_fd(),
        workdir: CString::new(workdir.as_str())
            .map_err(|_| anyhow!("{workdir:?} contains a NUL byte"))?,
        null_stdin: null.as_ref().map(|f| f.as_raw_fd()),
        terminal: pty.as_ref().map(|p| p.slave.as_raw_fd()),
        candidates: cstrings(&exec_candidates(&args.command[0], &env))?,
        argv: cstrings(&args.command)?,
        envp: cstrings(&env)?,
        privileges: security.privileges,
        seccomp: security.seccomp,
    };

    // Every key as typed, Ctrl-C included, goes to the program's terminal.
    // Restored when this returns, before main prints any error.
    let _raw = if args.tty && args.interactive {
        Some(RawMode::enter(stdin.as_fd())?)
    } else {
        None
    };

    // From here on, this process's children are born in the container's
    // PID namespace.
    if let Err(errno) = child::setns(plan.init, libc::CLONE_NEWPID) {
        if errno == libc::ESRCH {
            return Err(not_running());
        }
        return Err(io::Error::from_raw_os_error(errno))
            .context("enter the container's PID namespace (through a pidfd: Linux 5.8 or later)");
    }
    let mut process = match spawn_into(&plan, cgroup.as_ref()) {
        Ok(process) => process,
        // A PID namespace whose init is gone takes no new process.
        Err(_) if init.wait(Some(Duration::ZERO)) => return Err(not_running()),
        Err(e) => return Err(e),
    };
    // The child has its copies; the program's terminal must close with it.
    drop(null);
    let master = pty.map(|Pty { master, slave }| {
        drop(slave);
        master
    });

    if let Some(failure) = process.wait_exec()? {
        let _ = process.try_wait(true);
        return Err(describe_failure(failure, &args.command[0], &workdir, &name).into());
    }
    let status = match &master {
        None => signals.supervise(&mut process)?,
        Some(master) => {
            let stdout = io::stdout();
            let user = UserSide {
                input: args.interactive.then(|| stdin.as_fd()),
                output: stdout.as_fd(),
                terminal: pty::user_terminal(),
            };
            pty::relay(master.as_fd(), &user, signals, &mut process)?
        }
    };
    Ok(status.code())
}

enum PtyError {
    /// The container stopped meanwhile.
    Gone,
    Other(anyhow::Error),
}

/// A pseudo-terminal from the container's own devpts, found through its
/// init's root directory (`/proc/PID/root`).
fn container_pty(init: &Process, pid: i32) -> Result<Pty, PtyError> {
    let path = format!("/proc/{pid}/root");
    let root = File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|_| PtyError::Gone);
    // The init still runs: the pid named it when its root was opened.
    if init.wait(Some(Duration::ZERO)) {
        return Err(PtyError::Gone);
    }
    let root = OwnedFd::from(root?);
    Pty::open_in(root.as_fd())
        .context("open a pseudo-terminal in the container")
        .map_err(PtyError::Other)
}

/// Clone the child into the container's cgroup (v2: born inside; kernels
/// or hierarchies that refuse get it moved in before it goes on).
fn spawn_into(plan: &ExecPlan, cgroup: Option<&AnyManager>) -> Result<tinydocker_ns::Child> {
    let null = std::ptr::null::<c_char>();
    let argv: Vec<*const c_char> = plan.argv.iter().map(|s| s.as_ptr()).chain([null]).collect();
    let envp: Vec<*const c_char> = plan.envp.iter().map(|s| s.as_ptr()).chain([null]).collect();
    let cands: Vec<&CStr> = plan.candidates.iter().map(|c| c.as_c_str()).collect();
    let dir = match cgroup {
        Some(cgroup) => cgroup.open_dir()?,
        None => None,
    };
    if let Some(dir) = &dir {
        let fd = dir.as_raw_fd();
        let born_inside = spawn(Namespaces::NONE, Some(fd), |chan| {
            child_main(chan, plan, Some(fd), false, &argv, &envp, &cands)
        });
        if let Ok(process) = born_inside {
            return Ok(process);
        }
    }
    let moved = cgroup.is_some_and(AnyManager::is_v2);
    let dir_fd = dir.as_ref().map(|d| d.as_raw_fd());
    let mut process = spawn(Namespaces::NONE, None, |chan| {
        child_main(chan, plan, dir_fd, moved, &argv, &envp, &cands)
    })?;
    if moved {
        let cgroup = cgroup.expect("moved into a cgroup");
        if let Err(e) = cgroup.add_task(process.pid()) {
            let _ = process.kill_and_reap();
            return Err(
                anyhow::Error::new(e).context("move the process into the container's cgroup")
            );
        }
        process.go()?;
    }
    Ok(process)
}

fn child_main(
    chan: ChildChannel,
    plan: &ExecPlan,
    cgroup_dir: Option<RawFd>,
    wait_go: bool,
    argv: &[*const c_char],
    envp: &[*const c_char],
    cands: &[&CStr],
) -> Infallible {
    // Nothing in the container may trace this process or open its fds
    // while it still has the runtime's privileges (execve undoes this).
    if let Err(e) = child::set_non_dumpable() {
        chan.fail(STEP_DUMPABLE, e);
    }
    // Die with the runtime, which supervises it.
    if let Err(e) = child::set_parent_death_signal(libc::SIGKILL) {
        chan.fail(STEP_SESSION, e);
    }
    // A host directory has no business in the container.
    if let Some(fd) = cgroup_dir {
        child::close(fd);
    }
    if let Err(e) = tinydocker_cgroups::join_self(&plan.join_cgroup) {
        chan.fail(STEP_CGROUP, e);
    }
    if wait_go {
        chan.wait_go();
    }
    if let Err(e) = child::setns(plan.init, JOINED_NAMESPACES) {
        chan.fail(STEP_NAMESPACES, e);
    }
    child::close(plan.init);
    // Now at the container's root, resolved there.
    if let Err(e) = child::chdir(&plan.workdir) {
        chan.fail(STEP_WORKDIR, e);
    }
    // SAFETY: setsid has no preconditions.
    if unsafe { libc::setsid() } < 0 {
        chan.fail(STEP_SESSION, child::errno());
    }
    if let Some(slave) = plan.terminal {
        if let Err(e) = pty::attach(slave) {
            chan.fail(STEP_TERMINAL, e);
        }
    } else if let Some(null) = plan.null_stdin {
        if let Err(e) = child::dup_onto(null, 0) {
            chan.fail(STEP_STDIN, e);
        }
    }
    if let Err(e) = child::mark_fds_cloexec() {
        chan.fail(STEP_FDS, e);
    }
    lock_down(
        &chan,
        &plan.privileges,
        plan.seccomp.as_ref(),
        LockDownSteps {
            seccomp: STEP_SECCOMP,
            privileges: STEP_PRIVILEGES,
            session: STEP_SESSION,
        },
    );
    child::reset_signals();
    let errno = child::exec_first(cands, argv, envp);
    chan.fail(STEP_EXEC, errno)
}

fn describe_failure(failure: ChildFailure, cmd: &str, workdir: &str, name: &str) -> Exit {
    if failure.step == STEP_EXEC {
        return exec_failure(cmd, failure.errno);
    }
    let why = errno_text(failure.errno);
    let usage = |message: String| (errors::USAGE, message);
    let (code, message) = match failure.step {
        // runc's wording, and docker's exit code for it.
        STEP_WORKDIR => (
            errors::CANNOT_EXECUTE,
            format!("chdir to cwd ({workdir:?}) failed: {why}"),
        ),
        STEP_NAMESPACES if failure.errno == libc::ESRCH => {
            usage(format!("container {name} is not running"))
        }
        STEP_NAMESPACES => usage(format!("enter the container's namespaces: {why}")),
        STEP_DUMPABLE => usage(format!("make the process non-dumpable: {why}")),
        STEP_CGROUP => usage(format!("join the container's cgroup: {why}")),
        STEP_SESSION => usage(format!("start a new session: {why}")),
        STEP_TERMINAL => usage(format!("set up the pseudo-terminal: {why}")),
        STEP_STDIN => usage(format!("open /dev/null as stdin: {why}")),
        STEP_FDS => usage(format!("mark file descriptors close-on-exec: {why}")),
        STEP_SECCOMP => usage(format!("load the seccomp filter: {why}")),
        n if (STEP_PRIVILEGES..STEP_PRIVILEGES + PRIVILEGE_STEPS.len() as u32).contains(&n) => {
            usage(format!(
                "{}: {why}",
                PRIVILEGE_STEPS[(n - STEP_PRIVILEGES) as usize]
            ))
        }
        n => usage(format!("exec setup step {n}: {why}")),
    };
    Exit { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(step: u32, errno: i32) -> Exit {
        describe_failure(ChildFailure { step, errno }, "nope", "/missing", "web")
    }

    #[test]
    fn failures_map_to_dockers_codes() {
        let e = failure(STEP_EXEC, libc::ENOENT);
        assert_eq!(e.code, 127);
        assert_eq!(
            e.message,
            "exec: \"nope\": executable file not found in $PATH"
        );
        let e = failure(STEP_EXEC, libc::EACCES);
        assert_eq!(e.code, 126);
        assert_eq!(e.message, "exec: \"nope\": permission denied");
        let e = failure(STEP_WORKDIR, libc::ENOENT);
        assert_eq!(e.code, 126);
        assert_eq!(
            e.message,
            "chdir to cwd (\"/missing\") failed: no such file or directory"
        );
        let e = failure(STEP_NAMESPACES, libc::ESRCH);
        assert_eq!(
            (e.code, e.message.as_str()),
            (125, "container web is not running")
        );
        let e = failure(STEP_PRIVILEGES + 4, libc::EPERM);
        assert_eq!(e.code, 125);
        assert_eq!(e.message, "set the user id: operation not permitted");
    }
}
