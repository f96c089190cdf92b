//! `start`, `restart`, `--restart` policies, and a container across a
//! host reboot.

use tinydocker_tests::{link_gone, process_alive, settles, wait_gone, TestRoot};

use super::cgroups::cgroup_dirs;

fn stdout_log(root: &TestRoot, name: &str) -> String {
    let out = root.run(&["logs", name]);
    out.ok();
    out.stdout.clone()
}

#[test]
fn start_runs_a_stopped_container_again_with_its_writable_layer() {
    let root = TestRoot::new();
    let id = root.detach(&[
        "--name",
        "again",
        "busybox",
        "sh",
        "-c",
        "echo run >> /runs; cat /runs | wc -l; exit 7",
    ]);
    root.run(&["wait", "again"]).ok().stdout_is("7");
    // start prints what it was given, like docker.
    root.run(&["start", "again"]).ok().stdout_is("again");
    root.run(&["wait", "again"]).ok().stdout_is("7");
    // The same writable layer: the second run saw the first one's file.
    assert_eq!(stdout_log(&root, "again"), "1\n2\n");
    assert_eq!(root.state(&id)["exit_code"], 7);
    // restart of a stopped container starts it: a third run.
    root.run(&["restart", "-t", "0", "again"]).ok();
    root.run(&["wait", "again"]).ok().stdout_is("7");
    assert_eq!(stdout_log(&root, "again"), "1\n2\n3\n");
    // A running container cannot be started again.
    let sleeper = root.detach(&["--name", "busy", "busybox", "sleep", "100"]);
    root.run(&["start", "busy"])
        .code(125)
        .one_error_line()
        .stderr_has("already running");
    // restart: stopped (killed after -t), then running again with a new pid.
    let before = root.state(&sleeper)["pid"].clone();
    root.run(&["restart", "-t", "0", "busy"])
        .ok()
        .stdout_is("busy");
    let after = root.state(&sleeper);
    assert_eq!(after["status"], "running");
    assert_ne!(after["pid"], before);
    assert!(root.status_of("busy").starts_with("Up"));
    root.run(&["rm", "-f", "busy", "again"]).ok();
    root.run(&["start", "busy"]).code(125).one_error_line();
    root.assert_no_containers();
}

#[test]
fn start_of_a_bridge_container_gets_its_network_back() {
    let root = TestRoot::new();
    let id = root.detach(&[
        "--network",
        "bridge",
        "--name",
        "netted",
        "busybox",
        "sleep",
        "100",
    ]);
    let ip = root.record(&id)["state"]["net"]["ip"].clone();
    root.run(&["stop", "-t", "0", "netted"]).ok();
    assert_eq!(root.state(&id)["net_released"], true);
    root.run(&["start", "netted"]).ok();
    let record = root.record(&id);
    // Its address of before, free again, and a veth on the bridge.
    assert_eq!(record["state"]["net"]["ip"], ip);
    let host_if = record["state"]["net"]["host_if"].as_str().unwrap();
    assert!(std::path::Path::new(&format!("/sys/class/net/{host_if}")).exists());
    root.run(&["rm", "-f", "netted"]).ok();
    link_gone(host_if);
    root.assert_no_containers();
}

#[test]
fn on_failure_restarts_up_to_its_limit() {
    let root = TestRoot::new();
    let id = root.detach(&[
        "--restart",
        "on-failure:2",
        "--name",
        "flaky",
        "busybox",
        "sh",
        "-c",
        "echo try; exit 3",
    ]);
    // The supervisor gives up after the first run and two restarts (with
    // backoff: 100 ms, 200 ms), then exits: the same process throughout
    // (it re-executes itself for each run).
    let supervisor = root.state(&id)["runtime_pid"].as_i64().unwrap();
    wait_gone(supervisor);
    assert_eq!(stdout_log(&root, "flaky"), "try\ntry\ntry\n");
    let s = root.state(&id);
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
    let id = root.detach(&[
        "--restart",
        "always",
        "--name",
        "loop",
        "busybox",
        "sh",
        "-c",
        "exit 0",
    ]);
    // Exits at once, every time: restarted (with growing delays) until
    // stop, which ends it for good even while it waits to restart.
    root.run(&["wait", "loop"]).ok().stdout_is("0");
    assert!(
        settles(|| root.state(&id)["restart_count"].as_i64() >= Some(2)),
        "{}",
        root.state(&id)
    );
    // A TERM that lands before sh has set up is ignored (pid 1, no
    // handler): the grace period must outlast the `exit 0`.
    root.run(&["stop", "-t", "10", "loop"]).ok();
    let s = root.state(&id);
    assert_eq!(s["status"], "exited", "{s}");
    let supervisor = s["runtime_pid"].as_i64().unwrap();
    assert!(
        !process_alive(supervisor),
        "the supervisor still runs after stop"
    );
    assert!(root.status_of("loop").starts_with("Exited (0)"));
    assert_eq!(
        cgroup_dirs(&format!("tinydocker/{id}")),
        Vec::<std::path::PathBuf>::new()
    );
    root.run(&["rm", "loop"]).ok();
    root.assert_no_containers();
}

#[test]
fn prune_and_rm_never_take_a_restarting_container() {
    let root = TestRoot::new();
    let id = root.detach(&[
        "--restart",
        "always",
        "--name",
        "looping",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    // Between its runs the container is waiting to restart or being
    // started again, never stopped: `container prune` and `rm` without -f
    // leave it, whatever moment they land on. They race it from its first
    // run to its fourth restart.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut rounds = 0;
    while root.state(&id)["restart_count"].as_i64() < Some(4) {
        assert!(std::time::Instant::now() < deadline, "{}", root.state(&id));
        root.run(&["container", "prune", "-f"]).ok();
        root.run(&["rm", "looping"])
            .code(125)
            .one_error_line()
            .stderr_has("stop the container before removing or force remove");
        rounds += 1;
    }
    assert!(rounds > 1, "{rounds} rounds");
    root.run(&["rm", "-f", "looping"]).ok();
    root.assert_no_containers();
}

#[test]
fn wait_on_a_restarting_container_waits_for_the_next_run() {
    let root = TestRoot::new();
    // Runs 1 to 3 exit 3, later ones 5 (the count is kept in the writable
    // layer); on-failure:4 gives up after the fifth run.
    let id = root.detach(&[
        "--restart",
        "on-failure:4",
        "--name",
        "counting",
        "busybox",
        "sh",
        "-c",
        "n=$(cat /n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /n; [ $n -ge 4 ] && exit 5; exit 3",
    ]);
    // Between runs, from the end of the third one: a restarting container
    // counts as running, as in docker, so `wait` returns at the end of
    // the next run, not with the code of the one before.
    assert!(
        settles(|| {
            let s = root.state(&id);
            s["status"] == "restarting" && s["restart_count"].as_i64() >= Some(2)
        }),
        "{}",
        root.state(&id)
    );
    root.run(&["wait", "counting"]).ok().stdout_is("5");
    let supervisor = root.state(&id)["runtime_pid"].as_i64().unwrap();
    wait_gone(supervisor);
    assert_eq!(root.state(&id)["restart_count"], 4);
    root.run(&["rm", "counting"]).ok();
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
    root.detach(&["--name", "tt", "busybox", "sleep", "100"]);
    for bad in ["-1", "x"] {
        root.run(&["restart", "-t", bad, "tt"])
            .code(125)
            .one_error_line();
    }
    assert!(root.status_of("tt").starts_with("Up"));
    root.run(&["rm", "-f", "tt"]).ok();
    root.assert_no_containers();
}

#[test]
fn after_a_reboot_containers_show_exited_and_start_and_rm_work() {
    let root = TestRoot::new();
    // A reboot takes every process, cgroup, mount and interface and leaves
    // the state root. Made here: the container's supervisor is killed (its
    // init dies with it), its cgroup removed, its veth deleted, and its
    // record given another boot's id.
    let id = root.detach(&[
        "--network",
        "bridge",
        "--name",
        "booted",
        "busybox",
        "sleep",
        "100",
    ]);
    let record_path = root
        .path()
        .join("containers")
        .join(&id)
        .join("container.json");
    let s = root.state(&id);
    // SAFETY: SIGKILL to the test's own supervisor process.
    unsafe { libc::kill(s["runtime_pid"].as_i64().unwrap() as i32, libc::SIGKILL) };
    root.run(&["wait", "booted"]).ok();
    // The cgroup is busy for a moment after its last task has gone.
    for dir in cgroup_dirs(&format!("tinydocker/{id}")) {
        let mut error = None;
        let removed = settles(|| match std::fs::remove_dir(&dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                error = Some(e);
                false
            }
            other => {
                other.unwrap_or_else(|e| panic!("rmdir {}: {e}", dir.display()));
                true
            }
        });
        assert!(removed, "rmdir {}: {error:?}", dir.display());
    }
    let host_if = root.record(&id)["state"]["net"]["host_if"]
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
    assert!(root.status_of("booted").starts_with("Exited (255)"));
    let inspect: serde_json::Value =
        serde_json::from_str(&root.run(&["inspect", "booted"]).stdout).unwrap();
    assert_eq!(inspect[0]["State"]["Status"], "exited");
    assert_eq!(inspect[0]["State"]["ExitCode"], 255);
    // start works (its old address released and taken again), then rm.
    root.run(&["start", "booted"]).ok();
    assert!(root.status_of("booted").starts_with("Up"));
    assert_eq!(
        root.state(&id)["boot_id"],
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
    let id = root.detach(&["--name", "once", "busybox", "sleep", "100"]);
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
    // One init in the container's cgroup, and its supervisor recorded as
    // alive. (Command lines are no guide: the supervisor re-executes itself
    // after it reports the start, and a process in the middle of execve
    // shows an empty one.)
    let cmdline = |pid: &str| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).into_owned())
            .unwrap_or_default()
    };
    let in_cgroup = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|c| c.contains(&format!("/{id}\n")))
    };
    let inits: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| cmdline(pid) == "sleep\x00100\x00" && in_cgroup(pid))
        .collect();
    let s = root.state(&id);
    assert!(process_alive(s["runtime_pid"].as_i64().unwrap()), "{s}");
    assert_eq!(inits.len(), 1, "{inits:?}");
    root.run(&["rm", "-f", "once"]).ok();
    root.assert_no_containers();
}
