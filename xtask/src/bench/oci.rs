//! Case 7, `oci-lifecycle`: an OCI runtime's own command line, as a
//! container engine (containerd's shim, youki's benchmark) drives it —
//! tinydocker-runtime beside runc and crun, on the same bundle (runc's
//! default spec, busybox rootfs, `true`, + cgroup namespace; see
//! `peers.rs`), each runtime on a private `--root` in the scratch
//! directory.
//!
//! One sample is the wall time of the whole sequence, as youki's README
//! times "create, start, and delete of a container running `true`":
//!
//! 1. `RUNTIME --root R create --bundle B --pid-file F ID`
//! 2. `RUNTIME --root R start ID`
//! 3. the exit of the container's process, `true` (the bundle's init)
//! 4. `RUNTIME --root R delete ID`
//!
//! Step 3 is the same for every runtime and adds no sleep: `start` returns
//! once the process runs (runc's and tinydocker-runtime's alike), and a
//! plain `delete` of a running container fails, while `delete --force`
//! would time a kill that `true` does not need. The bench is not the
//! process's parent (the runtime's `create` is, and it exits), so it waits
//! with pidfd_open(2) + poll(2), which work for any process: the pidfd is
//! opened on the pid from `--pid-file` right after `create`, while the
//! process waits for `start` (so the pid cannot have been reused), and
//! poll returns as the process exits. The bench is no subreaper here: the
//! exited process is reaped by the machine's init, and both runtimes count
//! a zombie as stopped.
//!
//! CPU time is the three runtime processes' own; peak RSS the largest of
//! the three (taskstats, see `measure.rs`). The steps' medians are in the
//! notes and the JSON. After the last run each runtime must have nothing
//! left: no container in `list`, no cgroup of the bundle, no mount under
//! its root.

use std::cell::RefCell;
use std::fs;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::json;

use super::cases::{alternate, report, Contender};
use super::measure::{measure, median, pidfd_open, run_cleanup, Sample, Tree};
use super::peers::Oci;
use super::report::CaseReport;
use super::teardown::{cgroup_mounts, mounts_under};
use super::{Bench, Case, Variant};

/// The steps of one run, in ms: create, start, wait for the exit, delete.
type Steps = [f64; 4];
const STEPS: [&str; 4] = ["create", "start", "exit", "delete"];

/// One create, start, exit, delete of `bundle` as `id`.
fn once(
    bench: &Bench,
    rt: &Oci,
    bundle: &Path,
    id: &str,
    pid_file: &Path,
) -> Result<(Sample, Steps)> {
    let meter = &bench.meter;
    let t0 = Instant::now();
    let mut cmd = rt.cmd(&["create", "--bundle"]);
    cmd.arg(bundle).arg("--pid-file").arg(pid_file).arg(id);
    let create = measure(&mut cmd, Tree::Direct, meter)?;
    let pid: i32 = fs::read_to_string(pid_file)
        .with_context(|| format!("read {}", pid_file.display()))?
        .trim()
        .parse()
        .with_context(|| format!("{}: not a pid", pid_file.display()))?;
    let pidfd = pidfd_open(pid).with_context(|| format!("pidfd_open of the init, {pid}"))?;
    let t1 = Instant::now();
    let start = measure(&mut rt.cmd(&["start", id]), Tree::Direct, meter)?;
    let t2 = Instant::now();
    meter.stop.wait_exit(pidfd.as_fd())?;
    let t3 = Instant::now();
    let delete = measure(&mut rt.cmd(&["delete", id]), Tree::Direct, meter)?;
    let t4 = Instant::now();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    let all = [&create, &start, &delete];
    Ok((
        Sample {
            wall_ms: ms(t0, t4),
            cpu_ms: all.iter().map(|s| s.cpu_ms).sum(),
            peak_rss_kib: all.iter().filter_map(|s| s.peak_rss_kib).max(),
            stdout: String::new(),
        },
        [ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t3, t4)],
    ))
}

pub fn lifecycle(bench: &Bench) -> Result<CaseReport> {
    let dir = bench.scratch.join("lifecycle");
    fs::create_dir_all(&dir)?;
    let warmup = bench.opts.warmup;
    let runtimes: Vec<&Oci> = std::iter::once(&bench.runtime).chain(bench.oci()).collect();
    let steps: Vec<RefCell<Vec<Steps>>> = runtimes.iter().map(|_| RefCell::default()).collect();
    let mut contenders = Vec::new();
    for (&rt, steps) in runtimes.iter().zip(&steps) {
        let bundle = bench.bundle(rt.name, Variant::True);
        let dir = &dir;
        contenders.push(Contender::sequence(
            rt.name,
            format!("{} {}", rt.name, rt.version),
            format!(
                "{0} create --bundle BUNDLE --pid-file FILE ID; {0} start ID; the exit of `true` (pidfd); {0} delete ID   (private --root; bundle: {1})",
                rt.name,
                Variant::True.describe()
            ),
            move |i| {
                let id = format!("tdbench-lifecycle-{i}");
                let pid_file = dir.join(format!("{}-{i}.pid", rt.name));
                match once(bench, rt, &bundle, &id, &pid_file) {
                    Ok((sample, parts)) => {
                        if i >= warmup {
                            steps.borrow_mut().push(parts);
                        }
                        Ok(sample)
                    }
                    Err(e) => {
                        // Whatever got made goes now (the sweep at the end
                        // would also get it).
                        let _ = run_cleanup(&mut rt.cmd(&["delete", "--force", &id]));
                        Err(e)
                    }
                }
            },
        ));
    }
    alternate(&mut contenders, bench)?;
    let mut report = report(
        Case::OciLifecycle,
        "an OCI runtime's create, start, exit of `true`, delete (one sample)".into(),
        &contenders,
        bench,
    );
    report.notes.push(
        "x tinydocker: here, over tinydocker-runtime; the sample is the wall time of the whole sequence; cpu: the three runtime processes' own; peak RSS: the largest of the three".into(),
    );
    let mut extra = serde_json::Map::new();
    for ((rt, steps), c) in runtimes.iter().zip(&steps).zip(&contenders) {
        if c.failed.is_some() {
            continue;
        }
        let steps = steps.borrow();
        let medians: Vec<f64> = (0..STEPS.len())
            .map(|k| median(&steps.iter().map(|s| s[k]).collect::<Vec<_>>()))
            .collect();
        report.notes.push(format!(
            "{}: medians of the steps: {}",
            rt.name,
            STEPS
                .iter()
                .zip(&medians)
                .map(|(s, m)| format!("{s} {m:.2} ms"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let left = leftovers(bench, rt)?;
        if !left.is_empty() {
            report
                .notes
                .push(format!("{}: LEFT BEHIND: {}", rt.name, left.join("; ")));
        }
        extra.insert(
            rt.name.into(),
            json!({
                "step_median_ms": STEPS
                    .iter()
                    .zip(&medians)
                    .map(|(s, m)| (s.to_string(), json!(super::measure::round3(*m))))
                    .collect::<serde_json::Map<_, _>>(),
                "left_behind": left,
            }),
        );
    }
    report.extra = serde_json::Value::Object(extra);
    Ok(report)
}

/// What a runtime left after its last `delete`: containers it still
/// lists, its bundle's cgroup, mounts under its root.
fn leftovers(bench: &Bench, rt: &Oci) -> Result<Vec<String>> {
    let mut left = Vec::new();
    let ids = measure(&mut rt.cmd(&["list", "-q"]), Tree::Whole, &bench.meter)
        .with_context(|| format!("{} list", rt.name))?
        .stdout;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        left.push(format!("containers in `list`: {}", ids.join(" ")));
    }
    let cgroup = format!(
        "{}/{}-{}",
        bench.cgroup_parent,
        rt.name,
        Variant::True.name()
    );
    for mount in cgroup_mounts() {
        let dir = mount.join(&cgroup);
        if dir.exists() {
            left.push(format!("cgroup {}", dir.display()));
        }
    }
    for m in mounts_under(&rt.root) {
        left.push(format!("mount {}", m.display()));
    }
    Ok(left)
}
