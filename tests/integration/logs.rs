//! `logs`: a container's output from its json-lines log. The log of a
//! detached container (`run -d`) is written by its supervisor; the first
//! tests write a log by hand next to a container's record to pin down the
//! reader: the format, --tail, -t, --since/--until, -f.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tinydocker_tests::{TempDir, TestRoot};

fn log_path(root: &TestRoot, id: &str) -> PathBuf {
    root.path()
        .join("containers")
        .join(id)
        .join("container.log")
}

fn entry(stream: &str, time: &str, log: &str) -> String {
    let mut line = serde_json::json!({ "log": log, "stream": stream, "time": time }).to_string();
    line.push('\n');
    line
}

fn append(path: &Path, text: &str) {
    let mut file = File::options()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.write_all(text.as_bytes()).expect("append to the log");
}

/// A container that ran in the foreground, and its id.
fn foreground(root: &TestRoot, name: &str) -> String {
    root.run(&["run", "--name", name, "busybox", "true"]).ok();
    let out = root.run(&["inspect", name]);
    out.ok();
    let all: serde_json::Value = serde_json::from_str(&out.stdout).expect("inspect prints JSON");
    all[0]["Id"].as_str().expect("an id").to_string()
}

const T1: &str = "2020-02-29T10:00:00Z";
const T2: &str = "2020-02-29T10:00:01.5Z";
const T3: &str = "2020-02-29T10:00:02.000000001Z";
const T4: &str = "2020-02-29T10:00:03Z";

fn hand_written_log() -> String {
    [
        entry("stdout", T1, "out1\n"),
        entry("stderr", T2, "err1\n"),
        // docker's partial entries: a long line in pieces.
        entry("stdout", T3, "par"),
        entry("stdout", T3, "tial\n"),
        "not a log entry\n".to_string(),
        entry("stderr", T4, "err2 \u{e9}\t\"q\"\n"),
    ]
    .concat()
}

#[test]
fn a_container_without_a_log_has_nothing_to_show() {
    let root = TestRoot::new();
    foreground(&root, "fg");
    root.run(&["logs", "fg"]).ok().stdout_is("");
    root.run(&["logs", "-f", "--tail", "3", "-t", "fg"])
        .ok()
        .stdout_is("");
    assert_eq!(root.run(&["logs", "fg"]).stderr, "");
}

#[test]
fn logs_prints_each_stream_where_it_belongs() {
    let root = TestRoot::new();
    let id = foreground(&root, "fg");
    append(&log_path(&root, &id), &hand_written_log());

    let out = root.run(&["logs", "fg"]);
    out.ok();
    assert_eq!(out.stdout, "out1\npartial\n");
    assert_eq!(out.stderr, "err1\nerr2 \u{e9}\t\"q\"\n");
    // By id prefix too.
    assert_eq!(
        root.run(&["logs", &id[..12]]).ok().stdout,
        "out1\npartial\n"
    );

    // The last entries (lines of the file), all of them, none.
    let out = root.run(&["logs", "--tail", "2", "fg"]);
    out.ok();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", "err2 \u{e9}\t\"q\"\n")
    );
    let out = root.run(&["logs", "-n", "4", "fg"]);
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("partial\n", "err2 \u{e9}\t\"q\"\n")
    );
    assert_eq!(
        root.run(&["logs", "--tail", "all", "fg"]).stdout,
        "out1\npartial\n"
    );
    let out = root.run(&["logs", "--tail", "0", "fg"]);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));

    // -t: each entry after its time in docker's fixed-width RFC3339Nano.
    let out = root.run(&["logs", "-t", "fg"]);
    out.ok();
    assert_eq!(
        out.stdout,
        "2020-02-29T10:00:00.000000000Z out1\n\
         2020-02-29T10:00:02.000000001Z par2020-02-29T10:00:02.000000001Z tial\n"
    );
    assert_eq!(
        out.stderr,
        "2020-02-29T10:00:01.500000000Z err1\n2020-02-29T10:00:03.000000000Z err2 \u{e9}\t\"q\"\n"
    );

    // --since and --until, both inclusive, in each accepted form.
    let both = |args: &[&str]| {
        let mut all = vec!["logs"];
        all.extend_from_slice(args);
        all.push("fg");
        let out = root.run(&all);
        out.ok();
        (out.stdout, out.stderr)
    };
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        both(&["--since", "2020-02-29T10:00:01.5Z"]),
        s("partial\n", "err1\nerr2 \u{e9}\t\"q\"\n")
    );
    assert_eq!(
        both(&["--since", "2020-02-29T11:00:02+01:00"]),
        s("partial\n", "err2 \u{e9}\t\"q\"\n")
    );
    assert_eq!(
        both(&["--until", "2020-02-29T10:00:01.5Z"]),
        s("out1\n", "err1\n")
    );
    // 2020-02-29T10:00:02Z and 2020-02-29T10:00:02.000000001Z in Unix seconds.
    assert_eq!(both(&["--until", "1582970402"]), s("out1\n", "err1\n"));
    assert_eq!(
        both(&["--since", "1582970401.6", "--until", "1582970402.000000001"]),
        s("partial\n", "")
    );
    // Relative: all of it is older than an hour.
    assert_eq!(both(&["--since", "1h"]), s("", ""));
    assert_eq!(both(&["--until", "1h30m"]).0, "out1\npartial\n");
    // Tail first, then the time window (as docker does).
    assert_eq!(both(&["--tail", "1", "--until", T1]), s("", ""));
}

#[test]
fn bad_values_are_one_line_errors() {
    let root = TestRoot::new();
    foreground(&root, "fg");
    for args in [
        ["logs", "--tail", "x", "fg"],
        ["logs", "--tail", "-1", "fg"],
        ["logs", "--since", "yesterday", "fg"],
        ["logs", "--since", "2020-02-30T00:00:00Z", "fg"],
        ["logs", "--until", "10x", "fg"],
        ["logs", "--until", "-5m", "fg"],
    ] {
        root.run(&args)
            .usage_error()
            .stderr_has("invalid value for --");
    }
    root.run(&["logs", "nosuch"])
        .usage_error()
        .stderr_has("No such container");
    root.run(&["logs", "-f", "nosuch"])
        .usage_error()
        .stderr_has("No such container");
}

/// The host's end of a FIFO that a container reads a line from whenever it
/// should go on: opened read-write, so neither side's open blocks and the
/// container's reads never see an end of file.
struct Gate {
    dir: TempDir,
    fifo: File,
}

impl Gate {
    fn new() -> Gate {
        let dir = TempDir::new("logs-gate");
        let path = dir.join("go");
        let c = CString::new(path.as_os_str().as_bytes()).expect("path");
        // SAFETY: mkfifo with a NUL-terminated path.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
        let fifo = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open the FIFO");
        Gate { dir, fifo }
    }

    /// `-v` for the container: the FIFO is /gate/go.
    fn volume(&self) -> String {
        format!("{}:/gate", self.dir.path().display())
    }

    fn open(&mut self) {
        self.fifo.write_all(b"\n").expect("write to the FIFO");
    }
}

#[test]
fn follow_prints_what_is_appended_until_the_container_stops() {
    let root = TestRoot::new();
    let mut gate = Gate::new();
    let volume = gate.volume();
    let mut run = root.spawn(&[
        "run",
        "--name",
        "fg",
        "-v",
        &volume,
        "busybox",
        "sh",
        "-c",
        "echo ready; read a < /gate/go",
    ]);
    run.expect_line("ready");
    let id = root.container_ids().pop().expect("the container");
    let log = log_path(&root, &id);
    append(&log, &entry("stdout", T1, "first\n"));
    let mut follow = root.spawn(&["logs", "-f", "fg"]);
    follow.expect_line("first");
    // Appended in two writes: printed once the line is whole.
    let second = entry("stdout", T2, "second\n");
    append(&log, &second[..20]);
    append(&log, &second[20..]);
    follow.expect_line("second");
    append(&log, &entry("stderr", T3, "to stderr\n"));
    append(&log, &entry("stdout", T4, "third\n"));
    follow.expect_line("third");
    // The container exits: so does the follower, having printed everything.
    gate.open();
    run.finish().ok();
    let out = follow.finish();
    out.ok().stdout_is("");
    assert_eq!(out.stderr, "to stderr\n");
}

#[test]
fn detached_output_is_logged_by_stream() {
    let root = TestRoot::new();
    let id = root.detach(&[
        "--name",
        "det",
        "busybox",
        "sh",
        "-c",
        "echo out1; echo err1 >&2; echo out2; echo err2 >&2; printf 'no newline'",
    ]);
    root.run(&["wait", "det"]).ok().stdout_is("0");
    let out = root.run(&["logs", "det"]);
    out.ok();
    assert_eq!(out.stdout, "out1\nout2\nno newline");
    assert_eq!(out.stderr, "err1\nerr2\n");

    // The file itself: docker's json-file lines.
    let text = fs::read_to_string(log_path(&root, &id)).expect("the log");
    assert_eq!(text.lines().count(), 5, "{text}");
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let obj = v.as_object().expect("an object");
        assert_eq!(obj.len(), 3, "{line}");
        assert!(matches!(obj["stream"].as_str(), Some("stdout" | "stderr")));
        assert!(obj["log"].is_string());
        assert_time(obj["time"].as_str().expect("a time"));
    }
}

/// "2026-11-28T23:41:07.123456789Z", in this century.
#[track_caller]
fn assert_time(t: &str) {
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    assert!(
        b.len() == 30
            && t.starts_with("20")
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && b[19] == b'.'
            && digits(20..29)
            && b[29] == b'Z',
        "{t:?} is not RFC3339Nano with nine digits"
    );
}

#[test]
fn detached_logs_tail_timestamps_and_time_window() {
    let root = TestRoot::new();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    root.detach(&[
        "--name",
        "det",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line$i; done",
    ]);
    root.run(&["wait", "det"]).ok().stdout_is("0");
    root.run(&["logs", "--tail", "2", "det"])
        .ok()
        .stdout_is("line4\nline5");
    root.run(&["logs", "--tail", "0", "det"]).ok().stdout_is("");

    let out = root.run(&["logs", "-t", "det"]);
    out.ok();
    let mut last = String::new();
    for (i, line) in out.lines().iter().enumerate() {
        let (time, text) = line.split_once(' ').expect("TIME TEXT");
        assert_time(time);
        assert_eq!(text, format!("line{}", i + 1));
        // Fixed width: the text order is the time order.
        assert!(time >= last.as_str(), "{time} after {last}");
        last = time.to_string();
    }
    assert_eq!(out.lines().len(), 5);

    // A window in the future holds nothing; one from before the run, all.
    root.run(&["logs", "--since", "2999-01-01T00:00:00Z", "det"])
        .ok()
        .stdout_is("");
    let later = (before + 3600).to_string();
    root.run(&["logs", "--since", &later, "det"])
        .ok()
        .stdout_is("");
    let earlier = (before - 1).to_string();
    assert_eq!(
        root.run(&["logs", "--since", &earlier, "det"])
            .lines()
            .len(),
        5
    );
    assert_eq!(root.run(&["logs", "--since", "1h", "det"]).lines().len(), 5);
    root.run(&["logs", "--until", "1h", "det"])
        .ok()
        .stdout_is("");
    root.run(&["logs", "--tail", "-3", "det"])
        .usage_error()
        .stderr_has("--tail");
    root.run(&["logs", "--since", "soon", "det"])
        .usage_error()
        .stderr_has("--since");
}

#[test]
fn follow_ends_with_the_detached_container() {
    let root = TestRoot::new();
    let mut gate = Gate::new();
    let volume = gate.volume();
    let id = root.detach(&[
        "-v",
        &volume,
        "busybox",
        "sh",
        "-c",
        "echo one; read a < /gate/go; echo oops >&2; echo two; read a < /gate/go; echo three",
    ]);
    // stdout and stderr are two pipes, logged in the order they are read:
    // "oops" is written before "two", so it is in the log before the
    // test, having seen "two", lets "three" be written.
    let mut follow = root.spawn(&["logs", "-f", &id]);
    follow.expect_line("one");
    gate.open();
    follow.expect_line("two");
    gate.open();
    follow.expect_line("three");
    // Ends by itself once the container has exited and all is printed.
    let out = follow.finish();
    out.ok().stdout_is("");
    assert_eq!(out.stderr, "oops\n");
    root.run(&["wait", &id]).ok().stdout_is("0");
    // Following a stopped container prints what there is and ends.
    root.run(&["logs", "-f", "--tail", "1", &id])
        .ok()
        .stdout_is("three");
}

#[test]
fn follow_ends_when_the_container_is_removed() {
    let root = TestRoot::new();
    let id = root.detach(&["busybox", "sh", "-c", "echo hi; exec sleep 1000"]);
    let mut follow = root.spawn(&["logs", "--follow", &id]);
    follow.expect_line("hi");
    root.run(&["rm", "-f", &id]).ok();
    follow.finish().ok().stdout_is("");
    root.assert_no_containers();
}
