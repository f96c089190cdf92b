//! `tinydocker`: the command line. It parses docker's flags, builds the
//! container's OCI runtime spec ([`spec`]), calls the engine
//! (`tinydocker-engine`), and prints what docker prints.
#![recursion_limit = "256"]

mod api;
mod change;
mod cli;
mod commands;
mod errors;
mod human;
mod limits;
mod security;
mod spec;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A detached container's supervisor is this binary, re-executed.
    tinydocker_engine::run_supervisor_if_asked();
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
