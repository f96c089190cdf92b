//! `tinydocker ps [-a] [-q] [--no-trunc] [--format F] [-f label=...]`.

use anyhow::Result;
use tinydocker_engine::{Container, Engine, Observed};

use crate::cli::PsArgs;
use crate::human;

/// The STATUS column: "Up 3 minutes", "Up 5 seconds (Paused)", "Exited
/// (137) 2 seconds ago", "Created".
pub fn status_text(observed: Observed, paused: bool) -> String {
    match observed {
        Observed::Created | Observed::Unstarted => "Created".into(),
        Observed::Running { since } if paused => {
            format!("Up {} (Paused)", human::duration(human::since(since)))
        }
        Observed::Running { since } => format!("Up {}", human::duration(human::since(since))),
        Observed::Exited { code, at } => {
            format!("Exited ({code}) {} ago", human::duration(human::since(at)))
        }
        Observed::Restarting { code, at } => {
            format!(
                "Restarting ({code}) {} ago",
                human::duration(human::since(at))
            )
        }
        Observed::Dead => "Dead".into(),
    }
}

/// docker's State: "paused" for a running container that is frozen.
pub fn state_word(c: &Container, o: Observed) -> &'static str {
    match o {
        Observed::Running { .. } if c.state.paused => "paused",
        o => o.status_word(),
    }
}

/// The PORTS column: "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp".
fn ports_text(c: &Container) -> String {
    let Some(net) = &c.state.net else {
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
    let cmd = c.args().join(" ");
    let cmd = if !no_trunc && cmd.chars().count() > 20 {
        format!("{}…", cmd.chars().take(19).collect::<String>())
    } else {
        cmd
    };
    format!("\"{cmd}\"")
}

pub fn ps(engine: &Engine, args: PsArgs) -> Result<i32> {
    let mut labels = Vec::new();
    for f in &args.filter {
        match f.split_once('=') {
            Some(("label", label)) if !label.is_empty() => labels.push(label.to_string()),
            _ => anyhow::bail!(
                "invalid filter '{f}' (tinydocker filters by label=KEY or label=KEY=VALUE)"
            ),
        }
    }
    // One row of fields per container, each record dropped once read.
    let rows = engine.containers_map(|c| {
        let o = c.observe();
        (args.all || matches!(o, Observed::Running { .. }))
            .then_some(())
            .filter(|()| c.config.meta.has_labels(&labels))
            .map(|()| fields(&c, o, args.no_trunc))
    })?;
    let field = |row: &[(&str, String)], name: &str| {
        row.iter()
            .find(|(k, _)| *k == name)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    if let Some(format) = args.format.as_deref().filter(|f| *f != "table") {
        let mut out = String::new();
        for row in rows {
            if format == "json" {
                let object: serde_json::Map<String, serde_json::Value> = row
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
                    .collect();
                out.push_str(&serde_json::Value::Object(object).to_string());
            } else {
                out.push_str(&template(format, &row)?);
            }
            out.push('\n');
        }
        print!("{out}");
        return Ok(0);
    }
    if args.quiet {
        for row in &rows {
            println!("{}", field(row, "ID"));
        }
        return Ok(0);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            [
                "ID",
                "Image",
                "Command",
                "RunningFor",
                "Status",
                "Ports",
                "Names",
            ]
            .iter()
            .map(|name| field(row, name))
            .collect()
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
        &table,
    );
    Ok(0)
}

/// docker's names for a container's fields in `--format`.
pub(super) fn fields(c: &Container, o: Observed, no_trunc: bool) -> Vec<(&'static str, String)> {
    let id = if no_trunc {
        c.config.id.clone()
    } else {
        c.short_id().to_string()
    };
    vec![
        ("Command", command_text(c, no_trunc)),
        ("CreatedAt", human::rfc3339(c.config.created)),
        ("ID", id),
        ("Image", c.config.image.clone()),
        ("Names", c.config.name.clone()),
        ("Networks", c.config.origin.network_mode.clone()),
        ("Ports", ports_text(c)),
        (
            "RunningFor",
            format!("{} ago", human::duration(human::since(c.config.created))),
        ),
        ("State", state_word(c, o).to_string()),
        ("Status", status_text(o, c.state.paused)),
    ]
}

/// Fill a template such as `{{.ID}}\t{{.Names}}` (Go's syntax, fields only;
/// `\t` and `\n` as escapes).
pub(super) fn template(format: &str, fields: &[(&str, String)]) -> Result<String> {
    super::template::fill(format, |name| {
        let Some((_, value)) = fields
            .iter()
            .find(|(k, _)| Some(*k) == name.strip_prefix('.'))
        else {
            anyhow::bail!(
                "invalid --format {format:?}: unknown field {name:?} (known: {})",
                fields
                    .iter()
                    .map(|(k, _)| format!(".{k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        Ok(value.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let fields = vec![("ID", "abc".to_string()), ("Names", "web".to_string())];
        assert_eq!(
            template("{{.ID}}\\t{{ .Names }}!", &fields).unwrap(),
            "abc\tweb!"
        );
        assert!(template("{{.Nope}}", &fields).is_err());
        assert!(template("{{.ID", &fields).is_err());
    }
}
