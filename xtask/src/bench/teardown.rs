//! Cleanup of everything the bench makes, as a guard: each step is
//! registered as soon as the thing it removes exists, and they all run, in
//! reverse order, when the guard is finished or dropped — after an error or
//! an interruption too. Best effort: every step runs, failures are
//! collected and reported together.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

type Step = Box<dyn FnOnce() -> Result<()>>;

#[derive(Default)]
pub struct Teardown {
    steps: Vec<(String, Step)>,
}

impl Teardown {
    pub fn push(&mut self, what: impl Into<String>, step: impl FnOnce() -> Result<()> + 'static) {
        self.steps.push((what.into(), Box::new(step)));
    }

    /// Run every step, last registered first; the failures, one line each.
    pub fn finish(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        while let Some((what, step)) = self.steps.pop() {
            if let Err(e) = step() {
                failures.push(format!("{what}: {e:#}"));
            }
        }
        failures
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        for failure in self.finish() {
            eprintln!("bench: cleanup: {failure}");
        }
    }
}

/// Mount points at or below `dir`, deepest first (/proc/self/mountinfo).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found
}

/// mountinfo escapes space, tab, newline and backslash as \ooo (also
/// for the OCI validation's leftover sweep).
pub(crate) fn unescape(field: &str) -> String {
    let mut out = Vec::new();
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let digits = std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(digits, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Detach whatever is still mounted below `dir`, then delete it. Deleting
/// through a leftover bind mount would reach files outside the bench.
pub fn remove_tree(dir: &Path) -> Result<()> {
    for mount in mounts_under(dir) {
        let c = std::ffi::CString::new(mount.as_os_str().as_encoded_bytes())?;
        // SAFETY: umount2 with a valid C string.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
    let left = mounts_under(dir);
    if !left.is_empty() {
        anyhow::bail!(
            "still mounted, not deleted: {}",
            left.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("remove {}", dir.display())),
    }
}

/// The mount points of every cgroup hierarchy (v1, v2, named).
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let mount = left.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(unescape(mount)))
        })
        .collect()
}

/// rmdir `rel` and everything below it in every cgroup hierarchy, deepest
/// first, once the processes in them are gone: those that do not exit
/// within 10 s are killed. The runtimes' own removals should have left
/// nothing running: what had to be killed is reported, as is a cgroup that
/// will not go.
pub fn remove_cgroup_tree(rel: &str) -> Result<()> {
    fn dirs(dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs(&entry.path(), out);
                }
            }
        }
        out.push(dir.to_path_buf());
    }
    let mut tree = Vec::new();
    for mount in cgroup_mounts() {
        let dir = mount.join(rel);
        if dir.exists() {
            dirs(&dir, &mut tree);
        }
    }
    let mut pids: Vec<i32> = tree
        .iter()
        .filter_map(|d| fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|procs| {
            procs
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    let mut errors = Vec::new();
    // A runtime's removal may return while its monitors still exit (podman's
    // conmon runs `podman container cleanup` first): 10 s for them to go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let still: Vec<(i32, OwnedFd)> = pids
        .iter()
        .filter_map(|&pid| Some((pid, super::measure::pidfd_open(pid).ok()?)))
        .filter(|(_, fd)| !exits_by(fd, deadline))
        .collect();
    if !still.is_empty() {
        let names: Vec<String> = still
            .iter()
            .map(|(p, _)| {
                let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                format!("{p} ({})", comm.trim())
            })
            .collect();
        errors.push(format!(
            "killed what was left running: {}",
            names.join(", ")
        ));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        for (_, fd) in &still {
            // SAFETY: pidfd_send_signal on a pidfd we own, no siginfo.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
        }
        for (_, fd) in &still {
            exits_by(fd, deadline);
        }
    }
    for dir in &tree {
        if let Err(e) = fs::remove_dir(dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                errors.push(format!("{}: {e}", dir.display()));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("cgroup {rel}: {}", errors.join("; "))
    }
}

/// Whether the process of `pidfd` exits before `deadline` (poll(2)).
fn exits_by(pidfd: &OwnedFd, deadline: std::time::Instant) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
        if rc >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return rc > 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_in_reverse_and_all_of_them() {
        use std::cell::RefCell;
        use std::rc::Rc;
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut t = Teardown::default();
        for i in 0..3 {
            let log = log.clone();
            t.push(format!("step {i}"), move || {
                log.borrow_mut().push(i);
                if i == 1 {
                    anyhow::bail!("failed");
                }
                Ok(())
            });
        }
        assert_eq!(t.finish(), vec!["step 1: failed".to_string()]);
        assert_eq!(*log.borrow(), vec![2, 1, 0]);
        assert!(t.finish().is_empty());
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
