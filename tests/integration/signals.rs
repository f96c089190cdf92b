//! Signals: a foreground `run` forwards them to the container's init, and
//! an init killed by a signal gives 128+N.

use tinydocker_tests::{children_of, TestRoot};

#[test]
fn sigterm_is_forwarded_to_init() {
    let root = TestRoot::new();
    let mut run = root.spawn(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done",
    ]);
    run.expect_line("ready");
    run.signal(libc::SIGTERM);
    run.finish().code(42);
    root.assert_no_containers();
}

#[test]
fn other_signals_are_forwarded_too() {
    let root = TestRoot::new();
    let mut run = root.spawn(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "for s in INT HUP QUIT USR1 USR2; do trap \"echo got-$s\" $s; done; \
         trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done",
    ]);
    run.expect_line("ready");
    for (sig, name) in [
        (libc::SIGUSR1, "USR1"),
        (libc::SIGUSR2, "USR2"),
        (libc::SIGHUP, "HUP"),
        (libc::SIGINT, "INT"),
        (libc::SIGQUIT, "QUIT"),
    ] {
        run.signal(sig);
        run.expect_line(&format!("got-{name}"));
    }
    run.signal(libc::SIGTERM);
    run.finish().code(7);
    root.assert_no_containers();
}

#[test]
fn init_killed_by_sigkill_gives_137() {
    let root = TestRoot::new();
    let mut run = root.spawn(&[
        "run",
        "--name",
        "killed",
        "busybox",
        "sh",
        "-c",
        "echo ready; sleep 100",
    ]);
    run.expect_line("ready");
    let kids = children_of(run.pid());
    assert_eq!(kids.len(), 1, "children of tinydocker: {kids:?}");
    let init = kids[0];
    // It is the container's pid 1.
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .expect("NSpid line");
    assert_eq!(nspid.split_whitespace().last(), Some("1"), "{nspid}");
    // SAFETY: kill with a pid and a signal; the pid is our grandchild,
    // alive and not yet reaped by its parent.
    assert_eq!(unsafe { libc::kill(init, libc::SIGKILL) }, 0);
    run.finish().code(137);

    let ps = root.run(&["ps", "-a"]);
    ps.ok();
    assert!(
        ps.lines()
            .iter()
            .any(|l| l.contains("killed") && l.contains("Exited (137)")),
        "ps -a:\n{}",
        ps.stdout
    );
    assert_eq!(root.host_mounts(), Vec::<String>::new());
    root.run(&["rm", "killed"]).ok();
    root.assert_no_containers();
}

#[test]
fn rm_force_of_a_foreground_container_leaves_nothing() {
    // `rm -f` from another shell kills the container; the foreground `run`
    // then exits 137 and records nothing into the removed directory.
    let root = TestRoot::new();
    let mut run = root.spawn(&[
        "run",
        "--name",
        "victim",
        "busybox",
        "sh",
        "-c",
        "echo ready; sleep 100",
    ]);
    run.expect_line("ready");
    root.run(&["rm", "-f", "victim"]).ok().stdout_is("victim");
    run.finish().code(137);
    root.assert_no_containers();
    assert_eq!(root.names(), Vec::<String>::new());
    assert_eq!(root.host_mounts(), Vec::<String>::new());
}
