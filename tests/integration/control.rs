//! `stop`, `kill` and `inspect` of containers run in the foreground.

use serde_json::Value;
use tinydocker_tests::{TempDir, TestRoot};

const TRAP: &str = "trap 'exit 5' TERM; echo ready; while :; do sleep 0.1; done";

fn inspect(root: &TestRoot, key: &str) -> Value {
    let out = root.run(&["inspect", key]);
    out.ok();
    let all: Value = serde_json::from_str(&out.stdout).expect("inspect prints JSON");
    all[0].clone()
}

#[test]
fn stop_sends_term_then_kill_after_the_grace_time() {
    let root = TestRoot::new();
    let mut run = root.spawn(&["run", "--name", "trapper", "busybox", "sh", "-c", TRAP]);
    run.expect_line("ready");
    root.run(&["stop", "trapper"]).ok().stdout_is("trapper");
    // The trap ran: TERM reached the init, which exited with its own code,
    // and stop returned only once the exit was recorded.
    run.finish().code(5);
    assert!(inspect(&root, "trapper")["State"]["Status"] == "exited");
    assert_eq!(inspect(&root, "trapper")["State"]["ExitCode"], 5);

    // A pid 1 without a TERM handler ignores TERM: KILL after the grace time.
    let mut run = root.spawn(&[
        "run",
        "--name",
        "sleeper",
        "busybox",
        "sh",
        "-c",
        "echo ready; exec sleep 1000",
    ]);
    run.expect_line("ready");
    root.run(&["stop", "-t", "1", "sleeper"])
        .ok()
        .stdout_is("sleeper");
    run.finish().code(137);
    assert_eq!(inspect(&root, "sleeper")["State"]["ExitCode"], 137);
    // Stopping a stopped container is fine, as with docker.
    root.run(&["stop", "sleeper"]).ok().stdout_is("sleeper");
    root.run(&["stop", "-t", "-1", "sleeper"]).usage_error();
    root.run(&["stop", "nosuch"]).usage_error();
}

#[test]
fn kill_sends_the_signal_asked_for() {
    let root = TestRoot::new();
    let mut run = root.spawn(&["run", "--name", "target", "busybox", "sh", "-c", TRAP]);
    run.expect_line("ready");
    root.run(&["kill", "-s", "NOPE", "target"]).usage_error();
    root.run(&["kill", "-s", "SIGTERM", "target"])
        .ok()
        .stdout_is("target");
    run.finish().code(5);
    root.run(&["kill", "target"])
        .usage_error()
        .stderr_has("not running");

    let mut run = root.spawn(&["run", "--name", "victim", "busybox", "sh", "-c", TRAP]);
    run.expect_line("ready");
    root.run(&["kill", "victim"]).ok().stdout_is("victim");
    run.finish().code(137);
    assert_eq!(inspect(&root, "victim")["State"]["OOMKilled"], false);
}

#[test]
fn inspect_shows_containers_images_and_networks() {
    let root = TestRoot::new();
    let mut run = root.spawn(&[
        "run",
        "--name",
        "seen",
        "-m",
        "64m",
        "-e",
        "K=V",
        "-w",
        "/tmp",
        "busybox",
        "sh",
        "-c",
        "echo ready; exec sleep 1000",
    ]);
    run.expect_line("ready");
    let c = inspect(&root, "seen");
    assert_eq!(c["Name"], "/seen");
    assert_eq!(c["Id"].as_str().unwrap().len(), 64);
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["State"]["Running"], true);
    assert!(c["State"]["Pid"].as_i64().unwrap() > 0);
    assert!(c["State"]["StartedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(c["Config"]["Cmd"][0], "sh");
    assert_eq!(c["Config"]["WorkingDir"], "/tmp");
    assert!(c["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "K=V"));
    assert_eq!(c["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(c["HostConfig"]["NetworkMode"], "none");
    assert_eq!(c["Image"].as_str().unwrap(), root.busybox_id);
    // By id prefix too.
    let id = c["Id"].as_str().unwrap().to_string();
    assert_eq!(inspect(&root, &id[..10])["Name"], "/seen");

    root.run(&["kill", "seen"]).ok();
    run.finish().code(137);
    let c = inspect(&root, "seen");
    assert_eq!(c["State"]["Status"], "exited");
    assert_eq!(c["State"]["Running"], false);
    assert_eq!(c["State"]["Pid"], 0);
    assert_eq!(c["State"]["ExitCode"], 137);

    let image = inspect(&root, "busybox");
    assert_eq!(image["Id"].as_str().unwrap(), root.busybox_id);
    assert_eq!(image["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    // docker's: what was found (nothing), the error, 1.
    root.run(&["inspect", "nosuchthing"])
        .code(1)
        .stdout_is("[]")
        .stderr_has("Error: No such object: nosuchthing");
}

#[test]
fn inspect_shows_volumes_even_once_their_sources_are_gone() {
    let root = TestRoot::new();
    let dir = TempDir::new("inspect-volumes");
    let (ro, rw) = (dir.join("ro"), dir.join("rw"));
    std::fs::create_dir(&ro).unwrap();
    std::fs::create_dir(&rw).unwrap();
    let (ro_flag, rw_flag) = (
        format!("{}:/data:ro", ro.display()),
        format!("{}:/work", rw.display()),
    );
    root.run(&[
        "run", "--name", "vols", "-v", &ro_flag, "-v", &rw_flag, "busybox", "true",
    ])
    .ok();
    // Sources gone: inspect reads the spec, not the host.
    std::fs::remove_dir(&ro).unwrap();
    std::fs::remove_dir(&rw).unwrap();
    let c = inspect(&root, "vols");
    let binds: Vec<&str> = c["HostConfig"]["Binds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert_eq!(binds, [ro_flag.as_str(), rw_flag.as_str()]);
    let mounts = c["Mounts"].as_array().unwrap();
    assert_eq!(mounts.len(), 2);
    assert_eq!(mounts[0]["Destination"], "/data");
    assert_eq!(mounts[0]["RW"], false);
    assert_eq!(mounts[1]["Source"], rw.display().to_string());
    assert_eq!(mounts[1]["RW"], true);
    root.run(&["rm", "vols"]).ok();
}
