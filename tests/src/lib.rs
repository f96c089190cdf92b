//! The harness for tinydocker's root integration tests.
//!
//! Every test drives the built `tinydocker` binary against the real kernel,
//! in a state root of its own ([`TestRoot`]), with a `busybox` image imported
//! from a rootfs made out of the host's static busybox. The root is cleaned up
//! when the guard drops, also when the test panics: containers are removed
//! through the binary, leaked mounts are detached and reported, the
//! directory is deleted.
//!
//! Every child process runs under a watchdog (see [`WATCHDOG`]) so that a hung
//! container fails its test instead of hanging the whole suite; the watchdog
//! never decides a test's outcome otherwise.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Duration;

pub mod oci;
pub mod registry;

/// How long any one child process may run before it is killed and its test
/// fails. A safety net against hangs only: far above anything a passing test
/// needs, and not an assertion about speed.
pub const WATCHDOG: Duration = Duration::from_secs(120);

/// Docker's exit code for errors of the runtime itself.
pub const USAGE: i32 = 125;

const BUSYBOX: &str = "/bin/busybox";

/// The `tinydocker` binary under test: `$TINYDOCKER_BIN`, else the one built
/// beside this test binary (`target/<profile>/deps/..` → `target/<profile>`).
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("TINYDOCKER_BIN") {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "TINYDOCKER_BIN={} does not exist",
                path.display()
            );
            return path;
        }
        let exe = std::env::current_exe().expect("path of the test binary");
        let mut dir = exe.parent().expect("the test binary's directory");
        if dir.ends_with("deps") {
            dir = dir.parent().expect("target/<profile>");
        }
        let candidate = dir.join("tinydocker");
        let found = candidate.is_file().then_some(candidate);
        match found {
            Some(path) => path,
            None => panic!(
                "no tinydocker binary next to {}: build it first: cargo build -p tinydocker (or run cargo xtask test)",
                exe.display()
            ),
        }
    })
}

/// The `tinydocker-runtime` binary under test (the OCI runtime):
/// `$TINYDOCKER_RUNTIME_BIN`, else the one beside [`bin`].
pub fn runtime_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let path = match std::env::var_os("TINYDOCKER_RUNTIME_BIN") {
            Some(path) => PathBuf::from(path),
            None => bin().with_file_name("tinydocker-runtime"),
        };
        assert!(
            path.is_file(),
            "no tinydocker-runtime at {}: build it first: cargo build -p tinydocker-runtime (or run cargo xtask test)",
            path.display()
        );
        path
    })
}

/// The suite is meant to run as root; anything else is a failure, not a skip,
/// so that a green run always means the kernel paths were exercised.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "the tinydocker integration tests need root (euid is {euid}): run them as root, e.g. sudo -E cargo test -p tinydocker-tests"
    );
}

/// A directory removed on drop. Made by hand (mkdir, never reused) so the
/// harness needs no dependency beyond libc.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A new empty directory under the system temp dir, named after `tag`
    /// (usually the test's name) so a leftover is easy to trace.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let tag: String = tag
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(60)
            .collect();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("tinydocker-test-{}-{n}-{tag}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => {
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                        .expect("chmod temp dir");
                    return TempDir { path };
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("create {}: {e}", path.display()),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Never recurse into something still mounted: it could be a bind of
        // a host directory.
        if mounts_mentioning(&self.path).is_empty() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// The name of the running test (libtest names each test's thread after it).
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string()
}

/// Fill `dir` with a minimal busybox root filesystem: /bin/busybox, one
/// symlink per applet, /etc/passwd and /etc/group with root, a 1777 /tmp,
/// and the empty /proc, /sys and /dev an image has (a container whose root
/// is mapped to an unprivileged host id cannot make them in a root-owned
/// rootfs; without them the OCI user-namespace test passed only when
/// another test had made them first in the shared rootfs).
pub fn make_busybox_rootfs(dir: &Path) {
    let busybox = Path::new(BUSYBOX);
    assert!(
        busybox.is_file(),
        "{BUSYBOX} is missing: apt-get install busybox-static"
    );
    for sub in ["bin", "etc", "root", "tmp", "proc", "sys", "dev"] {
        fs::create_dir_all(dir.join(sub)).expect("mkdir in rootfs");
    }
    fs::copy(busybox, dir.join("bin/busybox")).expect("copy busybox");
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .expect("busybox --list");
    assert!(list.status.success(), "busybox --list failed");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = dir.join("bin").join(applet);
        if applet.is_empty() || applet.contains('/') || link.exists() {
            continue;
        }
        std::os::unix::fs::symlink("busybox", &link).expect("applet symlink");
    }
    fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
    fs::write(dir.join("etc/group"), "root:x:0:\n").expect("group");
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).expect("chmod tmp");
}

extern "C" fn remove_shared_rootfs() {
    if let Some(dir) = SHARED_ROOTFS.get() {
        let _ = fs::remove_dir_all(dir.path());
    }
}

static SHARED_ROOTFS: OnceLock<TempDir> = OnceLock::new();

/// The busybox rootfs directory, built once per test process (and removed
/// when it exits). Read-only for tests: copy it to change it.
pub fn busybox_rootfs() -> &'static Path {
    SHARED_ROOTFS
        .get_or_init(|| {
            let dir = TempDir::new("busybox-rootfs");
            make_busybox_rootfs(dir.path());
            // Statics are never dropped; remove the directory at exit(3),
            // which is how the test harness ends.
            // SAFETY: registering a plain extern "C" fn with no arguments.
            unsafe { libc::atexit(remove_shared_rootfs) };
            dir
        })
        .path()
}

const STRESS: &str = "/usr/bin/stress";

/// Fill `dir` with the busybox root filesystem of [`make_busybox_rootfs`]
/// plus the host's dynamically linked `/usr/bin/stress` and the shared
/// libraries `ldd` lists for it (and the dynamic loader), at the same paths.
pub fn make_stress_rootfs(dir: &Path) {
    assert!(
        Path::new(STRESS).is_file(),
        "{STRESS} is missing: apt-get install stress"
    );
    make_busybox_rootfs(dir);
    let mut ldd = Command::new("ldd");
    ldd.arg(STRESS);
    let libs = output(ldd, None);
    libs.ok();
    // "libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x...)" and
    // "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
    let mut files: Vec<PathBuf> = vec![PathBuf::from(STRESS)];
    for line in libs.lines() {
        files.extend(
            line.split_whitespace()
                .filter(|word| word.starts_with('/'))
                .map(PathBuf::from),
        );
    }
    let loader = PathBuf::from("/lib64/ld-linux-x86-64.so.2");
    if loader.exists() && !files.contains(&loader) {
        files.push(loader);
    }
    for file in files {
        let dest = dir.join(file.strip_prefix("/").expect("absolute path"));
        fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir in rootfs");
        // fs::copy follows symlinks: the rootfs gets the files themselves.
        fs::copy(&file, &dest)
            .unwrap_or_else(|e| panic!("copy {} into the rootfs: {e}", file.display()));
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

extern "C" fn remove_stress_rootfs() {
    if let Some(dir) = STRESS_ROOTFS.get() {
        let _ = fs::remove_dir_all(dir.path());
    }
}

static STRESS_ROOTFS: OnceLock<TempDir> = OnceLock::new();

/// The rootfs of [`make_stress_rootfs`], built once per test process (and
/// removed when it exits). Read-only for tests.
pub fn stress_rootfs() -> &'static Path {
    STRESS_ROOTFS
        .get_or_init(|| {
            let dir = TempDir::new("stress-rootfs");
            make_stress_rootfs(dir.path());
            // SAFETY: registering a plain extern "C" fn with no arguments.
            unsafe { libc::atexit(remove_stress_rootfs) };
            dir
        })
        .path()
}

/// Pack `dir` with `busybox tar` into `out/rootfs.tar`, and gzip that into
/// `out/rootfs.tar.gz`; returns both paths.
pub fn tarballs(dir: &Path, out: &Path) -> (PathBuf, PathBuf) {
    let tar = out.join("rootfs.tar");
    let gz = out.join("rootfs.tar.gz");
    let mut c = Command::new(BUSYBOX);
    c.args(["tar", "-cf"]).arg(&tar).arg("-C").arg(dir).arg(".");
    output(c, None).ok();
    let mut c = Command::new(BUSYBOX);
    c.args(["sh", "-c", "/bin/busybox gzip -c \"$1\" > \"$2\"", "sh"])
        .arg(&tar)
        .arg(&gz);
    output(c, None).ok();
    (tar, gz)
}

/// What a finished command left: exit code, stdout and stderr.
#[derive(Debug, Clone)]
pub struct Out {
    pub what: String,
    /// The exit code; 128+N when the process itself was killed by signal N.
    pub code: i32,
    /// The signal that killed the process itself, if one did. The runtime
    /// must always exit on its own (reporting a container's signal as
    /// 128+N), so [`Out::code`] fails on this.
    pub killed_by: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    fn describe(&self) -> String {
        format!(
            "{}\n  exit code: {}{}\n  stdout: {:?}\n  stderr: {:?}",
            self.what,
            self.code,
            match self.killed_by {
                Some(sig) => format!(" (killed by signal {sig} itself)"),
                None => String::new(),
            },
            self.stdout,
            self.stderr
        )
    }

    /// Assert the process exited by itself with `expected`; returns self
    /// for chaining.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert!(
            self.killed_by.is_none(),
            "the process was killed by a signal: {}",
            self.describe()
        );
        assert_eq!(
            self.code,
            expected,
            "unexpected exit code from {}",
            self.describe()
        );
        self
    }

    /// Assert exit code 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    /// Assert a runtime error as the CLI contract has it: exit 125 and a
    /// single line on stderr starting with `tinydocker: `.
    #[track_caller]
    pub fn usage_error(&self) -> &Self {
        self.code(USAGE);
        self.one_error_line();
        self
    }

    /// Assert stderr is exactly one line, starting with `tinydocker: `.
    #[track_caller]
    pub fn one_error_line(&self) -> &Self {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("tinydocker: ") && lines[0].len() > 12,
            "expected one error line starting with \"tinydocker: \" from {}",
            self.describe()
        );
        self
    }

    /// Assert stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?} in {}",
            self.describe()
        );
        self
    }

    /// Assert stdout is exactly `expected` (after trimming a final newline).
    #[track_caller]
    pub fn stdout_is(&self, expected: &str) -> &Self {
        assert_eq!(
            self.stdout.trim_end_matches('\n'),
            expected,
            "unexpected stdout from {}",
            self.describe()
        );
        self
    }

    /// stdout, trimmed.
    pub fn text(&self) -> &str {
        self.stdout.trim()
    }

    /// stdout as lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

fn exit_code(status: ExitStatus) -> (i32, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code, None),
        (None, Some(sig)) => (128 + sig, Some(sig)),
        (None, None) => (-1, None),
    }
}

fn pidfd_open(pid: u32) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(
        fd >= 0,
        "pidfd_open({pid}): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: fd is a fresh pidfd that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Wait until the child has exited or `WATCHDOG` has passed; on timeout
/// SIGKILL it (through the pidfd, so never a recycled pid) and say so.
fn wait_or_kill(child: &mut Child, pidfd: &OwnedFd) -> (ExitStatus, bool) {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = WATCHDOG.as_millis() as i32;
    let ready = loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 {
            break n > 0;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break false;
        }
    };
    if !ready {
        // SAFETY: pidfd_send_signal on our own pidfd, no siginfo.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0u32,
            )
        };
    }
    (child.wait().expect("wait for child"), !ready)
}

fn reader<R: Read + Send + 'static>(mut r: R) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

fn describe_command(cmd: &Command) -> String {
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    format!("{} {}", cmd.get_program().to_string_lossy(), args.join(" "))
}

/// Run `cmd` to the end, feeding it `stdin` (or /dev/null), and capture
/// everything, under the watchdog.
pub fn output(mut cmd: Command, stdin: Option<&[u8]>) -> Out {
    let what = describe_command(&cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let pidfd = pidfd_open(child.id());
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let data = data.to_vec();
        // A broken pipe is the child's business (it may not read at all).
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        })
    });
    let out = reader(child.stdout.take().expect("stdout pipe"));
    let err = reader(child.stderr.take().expect("stderr pipe"));
    let (status, timed_out) = wait_or_kill(&mut child, &pidfd);
    let (code, killed_by) = exit_code(status);
    let stdout = out.join().expect("stdout reader");
    let stderr = err.join().expect("stderr reader");
    if let Some(w) = writer {
        let _ = w.join();
    }
    let out = Out {
        what,
        code,
        killed_by,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    assert!(
        !timed_out,
        "killed after {WATCHDOG:?} (watchdog): {}",
        out.describe()
    );
    out
}

/// [`output`] for a command that may leave a process holding its stdout
/// and stderr (an OCI runtime's `create`: the container inherits them):
/// they go to files in `dir`, read once the command itself has exited.
pub fn output_via_files(mut cmd: Command, stdin: Option<&[u8]>, dir: &Path) -> Out {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let (out_path, err_path) = (dir.join(format!(".out-{n}")), dir.join(format!(".err-{n}")));
    let what = describe_command(&cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(fs::File::create(&out_path).expect("stdout file"))
    .stderr(fs::File::create(&err_path).expect("stderr file"));
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let pidfd = pidfd_open(child.id());
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let _ = pipe.write_all(data);
    }
    let (status, timed_out) = wait_or_kill(&mut child, &pidfd);
    let (code, killed_by) = exit_code(status);
    let out = Out {
        what,
        code,
        killed_by,
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
    };
    assert!(
        !timed_out,
        "killed after {WATCHDOG:?} (watchdog): {}",
        out.describe()
    );
    out
}

/// A command started in the background with its stdout piped to the test,
/// so the test can wait for a line such as `ready` before acting. Dropped
/// unfinished (a failing test), it is killed and reaped.
pub struct Running {
    what: String,
    child: Child,
    pidfd: OwnedFd,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    reaped: bool,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        let what = describe_command(&cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let pidfd = pidfd_open(child.id());
        let stdout = BufReader::new(child.stdout.take().expect("stdout pipe"));
        let stderr = Some(reader(child.stderr.take().expect("stderr pipe")));
        Running {
            what,
            child,
            pidfd,
            stdout,
            stderr,
            reaped: false,
        }
    }

    /// The pid of the `tinydocker` process.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Block until the next line of stdout and assert it is `expected`.
    /// A command that dies first fails here with its stderr, not a hang.
    #[track_caller]
    pub fn expect_line(&mut self, expected: &str) {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).expect("read stdout");
        if n == 0 {
            let out = self.finish();
            panic!(
                "{:?} expected, but stdout ended: {}",
                expected,
                out.describe()
            );
        }
        assert_eq!(line.trim_end_matches('\n'), expected, "from {}", self.what);
    }

    /// Send a signal to the `tinydocker` process (through its pidfd, so
    /// never to a recycled pid).
    pub fn signal(&self, sig: i32) {
        assert!(!self.reaped, "signal after the end");
        // SAFETY: pidfd_send_signal on our own pidfd, no siginfo.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0u32,
            )
        };
        assert_eq!(r, 0, "signal {sig}: {}", std::io::Error::last_os_error());
    }

    /// Wait for the end (under the watchdog) and collect the rest.
    #[track_caller]
    pub fn finish(&mut self) -> Out {
        assert!(!self.reaped, "finish called twice");
        let (status, timed_out) = wait_or_kill(&mut self.child, &self.pidfd);
        let (code, killed_by) = exit_code(status);
        self.reaped = true;
        let mut rest = Vec::new();
        let _ = self.stdout.read_to_end(&mut rest);
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().expect("stderr reader"))
            .unwrap_or_default();
        let out = Out {
            what: self.what.clone(),
            code,
            killed_by,
            stdout: String::from_utf8_lossy(&rest).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        assert!(
            !timed_out,
            "killed after {WATCHDOG:?} (watchdog): {}",
            out.describe()
        );
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: pidfd_send_signal on our own pidfd, no siginfo.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    self.pidfd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0u32,
                )
            };
            let _ = self.child.wait();
        }
    }
}

/// The pids of the children of `pid`, over all its threads.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut kids = Vec::new();
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).expect("read /proc/PID/task");
    for task in tasks.flatten() {
        let path = task.path().join("children");
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {} (CONFIG_PROC_CHILDREN?): {e}", path.display()));
        kids.extend(text.split_whitespace().map(|p| p.parse::<i32>().unwrap()));
    }
    kids
}

/// Lines of the host's (this process's) mountinfo that mention `path`
/// anywhere (as mount point, source or overlay option), as a whole path
/// or a parent, never as a mere string prefix of another name.
pub fn mounts_mentioning(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    let mentions = |line: &str| {
        line.match_indices(&needle).any(|(at, _)| {
            matches!(
                line[at + needle.len()..].chars().next(),
                None | Some('/' | ' ' | ',' | ':')
            )
        })
    };
    fs::read_to_string("/proc/self/mountinfo")
        .expect("read /proc/self/mountinfo")
        .lines()
        .filter(|l| mentions(l))
        .map(String::from)
        .collect()
}

/// Names in a directory, sorted; empty when it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// One entry of [`tree_snapshot`]: type and mode, size, a content hash or
/// the symlink target.
pub type TreeEntry = (u32, u64, String);

/// Everything observable about a directory tree, to compare before/after.
pub fn tree_snapshot(dir: &Path) -> BTreeMap<PathBuf, TreeEntry> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, TreeEntry>) {
        for e in fs::read_dir(dir).expect("read_dir").flatten() {
            let path = e.path();
            let meta = fs::symlink_metadata(&path).expect("lstat");
            let rel = path.strip_prefix(base).unwrap().to_path_buf();
            let detail = if meta.file_type().is_symlink() {
                fs::read_link(&path)
                    .expect("readlink")
                    .to_string_lossy()
                    .into_owned()
            } else if meta.is_file() {
                // FNV-1a: enough to notice a change.
                let bytes = fs::read(&path).expect("read file");
                let mut h: u64 = 0xcbf29ce484222325;
                for b in bytes {
                    h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
                }
                format!("{h:016x}")
            } else {
                String::new()
            };
            out.insert(rel, (meta.mode(), meta.size(), detail));
            if meta.is_dir() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A private state root for one test, with `busybox` imported.
pub struct TestRoot {
    dir: Option<TempDir>,
    /// The id `import` printed for `busybox` (`sha256:...`), when imported.
    pub busybox_id: String,
}

impl TestRoot {
    /// A fresh root with the busybox image imported as `busybox`.
    pub fn new() -> TestRoot {
        let mut root = TestRoot::empty();
        let out = root.run(&["import", &busybox_rootfs().to_string_lossy(), "busybox"]);
        out.ok();
        let id = out.text().to_string();
        assert!(
            id.starts_with("sha256:") && id.len() == 71,
            "import printed {id:?}, expected sha256:<64 hex>"
        );
        root.busybox_id = id;
        root
    }

    /// A fresh, empty root (no image).
    pub fn empty() -> TestRoot {
        require_root();
        bin();
        TestRoot {
            dir: Some(TempDir::new(&test_name())),
            busybox_id: String::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("root dir").path()
    }

    /// `tinydocker --root ROOT ARGS...`, not yet run.
    /// `tinydocker --root ROOT ARGS...`. A `run` that names no network gets
    /// `--network none`: tests that are not about networking should not
    /// each build a bridge network on the host; network tests say
    /// `--network bridge` (or a network's name).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg("--root").arg(self.path());
        let names_network = args
            .iter()
            .any(|a| *a == "--network" || a.starts_with("--network="));
        match args.split_first() {
            Some((&"run", rest)) if !names_network => {
                cmd.args(["run", "--network", "none"]).args(rest);
            }
            _ => {
                cmd.args(args);
            }
        }
        // Make sure the environment cannot pick another root.
        cmd.env_remove("TINYDOCKER_ROOT");
        cmd
    }

    /// Run `tinydocker --root ROOT ARGS...` with stdin from /dev/null.
    pub fn run(&self, args: &[&str]) -> Out {
        output(self.cmd(args), None)
    }

    /// Same, with `input` piped to stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        output(self.cmd(args), Some(input))
    }

    /// Start `tinydocker --root ROOT ARGS...` in the background.
    pub fn spawn(&self, args: &[&str]) -> Running {
        Running::spawn(self.cmd(args))
    }

    /// `run --rm busybox ARGS...`, asserting exit 0; its stdout.
    #[track_caller]
    pub fn sh(&self, script: &str) -> String {
        let out = self.run(&["run", "--rm", "busybox", "sh", "-c", script]);
        out.ok();
        out.stdout
    }

    /// Import [`stress_rootfs`] as the image `stress`.
    pub fn import_stress(&self) {
        self.run(&["import", &stress_rootfs().to_string_lossy(), "stress"])
            .ok();
    }

    /// The record of container `id` (`containers/<id>/container.json`).
    pub fn record(&self, id: &str) -> serde_json::Value {
        let path = self
            .path()
            .join("containers")
            .join(id)
            .join("container.json");
        let text =
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
    }

    /// `run -d ARGS...`: the id it printed, checked to be 64 hex digits.
    #[track_caller]
    pub fn detach(&self, args: &[&str]) -> String {
        let mut all = vec!["run", "-d"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        out.ok();
        let id = out.text().to_string();
        assert!(
            id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "run -d printed {id:?}, expected a 64-hex id"
        );
        id
    }

    /// The `state` half of container `id`'s record.
    pub fn state(&self, id: &str) -> serde_json::Value {
        self.record(id)["state"].clone()
    }

    /// The STATUS `ps -a` shows for the container named `name`.
    #[track_caller]
    pub fn status_of(&self, name: &str) -> String {
        let out = self.run(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        out.ok();
        out.lines()
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in ps: {}", out.text()))
            .to_string()
    }

    /// Full ids of every container, as `ps -aq --no-trunc` lists them.
    pub fn container_ids(&self) -> Vec<String> {
        let out = self.run(&["ps", "-aq", "--no-trunc"]);
        out.ok();
        out.lines().iter().map(|s| s.to_string()).collect()
    }

    /// Entries under containers/.
    pub fn containers(&self) -> Vec<String> {
        entries(&self.path().join("containers"))
    }

    /// Entries under names/.
    pub fn names(&self) -> Vec<String> {
        entries(&self.path().join("names"))
    }

    /// Entries under images/layers.
    pub fn layers(&self) -> Vec<String> {
        entries(&self.path().join("images/layers"))
    }

    /// Host mountinfo lines that mention this root.
    pub fn host_mounts(&self) -> Vec<String> {
        mounts_mentioning(self.path())
    }

    /// [`TestRoot::assert_no_containers`] once a `--rm` container's
    /// supervisor, which removes it in the background, has done so.
    #[track_caller]
    pub fn assert_no_containers_soon(&self) {
        let containers = self.path().join("containers");
        assert!(
            settles(|| entries(&containers).is_empty()),
            "containers/: {:?}",
            entries(&containers)
        );
        self.assert_no_containers();
    }

    /// Assert no container is left: no record, no name, no mount.
    #[track_caller]
    pub fn assert_no_containers(&self) {
        assert_eq!(self.containers(), Vec::<String>::new(), "containers/");
        assert_eq!(self.names(), Vec::<String>::new(), "names/");
        assert_eq!(self.host_mounts(), Vec::<String>::new(), "host mounts");
        assert_eq!(self.container_ids(), Vec::<String>::new(), "ps -aq");
    }
}

impl Default for TestRoot {
    fn default() -> Self {
        TestRoot::new()
    }
}

fn umount_detach(target: &str) {
    // mountinfo escapes space, tab, newline and backslash as octal.
    let mut bytes = Vec::new();
    let raw = target.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 4 <= raw.len() {
            let digits = std::str::from_utf8(&raw[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(digits, 8) {
                bytes.push(v);
                i += 4;
                continue;
            }
        }
        bytes.push(raw[i]);
        i += 1;
    }
    let c = CString::new(bytes).expect("mount point");
    // SAFETY: umount2 with a valid C string.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let mut problems = Vec::new();
        // Containers go through the binary, as a user would remove them.
        // Best effort, and never a panic out of a drop that may already run
        // during a panic (that would abort the whole suite).
        let quiet = |args: &[&str]| {
            let mut c = Command::new(bin());
            c.arg("--root").arg(dir.path()).args(args);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| output(c, None))).ok()
        };
        if let Some(ps) = quiet(&["ps", "-aq", "--no-trunc"]) {
            for id in ps.stdout.split_whitespace() {
                if !matches!(quiet(&["rm", "-f", id]), Some(o) if o.code == 0) {
                    problems.push(format!("rm -f {id} failed"));
                }
            }
        }
        // Networks the test made (the default one included): removed, so no
        // bridge, rule or address of this root stays on the host.
        if let Some(ls) = quiet(&["network", "ls"]) {
            for line in ls.stdout.lines().skip(1) {
                // `host` and `none` are always listed, `bridge` also
                // before it is made; only made ones have a record.
                let made = |name: &str| {
                    dir.path()
                        .join("networks")
                        .join(format!("{name}.json"))
                        .exists()
                };
                if let Some(name) = line.split_whitespace().nth(1).filter(|n| made(n)) {
                    if !matches!(quiet(&["network", "rm", name]), Some(o) if o.code == 0) {
                        problems.push(format!("network rm {name} failed"));
                    }
                }
            }
        }
        // Anything still mounted would be a runtime bug: report it, and
        // detach it before the directory is deleted (deleting through a
        // leaked bind mount would reach host files).
        let leaked = mounts_mentioning(dir.path());
        if !leaked.is_empty() {
            problems.push(format!(
                "mounts left in the host's mountinfo:\n{}",
                leaked.join("\n")
            ));
            let mut points: Vec<String> = leaked
                .iter()
                .filter_map(|l| l.split(' ').nth(4).map(String::from))
                .collect();
            points.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for p in points {
                umount_detach(&p);
            }
        }
        let path = dir.path().to_path_buf();
        if mounts_mentioning(&path).is_empty() {
            match fs::remove_dir_all(&path) {
                // A test may delete its root itself (as a user might).
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    problems.push(format!("remove {}: {e}", path.display()));
                }
                _ => {}
            }
        } else {
            problems.push(format!(
                "{} still has mounts, left in place",
                path.display()
            ));
        }
        // The TempDir must not try again.
        std::mem::forget(dir);
        if !problems.is_empty() {
            report_cleanup(format!(
                "cleanup of {}: {}",
                path.display(),
                problems.join("; ")
            ));
        }
    }
}

/// What a guard's cleanup found wrong: a failure of the test, unless the
/// test is failing already (a panic out of a drop during a panic would
/// abort the whole suite), then only printed.
pub fn report_cleanup(msg: String) {
    if std::thread::panicking() {
        eprintln!("{msg}");
    } else {
        panic!("{msg}");
    }
}

/// Whether process `pid` runs (a zombie does not).
pub fn process_alive(pid: i64) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.contains(") Z ")
}

/// Whether `done` holds, or comes to hold within a minute (a test may poll;
/// the runtime does not). For what settles after the command that caused
/// it returned: a namespace's veths, a `--rm` container's directory. Looks
/// every 5 ms, so a passing test waits no longer than it has to.
pub fn settles(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// Wait until process `pid` is gone, at most a minute.
#[track_caller]
pub fn wait_gone(pid: i64) {
    assert!(settles(|| !process_alive(pid)), "process {pid} still runs");
}

/// Wait until the host interface `name` is gone: it goes with its network
/// namespace, which the kernel tears down in the background.
#[track_caller]
pub fn link_gone(name: &str) {
    let path = format!("/sys/class/net/{name}");
    assert!(settles(|| !Path::new(&path).exists()), "{name} left behind");
}
