//! `cargo xtask bench`: whole-process timings of `tinydocker run`, side by
//! side with runc on an equivalent bundle, runs alternating (A B A B ...)
//! after warm-up. Reports median, min and max wall time, CPU time and peak
//! resident memory of the runtime process (from `wait4(2)`'s rusage).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{build, rootfs, workspace};

struct Sample {
    wall_ms: f64,
    cpu_ms: f64,
    maxrss_kib: i64,
}

struct Runtime {
    name: String,
    /// Builds the command for run number `i`.
    command: Box<dyn Fn(usize) -> Command>,
    samples: Vec<Sample>,
}

/// Run a command to completion; time it and read its rusage.
fn measure(mut cmd: Command) -> Result<Sample> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("start {cmd:?}"))?;
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid output buffer.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child with valid output pointers.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if rc != pid {
        bail!("wait4 {pid}: {}", std::io::Error::last_os_error());
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        bail!("{cmd:?} failed (wait status {status}): {}", stderr.trim());
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    Ok(Sample {
        wall_ms: wall.as_secs_f64() * 1e3,
        cpu_ms: tv(usage.ru_utime) + tv(usage.ru_stime),
        maxrss_kib: usage.ru_maxrss,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Removes the bench's state on drop, also after an error: its default
/// network (bridge device, nft elements) through the binary, then the files.
struct Scratch {
    dir: PathBuf,
    bin: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let state = self.dir.join("state");
        if state.join("networks").join("bridge.json").exists() {
            let _ = Command::new(&self.bin)
                .arg("--root")
                .arg(&state)
                .args(["network", "rm", "bridge"])
                .stdout(Stdio::null())
                .status();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn runc_bundle(scratch: &Path, rootfs: &Path) -> Result<PathBuf> {
    let bundle = scratch.join("bundle");
    fs::create_dir_all(&bundle)?;
    let out = Command::new("runc")
        .args(["spec", "--bundle"])
        .arg(&bundle)
        .output()
        .context("runc spec")?;
    if !out.status.success() {
        bail!("runc spec: {}", String::from_utf8_lossy(&out.stderr));
    }
    let spec = fs::read_to_string(bundle.join("config.json"))?;
    // The default spec: all namespaces tinydocker uses (plus cgroup), a
    // read-only rootfs, proc/dev/devpts/shm/mqueue/sysfs mounts. Run `true`
    // without a terminal, from our busybox rootfs.
    let spec = spec
        .replacen("\"terminal\": true", "\"terminal\": false", 1)
        .replacen("\"sh\"", "\"true\"", 1)
        .replacen(
            "\"path\": \"rootfs\"",
            &format!("\"path\": \"{}\"", rootfs.display()),
            1,
        );
    fs::write(bundle.join("config.json"), spec)?;
    Ok(bundle)
}

pub fn bench(args: &[String]) -> Result<()> {
    let mut runs = 20usize;
    let mut json: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => {
                runs = it
                    .next()
                    .context("--runs needs a number")?
                    .parse()
                    .context("--runs needs a number")?
            }
            "--json" => json = Some(it.next().context("--json needs a file")?.into()),
            other => bail!("unknown argument {other:?} (expected --runs N, --json FILE)"),
        }
    }
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let bin = build(true)?;
    let rootfs = workspace().join("target/xtask/busybox-rootfs");
    rootfs::busybox(&rootfs)?;
    let scratch = Scratch {
        dir: std::env::temp_dir().join(format!("tinydocker-bench-{}", std::process::id())),
        bin: bin.clone(),
    };
    let state = scratch.dir.join("state");
    fs::create_dir_all(&state)?;
    crate::run(
        Command::new(&bin)
            .arg("--root")
            .arg(&state)
            .arg("import")
            .arg(&rootfs)
            .arg("busybox")
            .stdout(Stdio::null()),
    )?;

    let mut runtimes = Vec::new();
    {
        let (bin, state) = (bin.clone(), state.clone());
        runtimes.push(Runtime {
            name: "tinydocker".into(),
            command: Box::new(move |_| {
                let mut c = Command::new(&bin);
                c.arg("--root").arg(&state).args([
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "busybox",
                    "true",
                ]);
                c
            }),
            samples: Vec::new(),
        });
    }
    let runc_available = Command::new("runc")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if runc_available {
        let bundle = runc_bundle(&scratch.dir, &rootfs)?;
        let runc_root = scratch.dir.join("runc-state");
        let prefix = format!("tdbench-{}", std::process::id());
        runtimes.push(Runtime {
            name: "runc".into(),
            command: Box::new(move |i| {
                let mut c = Command::new("runc");
                c.arg("--root")
                    .arg(&runc_root)
                    .arg("run")
                    .arg("--bundle")
                    .arg(&bundle)
                    .arg(format!("{prefix}-{i}"));
                c
            }),
            samples: Vec::new(),
        });
    } else {
        println!("runc: not installed (apt-get install runc); timing tinydocker alone");
    }

    let warmup = 3;
    let mut rows = Vec::new();
    // Start from clean page cache: the build just wrote a lot, and its
    // writeback would otherwise compete with the first runs for the disk.
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    // Alone first: the figure for tinydocker by itself, with no other
    // runtime's teardown (netns cleanup, cgroup removal) running in the
    // background of its runs.
    // The same with limits, and on the default bridge network, alternating
    // with the plain runs: what limits and networking cost.
    let variant = |extra: &'static [&'static str]| {
        let (bin, state) = (bin.clone(), state.clone());
        move |_: usize| {
            let mut c = Command::new(&bin);
            c.arg("--root")
                .arg(&state)
                .args(["run", "--rm"])
                .args(extra)
                .args(["busybox", "true"]);
            c
        }
    };
    let limited = variant(&[
        "--network",
        "none",
        "--cpus",
        "1",
        "--memory",
        "256m",
        "--pids-limit",
        "100",
    ]);
    let bridged = variant(&["--network", "bridge"]);
    let unconfined = variant(&["--network", "none", "--security-opt", "seccomp=unconfined"]);
    // The first bridged run creates the default network: not timed.
    measure(bridged(0)).context("tinydocker run on the default bridge")?;
    let mut alone = Vec::new();
    let mut with_limits = Vec::new();
    let mut on_bridge = Vec::new();
    let mut no_filter = Vec::new();
    for i in 0..warmup + runs {
        let plain = measure((runtimes[0].command)(i)).context("tinydocker run")?;
        let limits = measure(limited(i)).context("tinydocker run with limits")?;
        let bridge = measure(bridged(i)).context("tinydocker run on the default bridge")?;
        let unfiltered = measure(unconfined(i)).context("tinydocker run, seccomp=unconfined")?;
        if i >= warmup {
            alone.push(plain);
            with_limits.push(limits);
            on_bridge.push(bridge);
            no_filter.push(unfiltered);
        }
    }
    println!(
        "case: run --rm --network none busybox true   ({runs} runs, after {warmup} warm-up runs)"
    );
    header();
    rows.push(report("tinydocker", "alone", runs, &alone));
    println!();
    println!("case: the same with --cpus 1 --memory 256m --pids-limit 100   (alternating with the others)");
    header();
    rows.push(report("tinydocker", "limits", runs, &with_limits));
    println!();
    println!(
        "case: run --rm busybox true on the default bridge network   (alternating with the others)"
    );
    header();
    rows.push(report("tinydocker", "bridge", runs, &on_bridge));
    println!();
    println!(
        "case: the same with --security-opt seccomp=unconfined   (alternating with the others)"
    );
    header();
    rows.push(report("tinydocker", "seccomp-unconfined", runs, &no_filter));
    let plain_median = median(alone.iter().map(|s| s.wall_ms).collect());
    let unconfined_median = median(no_filter.iter().map(|s| s.wall_ms).collect());
    let pairwise = median(
        alone
            .iter()
            .zip(&no_filter)
            .map(|(a, b)| a.wall_ms - b.wall_ms)
            .collect(),
    );
    println!(
        "the default seccomp filter adds {:+.2} ms to the median ({pairwise:+.2} ms, median of pairwise differences)",
        plain_median - unconfined_median
    );
    let limits_median = median(with_limits.iter().map(|s| s.wall_ms).collect());
    let bridge_median = median(on_bridge.iter().map(|s| s.wall_ms).collect());
    println!(
        "limits add {:+.2} ms to the median; the bridge network adds {:+.2} ms",
        limits_median - plain_median,
        bridge_median - plain_median
    );

    if runtimes.len() > 1 {
        for i in 0..warmup + runs {
            for rt in &mut runtimes {
                let sample =
                    measure((rt.command)(i)).with_context(|| format!("{} run {i}", rt.name))?;
                if i >= warmup {
                    rt.samples.push(sample);
                }
            }
        }
        println!();
        println!("case: the same, side by side   ({runs} runs each, alternating A B A B, after {warmup} warm-up runs)");
        header();
        for rt in &runtimes {
            rows.push(report(&rt.name, "alternating", runs, &rt.samples));
        }
        // Pair by pair: run i of runc over run i of tinydocker.
        let ratios: Vec<f64> = runtimes[1]
            .samples
            .iter()
            .zip(&runtimes[0].samples)
            .map(|(p, t)| p.wall_ms / t.wall_ms)
            .collect();
        println!(
            "runc / tinydocker, median of pairwise ratios: {:.2}x",
            median(ratios)
        );
    }
    if let Some(path) = json {
        fs::write(&path, format!("[{}]\n", rows.join(",")))?;
    }
    Ok(())
}

fn header() {
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>12} {:>14}",
        "runtime", "median ms", "min ms", "max ms", "cpu ms (med)", "peak RSS KiB"
    );
}

/// Print a row of the table; return it as a JSON object.
fn report(name: &str, mode: &str, runs: usize, samples: &[Sample]) -> String {
    let wall: Vec<f64> = samples.iter().map(|s| s.wall_ms).collect();
    let cpu = median(samples.iter().map(|s| s.cpu_ms).collect());
    let rss = samples.iter().map(|s| s.maxrss_kib).max().unwrap_or(0);
    let med = median(wall.clone());
    let min = wall.iter().cloned().fold(f64::MAX, f64::min);
    let max = wall.iter().cloned().fold(0.0, f64::max);
    println!("{name:<12} {med:>10.2} {min:>10.2} {max:>10.2} {cpu:>12.2} {rss:>14}");
    format!(
        "{{\"case\":\"run-none\",\"runtime\":\"{name}\",\"mode\":\"{mode}\",\"runs\":{runs},\"median_ms\":{med:.3},\"min_ms\":{min:.3},\"max_ms\":{max:.3},\"cpu_median_ms\":{cpu:.3},\"peak_rss_kib\":{rss}}}"
    )
}
