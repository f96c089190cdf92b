//! The supervisor of a detached container.
//!
//! [`detach`] forks. The child starts a session of its own, launches the
//! container with its stdout and stderr on pipes, and tells the waiting
//! parent the container's id (or why it failed); the parent returns that.
//! The child then re-executes its own binary as a small monitor (a fresh
//! image: it keeps none of the setup's memory, and stays the init's parent
//! across the exec) — which is why a program that starts detached
//! containers calls [`run_supervisor_if_asked`] first thing. The monitor
//! copies the container's output into its log and, when the init exits,
//! records the exit and releases what the container held, as a foreground
//! run does; with a restart policy it starts the container again.
//!
//! [`start_detached`] starts an existing container the same way, but its
//! forked child re-executes the binary at once ([`START_ARG`]) and the
//! fresh image starts the container and goes on as its monitor: the fork
//! may be of a process with other threads (the API service's tokio
//! runtime), where a child may do no more than async-signal-safe calls
//! before exec.
//!
//! Killing the monitor kills the container (its parent-death signal); the
//! next listing then shows it dead and removing it cleans up after it.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, pipe2, setsid, ForkResult};
use tinydocker_cgroups::Layout;
use tinydocker_ns::ExitStatus;

use crate::container::finish::finish;
use crate::container::launch::{Launched, Stdio};
use crate::container::start::relaunch;
use crate::error::{Error, ExecFailure, Result};
use crate::logs::{LogWriter, Stream, LOG_FILE};
use crate::proc::this_process;
use crate::stdin::StdinServer;
use crate::store::{readable, Container, ImageHold, Status, Watch};
use crate::{Engine, LogDriver};

/// The hidden first argument that makes the binary a monitor.
const MONITOR_ARG: &str = "__supervise";
/// The hidden first argument that makes the binary start a container and
/// then monitor it (`PROGRAM __start ROOT ID REPORT_FD`).
const START_ARG: &str = "__start";

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(pipe2(OFlag::O_CLOEXEC)?)
}

/// If this process was started as a detached container's monitor (see the
/// module's documentation), be one and never return. Call it first thing
/// in `main` of any program that starts detached containers.
pub fn run_supervisor_if_asked() {
    let mut args = std::env::args_os().skip(1);
    match args.next() {
        Some(a) if a == MONITOR_ARG => monitor_main(args.collect()),
        Some(a) if a == START_ARG => start_main(args.collect()),
        _ => {}
    }
}

/// Start existing container `id` in the background under a monitor of
/// its own (see the module's documentation): safe to call from a process
/// with other threads. Returns its id once its command runs, or why it
/// failed to start.
pub(crate) fn start_detached(engine: &Engine, id: &str) -> Result<String> {
    let (report_r, report_w) = pipe().map_err(|e| Error::sys("create a pipe", e))?;
    // Everything the child needs is made before the fork: after it, the
    // child allocates nothing and takes no lock.
    let fd = report_w.as_raw_fd();
    let fd_text = fd.to_string();
    let args = [
        "tinydocker".as_bytes(),
        START_ARG.as_bytes(),
        engine.root().as_os_str().as_bytes(),
        id.as_bytes(),
        fd_text.as_bytes(),
    ];
    let argv = args
        .iter()
        .map(|a| CString::new(*a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::State(format!("container {id:?}: a NUL byte in its arguments")))?;
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    // SAFETY: the child only makes async-signal-safe calls (fcntl, execv,
    // _exit) on memory made before the fork, as a fork of a multi-threaded
    // process requires.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::sys("fork the supervisor", e))? {
        ForkResult::Child => {
            // SAFETY: see above; the report fd is this process's own, and
            // the pointers end with a null, into strings that live on.
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, 0);
                libc::execv(c"/proc/self/exe".as_ptr(), pointers.as_ptr());
                libc::_exit(127)
            }
        }
        ForkResult::Parent { child } => {
            drop(report_w);
            wait_report(report_r, child.as_raw())
        }
    }
}

/// `PROGRAM __start ROOT ID REPORT_FD`: start the container, report as a
/// forked supervisor does, then be its monitor.
fn start_main(args: Vec<OsString>) -> ! {
    let Ok([root, id, fd]) = <[OsString; 3]>::try_from(args) else {
        std::process::exit(2)
    };
    let (Some(id), Some(Ok(fd))) = (id.to_str(), fd.to_str().map(str::parse::<RawFd>)) else {
        std::process::exit(2)
    };
    // Nothing the forking process left open (without close-on-exec) goes
    // on into the container or the monitor.
    let _ = tinydocker_ns::child::mark_fds_cloexec();
    // SAFETY: the fd was made for this process by `start_detached`, for
    // this one owner.
    let report = unsafe { OwnedFd::from_raw_fd(fd) };
    // stderr is the caller's until the report: the setup's warnings reach
    // it.
    let engine = Engine::new(PathBuf::from(root)).on_warning(|w| eprintln!("tinydocker: {w}"));
    let found = engine
        .store
        .find(id)
        .and_then(|c| Ok((c.config.interactive, crate::spec::terminal(c.spec()?))));
    match found {
        Ok((interactive, tty)) => supervisor(&engine, interactive, tty, report, |stdio| {
            relaunch(&engine, id, stdio, 0)
        }),
        Err(err) => report_failure(report, &err),
    }
}

/// Start a container in the background: `launch` runs in the supervisor
/// with the streams it must give the container, and `hold` (which this
/// process lets go of, leaving it to the supervisor). Returns its id once
/// the command runs, or why it failed to start.
pub(crate) fn detach(
    engine: &Engine,
    interactive: bool,
    tty: bool,
    hold: Option<ImageHold>,
    launch: impl FnOnce(Stdio, Option<ImageHold>) -> Result<Launched>,
) -> Result<String> {
    let (report_r, report_w) = pipe().map_err(|e| Error::sys("create a pipe", e))?;
    // SAFETY: the process is single-threaded; the child only continues
    // this program's own code.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::sys("fork the supervisor", e))? {
        ForkResult::Child => {
            drop(report_r);
            supervisor(engine, interactive, tty, report_w, move |stdio| {
                launch(stdio, hold)
            })
        }
        ForkResult::Parent { child } => {
            drop(report_w);
            if let Some(hold) = hold {
                hold.leave_to_forks();
            }
            wait_report(report_r, child.as_raw())
        }
    }
}

/// The parent's side: the supervisor's one report, then end of file.
fn wait_report(report: OwnedFd, pid: i32) -> Result<String> {
    // One line; not up to end of file, which other holders of the pipe
    // (a process of the container that has not exec'd yet) could delay.
    let mut text = String::new();
    io::BufReader::new(File::from(report))
        .read_line(&mut text)
        .map_err(|e| Error::sys("read the supervisor's report", e))?;
    let text = text.trim_end_matches('\n');
    if let Some(id) = text.strip_prefix("started ") {
        return Ok(id.to_string());
    }
    if let Some((kind, message)) = text
        .strip_prefix("failed ")
        .and_then(|rest| rest.split_once(' '))
    {
        return Err(Error::Reported {
            exec: match kind {
                "not-found" => Some(ExecFailure::NotFound),
                "cannot-execute" => Some(ExecFailure::CannotExecute),
                _ => None,
            },
            message: message.to_string(),
        });
    }
    let status = crate::sys::waitpid(pid, false).ok().flatten().unwrap_or(0);
    Err(Error::State(format!(
        "the container's supervisor died before the container started (exit status {})",
        ExitStatus::from_raw(status).code()
    )))
}

/// Put `/dev/null` on the standard streams in `targets` (0, 1, 2).
fn redirect_to_null(targets: &[i32]) {
    let Ok(null) = File::options().read(true).write(true).open("/dev/null") else {
        return;
    };
    for &fd in targets {
        let _ = match fd {
            0 => dup2_stdin(&null),
            1 => dup2_stdout(&null),
            _ => dup2_stderr(&null),
        };
    }
}

fn supervisor(
    engine: &Engine,
    interactive: bool,
    tty: bool,
    report: OwnedFd,
    launch: impl FnOnce(Stdio) -> Result<Launched>,
) -> ! {
    // Out of the user's session and terminal: a Ctrl-C or hangup there is
    // not for a detached container. (A fork's child is no group leader.)
    let _ = setsid();
    // stdout must not stay open: `id=$(tinydocker run -d ...)` waits for
    // every writer. stderr stays the user's until the report, so warnings
    // of the setup reach them.
    redirect_to_null(&[0, 1]);
    let mut report = File::from(report);
    match launch_with_pipes(interactive, tty, launch) {
        Err(err) => report_failure(report, &err),
        Ok(monitor) => {
            let _ = writeln!(report, "started {}", monitor.id);
            drop(report);
            redirect_to_null(&[2]);
            // exec returns only when it could not re-execute: monitor from
            // this process instead.
            let _ = monitor.exec(engine.root());
            monitor_and_exit(engine.clone(), monitor)
        }
    }
}

/// Tell the waiting parent why the container did not start, and exit.
fn report_failure(report: impl Into<File>, err: &Error) -> ! {
    let kind = match err.exec_failure() {
        Some(ExecFailure::NotFound) => "not-found",
        Some(ExecFailure::CannotExecute) => "cannot-execute",
        None => "error",
    };
    let _ = writeln!(report.into(), "failed {kind} {}", err.one_line());
    std::process::exit(1)
}

/// Give the container pipes for its output (and stdin when interactive),
/// or its own terminal, and launch it: what the monitor then holds.
fn launch_with_pipes(
    interactive: bool,
    tty: bool,
    launch: impl FnOnce(Stdio) -> Result<Launched>,
) -> Result<Monitor> {
    let pipe = |what: &'static str| pipe().map_err(|e| Error::sys(what, e));
    // With a terminal everything the command reads and writes is its
    // terminal, whose master comes back from the launch.
    let (out, err) = if tty {
        (None, None)
    } else {
        (
            Some(pipe("create the stdout pipe")?),
            Some(pipe("create the stderr pipe")?),
        )
    };
    let stdin = if interactive && !tty {
        Some(pipe("create the stdin pipe")?)
    } else {
        None
    };
    let write_end = |p: &Option<(OwnedFd, OwnedFd)>| p.as_ref().map(|(_, w)| w.as_raw_fd());
    let launched = launch(Stdio {
        fds: [
            stdin.as_ref().map(|(r, _)| r.as_raw_fd()),
            write_end(&out),
            write_end(&err),
        ],
        tty_size: None,
    })?;
    let (out, err) = match launched.terminal {
        Some(master) => (Some(master), None),
        None => (out.map(|(r, _)| r), err.map(|(r, _)| r)),
    };
    Ok(Monitor {
        id: launched.container.config.id.clone(),
        log: launched.container.config.log,
        pid: launched.init.pid(),
        out,
        err,
        // Held open and never written: a detached interactive container's
        // stdin stays open, as docker keeps it.
        stdin: stdin.map(|(_, w)| w),
        dns: launched
            .dns
            .and_then(crate::dns::Server::into_socket)
            .map(OwnedFd::from),
    })
}

/// What the monitor holds: the init (its child) and the output pipes.
struct Monitor {
    id: String,
    log: LogDriver,
    pid: i32,
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    stdin: Option<OwnedFd>,
    /// On a user network: the socket of its embedded DNS server, which
    /// the monitor serves while the container runs.
    dns: Option<OwnedFd>,
}

fn fd_arg(fd: &Option<OwnedFd>) -> String {
    fd.as_ref()
        .map_or("-".to_string(), |fd| fd.as_raw_fd().to_string())
}

/// A fd argument: "-" for none (the outer option: whether it parses).
fn parse_fd(arg: &OsString) -> Option<Option<OwnedFd>> {
    match arg.to_str()? {
        "-" => Some(None),
        n => {
            let fd: RawFd = n.parse().ok()?;
            // SAFETY: the fd was passed on by the process image before the
            // exec, for this one owner.
            Some(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
        }
    }
}

impl Monitor {
    /// Re-execute this binary as the monitor of the container under
    /// `root`; returns only on failure.
    fn exec(&self, root: &Path) -> io::Error {
        // Nothing else of this process's fds (some inherited from the
        // user's shell) goes on into the monitor.
        let _ = tinydocker_ns::child::mark_fds_cloexec();
        for fd in [&self.out, &self.err, &self.stdin, &self.dns]
            .into_iter()
            .flatten()
        {
            // Cleared on the fds it hands on, so they survive the exec.
            let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()));
        }
        let (pid, out, err, stdin, dns) = (
            self.pid.to_string(),
            fd_arg(&self.out),
            fd_arg(&self.err),
            fd_arg(&self.stdin),
            fd_arg(&self.dns),
        );
        let args: [&[u8]; 10] = [
            b"tinydocker",
            MONITOR_ARG.as_bytes(),
            root.as_os_str().as_bytes(),
            self.id.as_bytes(),
            match self.log {
                LogDriver::JsonFile => b"json-file",
                LogDriver::None => b"none",
            },
            pid.as_bytes(),
            out.as_bytes(),
            err.as_bytes(),
            stdin.as_bytes(),
            dns.as_bytes(),
        ];
        let Ok(argv) = args
            .iter()
            .map(|a| CString::new(*a))
            .collect::<Result<Vec<_>, _>>()
        else {
            return io::Error::from(io::ErrorKind::InvalidInput);
        };
        match nix::unistd::execv(c"/proc/self/exe", &argv) {
            Err(e) => e.into(),
            Ok(never) => match never {},
        }
    }

    /// Whether the container has a terminal, and docker's StdinOnce, from
    /// its record.
    fn attachable(&self, root: &Path) -> Option<(bool, bool)> {
        let c = Engine::new(root).store.find(&self.id).ok()?;
        let tty = crate::spec::terminal(c.spec().ok()?);
        Some((tty, c.config.meta.stdin_once))
    }

    /// Copy the container's output into the log until the init exited and
    /// every writer of the pipes is gone; return how the init ended.
    fn relay(&mut self, root: &Path) -> Result<ExitStatus> {
        let path = root.join("containers").join(&self.id).join(LOG_FILE);
        // Without a log the output is still drained, or the container
        // would block on a full pipe.
        let mut log = match self.log {
            LogDriver::JsonFile => LogWriter::open(&path).ok(),
            LogDriver::None => None,
        };
        // The init is our own unreaped child: the pid cannot name another
        // process.
        let pidfd = tinydocker_ns::pidfd::open(self.pid)
            .map_err(|e| Error::sys("open the init's pidfd", e))?;
        // Attachers take the container's stdin from here while it runs.
        let (tty, once) = match self.attachable(root) {
            Some((tty, once)) => (tty, once),
            None => (false, false),
        };
        let server = StdinServer::bind(&root.join("containers").join(&self.id)).ok();
        let mut status = None;
        let mut buf = [0u8; 8192];
        while status.is_none() || self.out.is_some() || self.err.is_some() {
            let [exited, out_ready, err_ready, attaching] = readable(
                [
                    status.is_none().then(|| pidfd.as_fd()),
                    self.out.as_ref().map(|f| f.as_fd()),
                    self.err.as_ref().map(|f| f.as_fd()),
                    server.as_ref().map(|s| s.as_fd()),
                ],
                None,
            )?;
            if let (true, Some(server)) = (attaching, &server) {
                let terminal = self.out.as_ref().filter(|_| tty).map(|f| f.as_fd());
                server.serve(&mut self.stdin, terminal, once);
            }
            if exited {
                match crate::sys::waitpid(self.pid, true) {
                    Ok(Some(raw)) => status = Some(ExitStatus::from_raw(raw)),
                    Ok(None) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                        status = Some(ExitStatus::from_raw(libc::SIGKILL))
                    }
                    Err(_) => {}
                }
            }
            for (slot, stream, ready) in [
                (&mut self.out, Stream::Stdout, out_ready),
                (&mut self.err, Stream::Stderr, err_ready),
            ] {
                if !ready {
                    continue;
                }
                let Some(fd) = slot.as_ref() else { continue };
                match nix::unistd::read(fd, &mut buf) {
                    Ok(n) if n > 0 => {
                        if let Some(log) = log.as_mut() {
                            let _ = log.write(stream, &buf[..n]);
                            // A terminal's prompt has no newline, and an
                            // attacher follows the log.
                            if tty {
                                let _ = log.flush_partial();
                            }
                        }
                    }
                    Err(nix::errno::Errno::EINTR) => {}
                    _ => *slot = None,
                }
            }
        }
        if let Some(log) = log.as_mut() {
            let _ = log.finish();
        }
        Ok(status.expect("the loop ends with a status"))
    }
}

fn monitor_and_exit(engine: Engine, mut monitor: Monitor) -> ! {
    let code = match monitor_once(&engine, &mut monitor) {
        Ok(Some(next)) => {
            // Restarted: the same again, as a fresh monitor image.
            let _ = next.exec(engine.root());
            monitor_and_exit(engine, next)
        }
        Ok(None) => 0,
        Err(_) => 1,
    };
    std::process::exit(code)
}

/// The first delay before a restart; it doubles with each restart in a
/// row, up to [`MAX_BACKOFF`], as docker's does, and starts again after a
/// run of [`RESET_AFTER`] or more.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
const RESET_AFTER: Duration = Duration::from_secs(10);

/// Watch the run to its end and record it; then, if the restart policy
/// says so, start the container again and return its new monitor.
fn monitor_once(engine: &Engine, monitor: &mut Monitor) -> Result<Option<Monitor>> {
    let store = &engine.store;
    let dns = match monitor.dns.take() {
        Some(fd) => {
            let mut server = crate::dns::Server::bound(fd.into());
            // Without it names do not resolve; the container runs on.
            let _ = server.serve(engine.root().to_path_buf(), monitor.id.clone());
            Some(server)
        }
        None => None,
    };
    let status = monitor.relay(engine.root())?;
    // Its network namespace is gone, and a restart clones: no thread of
    // this one's stays.
    drop(dns);
    monitor.stdin = None;
    let mut container = store.find(&monitor.id)?;
    let cgroup = container
        .cgroup(&Layout::detect()?)?
        .ok_or_else(|| Error::State(format!("container {} has no cgroup", monitor.id)))?;
    finish(engine, &mut container, &cgroup, status, true)?;
    // The restart policy was applied as the exit was recorded, under the
    // container's lock, which `stop`, `kill` and `rm -f` take to mark the
    // run as ended by the user.
    if container.state.status != Status::Restarting {
        return Ok(None);
    }
    // Waiting to restart: a mark meanwhile (or the record's removal) ends
    // the wait and the restart. The record is read again once the watch is
    // set, so no change is missed.
    let watch = match Watch::new(&container.dir) {
        Ok(watch) => watch,
        // Removed meanwhile (rm -f).
        Err(_) if !container.dir.exists() => return Ok(None),
        Err(e) => return Err(e),
    };
    let Ok(container) = store.find(&monitor.id) else {
        return Ok(None);
    };
    if container.state.status != Status::Restarting {
        return Ok(None);
    }
    if container.state.stopped_by_user {
        return exited_for_good(engine, &container);
    }
    let restarts = container.state.restart_count;
    let ran = Duration::from_nanos(
        (container
            .state
            .finished_at
            .saturating_sub(container.state.started_at)) as u64,
    );
    let delay = if ran >= RESET_AFTER {
        FIRST_BACKOFF
    } else {
        FIRST_BACKOFF
            .saturating_mul(1 << restarts.min(10))
            .min(MAX_BACKOFF)
    };
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if readable([Some(watch.as_fd())], Some(deadline))?[0] {
            watch.drain();
            match store.find(&monitor.id) {
                Ok(c) if !c.state.stopped_by_user => {}
                Ok(c) => return exited_for_good(engine, &c),
                Err(_) => return Ok(None),
            }
        }
    }
    let interactive = container.config.interactive;
    let tty = crate::spec::terminal(container.spec()?);
    let id = monitor.id.clone();
    let next = launch_with_pipes(interactive, tty, |stdio| {
        relaunch(engine, &id, stdio, restarts + 1)
    })?;
    Ok(Some(next))
}

/// Stopped while waiting to restart: exited for good. Read again under the
/// lock: a `start` from another shell may have claimed it since.
fn exited_for_good(engine: &Engine, container: &Container) -> Result<Option<Monitor>> {
    let Some(_lock) = container.lock()? else {
        return Ok(None);
    };
    let Ok(mut c) = engine.store.find(&container.config.id) else {
        return Ok(None);
    };
    let mine = (c.state.runtime_pid, c.state.runtime_start) == this_process();
    if c.state.status == Status::Restarting && mine {
        let mut state = c.state.clone();
        state.status = Status::Exited;
        c.save_state_locked(state)?;
    }
    Ok(None)
}

/// `PROGRAM __supervise ROOT ID LOG PID OUT ERR STDIN DNS`: the re-executed
/// monitor (see the module's documentation). It lives as long as its
/// container: what it runs before the relay is kept to a few functions
/// (each page of code it touches stays mapped).
fn monitor_main(args: Vec<OsString>) -> ! {
    let parsed = (|| -> Option<(PathBuf, Monitor)> {
        let [root, id, log, pid, out, err, stdin, dns] = <[OsString; 8]>::try_from(args).ok()?;
        let monitor = Monitor {
            id: id.into_string().ok()?,
            log: match log.to_str() {
                Some("none") => LogDriver::None,
                _ => LogDriver::JsonFile,
            },
            pid: pid.to_str()?.parse().ok()?,
            out: parse_fd(&out)?,
            err: parse_fd(&err)?,
            stdin: parse_fd(&stdin)?,
            dns: parse_fd(&dns)?,
        };
        Some((PathBuf::from(root), monitor))
    })();
    match parsed {
        Some((root, monitor)) => monitor_and_exit(Engine::new(root), monitor),
        // Started by hand with bad arguments: nothing to supervise.
        None => std::process::exit(2),
    }
}
