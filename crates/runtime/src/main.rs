//! `tinydocker-runtime`: tinydocker's engine behind runc's command line,
//! so containerd's shim, dockerd and Kubernetes run their containers with
//! it. A separate binary from `tinydocker` because the two command lines
//! clash (`run`, `exec`, `kill`, `ps` take other arguments in docker's
//! and runc's form); it shares every line of the engine.
//!
//! Its entry is C's `main`, not Rust's (`#![no_main]`): the runtime is
//! exec'd for every create, start and delete, and Rust's start-up (the
//! main thread's stack guard, read from /proc/self/maps, and its signal
//! stack) cost 50 us of each call. What of it matters is done here:
//! SIGPIPE ignored, a closed 0, 1 or 2 opened on /dev/null (so no file
//! this process opens can take its place), stdout flushed at the end.

// Tests keep the test harness's main.
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(dead_code))]

mod bundle;
mod cli;
mod commands;
mod console;
mod features;

use std::fs::OpenOptions;
use std::io::Write;

/// The process's entry, called by the C runtime with the arguments
/// (which `std::env::args` reads on its own).
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    stdio_open();
    // SAFETY: plain system calls on this process's own signal disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let code = run();
    let _ = std::io::stdout().flush();
    code
}

/// Open /dev/null as any of fds 0, 1 and 2 that is closed.
fn stdio_open() {
    for fd in 0..3 {
        // SAFETY: fcntl(F_GETFD) reads a flag of a descriptor number; open
        // returns the lowest free descriptor, the one found closed.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) == -1
                && libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) == -1
            {
                libc::abort();
            }
        }
    }
}

fn run() -> libc::c_int {
    let cli = match cli::Cli::from_env() {
        Ok(cli) => cli,
        Err(cli::Stop::Help(text)) => {
            print!("{text}");
            return 0;
        }
        Err(cli::Stop::Usage(text)) => {
            eprintln!("tinydocker-runtime: {text}");
            return 1;
        }
    };
    let log = Log {
        path: cli.log.clone(),
        json: cli.log_format == cli::LogFormat::Json,
        debug: cli.debug,
    };
    log.debug(&format!("{:?}", std::env::args().collect::<Vec<_>>()));
    match commands::dispatch(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            let msg = one_line(&err);
            log.error(&msg);
            eprintln!("tinydocker-runtime: {msg}");
            1
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
