//! Exit codes, `--rm`, records of exited containers, `ps` and `rm`.

use tinydocker_tests::{TempDir, TestRoot};

#[test]
fn exit_codes_pass_through() {
    let root = TestRoot::new();
    for code in [0, 1, 3, 42, 255] {
        root.run(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            &format!("exit {code}"),
        ])
        .code(code)
        .stdout_is("");
    }
    root.run(&["run", "--rm", "busybox", "true"]).ok();
    root.run(&["run", "--rm", "busybox", "false"]).code(1);
    root.assert_no_containers();
}

#[test]
fn not_executable_is_126() {
    let root = TestRoot::new();
    root.run(&["run", "--rm", "busybox", "/etc/passwd"])
        .code(126)
        .one_error_line()
        .stderr_has("permission denied");
    // A directory cannot be executed either.
    root.run(&["run", "--rm", "busybox", "/bin"])
        .code(126)
        .one_error_line();
    root.assert_no_containers();
}

#[test]
fn not_found_is_127() {
    let root = TestRoot::new();
    root.run(&["run", "--rm", "busybox", "nonexistent-cmd"])
        .code(127)
        .one_error_line()
        .stderr_has("executable file not found");
    root.run(&["run", "--rm", "busybox", "/no/such/file"])
        .code(127)
        .one_error_line()
        .stderr_has("no such file or directory");
    root.assert_no_containers();
}

#[test]
fn rm_flag_leaves_nothing_behind() {
    let root = TestRoot::new();
    let vol = TempDir::new("rm-flag-volume");
    let spec = format!("{}:/data", vol.path().display());
    root.run(&[
        "run",
        "--rm",
        "--name",
        "short-lived",
        "-v",
        &spec,
        "-w",
        "/made/here",
        "busybox",
        "sh",
        "-c",
        "echo x > /file; echo y > /data/y; exit 5",
    ])
    .code(5);
    root.assert_no_containers();
    assert_eq!(
        tinydocker_tests::mounts_mentioning(vol.path()),
        Vec::<String>::new()
    );
    // The name is free again.
    root.run(&["run", "--rm", "--name", "short-lived", "busybox", "true"])
        .ok();
    root.assert_no_containers();
}

#[test]
fn exited_container_is_kept_until_rm() {
    let root = TestRoot::new();
    root.run(&["run", "--name", "keeper", "busybox", "sh", "-c", "exit 3"])
        .code(3);

    // Not running: plain ps shows only its header.
    let ps = root.run(&["ps"]);
    ps.ok();
    assert_eq!(ps.lines().len(), 1, "ps:\n{}", ps.stdout);
    let ps = root.run(&["ps", "-a"]);
    ps.ok();
    let row = ps
        .lines()
        .into_iter()
        .find(|l| l.contains("keeper"))
        .unwrap_or_else(|| panic!("keeper missing from ps -a:\n{}", ps.stdout))
        .to_string();
    assert!(row.contains("Exited (3)"), "row: {row:?}");
    assert!(row.contains(" ago"), "row: {row:?}");
    assert!(row.contains("busybox"), "row: {row:?}");

    assert_eq!(root.containers().len(), 1);
    assert_eq!(root.names(), ["keeper"]);
    assert_eq!(root.host_mounts(), Vec::<String>::new());
    let id = &root.container_ids()[0];
    let dir = root.path().join("containers").join(id);
    for f in ["container.json", "upper", "work"] {
        assert!(dir.join(f).exists(), "{} missing", dir.join(f).display());
    }

    root.run(&["rm", "keeper"]).ok().stdout_is("keeper");
    root.assert_no_containers();
    root.run(&["rm", "keeper"]).usage_error();
}

#[test]
fn rm_accepts_ids_and_prefixes() {
    let root = TestRoot::new();
    root.run(&["run", "--name", "by-full-id", "busybox", "true"])
        .ok();
    let full = root.container_ids()[0].clone();
    root.run(&["rm", &full]).ok();
    root.assert_no_containers();

    root.run(&["run", "--name", "by-short-id", "busybox", "true"])
        .ok();
    let short = root.run(&["ps", "-aq"]);
    short.ok();
    assert_eq!(short.text().len(), 12);
    root.run(&["rm", short.text()]).ok();
    root.assert_no_containers();
}

#[test]
fn rm_of_a_missing_container_fails() {
    let root = TestRoot::new();
    root.run(&["rm", "no-such-container"]).usage_error();
    root.run(&["rm", "-f", "no-such-container"]).usage_error();
    root.assert_no_containers();
}

#[test]
fn a_record_whose_spec_cannot_be_read_is_listed_and_removable() {
    let root = TestRoot::new();
    root.run(&["run", "--name", "odd", "busybox", "true"]).ok();
    let id = root
        .run(&["ps", "-aq", "--no-trunc"])
        .text()
        .trim()
        .to_string();
    // A spec this build cannot read (as one of another version might be).
    let path = root
        .path()
        .join("containers")
        .join(&id)
        .join("container.json");
    let mut record = root.record(&id);
    record["spec"]["linux"]["namespaces"] = serde_json::json!(5);
    std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    root.run(&["ps", "-a", "--format", "{{.Names}}"])
        .ok()
        .stdout_is("odd");
    root.run(&["inspect", "odd"])
        .usage_error()
        .stderr_has("parse the spec in");
    root.run(&["rm", "odd"])
        .ok()
        .stdout_is("odd")
        .stderr_has("the cgroup of odd is not known");
    root.run(&["ps", "-aq"]).ok().stdout_is("");
    assert!(!root.path().join("containers").join(&id).exists());
}
