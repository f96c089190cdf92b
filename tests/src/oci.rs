//! The harness for `tinydocker-runtime` (the OCI runtime): a state root
//! and bundles of one test ([`OciRoot`]), every container in cgroups under
//! a parent of the test's own, all of it removed when the guard drops
//! (also on panic): containers force-deleted through the binary, then
//! what would be a leak (a cgroup, a mount, a process) reported.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

use crate::{
    busybox_rootfs, mounts_mentioning, output, output_via_files, require_root, runtime_bin, Out,
    TempDir,
};

/// Where the host's cgroup hierarchies are.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A state root, a log file and bundles for one test.
pub struct OciRoot {
    dir: Option<TempDir>,
    /// The cgroup parent of this root's containers (`tdrt-PID-N`).
    pub cgroup_parent: String,
}

impl OciRoot {
    pub fn new() -> OciRoot {
        require_root();
        runtime_bin();
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        OciRoot {
            dir: Some(TempDir::new(&format!("oci-{}", crate::test_name()))),
            cgroup_parent: format!("tdrt-{}-{n}", std::process::id()),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("root dir").path()
    }

    /// The state root (`--root`).
    pub fn state(&self) -> PathBuf {
        self.path().join("state")
    }

    /// The `--log` file (JSON lines).
    pub fn log(&self) -> PathBuf {
        self.path().join("log.json")
    }

    /// `tinydocker-runtime --root STATE --log LOG --log-format json ARGS...`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(runtime_bin());
        cmd.arg("--root")
            .arg(self.state())
            .arg("--log")
            .arg(self.log())
            .args(["--log-format", "json"])
            .args(args);
        cmd
    }

    /// Run it with stdin from /dev/null. Its stdout and stderr go
    /// through files: a container it creates inherits them, and may hold
    /// them long after it exits.
    pub fn run(&self, args: &[&str]) -> Out {
        output_via_files(self.cmd(args), None, self.path())
    }

    /// Run it with `input` on its stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        output_via_files(self.cmd(args), Some(input), self.path())
    }

    /// A bundle `id` whose process runs `args` (busybox, read-only root,
    /// no terminal, new PID, mount, IPC, UTS, network and cgroup
    /// namespaces), its cgroup under this root's parent; `tweak` may change
    /// the config. Returns the bundle directory.
    pub fn bundle(&self, id: &str, args: &[&str], tweak: impl FnOnce(&mut Value)) -> PathBuf {
        let dir = self.path().join("bundles").join(id);
        fs::create_dir_all(&dir).expect("bundle dir");
        let mut config = json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": args,
                "env": ["PATH=/bin", "TERM=xterm"],
                "cwd": "/",
                "capabilities": {
                    "bounding": ["CAP_KILL", "CAP_AUDIT_WRITE"],
                    "effective": ["CAP_KILL", "CAP_AUDIT_WRITE"],
                    "permitted": ["CAP_KILL", "CAP_AUDIT_WRITE"]
                },
                "noNewPrivileges": true
            },
            "root": {"path": busybox_rootfs(), "readonly": true},
            "hostname": id,
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                 "options": ["nosuid", "noexec", "nodev", "ro"]},
                {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                 "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
            ],
            "linux": {
                "cgroupsPath": format!("/{}/{id}", self.cgroup_parent),
                "namespaces": [
                    {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                    {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
                ],
                "maskedPaths": ["/proc/kcore"],
                "readonlyPaths": ["/proc/sys"]
            }
        });
        tweak(&mut config);
        fs::write(
            dir.join("config.json"),
            serde_json::to_string_pretty(&config).expect("json"),
        )
        .expect("write config.json");
        dir
    }

    /// `state ID` as JSON (panics if it fails).
    pub fn state_of(&self, id: &str) -> Value {
        let out = self.run(&["state", id]);
        out.ok();
        serde_json::from_str(out.text()).expect("state JSON")
    }

    /// The `status` of `state ID`.
    pub fn status(&self, id: &str) -> String {
        self.state_of(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The ids `list -q` prints.
    pub fn ids(&self) -> Vec<String> {
        let out = self.run(&["list", "-q"]);
        out.ok();
        out.text().lines().map(String::from).collect()
    }

    /// The directories of this root's cgroup parent that exist, in every
    /// hierarchy.
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        cgroup_dirs_named(&self.cgroup_parent)
    }

    /// Assert no container, cgroup (below the parent) or mount is left.
    #[track_caller]
    pub fn assert_clean(&self) {
        assert_eq!(self.ids(), Vec::<String>::new(), "list -q");
        let containers = self.state().join("containers");
        assert_eq!(
            crate::entries(&containers),
            Vec::<String>::new(),
            "containers/"
        );
        for dir in self.cgroup_dirs() {
            let children: Vec<String> = crate::entries(&dir)
                .into_iter()
                .filter(|e| dir.join(e).is_dir())
                .collect();
            assert_eq!(
                children,
                Vec::<String>::new(),
                "cgroups in {}",
                dir.display()
            );
        }
        assert_eq!(
            mounts_mentioning(self.path()),
            Vec::<String>::new(),
            "host mounts"
        );
    }
}

impl Default for OciRoot {
    fn default() -> Self {
        OciRoot::new()
    }
}

/// `/sys/fs/cgroup/<hierarchy>/<name>` (or `/sys/fs/cgroup/<name>` on v2)
/// where they exist.
pub fn cgroup_dirs_named(name: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let root = Path::new(CGROUP_ROOT);
    if root.join(name).is_dir() {
        dirs.push(root.join(name));
    }
    for h in crate::entries(root) {
        // Co-mounted hierarchies have one directory under several names
        // (cpu and cpuacct are links to cpu,cpuacct): each once.
        let Ok(dir) = fs::canonicalize(root.join(h).join(name)) else {
            continue;
        };
        if dir.is_dir() && !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// Remove the cgroups named `name` in every hierarchy, each reported in
/// `problems` if a cgroup below it was left.
pub fn remove_cgroups_named(name: &str, problems: &mut Vec<String>) {
    for cg in cgroup_dirs_named(name) {
        let left = subdirs(&cg);
        if !left.is_empty() {
            problems.push(format!("cgroups left in {}: {left:?}", cg.display()));
        }
        if let Err(e) = remove_cgroup_tree(&cg) {
            problems.push(e);
        }
    }
}

/// Remove a cgroup directory tree bottom-up (every cgroup must be empty).
pub fn remove_cgroup_tree(dir: &Path) -> Result<(), String> {
    for e in crate::entries(dir) {
        let child = dir.join(e);
        if child.is_dir() {
            remove_cgroup_tree(&child)?;
        }
    }
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("rmdir {}: {e}", dir.display())),
    }
}

impl Drop for OciRoot {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let mut problems = Vec::new();
        let quiet = |args: &[&str]| {
            let mut c = Command::new(runtime_bin());
            c.arg("--root").arg(dir.path().join("state")).args(args);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| output(c, None))).ok()
        };
        if let Some(list) = quiet(&["list", "-q"]) {
            for id in list.stdout.split_whitespace() {
                if !matches!(quiet(&["delete", "--force", id]), Some(o) if o.code == 0) {
                    problems.push(format!("delete --force {id} failed"));
                }
            }
        }
        remove_cgroups_named(&self.cgroup_parent, &mut problems);
        let leaked = mounts_mentioning(dir.path());
        if !leaked.is_empty() {
            problems.push(format!("mounts left: {}", leaked.join("\n")));
        }
        drop(dir);
        if !problems.is_empty() {
            crate::report_cleanup(format!("cleanup: {}", problems.join("; ")));
        }
    }
}

/// Names of the subdirectories of `dir`.
pub fn subdirs(dir: &Path) -> Vec<String> {
    crate::entries(dir)
        .into_iter()
        .filter(|e| dir.join(e).is_dir())
        .collect()
}

/// Pids of the containerd-shim-runc-v2 processes started by the
/// containerd listening on `sock`.
pub fn shims_of(sock: &Path) -> Vec<i32> {
    let sock = sock.to_string_lossy();
    let mut pids = Vec::new();
    for name in crate::entries(Path::new("/proc")) {
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_shim = args
            .first()
            .is_some_and(|a| a.ends_with("containerd-shim-runc-v2"));
        let ours = args.windows(2).any(|w| w[0] == "-address" && w[1] == sock);
        if is_shim && ours {
            pids.push(pid);
        }
    }
    pids
}

/// The calls a wrapper logged (one line of arguments each), without the
/// global options a shim always passes (`--root R --log L --log-format
/// json`): e.g. `start ID`, `kill ID 9`.
pub fn runtime_calls(log: &str) -> Vec<String> {
    log.lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let mut i = 0;
            while i < words.len() {
                match words[i] {
                    "--root" | "--log" | "--log-format" | "--criu" | "--rootless" => i += 2,
                    "--debug" | "--systemd-cgroup" => i += 1,
                    _ => break,
                }
            }
            words[i..].join(" ")
        })
        .collect()
}

/// Assert one of `calls` is `prefix ... ID` (the subcommand and maybe its
/// first options, the container id last).
#[track_caller]
pub fn assert_called(calls: &[String], prefix: &str, id: &str) {
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with(prefix) && c.split_whitespace().last() == Some(id)),
        "no `{prefix} ... {id}` among the runtime's calls: {calls:#?}"
    );
}

/// A private containerd's `config.toml` (root, state and socket given):
/// only what `ctr run --rootfs` and dockerd need of it; no CRI, no
/// snapshotters that probe the host, no /opt/containerd.
pub fn containerd_config(root: &Path, state: &Path, sock: &Path) -> String {
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "{sock}"
"#,
        root = root.display(),
        state = state.display(),
        sock = sock.display(),
    )
}

/// Write an executable shell script (a `--runc-binary` wrapper).
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// The ids `tinydocker-runtime --root ROOT list -q` prints (a daemon's
/// runtime root, as its shim passes it).
pub fn runtime_ids_in(root: &Path) -> Vec<String> {
    let mut cmd = Command::new(runtime_bin());
    cmd.arg("--root").arg(root).args(["list", "-q"]);
    let out = output(cmd, None);
    out.ok();
    out.lines().iter().map(|s| s.to_string()).collect()
}

/// The calls a `--runc-binary` wrapper logged to `log`, a line each, as
/// [`runtime_calls`] reads them.
pub fn logged_calls(log: &Path) -> Vec<String> {
    runtime_calls(&fs::read_to_string(log).unwrap_or_default())
}

/// Assert a daemon left nothing in the runtime: no container in `list`
/// or in its root's `containers/`, and no container cgroup under the
/// daemon's cgroup parent `parent` in any hierarchy.
#[track_caller]
pub fn assert_runtime_clean(root: &Path, parent: &str) {
    assert_eq!(
        runtime_ids_in(root),
        Vec::<String>::new(),
        "runtime list -q"
    );
    assert_eq!(
        crate::entries(&root.join("containers")),
        Vec::<String>::new(),
        "containers/ in the runtime's root"
    );
    for dir in cgroup_dirs_named(parent) {
        assert_eq!(
            subdirs(&dir),
            Vec::<String>::new(),
            "container cgroups left in {}",
            dir.display()
        );
    }
}
