//! Case 5, the fleet: N detached `sleep 1000` containers started one by one
//! (tinydocker, the `--baseline` binary and podman alternating), `ps` over
//! them once and then
//! `--runs` times (alternating), the resident memory of what stays behind
//! for each container (tinydocker's supervisor, podman's conmon), then
//! `stop -t 0` of all of them in one command and `rm` of all of them in one
//! command, and a check that nothing is left: no record, name, mount,
//! process or cgroup of those containers.
//!
//! `stop -t 0`: `sleep` as a container's pid 1 ignores SIGTERM (pid 1 gets
//! no default signal actions), so with the default 10 s grace period the
//! step would time the timeout, not the runtime.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::cases::in_turn;
use super::measure::{
    measure, median, pairwise_ratio, pidfd_open, short_error, Sample, Stats, Tree,
};
use super::peers::{Podman, Tinydocker, PODMAN_IMAGE};
use super::report::{CaseReport, Outcome, Row};
use super::signals::is_interrupted;
use super::teardown::{cgroup_mounts, mounts_under};
use super::{Bench, Case};

/// A process that stays with a container, and how it was found.
struct Keeper {
    pid: i32,
    start: u64,
    /// VmRSS: what the target is about. It counts the pages of the binary
    /// that every such process shares, in full, in each of them.
    rss_kib: i64,
    /// RssAnon: the memory that is this process's own.
    anon_kib: i64,
    /// Pss (smaps_rollup): its proportional share, shared pages divided
    /// among the processes that map them — what each one really adds.
    pss_kib: i64,
}

impl Keeper {
    fn of(pid: i32) -> Keeper {
        Keeper {
            pid,
            start: start_time(pid).unwrap_or(0),
            rss_kib: status_kib(pid, "status", "VmRSS:").unwrap_or(0),
            anon_kib: status_kib(pid, "status", "RssAnon:").unwrap_or(0),
            pss_kib: status_kib(pid, "smaps_rollup", "Pss:").unwrap_or(0),
        }
    }
}

/// One runtime's fleet.
struct Side<'a> {
    runtime: &'static str,
    label: String,
    ids: Vec<String>,
    start: Vec<Sample>,
    first_ps: Option<Sample>,
    ps: Vec<Sample>,
    stop: Option<Sample>,
    rm: Option<Sample>,
    keepers: Vec<Keeper>,
    /// tinydocker: each container's cgroup, relative to the hierarchy roots.
    cgroups: Vec<String>,
    left: Vec<String>,
    /// Keepers still running when `rm` returned, gone soon after.
    lingered: usize,
    failed: Option<String>,
    runner: Runner<'a>,
}

/// What runs a side's fleet.
#[derive(Clone, Copy)]
enum Runner<'a> {
    /// This tinydocker: its failure ends the case.
    Tinydocker(&'a Tinydocker),
    /// The `--baseline` binary: a failure is recorded, as a peer's.
    Baseline(&'a Tinydocker),
    Podman(&'a Podman),
}

impl<'a> Side<'a> {
    fn new(runtime: &'static str, label: String, runner: Runner<'a>) -> Self {
        Side {
            runtime,
            label,
            ids: Vec::new(),
            start: Vec::new(),
            first_ps: None,
            ps: Vec::new(),
            stop: None,
            rm: None,
            keepers: Vec::new(),
            cgroups: Vec::new(),
            left: Vec::new(),
            lingered: 0,
            failed: None,
            runner,
        }
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        match self.runner {
            Runner::Podman(p) => p.cmd(args),
            Runner::Tinydocker(td) | Runner::Baseline(td) => td.cmd(args),
        }
    }

    /// The tinydocker binary of a tinydocker side.
    fn tinydocker(&self) -> Option<&'a Tinydocker> {
        match self.runner {
            Runner::Tinydocker(td) | Runner::Baseline(td) => Some(td),
            Runner::Podman(_) => None,
        }
    }

    /// Run one step; a peer's failure is recorded (and ends its fleet), an
    /// interruption or tinydocker's failure ends the case.
    fn step(
        &mut self,
        bench: &Bench,
        what: &str,
        cmd: &mut std::process::Command,
        tree: Tree,
    ) -> Result<Option<Sample>> {
        if self.failed.is_some() {
            return Ok(None);
        }
        match measure(cmd, tree, &bench.meter) {
            Ok(s) => Ok(Some(s)),
            Err(e) if is_interrupted(&e) || matches!(self.runner, Runner::Tinydocker(_)) => {
                Err(e.context(format!("fleet, {what}")))
            }
            Err(e) => {
                self.failed = Some(format!("{what}: {}", short_error(&e)));
                Ok(None)
            }
        }
    }

    fn run_detached(&mut self, bench: &Bench, i: usize) -> Result<()> {
        let name = format!("tdbench-fleet-{i}");
        let mut cmd = match self.runner {
            Runner::Podman(p) => p.run(&[
                "-d",
                "--network",
                "none",
                "--name",
                &name,
                PODMAN_IMAGE,
                "sleep",
                "1000",
            ]),
            Runner::Tinydocker(td) | Runner::Baseline(td) => td.cmd(&[
                "run",
                "-d",
                "--network",
                "none",
                "--name",
                &name,
                "busybox",
                "sleep",
                "1000",
            ]),
        };
        // Direct: the supervisor (conmon) it leaves must not be waited for.
        if let Some(s) = self.step(bench, "run -d", &mut cmd, Tree::Direct)? {
            self.ids.push(s.stdout.trim().to_string());
            self.start.push(s);
        }
        Ok(())
    }

    fn ps(&mut self, bench: &Bench) -> Result<Option<Sample>> {
        let mut cmd = self.cmd(&["ps"]);
        self.step(bench, "ps", &mut cmd, Tree::Whole)
    }

    /// With the ids given on one command line.
    fn all(&mut self, bench: &Bench, verb: &[&str]) -> Result<Option<Sample>> {
        let mut args = verb.to_vec();
        args.extend(self.ids.iter().map(String::as_str));
        let mut cmd = self.cmd(&args);
        self.step(bench, verb[0], &mut cmd, Tree::Whole)
    }
}

/// A "Key:   123 kB" line of /proc/PID/FILE, in KiB.
fn status_kib(pid: i32, file: &str, key: &str) -> Option<i64> {
    let status = fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The start time of a live process (field 22 of /proc/PID/stat), None
/// if it is gone or a zombie.
fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// tinydocker: each container's supervisor (`state.runtime_pid` of its
/// record, a `tinydocker __supervise` process) and its cgroup (the spec's
/// `linux.cgroupsPath`; `config.cgroup` in a record of before the engine,
/// the baseline's).
fn tinydocker_keepers(root: &Path, side: &mut Side) -> Result<()> {
    for id in &side.ids {
        let path = root.join("containers").join(id).join("container.json");
        let record: serde_json::Value = serde_json::from_slice(
            &fs::read(&path).with_context(|| format!("read {}", path.display()))?,
        )
        .with_context(|| format!("parse {}", path.display()))?;
        let pid = record["state"]["runtime_pid"].as_i64().unwrap_or(0) as i32;
        if pid <= 0 || !cmdline(pid).contains("__supervise") {
            bail!("container {id}: its record names no live supervisor (runtime_pid {pid})");
        }
        side.keepers.push(Keeper::of(pid));
        let cgroup = record["spec"]["linux"]["cgroupsPath"]
            .as_str()
            .or(record["config"]["cgroup"].as_str())
            .with_context(|| format!("{}: no cgroup path", path.display()))?;
        side.cgroups
            .push(cgroup.trim_start_matches('/').to_string());
    }
    Ok(())
}

/// podman: each container's conmon.
fn podman_keepers(bench: &Bench, side: &mut Side) -> Result<()> {
    let mut args = vec!["inspect", "--format", "{{.State.ConmonPid}}"];
    args.extend(side.ids.iter().map(String::as_str));
    let mut cmd = side.cmd(&args);
    let Some(out) = side.step(bench, "inspect", &mut cmd, Tree::Whole)? else {
        return Ok(());
    };
    for pid in out.stdout.split_whitespace() {
        let pid: i32 = pid.parse().context("conmon pid")?;
        side.keepers.push(Keeper::of(pid));
    }
    Ok(())
}

enum Gone {
    Already,
    /// Still running at the check, exited before the deadline.
    Within,
    No,
}

/// Whether the keeper process has exited, waiting for it until `deadline`.
fn exited_by(k: &Keeper, deadline: Instant) -> Result<Gone> {
    let alive = |k: &Keeper| k.start != 0 && start_time(k.pid) == Some(k.start);
    if !alive(k) {
        return Ok(Gone::Already);
    }
    let Ok(fd) = pidfd_open(k.pid) else {
        return Ok(Gone::Already);
    };
    // The pid could have been reused between the check and the open.
    if !alive(k) {
        return Ok(Gone::Already);
    }
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
        if rc > 0 {
            return Ok(Gone::Within);
        }
        if rc == 0 {
            return Ok(Gone::No);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("poll a pidfd");
        }
    }
}

/// What is left of the fleet after `rm`.
fn leftovers(bench: &Bench, side: &mut Side) -> Result<()> {
    let mut left = Vec::new();
    // tinydocker's `stop` returns once each supervisor has exited: they
    // must be gone now. podman's `rm` returns before each conmon has run
    // its exit command and exited: give them a moment (poll(2) on pidfds).
    let grace = match side.runner {
        Runner::Podman(_) => Duration::from_secs(10),
        Runner::Tinydocker(_) | Runner::Baseline(_) => Duration::ZERO,
    };
    let deadline = Instant::now() + grace;
    let mut lingered = 0;
    for k in &side.keepers {
        match exited_by(k, deadline)? {
            Gone::Already => {}
            Gone::Within => lingered += 1,
            Gone::No => {
                let cmd = cmdline(k.pid);
                let cmd = cmd.split_whitespace().next().unwrap_or("");
                left.push(format!("process {} ({cmd})", k.pid));
            }
        }
    }
    side.lingered = lingered;
    let mut cmd = side.cmd(&["ps", "-aq"]);
    if let Some(ps) = side.step(bench, "ps -aq", &mut cmd, Tree::Whole)? {
        let n = ps.stdout.split_whitespace().count();
        if n > 0 {
            left.push(format!("{n} containers in `ps -a`"));
        }
    }
    let mounts = cgroup_mounts();
    match side.runner {
        Runner::Tinydocker(td) | Runner::Baseline(td) => {
            let root = &td.root;
            for dir in ["containers", "names"] {
                let entries = fs::read_dir(root.join(dir)).map_or(0, |d| d.count());
                if entries > 0 {
                    left.push(format!("{entries} entries in {dir}/ of the state root"));
                }
            }
            for m in mounts_under(root) {
                left.push(format!("mount {}", m.display()));
            }
            for cgroup in &side.cgroups {
                for mount in &mounts {
                    let dir = mount.join(cgroup);
                    if dir.exists() {
                        left.push(format!("cgroup {}", dir.display()));
                    }
                }
            }
        }
        Runner::Podman(podman) => {
            // Container cgroups are named after their ids below the parent.
            for mount in &mounts {
                let parent = mount.join(podman.cgroup_parent.trim_start_matches('/'));
                for entry in fs::read_dir(&parent).into_iter().flatten().flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if side.ids.iter().any(|id| name.contains(id.as_str())) {
                        left.push(format!("cgroup {}", entry.path().display()));
                    }
                }
            }
        }
    }
    side.left = left;
    Ok(())
}

pub fn fleet(bench: &Bench) -> Result<CaseReport> {
    let n = bench.opts.fleet;
    let mut sides = vec![Side::new(
        "tinydocker",
        "tinydocker".into(),
        Runner::Tinydocker(&bench.td),
    )];
    if let Some(base) = &bench.baseline {
        sides.push(Side::new(
            "baseline",
            format!("baseline {}", base.bin.display()),
            Runner::Baseline(base),
        ));
    }
    if let Some(p) = &bench.podman {
        sides.push(Side::new(
            "podman",
            format!("podman {}", p.version),
            Runner::Podman(p),
        ));
    }
    for i in 0..n {
        for side in in_turn(&mut sides, i) {
            side.run_detached(bench, i)?;
        }
    }
    for side in sides.iter_mut() {
        side.first_ps = side.ps(bench)?;
        if let Some(ps) = &side.first_ps {
            // The header and one line per running container.
            let running = ps.stdout.lines().count().saturating_sub(1);
            if running != n && side.failed.is_none() {
                let what = format!("{running} of {n} containers running after the start");
                if matches!(side.runner, Runner::Tinydocker(_)) {
                    bail!("fleet: {what}");
                }
                side.failed = Some(what);
            }
        }
    }
    for i in 0..bench.opts.runs {
        for side in in_turn(&mut sides, i) {
            if let Some(s) = side.ps(bench)? {
                side.ps.push(s);
            }
        }
    }
    for side in sides.iter_mut() {
        if side.failed.is_some() {
            continue;
        }
        match side.tinydocker() {
            Some(td) => {
                if let Err(e) = tinydocker_keepers(&td.root, side) {
                    if matches!(side.runner, Runner::Tinydocker(_)) {
                        return Err(e);
                    }
                    side.failed = Some(format!("supervisors: {}", short_error(&e)));
                }
            }
            None => podman_keepers(bench, side)?,
        }
    }
    for side in sides.iter_mut() {
        side.stop = side.all(bench, &["stop", "-t", "0"])?;
    }
    for side in sides.iter_mut() {
        side.rm = side.all(bench, &["rm"])?;
    }
    for side in sides.iter_mut() {
        if side.failed.is_none() {
            leftovers(bench, side)?;
        }
    }
    Ok(report(bench, &sides))
}

fn report(bench: &Bench, sides: &[Side]) -> CaseReport {
    let n = bench.opts.fleet;
    let runs = bench.opts.runs;
    let mut rows = Vec::new();
    let steps: [(&str, &str); 5] = [
        (
            "start",
            "run -d --network none busybox sleep 1000, one container per command",
        ),
        ("first ps", "ps, once, right after the start"),
        ("ps", "ps, alternating with the peer"),
        ("stop", "stop -t 0 ID..., all in one command"),
        ("rm", "rm ID..., all in one command"),
    ];
    // A side that failed says so once, at the first step it has no figure for.
    let mut told = vec![false; sides.len()];
    for (step, _) in steps {
        for (i, side) in sides.iter().enumerate() {
            let samples = step_samples(side, step);
            let outcome = if samples.is_empty() {
                match &side.failed {
                    Some(why) if !told[i] => {
                        told[i] = true;
                        Outcome::Failed(why.clone())
                    }
                    _ => continue,
                }
            } else {
                let stats = Stats::of(&samples);
                let ratio = (i > 0)
                    .then(|| pairwise_ratio(&samples, &step_samples(&sides[0], step)))
                    .flatten();
                Outcome::Measured { stats, ratio }
            };
            rows.push(Row {
                step: Some(step.to_string()),
                runtime: side.runtime,
                label: side.label.clone(),
                command: steps
                    .iter()
                    .find(|(s, _)| *s == step)
                    .map_or("", |(_, c)| c)
                    .to_string(),
                outcome,
            });
        }
    }
    rows.extend(bench.missing_rows(Case::Fleet).into_iter().map(|mut row| {
        row.step = Some("all".into());
        row
    }));
    let mut notes = vec![
        format!("{n} containers; `start` is per container; `ps` over {runs} runs; x tinydocker: median of the pairwise ratios (container i, ps run i)"),
        "stop -t 0: `sleep` as pid 1 ignores SIGTERM, the default grace period would only time the 10 s timeout".to_string(),
    ];
    let mut extra = serde_json::Map::new();
    extra.insert("fleet".into(), json!(n));
    for side in sides {
        let total: f64 = side.start.iter().map(|s| s.wall_ms).sum();
        let rss: Vec<f64> = side.keepers.iter().map(|k| k.rss_kib as f64).collect();
        let keeper = match side.runner {
            Runner::Podman(_) => "conmon",
            Runner::Tinydocker(_) | Runner::Baseline(_) => "supervisor",
        };
        let max = side.keepers.iter().map(|k| k.rss_kib).max().unwrap_or(0);
        let anon: Vec<f64> = side.keepers.iter().map(|k| k.anon_kib as f64).collect();
        let pss: Vec<f64> = side.keepers.iter().map(|k| k.pss_kib as f64).collect();
        if !rss.is_empty() {
            notes.push(format!(
                "{}: started {} containers in {:.0} ms (sum of the starts); one {keeper} per container: VmRSS max {} KiB, median {:.0} KiB; its own (RssAnon) median {:.0} KiB; PSS median {:.0} KiB",
                side.label,
                side.ids.len(),
                total,
                max,
                median(&rss),
                median(&anon),
                median(&pss),
            ));
        }
        if side.failed.is_none() {
            let lingered = match side.lingered {
                0 => String::new(),
                n => format!(" ({n} {keeper} processes were still exiting when rm returned)"),
            };
            notes.push(match side.left.is_empty() {
                true => format!(
                    "{}: after rm, nothing is left (records, names, mounts, processes, cgroups){lingered}",
                    side.label
                ),
                false => format!(
                    "{}: LEFT BEHIND after rm: {}",
                    side.label,
                    side.left.join("; ")
                ),
            });
        }
        extra.insert(
            side.runtime.into(),
            json!({
                "containers": side.ids.len(),
                "start_total_ms": super::measure::round3(total),
                "keeper": keeper,
                "keeper_rss_kib": {
                    "max": max,
                    "median": median(&rss),
                    "all": side.keepers.iter().map(|k| k.rss_kib).collect::<Vec<_>>(),
                },
                "keeper_anon_kib_median": median(&anon),
                "keeper_pss_kib_median": median(&pss),
                "left_behind": side.left,
                "keepers_exiting_after_rm": side.lingered,
                "failed": side.failed,
            }),
        );
    }
    CaseReport {
        name: Case::Fleet.name(),
        number: Case::Fleet.number(),
        title: format!("{n} detached `sleep` containers: start, ps, stop, rm"),
        rows,
        notes,
        extra: serde_json::Value::Object(extra),
    }
}

fn step_samples(side: &Side, step: &str) -> Vec<Sample> {
    match step {
        "start" => side.start.clone(),
        "first ps" => side.first_ps.iter().cloned().collect(),
        "ps" => side.ps.clone(),
        "stop" => side.stop.iter().cloned().collect(),
        _ => side.rm.iter().cloned().collect(),
    }
}

/// Whatever the fleet left behind, for the bench's verdict.
pub fn left_behind(report: &CaseReport) -> Vec<String> {
    let mut left = Vec::new();
    if let Some(extra) = report.extra.as_object() {
        for (runtime, side) in extra {
            for item in side["left_behind"].as_array().into_iter().flatten() {
                left.push(format!("{runtime}: {}", item.as_str().unwrap_or("")));
            }
        }
    }
    left
}
