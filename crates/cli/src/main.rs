//! `tinydocker`: the command-line runtime. It parses flags, composes the
//! library crates (`tinydocker-ns`, `-fs`, `-net`) and keeps the container
//! records under the state root.

mod cli;
mod commands;
mod errors;
mod human;
mod limits;
mod logs;
mod names;
mod networks;
mod process;
mod security;
mod state;
mod supervisor;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == supervisor::MONITOR_ARG) {
        supervisor::monitor_main(&args[2..]);
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = match err.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                // docker's code for its own usage errors.
                _ => errors::USAGE,
            };
            let _ = err.print();
            return ExitCode::from(code as u8);
        }
    };
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("tinydocker: {}", errors::one_line(&err));
            ExitCode::from(errors::exit_code(&err) as u8)
        }
    }
}
