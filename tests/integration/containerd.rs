//! containerd driving `tinydocker-runtime` as its OCI runtime: `ctr` talks
//! to a containerd of the test's own ([`Containerd`]), whose
//! containerd-shim-runc-v2 runs the runtime with runc's command line for
//! create, start, exec, pause, resume, ps, kill and delete, a terminal
//! through `--console-socket`, and namespaces joined by path as a pod's
//! containers do.
//!
//! Every `ctr run` names a wrapper script as its `--runc-binary`: it logs
//! each call and execs `tinydocker-runtime`, so a test can tell that every
//! call reached the runtime under test and not the runc on the host.
//!
//! Needs containerd 1.6's `containerd`, `ctr` and `containerd-shim-runc-v2`
//! (Debian: apt-get install containerd).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tinydocker_tests::oci::{
    assert_called, assert_runtime_clean, containerd_config, logged_calls, remove_cgroups_named,
    runtime_ids_in, shims_of, write_script,
};
use tinydocker_tests::{
    entries, make_busybox_rootfs, mounts_mentioning, output, process_alive, report_cleanup,
    require_root, runtime_bin, settles, Out, TempDir,
};

const CONTAINERD: &str = "/usr/bin/containerd";
const CTR: &str = "/usr/bin/ctr";
const SHIM: &str = "/usr/bin/containerd-shim-runc-v2";

/// Where containerd-shim-runc-v2 keeps runc state: it passes
/// `--root RUNC_ROOT/<namespace>` to the runtime.
const RUNC_ROOT: &str = "/run/containerd/runc";

/// Where `ctr` makes the fifos of a task's stdio.
const FIFO_DIR: &str = "/run/containerd/fifo";

/// The longest path a unix socket may have (sun_path holds 108 bytes).
const SUN_PATH_MAX: usize = 107;

/// A containerd of one test: its config, root, state, socket, a private
/// busybox rootfs and the `--runc-binary` wrapper in a temp dir, and a
/// containerd namespace of its own (`tdtest-PID-N`). Dropped (also on
/// panic) it removes every container through the runtime, stops
/// containerd, kills its shims, and removes the runtime's state root and
/// the namespace's cgroups; a container cgroup left behind is reported.
struct Containerd {
    dir: Option<TempDir>,
    child: Option<Child>,
    ns: String,
}

impl Containerd {
    /// Start containerd and wait until it answers `ctr version`.
    fn start() -> Containerd {
        require_root();
        runtime_bin();
        for bin in [CONTAINERD, CTR, SHIM] {
            assert!(
                Path::new(bin).is_file(),
                "{bin} is missing: apt-get install containerd"
            );
        }
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        // A short tag: the ttrpc socket's path must fit a sockaddr_un.
        let dir = TempDir::new("ctd");
        let sock = dir.join("containerd.sock");
        assert!(
            sock.as_os_str().len() + ".ttrpc".len() <= SUN_PATH_MAX,
            "{} is too long for a unix socket: set TMPDIR to a shorter directory",
            sock.display()
        );
        let config = containerd_config(&dir.join("root"), &dir.join("state"), &sock);
        fs::write(dir.join("config.toml"), config).expect("write config.toml");
        // The runtime as the shim runs it, one line per call.
        let wrapper = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            dir.join("calls.log").display(),
            runtime_bin().display()
        );
        write_script(&dir.join("runtime.sh"), &wrapper);
        // The runtime creates missing mount points (/dev, /proc, /run,
        // /sys) in the root, as runc does, read-only root or not: a private
        // copy keeps the shared busybox rootfs (imported by other tests)
        // unchanged.
        make_busybox_rootfs(&dir.join("rootfs"));
        let log = fs::File::create(dir.join("containerd.log")).expect("create containerd.log");
        let child = Command::new(CONTAINERD)
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup the log"))
            .stderr(log)
            .spawn()
            .expect("spawn containerd");
        let ctd = Containerd {
            dir: Some(dir),
            child: Some(child),
            ns: format!("tdtest-{}-{n}", std::process::id()),
        };
        ctd.wait_ready();
        ctd
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("temp dir").path()
    }

    fn sock(&self) -> PathBuf {
        self.dir().join("containerd.sock")
    }

    /// The rootfs `ctr run --rootfs` gets.
    fn rootfs(&self) -> PathBuf {
        self.dir().join("rootfs")
    }

    /// The `--runc-binary` wrapper.
    fn wrapper(&self) -> PathBuf {
        self.dir().join("runtime.sh")
    }

    /// The runtime's state root for this namespace.
    fn runc_root(&self) -> PathBuf {
        Path::new(RUNC_ROOT).join(&self.ns)
    }

    fn log_text(&self) -> String {
        fs::read_to_string(self.dir().join("containerd.log")).unwrap_or_default()
    }

    fn wait_ready(&self) {
        let sock = self.sock();
        let pid = self.child.as_ref().expect("containerd").id();
        let ready = settles(|| {
            assert!(
                Path::new(&format!("/proc/{pid}")).exists(),
                "containerd exited while starting:\n{}",
                self.log_text()
            );
            sock.exists() && output(self.ctr_cmd(&["version"]), None).code == 0
        });
        assert!(ready, "containerd never answered:\n{}", self.log_text());
    }

    /// `ctr --address SOCK -n NS ARGS...`, not yet run.
    fn ctr_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(CTR);
        cmd.arg("--address")
            .arg(self.sock())
            .arg("-n")
            .arg(&self.ns)
            .args(args);
        cmd
    }

    /// Run `ctr ... ARGS...` with stdin from /dev/null.
    fn ctr(&self, args: &[&str]) -> Out {
        output(self.ctr_cmd(args), None)
    }

    /// The arguments of `ctr run FLAGS --runc-binary WRAPPER --rootfs
    /// ROOTFS ID CMD...` (`--rootfs` takes no value: the root is the first
    /// argument, so every flag goes before it).
    fn run_args(&self, flags: &[&str], id: &str, cmd: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec!["run".into()];
        args.extend(flags.iter().map(|s| s.to_string()));
        args.push("--runc-binary".into());
        args.push(self.wrapper().to_string_lossy().into_owned());
        args.push("--rootfs".into());
        args.push(self.rootfs().to_string_lossy().into_owned());
        args.push(id.into());
        args.extend(cmd.iter().map(|s| s.to_string()));
        args
    }

    /// `ctr run FLAGS ... ID CMD...` (see [`Containerd::run_args`]).
    fn run(&self, flags: &[&str], id: &str, cmd: &[&str]) -> Out {
        let args = self.run_args(flags, id, cmd);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ctr(&args)
    }

    /// `ctr run -d ... ID CMD...`, asserted to succeed; the task's pid.
    #[track_caller]
    fn run_detached(&self, id: &str, cmd: &[&str]) -> i64 {
        self.run(&["-d"], id, cmd).ok();
        assert_eq!(self.status(id).as_deref(), Some("RUNNING"));
        self.pid(id)
    }

    /// `ctr task ls`: (id, pid, status) of every task.
    fn tasks(&self) -> Vec<(String, i64, String)> {
        let out = self.ctr(&["task", "ls"]);
        out.ok();
        out.lines()
            .iter()
            .skip(1)
            .filter_map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                match cols[..] {
                    [id, pid, status] => Some((
                        id.to_string(),
                        pid.parse().expect("a pid in task ls"),
                        status.to_string(),
                    )),
                    _ => None,
                }
            })
            .collect()
    }

    /// The STATUS `ctr task ls` shows for `id`, if it lists it.
    fn status(&self, id: &str) -> Option<String> {
        self.tasks()
            .into_iter()
            .find(|(task, _, _)| task == id)
            .map(|(_, _, status)| status)
    }

    /// The PID `ctr task ls` shows for `id`.
    #[track_caller]
    fn pid(&self, id: &str) -> i64 {
        self.tasks()
            .into_iter()
            .find(|(task, _, _)| task == id)
            .map(|(_, pid, _)| pid)
            .unwrap_or_else(|| panic!("no task {id} in ctr task ls"))
    }

    /// Wait until `ctr task ls` shows `status` for `id`.
    #[track_caller]
    fn wait_status(&self, id: &str, status: &str) {
        let mut last = None;
        let reached = settles(|| {
            last = self.status(id);
            last.as_deref() == Some(status)
        });
        assert!(reached, "task {id} is {last:?}, never {status}");
    }

    /// `ctr task kill -s SIGKILL`, wait for STOPPED, `ctr task delete`,
    /// `ctr container rm`.
    #[track_caller]
    fn kill_and_remove(&self, id: &str) {
        self.ctr(&["task", "kill", "-s", "SIGKILL", id]).ok();
        self.wait_status(id, "STOPPED");
        self.ctr(&["task", "delete", id]).ok();
        self.ctr(&["container", "rm", id]).ok();
    }

    /// The ids the runtime lists in its root.
    fn runtime_ids(&self) -> Vec<String> {
        runtime_ids_in(&self.runc_root())
    }

    /// Every call the wrapper logged, without the global options the shim
    /// always passes (`--root R --log L --log-format json`): e.g.
    /// `start ID`, `kill ID 9`.
    fn calls(&self) -> Vec<String> {
        logged_calls(&self.dir().join("calls.log"))
    }

    /// Assert the runtime was called with `prefix ... ID` (the subcommand
    /// and maybe its first options, the container id last).
    #[track_caller]
    fn assert_called(&self, prefix: &str, id: &str) {
        assert_called(&self.calls(), prefix, id);
    }

    /// Pids of the shims of this containerd (`-address SOCK` in their
    /// command line).
    fn shims(&self) -> Vec<i32> {
        shims_of(&self.sock())
    }

    /// Assert nothing of this namespace is left: no container or task in
    /// containerd, none in the runtime's root, no container cgroup, no
    /// shim, no mount.
    #[track_caller]
    fn assert_clean(&self) {
        assert_eq!(self.ctr(&["container", "ls", "-q"]).text(), "", "ctr c ls");
        assert_eq!(self.tasks(), Vec::new(), "ctr task ls");
        assert_runtime_clean(&self.runc_root(), &self.ns);
        // A shim exits once containerd has deleted its task.
        assert!(
            settles(|| self.shims().is_empty()),
            "shims still run: {:?}",
            self.shims()
        );
        for path in [self.dir().to_path_buf(), self.runc_root()] {
            assert_eq!(
                mounts_mentioning(&path),
                Vec::<String>::new(),
                "mounts of {}",
                path.display()
            );
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let mut problems = Vec::new();
        let sock = dir.join("containerd.sock");
        let runc_root = Path::new(RUNC_ROOT).join(&self.ns);
        // Best effort, and never a panic out of a drop that may already run
        // during a panic (that would abort the whole suite).
        let quiet = |args: &[&str]| {
            let mut c = Command::new(runtime_bin());
            c.arg("--root").arg(&runc_root).args(args);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| output(c, None))).ok()
        };
        let force_delete = |problems: &mut Vec<String>| {
            if !runc_root.exists() {
                return;
            }
            if let Some(list) = quiet(&["list", "-q"]) {
                for id in list.stdout.split_whitespace() {
                    if !matches!(quiet(&["delete", "--force", id]), Some(o) if o.code == 0) {
                        problems.push(format!("delete --force {id} failed"));
                    }
                }
            }
        };
        // The stdio fifos `ctr` made for the tasks a failed test left (in
        // /run/containerd/fifo, removed by `ctr task delete` otherwise), as
        // their shims hold them.
        let fifos: Vec<PathBuf> = shims_of(&sock)
            .into_iter()
            .flat_map(|pid| {
                let fds = Path::new("/proc").join(pid.to_string()).join("fd");
                entries(&fds)
                    .into_iter()
                    .filter_map(move |fd| fs::read_link(fds.join(fd)).ok())
            })
            .filter(|path| path.starts_with(FIFO_DIR))
            .collect();
        // Containers a failed test left: killed through the runtime, so
        // their shims see them exit.
        force_delete(&mut problems);
        // The shims' sockets (in /run/containerd/s), which a killed shim
        // leaves behind.
        let task_dir = dir
            .join("state/io.containerd.runtime.v2.task")
            .join(&self.ns);
        let shim_sockets: Vec<PathBuf> = entries(&task_dir)
            .iter()
            .filter_map(|id| fs::read_to_string(task_dir.join(id).join("address")).ok())
            .filter_map(|a| a.trim().strip_prefix("unix://").map(PathBuf::from))
            .collect();
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) of our own child, not yet reaped.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        eprintln!("containerd ignored SIGTERM for 20s: SIGKILL");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }
        // A shim outlives containerd (by design, for a restart): a task
        // left running keeps its shim.
        for pid in shims_of(&sock) {
            // SAFETY: kill(2) of a shim our containerd started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if !settles(|| shims_of(&sock).is_empty()) {
            problems.push(format!("shims survived SIGKILL: {:?}", shims_of(&sock)));
        }
        for path in shim_sockets {
            let _ = fs::remove_file(path);
        }
        for path in &fifos {
            let _ = fs::remove_file(path);
        }
        for path in &fifos {
            // Fails, as it should, while anything else is in there.
            if let Some(parent) = path.parent().filter(|p| *p != Path::new(FIFO_DIR)) {
                let _ = fs::remove_dir(parent);
            }
        }
        force_delete(&mut problems);
        if runc_root.exists() {
            let leaked = mounts_mentioning(&runc_root);
            if leaked.is_empty() {
                if let Err(e) = fs::remove_dir_all(&runc_root) {
                    problems.push(format!("remove {}: {e}", runc_root.display()));
                }
            } else {
                problems.push(format!(
                    "mounts left under {}:\n{}",
                    runc_root.display(),
                    leaked.join("\n")
                ));
            }
        }
        remove_cgroups_named(&self.ns, &mut problems);
        let leaked = mounts_mentioning(dir.path());
        if !leaked.is_empty() {
            problems.push(format!("mounts left: {}", leaked.join("\n")));
        }
        drop(dir);
        if !problems.is_empty() {
            let msg = format!(
                "cleanup of containerd namespace {}: {}",
                self.ns,
                problems.join("; ")
            );
            report_cleanup(msg);
        }
    }
}

#[test]
fn a_foreground_container_runs_and_is_removed() {
    let ctd = Containerd::start();
    let out = ctd.run(
        &["--rm"],
        "fg",
        &["/bin/sh", "-c", "echo hello; echo to-stderr >&2; exit 3"],
    );
    out.code(3).stdout_is("hello");
    assert!(out.stderr.contains("to-stderr"), "{out:?}");
    for call in ["create --bundle", "start", "delete"] {
        ctd.assert_called(call, "fg");
    }
    ctd.assert_clean();
}

#[test]
fn a_detached_task_execs_pauses_resumes_and_is_killed() {
    let ctd = Containerd::start();
    let pid = ctd.run_detached("bg", &["/bin/sleep", "1000"]);
    // The runtime under test holds it (runc keeps another layout there).
    assert_eq!(ctd.runtime_ids(), vec!["bg".to_string()]);

    ctd.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "bg",
        "/bin/sh",
        "-c",
        "echo in-exec",
    ])
    .ok()
    .stdout_is("in-exec");
    ctd.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e2",
        "bg",
        "/bin/sh",
        "-c",
        "exit 7",
    ])
    .code(7);
    // The exec ran in the container: it sees the init as its pid 1.
    ctd.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e3",
        "bg",
        "/bin/cat",
        "/proc/1/cmdline",
    ])
    .ok()
    .stdout_is("/bin/sleep\u{0}1000\u{0}");

    ctd.ctr(&["task", "pause", "bg"]).ok();
    assert_eq!(ctd.status("bg").as_deref(), Some("PAUSED"));
    ctd.ctr(&["task", "resume", "bg"]).ok();
    assert_eq!(ctd.status("bg").as_deref(), Some("RUNNING"));

    // The shim reads the container's cgroup itself.
    let metrics = ctd.ctr(&["task", "metrics", "bg"]);
    metrics.ok();
    assert!(
        metrics.stdout.contains("pids") || metrics.stdout.contains("memory"),
        "{metrics:?}"
    );
    // `ps` lists the init, by its host pid.
    let ps = ctd.ctr(&["task", "ps", "bg"]);
    ps.ok();
    assert!(
        ps.lines()
            .iter()
            .skip(1)
            .any(|l| l.split_whitespace().next() == Some(&pid.to_string())),
        "no {pid} in {ps:?}"
    );

    ctd.kill_and_remove("bg");
    assert!(!process_alive(pid), "{pid} still runs");

    ctd.assert_called("create --bundle", "bg");
    ctd.assert_called("start", "bg");
    ctd.assert_called("exec --process", "bg");
    ctd.assert_called("pause", "bg");
    ctd.assert_called("resume", "bg");
    ctd.assert_called("ps --format json", "bg");
    assert!(
        ctd.calls().contains(&"kill bg 9".to_string()),
        "no `kill bg 9` in {:#?}",
        ctd.calls()
    );
    ctd.assert_called("delete", "bg");
    ctd.assert_clean();
}

/// BUG (tinydocker-runtime, found by this test): SIGKILL to a paused task
/// leaves it PAUSED, the signal pending in the frozen cgroup, where runc
/// (1.1.5) thaws it after a SIGKILL (`kill ID 9`) and after any signal to
/// all processes (`kill --all ID SIG`), as its libcontainer Signal and
/// signalAllProcesses do on cgroup v1. So `ctr task kill -s SIGKILL` never
/// stops a paused task, and `ctr task rm -f` of a paused task (the shim
/// runs `kill --all ID 9` and waits for the exit) hangs for ever.
#[test]
fn a_paused_task_is_killed() {
    let ctd = Containerd::start();
    ctd.run_detached("paused", &["/bin/sleep", "1000"]);
    ctd.ctr(&["task", "pause", "paused"]).ok();
    assert_eq!(ctd.status("paused").as_deref(), Some("PAUSED"));
    ctd.ctr(&["task", "kill", "-s", "SIGKILL", "paused"]).ok();
    assert!(
        ctd.calls().iter().any(|c| c == "kill paused 9"),
        "no `kill paused 9` in {:#?}",
        ctd.calls()
    );
    // Fails here until the runtime thaws a paused container on SIGKILL.
    ctd.wait_status("paused", "STOPPED");
    ctd.ctr(&["task", "delete", "paused"]).ok();
    ctd.ctr(&["container", "rm", "paused"]).ok();

    // `task rm -f`: `kill --all ID 9` to a paused task, which must thaw it.
    ctd.run_detached("paused", &["/bin/sleep", "1000"]);
    ctd.ctr(&["task", "pause", "paused"]).ok();
    ctd.ctr(&["task", "rm", "-f", "paused"]).ok();
    assert!(
        ctd.calls().iter().any(|c| c == "kill --all paused 9"),
        "no `kill --all paused 9` in {:#?}",
        ctd.calls()
    );
    ctd.ctr(&["container", "rm", "paused"]).ok();
    ctd.assert_clean();
}

#[test]
fn a_terminal_reaches_the_container() {
    let ctd = Containerd::start();
    // Its slave is the terminal `ctr run -t` runs on, its master the
    // test's keyboard and screen.
    let mut pty = super::exec::Terminal::open(24, 80);
    let args = ctd.run_args(
        &["-t", "--rm"],
        "tty",
        &[
            "/bin/sh",
            "-c",
            "/bin/tty; read line; echo got-$line; exit 5",
        ],
    );
    let mut cmd = ctd.ctr_cmd(&[]);
    cmd.args(&args);
    let session = pty.spawn_command(cmd);
    // The container's own devpts, its first terminal.
    let shown = pty.wait_for("/dev/pts/0");
    assert!(!shown.contains("ERRO"), "{shown:?}");
    // Typed keys reach the container through ctr, the shim and the
    // console the runtime handed over.
    pty.type_in(b"abc\n");
    pty.wait_for("got-abc");
    let code = pty.finish(session);
    let shown = pty.shown_now();
    assert_eq!(code, 5, "exit code of ctr run -t; it showed {shown:?}");
    assert!(
        ctd.calls()
            .iter()
            .any(|c| c.starts_with("create ") && c.contains(" --console-socket ")),
        "no create --console-socket in {:#?}",
        ctd.calls()
    );
    ctd.assert_called("start", "tty");
    ctd.assert_called("delete", "tty");
    ctd.assert_clean();
}

#[test]
fn containers_share_namespaces_like_a_pod() {
    let ctd = Containerd::start();
    let pid = ctd.run_detached("pod-a", &["/bin/sleep", "1000"]);
    let ns = |kind: &str| {
        fs::read_link(format!("/proc/{pid}/ns/{kind}"))
            .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{kind}: {e}"))
            .to_string_lossy()
            .into_owned()
    };
    let (net, ipc) = (ns("net"), ns("ipc"));
    let with = |kind: &str, file: &str| format!("{kind}:/proc/{pid}/ns/{file}");
    let (with_net, with_ipc, with_pid) = (
        with("network", "net"),
        with("ipc", "ipc"),
        with("pid", "pid"),
    );
    let out = ctd.run(
        &[
            "--rm",
            "--with-ns",
            &with_net,
            "--with-ns",
            &with_ipc,
            "--with-ns",
            &with_pid,
        ],
        "pod-b",
        &[
            "/bin/sh",
            "-c",
            "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; cat /proc/1/cmdline",
        ],
    );
    out.ok();
    // The same namespaces: the inode numbers are the same seen from inside.
    assert_eq!(
        out.lines(),
        vec![net.as_str(), ipc.as_str(), "/bin/sleep\u{0}1000\u{0}"]
    );
    // Not the host's.
    assert_ne!(
        net,
        fs::read_link("/proc/self/ns/net")
            .unwrap()
            .to_string_lossy()
    );

    // Alone, B gets namespaces of its own.
    let out = ctd.run(&["--rm"], "pod-c", &["/bin/readlink", "/proc/self/ns/net"]);
    out.ok();
    assert_ne!(out.text(), net);

    ctd.kill_and_remove("pod-a");
    for id in ["pod-a", "pod-b", "pod-c"] {
        ctd.assert_called("create --bundle", id);
        ctd.assert_called("delete", id);
    }
    ctd.assert_clean();
}
