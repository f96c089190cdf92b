//! `tinydocker-runtime`: tinydocker's engine behind runc's command line,
//! so containerd's shim, dockerd and Kubernetes run their containers with
//! it. A separate binary from `tinydocker` because the two command lines
//! clash (`run`, `exec`, `kill`, `ps` take other arguments in docker's
//! and runc's form); it shares every line of the engine.

mod bundle;
mod cli;
mod commands;
mod console;
mod features;

use std::fs::OpenOptions;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::Cli::from_env() {
        Ok(cli) => cli,
        Err(cli::Stop::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(cli::Stop::Usage(text)) => {
            eprintln!("tinydocker-runtime: {text}");
            return ExitCode::from(1);
        }
    };
    let log = Log {
        path: cli.log.clone(),
        json: cli.log_format == cli::LogFormat::Json,
        debug: cli.debug,
    };
    log.debug(&format!("{:?}", std::env::args().collect::<Vec<_>>()));
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let msg = one_line(&err);
            log.error(&msg);
            eprintln!("tinydocker-runtime: {msg}");
            ExitCode::from(1)
        }
    }
}

/// An error and its causes on one line, as runc prints them.
fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// The `--log` file: runc's lines, JSON (`{"level","msg","time"}`, what
/// containerd's shim reads back after a failed call) or logfmt text.
struct Log {
    path: Option<std::path::PathBuf>,
    json: bool,
    debug: bool,
}

impl Log {
    fn error(&self, msg: &str) {
        self.write("error", msg);
    }

    fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }

    fn write(&self, level: &str, msg: &str) {
        let Some(path) = &self.path else { return };
        let time = tinydocker_engine::rfc3339(tinydocker_engine::now_nanos());
        let line = if self.json {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        } else {
            format!("time={time:?} level={level} msg={msg:?}")
        };
        if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(file, "{line}");
        }
    }
}
