//! One module per command.

mod archive;
mod attach;
mod cp;
mod create;
mod events;
mod exec;
mod history;
mod images;
mod import;
mod inspect;
mod kill;
mod login;
mod logs;
mod network;
mod pause;
mod port;
mod ps;
mod pull;
mod push;
mod rm;
mod rmi;
mod run;
mod start;
mod stats;
mod system;
mod template;
mod top;
mod update;
mod volume;
mod wait;

pub use archive::saved_events;
pub use create::create_container;
pub use import::import_image;
pub use inspect::{container_json, image_json};
pub use network::prune_filter as prune_network_filter;
pub use ps::{state_word, status_text};
pub use top::top;
pub use volume::{
    check_driver as check_volume_driver, json as volume_json, matching as matching_volumes,
};

use anyhow::Result;
use tinydocker_engine::Engine;

use crate::cli::{Cli, Command};

/// Run a parsed command line; return the process's exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let engine = Engine::new(cli.root).on_warning(|w| eprintln!("tinydocker: {w}"));
    match cli.command {
        Command::Run(args) => run::run(&engine, *args),
        Command::Create(args) => create::create(&engine, *args),
        Command::Ps(args) => ps::ps(&engine, args),
        Command::Rm(args) => rm::rm(&engine, args),
        Command::Import(args) => import::import(&engine, args),
        Command::Pull(args) => pull::pull(&engine, args),
        Command::Push(args) => push::push(&engine, args),
        Command::History(args) => history::history(&engine, args),
        Command::Top(args) => top::run(&engine, args),
        Command::Rename(args) => top::rename(&engine, args),
        Command::Image(cmd) => image(&engine, cmd),
        Command::System(crate::cli::SystemCommand::Service(args)) => service(engine, args),
        Command::System(crate::cli::SystemCommand::Df(args)) => system::df(&engine, args),
        Command::System(crate::cli::SystemCommand::Prune(args)) => system::prune(&engine, args),
        Command::System(crate::cli::SystemCommand::Reset(args)) => system::reset(&engine, args),
        Command::System(crate::cli::SystemCommand::Events(args)) => {
            Ok(or_failed(events::events(&engine, args)))
        }
        Command::Save(args) => archive::save(&engine, args),
        Command::Load(args) => archive::load(&engine, args),
        Command::Cp(args) => Ok(or_failed(cp::cp(&engine, &args))),
        Command::Export(args) => archive::export(&engine, args),
        Command::Tag(args) => import::tag(&engine, args),
        Command::Login(args) => login::login(args),
        Command::Logout(args) => login::logout(args),
        Command::Images(args) => images::images(&engine, args),
        Command::Rmi(args) => rmi::rmi(&engine, args),
        Command::Stats(args) => stats::stats(&engine, args),
        Command::Update(args) => update::update(&engine, *args),
        Command::Network(cmd) => network::network(&engine, cmd),
        Command::Port(args) => port::port(&engine, args),
        Command::Kill(args) => kill::kill(&engine, args),
        Command::Stop(args) => kill::stop(&engine, args),
        Command::Inspect(args) => inspect::inspect(&engine, args),
        Command::Wait(args) => wait::wait(&engine, args),
        Command::Container(crate::cli::ContainerCommand::Prune(args)) => rm::prune(&engine, args),
        Command::Logs(args) => logs::logs(&engine, args),
        Command::Exec(args) => exec::exec(&engine, args),
        Command::Attach(args) => attach::attach(&engine, args),
        Command::Start(args) => start::start(&engine, args),
        Command::Restart(args) => kill::restart(&engine, args),
        Command::Volume(cmd) => volume::volume(&engine, cmd),
        Command::Pause(args) => Ok(pause::pause(&engine, args, true)),
        Command::Unpause(args) => Ok(pause::pause(&engine, args, false)),
        Command::Events(args) => Ok(or_failed(events::events(&engine, args))),
    }
}

/// `tinydocker system service [--time SECONDS] [unix:///PATH|tcp://HOST:PORT]`.
fn service(engine: Engine, args: crate::cli::ServiceArgs) -> Result<i32> {
    let address = match args.uri.as_deref() {
        None => crate::api::Address::Unix(crate::api::DEFAULT_SOCKET.into()),
        Some(uri) => crate::api::Address::parse(uri)?,
    };
    let idle = (args.time > 0).then(|| std::time::Duration::from_secs(args.time));
    crate::api::serve(engine, &address, idle)?;
    Ok(0)
}

/// `tinydocker image COMMAND`: the image commands under one name.
fn image(engine: &Engine, cmd: crate::cli::ImageCommand) -> Result<i32> {
    use crate::cli::ImageCommand as I;
    match cmd {
        I::Ls(args) => images::images(engine, args),
        I::Inspect(args) => inspect::inspect_images(engine, args),
        I::Rm(args) => rmi::rmi(engine, args),
        I::Prune(args) => history::prune(engine, args),
        I::History(args) => history::history(engine, args),
        I::Pull(args) => pull::pull(engine, args),
        I::Push(args) => push::push(engine, args),
        I::Save(args) => archive::save(engine, args),
        I::Load(args) => archive::load(engine, args),
        I::Tag(args) => import::tag(engine, args),
        I::Import(args) => import::import(engine, args),
    }
}

/// docker's CLI exits 1 when most commands fail (125 is `run`'s): the
/// error said on one line, and that code.
pub fn or_failed(result: Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("tinydocker: {}", crate::errors::one_line(&err));
            1
        }
    }
}

/// docker's question before a prune: `WARNING` then "Are you sure you want
/// to continue? [y/N]"; whether the answer was yes.
pub fn confirm(warning: &str) -> Result<bool> {
    use std::io::{BufRead, Write};
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
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
