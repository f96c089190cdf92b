//! `cargo xtask bench`: tinydocker side by side with runc, crun and podman,
//! on the same busybox image with the same isolation, in one run.
//!
//! Cases (`--case NAME` or number, repeatable; all by default):
//!
//! 1. `run-none`   start to exit, `--network none`: tinydocker, runc and
//!    crun (an equivalent bundle), podman.
//! 2. `run-bridge` start to exit on the default bridge: tinydocker, podman.
//! 3. `run-limits` case 1 with `--cpus 1 --memory 256m --pids-limit 100`.
//! 4. `exec`       `exec true` into a running container.
//! 5. `fleet`      `--fleet N` (100) detached `sleep` containers: start, ps,
//!    stop, rm, and the memory each one keeps (see `fleet.rs`).
//! 6. `import`     import of a 50 MiB rootfs tarball.
//! 7. `oci-lifecycle` tinydocker-runtime (tinydocker's OCI runtime), runc
//!    and crun: `create`, `start`, the exit of `true`, `delete` of a bundle,
//!    as one sample (see `oci.rs`).
//! 8. `ctr-run`    `ctr run --rm` on a private containerd, with
//!    tinydocker-runtime and runc as its runc binary (see `containerd.rs`).
//!
//! Cases 9-11 pull from a private registry on 127.0.0.1 (Debian's
//! docker-registry, started by the bench and stopped at its end), two
//! images umoci makes and skopeo pushes once per run: a big one (five
//! layers, 100 MB of file content, about 70 MB compressed) and one of
//! 15,000 small files from the host's /usr/share (see `pull.rs`).
//!
//! 9. `pull-cold`  pull into an empty store (a fresh state root each run):
//!    tinydocker, podman.
//! 10. `pull-warm` pull of the big image, already in the store; the
//!     requests one such pull makes (the registry's access log).
//! 11. `unpack`    MB/s of file content over a cold pull's wall time, for
//!     the small-files image and the big one (from case 9 when it ran).
//!
//! The pull cases take 5 runs after 1 warm-up round unless `--runs` is
//! given (`pull-warm`: as the other cases); without docker-registry, skopeo
//! or umoci they are rows saying what to install.
//!
//! `--skip NAME|N` (repeatable) leaves a case out of the list.
//!
//! Each runtime runs in turn (A B C C B A A B C ...) after warm-up rounds, and
//! each row gives the median, min and max wall time, the median CPU time of
//! the whole process tree, the peak RSS of the runtime's process, and the
//! median of the pairwise ratios to tinydocker (see `measure.rs` for what
//! exactly is counted). A table goes to stdout; `--json FILE` writes the
//! same results for machines. No timing is asserted: the targets of the
//! issues are printed, met or missed, and never fail the run. The bench
//! fails when tinydocker fails, or when something is left behind.
//!
//! It installs nothing: a missing peer is a row that says what to install.
//! Everything it makes lives under one scratch directory and one cgroup
//! parent, and is removed at the end, after an error, or after SIGINT,
//! SIGTERM or SIGHUP (see `signals.rs`, `teardown.rs`).

mod api;
mod cases;
mod containerd;
mod fleet;
mod measure;
mod oci;
mod peers;
mod pull;
mod report;
mod signals;
mod taskstats;
pub(crate) mod teardown;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::{build, rootfs, runtime_bin, workspace};
use measure::{measure, Meter, Tree};
use peers::{Oci, Podman, Tinydocker};
use report::{CaseReport, Outcome, Row};
use signals::Interrupt;
use teardown::Teardown;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    RunNone,
    RunBridge,
    RunLimits,
    Exec,
    Fleet,
    Import,
    OciLifecycle,
    CtrRun,
    PullCold,
    PullWarm,
    Unpack,
    ApiRun,
    ApiPs,
}

impl Case {
    const ALL: [Case; 13] = [
        Case::RunNone,
        Case::RunBridge,
        Case::RunLimits,
        Case::Exec,
        Case::Fleet,
        Case::Import,
        Case::OciLifecycle,
        Case::CtrRun,
        Case::PullCold,
        Case::PullWarm,
        Case::Unpack,
        Case::ApiRun,
        Case::ApiPs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Case::RunNone => "run-none",
            Case::RunBridge => "run-bridge",
            Case::RunLimits => "run-limits",
            Case::Exec => "exec",
            Case::Fleet => "fleet",
            Case::Import => "import",
            Case::OciLifecycle => "oci-lifecycle",
            Case::CtrRun => "ctr-run",
            Case::PullCold => "pull-cold",
            Case::PullWarm => "pull-warm",
            Case::Unpack => "unpack",
            Case::ApiRun => "api-run",
            Case::ApiPs => "api-ps",
        }
    }

    pub fn number(self) -> u8 {
        Case::ALL.iter().position(|c| *c == self).unwrap_or(0) as u8 + 1
    }

    fn parse(text: &str) -> Result<Case> {
        Case::ALL
            .into_iter()
            .find(|c| c.name() == text || c.number().to_string() == text)
            .with_context(|| {
                format!(
                    "unknown case {text:?}: expected one of {} (or 1-{})",
                    Case::ALL.map(Case::name).join(", "),
                    Case::ALL.len()
                )
            })
    }

    /// Whether the peer `name` (runc, crun, podman, containerd) takes part.
    fn has_peer(self, name: &str) -> bool {
        match self {
            Case::RunNone | Case::RunLimits | Case::Exec => name != "containerd",
            Case::RunBridge | Case::Fleet | Case::Import => name == "podman",
            Case::PullCold | Case::PullWarm | Case::Unpack => name == "podman",
            Case::OciLifecycle => matches!(name, "runc" | "crun"),
            Case::CtrRun => matches!(name, "runc" | "containerd"),
            Case::ApiRun | Case::ApiPs => name == "podman",
        }
    }

    /// Cases 9-11, which pull from the bench's registry.
    fn pulls(self) -> bool {
        matches!(self, Case::PullCold | Case::PullWarm | Case::Unpack)
    }
}

/// What an OCI bundle runs.
#[derive(Debug, Clone, Copy)]
pub enum Variant {
    True,
    Limits,
    Sleep,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::True => "true",
            Variant::Limits => "limits",
            Variant::Sleep => "sleep",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Variant::True => "runc's default spec, busybox rootfs, `true`, + cgroup namespace",
            Variant::Limits => "the same + cpu quota 1 CPU, memory 256 MiB, pids 100",
            Variant::Sleep => "the same, `sleep 1000`",
        }
    }

    fn spec(self) -> (&'static [&'static str], bool) {
        match self {
            Variant::True => (&["true"], false),
            Variant::Limits => (&["true"], true),
            Variant::Sleep => (&["sleep", "1000"], false),
        }
    }
}

pub struct Options {
    pub cases: Vec<Case>,
    pub runs: usize,
    /// Whether `--runs` was given (the pull cases take fewer by default).
    pub runs_given: bool,
    pub warmup: usize,
    pub fleet: usize,
    pub json: Option<PathBuf>,
    /// Another tinydocker binary to time beside this one (an older build).
    pub baseline: Option<PathBuf>,
}

const USAGE: &str = "cargo xtask bench [--case NAME|N]... [--skip NAME|N]... [--runs N] [--fleet N] [--json FILE] [--baseline BIN]";

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut opts = Options {
            cases: Vec::new(),
            runs: 20,
            runs_given: false,
            warmup: 3,
            fleet: 100,
            json: None,
            baseline: None,
        };
        let mut skip = Vec::new();
        let mut it = args.iter();
        let number = |flag: &str, v: Option<&String>| -> Result<usize> {
            v.with_context(|| format!("{flag} needs a number"))?
                .parse()
                .with_context(|| format!("{flag} needs a number"))
        };
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--case" => {
                    let v = it.next().context("--case needs a name")?;
                    for name in v.split(',') {
                        opts.cases.push(Case::parse(name.trim())?);
                    }
                }
                "--skip" => {
                    let v = it.next().context("--skip needs a name")?;
                    for name in v.split(',') {
                        skip.push(Case::parse(name.trim())?);
                    }
                }
                "--runs" => {
                    opts.runs = number("--runs", it.next())?;
                    opts.runs_given = true;
                }
                "--fleet" => opts.fleet = number("--fleet", it.next())?,
                "--json" => opts.json = Some(it.next().context("--json needs a file")?.into()),
                "--baseline" => {
                    let bin: PathBuf = it.next().context("--baseline needs a binary")?.into();
                    if !bin.is_file() {
                        bail!("--baseline {}: no such file", bin.display());
                    }
                    opts.baseline = Some(fs::canonicalize(&bin)?);
                }
                "-h" | "--help" => {
                    println!(
                        "usage: {USAGE}\n\ncases: {}",
                        Case::ALL.map(Case::name).join(", ")
                    );
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\nusage: {USAGE}"),
            }
        }
        if opts.runs == 0 {
            bail!("--runs must be at least 1");
        }
        if opts.fleet == 0 {
            bail!("--fleet must be at least 1");
        }
        if opts.cases.is_empty() {
            opts.cases = Case::ALL.to_vec();
        }
        opts.cases.retain(|c| !skip.contains(c));
        if opts.cases.is_empty() {
            bail!("--skip leaves no case to run");
        }
        let mut seen = Vec::new();
        opts.cases.retain(|c| {
            let first = !seen.contains(c);
            seen.push(*c);
            first
        });
        Ok(opts)
    }
}

pub struct Bench {
    pub opts: Options,
    pub meter: Meter,
    pub td: Tinydocker,
    /// `--baseline`: another tinydocker binary, on a root of its own.
    pub baseline: Option<Tinydocker>,
    pub runc: Option<Oci>,
    pub crun: Option<Oci>,
    /// tinydocker's OCI runtime, built beside it, on a root of its own.
    pub runtime: Oci,
    /// containerd's version, when containerd and ctr are installed.
    pub containerd: Option<String>,
    pub podman: Option<Podman>,
    pub scratch: PathBuf,
    pub import_tar: PathBuf,
    /// The bench's cgroup, below every hierarchy's root (`tdbench-PID`).
    pub cgroup_parent: String,
    /// Peers that are not installed: name and what to install.
    pub missing: Vec<(&'static str, String)>,
    /// The registry of the pull cases (when one runs), or why there is none.
    pub registry: Option<std::result::Result<pull::Served, String>>,
}

impl Bench {
    /// runc, then crun, those installed.
    pub fn oci(&self) -> Vec<&Oci> {
        self.runc.iter().chain(self.crun.iter()).collect()
    }

    pub fn bundle(&self, runtime: &str, variant: Variant) -> PathBuf {
        self.scratch
            .join("bundles")
            .join(format!("{runtime}-{}", variant.name()))
    }

    /// (warm-up rounds, runs) of the cold pulls: a pull of 100 MB takes a
    /// second, and one warm-up puts the registry's blobs in the page cache.
    pub fn pull_rounds(&self) -> (usize, usize) {
        let runs = if self.opts.runs_given {
            self.opts.runs
        } else {
            PULL_RUNS
        };
        (self.opts.warmup.min(1), runs)
    }

    /// "not run" rows for the peers of `case` that are missing.
    pub fn missing_rows(&self, case: Case) -> Vec<Row> {
        self.missing
            .iter()
            .filter(|(name, _)| case.has_peer(name))
            .map(|(name, why)| Row {
                step: None,
                runtime: name,
                label: name.to_string(),
                command: String::new(),
                outcome: Outcome::Missing(why.clone()),
            })
            .collect()
    }
}

/// Runs of the cold pulls without `--runs`.
const PULL_RUNS: usize = 5;

fn require_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the bench creates containers, cgroups and networks: run as root");
    }
    Ok(())
}

pub fn bench(args: &[String]) -> Result<()> {
    let opts = Options::parse(args)?;
    require_root()?;
    let bin = build(true)?;
    let cache = workspace().join("target/xtask");
    let rootfs_dir = cache.join("busybox-rootfs");
    rootfs::busybox(&rootfs_dir)?;
    let rootfs_tar = cache.join("busybox-rootfs.tar");
    rootfs::tarball(&rootfs_dir, &rootfs_tar)?;
    let import_tar = cache.join("import-50m.tar");
    if opts.cases.contains(&Case::Import) {
        rootfs::big_tarball(&import_tar, 50 << 20)?;
    }

    // From here on everything made is registered for removal, and a stop
    // signal ends the run through that cleanup.
    let stop = Interrupt::install()?;
    let exits = match taskstats::ExitStats::open() {
        Ok(exits) => Some(exits),
        Err(e) => {
            println!("peak memory: taskstats unavailable ({e:#}); using wait4's ru_maxrss, which includes the bench's own size");
            None
        }
    };
    let pid = std::process::id();
    let scratch = std::env::temp_dir().join(format!("tinydocker-bench-{pid}"));
    let cgroup_parent = format!("tdbench-{pid}");
    // The steps run last registered first: the runtimes remove their
    // containers, then whatever still runs in the bench's cgroups is killed
    // and the cgroups go, then podman's host directories, then the files.
    let mut teardown = Teardown::default();
    {
        let scratch = scratch.clone();
        teardown.push("remove the scratch directory", move || {
            teardown::remove_tree(&scratch)
        });
    }
    if peers::version("podman").is_some() {
        // Podman's files outside its --root: gone with it if it made them.
        for dir in peers::PODMAN_HOST_DIRS {
            if !Path::new(dir).exists() {
                teardown.push(format!("remove {dir} (made by podman)"), move || {
                    teardown::remove_tree(Path::new(dir))
                });
            }
        }
    }
    {
        let parent = cgroup_parent.clone();
        teardown.push(format!("remove cgroup {parent}"), move || {
            teardown::remove_cgroup_tree(&parent)
        });
    }
    fs::create_dir_all(&scratch)?;

    let mut missing = Vec::new();
    let td = Tinydocker {
        bin: bin.clone(),
        root: scratch.join("tinydocker"),
    };
    fs::create_dir_all(&td.root)?;
    {
        let td = td.clone();
        teardown.push("remove tinydocker's containers and networks", move || {
            td.sweep()
        });
    }
    let baseline = match &opts.baseline {
        Some(bin) => {
            let base = Tinydocker {
                bin: bin.clone(),
                root: scratch.join("tinydocker-baseline"),
            };
            fs::create_dir_all(&base.root)?;
            let sweep = base.clone();
            teardown.push("remove the baseline's containers and networks", move || {
                sweep.sweep()
            });
            Some(base)
        }
        None => None,
    };
    let mut oci = |name: &'static str| -> Option<Oci> {
        let Some(version) = peers::version(name) else {
            missing.push((name, format!("not installed (apt-get install {name})")));
            return None;
        };
        Some(Oci {
            name,
            program: name.into(),
            version,
            root: scratch.join(format!("{name}-state")),
        })
    };
    let runc = oci("runc");
    let crun = oci("crun");
    let runtime_path = runtime_bin(&bin);
    let runtime = Oci {
        name: "tinydocker-runtime",
        version: peers::version(&runtime_path)
            .with_context(|| format!("{} --version", runtime_path.display()))?,
        program: runtime_path,
        root: scratch.join("tinydocker-runtime-state"),
    };
    let containerd = containerd::installed(&mut missing);
    let podman = match peers::version("podman") {
        Some(version) => Some(Podman {
            version,
            dir: scratch.join("podman"),
            runtime: runc.as_ref().map(|_| "runc"),
            cgroup_parent: format!("/{cgroup_parent}/podman"),
        }),
        None => {
            missing.push(("podman", "not installed (apt-get install podman)".into()));
            None
        }
    };
    for rt in runc.iter().chain(crun.iter()).chain([&runtime]) {
        let rt = rt.clone();
        teardown.push(format!("delete {}'s containers", rt.name), move || {
            rt.sweep()
        });
    }
    if let Some(p) = &podman {
        let p = p.clone();
        teardown.push("remove podman's containers and images", move || p.sweep());
    }

    // The pull cases' registry, stopped (and its storage removed) first
    // of all at the end.
    let registry = match opts.cases.iter().any(|c| c.pulls()) {
        false => None,
        true => Some(match pull::missing_tools() {
            Some(why) => Err(why),
            None => {
                let registry = tinydocker_tests::registry::Registry::start();
                let served = pull::Served {
                    addr: registry.addr.clone(),
                    access_log: registry.access_log(),
                };
                teardown.push(format!("stop the registry on {}", served.addr), move || {
                    drop(registry);
                    Ok(())
                });
                Ok(served)
            }
        }),
    };
    let bench = Bench {
        opts,
        meter: Meter { stop, exits },
        td,
        baseline,
        runc,
        crun,
        runtime,
        containerd,
        podman,
        scratch,
        import_tar,
        cgroup_parent,
        missing,
        registry,
    };
    let result = run(&bench, &rootfs_dir, &rootfs_tar);
    let failures = teardown.finish();
    for f in &failures {
        eprintln!("bench: cleanup: {f}");
    }
    let reports = result?;
    let mut left: Vec<String> = reports.iter().flat_map(fleet::left_behind).collect();
    left.extend(failures.iter().map(|f| format!("cleanup: {f}")));
    if let Some(path) = &bench.opts.json {
        let doc = document(&bench, &reports, &left);
        let mut text = serde_json::to_vec_pretty(&doc)?;
        text.push(b'\n');
        fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
        println!("\nresults: {}", path.display());
    }
    if !left.is_empty() {
        bail!("left behind:\n  {}", left.join("\n  "));
    }
    Ok(())
}

/// Set up, then run the cases; the tables as they finish.
fn run(bench: &Bench, rootfs_dir: &Path, rootfs_tar: &Path) -> Result<Vec<CaseReport>> {
    let meter = &bench.meter;
    println!(
        "tinydocker bench: {} runs per runtime after {} warm-up rounds, fleet of {}",
        bench.opts.runs, bench.opts.warmup, bench.opts.fleet
    );
    println!(
        "wall time: until the runtime's process exits; cpu: user+sys of its whole process tree (orphans it leaves included); peak RSS: {}",
        meter.rss_source()
    );
    for (name, why) in &bench.missing {
        println!("{name}: {why}: its rows are not run");
    }
    if bench.podman.is_some() && bench.runc.is_none() {
        println!("podman: without runc it uses its default runtime, and crun refuses hybrid cgroup hosts (apt-get install runc)");
    }
    // How much of its binary a process maps (VmRSS) depends on the sizes
    // of the page-cache folios holding the file, and those on how it got
    // there: a file just written by `cp` comes in larger ones than one the
    // kernel read back in. Each binary is read back in afresh, as after a
    // reboot, so both sides of a comparison start alike.
    for bin in [&bench.td.bin, &bench.runtime.program]
        .into_iter()
        .chain(bench.baseline.iter().map(|b| &b.bin))
    {
        drop_from_page_cache(bin)?;
    }
    measure(
        bench.td.cmd(&["import"]).arg(rootfs_tar).arg("busybox"),
        Tree::Whole,
        meter,
    )
    .context("tinydocker import")?;
    if let Some(base) = &bench.baseline {
        measure(
            base.cmd(&["import"]).arg(rootfs_tar).arg("busybox"),
            Tree::Whole,
            meter,
        )
        .context("baseline tinydocker import")?;
    }
    // One template for every bundle: runc's default spec (crun's, or
    // tinydocker-runtime's when neither is installed).
    let oci = bench.oci();
    let first = oci.first().copied().unwrap_or(&bench.runtime);
    let template = peers::default_spec(first, &bench.scratch)?;
    for rt in oci.iter().copied().chain([&bench.runtime]) {
        // tinydocker-runtime only runs `true` (case 7).
        let variants: &[Variant] = match rt.name {
            "tinydocker-runtime" => &[Variant::True],
            _ => &[Variant::True, Variant::Limits, Variant::Sleep],
        };
        for &variant in variants {
            let (args, limits) = variant.spec();
            let spec = peers::BundleSpec {
                args,
                limits,
                cgroup: format!("/{}/{}-{}", bench.cgroup_parent, rt.name, variant.name()),
            };
            peers::write_bundle(
                &template,
                &bench.bundle(rt.name, variant),
                rootfs_dir,
                &spec,
            )?;
        }
    }
    if let Some(p) = &bench.podman {
        measure(
            p.cmd(&["import", "--quiet"])
                .arg(rootfs_tar)
                .arg(peers::PODMAN_IMAGE),
            Tree::Whole,
            meter,
        )
        .context("podman import of the busybox rootfs")?;
    }
    let images = match &bench.registry {
        Some(Ok(served)) => Some(pull::build_images(bench, served)?),
        _ => None,
    };
    // Start from a quiet disk: the build just wrote a lot, and its
    // writeback would compete with the first runs.
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };

    let mut reports = Vec::new();
    for case in &bench.opts.cases {
        meter.stop.check()?;
        let report = match case {
            Case::RunNone | Case::RunLimits => cases::run_to_exit(bench, *case)?,
            Case::RunBridge => cases::run_bridge(bench)?,
            Case::Exec => cases::exec(bench)?,
            Case::Fleet => fleet::fleet(bench)?,
            Case::Import => cases::import(bench)?,
            Case::OciLifecycle => oci::lifecycle(bench)?,
            Case::CtrRun => containerd::ctr_run(bench, rootfs_dir)?,
            Case::ApiRun => api::api_run(bench)?,
            Case::ApiPs => api::api_ps(bench)?,
            Case::PullCold | Case::PullWarm | Case::Unpack => match (&images, &bench.registry) {
                (Some(images), _) => match case {
                    Case::PullCold => pull::pull_cold(bench, images)?,
                    Case::PullWarm => pull::pull_warm(bench, images)?,
                    _ => pull::unpack(bench, images, &reports)?,
                },
                (None, Some(Err(why))) => pull::not_run(*case, why),
                (None, _) => unreachable!("a pull case without its registry"),
            },
        };
        report.print();
        reports.push(report);
    }
    let targets = targets(bench, &reports);
    println!();
    println!("targets (informational, never asserted)");
    let table: Vec<Vec<String>> = targets
        .iter()
        .map(|t| {
            vec![
                t.what.clone(),
                t.figure.clone(),
                match t.met {
                    Some(true) => "met".into(),
                    Some(false) => "MISSED".into(),
                    None => "not measured".into(),
                },
            ]
        })
        .collect();
    print_plain(&["target", "measured", ""], &table);
    Ok(reports)
}

fn print_plain(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (c, w) in cells.iter().zip(&widths) {
            out.push_str(c);
            out.push_str(&" ".repeat(w - c.chars().count() + 2));
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

pub struct Target {
    pub what: String,
    pub figure: String,
    pub met: Option<bool>,
}

fn find(reports: &[CaseReport], case: Case) -> Option<&CaseReport> {
    reports.iter().find(|r| r.name == case.name())
}

/// The median of `label`'s row in `case` (its `step`, for the fleet).
fn median_of(reports: &[CaseReport], case: Case, label: &str, step: Option<&str>) -> Option<f64> {
    find(reports, case)?
        .rows
        .iter()
        .find(|r| r.runtime == label && r.step.as_deref() == step && r.label.starts_with(label))
        .and_then(|r| r.stats())
        .map(|s| s.median_ms)
}

/// Drop a file's pages from the page cache (`POSIX_FADV_DONTNEED`): the
/// next reader reads it in again. Nothing else changes.
fn drop_from_page_cache(path: &Path) -> Result<()> {
    let file = fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    // Dirty pages (a file just written) would stay: written back first.
    file.sync_data()
        .with_context(|| format!("fsync {}", path.display()))?;
    // SAFETY: an advice on an open fd; no memory is passed.
    let rc = unsafe {
        libc::posix_fadvise(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            0,
            0,
            libc::POSIX_FADV_DONTNEED,
        )
    };
    if rc != 0 {
        bail!(
            "posix_fadvise {}: {}",
            path.display(),
            std::io::Error::from_raw_os_error(rc)
        );
    }
    Ok(())
}

/// `ours` / `peer`, medians of `case`, against `limit`.
fn ratio_target(
    reports: &[CaseReport],
    what: &str,
    case: Case,
    ours: &str,
    peer: &str,
    limit: f64,
) -> Target {
    let td = median_of(reports, case, ours, None);
    let other = median_of(reports, case, peer, None);
    match (td, other) {
        (Some(t), Some(p)) => Target {
            what: what.into(),
            figure: format!("{t:.2} ms / {p:.2} ms = {:.3}", t / p),
            met: Some(t / p <= limit),
        },
        _ => Target {
            what: what.into(),
            figure: String::new(),
            met: None,
        },
    }
}

/// The issues' targets for this machine, from this run's figures.
fn targets(bench: &Bench, reports: &[CaseReport]) -> Vec<Target> {
    let mut out = Vec::new();
    let mut ratio = |what: &str, case: Case, ours: &str, peer: &str, limit: f64| {
        out.push(ratio_target(reports, what, case, ours, peer, limit));
    };
    ratio(
        "case 1: tinydocker <= 0.3 x runc (medians)",
        Case::RunNone,
        "tinydocker",
        "runc",
        0.3,
    );
    ratio(
        "case 2: tinydocker <= 0.05 x podman (medians)",
        Case::RunBridge,
        "tinydocker",
        "podman",
        0.05,
    );
    ratio(
        "case 4: tinydocker exec <= 0.5 x runc exec (medians)",
        Case::Exec,
        "tinydocker",
        "runc",
        0.5,
    );
    if bench.baseline.is_some() {
        let new = median_of(reports, Case::RunNone, "tinydocker", None);
        let old = median_of(reports, Case::RunNone, "baseline", None);
        out.push(match (new, old) {
            (Some(n), Some(o)) => Target {
                what: "case 1: tinydocker <= baseline + 0.3 ms (medians)".into(),
                figure: format!("{n:.2} ms vs {o:.2} ms: {:+.2} ms", n - o),
                met: Some(n - o <= 0.3),
            },
            _ => Target {
                what: "case 1: tinydocker <= baseline + 0.3 ms (medians)".into(),
                figure: String::new(),
                met: None,
            },
        });
    }
    let limit = |what: &str, value: Option<f64>, unit: &str, max: f64| Target {
        what: what.into(),
        figure: value.map_or(String::new(), |v| format!("{v:.2} {unit}")),
        met: value.map(|v| v <= max),
    };
    out.push(limit(
        "case 4: exec true, median <= 5 ms",
        median_of(reports, Case::Exec, "tinydocker", None),
        "ms",
        5.0,
    ));
    let peak = reports
        .iter()
        .filter(|r| !Case::parse(r.name).is_ok_and(Case::pulls))
        .flat_map(|r| r.rows.iter())
        .filter(|r| r.runtime == "tinydocker")
        .filter_map(|r| r.stats())
        .filter_map(|s| s.peak_rss_kib)
        .max();
    out.push(limit(
        "peak RSS of the tinydocker process <= 8 MiB, every case but the pulls",
        peak.map(|k| k as f64 / 1024.0),
        "MiB",
        8.0,
    ));
    let fleet = find(reports, Case::Fleet);
    let supervisor = fleet
        .and_then(|f| f.extra["tinydocker"]["keeper_rss_kib"]["max"].as_i64())
        .filter(|k| *k > 0);
    out.push(limit(
        "case 5: every supervisor's RSS <= 2 MiB",
        supervisor.map(|k| k as f64 / 1024.0),
        "MiB (max)",
        2.0,
    ));
    out.push(limit(
        &format!(
            "case 5: ps over {} containers, median <= 50 ms",
            bench.opts.fleet
        ),
        median_of(reports, Case::Fleet, "tinydocker", Some("ps")),
        "ms",
        50.0,
    ));
    out.push(Target {
        what: "case 5: all start; stop + rm leave nothing".into(),
        figure: fleet.map_or(String::new(), |f| {
            let left = fleet::left_behind(f);
            match left.is_empty() {
                true => format!(
                    "{} started, nothing left",
                    f.extra["tinydocker"]["containers"]
                ),
                false => format!("{} things left behind (listed below)", left.len()),
            }
        }),
        met: fleet.map(|f| {
            fleet::left_behind(f).is_empty()
                && f.extra["tinydocker"]["containers"].as_u64() == Some(bench.opts.fleet as u64)
        }),
    });
    // Case 7: tinydocker-runtime, the OCI runtime.
    out.push(ratio_target(
        reports,
        "case 7: tinydocker-runtime create+start+delete <= 0.2 x runc (medians)",
        Case::OciLifecycle,
        "tinydocker-runtime",
        "runc",
        0.2,
    ));
    let runtime_peak = find(reports, Case::OciLifecycle)
        .and_then(|r| r.rows.iter().find(|r| r.runtime == "tinydocker-runtime"))
        .and_then(|r| r.stats())
        .and_then(|s| s.peak_rss_kib);
    out.push(limit(
        "case 7: peak RSS of tinydocker-runtime (create, start, delete) <= 8 MiB",
        runtime_peak.map(|k| k as f64 / 1024.0),
        "MiB",
        8.0,
    ));
    // Cases 9 and 10: pulls.
    out.push(ratio_target(
        reports,
        "case 9: tinydocker cold pull <= 0.5 x podman (medians)",
        Case::PullCold,
        "tinydocker",
        "podman",
        0.5,
    ));
    let pull_peak = find(reports, Case::PullCold)
        .and_then(|r| r.rows.iter().find(|r| r.runtime == "tinydocker"))
        .and_then(|r| r.stats())
        .and_then(|s| s.peak_rss_kib);
    out.push(limit(
        "case 9: peak RSS of tinydocker's cold pull <= 32 MiB",
        pull_peak.map(|k| k as f64 / 1024.0),
        "MiB",
        32.0,
    ));
    out.push(limit(
        "case 10: pull of an image in the store, median <= 20 ms",
        median_of(reports, Case::PullWarm, "tinydocker", None),
        "ms",
        20.0,
    ));
    let requests = find(reports, Case::PullWarm)
        .map(|r| &r.extra["requests"]["tinydocker"])
        .filter(|r| r.is_object());
    out.push(Target {
        what: "case 10: pull of an image in the store, one manifest request and nothing else (but the /v2/ check)".into(),
        figure: requests.map_or(String::new(), |r| {
            format!(
                "{} requests: {}",
                r["requests"],
                r["list"].as_str().unwrap_or_default()
            )
        }),
        met: requests.map(|r| {
            r["manifest_requests"] == 1
                && r["requests"].as_u64() == r["pings"].as_u64().map(|p| p + 1)
        }),
    });
    // Cases 12 and 13: docker's client through the Engine API.
    out.push(ratio_target(
        reports,
        "case 12: docker run --rm busybox true through tinydocker's service <= 0.2 x dockerd (medians)",
        Case::ApiRun,
        "tinydocker",
        "dockerd",
        0.2,
    ));
    let ps = median_of(reports, Case::ApiPs, "tinydocker", None);
    let bare = median_of(reports, Case::ApiPs, "docker", None);
    out.push(Target {
        what: "case 13: docker ps with 20 containers through tinydocker's service <= the bare client + 10 ms (medians)".into(),
        figure: match (ps, bare) {
            (Some(p), Some(b)) => format!("{p:.2} ms vs {b:.2} ms: {:+.2} ms", p - b),
            _ => String::new(),
        },
        met: ps.zip(bare).map(|(p, b)| p - b <= 10.0),
    });
    let idle = find(reports, Case::ApiRun)
        .and_then(|r| r.extra["service_rss_kib"]["idle"].as_u64())
        .map(|k| k as f64 / 1024.0);
    out.push(limit(
        "case 12: the idle tinydocker service resident <= 10 MiB",
        idle,
        "MiB",
        10.0,
    ));
    out
}

fn targets_json(bench: &Bench, reports: &[CaseReport]) -> Value {
    targets(bench, reports)
        .into_iter()
        .map(|t| json!({ "target": t.what, "measured": t.figure, "met": t.met }))
        .collect()
}

/// The whole run as JSON.
fn document(bench: &Bench, reports: &[CaseReport], left: &[String]) -> Value {
    let mut runtimes = serde_json::Map::new();
    runtimes.insert(
        "tinydocker".into(),
        json!({ "commit": git_commit(), "binary": bench.td.bin }),
    );
    if let Some(base) = &bench.baseline {
        runtimes.insert("baseline".into(), json!({ "binary": base.bin }));
    }
    runtimes.insert(
        "tinydocker-runtime".into(),
        json!({ "version": bench.runtime.version, "binary": bench.runtime.program }),
    );
    for oci in bench.oci() {
        runtimes.insert(oci.name.into(), json!({ "version": oci.version }));
    }
    if let Some(version) = &bench.containerd {
        runtimes.insert("containerd".into(), json!({ "version": version }));
    }
    if let Some(p) = &bench.podman {
        runtimes.insert(
            "podman".into(),
            json!({ "version": p.version, "runtime": p.runtime }),
        );
    }
    json!({
        "date": utc_now(),
        "machine": {
            "kernel": fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "cgroups": cgroup_layout(),
        },
        "options": {
            "cases": bench.opts.cases.iter().map(|c| c.name()).collect::<Vec<_>>(),
            "runs": bench.opts.runs,
            "warmup": bench.opts.warmup,
            "fleet": bench.opts.fleet,
        },
        "runtimes": runtimes,
        "peak_rss_source": bench.meter.rss_source(),
        "missing": bench.missing.iter().map(|(n, why)| json!({ "runtime": n, "why": why })).collect::<Vec<_>>(),
        "cases": reports.iter().map(CaseReport::json).collect::<Vec<_>>(),
        "targets": targets_json(bench, reports),
        "left_behind": left,
    })
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(workspace())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// v2 (unified at /sys/fs/cgroup), hybrid (v1 controllers and a cgroup2
/// mount) or v1.
fn cgroup_layout() -> &'static str {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let fstypes: Vec<(&str, &str)> = info
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            Some((left.split(' ').nth(4)?, right.split(' ').next()?))
        })
        .collect();
    let v2_root = fstypes
        .iter()
        .any(|(m, t)| *t == "cgroup2" && *m == "/sys/fs/cgroup");
    let v2 = fstypes.iter().any(|(_, t)| *t == "cgroup2");
    let v1 = fstypes.iter().any(|(_, t)| *t == "cgroup");
    match (v2_root, v1, v2) {
        (true, _, _) => "v2",
        (false, true, true) => "hybrid",
        _ => "v1",
    }
}

/// Now as "YYYY-MM-DDTHH:MM:SSZ".
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = Options::parse(&args(&[])).unwrap();
        assert_eq!((o.runs, o.fleet, o.cases.len()), (20, 100, 13));
        assert!(!o.runs_given);
        let o = Options::parse(&args(&["--skip", "ctr-run,7", "--skip", "1"])).unwrap();
        assert_eq!(o.cases.len(), 10);
        assert!(!o.cases.contains(&Case::OciLifecycle) && !o.cases.contains(&Case::RunNone));
        assert!(Options::parse(&args(&["--case", "7", "--skip", "oci-lifecycle"])).is_err());
        let o = Options::parse(&args(&[
            "--case", "exec,1", "--case", "fleet", "--case", "4", "--runs", "2", "--fleet", "5",
            "--json", "x.json",
        ]))
        .unwrap();
        assert_eq!(o.cases, vec![Case::Exec, Case::RunNone, Case::Fleet]);
        assert_eq!((o.runs, o.fleet), (2, 5));
        assert!(o.runs_given);
        assert_eq!(o.json, Some(PathBuf::from("x.json")));
        assert!(Options::parse(&args(&["--case", "nope"])).is_err());
        assert!(Options::parse(&args(&["--runs", "0"])).is_err());
        assert!(Options::parse(&args(&["--bogus"])).is_err());
    }

    #[test]
    fn case_numbers_follow_the_issue() {
        assert_eq!(Case::parse("5").unwrap(), Case::Fleet);
        assert_eq!(Case::Import.number(), 6);
        assert_eq!(Case::RunNone.number(), 1);
        assert_eq!(Case::parse("oci-lifecycle").unwrap().number(), 7);
        assert_eq!(Case::parse("8").unwrap(), Case::CtrRun);
        assert_eq!(Case::parse("9").unwrap(), Case::PullCold);
        assert_eq!(Case::PullWarm.number(), 10);
        assert_eq!(Case::parse("unpack").unwrap().number(), 11);
        assert_eq!(Case::parse("api-run").unwrap().number(), 12);
        assert_eq!(Case::parse("13").unwrap(), Case::ApiPs);
    }
}
