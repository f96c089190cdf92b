//! `tinydocker stats [--no-stream] [-a] [CONTAINER...]`: CPU, memory, network,
//! block I/O and pids of running containers, from their cgroups and
//! `/proc/PID/net/dev`, the way `docker stats` shows them.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use tinydocker_engine::{host_memory, Container, Engine, Observed, Sample};

use crate::cli::StatsArgs;
use crate::human;
use crate::limits::binary_size;

fn row(
    c: &Container,
    before: &Sample,
    after: &Sample,
    host_mem: u64,
    no_trunc: bool,
) -> Vec<String> {
    let id = if no_trunc {
        c.config.id.clone()
    } else {
        c.short_id().to_string()
    };
    let Some(s) = &after.stats else {
        return vec![
            id,
            c.config.name.clone(),
            "--".into(),
            "-- / --".into(),
            "--".into(),
            "--".into(),
            "--".into(),
            "--".into(),
        ];
    };
    let wall = after.at.duration_since(before.at).as_nanos().max(1) as f64;
    let cpu_delta = before
        .stats
        .as_ref()
        .map_or(0, |b| s.cpu_usage_ns.saturating_sub(b.cpu_usage_ns));
    let cpu = cpu_delta as f64 / wall * 100.0;
    let limit = s.memory_limit.filter(|l| *l < host_mem).unwrap_or(host_mem);
    let mem_pct = if limit > 0 {
        s.memory_usage as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    vec![
        id,
        c.config.name.clone(),
        format!("{cpu:.2}%"),
        format!("{} / {}", binary_size(s.memory_usage), binary_size(limit)),
        format!("{mem_pct:.2}%"),
        format!(
            "{} / {}",
            human::size(after.net.0),
            human::size(after.net.1)
        ),
        format!(
            "{} / {}",
            human::size(s.block_read),
            human::size(s.block_write)
        ),
        s.pids_current.to_string(),
    ]
}

const HEADER: [&str; 8] = [
    "CONTAINER ID",
    "NAME",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET I/O",
    "BLOCK I/O",
    "PIDS",
];

pub fn stats(engine: &Engine, args: StatsArgs) -> Result<i32> {
    let containers: Vec<Container> = if args.containers.is_empty() {
        engine.containers_map(|c| {
            (args.all || matches!(c.observe(), Observed::Running { .. })).then_some(c)
        })?
    } else {
        args.containers
            .iter()
            .map(|k| engine.container(k))
            .collect::<Result<_, _>>()?
    };
    let host_mem = host_memory();
    let sample_all = || -> Vec<Sample> { containers.iter().map(|c| engine.sample(c)).collect() };
    let mut before = sample_all();
    loop {
        // CPU % is a rate: two readings a second apart, as docker takes them.
        std::thread::sleep(Duration::from_secs(1));
        let after = sample_all();
        let rows: Vec<Vec<String>> = containers
            .iter()
            .zip(before.iter().zip(&after))
            .map(|(c, (b, a))| row(c, b, a, host_mem, args.no_trunc))
            .collect();
        if !args.no_stream {
            // Clear the screen and go home, as docker does between frames.
            print!("\x1b[2J\x1b[H");
        }
        super::print_table(&HEADER, &rows);
        let _ = std::io::stdout().flush();
        if args.no_stream {
            return Ok(0);
        }
        before = after;
    }
}
