//! Root-only: device access control against the real kernel. A forked
//! child joins a fresh cgroup (v1 `devices` hierarchy, or the v2 mount with
//! the eBPF program attached), opens /dev/null and a block device of the
//! host — a node made with mknod(2) in a temp dir, for the device "/" is on
//! or, if this process may not open that one, another — and reports each
//! errno. Nothing is read from the device. Everything
//! lives under `tdtest-<pid>-<n>-dev*`, removed by a guard even on panic.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tinydocker_cgroups::{v1, v2, DeviceControl, DeviceRule, Layout, Manager};

/// What the child saw: the errno of each step, 0 for success.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    join: i32,
    null_rw: i32,
    block_ro: i32,
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn errno() -> i32 {
    nix::errno::Errno::last_raw()
}

/// open(2) then close(2): 0 or the errno. Async-signal-safe.
fn try_open(path: &CStr, flags: i32) -> i32 {
    // SAFETY: a NUL-terminated path; the fd is closed right away.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return errno();
    }
    // SAFETY: closes the fd opened above.
    unsafe { libc::close(fd) };
    0
}

/// Fork a child that joins a cgroup by writing "0" to each of `join`,
/// then tries /dev/null read-write and `block` read-only. The child only
/// does async-signal-safe calls (the test harness has threads), and is
/// reaped before this returns.
fn probe(join: &[CString], block: &CStr) -> Seen {
    let mut pipe = [0i32; 2];
    // SAFETY: a two-int array for the pipe's fds.
    let rc = unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: the child below calls only async-signal-safe functions and
    // leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let join = match tinydocker_cgroups::join_self(join) {
            Ok(()) => 0,
            Err(errno) => errno,
        };
        let (null_rw, block_ro) = if join == 0 {
            (
                try_open(c"/dev/null", libc::O_RDWR),
                try_open(block, libc::O_RDONLY),
            )
        } else {
            (-1, -1)
        };
        let report = [join, null_rw, block_ro];
        // SAFETY: writes the local array to the pipe, then ends the child
        // without running the parent's atexit handlers or destructors.
        unsafe {
            libc::write(
                pipe[1],
                report.as_ptr().cast(),
                std::mem::size_of_val(&report),
            );
            libc::_exit(0);
        }
    }
    // SAFETY: the parent's copy of the write end, not used here.
    unsafe { libc::close(pipe[1]) };
    let mut report = [0i32; 3];
    // SAFETY: reads into the local array of the given size from the read end.
    let n = unsafe {
        libc::read(
            pipe[0],
            report.as_mut_ptr().cast(),
            std::mem::size_of_val(&report),
        )
    };
    // SAFETY: the read end, done with.
    unsafe { libc::close(pipe[0]) };
    let mut status = 0;
    // SAFETY: reaps the child forked above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(n as usize, std::mem::size_of_val(&report), "child report");
    Seen {
        join: report[0],
        null_rw: report[1],
        block_ro: report[2],
    }
}

/// The block devices of this host as (major, minor): the one "/" lives
/// on first, then those in /sys/dev/block.
fn host_block_devices() -> Vec<(u32, u32)> {
    let mut devs = Vec::new();
    // SAFETY: stat is plain old data; all zeroes is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a live stat buffer.
    if unsafe { libc::stat(c"/".as_ptr(), &mut st) } == 0 {
        let (major, minor) = (libc::major(st.st_dev), libc::minor(st.st_dev));
        // Major 0 is the anonymous devices of overlayfs, tmpfs and the like.
        if major != 0 {
            devs.push((major, minor));
        }
    }
    let mut names: Vec<String> = std::fs::read_dir("/sys/dev/block")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for name in names {
        if let Some((major, minor)) = name.split_once(':') {
            if let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) {
                devs.push((major, minor));
            }
        }
    }
    devs
}

/// A node in `dir` for the first block device of the host that this
/// process may open outside the test's cgroups (a sandbox may forbid its
/// disk), so a refusal inside them is the cgroup's doing. Root's only
/// (mode 0600); never read.
fn openable_block_device(dir: &Path) -> Option<CString> {
    for (major, minor) in host_block_devices() {
        let path = cstring(dir.join(format!("disk-{major}-{minor}")));
        // SAFETY: a NUL-terminated path; mknod creates one node.
        let rc = unsafe {
            libc::mknod(
                path.as_ptr(),
                libc::S_IFBLK | 0o600,
                libc::makedev(major, minor),
            )
        };
        assert_eq!(rc, 0, "mknod: {}", std::io::Error::last_os_error());
        if try_open(&path, libc::O_RDONLY) == 0 {
            return Some(path);
        }
    }
    None
}

fn cstring(path: PathBuf) -> CString {
    CString::new(path.into_os_string().as_bytes()).unwrap()
}

/// A unique parent name for one test.
fn parent_name(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("tdtest-{}-{nanos:x}-{what}", std::process::id())
}

/// Removes the test's cgroups, then their parent, on drop. The probes'
/// children are reaped before a test goes on, so the cgroups are empty.
struct Guard {
    cgroups: Vec<Box<dyn Manager>>,
    parent: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for cgroup in &self.cgroups {
            if let Err(err) = cgroup.remove() {
                eprintln!("cleanup: {err}");
            }
        }
        if let Err(err) = std::fs::remove_dir(&self.parent) {
            if err.kind() != std::io::ErrorKind::NotFound {
                eprintln!("cleanup: remove {}: {err}", self.parent.display());
            }
        }
    }
}

fn deny(text: &str) -> DeviceRule {
    DeviceRule {
        allow: false,
        ..text.parse().unwrap()
    }
}

#[test]
fn v1_devices_controller_enforces_rules() {
    if !is_root() {
        eprintln!("note: skipping the v1 devices test: not root");
        return;
    }
    let hierarchies = match Layout::detect().expect("detect the cgroup layout") {
        Layout::Legacy { hierarchies } | Layout::Hybrid { hierarchies, .. } => hierarchies,
        Layout::Unified { .. } => {
            eprintln!("note: skipping the v1 devices test: no v1 hierarchies");
            return;
        }
    };
    let Some(mount) = hierarchies
        .into_iter()
        .find(|m| m.controllers.iter().any(|c| c == "devices"))
    else {
        eprintln!("note: skipping the v1 devices test: no devices hierarchy");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some(block) = openable_block_device(tmp.path()) else {
        eprintln!("note: skipping the v1 devices test: no block device opens here");
        return;
    };

    let parent = parent_name("dev1");
    // Only the devices hierarchy: the test touches nothing else.
    let mounts = [mount.clone()];
    let default = v1::Manager::new(&mounts, format!("{parent}/default"));
    let privileged = v1::Manager::new(&mounts, format!("{parent}/privileged"));
    let _guard = Guard {
        cgroups: vec![Box::new(default.clone()), Box::new(privileged.clone())],
        parent: mount.path.join(&parent),
    };

    default.create().unwrap();
    let control = default.set_devices(&DeviceRule::default_allowed()).unwrap();
    assert_eq!(control, DeviceControl::Enforced);
    let dir = default.dir("devices").unwrap();
    let list = std::fs::read_to_string(dir.join("devices.list")).unwrap();
    assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
    assert!(!list.lines().any(|l| l.starts_with("a ")), "{list}");
    let seen = probe(&[cstring(dir.join("tasks"))], &block);
    assert_eq!(
        seen,
        Seen {
            join: 0,
            null_rw: 0,
            block_ro: libc::EPERM
        }
    );

    privileged.create().unwrap();
    let control = privileged.set_devices(&[DeviceRule::allow_all()]).unwrap();
    assert_eq!(control, DeviceControl::Enforced);
    let dir = privileged.dir("devices").unwrap();
    let list = std::fs::read_to_string(dir.join("devices.list")).unwrap();
    assert_eq!(list.trim(), "a *:* rwm");
    let seen = probe(&[cstring(dir.join("tasks"))], &block);
    assert_eq!(
        seen,
        Seen {
            join: 0,
            null_rw: 0,
            block_ro: 0
        }
    );
}

#[test]
fn v2_device_program_enforces_rules() {
    if !is_root() {
        eprintln!("note: skipping the v2 devices test: not root");
        return;
    }
    let root = match Layout::detect().expect("detect the cgroup layout") {
        Layout::Hybrid { unified, .. } => unified,
        Layout::Unified { root } => root,
        Layout::Legacy { .. } => {
            eprintln!("note: skipping the v2 devices test: no cgroup2 mount");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some(block) = openable_block_device(tmp.path()) else {
        eprintln!("note: skipping the v2 devices test: no block device opens here");
        return;
    };

    let parent = parent_name("dev2");
    let cgroup = |name: &str| v2::Manager::new(root.clone(), format!("{parent}/{name}"));
    let cases = [
        (
            "default",
            DeviceRule::default_allowed(),
            Seen {
                join: 0,
                null_rw: 0,
                block_ro: libc::EPERM,
            },
        ),
        (
            "privileged",
            vec![DeviceRule::allow_all()],
            Seen {
                join: 0,
                null_rw: 0,
                block_ro: 0,
            },
        ),
        // Everything but writes to /dev/null: a deny rule wins over the
        // earlier allow-all, for any access it names.
        (
            "nowrite",
            vec![DeviceRule::allow_all(), deny("c 1:3 w")],
            Seen {
                join: 0,
                null_rw: libc::EPERM,
                block_ro: 0,
            },
        ),
    ];
    let _guard = Guard {
        cgroups: cases
            .iter()
            .map(|(name, _, _)| Box::new(cgroup(name)) as Box<dyn Manager>)
            .collect(),
        parent: root.join(&parent),
    };

    for (name, rules, want) in cases {
        let m = cgroup(name);
        m.create().unwrap();
        let control = m.set_devices(&rules).unwrap();
        assert_eq!(control, DeviceControl::Enforced, "{name}");
        let seen = probe(&[cstring(m.dir().join("cgroup.procs"))], &block);
        assert_eq!(seen, want, "{name}");
        assert!(
            m.procs().unwrap().is_empty(),
            "{name}: the child was reaped"
        );
    }
}
