//! `tinydocker create`: a container made as `run` makes it and left
//! unstarted (docker's "created"), then started, waited on, pruned or
//! removed like any stopped container.

use tinydocker_tests::{settles, TestRoot};

/// `create ARGS...` (no network of its own): the id it printed.
#[track_caller]
fn create(root: &TestRoot, args: &[&str]) -> String {
    let mut all = vec!["create", "--network", "none"];
    all.extend_from_slice(args);
    let out = root.run(&all);
    out.ok();
    let id = out.text().to_string();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "create printed {id:?}"
    );
    id
}

fn inspect(root: &TestRoot, name: &str) -> serde_json::Value {
    let out = root.run(&["inspect", name]);
    out.ok();
    let all: serde_json::Value = serde_json::from_str(out.text()).expect("inspect's JSON");
    all[0].clone()
}

#[test]
fn a_created_container_is_listed_inspected_waited_on_and_removed_unstarted() {
    let root = TestRoot::new();
    let id = create(&root, &["--name", "made", "busybox", "echo", "hi"]);
    assert_eq!(root.status_of("made"), "Created");
    root.run(&["ps", "-q"]).ok().stdout_is("");
    let state = &inspect(&root, "made")["State"];
    assert_eq!(state["Status"], "created", "{state}");
    assert_eq!(state["Running"], false);
    assert_eq!(state["Pid"], 0);
    assert_eq!(state["StartedAt"], "0001-01-01T00:00:00Z");
    // Nothing of a run yet: no cgroup, no log.
    assert!(!root
        .path()
        .join("containers")
        .join(&id)
        .join("container.log")
        .exists());
    // Not running: a wait answers at once.
    root.run(&["wait", "made"]).ok().stdout_is("0");
    // The name is taken, and a second create leaves nothing behind.
    root.run(&[
        "create",
        "--network",
        "none",
        "--name",
        "made",
        "busybox",
        "true",
    ])
    .code(125)
    .stderr_has("is already in use");
    assert_eq!(root.container_ids(), std::slice::from_ref(&id));
    // Removed without -f: it is not running.
    root.run(&["rm", "made"]).ok();
    root.assert_no_containers();
    // Bad flags: nothing made; -d is run's.
    root.run(&["create", "--memory", "12x", "busybox"])
        .code(125);
    root.run(&["create", "-d", "busybox"]).code(125);
    root.assert_no_containers();
}

#[test]
fn start_runs_a_created_container_detached_and_prune_removes_one() {
    let root = TestRoot::new();
    create(
        &root,
        &[
            "--name",
            "later",
            "-e",
            "A=1",
            "busybox",
            "sh",
            "-c",
            "echo $A; exit 3",
        ],
    );
    root.run(&["start", "later"]).ok().stdout_is("later");
    root.run(&["wait", "later"]).ok().stdout_is("3");
    root.run(&["logs", "later"]).ok().stdout_is("1");
    assert!(root.status_of("later").starts_with("Exited (3)"));
    // Started again as any stopped container.
    root.run(&["start", "later"]).ok();
    root.run(&["wait", "later"]).ok().stdout_is("3");
    root.run(&["rm", "later"]).ok();

    // --rm applies once it is started: gone after its exit.
    create(&root, &["--rm", "--name", "once", "busybox", "true"]);
    assert_eq!(root.status_of("once"), "Created");
    root.run(&["start", "once"]).ok();
    root.assert_no_containers_soon();

    // A prune removes created containers, as docker's does.
    create(&root, &["--name", "pruned", "busybox", "true"]);
    root.run(&["container", "prune", "-f"]).ok();
    root.assert_no_containers();
}

#[test]
fn a_created_container_keeps_its_restart_policy_for_when_it_starts() {
    let root = TestRoot::new();
    create(
        &root,
        &[
            "--name",
            "again",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "exit 1",
        ],
    );
    root.run(&["start", "again"]).ok();
    assert!(
        settles(|| root.status_of("again").starts_with("Exited (1)")
            && inspect(&root, "again")["RestartCount"] == 2),
        "{}",
        root.status_of("again")
    );
    root.run(&["rm", "again"]).ok();
    root.assert_no_containers();
}
