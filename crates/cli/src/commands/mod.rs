//! One module per command.

mod exec;
mod images;
mod import;
mod inspect;
mod kill;
mod logs;
mod network;
mod port;
pub mod ps;
mod rm;
mod rmi;
pub mod run;
mod start;
mod stats;
mod update;
mod wait;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::state::Root;

/// Run a parsed command line; return the process's exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let root = Root::new(cli.root);
    match cli.command {
        Command::Run(args) => run::run(&root, *args),
        Command::Ps(args) => ps::ps(&root, args),
        Command::Rm(args) => rm::rm(&root, args),
        Command::Import(args) => import::import(&root, args),
        Command::Images(args) => images::images(&root, args),
        Command::Rmi(args) => rmi::rmi(&root, args),
        Command::Stats(args) => stats::stats(&root, args),
        Command::Update(args) => update::update(&root, *args),
        Command::Network(cmd) => network::network(&root, cmd),
        Command::Port(args) => port::port(&root, args),
        Command::Kill(args) => kill::kill(&root, args),
        Command::Stop(args) => kill::stop(&root, args),
        Command::Inspect(args) => inspect::inspect(&root, args),
        Command::Wait(args) => wait::wait(&root, args),
        Command::Container(crate::cli::ContainerCommand::Prune(args)) => rm::prune(&root, args),
        Command::Logs(args) => logs::logs(&root, args),
        Command::Exec(args) => exec::exec(&root, args),
        Command::Start(args) => start::start(&root, args),
        Command::Restart(args) => kill::restart(&root, args),
    }
}

/// Print a table with docker's layout: columns padded to their widest cell
/// and separated by three spaces.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    use std::io::Write;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i + 1 == widths.len() {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}
