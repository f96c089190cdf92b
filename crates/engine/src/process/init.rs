//! The container's init, between `clone3(2)` and `execve(2)`: it joins its
//! cgroup and the namespaces the spec names by path, writes the spec's
//! sysctls, applies the mount plan and pivots, sets its host name, stops
//! at a barrier until the runtime has recorded it, then sets up its
//! standard streams (or terminal), rlimits, OOM score and personality,
//! drops its privileges, loads its seccomp filter and execs the command.
//!
//! Everything here was decided and converted in the parent ([`ChildPlan`]):
//! the child only makes system calls, and reports a failure as (step,
//! errno), which [`describe`] turns into a message.

use std::convert::Infallible;
use std::ffi::{c_char, CStr, CString};
use std::os::fd::RawFd;

use tinydocker_fs::{MountPlan, PreparedPlan};
use tinydocker_ns::{child, pty, ChildChannel, ChildFailure};
use tinydocker_security::caps::{self, Privileges};
use tinydocker_security::seccomp;

use crate::error::{errno_text, Error, ExecFailure};

/// Child steps after the mount plan, numbered past any plan's length.
const STEP_CGROUP_NS: u32 = 1000;
const STEP_HOSTNAME: u32 = 1001;
const STEP_LOOPBACK: u32 = 1002;
const STEP_STDIN: u32 = 1003;
const STEP_FDS: u32 = 1004;
const STEP_SESSION: u32 = 1005;
pub(crate) const STEP_EXEC: u32 = 1006;
const STEP_CGROUP: u32 = 1007;
const STEP_SECCOMP: u32 = 1008;
const STEP_INIT: u32 = 1009;
const STEP_TTY: u32 = 1010;
const STEP_DOMAINNAME: u32 = 1011;
const STEP_OOM_SCORE: u32 = 1012;
const STEP_PERSONALITY: u32 = 1013;
const STEP_PARK: u32 = 1014;
const STEP_USER_ROOT: u32 = 1015;
/// Joining a namespace by path: this plus its index in `ChildPlan::join`.
const STEP_JOIN: u32 = 1100;
/// Dropping privileges: this plus the index of the capability step.
const STEP_PRIVILEGES: u32 = 1200;
/// Writing a sysctl: this plus its index in `ChildPlan::sysctls`.
const STEP_SYSCTL: u32 = 1300;
/// Setting an rlimit: this plus its index in `ChildPlan::rlimits`.
const STEP_RLIMIT: u32 = 2300;

pub(crate) const PRIVILEGE_STEPS: [caps::Step; 8] = [
    caps::Step::KeepCaps,
    caps::Step::Bounding,
    caps::Step::Groups,
    caps::Step::Gid,
    caps::Step::Uid,
    caps::Step::Capset,
    caps::Step::Ambient,
    caps::Step::NoNewPrivs,
];

/// What the child needs, all prepared in the parent so the child only makes
/// system calls.
pub(crate) struct ChildPlan {
    /// v1: the cgroup `tasks` files the child writes itself into.
    pub join_cgroup: Vec<CString>,
    /// Namespaces to join: `CLONE_NEW*` flag and an open fd of its file.
    pub join: Vec<(i32, RawFd)>,
    /// Enter a new cgroup namespace once in the cgroup.
    pub new_cgroup: bool,
    pub mounts: PreparedPlan,
    /// Stop before `pivot_root` for the runtime (its `createContainer` hooks).
    pub pause_before_pivot: bool,
    pub hostname: Option<CString>,
    pub domainname: Option<CString>,
    pub loopback: bool,
    pub null_stdin: bool,
    /// Runtime fds for the container's 0, 1 and 2.
    pub stdio: [Option<RawFd>; 3],
    /// `--init`: stay as pid 1 and fork the command.
    pub init: bool,
    /// `process.terminal`: open a pseudo-terminal in the container (this
    /// size), pass its master to the runtime and make the slave the
    /// command's terminal.
    pub tty: Option<Option<libc::winsize>>,
    pub candidates: Vec<CString>,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub privileges: Privileges,
    pub seccomp: Option<seccomp::Filter>,
    /// `/proc/sys/...` files and values, written before the mount plan
    /// (through the host's /proc, which shows the child's own namespaces).
    pub sysctls: Vec<(CString, Vec<u8>)>,
    /// Their names, for a failure's message.
    pub sysctl_names: Vec<String>,
    /// (`RLIMIT_*`, soft, hard).
    pub rlimits: Vec<(i32, u64, u64)>,
    /// The value for `/proc/self/oom_score_adj`.
    pub oom_score_adj: Option<Vec<u8>>,
    pub personality: Option<u64>,
    /// An OCI runtime's `create`: once ready to exec, tell the runtime
    /// (which then exits) and wait, outliving it, until a byte can be
    /// read from this fifo (opened read-write: `start` writes to it).
    pub park: Option<RawFd>,
    /// In a user namespace of its own (its maps written before go):
    /// become its root first, so what it makes is the namespace's.
    pub become_root: bool,
}

impl ChildPlan {
    /// The command's path candidates, arguments and environment as the C
    /// arrays execve wants (made in the parent, before the clone).
    pub fn exec_arrays(&self) -> ExecArrays<'_> {
        let null = std::ptr::null::<c_char>();
        ExecArrays {
            argv: self.argv.iter().map(|s| s.as_ptr()).chain([null]).collect(),
            envp: self.envp.iter().map(|s| s.as_ptr()).chain([null]).collect(),
            candidates: self.candidates.iter().map(|c| c.as_c_str()).collect(),
        }
    }
}

/// NULL-terminated pointer arrays into a plan's strings.
pub(crate) struct ExecArrays<'a> {
    pub argv: Vec<*const c_char>,
    pub envp: Vec<*const c_char>,
    pub candidates: Vec<&'a CStr>,
}

pub(crate) fn child_main(
    chan: ChildChannel,
    plan: &ChildPlan,
    exec: &ExecArrays<'_>,
) -> Infallible {
    // Die with the runtime: a foreground container must not outlive it. Set
    // before waiting for go, so a parent that died first is noticed as EOF.
    if let Err(e) = child::set_parent_death_signal(libc::SIGKILL) {
        chan.fail(STEP_SESSION, e);
    }
    // Into the cgroup first, so everything after (mounts included) is
    // accounted to it. (v2: the child was cloned into it.)
    if let Err(e) = tinydocker_cgroups::join_self(&plan.join_cgroup) {
        chan.fail(STEP_CGROUP, e);
    }
    chan.wait_go();
    if plan.become_root {
        if let Err(e) = child::become_root() {
            chan.fail(STEP_USER_ROOT, e);
        }
    }
    // Signals from the user's terminal reach the container through the
    // runtime's forwarding only.
    if let Err(e) = nix::unistd::setsid() {
        chan.fail(STEP_SESSION, e as i32);
    }
    for (i, (flag, fd)) in plan.join.iter().enumerate() {
        if let Err(e) = child::setns(*fd, *flag) {
            chan.fail(STEP_JOIN + i as u32, e);
        }
        child::close(*fd);
    }
    if plan.new_cgroup {
        if let Err(e) = child::unshare_cgroup_namespace() {
            chan.fail(STEP_CGROUP_NS, e);
        }
    }
    for (i, (path, value)) in plan.sysctls.iter().enumerate() {
        if let Err(e) = child::write_file(path, value) {
            chan.fail(STEP_SYSCTL + i as u32, e);
        }
    }
    let paused = || {
        if plan.pause_before_pivot {
            chan.ready();
        }
    };
    if let Err(f) = plan.mounts.apply(paused) {
        chan.fail(f.step, f.errno);
    }
    if let Some(name) = &plan.hostname {
        if let Err(e) = child::set_hostname(name) {
            chan.fail(STEP_HOSTNAME, e);
        }
    }
    if let Some(name) = &plan.domainname {
        if let Err(e) = child::set_domainname(name) {
            chan.fail(STEP_DOMAINNAME, e);
        }
    }
    if plan.loopback {
        if let Err(e) = tinydocker_net::loopback_up() {
            chan.fail(STEP_LOOPBACK, e);
        }
    }
    // The container is whole (its root, mounts, host name): the runtime
    // records it running before its command can run. An OCI container's
    // command runs only at `start`, after its wait on the fifo: it goes on
    // to that wait (where the runtime's go reaches it) while the runtime
    // writes the record.
    if plan.park.is_some() {
        chan.reached();
    } else {
        chan.ready();
    }
    if plan.null_stdin {
        let null = nix::fcntl::open(
            c"/dev/null",
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        );
        match null {
            Ok(fd) => {
                use std::os::fd::AsRawFd;
                if let Err(e) = child::dup_onto(fd.as_raw_fd(), 0) {
                    chan.fail(STEP_STDIN, e);
                }
            }
            Err(e) => chan.fail(STEP_STDIN, e as i32),
        }
    }
    if let Some(size) = &plan.tty {
        match pty::open_in_child(size.as_ref()) {
            Ok((master, slave)) => {
                if let Err(e) = chan.send_fd(master) {
                    chan.fail(STEP_TTY, e);
                }
                child::close(master);
                if let Err(e) = pty::attach(slave) {
                    chan.fail(STEP_TTY, e);
                }
            }
            Err(e) => chan.fail(STEP_TTY, e),
        }
    }
    for (target, fd) in plan.stdio.iter().enumerate() {
        if let Some(fd) = *fd {
            if let Err(e) = child::dup_onto(fd, target as i32) {
                chan.fail(STEP_STDIN, e);
            }
        }
    }
    if let Err(e) = child::mark_fds_cloexec() {
        chan.fail(STEP_FDS, e);
    }
    for (i, (resource, soft, hard)) in plan.rlimits.iter().enumerate() {
        if let Err(e) = child::set_rlimit(*resource, *soft, *hard) {
            chan.fail(STEP_RLIMIT + i as u32, e);
        }
    }
    if let Some(score) = &plan.oom_score_adj {
        if let Err(e) = child::write_file(c"/proc/self/oom_score_adj", score) {
            chan.fail(STEP_OOM_SCORE, e);
        }
    }
    if let Some(persona) = plan.personality {
        if let Err(e) = child::set_personality(persona) {
            chan.fail(STEP_PERSONALITY, e);
        }
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
            if let Some(fifo) = plan.park {
                park(&chan, fifo, &exec.candidates);
            }
        },
    );
    let exec = || -> Infallible {
        child::reset_signals();
        let errno = child::exec_first(&exec.candidates, &exec.argv, &exec.envp);
        if plan.park.is_some() {
            // Nobody reads the channel any more: the exit code says it.
            child::exit(if errno == libc::ENOENT { 127 } else { 126 });
        }
        chan.fail(STEP_EXEC, errno)
    };
    if plan.init {
        let errno = tinydocker_ns::init::fork_and_reap(chan.as_raw_fd(), exec);
        chan.fail(STEP_INIT, errno)
    }
    match exec() {}
}

/// An OCI runtime's created container: check that the command can be
/// executed (its failure is reported now, while the runtime listens),
/// stop dying with the runtime, tell it all is ready, and wait for
/// `start`'s byte on the fifo.
fn park(chan: &ChildChannel, fifo: RawFd, candidates: &[&CStr]) {
    // No candidates: a spec without a process, which `start` refuses.
    if !candidates.is_empty() {
        if let Err(errno) = child::find_executable(candidates) {
            chan.fail(STEP_EXEC, errno);
        }
    }
    if let Err(e) = child::set_parent_death_signal(0) {
        chan.fail(STEP_PARK, e);
    }
    chan.ready();
    if child::read_byte(fifo).is_err() {
        child::exit(1);
    }
    child::close(fifo);
}

/// The step numbers [`lock_down`] reports its failures with.
pub(crate) struct LockDownSteps {
    pub seccomp: u32,
    /// Plus the index of the failed step in [`PRIVILEGE_STEPS`].
    pub privileges: u32,
    pub session: u32,
}

/// The last steps before exec, the same for a container's init and for
/// every process `exec` starts in it. Without no_new_privs, loading a
/// filter takes CAP_SYS_ADMIN: it is loaded while the process still has it
/// (the filter must then allow what dropping privileges calls, as docker's
/// does). With no_new_privs it is loaded last, so it does not constrain the
/// runtime's own steps. A change of user clears the parent-death signal: it
/// is armed again, then the runtime is checked to be still alive.
/// `last` runs just before a filter loaded last (an OCI container waits
/// there for `start`, as runc's does).
pub(crate) fn lock_down(
    chan: &ChildChannel,
    privileges: &Privileges,
    seccomp: Option<&seccomp::Filter>,
    steps: LockDownSteps,
    last: impl FnOnce(),
) {
    let load_seccomp = || {
        if let Some(filter) = seccomp {
            if let Err(e) = filter.load() {
                chan.fail(steps.seccomp, e);
            }
        }
    };
    if !privileges.no_new_privs {
        load_seccomp();
    }
    if let Err((step, e)) = privileges.apply() {
        let index = PRIVILEGE_STEPS.iter().position(|s| *s == step).unwrap_or(0);
        chan.fail(steps.privileges + index as u32, e);
    }
    if let Err(e) = child::set_parent_death_signal(libc::SIGKILL) {
        chan.fail(steps.session, e);
    }
    chan.exit_if_parent_gone();
    last();
    if privileges.no_new_privs {
        load_seccomp();
    }
}

/// A failed execve(2) of `cmd`, as docker reports it: 127 when it is not
/// found, 126 when it cannot be executed (for `run` and `exec` alike).
pub(crate) fn exec_failure(cmd: &str, errno: i32) -> Error {
    let (failure, message) = match errno {
        libc::ENOENT if cmd.contains('/') => (
            ExecFailure::NotFound,
            format!("exec: \"{cmd}\": stat {cmd}: no such file or directory"),
        ),
        libc::ENOENT => (
            ExecFailure::NotFound,
            format!("exec: \"{cmd}\": executable file not found in $PATH"),
        ),
        _ => (
            ExecFailure::CannotExecute,
            format!("exec: \"{cmd}\": {}", errno_text(errno)),
        ),
    };
    Error::Exec { failure, message }
}

/// What a failure the init reported means.
pub(crate) fn describe(failure: ChildFailure, mounts: &MountPlan, plan: &ChildPlan) -> Error {
    let cmd = plan.argv.first().map_or("", |a| a.to_str().unwrap_or(""));
    if failure.step == STEP_EXEC {
        return exec_failure(cmd, failure.errno);
    }
    let why = errno_text(failure.errno);
    let in_range = |base: u32, len: usize| (base..base + len as u32).contains(&failure.step);
    Error::Setup(match failure.step {
        STEP_CGROUP => format!("join the container's cgroup: {why}"),
        STEP_CGROUP_NS => format!("enter a new cgroup namespace: {why}"),
        STEP_HOSTNAME => format!("set the host name: {why}"),
        STEP_DOMAINNAME => format!("set the domain name: {why}"),
        STEP_LOOPBACK => format!("bring up the loopback interface: {why}"),
        STEP_STDIN => format!("set up the standard streams: {why}"),
        STEP_FDS => format!("mark file descriptors close-on-exec: {why}"),
        STEP_SESSION => format!("start a new session: {why}"),
        STEP_SECCOMP => format!("load the seccomp filter: {why}"),
        STEP_INIT => format!("fork the command from --init: {why}"),
        STEP_TTY => format!("set up the pseudo-terminal: {why}"),
        STEP_OOM_SCORE => format!("set the OOM score adjustment: {why}"),
        STEP_PERSONALITY => format!("set the personality: {why}"),
        STEP_PARK => format!("wait for start: {why}"),
        STEP_USER_ROOT => format!("become root in the user namespace: {why}"),
        n if in_range(STEP_JOIN, plan.join.len()) => {
            format!("join the namespace #{}: {why}", n - STEP_JOIN)
        }
        n if in_range(STEP_SYSCTL, plan.sysctl_names.len()) => format!(
            "set sysctl {}: {why}",
            plan.sysctl_names[(n - STEP_SYSCTL) as usize]
        ),
        n if in_range(STEP_RLIMIT, plan.rlimits.len()) => format!(
            "set rlimit {}: {why}",
            plan.rlimits[(n - STEP_RLIMIT) as usize].0
        ),
        n if in_range(STEP_PRIVILEGES, PRIVILEGE_STEPS.len()) => {
            format!("{}: {why}", PRIVILEGE_STEPS[(n - STEP_PRIVILEGES) as usize])
        }
        n => match mounts.steps.get(n as usize) {
            Some(step) => format!("{step}: {why}"),
            None => format!("container setup step {n}: {why}"),
        },
    })
}

/// Where `execve` will look for the command: the command itself when it has
/// a '/', else each directory of the container's PATH (empty means ".").
pub(crate) fn exec_candidates(cmd: &str, env: &[String]) -> Vec<String> {
    if cmd.contains('/') {
        return vec![cmd.to_string()];
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(crate::DEFAULT_PATH);
    path.split(':')
        .map(|dir| {
            if dir.is_empty() {
                cmd.to_string()
            } else {
                format!("{}/{cmd}", dir.trim_end_matches('/'))
            }
        })
        .collect()
}

/// Strings as C strings, refusing a NUL byte inside.
pub(crate) fn cstrings<'a>(
    items: impl IntoIterator<Item = &'a String>,
) -> Result<Vec<CString>, Error> {
    items
        .into_iter()
        .map(|s| {
            CString::new(s.as_str())
                .map_err(|_| Error::Invalid(format!("{s:?} contains a NUL byte")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_search() {
        let env = vec!["PATH=/usr/bin::/bin/".to_string()];
        assert_eq!(
            exec_candidates("ls", &env),
            ["/usr/bin/ls", "ls", "/bin/ls"]
        );
        assert_eq!(exec_candidates("./x", &env), ["./x"]);
    }

    #[test]
    fn exec_failures_map_to_dockers_kinds() {
        let not_found = exec_failure("nope", libc::ENOENT);
        assert_eq!(not_found.exec_failure(), Some(ExecFailure::NotFound));
        assert_eq!(
            not_found.to_string(),
            "exec: \"nope\": executable file not found in $PATH"
        );
        let denied = exec_failure("/etc/passwd", libc::EACCES);
        assert_eq!(denied.exec_failure(), Some(ExecFailure::CannotExecute));
        assert_eq!(
            denied.to_string(),
            "exec: \"/etc/passwd\": permission denied"
        );
    }
}
