//! `tinydocker stats [--no-stream] [-a] [CONTAINER...]`: CPU, memory, network,
//! block I/O and pids of running containers, from their cgroups and
//! `/proc/PID/net/dev`, the way `docker stats` shows them.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;
use tinydocker_cgroups::{Layout, Manager, Stats};

use crate::cli::StatsArgs;
use crate::human;
use crate::limits::binary_size;
use crate::state::{Container, Observed, Root};

/// One reading of one container.
struct Sample {
    stats: Option<Stats>,
    net: (u64, u64),
    at: Instant,
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// Received and sent bytes over every interface but `lo`, as the
/// container's init sees them.
fn net_io(pid: i32) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/dev")) else {
        return (0, 0);
    };
    let mut total = (0, 0);
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if fields.len() >= 9 {
            total.0 += fields[0];
            total.1 += fields[8];
        }
    }
    total
}

fn sample(layout: &Layout, c: &Container) -> Sample {
    Sample {
        stats: c.cgroup(layout).and_then(|m| m.stats().ok()),
        net: net_io(c.state.pid),
        at: Instant::now(),
    }
}

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

pub fn stats(root: &Root, args: StatsArgs) -> Result<i32> {
    let containers: Vec<Container> = if args.containers.is_empty() {
        root.list()?
            .into_iter()
            .filter(|c| args.all || matches!(c.observe(), Observed::Running { .. }))
            .collect()
    } else {
        args.containers
            .iter()
            .map(|k| root.find(k))
            .collect::<Result<_>>()?
    };
    let layout = Layout::detect()?;
    let host_mem = host_memory();
    let mut before: Vec<Sample> = containers.iter().map(|c| sample(&layout, c)).collect();
    loop {
        // CPU % is a rate: two readings a second apart, as docker takes them.
        std::thread::sleep(Duration::from_secs(1));
        let after: Vec<Sample> = containers.iter().map(|c| sample(&layout, c)).collect();
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
