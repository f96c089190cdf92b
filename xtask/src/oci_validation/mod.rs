//! `cargo xtask oci-validation [--runtime PATH] [--test NAME]... [--json FILE] [--keep-going]`:
//! the OCI runtime-tools validation suite (opencontainers/runtime-tools at
//! 260e151, vendored in `third_party/`) against tinydocker-runtime, and a
//! failure on anything not in `expected.txt` (see `expected.rs`).
//!
//! 1. The tarball is unpacked into `target/xtask/runtime-tools` and built
//!    with Go (`make runtimetest validation-executables`, vendored modules,
//!    no network, `GOCACHE=target/xtask/go-cache`), once per tarball: a
//!    stamp holds the sha256 it was built from.
//! 2. Each `validation/NAME/NAME.t` runs alone (they share fixed cgroup
//!    names), sorted, with the suite as its cwd (it reads `./runtimetest`
//!    and `./rootfs-amd64.tar.gz`), `RUNTIME=<absolute path>`, a fresh
//!    0755 `TMPDIR` (bundles are `os.MkdirTemp("", "ocitest")`, and
//!    `linux_uid_mappings` maps root to uid 1000, which must reach them),
//!    stdin from /dev/null, in a process group of its own that is killed
//!    after 60 s (and after the test, for stragglers).
//! 3. Its stdout is TAP (`tap.rs`), stdout and stderr are kept in
//!    `target/xtask/oci-validation/NAME.{tap,err}`; what it left behind
//!    is removed and reported (`leftovers.rs`).
//! 4. Every failure (a `not ok`, a verdict on the binary, a leftover) is
//!    looked up in `expected.txt`: one that is not there fails the command;
//!    an entry that matched nothing is reported as now passing.
//!
//! The table and totals are those of the prototype (/work/rt/run-suite.sh),
//! so its numbers for runc compare with these.

mod expected;
mod leftovers;
mod tap;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::workspace;
use expected::Entry;
use tap::{Outcome, Tap};

/// The vendored suite.
const TARBALL: &str = "third_party/runtime-tools-260e151.tar.gz";
const COMMIT: &str = "260e151";
/// Per test binary.
const TIMEOUT: Duration = Duration::from_secs(60);
/// After SIGTERM at the timeout, before SIGKILL (as `timeout -k 10`).
const KILL_AFTER: Duration = Duration::from_secs(10);
/// The list of known failures, beside this file.
const EXPECTED: &str = "xtask/src/oci_validation/expected.txt";
/// Host-wide changes seen during a test but not attributed to it.
const UNATTRIBUTED: &str = "target/xtask/oci-validation/unattributed.txt";

/// println! that ignores a closed stdout (`| head`): the run goes on and
/// still cleans up after itself.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

const USAGE: &str = "usage: cargo xtask oci-validation [--runtime PATH] [--test NAME]... [--json FILE] [--keep-going]

Run the OCI runtime-tools validation suite (third_party/runtime-tools-260e151.tar.gz,
built with Go under target/xtask/) against tinydocker-runtime, as root, and fail on
any failure not listed in xtask/src/oci_validation/expected.txt.

  --runtime PATH   the runtime to test (default: build the release tinydocker-runtime)
  --test NAME      run only this test (validation/NAME/NAME.t); repeatable
  --json FILE      write the totals and per-test counts as JSON
  --keep-going     run every test even after one fails unexpectedly

TAP and stderr of each test: target/xtask/oci-validation/NAME.{tap,err};
every failure with its diagnostics: target/xtask/oci-validation/failures.txt.";

struct Options {
    runtime: Option<PathBuf>,
    tests: Vec<String>,
    json: Option<PathBuf>,
    keep_going: bool,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut opts = Options {
        runtime: None,
        tests: Vec::new(),
        json: None,
        keep_going: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--runtime" => opts.runtime = Some(PathBuf::from(value("--runtime")?)),
            "--test" => opts.tests.push(value("--test")?),
            "--json" => opts.json = Some(PathBuf::from(value("--json")?)),
            "--keep-going" | "-k" => opts.keep_going = true,
            "-h" | "--help" => {
                say!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    Ok(opts)
}

/// How a test binary ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Exit {
    Code(i32),
    Signal(i32),
    Timeout,
}

impl Exit {
    fn ok(self) -> bool {
        self == Exit::Code(0)
    }

    /// The prototype's RC column (timeout: 124, as `timeout` exits).
    fn rc(self) -> String {
        match self {
            Exit::Code(c) => c.to_string(),
            Exit::Signal(s) => format!("sig{s}"),
            Exit::Timeout => "124".into(),
        }
    }
}

/// One failure of a test, and the expected.txt entry that covers it.
struct Failure {
    description: String,
    details: Vec<String>,
    expected: Option<usize>,
}

struct TestRun {
    name: String,
    tap: Tap,
    exit: Exit,
    secs: f64,
    stdout_empty: bool,
    stderr: String,
    failures: Vec<Failure>,
    /// What was found and done about leftovers, for the report.
    leftover_details: Vec<String>,
    notes: Vec<String>,
    /// Processes of its group were left when it exited (killed).
    stragglers: bool,
    dirty: Vec<String>,
}

impl TestRun {
    fn total(&self) -> usize {
        self.tap.assertions.len()
    }

    fn unexpected(&self) -> usize {
        self.failures
            .iter()
            .filter(|f| f.expected.is_none())
            .count()
    }

    /// The prototype's NOTE column, plus LEFTOVERS and UNEXPECTED.
    fn note(&self) -> String {
        let mut notes: Vec<String> = Vec::new();
        if self.exit == Exit::Timeout {
            notes.push("TIMEOUT".into());
        }
        match self.tap.plan {
            None => notes.push("NO_PLAN".into()),
            Some(p) if p as usize != self.total() => {
                notes.push(format!("PLAN_MISMATCH({}/{p})", self.total()))
            }
            Some(_) => {}
        }
        if !self.exit.ok() && notes.is_empty() {
            notes.push(format!("EXIT_{}", self.exit.rc()));
        }
        if self.total() == 0 && self.tap.orphan_errors().next().is_some() {
            notes.push("NO_ASSERTIONS_BUT_ERROR".into());
        }
        if !self.stderr.is_empty() {
            notes.push("stderr".into());
        }
        if !self.leftover_details.is_empty() {
            notes.push("LEFTOVERS".into());
        }
        if self.stragglers {
            notes.push("STRAGGLERS_KILLED".into());
        }
        let unexpected = self.unexpected();
        if unexpected > 0 {
            notes.push(format!("UNEXPECTED={unexpected}"));
        }
        notes.join(",")
    }

    fn row(&self) -> String {
        format!(
            "{:<40} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>7.1}  {}",
            self.name,
            self.tap.count(Outcome::Pass),
            self.tap.count(Outcome::Fail),
            self.tap.count(Outcome::Skip),
            self.tap.count(Outcome::Todo),
            self.tap.plan.map_or("-".to_string(), |p| p.to_string()),
            self.exit.rc(),
            self.secs,
            self.note()
        )
    }
}

fn header() -> String {
    format!(
        "{:<40} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>7}  NOTE",
        "TEST", "PASS", "FAIL", "SKIP", "TODO", "PLAN", "RC", "SECS"
    )
}

/// Set by SIGINT/SIGTERM while the tests run: stop, clean up, report.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

pub fn oci_validation(args: &[String]) -> Result<()> {
    let opts = parse_args(args)?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the validation tests create containers, cgroups and mounts: run as root");
    }
    let out_dir = workspace().join("target/xtask/oci-validation");
    fs::create_dir_all(&out_dir)?;
    let _lock = lock(&out_dir.join(".lock"))?;

    let runtime = match &opts.runtime {
        Some(path) => resolve(path)?,
        None => crate::runtime_bin(&crate::build(true)?),
    };
    let suite = prepare_suite()?;

    let all = test_names(&suite)?;
    let selected: Vec<String> = if opts.tests.is_empty() {
        all.iter().cloned().collect()
    } else {
        let mut sel = Vec::new();
        for t in &opts.tests {
            let name = Path::new(t)
                .file_name()
                .map(|n| n.to_string_lossy().trim_end_matches(".t").to_string())
                .unwrap_or_default();
            if !all.contains(&name) {
                bail!(
                    "no validation test {t:?}; there are: {}",
                    all.iter().cloned().collect::<Vec<_>>().join(" ")
                );
            }
            if !sel.contains(&name) {
                sel.push(name);
            }
        }
        sel.sort();
        sel
    };
    let expected_path = workspace().join(EXPECTED);
    let expected_text = fs::read_to_string(&expected_path)
        .with_context(|| format!("read {}", expected_path.display()))?;
    let entries = expected::parse(&expected_text, &all)
        .with_context(|| format!("{}", expected_path.display()))?;

    for stale in ["tap", "err"] {
        for entry in fs::read_dir(&out_dir)?.flatten() {
            if entry.path().extension().is_some_and(|e| e == stale) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let run_tmp = private_tmp()?;

    // SAFETY: on_signal only stores to an atomic, which is async-signal-safe.
    let previous = unsafe {
        [
            libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t),
            libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t),
        ]
    };

    say!("RUNTIME={}", runtime.display());
    say!("{}", header());
    let started = Instant::now();
    let mut runs: Vec<TestRun> = Vec::new();
    let mut stopped_early = false;
    // An error of the harness itself (not of a test): reported after the
    // cleanup below.
    let mut harness_error = None;
    for name in &selected {
        let run = match run_test(&suite, &runtime, name, &run_tmp, &out_dir, &entries) {
            Ok(run) => run,
            Err(e) => {
                harness_error = Some(e.context(format!("running {name}")));
                break;
            }
        };
        say!("{}", run.row());
        let _ = std::io::stdout().flush();
        let failed = run.unexpected() > 0 || !run.dirty.is_empty();
        runs.push(run);
        if INTERRUPTED.load(Ordering::SeqCst) {
            break;
        }
        if failed && !opts.keep_going && runs.len() < selected.len() {
            stopped_early = true;
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // SAFETY: restores the dispositions returned by signal(2) above.
    unsafe {
        libc::signal(libc::SIGINT, previous[0]);
        libc::signal(libc::SIGTERM, previous[1]);
    }
    let mut dirty: Vec<String> = runs.iter().flat_map(|r| r.dirty.clone()).collect();
    if leftovers::mounts_under(&run_tmp).is_empty() {
        let _ = fs::remove_dir_all(&run_tmp);
    } else {
        dirty.push(format!(
            "mounts remain under {}: not removed",
            run_tmp.display()
        ));
    }

    let report = report(&runs, &entries, &runtime, elapsed, &dirty);
    let _ = write!(std::io::stdout(), "{}", report.text);
    fs::write(out_dir.join("summary.txt"), &report.summary)?;
    fs::write(out_dir.join("failures.txt"), failures_file(&runs, &entries))?;
    let notes: String = runs
        .iter()
        .flat_map(|r| r.notes.iter().map(move |n| format!("{}: {n}\n", r.name)))
        .collect();
    fs::write(out_dir.join("unattributed.txt"), notes)?;
    if let Some(path) = &opts.json {
        let doc = json_report(&runs, &entries, &runtime, elapsed, &report, &dirty);
        fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("write {}", path.display()))?;
    }
    say!("details: {} (TAP, stderr, failures.txt)", out_dir.display());

    if let Some(e) = harness_error {
        return Err(e);
    }
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!(
            "interrupted after {} of {} tests",
            runs.len(),
            selected.len()
        );
    }
    if report.unexpected > 0 {
        bail!(
            "{} unexpected failure(s){}",
            report.unexpected,
            if stopped_early {
                format!(
                    "; stopped after {} of {} tests (--keep-going runs them all)",
                    runs.len(),
                    selected.len()
                )
            } else {
                String::new()
            }
        );
    }
    if !dirty.is_empty() {
        bail!("the host is not clean: {}", dirty.join("; "));
    }
    say!(
        "oci-validation: OK, {} tests, no unexpected failures",
        runs.len()
    );
    Ok(())
}

/// Only one run at a time: the tests share fixed cgroup names.
fn lock(path: &Path) -> Result<fs::File> {
    use std::os::fd::AsRawFd;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    // SAFETY: flock on an open descriptor that the File keeps alive.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        bail!(
            "another oci-validation run holds {} (the tests share cgroup names: one at a time)",
            path.display()
        );
    }
    Ok(file)
}

/// An absolute path to the runtime (the tests `exec.LookPath` it after
/// changing directory): a path, or a name looked up in PATH.
fn resolve(runtime: &Path) -> Result<PathBuf> {
    let found = if runtime.components().count() > 1 || runtime.is_absolute() {
        Some(runtime.to_path_buf())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(runtime))
                .find(|p| p.is_file())
        })
    };
    let path = found
        .and_then(|p| fs::canonicalize(p).ok())
        .with_context(|| format!("runtime not found: {}", runtime.display()))?;
    let mode = fs::metadata(&path)?.permissions().mode();
    if !path.is_file() || mode & 0o111 == 0 {
        bail!("runtime not executable: {}", path.display());
    }
    Ok(path)
}

/// Unpack and build the suite unless the stamp says this tarball is built.
fn prepare_suite() -> Result<PathBuf> {
    let tarball = workspace().join(TARBALL);
    let xtask_dir = workspace().join("target/xtask");
    let dir = xtask_dir.join("runtime-tools");
    let stamp = dir.join(".xtask-built");
    let sha = sha256(&tarball)?;
    let built = fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == sha);
    if built && dir.join("runtimetest").is_file() {
        say!("runtime-tools {COMMIT}: built already ({})", dir.display());
        return Ok(dir);
    }
    for (tool, arg) in [("go", "version"), ("make", "--version")] {
        let ok = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!(
                "`{tool}` is needed to build the validation suite: apt-get install golang-go make"
            );
        }
    }
    let started = Instant::now();
    say!(
        "runtime-tools {COMMIT}: unpacking and building with Go in {} ...",
        dir.display()
    );
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    fs::create_dir_all(&dir)?;
    crate::run(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&dir)
            .arg("--strip-components=1"),
    )?;
    let cache = xtask_dir.join("go-cache");
    let log_path = xtask_dir.join("runtime-tools-build.log");
    let log = fs::File::create(&log_path)?;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut cmd = Command::new("make");
    cmd.current_dir(&dir)
        .arg(format!("-j{jobs}"))
        .args(["runtimetest", "validation-executables"])
        // Not `git describe`, which would describe this repository.
        .arg(format!("COMMIT={COMMIT}"))
        .env("CGO_ENABLED", "0")
        // -buildvcs=false: the suite sits inside this repository's work
        // tree, whose VCS state Go would otherwise try to stamp in.
        .env("GOFLAGS", "-mod=vendor -buildvcs=false")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", &cache)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if std::env::var_os("HOME").is_none() {
        cmd.env("HOME", xtask_dir.join("go-home"));
    }
    let status = cmd.status().context("start make")?;
    if !status.success() {
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
        bail!(
            "building runtime-tools failed ({status}); log: {}",
            log_path.display()
        );
    }
    fs::write(&stamp, format!("{sha}\n"))?;
    say!(
        "runtime-tools {COMMIT}: built in {:.1} s (log: {})",
        started.elapsed().as_secs_f64(),
        log_path.display()
    );
    Ok(dir)
}

fn sha256(path: &Path) -> Result<String> {
    let out = Command::new("sha256sum")
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .context("start sha256sum")?;
    if !out.status.success() {
        bail!("sha256sum {} failed", path.display());
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .map(String::from)
        .context("sha256sum printed nothing")
}

/// Every `validation/NAME/NAME.t` that is executable.
fn test_names(suite: &Path) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for entry in fs::read_dir(suite.join("validation"))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let exe = entry.path().join(format!("{name}.t"));
        if fs::metadata(&exe).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0) {
            names.insert(name);
        }
    }
    if names.is_empty() {
        bail!("no test executables under {}/validation", suite.display());
    }
    Ok(names)
}

/// A fresh 0755 directory under /tmp for the run's TMPDIRs.
fn private_tmp() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    for attempt in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = base.join(format!(
            "tinydocker-oci-validation.{}.{:x}",
            std::process::id(),
            nanos ^ attempt
        ));
        match fs::create_dir(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("create {}", dir.display())),
        }
    }
    bail!("could not create a private directory in {}", base.display())
}

fn run_test(
    suite: &Path,
    runtime: &Path,
    name: &str,
    run_tmp: &Path,
    out_dir: &Path,
    entries: &[Entry],
) -> Result<TestRun> {
    let tmp = run_tmp.join(name);
    fs::create_dir(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))?;
    let tap_path = out_dir.join(format!("{name}.tap"));
    let err_path = out_dir.join(format!("{name}.err"));

    let before = leftovers::snapshot(runtime);
    let started = Instant::now();
    let mut child = Command::new(
        suite
            .join("validation")
            .join(name)
            .join(format!("{name}.t")),
    )
    .current_dir(suite)
    .env("RUNTIME", runtime)
    .env("TMPDIR", &tmp)
    .stdin(Stdio::null())
    .stdout(fs::File::create(&tap_path)?)
    .stderr(fs::File::create(&err_path)?)
    .process_group(0)
    .spawn()
    .with_context(|| format!("start {name}.t"))?;
    let pgid = child.id() as libc::pid_t;
    let kill_group = |sig| {
        // SAFETY: kill(2) on our child's process group; at worst ESRCH.
        unsafe { libc::kill(-pgid, sig) }
    };
    let mut timed_out = false;
    let mut term_sent: Option<Instant> = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let now = Instant::now();
        let interrupted = INTERRUPTED.load(Ordering::SeqCst);
        match term_sent {
            None if interrupted || now.duration_since(started) >= TIMEOUT => {
                timed_out = !interrupted;
                kill_group(libc::SIGTERM);
                term_sent = Some(now);
            }
            Some(at) if interrupted || now.duration_since(at) >= KILL_AFTER => {
                kill_group(libc::SIGKILL);
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let secs = started.elapsed().as_secs_f64();
    // Stragglers of the test (a runtime call it did not wait for, or
    // zombies about to be reaped): killed, noted in the table.
    let stragglers = kill_group(0) == 0;
    if stragglers {
        kill_group(libc::SIGKILL);
    }
    let exit = if timed_out {
        Exit::Timeout
    } else if let Some(code) = status.code() {
        Exit::Code(code)
    } else {
        Exit::Signal(status.signal().unwrap_or(0))
    };

    let found = leftovers::check_and_clean(runtime, &before, &tmp);
    if leftovers::mounts_under(&tmp).is_empty() {
        let _ = fs::remove_dir(&tmp);
    }

    let stdout = fs::read_to_string(&tap_path).unwrap_or_default();
    let stderr = fs::read_to_string(&err_path).unwrap_or_default();
    let tap = tap::parse(&stdout);
    let stderr_lines: Vec<String> = stderr
        .lines()
        .take(12)
        .map(|l| format!("stderr: {l}"))
        .collect();

    // An assertion without diagnostics ("not ok 1 - exit status 1") is
    // explained, if at all, by the test's stderr (the runtime's message).
    let mut failures: Vec<Failure> = tap
        .failures()
        .map(|a| Failure {
            description: a.description.clone(),
            details: if a.diagnostics.is_empty() {
                stderr_lines.clone()
            } else {
                a.diagnostics.clone()
            },
            expected: None,
        })
        .collect();
    let verdict = match exit {
        Exit::Timeout => Some(format!("[timeout after {}s]", TIMEOUT.as_secs())),
        Exit::Signal(s) => Some(format!("[killed by signal {s}]")),
        Exit::Code(0) => match tap.plan {
            // Silent and 0: the runtime rightly refused the config (the
            // *_fail tests), a pass.
            None if stdout.trim().is_empty() => None,
            None => Some("[no plan]".to_string()),
            Some(p) if p as usize != tap.assertions.len() => {
                Some(format!("[plan mismatch] {} of {p}", tap.assertions.len()))
            }
            Some(_) => None,
        },
        Exit::Code(c) => Some(format!("[exit {c}]")),
    };
    if let Some(description) = verdict {
        failures.push(Failure {
            description,
            details: stderr_lines.clone(),
            expected: None,
        });
    }
    for (error, block) in tap.orphan_errors() {
        let first = error.lines().next().unwrap_or("").trim();
        failures.push(Failure {
            description: format!("[error] {first}"),
            details: block
                .iter()
                .cloned()
                .chain(stderr_lines.iter().cloned())
                .collect(),
            expected: None,
        });
    }
    if let Some(reason) = &tap.bail_out {
        failures.push(Failure {
            description: format!("[bail out] {reason}"),
            details: stderr_lines.clone(),
            expected: None,
        });
    }
    let mut leftover_details = Vec::new();
    for left in found.leftovers {
        leftover_details.push(left.detail.clone());
        failures.push(Failure {
            description: left.description,
            details: vec![left.detail],
            expected: None,
        });
    }
    for failure in &mut failures {
        failure.expected = expected::find(entries, name, &failure.description);
    }

    Ok(TestRun {
        name: name.to_string(),
        tap,
        exit,
        secs,
        stdout_empty: stdout.is_empty(),
        stderr,
        failures,
        leftover_details,
        notes: found.notes,
        stragglers,
        dirty: found.dirty,
    })
}

struct Report {
    /// What is printed after the table.
    text: String,
    /// The table and the totals (summary.txt).
    summary: String,
    totals: Totals,
    unexpected: usize,
    /// Entries of tests that ran which matched no failure.
    now_passing: Vec<usize>,
}

#[derive(Default)]
struct Totals {
    pass: usize,
    fail: usize,
    skip: usize,
    todo: usize,
    /// Binaries that exited non-zero or printed no plan.
    bad: usize,
    /// Zero assertions but an error diagnostic.
    empty_err: usize,
    /// Binaries that exited 0 without a word (a pass).
    binary_pass: usize,
    /// Binaries that exited non-zero (a failure).
    binary_fail: usize,
}

fn totals(runs: &[TestRun]) -> Totals {
    let mut t = Totals::default();
    for r in runs {
        t.pass += r.tap.count(Outcome::Pass);
        t.fail += r.tap.count(Outcome::Fail);
        t.skip += r.tap.count(Outcome::Skip);
        t.todo += r.tap.count(Outcome::Todo);
        if !r.exit.ok() || r.tap.plan.is_none() {
            t.bad += 1;
        }
        if r.total() == 0 && r.tap.orphan_errors().next().is_some() {
            t.empty_err += 1;
        }
        if !r.exit.ok() {
            t.binary_fail += 1;
        } else if r.stdout_empty {
            t.binary_pass += 1;
        }
    }
    t
}

fn report(
    runs: &[TestRun],
    entries: &[Entry],
    runtime: &Path,
    elapsed: f64,
    dirty: &[String],
) -> Report {
    let t = totals(runs);
    let mut summary = String::new();
    let _ = writeln!(summary, "{}", header());
    for r in runs {
        let _ = writeln!(summary, "{}", r.row());
    }
    let mut text = String::new();
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "RUNTIME={}  tests={}  elapsed={elapsed:.1}s  timeout={}s",
        runtime.display(),
        runs.len(),
        TIMEOUT.as_secs()
    );
    let _ = writeln!(
        text,
        "TOTAL pass={} fail={} skip={} todo={}  (tests with crash/timeout/no-plan: {}; zero-assertion tests with error diagnostic: {})",
        t.pass, t.fail, t.skip, t.todo, t.bad, t.empty_err
    );
    let _ = writeln!(
        text,
        "TOTAL incl. binary verdicts: pass={} fail={} skip={} todo={}  (+{} silent exit-0 binaries as pass, +{} non-zero-exit binaries as fail)",
        t.pass + t.binary_pass,
        t.fail + t.binary_fail,
        t.skip,
        t.todo,
        t.binary_pass,
        t.binary_fail
    );
    summary.push_str(&text);

    // Leftovers and host-wide notes.
    let leftovers: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            r.leftover_details
                .iter()
                .map(move |d| format!("  {}: {d}", r.name))
        })
        .collect();
    if leftovers.is_empty() {
        let _ = writeln!(text, "No leftover containers/cgroups/mounts/bundles.");
    } else {
        let _ = writeln!(text, "Leftovers (removed unless said otherwise):");
        for l in &leftovers {
            let _ = writeln!(text, "{l}");
        }
    }
    let notes = runs.iter().map(|r| r.notes.len()).sum::<usize>();
    if notes > 0 {
        let _ = writeln!(
            text,
            "Host-wide changes during the tests not attributed to them (other processes?): {notes}, listed in {UNATTRIBUTED}"
        );
    }
    for d in dirty {
        let _ = writeln!(text, "NOT CLEAN: {d}");
    }

    // Against expected.txt.
    let mut hits = vec![0usize; entries.len()];
    let mut expected_failures = 0;
    let mut unexpected: Vec<(&TestRun, &Failure)> = Vec::new();
    for r in runs {
        for f in &r.failures {
            match f.expected {
                Some(i) => {
                    hits[i] += 1;
                    expected_failures += 1;
                }
                None => unexpected.push((r, f)),
            }
        }
    }
    let ran: BTreeSet<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    let now_passing: Vec<usize> = (0..entries.len())
        .filter(|&i| hits[i] == 0 && !entries[i].flaky() && ran.contains(entries[i].test.as_str()))
        .collect();
    let used = hits.iter().filter(|&&h| h > 0).count();
    let _ = writeln!(
        text,
        "Expected failures: {expected_failures}, covered by {used} entries of {EXPECTED}"
    );
    if !now_passing.is_empty() {
        let _ = writeln!(
            text,
            "Now passing, remove from {EXPECTED} ({}):",
            now_passing.len()
        );
        for &i in &now_passing {
            let e = &entries[i];
            let _ = writeln!(
                text,
                "  line {}: {}: {}  # {}",
                e.line, e.test, e.prefix, e.reason
            );
        }
    }
    if !unexpected.is_empty() {
        let _ = writeln!(text, "UNEXPECTED FAILURES ({}):", unexpected.len());
        for (r, f) in &unexpected {
            let _ = writeln!(text, "  {}: {}", r.name, f.description);
            for d in f.details.iter().take(16) {
                let _ = writeln!(text, "      {d}");
            }
        }
    }
    Report {
        text,
        summary,
        totals: t,
        unexpected: unexpected.len(),
        now_passing,
    }
}

/// Every failure with its diagnostics and whether expected.txt covers it.
fn failures_file(runs: &[TestRun], entries: &[Entry]) -> String {
    let mut out = String::new();
    for r in runs {
        for f in &r.failures {
            let verdict = match f.expected {
                Some(i) => format!("expected (line {}: {})", entries[i].line, entries[i].reason),
                None => "UNEXPECTED".to_string(),
            };
            let _ = writeln!(out, "{}: {}    [{verdict}]", r.name, f.description);
            for d in &f.details {
                let _ = writeln!(out, "    {d}");
            }
        }
    }
    out
}

fn json_report(
    runs: &[TestRun],
    entries: &[Entry],
    runtime: &Path,
    elapsed: f64,
    report: &Report,
    dirty: &[String],
) -> serde_json::Value {
    let t = &report.totals;
    let tests: serde_json::Map<String, serde_json::Value> = runs
        .iter()
        .map(|r| {
            let failures: Vec<serde_json::Value> = r
                .failures
                .iter()
                .map(|f| {
                    json!({
                        "description": f.description,
                        "expected": f.expected.is_some(),
                        "reason": f.expected.map(|i| entries[i].reason.clone()),
                    })
                })
                .collect();
            (
                r.name.clone(),
                json!({
                    "pass": r.tap.count(Outcome::Pass),
                    "fail": r.tap.count(Outcome::Fail),
                    "skip": r.tap.count(Outcome::Skip),
                    "todo": r.tap.count(Outcome::Todo),
                    "plan": r.tap.plan,
                    "exit_code": match r.exit { Exit::Code(c) => Some(c), _ => None },
                    "signal": match r.exit { Exit::Signal(s) => Some(s), _ => None },
                    "timed_out": r.exit == Exit::Timeout,
                    "secs": (r.secs * 1000.0).round() / 1000.0,
                    "note": r.note(),
                    "failures": failures,
                    "unexpected": r.unexpected(),
                    "leftovers": r.leftover_details,
                    "stragglers_killed": r.stragglers,
                }),
            )
        })
        .collect();
    json!({
        "runtime": runtime,
        "suite": format!("opencontainers/runtime-tools@{COMMIT}"),
        "elapsed_secs": (elapsed * 10.0).round() / 10.0,
        "timeout_secs": TIMEOUT.as_secs(),
        "totals": {
            "tests": runs.len(),
            "pass": t.pass,
            "fail": t.fail,
            "skip": t.skip,
            "todo": t.todo,
            "tests_crash_timeout_no_plan": t.bad,
            "tests_error_without_assertions": t.empty_err,
            "binary_verdicts": {
                "pass": t.pass + t.binary_pass,
                "fail": t.fail + t.binary_fail,
            },
            "expected_failures": runs.iter().flat_map(|r| &r.failures).filter(|f| f.expected.is_some()).count(),
            "unexpected_failures": report.unexpected,
            "now_passing_entries": report.now_passing.len(),
        },
        "tests": tests,
        "now_passing": report.now_passing.iter().map(|&i| json!({
            "test": entries[i].test,
            "prefix": entries[i].prefix,
            "reason": entries[i].reason,
            "line": entries[i].line,
        })).collect::<Vec<_>>(),
        "not_clean": dirty,
        "ok": report.unexpected == 0 && dirty.is_empty(),
    })
}
