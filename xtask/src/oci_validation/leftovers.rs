//! What a test left behind, found by comparing the host before and after
//! it, and removed (as /work/rt/run-suite.sh did):
//!
//! - containers in the runtime's `list` (its default root): the tests name
//!   theirs with UUIDs; those are killed and force-deleted;
//! - cgroup directories, in every hierarchy: the tests' fixed names
//!   (`cgrouptest`, `testdir`, `container`) and the runtime's own
//!   (`.../<uuid>`) are removed, deepest first, once empty;
//! - mounts under the test's private TMPDIR: lazily unmounted;
//! - whatever is left in that TMPDIR (bundles, `ocitest*`): removed.
//!
//! The comparison is host-wide, so other processes (builds and tests
//! running beside the suite) can show up: new cgroups, containers and
//! mounts that match none of the names above are only noted.

use crate::bench::teardown::unescape;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The cgroup names the validation tests use (besides UUIDs).
const TEST_CGROUP_NAMES: [&str; 3] = ["cgrouptest", "testdir", "container"];

#[derive(Default)]
pub struct Snapshot {
    containers: BTreeSet<String>,
    /// Every directory of every cgroup hierarchy.
    cgroups: BTreeSet<PathBuf>,
    /// Mount ids and mount points (/proc/self/mountinfo).
    mounts: BTreeSet<(u64, PathBuf)>,
}

/// One leftover of a test: a failure (matched against expected.txt).
pub struct Leftover {
    /// `[leftover KIND] what`, with UUIDs and random names made generic.
    pub description: String,
    /// What it was and what was done about it.
    pub detail: String,
}

#[derive(Default)]
pub struct Found {
    pub leftovers: Vec<Leftover>,
    /// Host-wide changes not attributed to the test.
    pub notes: Vec<String>,
    /// What could not be removed: the host is not clean.
    pub dirty: Vec<String>,
}

pub fn snapshot(runtime: &Path) -> Snapshot {
    Snapshot {
        containers: containers(runtime).unwrap_or_default(),
        cgroups: cgroup_dirs(),
        mounts: mounts(),
    }
}

/// Compare with `before`, remove the test's leftovers; `tmp` is the test's
/// private TMPDIR (emptied, not removed).
pub fn check_and_clean(runtime: &Path, before: &Snapshot, tmp: &Path) -> Found {
    let mut found = Found::default();

    // Containers first: deleting them unmounts and removes cgroups.
    let after = containers(runtime).unwrap_or_else(|| {
        found.dirty.push(format!(
            "`{} list -q` failed or hung: leftover containers not checked",
            runtime.display()
        ));
        BTreeSet::new()
    });
    for id in after.difference(&before.containers) {
        if !is_uuid(id) {
            found
                .notes
                .push(format!("new container {id} (not a test's)"));
            continue;
        }
        let _ = quiet(Command::new(runtime).args(["kill", id, "KILL"]));
        let deleted = quiet(Command::new(runtime).args(["delete", "--force", id]));
        let detail = if deleted {
            format!("container {id}: force-deleted")
        } else {
            found
                .dirty
                .push(format!("container {id}: `delete --force` failed"));
            format!("container {id}: `delete --force` failed")
        };
        found.leftovers.push(Leftover {
            description: "[leftover container]".into(),
            detail,
        });
    }

    // Mounts under the TMPDIR, deepest first.
    let mut new_mounts: Vec<PathBuf> = mounts()
        .difference(&before.mounts)
        .map(|(_, p)| p.clone())
        .collect();
    new_mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for mount in new_mounts {
        let Ok(rel) = mount.strip_prefix(tmp) else {
            found.notes.push(format!("new mount {}", mount.display()));
            continue;
        };
        let gone = umount_lazy(&mount);
        if !gone {
            found
                .dirty
                .push(format!("mount {}: umount failed", mount.display()));
        }
        found.leftovers.push(Leftover {
            description: format!("[leftover mount] {}", generic_path(rel)),
            detail: format!(
                "mount {}: {}",
                mount.display(),
                if gone { "unmounted" } else { "umount failed" }
            ),
        });
    }

    // Cgroups: the tests' and the runtime's names, deepest first.
    let mut new: Vec<PathBuf> = cgroup_dirs().difference(&before.cgroups).cloned().collect();
    new.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    let hierarchies = cgroup_mounts();
    // Grouped by the path inside the hierarchy: one leftover per path.
    let mut by_rel: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
    for dir in &new {
        let Some(rel) = hierarchies
            .iter()
            .filter_map(|h| dir.strip_prefix(h).ok())
            .min_by_key(|r| r.components().count())
        else {
            continue;
        };
        if !rel.iter().any(|c| {
            let c = c.to_string_lossy();
            TEST_CGROUP_NAMES.contains(&c.as_ref()) || is_uuid(&c)
        }) {
            found.notes.push(format!("new cgroup {}", dir.display()));
            continue;
        }
        let entry = by_rel.entry(generic_path(rel)).or_default();
        entry.0 += 1;
        if let Err(e) = fs::remove_dir(dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                entry.1.push(format!("{}: {e}", dir.display()));
                found
                    .dirty
                    .push(format!("cgroup {}: rmdir: {e}", dir.display()));
            }
        }
    }
    for (rel, (count, failed)) in by_rel {
        let detail = if failed.is_empty() {
            format!("cgroup {rel} in {count} hierarchies: removed")
        } else {
            format!(
                "cgroup {rel} in {count} hierarchies: NOT removed: {}",
                failed.join("; ")
            )
        };
        found.leftovers.push(Leftover {
            description: format!("[leftover cgroup] {rel}"),
            detail,
        });
    }

    // The TMPDIR's contents (bundles the test did not remove).
    let still_mounted = !mounts_under(tmp).is_empty();
    if let Ok(entries) = fs::read_dir(tmp) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            let description = if name.starts_with("ocitest") && is_dir {
                "[leftover bundle dir]".to_string()
            } else {
                format!("[leftover tmp file] {}", generic_name(&name))
            };
            let what = if still_mounted {
                "kept: mounts remain under it".to_string()
            } else {
                let removed = if is_dir {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                match removed {
                    Ok(()) => "removed".to_string(),
                    Err(e) => format!("NOT removed: {e}"),
                }
            };
            if what != "removed" {
                found.dirty.push(format!("{}: {what}", path.display()));
            }
            found.leftovers.push(Leftover {
                description,
                detail: format!("{}: {what}", path.display()),
            });
        }
    }
    found
}

/// A runtime call of the cleanup may hang (a broken runtime): it gets this
/// long, then it is killed.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Run `cmd` (stdin and stderr closed) for at most CALL_TIMEOUT; its
/// output when it exited 0.
fn call(cmd: &mut Command) -> Option<Vec<u8>> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(CALL_TIMEOUT) {
        Ok(out) => out.ok(),
        Err(_) => {
            // SAFETY: kill(2) on our child's process group; the child is
            // not reaped yet (the waiter still waits for it), so the group
            // is still its own. The whole group: a grandchild holding the
            // pipe would keep the waiter reading.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            None
        }
    };
    let _ = waiter.join();
    out.filter(|o| o.status.success()).map(|o| o.stdout)
}

/// Run quietly; true when it exited 0 in time.
fn quiet(cmd: &mut Command) -> bool {
    call(cmd).is_some()
}

/// `RUNTIME list -q` (the runtime's default root); None when it fails.
fn containers(runtime: &Path) -> Option<BTreeSet<String>> {
    let out = call(Command::new(runtime).args(["list", "-q"]))?;
    Some(
        String::from_utf8_lossy(&out)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    )
}

fn mountinfo() -> String {
    fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()
}

fn mounts() -> BTreeSet<(u64, PathBuf)> {
    mountinfo()
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let id = fields.next()?.parse().ok()?;
            let point = fields.nth(3)?;
            Some((id, PathBuf::from(unescape(point))))
        })
        .collect()
}

/// Mount points at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    mounts()
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p.starts_with(dir))
        .collect()
}

/// Lazily unmount `dir`; true when it is no longer mounted.
pub fn umount_lazy(dir: &Path) -> bool {
    if let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) {
        // SAFETY: umount2 with a valid NUL-terminated path.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
    !mounts().iter().any(|(_, p)| p == dir)
}

/// The mount points of every cgroup hierarchy (v1, v2, named).
fn cgroup_mounts() -> Vec<PathBuf> {
    mountinfo()
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let point = left.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(unescape(point)))
        })
        .collect()
}

/// Every directory below every cgroup hierarchy's root.
fn cgroup_dirs() -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let path = entry.path();
                walk(&path, out);
                out.insert(path);
            }
        }
    }
    let mut out = BTreeSet::new();
    for root in cgroup_mounts() {
        walk(&root, &mut out);
    }
    out
}

/// `8-4-4-4-12` lowercase hex digits, as uuid.NewString() writes them.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

/// A name with its random parts made generic: UUIDs become `<uuid>`,
/// `os.MkdirTemp`'s digits (`ocitest123`) a `*`.
fn generic_name(name: &str) -> String {
    if is_uuid(name) {
        return "<uuid>".into();
    }
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if stem.len() < name.len() && !stem.is_empty() {
        format!("{stem}*")
    } else {
        name.to_string()
    }
}

fn generic_path(rel: &Path) -> String {
    rel.iter()
        .map(|c| generic_name(&c.to_string_lossy()))
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_generic_names() {
        assert!(is_uuid("e20ce5df-d4c3-4aca-82d0-101fa3989c81"));
        assert!(!is_uuid("E20CE5DF-d4c3-4aca-82d0-101fa3989c81"));
        assert!(!is_uuid("e20ce5df-d4c3-4aca-82d0-101fa3989c8"));
        assert!(!is_uuid("e20ce5dfxd4c3-4aca-82d0-101fa3989c81"));
        assert_eq!(
            generic_path(Path::new("tinydocker/e20ce5df-d4c3-4aca-82d0-101fa3989c81")),
            "tinydocker/<uuid>"
        );
        assert_eq!(
            generic_path(Path::new("ocitest2602240203/rootfs")),
            "ocitest*/rootfs"
        );
        assert_eq!(
            generic_path(Path::new("testdir/cgrouptest")),
            "testdir/cgrouptest"
        );
        assert_eq!(generic_name("123"), "123");
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/tmp/a\\040b"), "/tmp/a b");
        assert_eq!(unescape("/tmp/x\\"), "/tmp/x\\");
    }
}
