//! The tests of the VM suite: limits the kernel must enforce, measured
//! from the cgroup files the kernel keeps (`cgroups(7)`, the kernel's
//! Documentation/admin-guide/cgroup-v1/ and cgroup-v2.rst), under real load
//! from `stress-ng` in a busybox + stress-ng image (`/vm/image`).
//!
//! Each container runs under a `--cgroup-parent` of the test's own
//! (`tdvm-*`, outside tinydocker's tree, so it stays after the container):
//! the test finds the container's cgroup there and reads the parent's
//! hierarchical counters once the container has gone. The parent is
//! removed at the end of the test.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tinydocker_cgroups::{shares_to_weight, Layout};
use tinydocker_tests::{children_of, Running, TempDir, TestRoot};

use crate::Test;

thread_local! {
    /// The message of the last panic on this thread (see main's hook).
    pub static PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The tests, in the order they run.
pub const TESTS: &[(&str, Test)] = &[
    ("cgroup_layout", cgroup_layout),
    ("cpu_half_a_core_is_throttled", cpu_half_a_core_is_throttled),
    (
        "cpu_unlimited_gets_a_whole_core",
        cpu_unlimited_gets_a_whole_core,
    ),
    (
        "memory_stress_ng_over_the_limit_is_oom_killed",
        memory_stress_ng_over_the_limit_is_oom_killed,
    ),
    (
        "memory_init_over_the_limit_exits_137",
        memory_init_over_the_limit_exits_137,
    ),
    (
        "memory_under_the_limit_runs_to_its_end",
        memory_under_the_limit_runs_to_its_end,
    ),
    ("pids_limit_stops_a_fork_loop", pids_limit_stops_a_fork_loop),
    (
        "swap_weight_and_cpuset_reported_back",
        swap_weight_and_cpuset_reported_back,
    ),
    (
        "bridge_network_containers_reach_each_other",
        bridge_network_containers_reach_each_other,
    ),
];

/// The image the VM's initramfs carries: busybox and stress-ng.
const IMAGE_DIR: &str = "/vm/image";
const IMAGE: &str = "stressng";
const MIB: u64 = 1 << 20;

/// What every test needs to know about the machine.
pub struct Ctx {
    pub mode: String,
    pub layout: Result<Layout, String>,
}

impl Ctx {
    pub fn new(mode: &str) -> Ctx {
        Ctx {
            mode: mode.to_string(),
            layout: Layout::detect().map_err(|e| e.to_string()),
        }
    }

    fn layout(&self) -> &Layout {
        self.layout
            .as_ref()
            .unwrap_or_else(|e| panic!("no cgroup layout: {e}"))
    }

    fn is_v2(&self) -> bool {
        matches!(self.layout(), Layout::Unified { .. })
    }

    /// The hierarchy holding `controller`: the v2 root, or the v1 mount
    /// that has it.
    fn hierarchy(&self, controller: &str) -> PathBuf {
        match self.layout() {
            Layout::Unified { root } => root.clone(),
            Layout::Legacy { hierarchies } | Layout::Hybrid { hierarchies, .. } => hierarchies
                .iter()
                .find(|m| m.controllers.iter().any(|c| c == controller))
                .unwrap_or_else(|| panic!("no v1 hierarchy holds {controller}"))
                .path
                .clone(),
        }
    }

    /// Every hierarchy (v1 ones, the v2 one).
    fn hierarchies(&self) -> Vec<PathBuf> {
        match self.layout() {
            Layout::Unified { root } => vec![root.clone()],
            Layout::Legacy { hierarchies } => hierarchies.iter().map(|m| m.path.clone()).collect(),
            Layout::Hybrid {
                hierarchies,
                unified,
            } => hierarchies
                .iter()
                .map(|m| m.path.clone())
                .chain([unified.clone()])
                .collect(),
        }
    }

    /// A `--cgroup-parent` for one test, removed when dropped.
    fn parent(&self, tag: &str) -> Parent {
        Parent {
            name: format!("tdvm-{tag}"),
            hierarchies: self.hierarchies(),
        }
    }
}

/// A cgroup parent of the test's own, in every hierarchy; rmdir'ed on drop
/// (declare it before the [`TestRoot`], so the containers go first).
struct Parent {
    name: String,
    hierarchies: Vec<PathBuf>,
}

impl Parent {
    /// The parent's directory in the hierarchy holding `controller`.
    fn dir(&self, ctx: &Ctx, controller: &str) -> PathBuf {
        ctx.hierarchy(controller).join(&self.name)
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        for h in &self.hierarchies {
            let _ = fs::remove_dir(h.join(&self.name));
        }
    }
}

#[track_caller]
fn read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// The value of `key` in a flat keyed file ("key value" lines).
#[track_caller]
fn keyed(path: &Path, key: &str) -> u64 {
    let text = read(path);
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {}: {text:?}", path.display()))
}

/// A fresh state root with the stress-ng image imported.
fn stress_root() -> TestRoot {
    let root = TestRoot::new();
    root.run(&["import", IMAGE_DIR, IMAGE]).ok();
    root
}

/// The one container's full id.
#[track_caller]
fn only_id(root: &TestRoot) -> String {
    let ids = root.container_ids();
    assert_eq!(ids.len(), 1, "containers: {ids:?}");
    ids[0].clone()
}

/// `inspect NAME` as JSON (the object, out of docker's one-element array).
#[track_caller]
fn inspect(root: &TestRoot, name: &str) -> serde_json::Value {
    let out = root.run(&["inspect", name]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("inspect {name}: {e}: {}", out.stdout));
    match v {
        serde_json::Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
        v => v,
    }
}

/// How a [`Sampler`] reads a number out of a cgroup directory.
type Reading = fn(&Path) -> Option<u64>;

/// Polls a counter in every cgroup directly under `parent` every 10 ms,
/// keeping the largest value seen, until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(u64, usize)>>,
}

impl Sampler {
    fn start(parent: PathBuf, read: Reading) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut max, mut samples) = (0, 0);
            while !flag.load(Ordering::Relaxed) {
                for dir in fs::read_dir(&parent).into_iter().flatten().flatten() {
                    if dir.file_type().is_ok_and(|t| t.is_dir()) {
                        if let Some(v) = read(&dir.path()) {
                            max = max.max(v);
                            samples += 1;
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            (max, samples)
        });
        Sampler {
            stop,
            thread: Some(thread),
        }
    }

    /// The largest value seen and how many readings there were.
    fn finish(mut self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("joined once")
            .join()
            .expect("sampler")
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A number read from `file` in `dir`: the value of `key` in a flat keyed
/// file, or the whole content.
fn number(dir: &Path, file: &str, key: Option<&str>) -> Option<u64> {
    let text = fs::read_to_string(dir.join(file)).ok()?;
    match key {
        None => text.trim().parse().ok(),
        Some(key) => text
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok()),
    }
}

/// The OOM-kill count of a memory cgroup (hierarchical: kills in its
/// descendants count), on v2 and v1.
fn oom_kills_v2(dir: &Path) -> Option<u64> {
    number(dir, "memory.events", Some("oom_kill"))
}

fn oom_kills_v1(dir: &Path) -> Option<u64> {
    number(dir, "memory.oom_control", Some("oom_kill"))
}

/// Memory in use by a cgroup, on v2 and v1.
fn memory_v2(dir: &Path) -> Option<u64> {
    number(dir, "memory.current", None)
}

fn memory_v1(dir: &Path) -> Option<u64> {
    number(dir, "memory.usage_in_bytes", None)
}

// ---------------------------------------------------------------------------
// The tests

/// The machine has the layout its mode asks for, as tinydocker detects it.
fn cgroup_layout(ctx: &Ctx) -> String {
    let layout = ctx.layout();
    let text = match layout {
        Layout::Unified { root } => format!("v2 at {}", root.display()),
        Layout::Legacy { hierarchies } => format!(
            "v1: {}",
            hierarchies
                .iter()
                .map(|m| m.controllers.join(","))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Layout::Hybrid {
            hierarchies,
            unified,
        } => format!(
            "hybrid: {} + empty v2 at {}",
            hierarchies
                .iter()
                .map(|m| m.controllers.join(","))
                .collect::<Vec<_>>()
                .join(" "),
            unified.display()
        ),
    };
    let expected = match layout {
        Layout::Unified { .. } => "v2",
        Layout::Legacy { .. } => "v1",
        Layout::Hybrid { .. } => "hybrid",
    };
    assert_eq!(
        ctx.mode, expected,
        "the VM was booted for {} but has {text}",
        ctx.mode
    );
    text
}

/// CPU time the container's cgroup used (ns) and its throttled periods.
fn cpu_counters(ctx: &Ctx, dir_cpu: &Path, dir_acct: &Path) -> (u64, u64) {
    if ctx.is_v2() {
        let stat = dir_cpu.join("cpu.stat");
        (
            keyed(&stat, "usage_usec") * 1000,
            keyed(&stat, "nr_throttled"),
        )
    } else {
        let usage: u64 = read(&dir_acct.join("cpuacct.usage"))
            .parse()
            .expect("cpuacct.usage");
        (usage, keyed(&dir_cpu.join("cpu.stat"), "nr_throttled"))
    }
}

/// `stress-ng --cpu 1` in a container with `flags`: the share of a CPU it
/// got over 3 s of wall time, and the throttled periods in that window.
fn stress_cpu(ctx: &Ctx, tag: &str, flags: &[&str]) -> (f64, u64, u64, Duration) {
    let parent = ctx.parent(tag);
    let root = stress_root();
    let mut args = vec!["run", "--name", tag, "--cgroup-parent", &parent.name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[
        IMAGE,
        "sh",
        "-c",
        "echo ready; exec stress-ng --cpu 1 --timeout 5s --quiet",
    ]);
    let mut run = root.spawn(&args);
    run.expect_line("ready");
    let id = only_id(&root);
    let cpu = parent.dir(ctx, "cpu").join(&id);
    let acct = parent.dir(ctx, "cpuacct").join(&id);
    // stress-ng starts its worker: let it get going.
    std::thread::sleep(Duration::from_millis(1000));
    let (used0, throttled0) = cpu_counters(ctx, &cpu, &acct);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(3000));
    let (used1, throttled1) = cpu_counters(ctx, &cpu, &acct);
    let wall = t0.elapsed();
    let rate = (used1 - used0) as f64 / wall.as_nanos() as f64;
    run.finish().ok();
    root.run(&["rm", tag]).ok();
    (rate, throttled0, throttled1, wall)
}

fn cpu_half_a_core_is_throttled(ctx: &Ctx) -> String {
    let (rate, th0, th1, wall) = stress_cpu(ctx, "cpuhalf", &["--cpus", "0.5"]);
    let figures = format!(
        "{rate:.3} of a CPU over {:.2} s, throttled periods {th0} -> {th1}",
        wall.as_secs_f64()
    );
    assert!((0.4..=0.6).contains(&rate), "--cpus 0.5: {figures}");
    assert!(th1 > th0, "--cpus 0.5: never throttled: {figures}");
    figures
}

fn cpu_unlimited_gets_a_whole_core(ctx: &Ctx) -> String {
    let (rate, th0, th1, wall) = stress_cpu(ctx, "cpufree", &[]);
    let figures = format!(
        "{rate:.3} of a CPU over {:.2} s, throttled periods {th0} -> {th1}",
        wall.as_secs_f64()
    );
    assert!(rate > 0.8, "no limit: {figures}");
    figures
}

/// What a container run under `--memory 64m` showed.
struct MemoryRun {
    code: i32,
    /// `inspect`'s State.OOMKilled.
    oom_killed: bool,
    /// The largest oom_kill count read from its cgroup while it ran.
    kills_seen: u64,
    /// The count of its parent once it had gone (hierarchical).
    kills_after: u64,
    /// The largest memory use read from its cgroup, in bytes.
    peak: u64,
    took: Duration,
    stderr: String,
    v2: bool,
}

impl MemoryRun {
    /// The kernel counted the kill: on v2 the parent's `memory.events`
    /// (hierarchical) says so after the container has gone; v1's
    /// `memory.oom_control` counts a cgroup's own kills only, and the
    /// container's cgroup goes with it, so there the count read while it
    /// ran (every 10 ms) or the one tinydocker read before removing it (its
    /// OOMKilled) must say so.
    #[track_caller]
    fn assert_oom_counted(&self, ctx: &Ctx, figures: &str) {
        if ctx.is_v2() {
            assert!(self.kills_after >= 1, "{figures}");
        } else {
            assert!(self.kills_seen >= 1 || self.oom_killed, "{figures}");
        }
    }

    /// The usage sampled never went past the 64 MiB limit by more than the
    /// kernel's own overshoot: charges it must not fail (and those batched
    /// per CPU) may take `memory.current` briefly a little over the limit
    /// while the OOM killer acts; the limit holds if usage stays near it.
    #[track_caller]
    fn assert_peak_held(&self, figures: &str) {
        assert!(self.peak <= 65 * MIB, "{figures}");
    }

    fn figures(&self) -> String {
        let parent = if self.v2 {
            format!("{} in its parent after", self.kills_after)
        } else {
            // memory.oom_control of v1 counts a cgroup's own kills.
            "(v1 keeps no count for the parent)".to_string()
        };
        format!(
            "exit {}, OOMKilled {}, oom_kill {} in its cgroup while it ran, {parent}, peak {:.2} MiB of 64, {:.1} s",
            self.code,
            self.oom_killed,
            self.kills_seen,
            self.peak as f64 / MIB as f64,
            self.took.as_secs_f64()
        )
    }
}

/// Run `cmd` in a container with `--memory 64m`, sampling its memory
/// cgroup's OOM-kill count and usage every 10 ms.
fn memory_run(ctx: &Ctx, tag: &str, image: &str, cmd: &[&str]) -> MemoryRun {
    let parent = ctx.parent(tag);
    let root = stress_root();
    let memory = parent.dir(ctx, "memory");
    let (kills, usage): (Reading, Reading) = if ctx.is_v2() {
        (oom_kills_v2, memory_v2)
    } else {
        (oom_kills_v1, memory_v1)
    };
    let kills_sampler = Sampler::start(memory.clone(), kills);
    let usage_sampler = Sampler::start(memory.clone(), usage);
    let mut args = vec![
        "run",
        "--name",
        tag,
        "--cgroup-parent",
        &parent.name,
        "--memory",
        "64m",
        image,
    ];
    args.extend_from_slice(cmd);
    let t0 = Instant::now();
    let out = root.run(&args);
    let took = t0.elapsed();
    let (kills_seen, _) = kills_sampler.finish();
    let (peak, samples) = usage_sampler.finish();
    assert!(
        samples > 0,
        "the container's memory cgroup was never seen: {out:?}"
    );
    let kills_after = kills(&memory).expect("the parent's OOM-kill count");
    let record = inspect(&root, tag);
    root.run(&["rm", tag]).ok();
    MemoryRun {
        code: out.code,
        oom_killed: record["State"]["OOMKilled"] == true,
        kills_seen,
        kills_after,
        peak,
        took,
        stderr: out.stderr,
        v2: ctx.is_v2(),
    }
}

/// stress-ng's worker goes over the limit and the OOM killer takes it.
/// stress-ng would start a new worker each time (and exit 0 at its
/// timeout, with a kill every few hundred ms); with `--oomable` it stops
/// at the first kill. Its init (stress-ng's parent) is not the one killed,
/// so the container ends by itself; its record says OOMKilled.
fn memory_stress_ng_over_the_limit_is_oom_killed(ctx: &Ctx) -> String {
    let run = memory_run(
        ctx,
        "oom",
        IMAGE,
        &[
            "stress-ng",
            "--vm",
            "1",
            "--vm-bytes",
            "128m",
            "--vm-keep",
            "--oomable",
            "--timeout",
            "30s",
        ],
    );
    let figures = run.figures();
    assert!(run.oom_killed, "{figures}; stderr {:?}", run.stderr);
    run.assert_oom_counted(ctx, &figures);
    run.assert_peak_held(&figures);
    assert!(
        run.took < Duration::from_secs(25),
        "stress-ng ran to its timeout: no OOM kill stopped it: {figures}; stderr {:?}",
        run.stderr
    );
    figures
}

/// The container's init itself allocates twice its limit (busybox dd's
/// 128 MiB buffer): the OOM killer ends the container, exit 137.
fn memory_init_over_the_limit_exits_137(ctx: &Ctx) -> String {
    let run = memory_run(
        ctx,
        "oominit",
        "busybox",
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"],
    );
    let figures = run.figures();
    assert_eq!(run.code, 137, "{figures}; stderr {:?}", run.stderr);
    assert!(run.oom_killed, "{figures}");
    run.assert_oom_counted(ctx, &figures);
    run.assert_peak_held(&figures);
    figures
}

/// 32 MiB fit in 64: stress-ng holds them to its timeout and exits 0.
fn memory_under_the_limit_runs_to_its_end(ctx: &Ctx) -> String {
    let run = memory_run(
        ctx,
        "fits",
        IMAGE,
        &[
            "stress-ng",
            "--vm",
            "1",
            "--vm-bytes",
            "32m",
            "--vm-keep",
            "--timeout",
            "4s",
        ],
    );
    let figures = run.figures();
    assert_eq!(run.code, 0, "{figures}; stderr {:?}", run.stderr);
    assert!(!run.oom_killed && run.kills_after == 0, "{figures}");
    assert!(
        run.peak >= 32 * MIB,
        "stress-ng did not hold its 32 MiB: {figures}"
    );
    figures
}

fn pids_limit_stops_a_fork_loop(ctx: &Ctx) -> String {
    let parent = ctx.parent("pids");
    let root = TestRoot::new();
    let pids = parent.dir(ctx, "pids");
    let sampler = Sampler::start(pids.clone(), |d| number(d, "pids.current", None));
    // busybox sh gives up at the first failed fork, so a subshell forks
    // (and fails); its sleeps stay, and the init reports.
    let mut run = root.spawn(&[
        "run",
        "--name",
        "forky",
        "--cgroup-parent",
        &parent.name,
        "--pids-limit",
        "16",
        "busybox",
        "sh",
        "-c",
        "(for i in $(seq 40); do sleep 1000 & done) 2>/tmp/err; echo ready; cat /tmp/err; sleep 1000",
    ]);
    run.expect_line("ready");
    let id = only_id(&root);
    let dir = pids.join(&id);
    let current: u64 = read(&dir.join("pids.current"))
        .parse()
        .expect("pids.current");
    let max = read(&dir.join("pids.max"));
    let refused = keyed(&dir.join("pids.events"), "max");
    let (peak, samples) = sampler.finish();
    root.run(&["rm", "-f", "forky"]).ok();
    let out = run.finish();
    let figures = format!(
        "pids.max {max}, pids.current {current} after the loop, at most {peak} in {samples} readings, {refused} forks refused"
    );
    assert_eq!(max, "16", "{figures}");
    assert!(peak <= 16 && current <= 16, "{figures}");
    assert!(refused >= 1, "{figures}");
    assert!(
        out.stdout.contains("can't fork"),
        "the loop never saw fork fail: {figures}; stdout {:?}",
        out.stdout
    );
    figures
}

fn swap_weight_and_cpuset_reported_back(ctx: &Ctx) -> String {
    let parent = ctx.parent("limits");
    let root = TestRoot::new();
    let mut run = root.spawn(&[
        "run",
        "--name",
        "limits",
        "--cgroup-parent",
        &parent.name,
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--memory-reservation",
        "32m",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "1",
        "--cpuset-mems",
        "0",
        "busybox",
        "sh",
        "-c",
        "echo ready; sleep 1000",
    ]);
    run.expect_line("ready");
    let id = only_id(&root);
    let kids = children_of(run.pid());
    assert_eq!(kids.len(), 1, "children of tinydocker: {kids:?}");
    let status = read(Path::new(&format!("/proc/{}/status", kids[0])));
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let file =
        |controller: &str, name: &str| read(&parent.dir(ctx, controller).join(&id).join(name));
    let mut checks: Vec<(String, String, String)> = Vec::new();
    let mut check = |what: &str, got: String, want: String| checks.push((what.into(), got, want));
    let bytes = |mib: u64| (mib * MIB).to_string();
    if ctx.is_v2() {
        check("memory.max", file("memory", "memory.max"), bytes(64));
        // v2 limits swap alone: 128m of memory+swap is 64m of swap.
        check(
            "memory.swap.max",
            file("memory", "memory.swap.max"),
            bytes(64),
        );
        check("memory.low", file("memory", "memory.low"), bytes(32));
        check(
            "cpu.weight",
            file("cpu", "cpu.weight"),
            shares_to_weight(512).to_string(),
        );
        check(
            "cpuset.cpus.effective",
            file("cpuset", "cpuset.cpus.effective"),
            "1".into(),
        );
        check(
            "cpuset.mems.effective",
            file("cpuset", "cpuset.mems.effective"),
            "0".into(),
        );
    } else {
        check(
            "memory.limit_in_bytes",
            file("memory", "memory.limit_in_bytes"),
            bytes(64),
        );
        check(
            "memory.memsw.limit_in_bytes",
            file("memory", "memory.memsw.limit_in_bytes"),
            bytes(128),
        );
        check(
            "memory.soft_limit_in_bytes",
            file("memory", "memory.soft_limit_in_bytes"),
            bytes(32),
        );
        check("cpu.shares", file("cpu", "cpu.shares"), "512".into());
        check(
            "cpuset.effective_cpus",
            file("cpuset", "cpuset.effective_cpus"),
            "1".into(),
        );
        check(
            "cpuset.effective_mems",
            file("cpuset", "cpuset.effective_mems"),
            "0".into(),
        );
    }
    check(
        "init's Cpus_allowed_list",
        field("Cpus_allowed_list"),
        "1".into(),
    );
    check(
        "init's Mems_allowed_list",
        field("Mems_allowed_list"),
        "0".into(),
    );
    root.run(&["rm", "-f", "limits"]).ok();
    run.finish();
    let figures = checks
        .iter()
        .map(|(what, got, _)| format!("{what}={got}"))
        .collect::<Vec<_>>()
        .join(" ");
    let wrong: Vec<String> = checks
        .iter()
        .filter(|(_, got, want)| got != want)
        .map(|(what, got, want)| format!("{what} is {got:?}, asked {want:?}"))
        .collect();
    assert!(wrong.is_empty(), "{}; all: {figures}", wrong.join("; "));
    figures
}

/// A web server and client in each of two containers on the default
/// bridge network: each fetches the other's page. They meet through a
/// shared volume, where the test writes the second one's address.
fn bridge_network_containers_reach_each_other(_ctx: &Ctx) -> String {
    let root = TestRoot::new();
    let shared = TempDir::new("tdvm-net");
    let volume = format!("{}:/shared", shared.path().display());
    let serve = |page: &str| {
        format!(
            "mkdir /www && echo {page} > /www/index.html && httpd -p 8080 -h /www && echo ready"
        )
    };
    let fetch = r#"printf 'GET / HTTP/1.0\r\n\r\n' | nc "$PEER" 8080 | tail -n 1"#;
    let start = |name: &str, script: String| -> Running {
        let mut run = root.spawn(&[
            "run",
            "--name",
            name,
            "--network",
            "bridge",
            "-v",
            &volume,
            "busybox",
            "sh",
            "-c",
            &script,
        ]);
        run.expect_line("ready");
        run
    };
    let ip = |name: &str| -> String {
        let v = inspect(&root, name);
        v["NetworkSettings"]["IPAddress"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| panic!("{name} has no address: {v:#}"))
            .to_string()
    };
    // a waits for b's address in /shared/peer, then fetches b's page.
    let mut a = start(
        "net-a",
        format!(
            "{} && while [ ! -s /shared/peer ]; do usleep 20000; done && PEER=$(cat /shared/peer) && {fetch}",
            serve("page-of-a")
        ),
    );
    let a_ip = ip("net-a");
    // b fetches a's page, then serves until the test is done.
    let t0 = Instant::now();
    let mut b = start(
        "net-b",
        format!(
            "{} && PEER={a_ip} && {fetch} && while [ ! -e /shared/done ]; do usleep 20000; done",
            serve("page-of-b")
        ),
    );
    let b_ip = ip("net-b");
    fs::write(shared.join("peer"), format!("{b_ip}\n")).expect("write the peer's address");
    let a_out = a.finish();
    fs::write(shared.join("done"), "").expect("write done");
    let b_out = b.finish();
    let took = t0.elapsed();
    root.run(&["rm", "net-a", "net-b"]).ok();
    let figures = format!(
        "{a_ip} fetched {:?} from {b_ip}, {b_ip} fetched {:?} from {a_ip}, {:.2} s for both",
        a_out.text(),
        b_out.text(),
        took.as_secs_f64()
    );
    a_out.ok();
    b_out.ok();
    assert_eq!(a_out.text(), "page-of-b", "{figures}");
    assert_eq!(b_out.text(), "page-of-a", "{figures}");
    figures
}
