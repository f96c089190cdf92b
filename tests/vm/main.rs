//! The suite `cargo xtask vm-test` runs inside each of its VMs, one boot per
//! cgroup mode (v2, v1, hybrid): the VM's /init starts it as root once the
//! machine is set up, and powers off when it returns.
//!
//! It runs the tests of [`suite`] one after the other (they load the CPUs
//! and run the OOM killer, so nothing else may run beside them), then the
//! root integration tests (`tests/integration`, unchanged: the binary
//! cargo built, at `/vm/integration`), and prints for the host:
//!
//! - `TDVM-RESULT <group> <name> ok|FAILED <seconds>s | <figures or why>`
//!   per test;
//! - `TDVM-TIME <what> <seconds>s`;
//! - one closing `TDVM-VERDICT: <mode> N passed, M failed`.
//!
//! The kernel command line carries the options: `tdmode=v2|v1|hybrid`,
//! and `tdinteg=` what of the integration tests to run: `all`, `none`, or
//! filters separated by commas (libtest's: substrings of test names);
//! `skip:` before them skips those instead.
//!
//! Not run on the host (`test = false` in Cargo.toml): it needs the VM's
//! `/vm/image` (busybox and stress-ng) and would load the host's CPUs.

mod suite;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A test of the suite: panics on failure (the harness's asserts do),
/// returns the figures it measured.
pub type Test = fn(&suite::Ctx) -> String;

/// What the guest prints results as; the host parses it.
fn result_line(group: &str, name: &str, ok: bool, took: Option<Duration>, detail: &str) {
    let took = took.map_or(String::new(), |t| format!(" {:.1}s", t.as_secs_f64()));
    let word = if ok { "ok" } else { "FAILED" };
    // One line each: the host reads the console line by line.
    let detail = detail.replace('\n', " / ");
    println!("TDVM-RESULT {group} {name} {word}{took} | {detail}");
}

/// A kernel command line parameter, `name=value`.
fn param(cmdline: &str, name: &str) -> Option<String> {
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        .map(str::to_string)
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

fn main() {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let mode = param(&cmdline, "tdmode").unwrap_or_else(|| "unknown".into());
    let integration = param(&cmdline, "tdinteg").unwrap_or_else(|| "all".into());
    let mut tally = Tally::default();

    // A test's panic becomes its result line; the console log gets every
    // panic too, with its thread.
    std::panic::set_hook(Box::new(|info| {
        let msg = match info.payload().downcast_ref::<String>() {
            Some(s) => s.clone(),
            None => info
                .payload()
                .downcast_ref::<&str>()
                .map_or_else(|| "panic".to_string(), |s| s.to_string()),
        };
        let at = info.location().map_or(String::new(), |l| {
            format!(" (at {}:{})", l.file(), l.line())
        });
        let thread = std::thread::current();
        eprintln!(
            "  panic in {}: {msg}{at}",
            thread.name().unwrap_or("a thread")
        );
        suite::PANIC.with(|p| *p.borrow_mut() = format!("{msg}{at}"));
    }));

    let started = Instant::now();
    let ctx = suite::Ctx::new(&mode);
    for (name, test) in suite::TESTS {
        let t0 = Instant::now();
        let ctx = &ctx;
        let outcome = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn_scoped(s, move || {
                    let r = std::panic::catch_unwind(|| test(ctx));
                    r.map_err(|_| suite::PANIC.with(|p| p.borrow().clone()))
                })
                .expect("spawn a test thread")
                .join()
                .unwrap_or_else(|_| Err("the test thread died".into()))
        });
        let took = t0.elapsed();
        match outcome {
            Ok(figures) => {
                tally.passed += 1;
                result_line("suite", name, true, Some(took), &figures);
            }
            Err(why) => {
                tally.failed += 1;
                result_line("suite", name, false, Some(took), &why);
            }
        }
    }
    println!("TDVM-TIME suite {:.1}s", started.elapsed().as_secs_f64());

    let t0 = Instant::now();
    run_integration(&integration, &mut tally);
    println!("TDVM-TIME integration {:.1}s", t0.elapsed().as_secs_f64());

    if tally.failed > 0 {
        // What the kernel said (OOM kills, warnings): the console shows
        // only emergencies.
        if let Ok(out) = Command::new("dmesg").output() {
            let text = String::from_utf8_lossy(&out.stdout);
            let lines: Vec<&str> = text.lines().collect();
            println!("TDVM-DMESG (last 80 lines):");
            for l in &lines[lines.len().saturating_sub(80)..] {
                println!("  dmesg: {l}");
            }
        }
    }
    println!(
        "TDVM-VERDICT: {mode} {} passed, {} failed",
        tally.passed, tally.failed
    );
}

/// Whether the test binary takes libtest's `--report-time` (an unstable
/// option: allowed with RUSTC_BOOTSTRAP=1), for per-test times.
fn report_time_works() -> bool {
    Command::new("/vm/integration")
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["-Zunstable-options", "--report-time", "--list"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Run the integration test binary as `tdinteg` says; each of its tests
/// is a result. Its other output (failures' details) is echoed with a
/// prefix, for the console log.
fn run_integration(spec: &str, tally: &mut Tally) {
    if spec == "none" {
        return;
    }
    let mut cmd = Command::new("/vm/integration");
    // The CPU-rate tests of the suite wait for each other through a lock;
    // two threads as on the 2-CPU host.
    cmd.arg("--test-threads=2");
    if report_time_works() {
        cmd.env("RUSTC_BOOTSTRAP", "1")
            .args(["-Zunstable-options", "--report-time"]);
    }
    if spec != "all" {
        match spec.strip_prefix("skip:") {
            Some(skips) => {
                for s in skips.split(',').filter(|s| !s.is_empty()) {
                    cmd.args(["--skip", s]);
                }
            }
            None => {
                cmd.args(spec.split(',').filter(|s| !s.is_empty()));
            }
        }
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tally.failed += 1;
            result_line(
                "integration",
                "(start)",
                false,
                None,
                &format!("spawn /vm/integration: {e}"),
            );
            return;
        }
    };
    // stderr (panic messages of passing tests that print, cleanup notes):
    // echoed as it comes.
    let stderr = child.stderr.take().expect("stderr pipe");
    let echo = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            println!("  integration stderr: {line}");
        }
    });
    let mut summary = None;
    let mut failed_here = 0;
    for line in BufReader::new(child.stdout.take().expect("stdout pipe"))
        .lines()
        .map_while(Result::ok)
    {
        // "test network::foo ... ok <1.234s>" (one line per test when tests
        // run in parallel; the time with --report-time), "ignored",
        // "FAILED".
        if let Some((name, outcome)) = line
            .strip_prefix("test ")
            .and_then(|rest| rest.rsplit_once(" ... "))
        {
            let (word, time) = match outcome.trim().split_once(" <") {
                Some((w, t)) => (w, t.strip_suffix('>').and_then(|t| t.strip_suffix('s'))),
                None => (outcome.trim(), None),
            };
            let took = time
                .and_then(|t| t.parse::<f64>().ok())
                .map(Duration::from_secs_f64);
            match word {
                "ok" => {
                    tally.passed += 1;
                    result_line("integration", name, true, took, "");
                    continue;
                }
                "FAILED" => {
                    tally.failed += 1;
                    failed_here += 1;
                    result_line(
                        "integration",
                        name,
                        false,
                        took,
                        "its output is in the console log",
                    );
                    continue;
                }
                _ => {}
            }
        }
        if line.starts_with("test result:") {
            summary = Some(line.clone());
        }
        println!("  integration: {line}");
    }
    let status = child.wait();
    let _ = echo.join();
    let success = status.as_ref().is_ok_and(|s| s.success());
    // A crash, or a failure that is no test's: one more failure.
    if summary.is_none() || (!success && failed_here == 0) {
        tally.failed += 1;
        result_line(
            "integration",
            "(run)",
            false,
            None,
            &format!("the test binary ended with {status:?}, summary {summary:?}"),
        );
    }
}
