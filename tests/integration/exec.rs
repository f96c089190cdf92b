//! `exec`: another process in a running container, in every one of its
//! namespaces and its cgroup, under its security settings, with its exit
//! code passed through; and `-t`, driven through a pseudo-terminal the test
//! opens itself, as a user's terminal would be.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use tinydocker_tests::{children_of, Running, TempDir, TestRoot, WATCHDOG};

/// A container that stays up: `run --name NAME [FLAGS] busybox` with a
/// file written, a variable set, and its init `sleep`ing as pid 1.
fn start(root: &TestRoot, name: &str, flags: &[&str]) -> Running {
    let mut args = vec!["run", "--name", name, "-e", "FROM_RUN=1"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[
        "busybox",
        "sh",
        "-c",
        "echo written-by-init > /tmp/file; echo ready; exec sleep 1000",
    ]);
    let mut run = root.spawn(&args);
    run.expect_line("ready");
    run
}

/// The host pid of a container's init, from its record.
fn init_pid(root: &TestRoot, name: &str) -> i32 {
    let ids = root.container_ids();
    ids.iter()
        .map(|id| root.record(id))
        .find(|r| r["config"]["name"] == name)
        .and_then(|r| r["state"]["pid"].as_i64())
        .unwrap_or_else(|| panic!("no record of a running {name}")) as i32
}

fn status_lines(pid: i32) -> Vec<String> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("read /proc/PID/status")
        .lines()
        .filter(|l| l.starts_with("Cap") || l.starts_with("NoNewPrivs") || l.starts_with("Seccomp"))
        .map(String::from)
        .collect()
}

#[test]
fn exec_joins_every_namespace_and_the_cgroup_of_the_container() {
    let root = TestRoot::new();
    let _run = start(&root, "box", &["--hostname", "boxhost"]);
    let init = init_pid(&root, "box");

    // Its filesystem, host name, environment and working directory.
    root.run(&["exec", "box", "cat", "/tmp/file"])
        .ok()
        .stdout_is("written-by-init");
    root.run(&["exec", "box", "hostname"])
        .ok()
        .stdout_is("boxhost");
    root.run(&["exec", "box", "sh", "-c", "echo $FROM_RUN $HOSTNAME; pwd"])
        .ok()
        .stdout_is("1 boxhost\n/");
    // Its PID namespace: the init is pid 1, the new process a small pid.
    let out = root.run(&["exec", "box", "sh", "-c", "echo $$; cat /proc/1/cmdline"]);
    out.ok();
    let lines = out.lines();
    let pid: i32 = lines[0].parse().expect("a pid");
    assert!((2..20).contains(&pid), "pid {pid} in the container");
    assert_eq!(lines[1], "sleep\u{0}1000\u{0}");
    // Its cgroup namespace: at the root of its cgroup, on every hierarchy.
    let out = root.run(&["exec", "box", "cat", "/proc/self/cgroup"]);
    out.ok();
    for line in out.lines() {
        assert!(line.ends_with(":/"), "{line} in {}", out.stdout);
    }

    // On the host, a running one shares every namespace and the cgroup of
    // the init, and runs under the same capabilities, no_new_privs and
    // seccomp filter.
    let mut exec = root.spawn(&["exec", "box", "sh", "-c", "echo ready; exec sleep 1000"]);
    exec.expect_line("ready");
    let kids = children_of(exec.pid());
    assert_eq!(kids.len(), 1, "children of exec: {kids:?}");
    let child = kids[0];
    for ns in ["mnt", "uts", "ipc", "net", "pid", "cgroup"] {
        let link = |pid: i32| fs::read_link(format!("/proc/{pid}/ns/{ns}")).expect("ns link");
        assert_eq!(link(child), link(init), "{ns} namespace");
    }
    assert_eq!(
        fs::read_to_string(format!("/proc/{child}/cgroup")).unwrap(),
        fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap(),
        "cgroup"
    );
    let mine = status_lines(child);
    assert_eq!(mine, status_lines(init), "security settings");
    assert!(mine.contains(&"NoNewPrivs:\t1".to_string()), "{mine:?}");
    assert!(mine.contains(&"Seccomp:\t2".to_string()), "{mine:?}");
    // Signals to exec reach its process.
    exec.signal(libc::SIGTERM);
    exec.finish().code(143);
    root.run(&[
        "exec",
        "box",
        "grep",
        "-E",
        "^(NoNewPrivs|Seccomp):",
        "/proc/self/status",
    ])
    .ok()
    .stdout_is("NoNewPrivs:\t1\nSeccomp:\t2");
}

#[test]
fn exec_runs_under_the_containers_own_restrictions() {
    let root = TestRoot::new();
    let dir = TempDir::new("exec-seccomp-profile");
    let profile = dir.join("no-mkdir.json");
    fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let _run = start(
        &root,
        "strict",
        &["--security-opt", &opt, "--cap-drop", "CHOWN"],
    );
    // The profile as the container got it, even with the file gone.
    fs::remove_file(&profile).unwrap();
    let out = root.run(&["exec", "strict", "mkdir", "/tmp/new"]);
    out.code(1);
    assert!(
        out.stderr.contains("Operation not permitted"),
        "{}",
        out.stderr
    );
    root.run(&["exec", "strict", "touch", "/tmp/allowed"]).ok();
    // Without CAP_CHOWN, as the container.
    root.run(&["exec", "strict", "chown", "1:1", "/tmp/allowed"])
        .code(1);
}

#[test]
fn exec_sees_the_containers_network() {
    let root = TestRoot::new();
    let _run = start(&root, "web", &["--network", "bridge"]);
    let id = root.container_ids().pop().expect("the container");
    let ip = root.record(&id)["state"]["net"]["ip"]
        .as_str()
        .expect("an address")
        .to_string();
    let out = root.run(&["exec", "web", "ip", "-4", "-o", "addr", "show", "eth0"]);
    out.ok();
    assert!(
        out.stdout.contains(&format!("inet {ip}/")),
        "{}",
        out.stdout
    );
}

#[test]
fn exit_codes_and_failures() {
    let root = TestRoot::new();
    let _run = start(&root, "codes", &[]);
    root.run(&["exec", "codes", "sh", "-c", "exit 7"]).code(7);
    root.run(&["exec", "codes", "sh", "-c", "kill -KILL $$"])
        .code(137);
    root.run(&["exec", "codes", "nosuchcommand"])
        .code(127)
        .one_error_line()
        .stderr_has("exec: \"nosuchcommand\": executable file not found in $PATH");
    root.run(&["exec", "codes", "/etc/passwd"])
        .code(126)
        .one_error_line();
    root.run(&["exec", "-w", "/nonexistent", "codes", "true"])
        .code(126)
        .one_error_line()
        .stderr_has("chdir to cwd (\"/nonexistent\")");
    root.run(&["exec", "-w", "relative", "codes", "true"])
        .usage_error();
    root.run(&["exec", "-u", "nobody", "codes", "true"])
        .usage_error()
        .stderr_has("unable to find user nobody");
    // None of that disturbed the container.
    root.run(&["exec", "codes", "cat", "/tmp/file"])
        .ok()
        .stdout_is("written-by-init");
    assert_eq!(root.run(&["ps", "-q"]).ok().lines().len(), 1);

    root.run(&["exec", "nosuch", "true"])
        .usage_error()
        .stderr_has("No such container: nosuch");
    root.run(&["run", "--name", "finished", "busybox", "true"])
        .ok();
    root.run(&["exec", "finished", "true"])
        .usage_error()
        .stderr_has("container finished is not running");
}

#[test]
fn user_env_and_workdir() {
    let root = TestRoot::new();
    let _run = start(&root, "opts", &[]);
    root.run(&["exec", "-u", "1000", "opts", "id", "-u"])
        .ok()
        .stdout_is("1000");
    root.run(&["exec", "-u", "1000:1000", "opts", "id", "-g"])
        .ok()
        .stdout_is("1000");
    // A user other than root keeps no effective capability.
    root.run(&[
        "exec",
        "-u",
        "1000",
        "opts",
        "grep",
        "^CapEff",
        "/proc/self/status",
    ])
    .ok()
    .stdout_is("CapEff:\t0000000000000000");
    let mut cmd = root.cmd(&[
        "exec",
        "-e",
        "A=1",
        "-e",
        "FROM_RUN=2",
        "-e",
        "TD_PASSED",
        "-w",
        "/tmp",
        "opts",
        "sh",
        "-c",
        "echo $A $FROM_RUN $TD_PASSED; pwd",
    ]);
    cmd.env("TD_PASSED", "from-host");
    let out = tinydocker_tests::output(cmd, None);
    out.ok().stdout_is("1 2 from-host\n/tmp");
}

#[test]
fn stdin_only_with_i() {
    let root = TestRoot::new();
    let _run = start(&root, "input", &[]);
    root.run_with_stdin(&["exec", "-i", "input", "cat"], b"hi\n")
        .ok()
        .stdout_is("hi");
    root.run_with_stdin(&["exec", "input", "cat"], b"hi\n")
        .ok()
        .stdout_is("");
    root.run_with_stdin(&["exec", "-it", "input", "cat"], b"hi\n")
        .usage_error()
        .stderr_has("the input device is not a TTY");
}

/// A pseudo-terminal the test opens: its slave is the "user's terminal"
/// of a `tinydocker` started on it, its master the test's keyboard and
/// screen.
pub(super) struct Terminal {
    master: OwnedFd,
    slave: OwnedFd,
    seen: Vec<u8>,
}

fn check(rc: libc::c_int, what: &str) {
    assert!(rc >= 0, "{what}: {}", io::Error::last_os_error());
}

impl Terminal {
    pub(super) fn open(rows: u16, cols: u16) -> Terminal {
        // SAFETY: a valid C string; checked below.
        let fd = unsafe {
            libc::open(
                c"/dev/ptmx".as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        check(fd, "open /dev/ptmx");
        // SAFETY: a fresh fd nobody else owns.
        let master = unsafe { OwnedFd::from_raw_fd(fd) };
        let unlock: libc::c_int = 0;
        // SAFETY: TIOCSPTLCK reads an int.
        check(
            unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) },
            "unlock",
        );
        // SAFETY: TIOCGPTPEER returns a new fd.
        let fd = unsafe {
            libc::ioctl(
                master.as_raw_fd(),
                libc::TIOCGPTPEER,
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        check(fd, "open the slave");
        // SAFETY: a fresh fd nobody else owns.
        let slave = unsafe { OwnedFd::from_raw_fd(fd) };
        let t = Terminal {
            master,
            slave,
            seen: Vec::new(),
        };
        t.resize(rows, cols);
        t
    }

    pub(super) fn resize(&self, rows: u16, cols: u16) {
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize.
        check(
            unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) },
            "resize",
        );
    }

    /// The slave's local flags (ICANON: cooked, i.e. not in raw mode).
    pub(super) fn lflag(&self) -> libc::tcflag_t {
        // SAFETY: termios is plain old data.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr into a valid termios.
        check(
            unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut t) },
            "tcgetattr",
        );
        t.c_lflag
    }

    /// Start `tinydocker ARGS` with this terminal as its controlling
    /// terminal and stdio, as a shell would.
    pub(super) fn spawn(&self, root: &TestRoot, args: &[&str]) -> Child {
        self.spawn_command(root.cmd(args))
    }

    /// `cmd` on the terminal: its stdio and its controlling terminal.
    pub(super) fn spawn_command(&self, mut cmd: Command) -> Child {
        let stdio = || Stdio::from(self.slave.try_clone().expect("dup the slave"));
        cmd.stdin(stdio()).stdout(stdio()).stderr(stdio());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.spawn().expect("spawn a command on the terminal")
    }

    pub(super) fn type_in(&self, bytes: &[u8]) {
        // SAFETY: writes from a valid buffer.
        let n = unsafe { libc::write(self.master.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        assert_eq!(n, bytes.len() as isize, "type {bytes:?}");
    }

    /// Everything shown since the last call, up to and including `needle`
    /// (waiting for it, under the watchdog).
    #[track_caller]
    pub(super) fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let text = String::from_utf8_lossy(&self.seen).into_owned();
            if let Some(at) = text.find(needle) {
                let upto = at + needle.len();
                self.seen.drain(..upto);
                return text[..upto].to_string();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {needle:?} on the terminal; it shows {text:?}"
            );
            let mut pfd = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            if n <= 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            // SAFETY: reads into a valid buffer.
            let n =
                unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            assert!(n > 0, "terminal closed; it showed {text:?}");
            self.seen.extend_from_slice(&buf[..n as usize]);
        }
    }
}

impl Terminal {
    /// Everything shown and not read yet, without waiting.
    pub(super) fn shown_now(&mut self) -> String {
        loop {
            let mut pfd = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd; no waiting.
            if unsafe { libc::poll(&mut pfd, 1, 0) } <= 0 {
                break;
            }
            let mut buf = [0u8; 4096];
            // SAFETY: reads into a valid buffer.
            let n =
                unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            self.seen.extend_from_slice(&buf[..n as usize]);
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.seen)).into_owned()
    }
}

impl Terminal {
    /// Wait for `child` under the watchdog, reading what it shows
    /// meanwhile (so it never blocks on a full terminal); its exit code.
    pub(super) fn finish(&mut self, mut child: Child) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        let deadline = Instant::now() + WATCHDOG;
        // SAFETY: pidfd_open on our own unreaped child.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as i32, 0) } as i32;
        check(fd, "pidfd_open");
        // SAFETY: a fresh fd nobody else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd) };
        let exited = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            let mut pfds = [
                libc::pollfd {
                    fd: pidfd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.master.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two valid pollfds.
            unsafe { libc::poll(pfds.as_mut_ptr(), 2, left.as_millis() as i32) };
            if pfds[0].revents != 0 {
                break true;
            }
            if pfds[1].revents != 0 {
                let mut buf = [0u8; 4096];
                // SAFETY: reads into a valid buffer.
                let n = unsafe {
                    libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
                };
                assert!(n > 0, "read the terminal: {}", io::Error::last_os_error());
                self.seen.extend_from_slice(&buf[..n as usize]);
            }
        };
        if !exited {
            let _ = child.kill();
        }
        let status = child.wait().expect("wait for tinydocker");
        assert!(exited, "tinydocker still ran after {WATCHDOG:?}");
        assert_eq!(
            status.signal(),
            None,
            "tinydocker itself was killed: {status:?}"
        );
        status.code().expect("an exit code")
    }
}

#[test]
fn tty_sessions() {
    let root = TestRoot::new();
    let _run = start(&root, "term", &[]);
    let mut term = Terminal::open(31, 97);
    let cooked = term.lflag();
    assert_ne!(cooked & libc::ICANON, 0, "a new terminal is cooked");

    // An interactive shell, typed into.
    let session = term.spawn(&root, &["exec", "-it", "term", "sh"]);
    term.type_in(b"tty; stty size; echo MARK$((1+1))\n");
    let shown = term.wait_for("MARK2");
    assert!(shown.contains("\n/dev/pts/"), "{shown:?}");
    assert!(shown.contains("31 97\r\n"), "{shown:?}");
    // The user's terminal is raw while the session lasts.
    assert_eq!(term.lflag() & (libc::ICANON | libc::ECHO), 0, "raw mode");
    // A resize reaches the program's terminal.
    term.resize(40, 120);
    term.type_in(b"stty size; echo MARK$((2+1))\n");
    let shown = term.wait_for("MARK3");
    assert!(shown.contains("40 120\r\n"), "{shown:?}");
    term.type_in(b"exit 4\n");
    assert_eq!(term.finish(session), 4);
    // And cooked again afterwards.
    assert_eq!(term.lflag(), cooked, "terminal settings restored");

    // Ctrl-C goes through to the program, which dies of it.
    let session = term.spawn(
        &root,
        &[
            "exec",
            "-it",
            "term",
            "sh",
            "-c",
            "echo ready; exec sleep 100",
        ],
    );
    term.wait_for("ready");
    term.type_in(&[0x03]);
    assert_eq!(term.finish(session), 130);
    assert_eq!(term.lflag(), cooked, "terminal settings restored");

    // -t without -i: a terminal, output through it, the user's terminal
    // left cooked, stdin not read.
    let session = term.spawn(&root, &["exec", "-t", "term", "sh", "-c", "tty; echo done"]);
    let shown = term.wait_for("done");
    assert!(shown.contains("/dev/pts/"), "{shown:?}");
    assert_eq!(term.finish(session), 0);
    assert_eq!(term.lflag(), cooked);

    // A failure to start restores the terminal too, and says why.
    let session = term.spawn(&root, &["exec", "-it", "term", "nosuchcommand"]);
    term.wait_for("executable file not found");
    assert_eq!(term.finish(session), 127);
    assert_eq!(term.lflag(), cooked);

    // Everything a short-lived program wrote is passed on before exec
    // exits.
    let session = term.spawn(
        &root,
        &[
            "exec",
            "-t",
            "term",
            "sh",
            "-c",
            "seq 1 20000 > /tmp/big; cat /tmp/big; echo END",
        ],
    );
    assert_eq!(term.finish(session), 0);
    // (Without -i the user's terminal stays cooked: it adds a \r of its own.)
    let shown = term.shown_now().replace('\r', "");
    assert!(
        shown.ends_with("\n19999\n20000\nEND\n"),
        "{:?}",
        &shown[shown.len().saturating_sub(100)..]
    );
}
