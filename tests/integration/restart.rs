//! `start`, `restart`, `--restart` policies, and a container across a
//! host reboot.

use tinydocker_tests::TestRoot;

use super::cgroups::cgroup_dirs;

fn detach(root: &TestRoot, args: &[&str]) -> String {
    let mut all = vec!["run", "-d"];
    all.extend_from_slice(args);
    let out = root.run(&all);
    out.ok();
    out.text().to_string()
}

fn state(root: &TestRoot, id: &str) -> serde_json::Value {
    root.record(id)["state"].clone()
}

fn status(root: &TestRoot, name: &str) -> String {
    let out = root.run(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    out.ok();
    out.lines()
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in ps: {}", out.text()))
        .to_string()
}

/// Wait (a test may poll; the runtime does not) until process `pid` is gone.
pub(super) fn wait_gone(pid: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} still runs"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Wait until the host interface `name` is gone: it goes with its network
/// namespace, which the kernel tears down in the background.
pub(super) fn link_gone(name: &str) {
    let path = format!("/sys/class/net/{name}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::path::Path::new(&path).exists() {
        assert!(std::time::Instant::now() < deadline, "{name} left behind");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn stdout_log(root: &TestRoot, name: &str) -> String {
    let out = root.run(&["logs", name]);
    out.ok();
    out.stdout.clone()
}

#[test]
fn start_runs_a_stopped_container_again_with_its_writable_layer() {
    let root = TestRoot::new();
    let id = detach(
        &root,
        &[
            "--name",
            "again",
            "busybox",
            "sh",
            "-c",
            "echo run >> /runs; cat /runs | wc -l; exit 7",
        ],
    );
    root.run(&["wait", "again"]).ok().stdout_is("7");
    // start prints what it was given, like docker.
    root.run(&["start", "again"]).ok().stdout_is("again");
    root.run(&["wait", "again"]).ok().stdout_is("7");
    // The same writable layer: the second run saw the first one's file.
    assert_eq!(stdout_log(&root, "again"), "1\n2\n");
    assert_eq!(state(&root, &id)["exit_code"], 7);
    // A running container cannot be started again.
    root.run(&["restart", "-t", "0", "again"]).ok();
    let sleeper = detach(&root, &["--name", "busy", "busybox", "sleep", "100"]);
    root.run(&["start", "busy"])
        .code(125)
        .one_error_line()
        .stderr_has("already running");
    // restart: stopped (killed after -t), then running again with a new pid.
    let before = state(&root, &sleeper)["pid"].clone();
    root.run(&["restart", "-t", "0", "busy"])
        .ok()
        .stdout_is("busy");
    let after = state(&root, &sleeper);
    assert_eq!(after["status"], "running");
    assert_ne!(after["pid"], before);
    assert!(status(&root, "busy").starts_with("Up"));
    root.run(&["rm", "-f", "busy", "again"]).ok();
    root.run(&["start", "busy"]).code(125).one_error_line();
    root.assert_no_containers();
}

#[test]
fn start_of_a_bridge_container_gets_its_network_back() {
    let root = TestRoot::new();
    let id = detach(
        &root,
        &[
            "--network",
            "bridge",
            "--name",
            "netted",
            "busybox",
            "sleep",
            "100",
        ],
    );
    let ip = root.record(&id)["config"]["net"]["ip"].clone();
    root.run(&["stop", "-t", "0", "netted"]).ok();
    assert_eq!(state(&root, &id)["net_released"], true);
    root.run(&["start", "netted"]).ok();
    let record = root.record(&id);
    // Its address of before, free again, and a veth on the bridge.
    assert_eq!(record["config"]["net"]["ip"], ip);
    let host_if = record["config"]["net"]["host_if"].as_str().unwrap();
    assert!(std::path::Path::new(&format!("/sys/class/net/{host_if}")).exists());
    root.run(&["rm", "-f", "netted"]).ok();
    link_gone(host_if);
    root.assert_no_containers();
}

#[test]
fn on_failure_restarts_up_to_its_limit() {
    let root = TestRoot::new();
    let id = detach(
        &root,
        &[
            "--restart",
            "on-failure:2",
            "--name",
            "flaky",
            "busybox",
            "sh",
            "-c",
            "echo try; exit 3",
        ],
    );
    // The supervisor gives up after the first run and two restarts (with
    // backoff: 100 ms, 200 ms), then exits: the same process throughout
    // (it re-executes itself for each run).
    let supervisor = state(&root, &id)["runtime_pid"].as_i64().unwrap();
    wait_gone(supervisor);
    assert_eq!(stdout_log(&root, "flaky"), "try\ntry\ntry\n");
    let s = state(&root, &id);
    assert_eq!(s["restart_count"], 2);
    assert_eq!(s["status"], "exited");
    let inspect: serde_json::Value =
        serde_json::from_str(&root.run(&["inspect", "flaky"]).stdout).unwrap();
    assert_eq!(inspect[0]["RestartCount"], 2);
    assert_eq!(
        inspect[0]["HostConfig"]["RestartPolicy"]["Name"],
        "on-failure"
    );
    assert_eq!(
        inspect[0]["HostConfig"]["RestartPolicy"]["MaximumRetryCount"],
        2
    );
    root.run(&["rm", "flaky"]).ok();
    root.assert_no_containers();
}

#[test]
fn always_restarts_until_stopped() {
    let root = TestRoot::new();
    let id = detach(
        &root,
        &[
            "--restart",
            "always",
            "--name",
            "loop",
            "busybox",
            "sh",
            "-c",
            "exit 0",
        ],
    );
    // Exits at once, every time: restarted (with growing delays) until
    // stop, which ends it for good even while it waits to restart.
    root.run(&["wait", "loop"]).ok().stdout_is("0");
    root.run(&["stop", "-t", "1", "loop"]).ok();
    let s = state(&root, &id);
    assert_eq!(s["status"], "exited", "{s}");
    let supervisor = s["runtime_pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{supervisor}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "the supervisor still runs after stop: {stat}"
    );
    assert!(status(&root, "loop").starts_with("Exited (0)"));
    assert_eq!(
        cgroup_dirs(&format!("tinydocker/{id}")),
        Vec::<std::path::PathBuf>::new()
    );
    root.run(&["rm", "loop"]).ok();
    root.assert_no_containers();
}

#[test]
fn restart_policy_bad_input() {
    let root = TestRoot::new();
    for bad in ["sometimes", "always:3", "on-failure:x", "on-failure:-1"] {
        root.run(&["run", "--restart", bad, "busybox", "true"])
            .code(125)
            .one_error_line()
            .stderr_has("restart policy");
    }
    root.run(&["run", "--rm", "--restart", "always", "busybox", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("conflicting options");
    root.run(&["start", "nope"]).code(125).one_error_line();
    root.run(&["restart", "-t", "-1", "nope"])
        .code(125)
        .one_error_line();
    root.assert_no_containers();
}

#[test]
fn after_a_reboot_containers_show_exited_and_start_and_rm_work() {
    let root = TestRoot::new();
    // A reboot takes every process, cgroup, mount and interface and leaves
    // the state root. Made here: the container's supervisor is killed (its
    // init dies with it), its cgroup removed, its veth deleted, and its
    // record given another boot's id.
    let id = detach(
        &root,
        &[
            "--network",
            "bridge",
            "--name",
            "booted",
            "busybox",
            "sleep",
            "100",
        ],
    );
    let record_path = root
        .path()
        .join("containers")
        .join(&id)
        .join("container.json");
    let s = state(&root, &id);
    // SAFETY: SIGKILL to the test's own supervisor process.
    unsafe { libc::kill(s["runtime_pid"].as_i64().unwrap() as i32, libc::SIGKILL) };
    root.run(&["wait", "booted"]).ok();
    for dir in cgroup_dirs(&format!("tinydocker/{id}")) {
        std::fs::remove_dir(&dir).unwrap_or_else(|e| panic!("rmdir {}: {e}", dir.display()));
    }
    let host_if = root.record(&id)["config"]["net"]["host_if"]
        .as_str()
        .unwrap()
        .to_string();
    let _ = std::process::Command::new("ip")
        .args(["link", "del", &host_if])
        .status();
    let mut record = root.record(&id);
    record["state"]["boot_id"] = "00000000-0000-0000-0000-000000000000".into();
    std::fs::write(&record_path, serde_json::to_vec(&record).unwrap()).unwrap();
    // Shown as exited, docker's 255, not as running or dead.
    assert!(status(&root, "booted").starts_with("Exited (255)"));
    let inspect: serde_json::Value =
        serde_json::from_str(&root.run(&["inspect", "booted"]).stdout).unwrap();
    assert_eq!(inspect[0]["State"]["Status"], "exited");
    assert_eq!(inspect[0]["State"]["ExitCode"], 255);
    // start works (its old address released and taken again), then rm.
    root.run(&["start", "booted"]).ok();
    assert!(status(&root, "booted").starts_with("Up"));
    assert_eq!(
        state(&root, &id)["boot_id"],
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .unwrap()
            .trim()
    );
    root.run(&["rm", "-f", "booted"]).ok();
    link_gone(&host_if);
    root.assert_no_containers();
}

#[test]
fn concurrent_starts_of_one_container_start_it_once() {
    let root = TestRoot::new();
    detach(&root, &["--name", "once", "busybox", "sleep", "100"]);
    root.run(&["stop", "-t", "0", "once"]).ok();
    // Four at the same time: the container's lock lets one claim it.
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let cmd = root.cmd(&["start", "once"]);
            std::thread::spawn(move || tinydocker_tests::output(cmd, None))
        })
        .collect();
    let outs: Vec<_> = starts.into_iter().map(|t| t.join().unwrap()).collect();
    let started = outs.iter().filter(|o| o.code == 0).count();
    assert_eq!(
        started,
        1,
        "{:?}",
        outs.iter().map(|o| &o.stderr).collect::<Vec<_>>()
    );
    for out in outs.iter().filter(|o| o.code != 0) {
        out.code(125).one_error_line().stderr_has("already running");
    }
    // One supervisor, one init.
    let supervisors = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c).contains("__supervise")
                        && String::from_utf8_lossy(&c).contains(&*root.path().to_string_lossy())
                })
                .unwrap_or(false)
        })
        .count();
    assert_eq!(supervisors, 1);
    root.run(&["rm", "-f", "once"]).ok();
    root.assert_no_containers();
}
