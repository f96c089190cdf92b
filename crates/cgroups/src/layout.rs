//! Which cgroup hierarchies the host has, read from a mountinfo table
//! (`proc_pid_mountinfo(5)`).

use std::path::{Path, PathBuf};

use crate::Error;

/// A mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub path: PathBuf,
    /// v1: the controllers it holds (`cpu`, `memory`, `name=systemd`, ...); v2: empty.
    pub controllers: Vec<String>,
}

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v2 only, mounted at `root`.
    Unified { root: PathBuf },
    /// cgroup v1 hierarchies only.
    Legacy { hierarchies: Vec<Mount> },
    /// v1 hierarchies that hold the controllers, plus a v2 mount without them.
    Hybrid {
        hierarchies: Vec<Mount>,
        unified: PathBuf,
    },
}

/// Read a `/proc` file with one read(2): the kernel makes its text anew for
/// every read, and std's growing reads of a file whose size shows as 0
/// (32, 32, 64, ... bytes) would have it made several times.
fn read_proc(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(16 * 1024);
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

impl Layout {
    /// Detect the layout of the calling process's mount namespace.
    pub fn detect() -> Result<Layout, Error> {
        Self::from_mountinfo_file(Path::new("/proc/self/mountinfo"))
    }

    /// Detect the layout from a mountinfo file (a parameter, so tests can
    /// pass a sample).
    pub fn from_mountinfo_file(path: &Path) -> Result<Layout, Error> {
        let text = read_proc(path).map_err(|source| Error::ReadMounts {
            path: path.into(),
            source,
        })?;
        Self::from_mountinfo(&text).ok_or_else(|| Error::NoCgroups(path.into()))
    }

    /// Detect the layout from the text of a mountinfo table.
    pub fn from_mountinfo(text: &str) -> Option<Layout> {
        let mut v1 = Vec::new();
        let mut v2 = None;
        for line in text.lines() {
            // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mount_point = left.split(' ').nth(4);
            let mut right = right.split(' ');
            let (fstype, _source, options) =
                (right.next(), right.next(), right.next().unwrap_or(""));
            let Some(mount_point) = mount_point else {
                continue;
            };
            let path = PathBuf::from(unescape(mount_point));
            match fstype {
                Some("cgroup2") => v2 = v2.or(Some(path)),
                Some("cgroup") => {
                    let controllers = options
                        .split(',')
                        .filter(|o| {
                            !matches!(*o, "rw" | "ro")
                                && !o.starts_with("release_agent")
                                && *o != "clone_children"
                                && *o != "noprefix"
                                && *o != "xattr"
                        })
                        .map(str::to_string)
                        .collect();
                    v1.push(Mount { path, controllers });
                }
                _ => {}
            }
        }
        // A v1 hierarchy that holds a real controller (not just name=systemd).
        let has_v1_controllers = v1
            .iter()
            .any(|m| m.controllers.iter().any(|c| !c.starts_with("name=")));
        match (has_v1_controllers, v2) {
            (false, Some(root)) => Some(Layout::Unified { root }),
            (true, Some(unified)) => Some(Layout::Hybrid {
                hierarchies: v1,
                unified,
            }),
            (true, None) => Some(Layout::Legacy { hierarchies: v1 }),
            (false, None) => None,
        }
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
34 30 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid() {
        let layout = Layout::from_mountinfo(HYBRID).unwrap();
        insta::assert_debug_snapshot!(layout);
    }

    /// systemd's legacy mode: cpu and cpuacct (and net_cls, net_prio)
    /// co-mounted, no v2 mount.
    #[test]
    fn legacy() {
        let text = "\
25 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
33 30 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,net_cls,net_prio
34 30 0:30 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpuset,clone_children
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids
37 30 0:33 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,freezer
38 30 0:34 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,blkio
";
        let layout = Layout::from_mountinfo(text).unwrap();
        insta::assert_debug_snapshot!(layout);
    }

    /// A v2-only host, as systemd sets it up by default.
    #[test]
    fn unified_sample() {
        let text = "\
25 1 254:0 / / rw,relatime - ext4 /dev/vda rw
26 25 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
27 25 0:26 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700
";
        let layout = Layout::from_mountinfo(text).unwrap();
        insta::assert_debug_snapshot!(layout);
    }

    #[test]
    fn unified() {
        let text = "25 1 254:0 / / rw - ext4 /dev/vda rw\n26 25 0:25 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            Layout::from_mountinfo(text),
            Some(Layout::Unified {
                root: "/sys/fs/cgroup".into()
            })
        );
    }

    #[test]
    fn legacy_and_systemd_only() {
        let legacy: String = HYBRID
            .lines()
            .filter(|l| !l.contains("cgroup2"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            matches!(Layout::from_mountinfo(&legacy), Some(Layout::Legacy { hierarchies }) if hierarchies.len() == 3)
        );
        // Only the systemd named hierarchy and a v2 mount: unified for our purposes.
        let systemd_only = "33 30 0:29 / /a rw - cgroup cgroup rw,name=systemd\n34 30 0:30 / /b rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            Layout::from_mountinfo(systemd_only),
            Some(Layout::Unified { root: "/b".into() })
        );
        assert_eq!(
            Layout::from_mountinfo("25 1 254:0 / / rw - ext4 /dev/vda rw\n"),
            None
        );
    }

    #[test]
    fn escaped_mount_points() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(unescape(r"/plain"), "/plain");
    }
}
