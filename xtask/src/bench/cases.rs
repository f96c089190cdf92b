//! Cases 1-4 and 6: the same operation with each runtime, runs alternating
//! (A B C C B A A B C ...) after warm-up runs, so a drift of the machine touches
//! every runtime alike and run i of a peer can be paired with run i of
//! tinydocker.

use std::process::Command;

use anyhow::{Context, Result};

use super::measure::{measure, pairwise_ratio, short_error, Sample, Stats, Tree};
use super::report::{CaseReport, Outcome, Row};
use super::signals::is_interrupted;
use super::{Bench, Case, Variant};

/// One runtime's side of a case.
pub struct Contender<'a> {
    pub runtime: &'static str,
    pub label: String,
    pub command: String,
    /// The command of run number `i` (warm-up runs included).
    pub make: Box<dyn Fn(usize) -> Command + 'a>,
    /// Run `i` as more than one command (see [`Contender::sequence`]):
    /// replaces `make`.
    pub sequence: Option<Box<dyn Fn(usize) -> Result<Sample> + 'a>>,
    /// Untimed work after run `i` (removing an imported image).
    pub after: Option<Box<dyn Fn(usize) -> Result<()> + 'a>>,
    pub tree: Tree,
    pub samples: Vec<Sample>,
    pub failed: Option<String>,
}

impl<'a> Contender<'a> {
    pub fn new(
        runtime: &'static str,
        label: impl Into<String>,
        command: impl Into<String>,
        make: impl Fn(usize) -> Command + 'a,
    ) -> Contender<'a> {
        Contender {
            runtime,
            label: label.into(),
            command: command.into(),
            make: Box::new(make),
            sequence: None,
            after: None,
            tree: Tree::Whole,
            samples: Vec::new(),
            failed: None,
        }
    }

    /// A contender whose run `i` is timed by `run` itself (several
    /// commands, and what happens between them, as one sample).
    pub fn sequence(
        runtime: &'static str,
        label: impl Into<String>,
        command: impl Into<String>,
        run: impl Fn(usize) -> Result<Sample> + 'a,
    ) -> Contender<'a> {
        let mut c = Contender::new(runtime, label, command, |_| Command::new("false"));
        c.sequence = Some(Box::new(run));
        c
    }

    /// A contender that could not even be set up: a row with the reason.
    pub fn failed(runtime: &'static str, label: String, command: String, why: String) -> Self {
        let mut c = Contender::new(runtime, label, command, |_| Command::new("false"));
        c.failed = Some(why);
        c
    }

    fn step(&mut self, i: usize, warmup: usize, bench: &Bench) -> Result<()> {
        let sample = match &self.sequence {
            Some(run) => run(i),
            None => measure(&mut (self.make)(i), self.tree, &bench.meter),
        };
        let result = sample.and_then(|sample| {
            if let Some(after) = &self.after {
                after(i)?;
            }
            Ok(sample)
        });
        match result {
            Ok(sample) => {
                if i >= warmup {
                    self.samples.push(sample);
                }
                Ok(())
            }
            Err(e) if is_interrupted(&e) => Err(e),
            // tinydocker (and its OCI runtime) is what is under test: its
            // failure ends the bench.
            Err(e) if matches!(self.runtime, "tinydocker" | "tinydocker-runtime") => {
                Err(e.context(format!("{} (run {i})", self.label)))
            }
            // A peer that fails becomes a row saying so.
            Err(e) => {
                self.failed = Some(short_error(&e));
                self.samples.clear();
                Ok(())
            }
        }
    }
}

/// `warmup` + `runs` rounds; in each, every contender still standing runs
/// once: in order, then in reverse order in the next round (A B C C B A A
/// B C ...). What a run leaves the machine doing for a moment (a network
/// namespace the kernel tears down in the background, podman's cleanup)
/// then falls on each neighbour alike, not always on the same one.
pub fn alternate(contenders: &mut [Contender], bench: &Bench) -> Result<()> {
    alternate_rounds(contenders, bench, (bench.opts.warmup, bench.opts.runs))
}

/// [`alternate`] with `(warm-up rounds, runs)` of the case's own (the
/// pulls take fewer).
pub fn alternate_rounds(
    contenders: &mut [Contender],
    bench: &Bench,
    (warmup, runs): (usize, usize),
) -> Result<()> {
    for i in 0..warmup + runs {
        for c in in_turn(contenders, i) {
            if c.failed.is_none() {
                c.step(i, warmup, bench)?;
            }
        }
    }
    Ok(())
}

/// The items in order in even rounds, in reverse order in odd ones.
pub fn in_turn<T>(items: &mut [T], round: usize) -> Box<dyn Iterator<Item = &mut T> + '_> {
    if round.is_multiple_of(2) {
        Box::new(items.iter_mut())
    } else {
        Box::new(items.iter_mut().rev())
    }
}

/// The `--baseline` binary's side of a case, beside tinydocker's: the same
/// arguments (`args(i)` for run `i`), on its own root.
pub fn baseline<'a>(
    bench: &'a Bench,
    command: &str,
    args: impl Fn(usize) -> Vec<String> + 'a,
) -> Option<Contender<'a>> {
    let base = bench.baseline.as_ref()?;
    Some(Contender::new(
        "baseline",
        format!("baseline {}", base.bin.display()),
        command.to_string(),
        move |i| {
            let args = args(i);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            base.cmd(&args)
        },
    ))
}

/// The rows of a case: the first contender is the reference (tinydocker).
pub fn rows(contenders: &[Contender], missing: Vec<Row>) -> Vec<Row> {
    let reference = &contenders[0].samples;
    let mut rows: Vec<Row> = contenders
        .iter()
        .enumerate()
        .map(|(i, c)| Row {
            step: None,
            runtime: c.runtime,
            label: c.label.clone(),
            command: c.command.clone(),
            outcome: match &c.failed {
                Some(why) => Outcome::Failed(why.clone()),
                None => Outcome::Measured {
                    stats: Stats::of(&c.samples),
                    ratio: (i > 0 && c.runtime != "tinydocker")
                        .then(|| pairwise_ratio(&c.samples, reference))
                        .flatten(),
                },
            },
        })
        .collect();
    rows.extend(missing);
    rows
}

pub fn report(case: Case, title: String, contenders: &[Contender], bench: &Bench) -> CaseReport {
    let rounds = (bench.opts.warmup, bench.opts.runs);
    report_rounds(case, title, contenders, bench, rounds)
}

/// [`report`] of a case run with [`alternate_rounds`].
pub fn report_rounds(
    case: Case,
    title: String,
    contenders: &[Contender],
    bench: &Bench,
    (warmup, runs): (usize, usize),
) -> CaseReport {
    let mut notes = vec![format!(
        "{runs} runs each, alternating, after {warmup} warm-up round{}; x tinydocker: median of the pairwise ratios (peer run i / tinydocker run i)",
        if warmup == 1 { "" } else { "s" }
    )];
    for c in contenders {
        notes.push(format!("{}: {}", c.label, c.command));
    }
    CaseReport {
        name: case.name(),
        number: case.number(),
        title,
        rows: rows(contenders, bench.missing_rows(case)),
        notes,
        extra: serde_json::Value::Null,
    }
}

/// Cases 1 and 3: start to exit with `--network none`, without and with
/// limits. tinydocker, runc, crun, podman.
pub fn run_to_exit(bench: &Bench, case: Case) -> Result<CaseReport> {
    let limits: &[&str] = match case {
        Case::RunLimits => &["--cpus", "1", "--memory", "256m", "--pids-limit", "100"],
        _ => &[],
    };
    let variant = match case {
        Case::RunLimits => Variant::Limits,
        _ => Variant::True,
    };
    let td = &bench.td;
    let mut flags = vec!["run", "--rm", "--network", "none"];
    flags.extend(limits);
    let mut contenders = vec![];
    let td_args = [&flags[..], &["busybox", "true"]].concat();
    let base_args: Vec<String> = td_args.iter().map(|a| a.to_string()).collect();
    let td_command = format!("tinydocker {}", td_args.join(" "));
    contenders.push(Contender::new(
        "tinydocker",
        "tinydocker",
        format!("tinydocker {}", td_args.join(" ")),
        move |_| td.cmd(&td_args),
    ));
    contenders.extend(baseline(bench, &td_command, move |_| base_args.clone()));
    if case == Case::RunNone {
        // runc's default spec has no seccomp filter; this row shows what
        // tinydocker's own default filter costs.
        let args = [
            &flags[..],
            &["--security-opt", "seccomp=unconfined", "busybox", "true"],
        ]
        .concat();
        contenders.push(Contender::new(
            "tinydocker",
            "tinydocker, seccomp=unconfined",
            format!("tinydocker {}", args.join(" ")),
            move |_| td.cmd(&args),
        ));
    }
    for oci in bench.oci() {
        let bundle = bench.bundle(oci.name, variant);
        let prefix = format!("tdbench-{}", case.name());
        contenders.push(Contender::new(
            oci.name,
            format!("{} {}", oci.name, oci.version),
            format!(
                "{} run --bundle BUNDLE ID   (bundle: {})",
                oci.name,
                variant.describe()
            ),
            move |i| {
                let mut c = oci.cmd(&["run", "--bundle"]);
                c.arg(&bundle).arg(format!("{prefix}-{i}"));
                c
            },
        ));
    }
    if let Some(podman) = &bench.podman {
        let mut args = vec!["--rm", "--network", "none"];
        args.extend(limits);
        args.extend([super::peers::PODMAN_IMAGE, "true"]);
        contenders.push(Contender::new(
            "podman",
            format!("podman {}", podman.version),
            format!("podman run {}", args.join(" ")),
            move |_| podman.run(&args),
        ));
    }
    alternate(&mut contenders, bench)?;
    let title = match case {
        Case::RunLimits => {
            "start to exit with --cpus 1 --memory 256m --pids-limit 100, no network".to_string()
        }
        _ => "start to exit, no network (`true` in busybox)".to_string(),
    };
    Ok(report(case, title, &contenders, bench))
}

/// Case 2: start to exit on each runtime's default bridge network.
pub fn run_bridge(bench: &Bench) -> Result<CaseReport> {
    let td = &bench.td;
    let mut contenders = vec![Contender::new(
        "tinydocker",
        "tinydocker",
        "tinydocker run --rm busybox true   (the default bridge network)",
        move |_| td.cmd(&["run", "--rm", "busybox", "true"]),
    )];
    contenders.extend(baseline(bench, "tinydocker run --rm busybox true", |_| {
        ["run", "--rm", "busybox", "true"]
            .map(String::from)
            .to_vec()
    }));
    if let Some(podman) = &bench.podman {
        contenders.push(Contender::new(
            "podman",
            format!("podman {}", podman.version),
            "podman run --rm IMAGE true   (its default bridge network, netavark)",
            move |_| podman.run(&["--rm", super::peers::PODMAN_IMAGE, "true"]),
        ));
    }
    // The first run of each creates its bridge: a warm-up run.
    alternate(&mut contenders, bench)?;
    let mut report = report(
        Case::RunBridge,
        "start to exit on the default bridge network".into(),
        &contenders,
        bench,
    );
    if bench.podman.is_some() {
        report.notes.push(
            "podman's netavark keeps its (empty) NETAVARK chains in iptables' nat and filter tables for good; the bench leaves them".into(),
        );
    }
    Ok(report)
}

/// Case 4: `exec true` into a running `sleep` container.
pub fn exec(bench: &Bench) -> Result<CaseReport> {
    let td = &bench.td;
    let meter = &bench.meter;
    let mut contenders = vec![];
    let id = measure(
        &mut td.cmd(&["run", "-d", "--network", "none", "busybox", "sleep", "1000"]),
        Tree::Direct,
        meter,
    )
    .context("tinydocker run -d")?
    .stdout
    .trim()
    .to_string();
    let td_id = id.clone();
    contenders.push(Contender::new(
        "tinydocker",
        "tinydocker",
        "tinydocker exec ID true   (in `run -d --network none busybox sleep 1000`)",
        move |_| td.cmd(&["exec", &td_id, "true"]),
    ));
    let mut base_id = None;
    if let Some(base) = &bench.baseline {
        let id = measure(
            &mut base.cmd(&["run", "-d", "--network", "none", "busybox", "sleep", "1000"]),
            Tree::Direct,
            meter,
        )
        .context("baseline tinydocker run -d")?
        .stdout
        .trim()
        .to_string();
        base_id = Some(id.clone());
        contenders.extend(baseline(bench, "tinydocker exec ID true", move |_| {
            vec!["exec".to_string(), id.clone(), "true".to_string()]
        }));
    }
    let mut oci_ids = Vec::new();
    for oci in bench.oci() {
        let label = format!("{} {}", oci.name, oci.version);
        let command = format!(
            "{} exec ID true   (in `{} run -d` of the bundle, sleep 1000)",
            oci.name, oci.name
        );
        let cid = format!("tdbench-exec-{}", oci.name);
        // Detached without --console-socket: the bundle has no terminal, so
        // the container inherits runc's stdio (/dev/null and the bench's
        // memfds, which nothing waits on).
        let mut start = oci.cmd(&["run", "-d", "--bundle"]);
        start.arg(bench.bundle(oci.name, Variant::Sleep)).arg(&cid);
        match measure(&mut start, Tree::Direct, meter) {
            Ok(_) => {
                oci_ids.push((oci, cid.clone()));
                contenders.push(Contender::new(oci.name, label, command, move |_| {
                    oci.cmd(&["exec", &cid, "true"])
                }));
            }
            Err(e) if is_interrupted(&e) => return Err(e),
            Err(e) => contenders.push(Contender::failed(oci.name, label, command, short_error(&e))),
        }
    }
    let mut podman_id = None;
    if let Some(podman) = &bench.podman {
        let label = format!("podman {}", podman.version);
        let command = "podman exec ID true   (in `podman run -d --network none IMAGE sleep 1000`)";
        let start = measure(
            &mut podman.run(&[
                "-d",
                "--network",
                "none",
                super::peers::PODMAN_IMAGE,
                "sleep",
                "1000",
            ]),
            Tree::Direct,
            meter,
        );
        match start {
            Ok(sample) => {
                let pid = sample.stdout.trim().to_string();
                podman_id = Some(pid.clone());
                contenders.push(Contender::new("podman", label, command, move |_| {
                    podman.cmd(&["exec", &pid, "true"])
                }));
            }
            Err(e) if is_interrupted(&e) => return Err(e),
            Err(e) => contenders.push(Contender::failed(
                "podman",
                label,
                command.into(),
                short_error(&e),
            )),
        }
    }
    let result = alternate(&mut contenders, bench);
    // The containers go now (the sweeps would also get them at the end).
    let mut teardown = vec![measure(&mut td.cmd(&["rm", "-f", &id]), Tree::Whole, meter)];
    if let (Some(base), Some(id)) = (&bench.baseline, &base_id) {
        teardown.push(measure(
            &mut base.cmd(&["rm", "-f", id]),
            Tree::Whole,
            meter,
        ));
    }
    for (oci, cid) in &oci_ids {
        teardown.push(measure(
            &mut oci.cmd(&["delete", "-f", cid]),
            Tree::Whole,
            meter,
        ));
    }
    if let (Some(podman), Some(pid)) = (&bench.podman, &podman_id) {
        teardown.push(measure(
            &mut podman.cmd(&["rm", "-f", "-t", "0", pid]),
            Tree::Whole,
            meter,
        ));
    }
    result?;
    for t in teardown {
        t?;
    }
    Ok(report(
        Case::Exec,
        "`exec true` into a running container".into(),
        &contenders,
        bench,
    ))
}

/// Case 6: import of a rootfs tarball of about 50 MB (busybox and 50 MiB of
/// random bytes); the image is removed (untimed) after each run.
pub fn import(bench: &Bench) -> Result<CaseReport> {
    let td = &bench.td;
    let tar = bench.import_tar.clone();
    let tar_name = tar.display().to_string();
    let mut td_side = Contender::new(
        "tinydocker",
        "tinydocker",
        format!("tinydocker import {tar_name} bench-import"),
        move |_| {
            let mut c = td.cmd(&["import"]);
            c.arg(&tar).arg("bench-import");
            c
        },
    );
    td_side.after = Some(Box::new(move |_| {
        measure(
            &mut td.cmd(&["rmi", "bench-import"]),
            Tree::Whole,
            &bench.meter,
        )
        .map(drop)
    }));
    let mut contenders = vec![td_side];
    if let Some(podman) = &bench.podman {
        let tar = bench.import_tar.clone();
        let mut side = Contender::new(
            "podman",
            format!("podman {}", podman.version),
            format!("podman import {tar_name} localhost/bench-import"),
            move |_| {
                let mut c = podman.cmd(&["import", "--quiet"]);
                c.arg(&tar).arg("localhost/bench-import");
                c
            },
        );
        side.after = Some(Box::new(move |_| {
            measure(
                &mut podman.cmd(&["rmi", "localhost/bench-import"]),
                Tree::Whole,
                &bench.meter,
            )
            .map(drop)
        }));
        contenders.push(side);
    }
    alternate(&mut contenders, bench)?;
    let size = std::fs::metadata(&bench.import_tar).map_or(0, |m| m.len());
    Ok(report(
        Case::Import,
        format!(
            "image import of a {:.1} MB rootfs tarball",
            size as f64 / 1e6
        ),
        &contenders,
        bench,
    ))
}
