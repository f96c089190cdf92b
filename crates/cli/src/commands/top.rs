//! `tinydocker top CONTAINER [ps OPTIONS]`: the host's `ps` (as docker
//! runs it, `-ef` by default), the rows of the container's processes.

use anyhow::{anyhow, Result};
use tinydocker_engine::{Engine, Observed};

use crate::cli::TopArgs;

/// `ps`'s titles and the container's rows, each split into as many fields
/// as there are titles (the last one keeps its spaces: the command).
pub fn top(
    engine: &Engine,
    key: &str,
    ps_args: &[String],
) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let c = engine.container(key)?;
    if !matches!(c.observe(), Observed::Running { .. }) {
        return Err(anyhow!("Container {} is not running", c.config.id));
    }
    let pids = engine.processes(&c)?;
    let args: Vec<&str> = if ps_args.is_empty() {
        vec!["-ef"]
    } else {
        ps_args.iter().map(String::as_str).collect()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| anyhow!("ps: {e}"))?;
    if !out.status.success() {
        return Err(anyhow!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let pid_column = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| anyhow!("ps {}: its output has no PID column", args.join(" ")))?;
    let mut rows = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_column].parse::<i32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|f| f.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        rows.push(row);
    }
    Ok((titles, rows))
}

pub fn run(engine: &Engine, args: TopArgs) -> Result<i32> {
    let (titles, rows) = top(engine, &args.container, &args.ps_args)?;
    let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
    super::print_table(&titles, &rows);
    Ok(0)
}

/// `tinydocker rename CONTAINER NEW_NAME`: prints nothing, as docker.
pub fn rename(engine: &Engine, args: crate::cli::RenameArgs) -> Result<i32> {
    engine.rename(&args.container, &args.new_name)?;
    Ok(0)
}
