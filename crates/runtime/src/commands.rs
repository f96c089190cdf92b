//! Each command of runc's command line on the engine. Containers are the
//! engine's, known by the caller's id as their name (see
//! [`bundle::engine_id`]); their state root is `--root`.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use tinydocker_engine::{
    parse_signal, spec, Container, Engine, ExecRequest, Launched, Observed, Stdio,
};
use tinydocker_ns::SignalForwarder;

use crate::bundle;
use crate::cli::{self, Cli, Command, Format};
use crate::console;
use crate::features;

pub fn dispatch(cli: Cli) -> Result<u8> {
    if cli.version {
        println!("tinydocker-runtime version {}", env!("CARGO_PKG_VERSION"));
        println!("commit: {}", env!("TINYDOCKER_COMMIT"));
        println!("spec: {}", features::OCI_VERSION_MAX);
        return Ok(0);
    }
    if cli.systemd_cgroup {
        bail!("--systemd-cgroup is not supported: tinydocker-runtime manages cgroups through cgroupfs (set SystemdCgroup = false)");
    }
    let Some(command) = cli.command else {
        bail!("no command given: see tinydocker-runtime --help");
    };
    let engine = Engine::new(&cli.root).on_warning(|w| eprintln!("tinydocker-runtime: {w}"));
    match command {
        Command::Create(args) => {
            create(&engine, &args)?;
            Ok(0)
        }
        Command::Start(args) => {
            start(&engine, &args.id)?;
            Ok(0)
        }
        Command::Run(args) => run(&engine, &args),
        Command::Exec(args) => exec(&engine, &args),
        Command::Kill(args) => {
            kill(&engine, &args)?;
            Ok(0)
        }
        Command::Delete(args) => {
            delete(&engine, &args.id, args.force)?;
            Ok(0)
        }
        Command::State(args) => {
            let c = find(&engine, &args.id)?;
            println!("{}", serde_json::to_string_pretty(&state(&c)?)?);
            Ok(0)
        }
        Command::List(args) => {
            list(&engine, &args)?;
            Ok(0)
        }
        Command::Ps(args) => {
            ps(&engine, &args)?;
            Ok(0)
        }
        Command::Pause(args) => {
            find(&engine, &args.id)?;
            engine
                .pause(&bundle::engine_id(&args.id))
                .map_err(|e| anyhow!("pause {}: {}", args.id, e.one_line()))?;
            Ok(0)
        }
        Command::Resume(args) => {
            find(&engine, &args.id)?;
            engine
                .resume(&bundle::engine_id(&args.id))
                .map_err(|e| anyhow!("resume {}: {}", args.id, e.one_line()))?;
            Ok(0)
        }
        Command::Update(args) => {
            update(&engine, &args)?;
            Ok(0)
        }
        Command::Events(args) => {
            events(&engine, &args)?;
            Ok(0)
        }
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&features::features())?);
            Ok(0)
        }
        Command::Spec(args) => {
            if args.rootless {
                bail!("--rootless is not supported: tinydocker-runtime runs as root");
            }
            let path = args.bundle.join("config.json");
            if path.exists() {
                bail!("{} exists: remove it first", path.display());
            }
            let text = serde_json::to_string_pretty(&features::default_spec())?;
            std::fs::write(&path, text + "\n")
                .with_context(|| format!("write {}", path.display()))?;
            Ok(0)
        }
    }
}

/// The container the caller calls `id`.
fn find(engine: &Engine, id: &str) -> Result<Container> {
    bundle::check_id(id)?;
    engine
        .container(&bundle::engine_id(id))
        .map_err(|_| anyhow!("container \"{id}\" does not exist"))
}

/// The runtime spec's status word.
fn status(c: &Container) -> &'static str {
    match c.observe() {
        Observed::Created => "created",
        Observed::Running { .. } if c.state.paused => "paused",
        Observed::Running { .. } => "running",
        _ => "stopped",
    }
}

/// The runtime spec's state of a container.
fn state(c: &Container) -> Result<serde_json::Value> {
    let status = status(c);
    let spec = c.spec()?;
    let mut state = json!({
        "ociVersion": spec.version(),
        "id": c.name(),
        "pid": if status == "stopped" { 0 } else { c.state.pid },
        "status": status,
        "bundle": c.bundle(),
        "rootfs": spec.root().as_ref().map(|r| r.path().clone()).unwrap_or_default(),
        "created": tinydocker_engine::rfc3339(c.config.created),
        "owner": "",
    });
    if let Some(a) = spec.annotations().as_ref().filter(|a| !a.is_empty()) {
        state["annotations"] = json!(a);
    }
    Ok(state)
}

/// Write a pid file whole (a reader never sees it half-written).
fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .with_context(|| format!("write the pid file {}", path.display()))
}

fn create(engine: &Engine, args: &cli::CreateArgs) -> Result<Launched> {
    let id = &args.id;
    bundle::check_id(id)?;
    if args.no_pivot {
        bail!("--no-pivot is not supported: tinydocker-runtime always uses pivot_root");
    }
    if args.preserve_fds > 0 {
        bail!("--preserve-fds is not supported: no fd but 0, 1 and 2 is passed on");
    }
    if engine.container(&bundle::engine_id(id)).is_ok() {
        bail!("container with id exists: {id}");
    }
    let bundle = std::fs::canonicalize(&args.bundle)
        .with_context(|| format!("bundle {}", args.bundle.display()))?;
    let spec = bundle::load(&bundle, id)?;
    let terminal = spec::terminal(&spec);
    match (terminal, &args.console_socket) {
        (true, None) => {
            bail!("a container with a terminal (process.terminal) needs --console-socket")
        }
        (false, Some(_)) => {
            bail!("--console-socket is for a container with a terminal (process.terminal)")
        }
        _ => {}
    }
    let launched = engine
        .create(spec, bundle::config(&bundle, id), Stdio::default())
        .map_err(|e| anyhow!("{}", e.one_line()))?;
    let handed = (|| -> Result<()> {
        if let (Some(master), Some(socket)) = (&launched.terminal, &args.console_socket) {
            console::send(socket, master)?;
        }
        if let Some(path) = &args.pid_file {
            write_pid_file(path, launched.init.pid())?;
        }
        Ok(())
    })();
    if let Err(e) = handed {
        let _ = engine.remove(&bundle::engine_id(id), true);
        return Err(e);
    }
    Ok(launched)
}

fn start(engine: &Engine, id: &str) -> Result<()> {
    let c = find(engine, id)?;
    match status(&c) {
        "created" => {}
        "stopped" => bail!("cannot start a container that has stopped"),
        _ => bail!("cannot start an already running container"),
    }
    engine
        .start_created_found(c)
        .map_err(|e| anyhow!("{}", e.one_line()))
}

fn run(engine: &Engine, args: &cli::RunArgs) -> Result<u8> {
    // Before the init exists: its signals reach it through this process.
    let signals = (!args.detach).then(SignalForwarder::block).transpose()?;
    let mut launched = create(engine, &args.create)?;
    let id = &args.create.id;
    if let Err(e) = start(engine, id) {
        let _ = engine.remove(&bundle::engine_id(id), true);
        return Err(e);
    }
    let Some(signals) = signals else {
        return Ok(0);
    };
    let status = signals.supervise(&mut launched.init)?;
    if !args.keep {
        engine
            .remove(&bundle::engine_id(id), true)
            .map_err(|e| anyhow!("{}", e.one_line()))?;
    }
    Ok(status.code() as u8)
}

fn exec(engine: &Engine, args: &cli::ExecArgs) -> Result<u8> {
    let c = find(engine, &args.id)?;
    if status(&c) != "running" {
        bail!(
            "cannot exec in a container that is {}: container not running",
            status(&c)
        );
    }
    let mut request = ExecRequest {
        interactive: true,
        detach: args.detach,
        ..Default::default()
    };
    let terminal = match &args.process {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read the process {}", path.display()))?;
            let process: oci_spec::runtime::Process = serde_json::from_str(&text)
                .with_context(|| format!("{}: malformed process", path.display()))?;
            let terminal = process.terminal() == Some(true);
            request.tty = terminal.then(|| {
                process.console_size().map(|b| libc::winsize {
                    ws_row: b.height() as u16,
                    ws_col: b.width() as u16,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                })
            });
            request.process = Some(process);
            terminal
        }
        None => {
            if args.command.is_empty() {
                bail!("exec needs a command or --process");
            }
            request.args = args.command.clone();
            request.env = args.env.clone();
            request.workdir = args.cwd.clone();
            request.user = args.user.clone();
            request.tty = args.tty.then_some(None);
            args.tty
        }
    };
    if terminal && args.console_socket.is_none() {
        bail!("a process with a terminal needs --console-socket");
    }
    let signals = (!args.detach).then(SignalForwarder::block).transpose()?;
    let mut started = engine
        .exec(c.id(), request)
        .map_err(|e| anyhow!("{}", e.one_line()))?;
    if let (Some(master), Some(socket)) = (&started.terminal, &args.console_socket) {
        console::send(socket, master)?;
    }
    if let Some(path) = &args.pid_file {
        write_pid_file(path, started.process.pid())?;
    }
    match signals {
        None => Ok(0),
        Some(signals) => Ok(signals.supervise(&mut started.process)?.code() as u8),
    }
}

fn kill(engine: &Engine, args: &cli::KillArgs) -> Result<()> {
    let c = find(engine, &args.id)?;
    let signal = parse_signal(&args.signal).map_err(|e| anyhow!("{}", e.one_line()))?;
    if status(&c) == "stopped" {
        bail!("container not running");
    }
    let sent = if args.all {
        engine.kill_all(c.id(), signal)
    } else {
        engine.signal(c.id(), signal)
    };
    sent.map_err(|e| match e {
        tinydocker_engine::Error::State(_) => anyhow!("container not running"),
        e => anyhow!("{}", e.one_line()),
    })?;
    // A frozen process takes its signal once thawed: a paused container
    // is thawed after a KILL, and after any signal to all its processes
    // (as runc does), so the caller's kill is not left pending.
    if status(&c) == "paused" && (args.all || signal == libc::SIGKILL) {
        engine
            .resume(c.id())
            .map_err(|e| anyhow!("{}", e.one_line()))?;
    }
    Ok(())
}

fn delete(engine: &Engine, id: &str, force: bool) -> Result<()> {
    let c = match find(engine, id) {
        Ok(c) => c,
        Err(_) if force && bundle::check_id(id).is_ok() => return Ok(()),
        Err(e) => return Err(e),
    };
    let status = status(&c);
    // A created container's init waits for start: killed, as containerd's
    // shim expects of a plain delete.
    let removed = match status {
        "running" | "paused" if !force => {
            bail!("cannot delete container {id} that is not stopped: {status}")
        }
        // As runc: KILL while frozen, then thaw (the signal is taken at
        // the thaw); then read again.
        "paused" => engine
            .signal(c.id(), libc::SIGKILL)
            .and_then(|()| engine.resume(c.id()))
            .and_then(|()| engine.remove(c.id(), true)),
        _ => engine.remove_found(c, status != "stopped"),
    };
    removed.map_err(|e| anyhow!("{}", e.one_line()))
}

fn list(engine: &Engine, args: &cli::ListArgs) -> Result<()> {
    let all: Vec<Container> = engine
        .containers()?
        .into_iter()
        .filter(|c| c.config.bundle.is_some())
        .collect();
    if args.quiet {
        for c in &all {
            println!("{}", c.name());
        }
        return Ok(());
    }
    match args.format {
        Format::Json => {
            let states = all.iter().map(state).collect::<Result<Vec<_>>>()?;
            println!("{}", serde_json::to_string(&states)?);
        }
        Format::Table => {
            let rows: Vec<[String; 6]> = all
                .iter()
                .map(|c| {
                    let status = status(c);
                    [
                        c.name().to_string(),
                        if status == "stopped" { 0 } else { c.state.pid }.to_string(),
                        status.to_string(),
                        c.bundle().display().to_string(),
                        tinydocker_engine::rfc3339(c.config.created),
                        "root".to_string(),
                    ]
                })
                .collect();
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            print_table(&header, &rows);
        }
    }
    Ok(())
}

/// Columns padded to their widest cell, as runc's tabwriter does.
fn print_table<const N: usize>(header: &[String; N], rows: &[[String; N]]) {
    let mut widths = header.each_ref().map(|h| h.len());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = std::io::stdout().lock();
    for row in std::iter::once(header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("   ").trim_end());
    }
}

fn ps(engine: &Engine, args: &cli::PsArgs) -> Result<()> {
    let c = find(engine, &args.id)?;
    let pids = engine
        .processes(&c)
        .map_err(|e| anyhow!("{}", e.one_line()))?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string(&pids)?),
        Format::Table => {
            let rows: Vec<[String; 2]> = pids
                .iter()
                .map(|pid| {
                    let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|b| {
                            String::from_utf8_lossy(&b)
                                .trim_end_matches('\0')
                                .replace('\0', " ")
                        })
                        .unwrap_or_default();
                    [pid.to_string(), cmd]
                })
                .collect();
            print_table(&["PID".into(), "CMD".into()], &rows);
        }
    }
    Ok(())
}

fn update(engine: &Engine, args: &cli::UpdateArgs) -> Result<()> {
    let c = find(engine, &args.id)?;
    let mut new = match &args.resources {
        Some(path) => {
            let mut text = String::new();
            if path.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(path)
                    .with_context(|| format!("read {}", path.display()))?;
            }
            let r: oci_spec::runtime::LinuxResources =
                serde_json::from_str(&text).context("malformed resources")?;
            spec::resources::resources_from_spec(&r).map_err(|e| anyhow!("{}", e.one_line()))?
        }
        None => Default::default(),
    };
    let flags = tinydocker_cgroups::Resources {
        cpu_quota: args.cpu_quota,
        cpu_period: args.cpu_period,
        cpu_shares: args.cpu_share,
        cpuset_cpus: args.cpuset_cpus.clone(),
        cpuset_mems: args.cpuset_mems.clone(),
        memory: args.memory,
        memory_swap: args.memory_swap,
        memory_reservation: args.memory_reservation,
        pids_limit: args.pids_limit,
        ..Default::default()
    };
    new = flags.over(&new);
    engine
        .update(c.id(), |current| Ok(new.over(current)))
        .map_err(|e| anyhow!("{}", e.one_line()))
}

fn events(engine: &Engine, args: &cli::EventsArgs) -> Result<()> {
    let interval = parse_interval(&args.interval)?;
    loop {
        let c = find(engine, &args.id)?;
        if status(&c) == "stopped" {
            if args.stats {
                bail!("container not running");
            }
            return Ok(());
        }
        let stats = engine.sample(&c).stats;
        let data = match stats {
            Some(s) => json!({
                "cpu": {
                    "usage": {"total": s.cpu_usage_ns},
                    "throttling": {
                        "periods": s.nr_periods,
                        "throttledPeriods": s.nr_throttled,
                        "throttledTime": s.throttled_ns,
                    }
                },
                "memory": {"usage": {"usage": s.memory_usage, "limit": s.memory_limit.unwrap_or(u64::MAX)}},
                "pids": {"current": s.pids_current, "limit": s.pids_limit.unwrap_or(0)},
            }),
            None => json!({}),
        };
        println!("{}", json!({"type": "stats", "id": args.id, "data": data}));
        if args.stats {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

/// "5s", "500ms", "1m", or seconds.
fn parse_interval(text: &str) -> Result<Duration> {
    let bad = || anyhow!("invalid --interval {text:?}: expected 500ms, 5s or 1m");
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err(bad());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_interval("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_interval("1m").unwrap(), Duration::from_secs(60));
        for bad in ["", "0s", "5h", "x"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
