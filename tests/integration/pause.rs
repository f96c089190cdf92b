//! `pause` / `unpause`: a running container's processes frozen and thawed,
//! shown by `ps` and `inspect`.

use std::time::Duration;

use tinydocker_tests::{TempDir, TestRoot};

use crate::config::inspect;

/// The counter the container writes, as it is now.
fn count(dir: &TempDir) -> String {
    std::fs::read_to_string(dir.join("n")).unwrap_or_default()
}

#[test]
fn pause_freezes_and_unpause_thaws() {
    let root = TestRoot::new();
    let dir = TempDir::new("pause");
    let bind = format!("{}:/shared", dir.path().display());
    let name = format!("paused-{}", std::process::id());
    root.detach(&[
        "--name",
        &name,
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /shared/n; sleep 0.05; done",
    ]);
    assert!(tinydocker_tests::settles(|| !count(&dir).is_empty()));

    root.run(&["pause", &name]).ok().stdout_is(&name);
    let frozen = count(&dir);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(count(&dir), frozen, "the counter moved while paused");
    let state = inspect(&root, &name)["State"].clone();
    assert_eq!(state["Paused"], true, "{state}");
    assert_eq!(state["Status"], "paused", "{state}");
    assert_eq!(state["Running"], true, "{state}");
    let ps = root.run(&["ps", "--format", "{{.Names}} {{.State}} {{.Status}}"]);
    ps.ok();
    let line = ps
        .lines()
        .into_iter()
        .find(|l| l.starts_with(&name))
        .unwrap()
        .to_string();
    assert!(line.starts_with(&format!("{name} paused Up ")), "{line}");
    assert!(line.ends_with(" (Paused)"), "{line}");
    root.run(&["pause", &name])
        .code(1)
        .one_error_line()
        .stderr_has("already paused");

    root.run(&["unpause", &name]).ok().stdout_is(&name);
    let thawed = count(&dir);
    assert!(
        tinydocker_tests::settles(|| count(&dir) != thawed),
        "the counter did not move after unpause"
    );
    assert_eq!(inspect(&root, &name)["State"]["Paused"], false);
    root.run(&["unpause", &name])
        .code(1)
        .one_error_line()
        .stderr_has("not paused");

    // Not running, or not there: code 1, and on with the others.
    root.run(&["run", "--name", &format!("{name}-done"), "busybox", "true"])
        .ok();
    let out = root.run(&["pause", &format!("{name}-done"), "no-such-container", &name]);
    out.code(1).stdout_is(&name);
    assert_eq!(out.stderr.lines().count(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("is not running"), "{}", out.stderr);
    root.run(&["unpause", &name]).ok();
}
