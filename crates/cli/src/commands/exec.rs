//! `tinydocker exec`: another process in a running container, supervised
//! by this process (signals forwarded, or its terminal relayed).

use std::io::{self, IsTerminal};
use std::os::fd::AsFd;

use anyhow::{bail, Result};
use tinydocker_engine::{Engine, ExecRequest};
use tinydocker_ns::pty::{self, RawMode, UserSide};
use tinydocker_ns::SignalForwarder;

use crate::cli::ExecArgs;
use crate::commands::run::parse_env_entry;

pub fn exec(engine: &Engine, args: ExecArgs) -> Result<i32> {
    // As `run`: blocked from the start and for good, so a signal during
    // setup cannot kill this process half-way, and one that arrives once
    // the command has exited cannot change the exit code.
    let signals = SignalForwarder::block()?;
    let result = exec_blocked(engine, args, &signals);
    signals.keep_blocked();
    result
}

fn exec_blocked(engine: &Engine, args: ExecArgs, signals: &SignalForwarder) -> Result<i32> {
    let mut env = Vec::new();
    for entry in &args.env {
        parse_env_entry(entry, &mut env)?;
    }
    let stdin = io::stdin();
    if args.tty && args.interactive && !stdin.is_terminal() {
        bail!("the input device is not a TTY");
    }
    let user_terminal = pty::user_terminal();
    let request = ExecRequest {
        args: args.command.clone(),
        env,
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        interactive: args.interactive,
        tty: args
            .tty
            .then(|| user_terminal.and_then(|t| pty::window_size(t).ok())),
        process: None,
        detach: false,
        stdio: [None; 3],
    };
    let mut started = engine.exec(&args.container, request)?;
    let status = match &started.terminal {
        None => signals.supervise(&mut started.process)?,
        Some(master) => {
            // Every key as typed, Ctrl-C included, goes to the program's
            // terminal; restored before main prints any error.
            let _raw = if args.interactive {
                Some(RawMode::enter(stdin.as_fd())?)
            } else {
                None
            };
            let stdout = io::stdout();
            let user = UserSide {
                input: args.interactive.then(|| stdin.as_fd()),
                output: stdout.as_fd(),
                terminal: user_terminal,
            };
            pty::relay(master.as_fd(), &user, signals, &mut started.process)?
        }
    };
    Ok(status.code())
}
