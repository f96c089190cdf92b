//! The supervisor of a detached container (`run -d`).
//!
//! `run -d` forks. The child starts a session of its own, launches the
//! container with its stdout and stderr on pipes, and tells the waiting
//! parent the container's id (or why it failed); the parent prints that and
//! exits. The child then re-executes itself as a small monitor (a fresh
//! image: it keeps none of the setup's memory, and stays the init's parent
//! across the exec). The monitor copies the container's output into its log
//! and, when the init exits, records the exit and releases what the
//! container held, as a foreground `run` does.
//!
//! Killing the monitor kills the container (its parent-death signal); the
//! next `ps` then shows it dead and `rm` cleans up after it.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tinydocker_cgroups::Layout;
use tinydocker_ns::ExitStatus;

use crate::commands::run::{finish, relaunch, Launched, Stdio};
use crate::errors::{self, Exit};
use crate::logs::{LogWriter, Stream, LOG_FILE};
use crate::state::{Container, Root, Status, Watch};

/// The hidden first argument that makes `tinydocker` a monitor.
pub const MONITOR_ARG: &str = "__supervise";

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds into a valid array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: two fresh fds that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Start a container in the background: `launch` runs in the supervisor
/// with the streams it must give the container. Returns once the command
/// runs (having printed the id) or failed to start (with why).
pub fn detach(
    root: &Root,
    interactive: bool,
    tty: bool,
    echo: Option<&str>,
    launch: impl FnOnce(Stdio) -> Result<Launched>,
) -> Result<i32> {
    let (report_r, report_w) = pipe().context("create a pipe")?;
    // SAFETY: the process is single-threaded; the child only continues
    // this program's own code.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()).context("fork the supervisor"),
        0 => {
            drop(report_r);
            supervisor(root, interactive, tty, launch, report_w)
        }
        pid => {
            drop(report_w);
            wait_report(report_r, pid, echo)
        }
    }
}

/// The parent's side: the supervisor's one report, then end of file.
fn wait_report(report: OwnedFd, pid: i32, echo: Option<&str>) -> Result<i32> {
    // One line; not up to end of file, which other holders of the pipe
    // (a process of the container that has not exec'd yet) could delay.
    let mut text = String::new();
    io::BufReader::new(File::from(report))
        .read_line(&mut text)
        .context("read the supervisor's report")?;
    let text = text.trim_end_matches('\n');
    if let Some(id) = text.strip_prefix("started ") {
        println!("{}", echo.unwrap_or(id));
        return Ok(0);
    }
    if let Some((code, message)) = text
        .strip_prefix("failed ")
        .and_then(|rest| rest.split_once(' '))
    {
        return Err(Exit {
            code: code.parse().unwrap_or(errors::USAGE),
            message: message.to_string(),
        }
        .into());
    }
    let mut raw = 0;
    // SAFETY: waitpid on our own child with a valid status pointer.
    unsafe { libc::waitpid(pid, &mut raw, 0) };
    bail!(
        "the container's supervisor died before the container started (exit status {})",
        ExitStatus::from_raw(raw).code()
    )
}

fn redirect_to_null(targets: &[i32]) {
    // SAFETY: open/dup2/close on a C string literal and fds we own.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null >= 0 {
            for &fd in targets {
                libc::dup2(null, fd);
            }
            libc::close(null);
        }
    }
}

fn supervisor(
    root: &Root,
    interactive: bool,
    tty: bool,
    launch: impl FnOnce(Stdio) -> Result<Launched>,
    report: OwnedFd,
) -> ! {
    // Out of the user's session and terminal: a Ctrl-C or hangup there is
    // not for a detached container.
    // SAFETY: setsid has no preconditions (a fork's child is no group leader).
    unsafe { libc::setsid() };
    // stdout must not stay open: `id=$(tinydocker run -d ...)` waits for
    // every writer. stderr stays the user's until the report, so warnings
    // of the setup reach them.
    redirect_to_null(&[0, 1]);
    let mut report = File::from(report);
    let result = launch_with_pipes(root, interactive, tty, launch);
    match result {
        Err(err) => {
            let code = errors::exit_code(&err);
            let _ = writeln!(report, "failed {code} {}", errors::one_line(&err));
            std::process::exit(code)
        }
        Ok(monitor) => {
            let _ = writeln!(report, "started {}", monitor.id);
            drop(report);
            redirect_to_null(&[2]);
            // exec returns only when it could not re-execute: monitor from
            // this process instead.
            let _ = monitor.exec();
            monitor_and_exit(monitor)
        }
    }
}

/// Give the container pipes for its output (and stdin with `-i`), or its
/// own terminal with `-t`, and launch it: what the monitor then holds.
fn launch_with_pipes(
    root: &Root,
    interactive: bool,
    tty: bool,
    launch: impl FnOnce(Stdio) -> Result<Launched>,
) -> Result<Monitor> {
    // With -t everything the command reads and writes is its terminal,
    // whose master comes back from the launch.
    let (out, err) = if tty {
        (None, None)
    } else {
        (
            Some(pipe().context("create the stdout pipe")?),
            Some(pipe().context("create the stderr pipe")?),
        )
    };
    let stdin = if interactive && !tty {
        Some(pipe().context("create the stdin pipe")?)
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
        root: root.path.clone(),
        id: launched.container.config.id.clone(),
        pid: launched.init.pid(),
        out,
        err,
        // Held open and never written: `-d -i` keeps the command's
        // stdin open, as docker does.
        stdin: stdin.map(|(_, w)| w),
    })
}

/// What the monitor holds: the init (its child) and the output pipes.
struct Monitor {
    root: PathBuf,
    id: String,
    pid: i32,
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    stdin: Option<OwnedFd>,
}

fn fd_arg(fd: &Option<OwnedFd>) -> String {
    fd.as_ref()
        .map_or("-".to_string(), |fd| fd.as_raw_fd().to_string())
}

fn parse_fd(arg: &OsString) -> Result<Option<OwnedFd>> {
    match arg.to_str() {
        Some("-") => Ok(None),
        Some(n) => {
            let fd: RawFd = n.parse().map_err(|_| anyhow!("bad fd {n:?}"))?;
            // SAFETY: the fd was passed on by the process image before the
            // exec, for this one owner.
            Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
        }
        None => bail!("bad fd argument"),
    }
}

impl Monitor {
    /// Re-execute this binary as the monitor; returns only on failure.
    fn exec(&self) -> io::Error {
        // Nothing else of this process's fds (some inherited from the
        // user's shell) goes on into the monitor.
        let _ = tinydocker_ns::child::mark_fds_cloexec();
        let fds = [&self.out, &self.err, &self.stdin];
        for fd in fds.into_iter().flatten() {
            // SAFETY: clears FD_CLOEXEC on an fd we own, so it survives exec.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) };
        }
        let args = [
            "tinydocker".to_string(),
            MONITOR_ARG.to_string(),
            self.root.to_string_lossy().into_owned(),
            self.id.clone(),
            self.pid.to_string(),
            fd_arg(&self.out),
            fd_arg(&self.err),
            fd_arg(&self.stdin),
        ];
        let Ok(cargs) = args
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
        else {
            return io::Error::from(io::ErrorKind::InvalidInput);
        };
        let mut argv: Vec<*const libc::c_char> = cargs.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        // SAFETY: a NUL-terminated argv of valid C strings; environ as is.
        unsafe {
            libc::execv(c"/proc/self/exe".as_ptr(), argv.as_ptr());
        }
        io::Error::last_os_error()
    }

    /// Copy the container's output into the log until the init exited and
    /// every writer of the pipes is gone; return how the init ended.
    fn relay(&mut self) -> Result<ExitStatus> {
        let path = self.root.join("containers").join(&self.id).join(LOG_FILE);
        // Without a log the output is still drained, or the container
        // would block on a full pipe.
        let mut log = LogWriter::open(&path).ok();
        // SAFETY: pidfd_open takes a pid and flags. The init is our own
        // unreaped child: the pid cannot name another process.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, self.pid, 0) } as RawFd;
        if pidfd < 0 {
            return Err(io::Error::last_os_error()).context("open the init's pidfd");
        }
        // SAFETY: a fresh fd that nothing else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
        let mut status = None;
        let mut buf = [0u8; 8192];
        while status.is_none() || self.out.is_some() || self.err.is_some() {
            let raw = |fd: &Option<OwnedFd>| fd.as_ref().map_or(-1, |f| f.as_raw_fd());
            let mut fds = [
                libc::pollfd {
                    fd: if status.is_none() {
                        pidfd.as_raw_fd()
                    } else {
                        -1
                    },
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: raw(&self.out),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: raw(&self.err),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: poll on a valid array of pollfds; negative fds are skipped.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err).context("poll");
            }
            if fds[0].revents != 0 {
                let mut raw = 0;
                // SAFETY: waitpid on our own child with a valid status pointer.
                let rc = unsafe { libc::waitpid(self.pid, &mut raw, libc::WNOHANG) };
                if rc == self.pid {
                    status = Some(ExitStatus::from_raw(raw));
                } else if rc < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
                {
                    status = Some(ExitStatus::from_raw(libc::SIGKILL));
                }
            }
            for (slot, stream, pfd) in [
                (&mut self.out, Stream::Stdout, fds[1]),
                (&mut self.err, Stream::Stderr, fds[2]),
            ] {
                if pfd.revents == 0 {
                    continue;
                }
                let Some(fd) = slot.as_ref() else { continue };
                // SAFETY: read into a buffer of the given length.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    if let Some(log) = log.as_mut() {
                        let _ = log.write(stream, &buf[..n as usize]);
                    }
                } else if n == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted
                {
                    *slot = None;
                }
            }
        }
        if let Some(log) = log.as_mut() {
            let _ = log.finish();
        }
        Ok(status.expect("the loop ends with a status"))
    }
}

fn monitor_and_exit(mut monitor: Monitor) -> ! {
    let code = match monitor_once(&mut monitor) {
        Ok(Some(next)) => {
            // Restarted: the same again, as a fresh monitor image.
            let _ = next.exec();
            monitor_and_exit(next)
        }
        Ok(None) => 0,
        Err(_) => errors::USAGE,
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
fn monitor_once(monitor: &mut Monitor) -> Result<Option<Monitor>> {
    let status = monitor.relay()?;
    monitor.stdin = None;
    let root = Root::new(monitor.root.clone());
    let mut container = root.find(&monitor.id)?;
    let cgroup = container
        .cgroup(&Layout::detect()?)
        .ok_or_else(|| anyhow!("container {} has no cgroup", monitor.id))?;
    finish(&root, &mut container, &cgroup, status, true)?;
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
    let Ok(container) = root.find(&monitor.id) else {
        return Ok(None);
    };
    if container.state.status != Status::Restarting {
        return Ok(None);
    }
    if container.state.stopped_by_user {
        return exited_for_good(&root, &container);
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
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut pfd = libc::pollfd {
            fd: watch.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
        if n > 0 {
            watch.drain();
            match root.find(&monitor.id) {
                Ok(c) if !c.state.stopped_by_user => {}
                Ok(c) => return exited_for_good(&root, &c),
                Err(_) => return Ok(None),
            }
        }
    }
    let (interactive, tty) = (container.config.interactive, container.config.tty);
    let id = monitor.id.clone();
    let next = launch_with_pipes(&root, interactive, tty, |stdio| {
        relaunch(&root, &id, stdio, restarts + 1)
    })?;
    Ok(Some(next))
}

/// Stopped while waiting to restart: exited for good. Read again under the
/// lock: a `start` from another shell may have claimed it since.
fn exited_for_good(root: &Root, container: &Container) -> Result<Option<Monitor>> {
    let Some(_lock) = container.lock()? else {
        return Ok(None);
    };
    let Ok(mut c) = root.find(&container.config.id) else {
        return Ok(None);
    };
    let mine = (c.state.runtime_pid, c.state.runtime_start) == crate::state::this_process();
    if c.state.status == Status::Restarting && mine {
        let mut state = c.state.clone();
        state.status = Status::Exited;
        c.save_state_locked(state)?;
    }
    Ok(None)
}

/// `tinydocker __supervise ROOT ID PID OUT ERR STDIN`: the re-executed
/// monitor (see the module's documentation).
pub fn monitor_main(args: &[OsString]) -> ! {
    let parsed = (|| -> Result<Monitor> {
        let [root, id, pid, out, err, stdin] = args else {
            bail!("usage: tinydocker {MONITOR_ARG} ROOT ID PID OUT ERR STDIN");
        };
        Ok(Monitor {
            root: PathBuf::from(std::ffi::OsStr::from_bytes(root.as_bytes())),
            id: id.to_string_lossy().into_owned(),
            pid: pid
                .to_str()
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| anyhow!("bad pid"))?,
            out: parse_fd(out)?,
            err: parse_fd(err)?,
            stdin: parse_fd(stdin)?,
        })
    })();
    match parsed {
        Ok(monitor) => monitor_and_exit(monitor),
        Err(e) => {
            eprintln!("tinydocker: {}", errors::one_line(&e));
            std::process::exit(errors::USAGE)
        }
    }
}
