//! Root-only: drive a real cgroup on this host through `AnyManager`
//! (create, apply, add a process, stats, kill_all, remove). Skipped with a
//! note when not root or when the needed controllers are not mounted, so
//! `cargo test` passes unprivileged too. Everything lives under
//! `tdtest-<pid>` in each hierarchy, removed by a guard even on panic.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command};

use tinydocker_cgroups::{AnyManager, Layout, Manager, Resources};

#[path = "host/devices.rs"]
mod devices;

/// Why the test cannot run here, if it cannot.
fn skip_reason(layout: &Layout) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".into());
    }
    match layout {
        Layout::Unified { root } => {
            let offered =
                std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            for c in ["cpu", "memory", "pids"] {
                if !offered.split_whitespace().any(|o| o == c) {
                    return Some(format!("the v2 root does not offer {c}"));
                }
            }
            None
        }
        Layout::Legacy { hierarchies } | Layout::Hybrid { hierarchies, .. } => {
            for c in ["cpu", "cpuacct", "memory", "pids", "freezer"] {
                if !hierarchies
                    .iter()
                    .any(|m| m.controllers.iter().any(|x| x == c))
                {
                    return Some(format!("no v1 {c} hierarchy"));
                }
            }
            None
        }
    }
}

/// Every hierarchy root the test might touch.
fn roots(layout: &Layout) -> Vec<PathBuf> {
    match layout {
        Layout::Unified { root } => vec![root.clone()],
        Layout::Legacy { hierarchies } => hierarchies.iter().map(|m| m.path.clone()).collect(),
        Layout::Hybrid {
            hierarchies,
            unified,
        } => hierarchies
            .iter()
            .map(|m| m.path.clone())
            .chain([unified.clone()])
            .collect(),
    }
}

/// Kills the test's child and removes `tdtest-<pid>` everywhere, on drop.
struct Guard {
    manager: AnyManager,
    parent: String,
    roots: Vec<PathBuf>,
    child: Option<Child>,
}

impl Guard {
    fn cleanup(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.manager.remove();
        for root in &self.roots {
            let _ = std::fs::remove_dir(root.join(&self.parent));
        }
    }

    fn leftovers(&self) -> Vec<PathBuf> {
        self.roots
            .iter()
            .map(|r| r.join(&self.parent))
            .filter(|p| p.exists())
            .collect()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.cleanup();
    }
}

#[test]
fn real_cgroup_lifecycle() {
    let layout = Layout::detect().expect("detect the cgroup layout");
    if let Some(reason) = skip_reason(&layout) {
        eprintln!("note: skipping the real-cgroup test: {reason}");
        return;
    }
    let parent = format!("tdtest-{}", std::process::id());
    let manager = AnyManager::new(&layout, format!("{parent}/x"));
    let mut guard = Guard {
        manager: manager.clone(),
        parent: parent.clone(),
        roots: roots(&layout),
        child: None,
    };

    manager.create().unwrap();
    manager.create().unwrap();
    let res = Resources {
        memory: Some(64 << 20),
        pids_limit: Some(10),
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        ..Resources::default()
    };
    manager.apply(&res).unwrap();

    // Raising memory together with memory+swap needs memsw first on v1: the
    // EINVAL fallback, for real (when swap accounting is on).
    if let AnyManager::V1(v1) = &manager {
        let memsw = v1
            .dir("memory")
            .unwrap()
            .join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            let low = Resources {
                memory: Some(32 << 20),
                memory_swap: Some(48 << 20),
                ..Resources::default()
            };
            manager.apply(&low).unwrap();
            let high = Resources {
                memory: Some(64 << 20),
                memory_swap: Some(128 << 20),
                ..Resources::default()
            };
            manager.apply(&high).unwrap();
            let read = std::fs::read_to_string(&memsw).unwrap();
            assert_eq!(read.trim(), (128u64 << 20).to_string());
        }
    }

    let child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id() as i32;
    guard.child = Some(child);
    manager.add_task(pid).unwrap();
    assert_eq!(manager.procs().unwrap(), [pid]);

    let stats = manager.stats().unwrap();
    assert_eq!(stats.pids_current, 1, "{stats:?}");
    assert_eq!(stats.pids_limit, Some(10), "{stats:?}");
    assert_eq!(stats.memory_limit, Some(64 << 20), "{stats:?}");
    assert_eq!(manager.oom_kills().unwrap(), 0);

    manager.freeze().unwrap();
    manager.thaw().unwrap();

    manager.kill_all().unwrap();
    let status = guard
        .child
        .as_mut()
        .unwrap()
        .try_wait()
        .unwrap()
        .expect("kill_all returned before the process exited");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    guard.child = None;
    assert!(manager.procs().unwrap().is_empty());

    manager.remove().unwrap();
    // Only the cgroup itself goes; the parent stays for its owner.
    let parents = guard.leftovers();
    assert!(!parents.is_empty());
    for p in &parents {
        assert!(!p.join("x").exists(), "{}", p.display());
    }
    manager.remove().unwrap(); // idempotent

    guard.cleanup();
    assert_eq!(guard.leftovers(), Vec::<PathBuf>::new());
}

/// On a hybrid host the v2 mount holds no controllers, but its core files
/// (cgroup.freeze, cgroup.kill, cgroup.events) are real: drive freeze,
/// kill_all and remove of the v2 manager through them.
#[test]
fn real_v2_core_on_hybrid() {
    let layout = Layout::detect().expect("detect the cgroup layout");
    let Layout::Hybrid { unified, .. } = &layout else {
        eprintln!("note: skipping the v2-core test: not a hybrid host");
        return;
    };
    if !nix::unistd::geteuid().is_root() {
        eprintln!("note: skipping the v2-core test: not root");
        return;
    }
    let parent = format!("tdtest-{}-v2", std::process::id());
    let manager = AnyManager::V2(tinydocker_cgroups::v2::Manager::new(
        unified.clone(),
        format!("{parent}/x"),
    ));
    let mut guard = Guard {
        manager: manager.clone(),
        parent,
        roots: vec![unified.clone()],
        child: None,
    };
    manager.create().unwrap();
    assert!(manager.open_dir().unwrap().is_some());
    let child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id() as i32;
    guard.child = Some(child);
    manager.add_task(pid).unwrap();
    assert_eq!(manager.procs().unwrap(), [pid]);

    manager.freeze().unwrap();
    manager.thaw().unwrap();
    manager.kill_all().unwrap();
    let status = guard.child.as_mut().unwrap().try_wait().unwrap();
    assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGKILL));
    guard.child = None;
    manager.remove().unwrap();
    guard.cleanup();
    assert_eq!(guard.leftovers(), Vec::<PathBuf>::new());
}
