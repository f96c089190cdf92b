//! The root filesystem: an overlay over the image that never changes it, the
//! standard /dev, a read-only /sys, and `--read-only`.

use std::fs;
use std::os::unix::fs::FileTypeExt;

use tinydocker_tests::{tree_snapshot, TempDir, TestRoot};

#[test]
fn writes_inside_do_not_change_the_image() {
    let root = TestRoot::new();
    let layers = root.layers();
    assert_eq!(layers.len(), 1, "{layers:?}");
    let layer = root.path().join("images/layers").join(&layers[0]);
    let before = tree_snapshot(&layer);
    assert!(before.contains_key(std::path::Path::new("bin/ls")));

    root.run(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "echo new > /newfile && rm /bin/ls && test ! -e /bin/ls && echo changed",
    ])
    .ok()
    .stdout_is("changed");

    // The change lives in the container's upper layer: the file, and a
    // whiteout (a 0/0 character device) for the deleted one.
    let ids = root.container_ids();
    assert_eq!(ids.len(), 1);
    let upper = root.path().join("containers").join(&ids[0]).join("upper");
    assert_eq!(fs::read_to_string(upper.join("newfile")).unwrap(), "new\n");
    let whiteout = fs::symlink_metadata(upper.join("bin/ls")).unwrap();
    assert!(
        whiteout.file_type().is_char_device(),
        "no whiteout for bin/ls"
    );

    root.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "test -e /bin/ls && echo has-ls; test -e /newfile && echo has-newfile; ls / >/dev/null && echo ls-works",
    ])
    .ok()
    .stdout_is("has-ls\nls-works");
    assert_eq!(root.layers(), layers);
    assert!(before == tree_snapshot(&layer), "the image layer changed");
}

#[test]
fn dev_has_the_standard_nodes() {
    let root = TestRoot::new();
    let out = root.sh(
        "for n in null zero full random urandom tty; do test -c /dev/$n && echo char $n; done; \
         for n in fd stdin stdout stderr ptmx; do echo link $n $(readlink /dev/$n); done",
    );
    assert_eq!(
        out,
        "char null\nchar zero\nchar full\nchar random\nchar urandom\nchar tty\n\
         link fd /proc/self/fd\nlink stdin /proc/self/fd/0\nlink stdout /proc/self/fd/1\n\
         link stderr /proc/self/fd/2\nlink ptmx pts/ptmx\n"
    );
    // The nodes work.
    let out = root.sh("echo x > /dev/null && echo null-ok; \
         head -c 5 /dev/zero | wc -c; head -c 5 /dev/urandom | wc -c; \
         if echo x > /dev/full; then echo full-accepted; else echo full-refused; fi 2>/dev/null");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["null-ok", "5", "5", "full-refused"]
    );
}

/// Mount point → (fs type, mount options) from a mountinfo text.
fn mounts(mountinfo: &str) -> Vec<(String, String, String)> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            Some((
                f[4].to_string(),
                f.get(sep + 1)?.to_string(),
                f[5].to_string(),
            ))
        })
        .collect()
}

#[test]
fn dev_pts_and_shm_are_mounted_and_sys_is_read_only() {
    let root = TestRoot::new();
    let info = mounts(&root.sh("cat /proc/self/mountinfo"));
    let find = |point: &str| {
        info.iter()
            .find(|(p, _, _)| p == point)
            .unwrap_or_else(|| panic!("{point} is not mounted: {info:?}"))
            .clone()
    };
    assert_eq!(find("/proc").1, "proc");
    assert_eq!(find("/dev").1, "tmpfs");
    assert_eq!(find("/dev/pts").1, "devpts");
    assert_eq!(find("/dev/shm").1, "tmpfs");
    let sys = find("/sys");
    assert_eq!(sys.1, "sysfs");
    assert!(
        sys.2.split(',').any(|o| o == "ro"),
        "/sys options {:?}",
        sys.2
    );
    // Writing an attribute that root could change on a writable sysfs.
    assert_eq!(
        root.sh("if echo 1500 > /sys/class/net/lo/mtu; then echo written; else echo refused; fi 2>/dev/null"),
        "refused\n",
        "/sys/class/net/lo/mtu was writable"
    );
}

#[test]
fn read_only_root_refuses_writes_except_dev_shm_and_volumes() {
    let root = TestRoot::new();
    let vol = TempDir::new("ro-root-volume");
    let volume = format!("{}:/data", vol.path().display());
    let out = root.run(&[
        "run",
        "--rm",
        "--read-only",
        "-v",
        &volume,
        "busybox",
        "sh",
        "-c",
        "for p in /x /tmp/x /root/x /bin/x /dev/shm/x /data/x; do \
           if touch $p 2>/dev/null; then echo $p yes; else echo $p no; fi; done",
    ]);
    out.ok()
        .stdout_is("/x no\n/tmp/x no\n/root/x no\n/bin/x no\n/dev/shm/x yes\n/data/x yes");
    assert!(vol.join("x").exists());
    // Without the flag the same root is writable.
    assert_eq!(root.sh("touch /x /tmp/x && echo ok"), "ok\n");
}

#[test]
fn tmpfs_mounts_and_ulimits_as_dockers_flags() {
    let root = TestRoot::new();
    // A tmpfs on a read-only root, noexec by default; exec and a size on
    // request; resource limits set before the command runs.
    let out = root.run(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/scratch:exec,size=1m,mode=1700",
        "--ulimit",
        "nofile=100:200",
        "--ulimit",
        "core=-1",
        "busybox",
        "sh",
        "-c",
        "touch /run/x && echo run ok; \
         grep -E ' /(run|scratch) ' /proc/mounts | cut -d' ' -f2-4; \
         stat -c %a /scratch; \
         ulimit -n; ulimit -Hn; ulimit -c",
    ]);
    out.ok();
    let lines = out.lines();
    assert_eq!(lines[0], "run ok", "{out:?}");
    assert_eq!(lines[3..], ["1700", "100", "200", "unlimited"], "{out:?}");
    // The kernel adds options of its own (6.1's inode64): the asked-for
    // ones must be there, noexec only where it was not overridden.
    let options = |line: &str, target: &str| -> Vec<String> {
        let (path, rest) = line.split_once(" tmpfs ").expect("a tmpfs line");
        assert_eq!(path, target, "{out:?}");
        rest.split(',').map(String::from).collect()
    };
    let run = options(lines[1], "/run");
    for o in ["rw", "nosuid", "nodev", "noexec"] {
        assert!(run.iter().any(|r| r == o), "/run lacks {o}: {run:?}");
    }
    let scratch = options(lines[2], "/scratch");
    for o in ["rw", "nosuid", "nodev", "size=1024k", "mode=1700"] {
        assert!(
            scratch.iter().any(|s| s == o),
            "/scratch lacks {o}: {scratch:?}"
        );
    }
    assert!(!scratch.iter().any(|s| s == "noexec"), "{scratch:?}");
    root.run(&[
        "run",
        "--name",
        "lim",
        "--tmpfs",
        "/t:size=2m",
        "--ulimit",
        "nproc=50",
        "busybox",
        "true",
    ])
    .ok();
    let inspect = root.run(&["inspect", "lim"]);
    let host: serde_json::Value = serde_json::from_str(&inspect.ok().stdout).unwrap();
    let host = &host[0]["HostConfig"];
    assert_eq!(host["Tmpfs"], serde_json::json!({ "/t": "size=2m" }));
    assert_eq!(
        host["Ulimits"],
        serde_json::json!([{ "Name": "nproc", "Soft": 50, "Hard": 50 }])
    );
    for (flag, value, why) in [
        ("--tmpfs", "relative", "must be absolute"),
        ("--tmpfs", "/t:bogus", "unknown mount option"),
        ("--ulimit", "nofile=10:5", "soft limit"),
        ("--ulimit", "bogus=1", "invalid ulimit type"),
    ] {
        let bad = root.run(&["run", "--rm", flag, value, "busybox", "true"]);
        bad.code(125);
        assert!(bad.stderr.contains(why), "{flag} {value}: {bad:?}");
    }
    let dup = root.run(&[
        "run", "--rm", "--tmpfs", "/t", "-v", "/tmp:/t", "busybox", "true",
    ]);
    dup.code(125);
    assert!(dup.stderr.contains("Duplicate mount point: /t"), "{dup:?}");
}

#[test]
fn a_missing_working_directory_is_made_even_on_a_read_only_root() {
    let root = TestRoot::new();
    root.run(&[
        "run",
        "--rm",
        "-w",
        "/made/here",
        "busybox",
        "sh",
        "-c",
        "pwd",
    ])
    .ok()
    .stdout_is("/made/here");
    root.run(&[
        "run",
        "--rm",
        "--read-only",
        "-w",
        "/ro/made",
        "busybox",
        "sh",
        "-c",
        "pwd",
    ])
    .ok()
    .stdout_is("/ro/made");
}
