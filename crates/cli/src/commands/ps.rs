//! `tinydocker ps [-a] [-q] [--no-trunc]`.

use anyhow::Result;

use crate::cli::PsArgs;
use crate::human;
use crate::state::{Container, Observed, Root};

/// docker's one-word State.Status: created, running, exited, dead.
pub fn status_word(observed: Observed) -> &'static str {
    match observed {
        Observed::Created => "created",
        Observed::Running { .. } => "running",
        Observed::Exited { .. } => "exited",
        Observed::Dead => "dead",
    }
}

/// The STATUS column: "Up 3 minutes", "Exited (137) 2 seconds ago", "Created".
pub fn status_text(observed: Observed) -> String {
    match observed {
        Observed::Created => "Created".into(),
        Observed::Running { since } => format!("Up {}", human::duration(human::since(since))),
        Observed::Exited { code, at } => {
            format!("Exited ({code}) {} ago", human::duration(human::since(at)))
        }
        Observed::Dead => "Dead".into(),
    }
}

/// The PORTS column: "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp".
fn ports_text(c: &Container) -> String {
    let Some(net) = &c.config.net else {
        return String::new();
    };
    net.ports
        .iter()
        .map(|p| {
            let ip = p.host_ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
            format!("{ip}:{}->{}/{}", p.host_port, p.container_port, p.proto)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn command_text(c: &Container, no_trunc: bool) -> String {
    let cmd = c.config.cmd.join(" ");
    let cmd = if !no_trunc && cmd.chars().count() > 20 {
        format!("{}…", cmd.chars().take(19).collect::<String>())
    } else {
        cmd
    };
    format!("\"{cmd}\"")
}

pub fn ps(root: &Root, args: PsArgs) -> Result<i32> {
    let containers: Vec<(Container, Observed)> = root
        .list()?
        .into_iter()
        .map(|c| {
            let o = c.observe();
            (c, o)
        })
        .filter(|(_, o)| args.all || matches!(o, Observed::Running { .. }))
        .collect();
    let id = |c: &Container| {
        if args.no_trunc {
            c.config.id.clone()
        } else {
            c.short_id().to_string()
        }
    };
    if args.quiet {
        for (c, _) in &containers {
            println!("{}", id(c));
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = containers
        .iter()
        .map(|(c, o)| {
            vec![
                id(c),
                c.config.image.clone(),
                command_text(c, args.no_trunc),
                format!("{} ago", human::duration(human::since(c.config.created))),
                status_text(*o),
                ports_text(c),
                c.config.name.clone(),
            ]
        })
        .collect();
    super::print_table(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ],
        &rows,
    );
    Ok(0)
}
