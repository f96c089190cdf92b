//! Another process in a running container (`exec`).
//!
//! The process joins every namespace of the container's init through its
//! pidfd (`setns(2)`): mount (which also puts it at the container's root),
//! UTS, IPC, network and cgroup at once, in the child; the PID namespace
//! in this process, where `setns` only decides where its *children* are
//! born, just around the clone. The child starts in the container's
//! cgroup (v2: `CLONE_INTO_CGROUP`; v1: it writes itself into the `tasks`
//! files first thing), and runs under what the container's spec says:
//! its capabilities, seccomp filter and no_new_privs, and its user unless
//! the request names another. Everything is prepared here before the
//! clone; the child makes only system calls, and its failures come back as
//! (step, errno) as the init's do.

use std::convert::Infallible;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use tinydocker_cgroups::{AnyManager, Layout, Manager};
use tinydocker_ns::pty::{self, Pty};
use tinydocker_ns::{child, spawn, ChildChannel, ChildFailure, Namespaces};
use tinydocker_security::caps::{self, Identity, Privileges};
use tinydocker_security::{seccomp, user};

use crate::config::Rootfs;
use crate::error::{errno_text, invalid, Context, Error, ExecFailure, Result};
use crate::hooks::{with_children_in_pid_namespace, ENTER_THROUGH_PIDFD};
use crate::process::init::{
    cstrings, exec_candidates, exec_failure, lock_down, LockDownSteps, PRIVILEGE_STEPS,
};
use crate::process::pidfd::Process;
use crate::spec;
use crate::store::{Container, Observed};
use crate::Engine;

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

/// A process to start in a running container.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// The command and its arguments.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries over the container's environment.
    pub env: Vec<String>,
    /// An absolute path; None: the container's working directory.
    pub workdir: Option<String>,
    /// `USER[:GROUP]`, names or ids of the container's `/etc/passwd` and
    /// `/etc/group`; None: the container's user.
    pub user: Option<String>,
    /// Keep stdin (the caller's); otherwise it is `/dev/null`.
    pub interactive: bool,
    /// A pseudo-terminal of the container's own, of this size.
    pub tty: Option<Option<libc::winsize>>,
    /// An OCI runtime's `exec --process`: the whole process (its args,
    /// env, cwd, user, capabilities, no_new_privs) instead of the
    /// container's with the fields above over it (`args`, `env`,
    /// `workdir` and `user` are then not used).
    pub process: Option<oci_spec::runtime::Process>,
    /// The process outlives this one (`exec --detach`): it does not die
    /// with it.
    pub detach: bool,
    /// The child's stdin, stdout and stderr, where the caller gives them
    /// (an API server's pipes); None: this process's own (stdin:
    /// `/dev/null` unless `interactive`). Not used with `tty`.
    pub stdio: [Option<RawFd>; 3],
}

/// A process started in a container: wait for it (with
/// [`tinydocker_ns::SignalForwarder::supervise`] or a terminal relay).
pub struct ExecProcess {
    /// The process, a child of this one.
    pub process: tinydocker_ns::Child,
    /// With a terminal: its master.
    pub terminal: Option<OwnedFd>,
}

/// Everything the child needs, prepared before the clone.
struct ExecPlan {
    /// v1: the cgroup `tasks` files the child writes itself into.
    join_cgroup: Vec<CString>,
    /// The container init's pidfd.
    init: RawFd,
    workdir: CString,
    /// `/dev/null`, for stdin without `-i` or `-t`.
    null_stdin: Option<RawFd>,
    /// The caller's stdio for the child (see [`ExecRequest::stdio`]).
    stdio: [Option<RawFd>; 3],
    /// The pseudo-terminal's slave, with `-t`.
    terminal: Option<RawFd>,
    candidates: Vec<CString>,
    argv: Vec<CString>,
    /// It does not die with the runtime.
    detach: bool,
    /// The namespaces it joins through the init's pidfd.
    namespaces: i32,
    envp: Vec<CString>,
    privileges: Privileges,
    seccomp: Option<seccomp::Filter>,
}

/// Set `KEY=VALUE` in an environment list, replacing an earlier `KEY`.
pub fn set_env(env: &mut Vec<String>, entry: String) {
    let key = entry.split('=').next().unwrap_or_default().to_string();
    env.retain(|e| e.split('=').next() != Some(key.as_str()));
    env.push(entry);
}

/// Read `etc/<name>` of an image as the container will see it: from the
/// top layer that has it, stopping at a whiteout. Symlinks are not followed
/// (they would resolve on the host).
pub fn image_file(layers: &[PathBuf], name: &str) -> String {
    use std::fs;
    for layer in layers.iter().rev() {
        let etc = layer.join("etc");
        match fs::symlink_metadata(&etc) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return String::new(),
            Err(_) => continue,
        }
        if etc.join(format!(".wh.{name}")).exists() {
            return String::new();
        }
        match fs::symlink_metadata(etc.join(name)) {
            Ok(m) if m.is_file() => return fs::read_to_string(etc.join(name)).unwrap_or_default(),
            Ok(_) => return String::new(),
            Err(_) => {}
        }
        if etc.join(".wh..wh..opq").exists() {
            return String::new();
        }
    }
    String::new()
}

/// The container's root filesystem's layers, to read its `/etc` files.
fn layers_of(container: &Container) -> Vec<PathBuf> {
    match &container.config.rootfs {
        Rootfs::Layers(layers) => layers.clone(),
        Rootfs::Path => container
            .spec()
            .ok()
            .and_then(|s| s.root().as_ref())
            .map(|r| vec![r.path().clone()])
            .unwrap_or_default(),
    }
}

pub(crate) fn exec(engine: &Engine, key: &str, mut request: ExecRequest) -> Result<ExecProcess> {
    if let Some(p) = &request.process {
        request.args = p.args().clone().unwrap_or_default();
        request.env.clear();
        request.workdir = Some(p.cwd().to_string_lossy().into_owned());
        request.user = None;
    }
    if request.args.is_empty() {
        return Err(invalid!("no command given to exec"));
    }
    if let Some(dir) = &request.workdir {
        if !dir.starts_with('/') {
            return Err(invalid!(
                "the working directory {dir:?} is invalid, it needs to be an absolute path"
            ));
        }
    }
    if request.user.as_deref() == Some("") {
        return Err(invalid!("invalid --user \"\": expected USER[:GROUP]"));
    }
    let container = engine.store.find(key)?;
    let name = container.config.name.clone();
    let not_running = || Error::State(format!("container {name} is not running"));
    if !matches!(container.observe(), Observed::Running { .. }) {
        return Err(not_running());
    }
    let init =
        Process::open(container.state.pid, container.state.pid_start).ok_or_else(not_running)?;
    let process = match &request.process {
        Some(own) => own,
        None => spec::process(container.spec()?)?,
    };

    let available = caps::current_bounding();
    let mut privileges = spec::security::privileges(process, available)?;
    // Of the container's capabilities, those this runtime can hand on
    // (it may run with fewer than the one that started the container).
    privileges.sets = privileges.sets.within(available);
    if let Some(u) = &request.user {
        let layers = layers_of(&container);
        let passwd = image_file(&layers, "passwd");
        let group = image_file(&layers, "group");
        let resolved = user::resolve(u, &container.config.origin.group_add, &passwd, &group)?;
        privileges.identity = Identity {
            ..resolved.identity
        };
    }
    let seccomp = match container
        .spec()?
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
    {
        Some(s) => Some(spec::seccomp::filter(
            s,
            &engine.store.path.join("seccomp"),
        )?),
        None => None,
    };
    let mut env = process.env().clone().unwrap_or_default();
    for entry in &request.env {
        set_env(&mut env, entry.clone());
    }
    let workdir = match &request.workdir {
        Some(dir) => dir.clone(),
        None => process.cwd().to_string_lossy().into_owned(),
    };
    let workdir = if workdir.is_empty() {
        "/".to_string()
    } else {
        workdir
    };
    let cgroup = container.cgroup(&Layout::detect()?)?;
    let join: Vec<String> = cgroup
        .as_ref()
        .and_then(AnyManager::self_join_files)
        .unwrap_or_default()
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();

    let null = if request.interactive || request.tty.is_some() || request.stdio[0].is_some() {
        None
    } else {
        Some(File::open("/dev/null").map_err(|e| Error::io("open", "/dev/null", e))?)
    };
    let pty = match request.tty {
        Some(size) => {
            let pty = container_pty(&init, container.state.pid).map_err(|e| match e {
                PtyError::Gone => not_running(),
                PtyError::Other(e) => e,
            })?;
            // The program owns its terminal, as with runc.
            nix::unistd::fchown(
                &pty.slave,
                Some(nix::unistd::Uid::from_raw(privileges.identity.uid)),
                None,
            )
            .map_err(|e| Error::sys("hand the terminal to the user", e))?;
            if let Some(size) = size {
                pty::set_window_size(pty.master.as_fd(), &size)?;
            }
            Some(pty)
        }
        None => None,
    };

    let plan = ExecPlan {
        join_cgroup: cstrings(&join)?,
        init: init.as_fd().as_raw_fd(),
        workdir: CString::new(workdir.as_str())
            .map_err(|_| invalid!("{workdir:?} contains a NUL byte"))?,
        null_stdin: null.as_ref().map(|f| f.as_raw_fd()),
        stdio: if request.tty.is_some() {
            [None; 3]
        } else {
            request.stdio
        },
        terminal: pty.as_ref().map(|p| p.slave.as_raw_fd()),
        candidates: cstrings(&exec_candidates(&request.args[0], &env))?,
        argv: cstrings(&request.args)?,
        envp: cstrings(&env)?,
        privileges,
        seccomp,
        detach: request.detach,
        namespaces: if spec::namespaces::namespaces(container.spec()?)?
            .user
            .is_some()
        {
            JOINED_NAMESPACES | libc::CLONE_NEWUSER
        } else {
            JOINED_NAMESPACES
        },
    };

    // Born in the container's PID namespace.
    let spawned = with_children_in_pid_namespace(init.as_fd(), ENTER_THROUGH_PIDFD, || {
        spawn_into(&plan, cgroup.as_ref())
    })
    .map_err(|e| match e.root() {
        Error::Sys { source, .. } if source.raw_os_error() == Some(libc::ESRCH) => not_running(),
        _ => e,
    })?;
    let mut process = match spawned {
        Ok(process) => process,
        // A PID namespace whose init is gone takes no new process.
        Err(_) if init.exited() => return Err(not_running()),
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
        return Err(describe_failure(failure, &request.args[0], &workdir, &name));
    }
    Ok(ExecProcess {
        process,
        terminal: master,
    })
}

enum PtyError {
    /// The container stopped meanwhile.
    Gone,
    Other(Error),
}

/// A pseudo-terminal from the container's own devpts, found through its
/// init's root directory (`/proc/PID/root`).
fn container_pty(init: &Process, pid: i32) -> Result<Pty, PtyError> {
    let path = format!("/proc/{pid}/root");
    let root = File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(Path::new(&path))
        .map_err(|_| PtyError::Gone);
    // The init still runs: the pid named it when its root was opened.
    if init.exited() {
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
    let null = std::ptr::null::<libc::c_char>();
    let argv: Vec<*const libc::c_char> =
        plan.argv.iter().map(|s| s.as_ptr()).chain([null]).collect();
    let envp: Vec<*const libc::c_char> =
        plan.envp.iter().map(|s| s.as_ptr()).chain([null]).collect();
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
            return Err(e).context("move the process into the container's cgroup");
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
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
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
    if let Err(e) = child::setns(plan.init, plan.namespaces) {
        chan.fail(STEP_NAMESPACES, e);
    }
    child::close(plan.init);
    // Now at the container's root, resolved there.
    if let Err(e) = child::chdir(&plan.workdir) {
        chan.fail(STEP_WORKDIR, e);
    }
    if let Err(e) = nix::unistd::setsid() {
        chan.fail(STEP_SESSION, e as i32);
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
    for (target, fd) in plan.stdio.iter().enumerate() {
        if let Some(fd) = *fd {
            if let Err(e) = child::dup_onto(fd, target as RawFd) {
                chan.fail(STEP_STDIN, e);
            }
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
        || {
            // Armed until here (the runtime waits for the exec); the
            // process is then its caller's.
            if plan.detach {
                if let Err(e) = child::set_parent_death_signal(0) {
                    chan.fail(STEP_SESSION, e);
                }
            }
        },
    );
    child::reset_signals();
    let errno = child::exec_first(cands, argv, envp);
    chan.fail(STEP_EXEC, errno)
}

fn describe_failure(failure: ChildFailure, cmd: &str, workdir: &str, name: &str) -> Error {
    if failure.step == STEP_EXEC {
        return exec_failure(cmd, failure.errno);
    }
    let why = errno_text(failure.errno);
    let setup = |message: String| Error::Setup(message);
    match failure.step {
        // runc's wording, and docker's exit code for it.
        STEP_WORKDIR => Error::Exec {
            failure: ExecFailure::CannotExecute,
            message: format!("chdir to cwd ({workdir:?}) failed: {why}"),
        },
        STEP_NAMESPACES if failure.errno == libc::ESRCH => {
            Error::State(format!("container {name} is not running"))
        }
        STEP_NAMESPACES => setup(format!("enter the container's namespaces: {why}")),
        STEP_DUMPABLE => setup(format!("make the process non-dumpable: {why}")),
        STEP_CGROUP => setup(format!("join the container's cgroup: {why}")),
        STEP_SESSION => setup(format!("start a new session: {why}")),
        STEP_TERMINAL => setup(format!("set up the pseudo-terminal: {why}")),
        STEP_STDIN => setup(format!("open /dev/null as stdin: {why}")),
        STEP_FDS => setup(format!("mark file descriptors close-on-exec: {why}")),
        STEP_SECCOMP => setup(format!("load the seccomp filter: {why}")),
        n if (STEP_PRIVILEGES..STEP_PRIVILEGES + PRIVILEGE_STEPS.len() as u32).contains(&n) => {
            setup(format!(
                "{}: {why}",
                PRIVILEGE_STEPS[(n - STEP_PRIVILEGES) as usize]
            ))
        }
        n => setup(format!("exec setup step {n}: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(step: u32, errno: i32) -> Error {
        describe_failure(ChildFailure { step, errno }, "nope", "/missing", "web")
    }

    #[test]
    fn failures_map_to_dockers_kinds() {
        let e = failure(STEP_EXEC, libc::ENOENT);
        assert_eq!(e.exec_failure(), Some(ExecFailure::NotFound));
        assert_eq!(
            e.to_string(),
            "exec: \"nope\": executable file not found in $PATH"
        );
        let e = failure(STEP_EXEC, libc::EACCES);
        assert_eq!(e.exec_failure(), Some(ExecFailure::CannotExecute));
        assert_eq!(e.to_string(), "exec: \"nope\": permission denied");
        let e = failure(STEP_WORKDIR, libc::ENOENT);
        assert_eq!(e.exec_failure(), Some(ExecFailure::CannotExecute));
        assert_eq!(
            e.to_string(),
            "chdir to cwd (\"/missing\") failed: no such file or directory"
        );
        let e = failure(STEP_NAMESPACES, libc::ESRCH);
        assert_eq!(
            (e.exec_failure(), e.to_string().as_str()),
            (None, "container web is not running")
        );
        let e = failure(STEP_PRIVILEGES + 4, libc::EPERM);
        assert_eq!(e.exec_failure(), None);
        assert_eq!(e.to_string(), "set the user id: operation not permitted");
    }

    #[test]
    fn later_env_wins() {
        let mut env = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        set_env(&mut env, "PATH=/x".into());
        assert_eq!(env, ["A=1", "PATH=/x"]);
    }

    #[test]
    fn image_files_follow_layers_and_whiteouts() {
        let dir = tempfile::tempdir().unwrap();
        let layer = |name: &str, files: &[(&str, &str)]| {
            let l = dir.path().join(name);
            std::fs::create_dir_all(l.join("etc")).unwrap();
            for (f, content) in files {
                std::fs::write(l.join("etc").join(f), content).unwrap();
            }
            l
        };
        let bottom = layer("a", &[("passwd", "bottom")]);
        let top = layer("b", &[("group", "top")]);
        assert_eq!(
            image_file(&[bottom.clone(), top.clone()], "passwd"),
            "bottom"
        );
        assert_eq!(image_file(&[bottom.clone(), top.clone()], "group"), "top");
        let gone = layer("c", &[(".wh.passwd", "")]);
        assert_eq!(image_file(&[bottom.clone(), top, gone], "passwd"), "");
        let linked = dir.path().join("d");
        std::fs::create_dir_all(linked.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", linked.join("etc/passwd")).unwrap();
        assert_eq!(image_file(&[bottom, linked], "passwd"), "");
    }
}
