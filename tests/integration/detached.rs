//! `run -d`: the supervisor, its log, `wait`, and what is left when the
//! supervisor or the container is killed.

use std::os::fd::AsRawFd;

use tinydocker_tests::{link_gone, process_alive, settles, TestRoot};

use super::cgroups::cgroup_dirs;

/// The lines of the container's log, as (stream, text).
fn log_entries(root: &TestRoot, id: &str) -> Vec<(String, String)> {
    let path = root
        .path()
        .join("containers")
        .join(id)
        .join("container.log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a json log line");
            let time = v["time"].as_str().expect("time");
            assert!(time.ends_with('Z') && time.len() == 30, "time {time:?}");
            (
                v["stream"].as_str().expect("stream").to_string(),
                v["log"].as_str().expect("log").to_string(),
            )
        })
        .collect()
}

#[test]
fn detached_container_runs_logs_and_records_its_exit() {
    let root = TestRoot::new();
    let id = root.detach(&[
        "--name",
        "bg",
        "busybox",
        "sh",
        "-c",
        "echo out1; echo err1 >&2; read x; echo out2; exit 3",
    ]);
    // Without -i its stdin is /dev/null: `read` fails at once and it goes on.
    root.run(&["wait", "bg"]).ok().stdout_is("3");
    // Each stream in order (two pipes: their relative order is not kept).
    let entries = log_entries(&root, &id);
    let stream = |name: &str| -> Vec<String> {
        entries
            .iter()
            .filter(|(s, _)| s == name)
            .map(|(_, l)| l.clone())
            .collect()
    };
    assert_eq!(stream("stdout"), ["out1\n", "out2\n"]);
    assert_eq!(stream("stderr"), ["err1\n"]);
    assert_eq!(entries.len(), 3);
    let s = root.state(&id);
    assert_eq!(s["status"], "exited");
    assert_eq!(s["exit_code"], 3);
    assert!(root.status_of("bg").contains("Exited (3)"));
    // Its cgroup went with it.
    assert_eq!(
        cgroup_dirs(&format!("tinydocker/{id}")),
        Vec::<std::path::PathBuf>::new()
    );
    root.run(&["rm", "bg"]).ok();
    root.assert_no_containers();
}

#[test]
fn detached_run_returns_while_the_container_runs() {
    let root = TestRoot::new();
    // root.run waits for end of file on stdout and stderr: a supervisor that
    // kept them open would hang here.
    let id = root.detach(&["--name", "sleeper", "busybox", "sleep", "100"]);
    assert!(root.status_of("sleeper").contains("Up"));
    let s = root.state(&id);
    assert_eq!(s["status"], "running");
    let supervisor = s["runtime_pid"].as_i64().unwrap();
    assert!(process_alive(supervisor));
    // The supervisor is in a session of its own, with no terminal.
    let stat = std::fs::read_to_string(format!("/proc/{supervisor}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    assert_eq!(fields[3], supervisor.to_string(), "session id = its pid");
    assert_eq!(fields[4], "0", "no controlling terminal");
    root.run(&["rm", "sleeper"])
        .code(125)
        .one_error_line()
        .stderr_has("stop the container before removing or force remove");
    root.run(&["stop", "-t", "1", "sleeper"]).ok();
    // pid 1 ignores SIGTERM without a handler: killed after the timeout.
    assert_eq!(root.state(&id)["exit_code"], 137);
    assert!(
        !process_alive(supervisor),
        "the supervisor exits with its container"
    );
    assert_eq!(
        cgroup_dirs(&format!("tinydocker/{id}")),
        Vec::<std::path::PathBuf>::new()
    );
    root.run(&["rm", "sleeper"]).ok();
    root.assert_no_containers();
}

#[test]
fn interactive_detached_keeps_stdin_open() {
    let root = TestRoot::new();
    // `cat` with stdin at end of file exits at once...
    root.run(&["run", "-d", "--name", "closed", "busybox", "cat"])
        .ok();
    root.run(&["wait", "closed"]).ok().stdout_is("0");
    // ...with -i it waits for input that never comes, as with docker: its
    // stdin is a pipe the supervisor keeps open.
    let open = root.detach(&["-i", "--name", "open", "busybox", "cat"]);
    let pid = root.state(&open)["pid"].as_i64().unwrap();
    let stdin = std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
    assert!(stdin.to_string_lossy().starts_with("pipe:"), "{stdin:?}");
    assert!(root.status_of("open").contains("Up"));
    root.run(&["rm", "-f", "open", "closed"]).ok();
    root.assert_no_containers();
}

#[test]
fn detached_start_failures_are_reported_by_run() {
    let root = TestRoot::new();
    root.run(&["run", "-d", "--name", "nf", "busybox", "no-such-command"])
        .code(127)
        .one_error_line()
        .stderr_has("executable file not found");
    root.run(&["run", "-d", "--rm", "busybox", "/etc/passwd"])
        .code(126)
        .one_error_line();
    root.run(&["run", "-d", "--pull", "never", "no-such-image"])
        .code(125)
        .one_error_line();
    // The failed container without --rm keeps a record that says why.
    let row = root.status_of("nf");
    assert!(row.contains("Exited (127)"), "{row}");
    root.run(&["rm", "nf"]).ok();
    root.assert_no_containers();
}

#[test]
fn detached_rm_removes_the_container_at_its_exit() {
    let root = TestRoot::new();
    let id = root.detach(&["--rm", "busybox", "sh", "-c", "echo bye"]);
    // wait reports either the code or, when the removal came first, that
    // it is gone.
    let out = root.run(&["wait", &id]);
    if out.code == 0 {
        out.stdout_is("0");
    } else {
        out.code(125).one_error_line();
        assert!(
            out.stderr.contains("removed before its exit code")
                || out.stderr.contains("No such container"),
            "{}",
            out.stderr
        );
    }
    assert!(
        out.code == 0 || out.stderr.contains("removed") || out.stderr.contains("No such container"),
        "{}",
        out.stderr
    );
    // Removed by the supervisor: a second wait finds no such container.
    root.run(&["wait", &id]).code(125).stderr_has("container");
    // A wait that began after the record went does not wait for the rest
    // of the directory.
    root.assert_no_containers_soon();
}

#[test]
fn rm_force_of_a_detached_rm_container() {
    let root = TestRoot::new();
    root.detach(&["--rm", "--name", "gone", "busybox", "sleep", "100"]);
    // Its supervisor removes it once killed: gone, as asked, not an error.
    root.run(&["rm", "-f", "gone"]).ok().stdout_is("gone");
    root.assert_no_containers();
}

#[test]
fn wait_reads_the_exit_code_of_a_rm_container() {
    let root = TestRoot::new();
    let id = root.detach(&["--rm", "busybox", "sleep", "100"]);
    let mut waiting = root.spawn(&["wait", &id]);
    // Once the wait counts among the waiters (a shared lock on the file).
    let waiters = root.path().join("containers").join(&id).join("waiters");
    let locked = || {
        std::fs::File::open(&waiters).is_ok_and(|f| {
            // SAFETY: flock on an open fd; closing it unlocks.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) != 0 }
        })
    };
    assert!(settles(locked), "wait never took its lock");
    root.run(&["kill", &id]).ok();
    // The supervisor records the exit for the waiter, then removes it.
    waiting.finish().ok().stdout_is("137");
    root.assert_no_containers_soon();
}

#[test]
fn killing_the_supervisor_kills_the_container_and_rm_cleans_up() {
    let root = TestRoot::new();
    let id = root.detach(&["--name", "orphan", "busybox", "sleep", "100"]);
    let s = root.state(&id);
    let (supervisor, init) = (
        s["runtime_pid"].as_i64().unwrap(),
        s["pid"].as_i64().unwrap(),
    );
    // SAFETY: SIGKILL to the test's own supervisor process.
    unsafe { libc::kill(supervisor as i32, libc::SIGKILL) };
    // The init dies with it (parent-death signal): wait sees it dead.
    root.run(&["wait", "orphan"]).ok().stdout_is("137");
    assert!(!process_alive(init));
    assert!(root.status_of("orphan").contains("Dead"));
    // The cgroup it left is removed by rm.
    root.run(&["rm", "orphan"]).ok();
    assert_eq!(
        cgroup_dirs(&format!("tinydocker/{id}")),
        Vec::<std::path::PathBuf>::new()
    );
    root.assert_no_containers();
}

#[test]
fn killing_the_container_is_recorded_by_the_supervisor() {
    let root = TestRoot::new();
    let id = root.detach(&["--name", "victim", "busybox", "sleep", "100"]);
    let init = root.state(&id)["pid"].as_i64().unwrap();
    // SAFETY: SIGKILL to the test's own container init.
    unsafe { libc::kill(init as i32, libc::SIGKILL) };
    root.run(&["wait", "victim"]).ok().stdout_is("137");
    let s = root.state(&id);
    assert_eq!(s["status"], "exited");
    assert_eq!(s["exit_code"], 137);
    assert_eq!(
        cgroup_dirs(&format!("tinydocker/{id}")),
        Vec::<std::path::PathBuf>::new()
    );
    root.run(&["rm", "victim"]).ok();
    root.assert_no_containers();
}

#[test]
fn detached_bridge_container_releases_its_network_at_exit() {
    let root = TestRoot::new();
    let id = root.detach(&[
        "--network",
        "bridge",
        "--name",
        "netbg",
        "busybox",
        "sleep",
        "100",
    ]);
    let host_if = root.record(&id)["state"]["net"]["host_if"]
        .as_str()
        .unwrap()
        .to_string();
    let link = format!("/sys/class/net/{host_if}");
    assert!(std::path::Path::new(&link).exists(), "{link}");
    root.run(&["kill", "netbg"]).ok();
    root.run(&["wait", "netbg"]).ok().stdout_is("137");
    link_gone(&host_if);
    assert_eq!(root.state(&id)["net_released"], true);
    root.run(&["rm", "netbg"]).ok();
    root.assert_no_containers();
}

#[test]
fn wait_bad_input() {
    let root = TestRoot::new();
    root.run(&["wait", "nope"]).code(125).one_error_line();
}

#[test]
fn init_forwards_signals_and_reaps_orphans() {
    let root = TestRoot::new();
    // The command is not pid 1; an orphan of it is reaped by the init, so
    // no zombie is left; the command's exit code is the container's.
    root.run(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        // A zombie keeps its /proc entry: the loop ends once it is reaped
        // (or, unreaped, after 60 s with 9).
        "echo $$; sh -c 'sleep 0.1 & echo $! > /tmp/o'; o=$(cat /tmp/o); i=0; \
         while [ -e /proc/$o ]; do [ $i -lt 1200 ] || exit 9; i=$((i+1)); sleep 0.05; done; \
         exit 4",
    ])
    .code(4)
    .stdout_is("2");
    // Without an init the command is pid 1 and ignores SIGTERM (no handler):
    // stop must kill it. With one, the TERM reaches the command: 143 at once.
    let id = root.detach(&["--init", "--name", "fwd", "busybox", "sleep", "100"]);
    assert_eq!(root.record(&id)["config"]["init"], true);
    root.run(&["stop", "-t", "30", "fwd"]).ok();
    root.run(&["wait", "fwd"]).ok().stdout_is("143");
    // A command that is not there: 127 through the init, nothing left.
    root.run(&["run", "--rm", "--init", "busybox", "no-such-command"])
        .code(127)
        .one_error_line()
        .stderr_has("executable file not found");
    root.run(&["rm", "fwd"]).ok();
    root.assert_no_containers();
}

#[test]
fn ps_formats_and_container_prune() {
    let root = TestRoot::new();
    let up = root.detach(&["--name", "up", "busybox", "sleep", "100"]);
    root.run(&["run", "--name", "done", "busybox", "sh", "-c", "exit 2"])
        .code(2);
    // One JSON object per line with docker's field names.
    let out = root.run(&["ps", "-a", "--format", "json", "--no-trunc"]);
    out.ok();
    let rows: Vec<serde_json::Value> = out
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).expect("a json line"))
        .collect();
    assert_eq!(rows.len(), 2);
    let up_row = rows.iter().find(|r| r["Names"] == "up").expect("up");
    assert_eq!(up_row["ID"], up.as_str());
    assert_eq!(up_row["State"], "running");
    assert_eq!(up_row["Command"], "\"sleep 100\"");
    let done_row = rows.iter().find(|r| r["Names"] == "done").expect("done");
    assert_eq!(done_row["State"], "exited");
    assert!(done_row["Status"]
        .as_str()
        .unwrap()
        .starts_with("Exited (2)"));
    // A template; only running ones without -a.
    root.run(&["ps", "--format", "{{.Names}}\\t{{.State}}"])
        .ok()
        .stdout_is("up\trunning");
    root.run(&["ps", "--format", "{{.Nope}}"])
        .code(125)
        .one_error_line();
    // prune asks first; "n" keeps everything.
    root.run_with_stdin(&["container", "prune"], b"n\n").ok();
    assert_eq!(root.container_ids().len(), 2);
    // One that crashes and is restarted: running or waiting to restart,
    // never pruned.
    let looping = root.detach(&[
        "--restart",
        "always",
        "--name",
        "looping",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    assert!(settles(
        || root.state(&looping)["restart_count"].as_i64() >= Some(2)
    ));
    let out = root.run(&["container", "prune", "-f"]);
    out.ok();
    assert!(
        out.text().starts_with("Deleted Containers:"),
        "{}",
        out.text()
    );
    let mut left = root.container_ids();
    left.sort();
    let mut expected = vec![up.clone(), looping];
    expected.sort();
    assert_eq!(left, expected);
    root.run(&["rm", "-f", "up", "looping"]).ok();
    root.assert_no_containers();
}
