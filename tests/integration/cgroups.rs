//! Cgroup limits: the kernel enforces what `run`'s limit flags ask for (CPU
//! bandwidth, memory and the OOM killer, pids), reports back the values
//! written, `update` changes them, `stats` shows them, and a container's
//! cgroup goes with it.
//!
//! Cgroup files are found through the host's [`Layout`] and an
//! [`AnyManager`], never at hard-coded paths, so these tests run unchanged
//! on v2, v1 and hybrid hosts. Only cgroups of the tests' own containers
//! (and `tdtest-*` parents they make) are ever read or removed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tinydocker_cgroups::{shares_to_weight, AnyManager, Layout, Manager, Stats};
use tinydocker_tests::{children_of, Out, Running, TestRoot};

const MIB: u64 = 1 << 20;

/// How long CPU usage is measured for a rate.
const CPU_WINDOW: Duration = Duration::from_millis(2000);

/// The tests that measure a CPU rate take this, so that they never run at
/// the same time and distort each other's rates. Tests elsewhere that load
/// every CPU for a while (many containers at once) take it too.
static CPU_MEASUREMENT: Mutex<()> = Mutex::new(());

pub(crate) fn cpu_alone() -> MutexGuard<'static, ()> {
    // A test that failed while holding it must not fail the others too.
    CPU_MEASUREMENT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn layout() -> Layout {
    Layout::detect().expect("detect the host's cgroup layout")
}

/// The mount point of every cgroup hierarchy the host has: each v1
/// hierarchy (named ones too) and the v2 mount.
fn hierarchies() -> Vec<PathBuf> {
    match layout() {
        Layout::Unified { root } => vec![root],
        Layout::Legacy { hierarchies } => hierarchies.into_iter().map(|m| m.path).collect(),
        Layout::Hybrid {
            hierarchies,
            unified,
        } => hierarchies
            .into_iter()
            .map(|m| m.path)
            .chain([unified])
            .collect(),
    }
}

/// The directories of the cgroup `rel` that exist, in any hierarchy.
pub(super) fn cgroup_dirs(rel: &str) -> Vec<PathBuf> {
    hierarchies()
        .into_iter()
        .map(|h| h.join(rel))
        .filter(|d| d.exists())
        .collect()
}

/// A cgroup parent name no other test (or anything else) uses.
pub(super) fn unique_parent() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "tdtest-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes a `--cgroup-parent` made for a test from every hierarchy
/// (rmdir only: never anything with a cgroup left inside). Declare it
/// before the [`TestRoot`], so the root's containers are removed first.
pub(super) struct ParentGuard(pub(super) String);

impl Drop for ParentGuard {
    fn drop(&mut self) {
        for dir in cgroup_dirs(&self.0) {
            if let Err(e) = std::fs::remove_dir(&dir) {
                eprintln!("rmdir {}: {e}", dir.display());
            }
        }
    }
}

/// A container's cgroup, seen through the layout.
struct Cgroup {
    rel: String,
    manager: AnyManager,
}

impl Cgroup {
    fn new(rel: String) -> Cgroup {
        let manager = AnyManager::new(&layout(), &rel);
        Cgroup { rel, manager }
    }

    /// The cgroup of container `id` under the default parent.
    fn of(id: &str) -> Cgroup {
        Cgroup::new(format!("tinydocker/{id}"))
    }

    fn stats(&self) -> Stats {
        self.manager
            .stats()
            .unwrap_or_else(|e| panic!("stats of {}: {e}", self.rel))
    }

    /// The cgroup's directories: one per hierarchy it uses on v1, the one
    /// on v2.
    fn dirs(&self) -> Vec<PathBuf> {
        match &self.manager {
            AnyManager::V1(m) => m.dirs(),
            AnyManager::V2(m) => vec![m.dir()],
        }
    }

    /// The path of `file` of `controller`: in the hierarchy holding the
    /// controller on v1, in the cgroup's one directory on v2.
    fn file(&self, controller: &str, file: &str) -> PathBuf {
        match &self.manager {
            AnyManager::V1(m) => m
                .dir(controller)
                .unwrap_or_else(|| panic!("no v1 hierarchy holds the {controller} controller"))
                .join(file),
            AnyManager::V2(m) => m.dir().join(file),
        }
    }

    /// What the kernel reports in a control file, trimmed.
    fn read(&self, controller: &str, file: &str) -> String {
        let path = self.file(controller, file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .trim()
            .to_string()
    }

    /// The CFS bandwidth limit: (quota, period) in microseconds, quota
    /// `None` for unlimited.
    fn cpu_max(&self) -> (Option<u64>, u64) {
        let number = |s: &str| s.parse::<u64>().unwrap_or_else(|_| panic!("{s:?}"));
        if self.manager.is_v2() {
            let max = self.read("cpu", "cpu.max");
            let (quota, period) = max.split_once(' ').expect("cpu.max: QUOTA PERIOD");
            ((quota != "max").then(|| number(quota)), number(period))
        } else {
            let quota = self.read("cpu", "cpu.cfs_quota_us");
            let period = self.read("cpu", "cpu.cfs_period_us");
            ((quota != "-1").then(|| number(&quota)), number(&period))
        }
    }

    /// Assert every directory of the cgroup exists and the process `pid`
    /// is in it.
    #[track_caller]
    fn assert_holds(&self, pid: i32) {
        let dirs = self.dirs();
        assert!(!dirs.is_empty(), "{}: no hierarchy", self.rel);
        for dir in dirs {
            assert!(dir.is_dir(), "{} does not exist", dir.display());
        }
        let procs = self
            .manager
            .procs()
            .unwrap_or_else(|e| panic!("procs of {}: {e}", self.rel));
        assert!(
            procs.contains(&pid),
            "{pid} is not in {}: {procs:?}",
            self.rel
        );
    }

    /// Assert no directory of the cgroup is left in any hierarchy.
    #[track_caller]
    fn assert_gone(&self) {
        assert_eq!(
            cgroup_dirs(&self.rel),
            Vec::<PathBuf>::new(),
            "cgroup {} left behind",
            self.rel
        );
    }
}

/// The full id of the one container of `root`.
#[track_caller]
fn only_id(root: &TestRoot) -> String {
    let ids = root.container_ids();
    assert_eq!(ids.len(), 1, "containers: {ids:?}");
    ids[0].clone()
}

/// `tinydocker run ARGS` in the background, once it has printed "ready":
/// the running command, the container's id (from `ps -q --no-trunc`) and
/// its init's host pid.
#[track_caller]
fn start(root: &TestRoot, args: &[&str]) -> (Running, String, i32) {
    let mut run = root.spawn(args);
    run.expect_line("ready");
    let ps = root.run(&["ps", "-q", "--no-trunc"]);
    ps.ok();
    let ids = ps.lines();
    assert_eq!(ids.len(), 1, "ps -q --no-trunc:\n{}", ps.stdout);
    let id = ids[0].to_string();
    let kids = children_of(run.pid());
    assert_eq!(kids.len(), 1, "children of tinydocker: {kids:?}");
    (run, id, kids[0])
}

/// The share of one CPU the cgroup used over [`CPU_WINDOW`] of wall time,
/// with its stats before and after.
fn cpu_rate(cgroup: &Cgroup) -> (f64, Stats, Stats) {
    let before = cgroup.stats();
    let t0 = Instant::now();
    std::thread::sleep(CPU_WINDOW);
    let after = cgroup.stats();
    let wall = t0.elapsed();
    let used = after.cpu_usage_ns - before.cpu_usage_ns;
    let rate = used as f64 / wall.as_nanos() as f64;
    eprintln!("{}: {rate:.3} of a CPU over {wall:?}", cgroup.rel);
    (rate, before, after)
}

/// [`cpu_rate`] over up to `tries` windows, until one is `accepted`: the
/// suite's other tests share the two CPUs, and a window in which they took
/// one is no measure of the limit. A wrong limit fails every window.
fn cpu_rate_settled(
    cgroup: &Cgroup,
    tries: usize,
    accepted: impl Fn(f64) -> bool,
) -> (f64, Stats, Stats) {
    let mut last = cpu_rate(cgroup);
    for _ in 1..tries {
        if accepted(last.0) {
            break;
        }
        last = cpu_rate(cgroup);
    }
    last
}

/// `rm -f NAME` of a running foreground container: the `run` ends with
/// 137, nothing is left, and its cgroup is gone.
#[track_caller]
fn force_remove(root: &TestRoot, name: &str, mut run: Running, cgroup: &Cgroup) -> Out {
    root.run(&["rm", "-f", name]).ok().stdout_is(name);
    let out = run.finish();
    out.code(137);
    root.assert_no_containers();
    cgroup.assert_gone();
    out
}

/// The row of `ps -a` naming `name`.
#[track_caller]
fn ps_row(root: &TestRoot, name: &str) -> String {
    let ps = root.run(&["ps", "-a"]);
    ps.ok();
    ps.lines()
        .into_iter()
        .find(|l| l.split_whitespace().last() == Some(name))
        .unwrap_or_else(|| panic!("{name} missing from ps -a:\n{}", ps.stdout))
        .to_string()
}

const BUSY: &str = "echo ready; while :; do :; done";
const WAIT: &str = "echo ready; sleep 1000";

#[test]
fn half_a_cpu_throttles_a_busy_loop() {
    let _alone = cpu_alone();
    let root = TestRoot::new();
    let (run, id, _) = start(
        &root,
        &[
            "run", "--name", "half", "--cpus", "0.5", "busybox", "sh", "-c", BUSY,
        ],
    );
    let cgroup = Cgroup::of(&id);
    let (rate, before, after) = cpu_rate_settled(&cgroup, 3, |r| (0.4..=0.6).contains(&r));
    assert!(
        (0.4..=0.6).contains(&rate),
        "--cpus 0.5: a busy loop used {rate:.3} of a CPU ({before:?} -> {after:?})"
    );
    assert!(
        after.nr_throttled > before.nr_throttled,
        "--cpus 0.5: not throttled ({before:?} -> {after:?})"
    );
    force_remove(&root, "half", run, &cgroup);
}

#[test]
fn unlimited_busy_loop_gets_a_whole_cpu() {
    let _alone = cpu_alone();
    let root = TestRoot::new();
    let (run, id, _) = start(
        &root,
        &["run", "--name", "free", "busybox", "sh", "-c", BUSY],
    );
    let cgroup = Cgroup::of(&id);
    let (rate, before, after) = cpu_rate_settled(&cgroup, 4, |r| r > 0.8);
    assert!(
        rate > 0.8,
        "no limit: a busy loop used only {rate:.3} of a CPU ({before:?} -> {after:?})"
    );
    force_remove(&root, "free", run, &cgroup);
}

#[test]
fn init_over_the_memory_limit_is_oom_killed() {
    let root = TestRoot::new();
    // dd allocates its 128 MiB buffer and fills it: over the 64 MiB limit.
    let out = root.run(&[
        "run",
        "--name",
        "hog",
        "--memory",
        "64m",
        "busybox",
        "sh",
        "-c",
        "exec dd if=/dev/zero of=/dev/null bs=128M count=1",
    ]);
    out.code(137)
        .one_error_line()
        .stderr_has("container hog ")
        .stderr_has("OOM killer")
        .stderr_has("64MiB");
    let id = only_id(&root);
    let record = root.record(&id);
    assert_eq!(record["state"]["oom_killed"], true, "record: {record:#}");
    assert_eq!(record["state"]["exit_code"], 137, "record: {record:#}");
    assert_eq!(
        record["spec"]["linux"]["cgroupsPath"],
        format!("tinydocker/{id}"),
        "record: {record:#}"
    );
    let row = ps_row(&root, "hog");
    assert!(row.contains("Exited (137)"), "ps -a row: {row:?}");
    Cgroup::of(&id).assert_gone();
    root.run(&["rm", "hog"]).ok();
    root.assert_no_containers();

    // 32 MiB fit.
    let out = root.run(&[
        "run",
        "--name",
        "fits",
        "--memory",
        "64m",
        "busybox",
        "sh",
        "-c",
        "exec dd if=/dev/zero of=/dev/null bs=32M count=1",
    ]);
    out.ok();
    assert!(!out.stderr.contains("OOM"), "stderr: {:?}", out.stderr);
    let id = only_id(&root);
    let record = root.record(&id);
    assert_eq!(record["state"]["oom_killed"], false, "record: {record:#}");
    assert_eq!(record["state"]["exit_code"], 0, "record: {record:#}");
    Cgroup::of(&id).assert_gone();
    root.run(&["rm", "fits"]).ok();
    root.assert_no_containers();
}

#[test]
fn sigkill_from_the_host_is_not_an_oom_kill() {
    let root = TestRoot::new();
    let (mut run, id, init) = start(
        &root,
        &[
            "run", "--name", "shot", "--memory", "64m", "busybox", "sh", "-c", WAIT,
        ],
    );
    let cgroup = Cgroup::of(&id);
    cgroup.assert_holds(init);
    // SAFETY: kill with a pid and a signal; the pid is our grandchild,
    // alive and not yet reaped by its parent.
    assert_eq!(unsafe { libc::kill(init, libc::SIGKILL) }, 0);
    let out = run.finish();
    out.code(137);
    assert_eq!(out.stderr, "", "no OOM line: {out:?}");
    let record = root.record(&id);
    assert_eq!(record["state"]["oom_killed"], false, "record: {record:#}");
    assert_eq!(record["state"]["exit_code"], 137, "record: {record:#}");
    let row = ps_row(&root, "shot");
    assert!(row.contains("Exited (137)"), "ps -a row: {row:?}");
    cgroup.assert_gone();
    root.run(&["rm", "shot"]).ok();
    root.assert_no_containers();
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    let root = TestRoot::new();
    // busybox sh exits when a fork fails, so a subshell does the forking
    // (and fails); the init then starts one more sleep, which fits again
    // once the subshell is gone, and waits: 10 processes from "ready" on.
    let (run, id, _) = start(
        &root,
        &[
            "run",
            "--name",
            "forky",
            "--pids-limit",
            "10",
            "busybox",
            "sh",
            "-c",
            "(for i in $(seq 30); do sleep 1000 & done); sleep 1000 & echo ready; wait",
        ],
    );
    let cgroup = Cgroup::of(&id);
    let stats = cgroup.stats();
    assert_eq!(stats.pids_current, 10, "{stats:?}");
    assert_eq!(stats.pids_limit, Some(10), "{stats:?}");
    let out = force_remove(&root, "forky", run, &cgroup);
    out.stderr_has("can't fork");
}

#[test]
fn stress_cpu_demo_holds_half_a_core() {
    let _alone = cpu_alone();
    let root = TestRoot::new();
    root.import_stress();
    let (run, id, _) = start(
        &root,
        &[
            "run",
            "--rm",
            "--name",
            "demo-cpu",
            "--cpus",
            "0.5",
            "stress",
            "sh",
            "-c",
            // Long enough for a loaded machine to measure in; `rm -f`
            // ends it.
            "echo ready; exec stress --cpu 1 --timeout 60",
        ],
    );
    let cgroup = Cgroup::of(&id);
    let (rate, before, after) = cpu_rate_settled(&cgroup, 4, |r| (0.4..=0.6).contains(&r));
    assert!(
        (0.4..=0.6).contains(&rate),
        "--cpus 0.5: stress --cpu 1 used {rate:.3} of a CPU ({before:?} -> {after:?})"
    );
    force_remove(&root, "demo-cpu", run, &cgroup);
}

#[test]
fn stress_vm_demo_is_oom_killed() {
    let root = TestRoot::new();
    root.import_stress();
    let out = root.run(&[
        "run",
        "--name",
        "demo-mem",
        "--memory",
        "100m",
        "stress",
        "stress",
        "--vm",
        "1",
        "--vm-bytes",
        "200m",
        "--vm-keep",
    ]);
    assert!(
        out.killed_by.is_none() && out.code != 0,
        "stress should fail on its own: {out:?}"
    );
    out.stderr_has("tinydocker: container demo-mem was killed by the kernel's OOM killer")
        .stderr_has("100MiB")
        .stderr_has("signal 9");
    let id = only_id(&root);
    let record = root.record(&id);
    assert_eq!(record["state"]["oom_killed"], true, "record: {record:#}");
    Cgroup::of(&id).assert_gone();
    root.run(&["rm", "demo-mem"]).ok();
    root.assert_no_containers();
}

#[test]
fn kernel_reports_the_limits_written() {
    let root = TestRoot::new();
    let (run, id, init) = start(
        &root,
        &[
            "run",
            "--name",
            "limited",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--cpuset-cpus",
            "0",
            "--memory-reservation",
            "32m",
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "--pids-limit",
            "20",
            "busybox",
            "sh",
            "-c",
            WAIT,
        ],
    );
    let cgroup = Cgroup::of(&id);
    cgroup.assert_holds(init);
    assert_eq!(cgroup.cpu_max(), (Some(50_000), 100_000));
    assert_eq!(cgroup.read("cpuset", "cpuset.cpus"), "0");
    assert_eq!(cgroup.read("pids", "pids.max"), "20");
    let bytes = |mib: u64| (mib * MIB).to_string();
    if cgroup.manager.is_v2() {
        assert_eq!(
            cgroup.read("cpu", "cpu.weight"),
            shares_to_weight(512).to_string()
        );
        assert_eq!(cgroup.read("memory", "memory.max"), bytes(64));
        assert_eq!(cgroup.read("memory", "memory.low"), bytes(32));
        // v2 limits swap alone: 128m of memory+swap is 64m of swap.
        assert_eq!(cgroup.read("memory", "memory.swap.max"), bytes(64));
    } else {
        assert_eq!(cgroup.read("cpu", "cpu.shares"), "512");
        assert_eq!(cgroup.read("memory", "memory.limit_in_bytes"), bytes(64));
        assert_eq!(
            cgroup.read("memory", "memory.soft_limit_in_bytes"),
            bytes(32)
        );
        assert_eq!(
            cgroup.read("memory", "memory.memsw.limit_in_bytes"),
            bytes(128)
        );
    }
    let stats = cgroup.stats();
    assert_eq!(stats.memory_limit, Some(64 * MIB), "{stats:?}");
    assert_eq!(stats.pids_limit, Some(20), "{stats:?}");
    let record = root.record(&id);
    let resources = &record["spec"]["linux"]["resources"];
    assert_eq!(resources["memory"]["limit"], 64 * MIB, "record: {record:#}");
    assert_eq!(resources["pids"]["limit"], 20, "record: {record:#}");
    force_remove(&root, "limited", run, &cgroup);
}

#[test]
fn update_changes_a_running_containers_limits() {
    let root = TestRoot::new();
    let (mut run, id, _) = start(
        &root,
        &[
            "run", "--name", "grow", "--memory", "64m", "busybox", "sh", "-c", WAIT,
        ],
    );
    let cgroup = Cgroup::of(&id);
    let stats = cgroup.stats();
    assert_eq!(stats.memory_limit, Some(64 * MIB), "{stats:?}");
    assert_eq!(stats.pids_limit, None, "{stats:?}");
    assert_eq!(cgroup.cpu_max().0, None);

    root.run(&[
        "update",
        "--memory",
        "128m",
        "--pids-limit",
        "50",
        "--cpus",
        "0.5",
        "grow",
    ])
    .ok();
    let stats = cgroup.stats();
    assert_eq!(stats.memory_limit, Some(128 * MIB), "{stats:?}");
    assert_eq!(stats.pids_limit, Some(50), "{stats:?}");
    assert_eq!(cgroup.cpu_max(), (Some(50_000), 100_000));
    let record = root.record(&id);
    let resources = &record["spec"]["linux"]["resources"];
    assert_eq!(
        resources["memory"]["limit"],
        128 * MIB,
        "record: {record:#}"
    );
    assert_eq!(resources["pids"]["limit"], 50, "record: {record:#}");

    // Bad input changes nothing.
    root.run(&["update", "--memory", "12x", "grow"])
        .usage_error();
    root.run(&["update", "--memory", "1m", "grow"])
        .usage_error();
    let stats = cgroup.stats();
    assert_eq!(stats.memory_limit, Some(128 * MIB), "{stats:?}");
    // The run that was started with 64m records its exit, and keeps the
    // limits `update` set for the next start.
    root.run(&["kill", "grow"]).ok();
    run.finish().code(137);
    let record = root.record(&id);
    assert_eq!(record["state"]["status"], "exited", "record: {record:#}");
    let resources = &record["spec"]["linux"]["resources"];
    assert_eq!(
        resources["memory"]["limit"],
        128 * MIB,
        "record: {record:#}"
    );
    assert_eq!(resources["pids"]["limit"], 50, "record: {record:#}");
    cgroup.assert_gone();
    root.run(&["rm", "grow"]).ok();

    // Only running containers can be updated.
    root.run(&["run", "--name", "done", "busybox", "true"]).ok();
    root.run(&["update", "--memory", "128m", "done"])
        .usage_error()
        .stderr_has("done");
    root.run(&["update", "--memory", "128m", "no-such-container"])
        .usage_error();
    root.run(&["rm", "done"]).ok();
    root.assert_no_containers();
}

#[test]
fn stats_shows_a_running_container() {
    let root = TestRoot::new();
    let (run, id, _) = start(
        &root,
        &[
            "run",
            "--name",
            "watched",
            "-m",
            "64m",
            "busybox",
            "sh",
            "-c",
            "echo ready; exec sleep 1000",
        ],
    );
    let out = root.run(&["stats", "--no-stream", "watched"]);
    out.ok();
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "stats:\n{}", out.stdout);
    let header = lines[0];
    let mut at = 0;
    for column in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ] {
        let found = header[at..]
            .find(column)
            .unwrap_or_else(|| panic!("{column:?} missing (in order) from {header:?}"));
        at += found + column.len();
    }
    let row = lines[1];
    let words: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(words[0], &id[..12], "row: {row:?}");
    assert_eq!(words[1], "watched", "row: {row:?}");
    assert!(row.contains(" / 64MiB "), "row: {row:?}");
    assert_eq!(words.last(), Some(&"1"), "PIDS: {row:?}");
    force_remove(&root, "watched", run, &Cgroup::of(&id));
}

#[test]
fn cgroups_are_removed_with_their_containers() {
    let root = TestRoot::new();

    // --rm: gone when the container exits.
    let (mut run, id, init) = start(
        &root,
        &[
            "run",
            "--rm",
            "--name",
            "brief",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done",
        ],
    );
    let cgroup = Cgroup::of(&id);
    cgroup.assert_holds(init);
    assert_eq!(root.record(&id)["spec"]["linux"]["cgroupsPath"], cgroup.rel);
    run.signal(libc::SIGTERM);
    run.finish().ok();
    root.assert_no_containers();
    cgroup.assert_gone();

    // Kept record: the cgroup still goes when the container exits.
    root.run(&["run", "--name", "kept", "busybox", "sh", "-c", "exit 3"])
        .code(3);
    let cgroup = Cgroup::of(&only_id(&root));
    cgroup.assert_gone();
    root.run(&["rm", "kept"]).ok();
    root.assert_no_containers();

    // rm -f of a running container.
    let (run, id, init) = start(
        &root,
        &["run", "--name", "forced", "busybox", "sh", "-c", WAIT],
    );
    let cgroup = Cgroup::of(&id);
    cgroup.assert_holds(init);
    force_remove(&root, "forced", run, &cgroup);

    // The runtime itself dies: rm -f still removes the cgroup.
    let (mut run, id, init) = start(
        &root,
        &["run", "--name", "orphaned", "busybox", "sh", "-c", WAIT],
    );
    let cgroup = Cgroup::of(&id);
    cgroup.assert_holds(init);
    run.signal(libc::SIGKILL);
    let out = run.finish();
    assert_eq!(out.killed_by, Some(libc::SIGKILL), "{out:?}");
    root.run(&["rm", "-f", "orphaned"]).ok();
    root.assert_no_containers();
    cgroup.assert_gone();
}

#[test]
fn cgroup_parent_holds_the_container() {
    let parent = ParentGuard(unique_parent());
    let root = TestRoot::new();
    let (run, id, init) = start(
        &root,
        &[
            "run",
            "--name",
            "nested",
            "--cgroup-parent",
            &parent.0,
            "--memory",
            "64m",
            "busybox",
            "sh",
            "-c",
            WAIT,
        ],
    );
    let cgroup = Cgroup::new(format!("{}/{id}", parent.0));
    cgroup.assert_holds(init);
    assert_eq!(cgroup.stats().memory_limit, Some(64 * MIB));
    assert_eq!(root.record(&id)["spec"]["linux"]["cgroupsPath"], cgroup.rel);
    Cgroup::of(&id).assert_gone();
    force_remove(&root, "nested", run, &cgroup);
}

/// `run FLAGS busybox true` must fail as a usage error and leave nothing:
/// no record, no name, no cgroup. Tried with and without `--rm`, and with a
/// `--cgroup-parent` of its own, whose absence afterwards shows that nothing
/// was created in cgroupfs (`tinydocker/` itself is shared with the tests
/// running in parallel). Returns the last output.
#[track_caller]
fn rejected(root: &TestRoot, flags: &[&str]) -> Out {
    let parent = ParentGuard(unique_parent());
    let mut last = None;
    for (rm, own_parent) in [(true, false), (false, false), (true, true), (false, true)] {
        let mut args = vec!["run"];
        if rm {
            args.push("--rm");
        }
        if own_parent {
            args.extend(["--cgroup-parent", &parent.0]);
        }
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        let out = root.run(&args);
        out.usage_error();
        root.assert_no_containers();
        assert_eq!(
            cgroup_dirs(&parent.0),
            Vec::<PathBuf>::new(),
            "{args:?} created cgroups"
        );
        last = Some(out);
    }
    last.expect("ran")
}

#[test]
fn bad_limits_are_rejected() {
    let root = TestRoot::new();
    let cpus = tinydocker_cgroups::online_cpus().expect("online CPUs");
    let n = cpus.len();

    rejected(&root, &["--cpus", "0"]);
    rejected(&root, &["--cpus=-1"]);
    rejected(&root, &["--cpus", &(n + 1).to_string()])
        .stderr_has("0.01")
        .stderr_has(&format!("{n}.00"));
    rejected(&root, &["--memory", "12x"]).stderr_has("12x");
    rejected(&root, &["--memory", "1m"]).stderr_has("6MiB");
    rejected(&root, &["--memory", "64m", "--memory-swap", "32m"]);
    let beyond = cpus.iter().max().expect("a CPU") + 1;
    rejected(&root, &["--cpuset-cpus", &format!("0-{beyond}")]);
    rejected(&root, &["--cpu-quota", "999"]);

    // A parent that climbs out of the hierarchy: nothing is made next to
    // the hierarchies either.
    let parent = ParentGuard(unique_parent());
    let climbing = format!("../{}", parent.0);
    let out = root.run(&[
        "run",
        "--rm",
        "--cgroup-parent",
        &climbing,
        "busybox",
        "true",
    ]);
    out.usage_error();
    let out = root.run(&["run", "--cgroup-parent", &climbing, "busybox", "true"]);
    out.usage_error();
    root.assert_no_containers();
    for h in hierarchies() {
        for dir in [h.join(&parent.0), h.join(&climbing)] {
            assert!(!dir.exists(), "{} was created", dir.display());
        }
    }
}

/// docker takes `--cpus -1` (a separate, negative value) as a value and
/// rejects it with one line, as it does `--cpus=-1`.
#[test]
fn negative_cpus_as_a_separate_argument() {
    let root = TestRoot::new();
    rejected(&root, &["--cpus", "-1"]);
}

#[test]
fn shared_parents_go_with_the_last_container() {
    // Levels of tinydocker's own tree are removed by the last container out
    // of them, whichever way it ends; a parent outside that tree is the
    // user's and stays. (`tinydocker` itself is shared with the other tests
    // running now, so its own removal is checked through a level below it.)
    let shared = ParentGuard(format!("tinydocker/{}", unique_parent()));
    let users = ParentGuard(unique_parent());
    let root = TestRoot::new();
    let spawn = |name: &str| {
        let args = [
            "run",
            "--name",
            name,
            "--cgroup-parent",
            &shared.0,
            "busybox",
            "sh",
            "-c",
            WAIT,
        ];
        let mut run = root.spawn(&args);
        run.expect_line("ready");
        run
    };
    let mut first = spawn("first");
    let mut second = spawn("second");

    root.run(&["rm", "-f", "first"]).ok();
    assert_eq!(first.finish().code, 137);
    assert!(
        !cgroup_dirs(&shared.0).is_empty(),
        "{} removed while second runs",
        shared.0
    );

    // The last one out: its runtime is killed, then rm cleans up.
    second.signal(libc::SIGKILL);
    second.finish();
    root.run(&["rm", "-f", "second"]).ok();
    root.assert_no_containers();
    assert_eq!(
        cgroup_dirs(&shared.0),
        Vec::<PathBuf>::new(),
        "{} left behind",
        shared.0
    );

    // A container that exits by itself takes its level along too.
    root.run(&[
        "run",
        "--rm",
        "--cgroup-parent",
        &shared.0,
        "busybox",
        "true",
    ])
    .ok();
    assert_eq!(
        cgroup_dirs(&shared.0),
        Vec::<PathBuf>::new(),
        "{} left behind",
        shared.0
    );

    // The user's parent stays.
    root.run(&[
        "run",
        "--rm",
        "--cgroup-parent",
        &users.0,
        "busybox",
        "true",
    ])
    .ok();
    assert!(
        !cgroup_dirs(&users.0).is_empty(),
        "the user's parent {} was removed",
        users.0
    );
}
