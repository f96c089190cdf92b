//! Security: what an attacker inside a default container tries fails, with
//! the errno docker's defaults give; the same attempt succeeds under
//! `--privileged` or the matching `--cap-add`, so every test can fail. Then
//! the flags that change a container's privileges (`--cap-add`,
//! `--cap-drop`, `--security-opt`, `--device`, `--user`, `--group-add`)
//! and their bad input.
//!
//! The attempts are made by `td-attack` (`tests/src/bin/td-attack.rs`), a
//! system call each, printing `ok` or the errno's name. It runs in an image
//! of its own, `attack`: the busybox rootfs of the harness plus the helper
//! and the shared libraries `ldd` lists for it (at the host's paths), a
//! setuid-root copy of it (`/bin/td-suid`), and users and groups in
//! `/etc/passwd` and `/etc/group` (`td` 1000, `nobody` 65534, `tdextra`
//! 4343 with `td` as a member).
//!
//! Every attempt is harmless if it succeeds, so that a broken build cannot
//! damage the host: values are written back as read, the clock is set to
//! the time just read, at most one byte of a device is read, the reboot
//! call is `LINUX_REBOOT_CMD_CAD_OFF` and the helper refuses it in the
//! host's pid namespace, the module "loaded" is not one.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use tinydocker_tests::{make_busybox_rootfs, output, Out, TempDir, TestRoot};

/// The helper as cargo built it for this test binary.
const HELPER_BIN: &str = env!("CARGO_BIN_EXE_td-attack");
const IMAGE: &str = "attack";
/// The helper inside the image.
const HELPER: &str = "/bin/td-attack";
/// The setuid-root copy inside the image.
const SUID: &str = "/bin/td-suid";

// Capability numbers (capability.h).
const CHOWN: u32 = 0;
const NET_ADMIN: u32 = 12;

/// podman's default capability set, which tinydocker gives every container.
const DEFAULT_CAPS: [(u32, &str); 11] = [
    (0, "CHOWN"),
    (1, "DAC_OVERRIDE"),
    (3, "FOWNER"),
    (4, "FSETID"),
    (5, "KILL"),
    (6, "SETGID"),
    (7, "SETUID"),
    (8, "SETPCAP"),
    (10, "NET_BIND_SERVICE"),
    (18, "SYS_CHROOT"),
    (31, "SETFCAP"),
];

fn default_caps() -> u64 {
    DEFAULT_CAPS.iter().fold(0, |m, (bit, _)| m | 1 << bit)
}

// ---------------------------------------------------------------------------
// The image

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh
td:x:1000:1000:td:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
";

const GROUP: &str = "root:x:0:
td:x:1000:
tdextra:x:4343:td
nogroup:x:65534:
";

/// Copy `bin` to `rel` under `dir` with `mode`, and the shared libraries
/// `ldd` lists for it (and the dynamic loader) at the host's paths.
fn copy_with_libs(bin: &Path, dir: &Path, rel: &str, mode: u32) {
    let mut ldd = Command::new("ldd");
    ldd.arg(bin);
    let libs = output(ldd, None);
    libs.ok();
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and
    // "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
    for lib in libs
        .stdout
        .lines()
        .flat_map(|l| l.split_whitespace())
        .filter(|w| w.starts_with('/'))
    {
        let dest = dir.join(lib.trim_start_matches('/'));
        if dest.exists() {
            continue;
        }
        fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir in rootfs");
        // fs::copy follows symlinks: the rootfs gets the files themselves.
        fs::copy(lib, &dest).unwrap_or_else(|e| panic!("copy {lib} into the rootfs: {e}"));
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let dest = dir.join(rel);
    fs::copy(bin, &dest).unwrap_or_else(|e| panic!("copy {} into the rootfs: {e}", bin.display()));
    let c = CString::new(dest.to_string_lossy().as_bytes()).expect("path");
    // SAFETY: chown with a valid C string (before the chmod: chown clears
    // the setuid bit).
    let rc = unsafe { libc::chown(c.as_ptr(), 0, 0) };
    assert_eq!(rc, 0, "chown {}", dest.display());
    fs::set_permissions(&dest, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn make_attack_rootfs(dir: &Path) {
    make_busybox_rootfs(dir);
    fs::write(dir.join("etc/passwd"), PASSWD).expect("passwd");
    fs::write(dir.join("etc/group"), GROUP).expect("group");
    let helper = Path::new(HELPER_BIN);
    assert!(
        helper.is_file(),
        "{HELPER_BIN} is missing: cargo builds it with the tests (cargo build -p tinydocker-tests --bins)"
    );
    copy_with_libs(helper, dir, HELPER.trim_start_matches('/'), 0o755);
    copy_with_libs(helper, dir, SUID.trim_start_matches('/'), 0o4755);
}

static ATTACK_ROOTFS: OnceLock<TempDir> = OnceLock::new();

extern "C" fn remove_attack_rootfs() {
    if let Some(dir) = ATTACK_ROOTFS.get() {
        let _ = fs::remove_dir_all(dir.path());
    }
}

/// The rootfs of the `attack` image, built once per test process (and
/// removed when it exits).
fn attack_rootfs() -> &'static Path {
    ATTACK_ROOTFS
        .get_or_init(|| {
            let dir = TempDir::new("attack-rootfs");
            make_attack_rootfs(dir.path());
            // SAFETY: registering a plain extern "C" fn with no arguments.
            unsafe { libc::atexit(remove_attack_rootfs) };
            dir
        })
        .path()
}

/// A fresh root with the `attack` image imported.
fn attack_root() -> TestRoot {
    let root = TestRoot::empty();
    root.run(&["import", &attack_rootfs().to_string_lossy(), IMAGE])
        .ok();
    root
}

// ---------------------------------------------------------------------------
// Running things inside

/// `run --rm FLAGS attack CMD...`.
fn run_in(root: &TestRoot, flags: &[&str], cmd: &[&str]) -> Out {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.push(IMAGE);
    args.extend_from_slice(cmd);
    root.run(&args)
}

/// `td-attack ARGS...` in a container run with FLAGS: asserts it ran (exit
/// 0) and returns what it printed, trimmed.
#[track_caller]
fn attempt(root: &TestRoot, flags: &[&str], args: &[&str]) -> String {
    let mut cmd = vec![HELPER];
    cmd.extend_from_slice(args);
    let out = run_in(root, flags, &cmd);
    out.ok();
    out.text().to_string()
}

/// Assert `td-attack ARGS` answers `expected` under FLAGS.
#[track_caller]
fn expect(root: &TestRoot, flags: &[&str], args: &[&str], expected: &str) {
    let got = attempt(root, flags, args);
    assert_eq!(
        got, expected,
        "td-attack {args:?} in a container run with {flags:?}"
    );
}

/// The container's `/proc/self/status` (of `cat`, the container's process)
/// as name → value.
#[track_caller]
fn status(root: &TestRoot, flags: &[&str]) -> BTreeMap<String, String> {
    let out = run_in(root, flags, &["cat", "/proc/self/status"]);
    out.ok();
    parse_status(&out.stdout)
}

fn parse_status(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

#[track_caller]
fn field<'a>(st: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    st.get(key)
        .unwrap_or_else(|| panic!("no {key} line in /proc/self/status: {st:?}"))
}

#[track_caller]
fn cap_field(st: &BTreeMap<String, String>, key: &str) -> u64 {
    let v = field(st, key);
    u64::from_str_radix(v, 16).unwrap_or_else(|_| panic!("{key}: {v:?} is not hex"))
}

/// The security lines of a status, for messages.
fn security_lines(st: &BTreeMap<String, String>) -> String {
    [
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
    ]
    .iter()
    .map(|k| format!("{k}: {}", st.get(*k).map(String::as_str).unwrap_or("-")))
    .collect::<Vec<_>>()
    .join(", ")
}

/// What the status should say; `None` leaves a line unchecked.
struct Expected {
    bnd: u64,
    prm: u64,
    eff: u64,
    /// Inheritable: empty unless asked otherwise (docker and podman since
    /// CVE-2022-24769), so a non-root exec gains nothing from file caps.
    inh: Option<u64>,
    no_new_privs: &'static str,
    seccomp: &'static str,
}

#[track_caller]
fn assert_status(st: &BTreeMap<String, String>, want: Expected, what: &str) {
    let lines = security_lines(st);
    for (key, value) in [
        ("CapBnd", Some(want.bnd)),
        ("CapPrm", Some(want.prm)),
        ("CapEff", Some(want.eff)),
        ("CapInh", want.inh),
        ("CapAmb", Some(0)),
    ] {
        if let Some(value) = value {
            assert_eq!(
                cap_field(st, key),
                value,
                "{key} ({what}): got {:#x}, want {value:#x}; {lines}",
                cap_field(st, key)
            );
        }
    }
    assert_eq!(
        field(st, "NoNewPrivs"),
        want.no_new_privs,
        "{what}: {lines}"
    );
    assert_eq!(field(st, "Seccomp"), want.seccomp, "{what}: {lines}");
}

/// One line of the container's mountinfo.
#[derive(Debug)]
struct Mount {
    point: String,
    options: Vec<String>,
    fstype: String,
}

impl Mount {
    fn read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }
}

#[track_caller]
fn mounts_inside(root: &TestRoot, flags: &[&str]) -> Vec<Mount> {
    let out = run_in(root, flags, &["cat", "/proc/self/mountinfo"]);
    out.ok();
    out.stdout
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            Some(Mount {
                point: f.get(4)?.to_string(),
                options: f.get(5)?.split(',').map(String::from).collect(),
                fstype: right.split(' ').next()?.to_string(),
            })
        })
        .collect()
}

/// The mount on top at `point`, if any.
fn top<'a>(mounts: &'a [Mount], point: &str) -> Option<&'a Mount> {
    mounts.iter().rev().find(|m| m.point == point)
}

// ---------------------------------------------------------------------------
// The host

/// The host's capability bounding set (this process's): what `--privileged`
/// can give at most.
fn host_bounding_set() -> u64 {
    let text = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    cap_field(&parse_status(&text), "CapBnd")
}

/// The link text of the host's `/proc/self/ns/pid`, e.g. `pid:[4026531836]`.
fn host_pid_ns() -> String {
    fs::read_link("/proc/self/ns/pid")
        .expect("readlink /proc/self/ns/pid")
        .to_string_lossy()
        .into_owned()
}

/// A block device of the host's: the disk of "/" when the host itself can
/// open it, else the first block device it can (some sandboxes refuse
/// their disk even to root). Returns its major, minor, node under /dev,
/// and what reading one byte gives on the host: "ok", or "eof" for an
/// empty device (an unbound loop device).
fn host_disk() -> (u32, u32, PathBuf, &'static str) {
    let root = fs::metadata("/").expect("stat /").dev();
    let mut candidates = vec![(libc::major(root), libc::minor(root))];
    for entry in fs::read_dir("/sys/dev/block")
        .expect("list /sys/dev/block")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((ma, mi)) = name.split_once(':') {
            if let (Ok(ma), Ok(mi)) = (ma.parse(), mi.parse()) {
                candidates.push((ma, mi));
            }
        }
    }
    for (major, minor) in candidates {
        let sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
        let Ok(uevent) = fs::read_to_string(sys.join("uevent")) else {
            continue;
        };
        let Some(name) = uevent.lines().find_map(|l| l.strip_prefix("DEVNAME=")) else {
            continue;
        };
        let node = Path::new("/dev").join(name);
        let is_it = fs::metadata(&node).is_ok_and(|m| {
            m.file_type().is_block_device() && m.rdev() == libc::makedev(major, minor)
        });
        if !is_it {
            continue;
        }
        let Ok(mut file) = fs::File::open(&node) else {
            continue;
        };
        let mut byte = [0u8; 1];
        let read = match std::io::Read::read(&mut file, &mut byte) {
            Ok(1) => "ok",
            Ok(_) => "eof",
            Err(_) => continue,
        };
        return (major, minor, node, read);
    }
    panic!("no block device the host can open: these tests need one");
}

/// `init_module` or `finit_module` with the same non-module the helper
/// uses, on the host: what the kernel answers when nothing stands between.
fn host_module_errno(finit: bool) -> String {
    let mut cmd = Command::new(HELPER_BIN);
    cmd.arg(if finit { "finit-module" } else { "init-module" });
    let out = output(cmd, None);
    out.ok();
    out.text().to_string()
}

/// A host process the test started; killed and reaped on drop.
struct HostProcess(Child);

impl HostProcess {
    fn sleep() -> HostProcess {
        let child = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        HostProcess(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An fd opened without O_CLOEXEC; closed on drop.
struct LeakyFd(i32);

impl Drop for LeakyFd {
    fn drop(&mut self) {
        // SAFETY: closing the fd this guard opened.
        unsafe { libc::close(self.0) };
    }
}

// ---------------------------------------------------------------------------
// Attacks: denied by default, allowed when asked for

#[test]
fn mounting_a_filesystem_needs_sys_admin() {
    let root = attack_root();
    let mount = ["mount", "/tmp/td-mnt"];
    expect(&root, &[], &mount, "EPERM");
    expect(&root, &["--cap-add", "SYS_ADMIN"], &mount, "ok");
    expect(&root, &["--privileged"], &mount, "ok");
}

#[test]
fn the_host_disk_cannot_be_made_and_read() {
    let root = attack_root();
    let (major, minor, _, host_read) = host_disk();
    let (major, minor) = (major.to_string(), minor.to_string());
    let disk = ["mknod-read", "/dev/td-disk", "b", &major, &minor];
    // No CAP_MKNOD by default.
    expect(&root, &[], &disk, "mknod:EPERM");
    // With it the node can be made (the devices cgroup allows mknod of
    // anything) but not opened: the cgroup allows the standard nodes only.
    expect(&root, &["--cap-add", "MKNOD"], &disk, "mknod:ok open:EPERM");
    // The control in the same setting: a standard node opens.
    expect(
        &root,
        &["--cap-add", "MKNOD"],
        &["mknod-read", "/dev/td-zero", "c", "1", "5"],
        "mknod:ok open:ok read:ok",
    );
    let privileged = format!("mknod:ok open:ok read:{host_read}");
    expect(&root, &["--privileged"], &disk, &privileged);
}

#[test]
fn proc_sys_is_read_only() {
    let root = attack_root();
    // Not namespaced: a write here would change the host's kernel.
    let sysctl = "/proc/sys/kernel/panic";
    assert!(Path::new(sysctl).exists(), "{sysctl} missing on the host");
    let write_back = ["write-back", sysctl];
    expect(&root, &[], &write_back, "open:EROFS");
    // Root with every capability but still the read-only mount.
    expect(&root, &["--cap-add", "ALL"], &write_back, "open:EROFS");
    expect(&root, &["--privileged"], &write_back, "ok");
}

#[test]
fn proc_kcore_is_masked() {
    let root = attack_root();
    // /proc/kcore when the kernel has one, else another file of the same
    // list (the kernel image is not in every build).
    let path = ["/proc/kcore", "/proc/timer_list"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("neither /proc/kcore nor /proc/timer_list on the host");
    // /dev/null bound over it: a character device 1:3, empty.
    expect(&root, &[], &["stat", path], "chr 1:3");
    expect(&root, &[], &["read1", path], "eof");
    expect(&root, &["--privileged"], &["stat", path], "reg");
    let got = attempt(&root, &["--privileged"], &["read1", path]);
    assert!(
        got.starts_with("byte:"),
        "read1 {path} under --privileged: {got}"
    );
}

#[test]
fn kernel_modules_cannot_be_loaded() {
    let root = attack_root();
    for (cmd, finit) in [("init-module", false), ("finit-module", true)] {
        // What the host's kernel itself answers for a non-module (ENOEXEC,
        // EKEYREJECTED, ENOSYS without module support...).
        let host = host_module_errno(finit);
        assert_ne!(host, "ok", "{cmd} of a non-module succeeded on the host");
        expect(&root, &[], &[cmd], "EPERM");
        expect(&root, &["--cap-add", "SYS_MODULE"], &[cmd], &host);
        expect(&root, &["--privileged"], &[cmd], &host);
    }
}

#[test]
fn reboot_is_denied() {
    let root = attack_root();
    let ns = host_pid_ns();
    let cad_off = ["reboot-cad-off", &ns];
    expect(&root, &[], &cad_off, "EPERM");
    // With CAP_SYS_BOOT, in a pid namespace the kernel only takes restart
    // and halt (they end the namespace's init): CAD_OFF is EINVAL.
    expect(&root, &["--cap-add", "SYS_BOOT"], &cad_off, "EINVAL");
    expect(&root, &["--privileged"], &cad_off, "EINVAL");
}

#[test]
fn the_clock_cannot_be_set() {
    let root = attack_root();
    expect(&root, &[], &["clock-settime"], "EPERM");
    expect(&root, &["--cap-add", "SYS_TIME"], &["clock-settime"], "ok");
    expect(&root, &["--privileged"], &["clock-settime"], "ok");
}

#[test]
fn user_namespaces_cannot_be_created() {
    let root = attack_root();
    expect(&root, &[], &["unshare-user"], "EPERM");
    // docker's profile allows unshare with CAP_SYS_ADMIN.
    expect(&root, &["--cap-add", "SYS_ADMIN"], &["unshare-user"], "ok");
    expect(&root, &["--privileged"], &["unshare-user"], "ok");
}

#[test]
fn host_processes_cannot_be_traced() {
    let root = attack_root();
    let host = HostProcess::sleep();
    let pid = host.pid().to_string();
    let script = format!("{HELPER} ptrace {pid}; {HELPER} kill0 {pid}; {HELPER} ptrace-child");
    for flags in [&[][..], &["--privileged"][..]] {
        let out = run_in(&root, flags, &["sh", "-c", &script]);
        out.ok();
        // Not in the container's pid namespace; its own children are
        // (docker's profile allows ptrace).
        assert_eq!(
            out.lines(),
            ["ESRCH", "ESRCH", "ok"],
            "ptrace {pid}, kill -0 {pid}, ptrace of a child, with {flags:?}"
        );
    }
    let st = fs::read_to_string(format!("/proc/{pid}/status")).expect("host process status");
    assert!(
        st.lines().any(|l| l == "TracerPid:\t0"),
        "the host process is traced:\n{st}"
    );
}

#[test]
fn setuid_binaries_do_not_raise_privileges() {
    let root = attack_root();
    let user = ["--user", "1000"];
    let run = |extra: &[&str]| {
        let mut flags = user.to_vec();
        flags.extend_from_slice(extra);
        let out = run_in(&root, &flags, &[SUID, "euid"]);
        out.ok();
        out.text().to_string()
    };
    // no_new_privs: the setuid bit is ignored.
    assert_eq!(run(&[]), "euid=1000", "default");
    assert_eq!(
        run(&["--security-opt", "no-new-privileges"]),
        "euid=1000",
        "no-new-privileges"
    );
    assert_eq!(
        run(&["--security-opt", "no-new-privileges=true"]),
        "euid=1000",
        "no-new-privileges=true"
    );
    // The control: without it the same binary makes the user root.
    assert_eq!(
        run(&["--security-opt", "no-new-privileges=false"]),
        "euid=0",
        "no-new-privileges=false"
    );
}

#[test]
fn host_files_are_out_of_reach() {
    let root = attack_root();
    let host = TempDir::new("security-host-files");
    let marker = host.join("marker");
    fs::write(&marker, "host-secret\n").unwrap();
    let vol = host.join("vol");
    fs::create_dir(&vol).unwrap();
    fs::write(vol.join("inside"), "in-volume\n").unwrap();
    std::os::unix::fs::symlink(&marker, vol.join("abs")).unwrap();
    std::os::unix::fs::symlink("../marker", vol.join("rel")).unwrap();
    let m = marker.to_string_lossy().into_owned();
    let attempts: Vec<(String, &str)> = vec![
        (m.clone(), "ENOENT"),
        (format!("/proc/1/root{m}"), "ENOENT"),
        (format!("/proc/self/root{m}"), "ENOENT"),
        (format!("/../../..{m}"), "ENOENT"),
        (format!("/proc/self/cwd/../../..{m}"), "ENOENT"),
        ("/vol/../marker".into(), "ENOENT"),
        ("/vol/abs".into(), "ENOENT"),
        ("/vol/rel".into(), "ENOENT"),
        // The controls: the volume itself is there.
        ("/vol/inside".into(), "ok:in-volume"),
        ("/proc/1/root/vol/inside".into(), "ok:in-volume"),
    ];
    let volume = format!("{}:/vol", vol.display());
    let mut cmd = vec![HELPER, "cat"];
    cmd.extend(attempts.iter().map(|(p, _)| p.as_str()));
    for flags in [&["-v", &volume][..], &["-v", &volume, "--privileged"][..]] {
        let out = run_in(&root, flags, &cmd);
        out.ok();
        let got = out.lines();
        assert_eq!(got.len(), attempts.len(), "{}", out.stdout);
        for ((path, want), got) in attempts.iter().zip(&got) {
            assert_eq!(got, want, "cat {path} with {flags:?}");
        }
        assert!(!out.stdout.contains("host-secret"), "{}", out.stdout);
    }
}

#[test]
fn open_fds_of_the_runtime_are_not_inherited() {
    let root = attack_root();
    let host = TempDir::new("security-fd");
    let file = host.join("leaked");
    fs::write(&file, "host-secret\n").unwrap();
    let c = CString::new(file.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: open with a valid C string, deliberately without O_CLOEXEC:
    // tinydocker inherits it, and must not pass it on.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY) };
    assert!(fd >= 0, "open {}", file.display());
    let fd = LeakyFd(fd);
    // SAFETY: F_GETFD on an open fd.
    let flags = unsafe { libc::fcntl(fd.0, libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, 0, "the fd must be inheritable");
    // The control: a child of the test does get it.
    let mut cmd = Command::new(HELPER_BIN);
    cmd.arg("fds");
    let control = output(cmd, None);
    control.ok();
    let leaked = format!("{} {}", fd.0, file.display());
    assert!(
        control.lines().contains(&leaked.as_str()),
        "{leaked:?} not in the fds of a host child:\n{}",
        control.stdout
    );
    let out = run_in(&root, &[], &[HELPER, "fds"]);
    drop(fd);
    out.ok();
    let fds: BTreeMap<&str, &str> = out
        .lines()
        .iter()
        .filter_map(|l| l.split_once(' '))
        .collect();
    let listing: Vec<&str> = fds
        .iter()
        .filter(|(n, target)| {
            !["0", "1", "2"].contains(n) && target.starts_with("/proc/") && target.ends_with("/fd")
        })
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        fds.len(),
        4,
        "fds inside should be 0, 1, 2 and the listing's own:\n{}",
        out.stdout
    );
    assert!(
        fds.contains_key("0") && fds.contains_key("1") && fds.contains_key("2"),
        "{}",
        out.stdout
    );
    assert_eq!(listing.len(), 1, "the listing's fd:\n{}", out.stdout);
    assert!(!out.stdout.contains("leaked"), "{}", out.stdout);
}

// ---------------------------------------------------------------------------
// Defaults and the flags that change them

#[test]
fn default_capabilities_no_new_privs_and_seccomp() {
    let root = attack_root();
    let st = status(&root, &[]);
    let caps = default_caps();
    assert_status(
        &st,
        Expected {
            bnd: caps,
            prm: caps,
            eff: caps,
            inh: Some(0),
            no_new_privs: "1",
            seccomp: "2",
        },
        "default",
    );
}

#[test]
fn cap_add_and_cap_drop_change_every_set() {
    let root = attack_root();
    let base = default_caps();
    let full = host_bounding_set();
    for (flags, caps) in [
        (&["--cap-add", "NET_ADMIN"][..], base | 1 << NET_ADMIN),
        (&["--cap-add", "CAP_NET_ADMIN"][..], base | 1 << NET_ADMIN),
        (&["--cap-drop", "CHOWN"][..], base & !(1 << CHOWN)),
        (&["--cap-drop", "CAP_CHOWN"][..], base & !(1 << CHOWN)),
        (&["--cap-drop", "ALL"][..], 0),
        (&["--cap-drop", "ALL", "--cap-add", "CHOWN"][..], 1 << CHOWN),
        (&["--cap-add", "ALL"][..], full),
    ] {
        let st = status(&root, flags);
        assert_status(
            &st,
            Expected {
                bnd: caps,
                prm: caps,
                eff: caps,
                inh: Some(0),
                no_new_privs: "1",
                seccomp: "2",
            },
            &format!("{flags:?}"),
        );
    }
}

#[test]
fn privileged_has_every_capability_and_no_filter() {
    let root = attack_root();
    let full = host_bounding_set();
    let st = status(&root, &["--privileged"]);
    assert_status(
        &st,
        Expected {
            bnd: full,
            prm: full,
            eff: full,
            inh: Some(0),
            no_new_privs: "0",
            seccomp: "0",
        },
        "--privileged",
    );
}

#[test]
fn a_non_root_user_has_no_effective_capabilities() {
    let root = attack_root();
    let st = status(&root, &["--user", "1000:1000"]);
    assert_status(
        &st,
        Expected {
            bnd: default_caps(),
            prm: 0,
            eff: 0,
            inh: Some(0),
            no_new_privs: "1",
            seccomp: "2",
        },
        "--user 1000:1000",
    );
}

#[test]
fn seccomp_default_profile_unconfined_and_custom() {
    let root = attack_root();
    // docker's profile answers clone3 with ENOSYS (so that libcs fall back
    // to clone); the kernel itself says EINVAL to clone3(NULL, 0).
    expect(&root, &[], &["clone3"], "ENOSYS");
    let unconfined = ["--security-opt", "seccomp=unconfined"];
    expect(&root, &unconfined, &["clone3"], "EINVAL");
    let st = status(&root, &unconfined);
    let caps = default_caps();
    assert_status(
        &st,
        Expected {
            bnd: caps,
            prm: caps,
            eff: caps,
            inh: Some(0),
            no_new_privs: "1",
            seccomp: "0",
        },
        "seccomp=unconfined",
    );

    // A profile of one's own: everything allowed but mkdir.
    let dir = TempDir::new("seccomp-profile");
    let profile = dir.join("profile.json");
    fs::write(
        &profile,
        r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" }
  ]
}
"#,
    )
    .unwrap();
    let custom = format!("seccomp={}", profile.display());
    let flags = ["--security-opt", &custom];
    expect(&root, &flags, &["mkdir", "/tmp/td-dir"], "EPERM");
    expect(&root, &flags, &["clone3"], "EINVAL");
    expect(&root, &[], &["mkdir", "/tmp/td-dir"], "ok");
    let st = status(&root, &flags);
    assert_eq!(field(&st, "Seccomp"), "2", "{}", security_lines(&st));
}

#[test]
fn no_new_privileges_flag() {
    let root = attack_root();
    for (value, want) in [
        ("no-new-privileges", "1"),
        ("no-new-privileges=true", "1"),
        ("no-new-privileges=false", "0"),
    ] {
        let st = status(&root, &["--security-opt", value]);
        assert_eq!(
            field(&st, "NoNewPrivs"),
            want,
            "--security-opt {value}: {}",
            security_lines(&st)
        );
        assert_eq!(field(&st, "Seccomp"), "2", "--security-opt {value}");
    }
}

/// `tinydocker_fs::MASKED_PATHS` (the test crate does not depend on
/// tinydocker-fs): /dev/null over the files, an empty read-only tmpfs over
/// the directories.
const MASKED: [&str; 14] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
    "/sys/dev/block",
    "/sys/fs/selinux",
];
const READ_ONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Those of `paths` this host has (the kernel's build decides).
fn on_host<const N: usize>(paths: [&'static str; N]) -> Vec<&'static str> {
    paths
        .into_iter()
        .filter(|p| Path::new(p).exists())
        .collect()
}

/// The masked paths this host has, split into (files, directories) by what
/// they are on the host.
fn masked_on_host() -> (Vec<&'static str>, Vec<&'static str>) {
    on_host(MASKED)
        .into_iter()
        .partition(|p| !Path::new(p).is_dir())
}

#[test]
fn masked_and_read_only_paths() {
    let root = attack_root();
    let (files, dirs) = masked_on_host();
    let read_only = on_host(READ_ONLY);
    eprintln!("masked files {files:?}, masked directories {dirs:?}, read-only {read_only:?}");
    assert!(!files.is_empty() && !read_only.is_empty());

    // Default: /dev/null over the files, an empty read-only tmpfs over the
    // directories, read-only binds over the others, a read-only /sys.
    let mut stat = vec!["stat"];
    stat.extend(&files);
    let want: Vec<&str> = files.iter().map(|_| "chr 1:3").collect();
    assert_eq!(attempt(&root, &[], &stat), want.join("\n"), "{files:?}");
    let mut read = vec!["read1"];
    read.extend(&files);
    let want: Vec<&str> = files.iter().map(|_| "eof").collect();
    assert_eq!(attempt(&root, &[], &read), want.join("\n"), "{files:?}");
    let mounts = mounts_inside(&root, &[]);
    for dir in &dirs {
        let m = top(&mounts, dir).unwrap_or_else(|| panic!("{dir} is not masked: {mounts:#?}"));
        assert!(m.fstype == "tmpfs" && m.read_only(), "{dir}: {m:?}");
    }
    if !dirs.is_empty() {
        let script = format!("for d in {}; do ls -A $d; done", dirs.join(" "));
        let out = run_in(&root, &[], &["sh", "-c", &script]);
        out.ok();
        assert_eq!(out.stdout, "", "masked directories are not empty");
    }
    for path in &read_only {
        let m = top(&mounts, path).unwrap_or_else(|| panic!("no mount at {path}: {mounts:#?}"));
        assert!(m.read_only(), "{path}: {m:?}");
    }
    let sys = top(&mounts, "/sys").expect("/sys mounted");
    assert!(sys.read_only(), "/sys: {sys:?}");

    // --privileged: none of it, and /sys read-write.
    let privileged = ["--privileged"];
    let want: Vec<&str> = files.iter().map(|_| "reg").collect();
    assert_eq!(
        attempt(&root, &privileged, &stat),
        want.join("\n"),
        "{files:?}"
    );
    let mounts = mounts_inside(&root, &privileged);
    for path in dirs.iter().chain(&read_only) {
        assert!(
            !matches!(top(&mounts, path), Some(m) if m.read_only()),
            "{path} under --privileged: {:?}",
            top(&mounts, path)
        );
    }
    let sys = top(&mounts, "/sys").expect("/sys mounted");
    assert!(!sys.read_only(), "/sys under --privileged: {sys:?}");
}

#[test]
fn device_flag_adds_nodes() {
    let root = attack_root();
    let null = ["--device", "/dev/null:/dev/mynull"];
    expect(&root, &null, &["stat", "/dev/mynull"], "chr 1:3");
    expect(&root, &null, &["write", "/dev/mynull", "x"], "ok");
    expect(&root, &null, &["read1", "/dev/mynull"], "eof");
    // Anywhere in the container, not only under /dev.
    let outside = ["--device", "/dev/null:/opt/td/null"];
    expect(&root, &outside, &["stat", "/opt/td/null"], "chr 1:3");
    expect(&root, &outside, &["write", "/opt/td/null", "x"], "ok");

    let (major, minor, node, host_read) = host_disk();
    // What read1 prints when the host itself reads a byte, or none.
    let readable = |got: &str| match host_read {
        "ok" => got.starts_with("byte:"),
        _ => got == "eof",
    };
    let node = node.to_string_lossy().into_owned();
    let name = node.trim_start_matches("/dev/");
    let blk = format!("blk {major}:{minor}");
    // Not there without the flag.
    expect(&root, &[], &["stat", &node], "ENOENT");
    // Read-only: readable, not writable (the devices cgroup says so; the
    // open for writing is closed at once, nothing is ever written).
    let read_only = format!("{node}:/dev/td-{name}:r");
    let flags = ["--device", &read_only];
    let inside = format!("/dev/td-{name}");
    expect(&root, &flags, &["stat", &inside], &blk);
    let got = attempt(&root, &flags, &["read1", &inside]);
    assert!(readable(&got), "read1 {inside} with {flags:?}: {got}");
    expect(&root, &flags, &["open-w", &inside], "EPERM");
    // Same path inside, all permissions.
    let flags = ["--device", &node];
    expect(&root, &flags, &["stat", &node], &blk);
    let got = attempt(&root, &flags, &["read1", &node]);
    assert!(readable(&got), "read1 {node} with {flags:?}: {got}");
}

#[test]
fn start_needs_the_device_nodes_still_on_the_host() {
    let root = TestRoot::new();
    let dir = TempDir::new("start-device");
    let node = dir.join("td-null");
    let status = Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "3"])
        .status()
        .expect("mknod");
    assert!(status.success());
    let flag = format!("{}:/dev/td-null", node.display());
    root.run(&[
        "run",
        "--name",
        "dev",
        "--network",
        "none",
        "--device",
        &flag,
        "busybox",
        "true",
    ])
    .ok();
    let state = || {
        let out = root.run(&["inspect", "dev"]);
        out.ok();
        let all: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        all[0]["State"].clone()
    };
    let before = state();
    assert_eq!(before["Status"], "exited");
    fs::remove_file(&node).unwrap();
    root.run(&["start", "dev"])
        .usage_error()
        .stderr_has("error gathering device information while adding custom device");
    // Nothing of the attempt is left: the container is as it was.
    assert_eq!(state(), before);
    root.run(&["rm", "dev"]).ok();
}

/// `uid=R/E/S gid=R/E/S groups=...` → (uid, gid, groups); asserts the
/// real, effective and saved ids agree.
#[track_caller]
fn parse_ids(text: &str) -> (u32, u32, BTreeSet<u32>) {
    let mut uid = None;
    let mut gid = None;
    let mut groups = BTreeSet::new();
    for word in text.split_whitespace() {
        let (key, value) = word.split_once('=').expect("key=value");
        let one = |v: &str| {
            let ids: Vec<u32> = v.split('/').map(|n| n.parse().unwrap()).collect();
            assert!(ids.len() == 3 && ids.iter().all(|i| *i == ids[0]), "{text}");
            ids[0]
        };
        match key {
            "uid" => uid = Some(one(value)),
            "gid" => gid = Some(one(value)),
            "groups" => groups.extend(
                value
                    .split(',')
                    .filter(|g| !g.is_empty())
                    .map(|g| g.parse::<u32>().unwrap()),
            ),
            _ => panic!("{text}"),
        }
    }
    (uid.expect(text), gid.expect(text), groups)
}

#[test]
fn user_and_group_add() {
    let root = attack_root();
    let ids = |flags: &[&str]| parse_ids(&attempt(&root, flags, &["ids"]));
    let set = |v: &[u32]| v.iter().copied().collect::<BTreeSet<u32>>();

    let (uid, gid, _) = ids(&[]);
    assert_eq!((uid, gid), (0, 0), "default");

    // Numbers; root's groups are dropped.
    let (uid, gid, groups) = ids(&["--user", "1000:1000"]);
    assert_eq!((uid, gid), (1000, 1000), "--user 1000:1000");
    assert!(groups.is_subset(&set(&[1000])), "groups {groups:?}");

    // A name from the image's /etc/passwd.
    let (uid, gid, groups) = ids(&["--user", "nobody"]);
    assert_eq!((uid, gid), (65534, 65534), "--user nobody");
    assert!(groups.is_subset(&set(&[65534])), "groups {groups:?}");

    // A name: its primary group and the groups that list it.
    let (uid, gid, groups) = ids(&["--user", "td"]);
    assert_eq!((uid, gid), (1000, 1000), "--user td");
    assert!(groups.contains(&4343), "groups {groups:?}");
    assert!(groups.is_subset(&set(&[1000, 4343])), "groups {groups:?}");

    // A number the image does not know: group 0.
    let (uid, gid, _) = ids(&["--user", "2000"]);
    assert_eq!((uid, gid), (2000, 0), "--user 2000");

    // --group-add, by number and by name.
    let (uid, gid, groups) = ids(&[
        "--user",
        "1000:1000",
        "--group-add",
        "4242",
        "--group-add",
        "tdextra",
    ]);
    assert_eq!((uid, gid), (1000, 1000));
    assert!(
        groups.is_superset(&set(&[4242, 4343])) && groups.is_subset(&set(&[1000, 4242, 4343])),
        "groups {groups:?}"
    );
}

// ---------------------------------------------------------------------------
// Bad input

/// `run ARGS` must fail as a usage error and leave the root as it was.
#[track_caller]
fn rejected(root: &TestRoot, args: &[&str]) {
    for rm in [true, false] {
        let mut full = vec!["run"];
        if rm {
            full.push("--rm");
        }
        full.extend_from_slice(args);
        root.run(&full).usage_error();
        root.assert_no_containers();
    }
}

#[test]
fn bad_security_input_is_rejected() {
    let root = TestRoot::new();
    let dir = TempDir::new("bad-seccomp");
    let not_json = dir.join("not-json.json");
    fs::write(&not_json, "{ this is not json\n").unwrap();
    let bad_action = dir.join("bad-action.json");
    fs::write(
        &bad_action,
        r#"{"defaultAction": "SCMP_ACT_NO_SUCH_ACTION"}"#,
    )
    .unwrap();
    let not_json = format!("seccomp={}", not_json.display());
    let bad_action = format!("seccomp={}", bad_action.display());
    let missing = format!("seccomp={}", dir.join("missing.json").display());
    let cases: Vec<Vec<&str>> = vec![
        vec!["--cap-add", "NO_SUCH_CAP"],
        vec!["--cap-add", "CAP_NO_SUCH_CAP"],
        vec!["--cap-drop", "NO_SUCH_CAP"],
        vec!["--security-opt", "no-such-option"],
        vec!["--security-opt", "no-new-privileges=maybe"],
        vec!["--security-opt", &not_json],
        vec!["--security-opt", &bad_action],
        vec!["--security-opt", &missing],
        vec!["--user", "nosuchuser"],
        vec!["--user", "root:nosuchgroup"],
        vec!["--group-add", "nosuchgroup"],
        vec!["--device", "/dev/td-no-such-device"],
    ];
    for case in cases {
        let mut args = case.clone();
        args.extend(["busybox", "true"]);
        rejected(&root, &args);
    }
}

/// `run ARGS` must fail as a usage error whose one line mentions `needle`,
/// with and without `--rm`, and leave no container.
#[track_caller]
fn rejected_mentioning(root: &TestRoot, args: &[&str], needle: &str) {
    for rm in [true, false] {
        let mut full = vec!["run"];
        if rm {
            full.push("--rm");
        }
        full.extend_from_slice(args);
        root.run(&full).usage_error().stderr_has(needle);
        root.assert_no_containers();
    }
}

#[test]
fn ids_out_of_range_are_refused_before_anything_exists() {
    let root = attack_root();
    // The kernel takes uids and gids up to 2^32-2 (2^32-1 is "no change"),
    // but ids from 2^31 on are negative to much of userland: refused.
    for (flags, id) in [
        (&["--user", "4294967295"][..], "4294967295"),
        (&["--user", "2147483648"][..], "2147483648"),
        (&["--user", "1000:4294967295"][..], "4294967295"),
        (&["--group-add", "4294967295"][..], "4294967295"),
    ] {
        let mut args = flags.to_vec();
        args.extend([IMAGE, "true"]);
        rejected_mentioning(&root, &args, id);
    }
    // The largest id that is not refused.
    let out = run_in(&root, &["--user", "2147483647"], &["id", "-u"]);
    out.ok().stdout_is("2147483647");
    let (uid, gid, groups) = parse_ids(&attempt(
        &root,
        &["--user", "1000:2147483647", "--group-add", "2147483647"],
        &["ids"],
    ));
    assert_eq!((uid, gid), (1000, 2147483647));
    assert!(groups.contains(&2147483647), "groups {groups:?}");
    root.assert_no_containers();
}

/// A pidfd for `pid` (of a process that is not the test's child).
fn pidfd_of(pid: i32) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(
        fd >= 0,
        "pidfd_open({pid}): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: fd is a fresh pidfd that nothing else owns.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) }
}

/// Wait (poll on the pidfd, no sleeping) until its process has exited;
/// false if it is still there after `timeout`.
fn exits_within(pidfd: &std::os::fd::OwnedFd, timeout: std::time::Duration) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis() as i32;
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 {
            return n > 0;
        }
        assert_eq!(
            std::io::Error::last_os_error().kind(),
            std::io::ErrorKind::Interrupted,
            "poll on a pidfd"
        );
    }
}

/// The values of a `/proc/PID/status` line, e.g. `Uid` → its four ids.
#[track_caller]
fn host_status_field(pid: i32, key: &str) -> Vec<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    let st = parse_status(&text);
    field(&st, key)
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn a_container_dies_with_its_runtime() {
    let root = attack_root();
    // Root is the control: a parent-death signal set before the switch to
    // another user is cleared by the kernel when the credentials change.
    for (flags, uid, name) in [
        (&["-u", "1000"][..], "1000", "orphan-user"),
        (&[][..], "0", "orphan-root"),
    ] {
        let mut args = vec!["run", "--name", name];
        args.extend_from_slice(flags);
        args.extend([IMAGE, "sh", "-c", "echo ready; exec sleep 1000"]);
        let mut run = root.spawn(&args);
        run.expect_line("ready");
        let out = root.run(&["inspect", name]);
        out.ok();
        let all: serde_json::Value = serde_json::from_str(&out.stdout).expect("inspect JSON");
        let state = &all[0]["State"];
        assert_eq!(state["Running"], true, "{name}: {state}");
        let pid = state["Pid"].as_i64().expect("State.Pid") as i32;
        assert!(pid > 0 && pid != run.pid(), "{name}: State.Pid {pid}");
        let pidfd = pidfd_of(pid);
        // The container's init, as the user asked for: pid 1 of a pid
        // namespace of its own.
        let nspid = host_status_field(pid, "NSpid");
        assert!(
            nspid.len() >= 2 && nspid.last().map(String::as_str) == Some("1"),
            "{name}: host pid {pid} is not a container's init: NSpid {nspid:?}"
        );
        assert_eq!(host_status_field(pid, "Uid")[0], uid, "{name}: pid {pid}");

        run.signal(libc::SIGKILL);
        let exited = exits_within(&pidfd, std::time::Duration::from_secs(60));
        // Cleaned up before asserting: rm -f kills a survivor, which also
        // lets the runtime's output pipes close.
        root.run(&["rm", "-f", name]).ok();
        let _ = run.finish();
        assert!(
            exited,
            "{name} ({flags:?}): the container's init (host pid {pid}) still runs 60 s after its runtime was killed"
        );
    }
    root.assert_no_containers();
}

#[test]
fn socket_families_are_compared_as_the_kernel_reads_them() {
    let root = attack_root();
    // AF_VSOCK (40) with a bit set above the int the kernel reads.
    const WIDE_VSOCK: &str = "0x100000028";
    let unconfined = ["--security-opt", "seccomp=unconfined"];
    // What the kernel says without a filter: the family is truncated to
    // an int, so the wide one is AF_VSOCK. Nothing is connected: the
    // helper closes the socket at once.
    let vsock = attempt(&root, &unconfined, &["socket", "40"]);
    let wide = attempt(&root, &unconfined, &["socket", WIDE_VSOCK]);
    let alg = attempt(&root, &unconfined, &["socket", "38", "seqpacket"]);
    eprintln!("unconfined: AF_VSOCK {vsock}, {WIDE_VSOCK} {wide}, AF_ALG {alg}");
    assert_eq!(wide, vsock, "socket({WIDE_VSOCK}) unconfined");
    for (what, got) in [("AF_VSOCK", &vsock), ("AF_ALG", &alg)] {
        assert_ne!(
            got, "EPERM",
            "socket({what}) without a filter: the kernel itself says EPERM, the filter's answer could not be told apart"
        );
    }
    // The default filter.
    expect(&root, &[], &["socket", "40"], "EPERM");
    expect(&root, &[], &["socket", WIDE_VSOCK], "EPERM");
    expect(&root, &[], &["socket", "38", "seqpacket"], "EPERM");
    expect(&root, &[], &["socket", "2"], "ok");
    expect(&root, &[], &["socket", "1"], "ok");
}

#[test]
fn privileged_with_the_default_seccomp_profile_named() {
    let root = attack_root();
    for opt in ["seccomp=default", "seccomp=builtin"] {
        let flags = ["--privileged", "--security-opt", opt];
        let st = status(&root, &flags);
        assert_eq!(
            field(&st, "Seccomp"),
            "2",
            "{flags:?}: {}",
            security_lines(&st)
        );
        // docker's profile: AF_VSOCK is denied whatever the capabilities.
        expect(&root, &flags, &["socket", "40"], "EPERM");
    }
    // The control: --privileged alone has no filter.
    expect(
        &root,
        &["--privileged"],
        &["socket", "40"],
        &attempt(
            &root,
            &["--security-opt", "seccomp=unconfined"],
            &["socket", "40"],
        ),
    );
}

// ---------------------------------------------------------------------------
// The seccomp cache

/// The cache of compiled filters in a state root.
fn seccomp_cache(root: &TestRoot) -> PathBuf {
    root.path().join("seccomp")
}

/// The compiled filters in the cache.
fn cached_filters(root: &TestRoot) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(seccomp_cache(root))
        .expect("list the seccomp cache")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bpf"))
        .collect();
    files.sort();
    files
}

#[track_caller]
fn chown(path: &Path, uid: u32, gid: u32) {
    let c = CString::new(path.to_string_lossy().as_bytes()).expect("path");
    // SAFETY: lchown with a valid C string.
    let rc = unsafe { libc::lchown(c.as_ptr(), uid, gid) };
    assert_eq!(
        rc,
        0,
        "chown {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

#[test]
fn a_seccomp_cache_directory_others_can_write_is_refused() {
    let root = TestRoot::new();
    let cache = seccomp_cache(&root);
    let shown = cache.to_string_lossy().into_owned();
    fs::create_dir(&cache).unwrap();
    // Writable by everyone: anyone could plant a filter that allows all.
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o777)).unwrap();
    rejected_mentioning(&root, &["busybox", "true"], &shown);
    // Mode 0700 but another user's: that user can write it.
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o700)).unwrap();
    chown(&cache, 65534, 65534);
    rejected_mentioning(&root, &["busybox", "true"], &shown);
    // Root's, 0700: used.
    chown(&cache, 0, 0);
    root.run(&["run", "--rm", "busybox", "true"]).ok();
    assert_eq!(
        cached_filters(&root).len(),
        1,
        "{:?}",
        cached_filters(&root)
    );
    root.assert_no_containers();
}

#[test]
fn a_seccomp_cache_file_of_another_owner_or_a_symlink_is_refused() {
    let root = TestRoot::new();
    root.run(&["run", "--rm", "busybox", "true"]).ok();
    let files = cached_filters(&root);
    assert_eq!(files.len(), 1, "one filter cached after a run: {files:?}");
    let file = &files[0];
    let name = file
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    let meta = fs::symlink_metadata(file).unwrap();
    assert!(
        meta.is_file() && meta.uid() == 0,
        "{}: {meta:?}",
        file.display()
    );

    // Another user's file: that user could have written any filter.
    chown(file, 65534, 65534);
    rejected_mentioning(&root, &["busybox", "true"], &name);
    // The control: root's again, used again.
    chown(file, 0, 0);
    root.run(&["run", "--rm", "busybox", "true"]).ok();

    // A symlink to a copy of the very same program, owned by root: the
    // link itself is refused (its target could be anyone's file).
    let elsewhere = TempDir::new("seccomp-cache-symlink");
    let copy = elsewhere.join(&name);
    fs::copy(file, &copy).unwrap();
    fs::remove_file(file).unwrap();
    std::os::unix::fs::symlink(&copy, file).unwrap();
    rejected_mentioning(&root, &["busybox", "true"], &name);
    // The control: without the link, the filter is compiled again.
    fs::remove_file(file).unwrap();
    root.run(&["run", "--rm", "busybox", "true"]).ok();
    let meta = fs::symlink_metadata(file).unwrap();
    assert!(meta.is_file(), "{}: {meta:?}", file.display());
    root.assert_no_containers();
}

// ---------------------------------------------------------------------------
// --device: the node's owner and mode, and where it may go

#[test]
fn device_keeps_the_host_nodes_owner_and_mode() {
    let root = attack_root();
    let host = TempDir::new("device-owner");
    let node = host.join("tdnull");
    let c = CString::new(node.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: mknod with a valid C string: a null device, 1:3.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o660, libc::makedev(1, 3)) };
    assert_eq!(rc, 0, "mknod {}", node.display());
    // Explicitly, whatever the umask.
    fs::set_permissions(&node, fs::Permissions::from_mode(0o660)).unwrap();
    chown(&node, 0, 4242);
    let meta = fs::metadata(&node).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (0, 4242, 0o660)
    );

    let device = format!("{}:/dev/tdnull", node.display());
    let member = [
        "--device",
        &device,
        "-u",
        "1000:1000",
        "--group-add",
        "4242",
    ];
    expect(&root, &member, &["stat", "/dev/tdnull"], "chr 1:3");
    expect(&root, &member, &["perm", "/dev/tdnull"], "0:4242 0660");
    expect(&root, &member, &["write", "/dev/tdnull", "x"], "ok");
    // Not in the group: the node's mode keeps the user out.
    let other = ["--device", &device, "-u", "1000:1000"];
    expect(&root, &other, &["perm", "/dev/tdnull"], "0:4242 0660");
    expect(&root, &other, &["write", "/dev/tdnull", "x"], "open:EACCES");
}

#[test]
fn device_container_paths_that_are_not_a_node_of_dev_are_refused() {
    let root = TestRoot::new();
    for target in [
        "/",
        "/dev",
        "/proc/x",
        "/sys/x",
        "/dev/pts/x",
        "/dev/shm/x",
        "/dev/mqueue/x",
    ] {
        let spec = format!("/dev/null:{target}");
        rejected(&root, &["--device", &spec, "busybox", "true"]);
    }
    // The control: a node of /dev of its own.
    root.run(&[
        "run",
        "--rm",
        "--device",
        "/dev/null:/dev/td-null",
        "busybox",
        "true",
    ])
    .ok();
}

// ---------------------------------------------------------------------------
// Volumes cannot lift the read-only and masked paths

#[test]
fn a_volume_over_a_read_only_path_stays_read_only() {
    let root = attack_root();
    let sysctl = "/proc/sys/kernel/panic";
    assert!(Path::new(sysctl).exists(), "{sysctl} missing on the host");
    // The host's /proc/sys bound back over the container's: the read-only
    // paths are made read-only after the volumes. (Should it be writable,
    // the value written is the one just read.)
    let flags = ["-v", "/proc/sys:/proc/sys"];
    expect(&root, &flags, &["write-back", sysctl], "open:EROFS");
    let mounts = mounts_inside(&root, &flags);
    let m = top(&mounts, "/proc/sys").expect("/proc/sys mounted");
    assert!(m.read_only(), "/proc/sys: {m:?}");
}

#[test]
fn a_volume_over_a_masked_path_stays_masked() {
    let root = attack_root();
    let host = TempDir::new("masked-volume");
    let dir = host.join("dir");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("marker"), "host-secret\n").unwrap();
    let file = host.join("file");
    fs::write(&file, "host-secret\n").unwrap();

    let (files, dirs) = masked_on_host();
    let masked_dir = "/sys/firmware";
    assert!(
        dirs.contains(&masked_dir),
        "{masked_dir} missing on the host"
    );
    let masked_file = *files.first().expect("no masked file on the host");
    let over_dir = format!("{}:{masked_dir}", dir.display());
    let over_file = format!("{}:{masked_file}", file.display());
    // The control: the same directory elsewhere is there.
    let elsewhere = format!("{}:/td-vol", dir.display());
    let flags = ["-v", &over_dir, "-v", &over_file, "-v", &elsewhere];

    let mounts = mounts_inside(&root, &flags);
    let m = top(&mounts, masked_dir).unwrap_or_else(|| panic!("nothing at {masked_dir}"));
    assert!(m.fstype == "tmpfs" && m.read_only(), "{masked_dir}: {m:?}");
    let script = format!("ls -A {masked_dir}; echo --; ls -A /td-vol");
    let out = run_in(&root, &flags, &["sh", "-c", &script]);
    out.ok();
    assert_eq!(
        out.stdout, "--\nmarker\n",
        "{masked_dir} is not the empty mask"
    );
    expect(&root, &flags, &["stat", masked_file], "chr 1:3");
    expect(&root, &flags, &["read1", masked_file], "eof");
    expect(&root, &flags, &["cat", "/td-vol/marker"], "ok:host-secret");
}
