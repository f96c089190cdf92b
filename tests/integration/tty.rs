//! `run -t`: the container's own pseudo-terminal, driven through a real
//! one opened by the test (raw mode, window size and resize, Ctrl-C).

use tinydocker_tests::TestRoot;

use super::exec::Terminal;

#[test]
fn run_with_a_terminal() {
    let root = TestRoot::new();
    let mut term = Terminal::open(29, 101);
    let cooked = term.lflag();

    let session = term.spawn(&root, &["run", "--rm", "-it", "busybox", "sh"]);
    term.type_in(b"tty; stty size; echo MARK$((1+1))\n");
    let shown = term.wait_for("MARK2");
    // The container's own devpts: its first terminal.
    assert!(shown.contains("\n/dev/pts/0\r\n"), "{shown:?}");
    assert!(shown.contains("29 101\r\n"), "{shown:?}");
    assert_eq!(term.lflag() & (libc::ICANON | libc::ECHO), 0, "raw mode");
    term.resize(44, 130);
    term.type_in(b"stty size; echo MARK$((2+1))\n");
    let shown = term.wait_for("MARK3");
    assert!(shown.contains("44 130\r\n"), "{shown:?}");
    term.type_in(b"exit 4\n");
    assert_eq!(term.finish(session), 4);
    assert_eq!(term.lflag(), cooked, "terminal settings restored");

    // Ctrl-C reaches the container's process (pid 1 here: a shell that
    // execs sleep would ignore it; with --init the command gets it).
    let session = term.spawn(
        &root,
        &[
            "run",
            "--rm",
            "--init",
            "-it",
            "busybox",
            "sh",
            "-c",
            "echo ready; exec sleep 100",
        ],
    );
    term.wait_for("ready");
    term.type_in(&[0x03]);
    assert_eq!(term.finish(session), 130);
    assert_eq!(term.lflag(), cooked);

    // A failed start restores the terminal and says why.
    let session = term.spawn(&root, &["run", "--rm", "-it", "busybox", "nosuchcommand"]);
    term.wait_for("executable file not found");
    assert_eq!(term.finish(session), 127);
    assert_eq!(term.lflag(), cooked);
    root.assert_no_containers();
}

#[test]
fn tty_without_a_terminal() {
    let root = TestRoot::new();
    // -it needs a terminal on stdin (docker's wording).
    root.run(&["run", "--rm", "-it", "busybox", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("the input device is not a TTY");
    // -t alone gives the container a terminal of its own all the same.
    let out = root.run(&["run", "--rm", "-t", "busybox", "tty"]);
    out.ok();
    assert_eq!(out.stdout, "/dev/pts/0\r\n", "a terminal's line ends");
    // Detached: what the terminal shows goes to the log.
    let out = root.run(&[
        "run",
        "-d",
        "-t",
        "--name",
        "dt",
        "busybox",
        "sh",
        "-c",
        "tty; echo hi",
    ]);
    out.ok();
    root.run(&["wait", "dt"]).ok().stdout_is("0");
    let logs = root.run(&["logs", "dt"]);
    logs.ok();
    assert_eq!(logs.stdout, "/dev/pts/0\r\nhi\r\n");
    root.run(&["rm", "dt"]).ok();
    root.assert_no_containers();
}
