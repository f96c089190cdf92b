//! `/containers/{id}/exec` and `/exec/{id}/start|json|resize`: docker's
//! exec instances. `exec` only records what to run (in the service's
//! memory, as dockerd keeps them); `start` runs it through the engine's
//! exec with pipes of the service as its stdio (or a terminal of the
//! container's), streams them over the hijacked connection, and reaps the
//! process, whose exit code `json` then reports.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock};

use hyper::StatusCode;
use serde_json::{json, Value};
use tinydocker_engine::{Error, ExecFailure, ExecRequest, Observed};

use super::stream::{self, AsyncPipe, STDERR, STDOUT};
use super::{json_response, Answer, ApiError, Call};

/// What `POST /containers/{id}/exec` asked for.
#[derive(Debug, Clone)]
struct ExecConfig {
    container: String,
    cmd: Vec<String>,
    env: Vec<String>,
    workdir: Option<String>,
    user: Option<String>,
    tty: bool,
    /// AttachStdin, AttachStdout, AttachStderr.
    attach: [bool; 3],
    detach_keys: String,
}

/// An exec instance.
struct Instance {
    config: ExecConfig,
    /// Started once (an instance runs at most once, as docker's).
    started: bool,
    running: bool,
    exit_code: Option<i32>,
    pid: i32,
    /// Its terminal's master, for resize, while it runs.
    terminal: Option<Arc<OwnedFd>>,
    /// When it ended (or failed to start): kept for [`KEEP`] after.
    finished: Option<std::time::Instant>,
}

/// How long an ended instance stays to be inspected (dockerd forgets them
/// with their container; the service forgets them after a while, so that
/// a long-lived service does not grow).
const KEEP: std::time::Duration = std::time::Duration::from_secs(300);

/// The service's exec instances by id.
fn instances() -> &'static Mutex<HashMap<String, Instance>> {
    static EXECS: OnceLock<Mutex<HashMap<String, Instance>>> = OnceLock::new();
    EXECS.get_or_init(Default::default)
}

fn update(id: &str, f: impl FnOnce(&mut Instance)) {
    if let Some(instance) = instances().lock().expect("not poisoned").get_mut(id) {
        f(instance);
    }
}

fn no_such_exec(id: &str) -> ApiError {
    ApiError::not_found(format!("No such exec instance: {id}"))
}

/// The strings of a JSON array (`Cmd`, `Env`); a string is one entry.
fn strings(value: &Value, key: &str) -> Result<Vec<String>, ApiError> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .ok_or_else(|| ApiError::bad_request(format!("{key}: expected strings")))
            })
            .collect(),
        Some(_) => Err(ApiError::bad_request(format!("{key}: expected a list"))),
    }
}

fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn text(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// `POST /containers/{id}/exec`: 201 `{"Id"}`.
pub async fn create(call: &Call, id: &str) -> Answer {
    let body = call.json()?;
    let cmd = strings(&body, "Cmd")?;
    if cmd.is_empty() {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    if flag(&body, "Privileged") {
        return Err(ApiError::bad_request(
            "privileged exec is not supported: the process gets the container's privileges",
        ));
    }
    let container = running(call, id).await?;
    let config = ExecConfig {
        container,
        cmd,
        env: strings(&body, "Env")?,
        workdir: text(&body, "WorkingDir"),
        user: text(&body, "User"),
        tty: flag(&body, "Tty"),
        attach: [
            flag(&body, "AttachStdin"),
            flag(&body, "AttachStdout"),
            flag(&body, "AttachStderr"),
        ],
        detach_keys: text(&body, "DetachKeys").unwrap_or_default(),
    };
    let exec_id = tinydocker_engine::new_id();
    let mut execs = instances().lock().expect("not poisoned");
    execs.retain(|_, e| e.finished.is_none_or(|at| at.elapsed() < KEEP));
    execs.insert(
        exec_id.clone(),
        Instance {
            config,
            started: false,
            running: false,
            exit_code: None,
            pid: 0,
            terminal: None,
            finished: None,
        },
    );
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "Id": exec_id }),
    ))
}

/// `GET /exec/{id}/json`.
pub fn inspect(id: &str) -> Answer {
    let execs = instances().lock().expect("not poisoned");
    let e = execs.get(id).ok_or_else(|| no_such_exec(id))?;
    let c = &e.config;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "ID": id,
            "Running": e.running,
            "ExitCode": e.exit_code,
            "ProcessConfig": {
                "tty": c.tty,
                "entrypoint": c.cmd[0],
                "arguments": c.cmd[1..],
                // Refused at create: never privileged.
                "privileged": false,
                "user": c.user.clone().unwrap_or_default(),
            },
            "OpenStdin": c.attach[0],
            "OpenStderr": c.attach[2],
            "OpenStdout": c.attach[1],
            "CanRemove": !e.running && e.started,
            "ContainerID": c.container,
            "DetachKeys": c.detach_keys,
            "Pid": e.pid,
        }),
    ))
}

/// `POST /exec/{id}/resize?h=&w=`.
pub fn resize(call: &Call, id: &str) -> Answer {
    let size = window_size(call)?;
    let terminal = {
        let execs = instances().lock().expect("not poisoned");
        let e = execs.get(id).ok_or_else(|| no_such_exec(id))?;
        e.terminal.clone()
    };
    let Some(master) = terminal else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("exec {id} has no terminal to resize"),
        ));
    };
    tinydocker_ns::pty::set_window_size(master.as_fd(), &size)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(super::empty(StatusCode::OK))
}

/// `h` and `w` of a resize request.
pub fn window_size(call: &Call) -> Result<libc::winsize, ApiError> {
    let dim = |name: &str| -> Result<u16, ApiError> {
        let t = call.query.get(name).unwrap_or("0");
        t.parse::<u16>()
            .map_err(|_| ApiError::bad_request(format!("invalid {name} {t:?}")))
    };
    Ok(libc::winsize {
        ws_row: dim("h")?,
        ws_col: dim("w")?,
        ws_xpixel: 0,
        ws_ypixel: 0,
    })
}

/// The ends of the pipes a process gets as its stdio, and the service's.
struct Pipes {
    /// The child's stdin, stdout, stderr (pipes or `/dev/null`).
    child: [Option<OwnedFd>; 3],
    /// The service's ends: stdin's writer, stdout's and stderr's readers.
    ours: [Option<OwnedFd>; 3],
}

/// Pipes for the streams attached; `/dev/null` for the others (never
/// the service's own stdio). With a terminal the engine gives the process
/// its terminal instead.
fn pipes(attach: [bool; 3], tty: bool) -> std::io::Result<Pipes> {
    let mut pipes = Pipes {
        child: [None, None, None],
        ours: [None, None, None],
    };
    if tty {
        return Ok(pipes);
    }
    for (i, attached) in attach.into_iter().enumerate() {
        if attached {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            let (child, ours) = if i == 0 { (r, w) } else { (w, r) };
            pipes.child[i] = Some(child);
            pipes.ours[i] = Some(ours);
        } else if i > 0 {
            let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
            pipes.child[i] = Some(null.into());
        }
    }
    Ok(pipes)
}

/// `POST /exec/{id}/start` (`{"Detach", "Tty"}`). Attached, the answer
/// is the hijack, and the process starts once its `101` has gone out (see
/// [`stream::Hijack::upgraded`]); a failure to start it is then written
/// into the stream, as dockerd's. Detached, the answer waits for the
/// start, and a failure is an error answer.
pub async fn start(call: &Call, id: &str) -> Answer {
    let body = call.json()?;
    let detach = flag(&body, "Detach");
    let config = claim(id)?;
    let exec_id = id.to_string();
    let internal = |e: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e);
    let checked = running(call, &config.container).await;
    let pipes = checked.and_then(|_| {
        let attach = if detach { [false; 3] } else { config.attach };
        pipes(attach, config.tty).map_err(|e| internal(e.to_string()))
    });
    let pipes = match pipes {
        Ok(p) => p,
        Err(e) => {
            update(id, |e| e.started = false);
            return Err(e);
        }
    };
    if detach {
        let process = match run(call.engine.clone(), &config, false, pipes.child).await {
            Ok(p) => p,
            Err(failure) => return Err(failure.answer(&exec_id)),
        };
        supervise(
            exec_id,
            process,
            pipes.ours,
            stream::Sink::discard(config.tty),
            None,
        );
        return Ok(super::empty(StatusCode::OK));
    }
    let h = stream::hijack(call, config.tty, config.attach[0]);
    let engine = call.engine.clone();
    let (output, input) = (h.output, h.input);
    tokio::spawn(async move {
        if let Some(upgraded) = h.upgraded {
            if upgraded.await.is_err() {
                // The client went before it was answered: never run.
                update(&exec_id, |e| e.started = false);
                return;
            }
        }
        match run(engine, &config, config.attach[0], pipes.child).await {
            Ok(process) => supervise(exec_id, process, pipes.ours, output, input),
            Err(failure) => {
                update(&exec_id, |e| {
                    e.exit_code = Some(failure.code.unwrap_or(crate::errors::CANNOT_EXECUTE));
                    e.finished = Some(std::time::Instant::now());
                });
                let message = format!("{}\r\n", failure.message);
                output.send(STDOUT, message.as_bytes()).await;
            }
        }
    });
    Ok(h.response)
}

/// Mark the instance started and take its config; an instance runs once.
fn claim(id: &str) -> Result<ExecConfig, ApiError> {
    let mut execs = instances().lock().expect("not poisoned");
    let e = execs.get_mut(id).ok_or_else(|| no_such_exec(id))?;
    if e.started {
        let why = if e.running {
            "is already running"
        } else {
            "has already run"
        };
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("Error: Exec command {id} {why}"),
        ));
    }
    e.started = true;
    Ok(e.config.clone())
}

/// The id of the container `key`, which must run and not be paused (an
/// error answer, before any hijack, if not).
async fn running(call: &Call, key: &str) -> Result<String, ApiError> {
    let key = key.to_string();
    call.blocking(move |engine| {
        let c = engine
            .container(&key)
            .map_err(|_| ApiError::not_found(format!("No such container: {key}")))?;
        let id = c.config.id.clone();
        if !matches!(c.observe(), Observed::Running { .. }) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Container {id} is not running"),
            ));
        }
        if c.state.paused {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Container {id} is paused, unpause the container before exec"),
            ));
        }
        Ok(id)
    })
    .await
}

/// Why an exec did not start: `code` is docker's 127 (not found) or 126
/// (not executable), `None` for anything else.
struct Failure {
    code: Option<i32>,
    message: String,
    /// Its answer's status when detached.
    status: StatusCode,
}

impl Failure {
    fn new(e: &Error) -> Failure {
        let code = match e.exec_failure() {
            Some(ExecFailure::NotFound) => Some(crate::errors::NOT_FOUND),
            Some(ExecFailure::CannotExecute) => Some(crate::errors::CANNOT_EXECUTE),
            None => None,
        };
        let (message, status) = match code {
            Some(_) => (
                format!(
                    "OCI runtime exec failed: exec failed: {}: unknown",
                    e.one_line()
                ),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            None => {
                let answer = ApiError::from(e);
                (answer.message, answer.status)
            }
        };
        Failure {
            code,
            message,
            status,
        }
    }

    /// The error answer of a detached start: an instance that ran and
    /// failed keeps its exit code; one that could not be tried may be
    /// started again.
    fn answer(self, id: &str) -> ApiError {
        match self.code {
            Some(code) => update(id, |e| {
                e.exit_code = Some(code);
                e.finished = Some(std::time::Instant::now());
            }),
            None => update(id, |e| e.started = false),
        }
        ApiError::new(self.status, self.message)
    }
}

/// Start the process through the engine's exec, its stdio `child`.
async fn run(
    engine: Arc<tinydocker_engine::Engine>,
    config: &ExecConfig,
    interactive: bool,
    child: [Option<OwnedFd>; 3],
) -> Result<tinydocker_engine::ExecProcess, Failure> {
    let request = ExecRequest {
        args: config.cmd.clone(),
        env: config.env.clone(),
        workdir: config.workdir.clone(),
        user: config.user.clone(),
        interactive,
        tty: config.tty.then_some(None),
        process: None,
        // The service's threads come and go: the process must not die
        // with the one that started it.
        detach: true,
        stdio: child
            .each_ref()
            .map(|fd| fd.as_ref().map(|f| f.as_raw_fd())),
    };
    let container = config.container.clone();
    let started = tokio::task::spawn_blocking(move || {
        let started = engine.exec(&container, request);
        // The child has its copies.
        drop(child);
        started
    })
    .await;
    match started {
        Ok(Ok(process)) => Ok(process),
        Ok(Err(e)) => Err(Failure::new(&e)),
        Err(e) => Err(Failure {
            code: None,
            message: e.to_string(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }),
    }
}

/// Watch a started process: its stdio copied between `ours` and the
/// client, its exit reaped into the instance.
fn supervise(
    exec_id: String,
    process: tinydocker_engine::ExecProcess,
    ours: [Option<OwnedFd>; 3],
    output: stream::Sink,
    input: Option<tokio::sync::mpsc::Receiver<bytes::Bytes>>,
) {
    let terminal = process.terminal.map(Arc::new);
    update(&exec_id, |e| {
        e.running = true;
        e.pid = process.process.pid();
        e.terminal = terminal.clone();
    });
    let streams = Streams::new(ours, terminal.as_deref());
    let mut child = process.process;
    let reaped = tokio::task::spawn_blocking(move || child.try_wait(true));
    tokio::spawn(async move {
        let (done, watch) = tokio::sync::watch::channel(false);
        let copies = match streams {
            Ok(streams) => streams.spawn(output.clone(), input, watch),
            Err(e) => {
                // Its pipes are gone with the error: the process sees
                // their ends closed.
                let message = format!("exec: cannot relay the process's output: {e}\r\n");
                output.send(STDERR, message.as_bytes()).await;
                Vec::new()
            }
        };
        let code = match reaped.await {
            Ok(Ok(Some(status))) => status.code(),
            _ => -1,
        };
        update(&exec_id, |e| {
            e.running = false;
            e.exit_code = Some(code);
            e.terminal = None;
            e.finished = Some(std::time::Instant::now());
        });
        let _ = done.send(true);
        for copy in copies {
            let _ = copy.await;
        }
        drop(output);
    });
}

/// The service's ends of a started process's stdio.
struct Streams {
    stdin: Option<AsyncPipe>,
    outputs: Vec<(AsyncPipe, u8)>,
}

impl Streams {
    /// From the pipes, or a terminal's master (a copy of it each way).
    fn new(ours: [Option<OwnedFd>; 3], terminal: Option<&OwnedFd>) -> std::io::Result<Streams> {
        let [stdin, out, err] = ours;
        if let Some(master) = terminal {
            return Ok(Streams {
                stdin: Some(AsyncPipe::new(master.try_clone()?)?),
                outputs: vec![(AsyncPipe::new(master.try_clone()?)?, STDOUT)],
            });
        }
        let mut outputs = Vec::new();
        for (fd, stream) in [(out, STDOUT), (err, STDERR)] {
            if let Some(fd) = fd {
                outputs.push((AsyncPipe::new(fd)?, stream));
            }
        }
        Ok(Streams {
            stdin: stdin.map(AsyncPipe::new).transpose()?,
            outputs,
        })
    }

    /// The copies: each output to `sink` until its end or the process's
    /// exit (`done`), the client's input to stdin.
    fn spawn(
        self,
        sink: stream::Sink,
        input: Option<tokio::sync::mpsc::Receiver<bytes::Bytes>>,
        done: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        if let (Some(input), Some(stdin)) = (input, self.stdin) {
            let mut done = done.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = stream::copy_input(input, stdin) => {}
                    () = stream::ended(&mut done) => {}
                }
            });
        }
        self.outputs
            .into_iter()
            .map(|(pipe, stream)| {
                tokio::spawn(stream::copy_output(
                    pipe,
                    stream,
                    sink.clone(),
                    done.clone(),
                ))
            })
            .collect()
    }
}
