//! Namespaces: the container sees its own pids, host name, files and network.

use std::fs;

use tinydocker_tests::{entries, TempDir, TestRoot};

#[test]
fn pid_one_is_the_command() {
    let root = TestRoot::new();
    root.run(&["run", "--rm", "busybox", "sh", "-c", "echo $$"])
        .ok()
        .stdout_is("1");
    let out = root.run(&["run", "--rm", "busybox", "cat", "/proc/1/cmdline"]);
    out.ok();
    assert_eq!(out.stdout, "cat\0/proc/1/cmdline\0");
}

#[test]
fn hostname_defaults_to_the_short_id() {
    let root = TestRoot::new();
    let out = root.run(&["run", "--name", "hn-default", "busybox", "hostname"]);
    out.ok();
    let hostname = out.text().to_string();
    assert_eq!(hostname.len(), 12, "hostname {hostname:?}");
    assert!(hostname.bytes().all(|b| b.is_ascii_hexdigit()));
    let ids = root.container_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0].len(), 64);
    assert!(
        ids[0].starts_with(&hostname),
        "{hostname} is not a prefix of {}",
        ids[0]
    );
    root.run(&["ps", "-aq"]).ok().stdout_is(&hostname);
}

#[test]
fn hostname_flag_sets_the_host_name() {
    let root = TestRoot::new();
    let script = "hostname; cat /proc/sys/kernel/hostname; echo $HOSTNAME";
    for flag in ["--hostname", "-h"] {
        root.run(&["run", "--rm", flag, "foo", "busybox", "sh", "-c", script])
            .ok()
            .stdout_is("foo\nfoo\nfoo");
    }
}

#[test]
fn host_processes_are_invisible() {
    let root = TestRoot::new();
    // sh is pid 1 and forks ls: those two are all there is.
    let out = root.sh("ls /proc; true");
    let pids: Vec<&str> = out
        .lines()
        .filter(|l| l.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert_eq!(pids.len(), 2, "pids seen inside: {pids:?}");
    assert!(pids.contains(&"1"), "pids seen inside: {pids:?}");
    let host_pids = entries("/proc".as_ref())
        .into_iter()
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        .count();
    assert!(host_pids > 2, "the host should have more processes");
}

#[test]
fn host_files_are_invisible() {
    let root = TestRoot::new();
    let host = TempDir::new("marker");
    let marker = host.join("marker");
    fs::write(&marker, "host\n").unwrap();
    let script = format!(
        "for p in {} {} /work {} /etc/hostname.host; do test -e $p && echo visible: $p; done; echo checked",
        marker.display(),
        host.path().display(),
        root.path().display(),
    );
    assert_eq!(root.sh(&script), "checked\n");
    // The root inside is the overlay, not anything of the host's.
    let mounts = root.sh("cat /proc/self/mounts");
    let first = mounts.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("overlay / overlay "),
        "root mount inside: {first:?}"
    );
}

#[test]
fn host_network_is_invisible() {
    let root = TestRoot::new();
    assert_eq!(root.sh("ls /sys/class/net"), "lo\n");
    let dev = root.sh("cat /proc/net/dev");
    let names: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(names, ["lo"], "/proc/net/dev inside:\n{dev}");
    let flags = root.sh("cat /sys/class/net/lo/flags");
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap();
    assert!(flags & 1 != 0, "lo is not up: flags {flags:#x}");
}

#[test]
fn network_host_sees_the_host_interfaces() {
    let root = TestRoot::new();
    let before = entries("/sys/class/net".as_ref());
    let out = root.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "sh",
        "-c",
        // The shell's glob, not `ls`: ls stats each entry, and fails on
        // one another test removed meanwhile.
        "for n in /sys/class/net/*; do echo ${n##*/}; done",
    ]);
    out.ok();
    let after = entries("/sys/class/net".as_ref());
    let mut inside: Vec<String> = out.lines().iter().map(|s| s.to_string()).collect();
    inside.sort();
    // Other tests add and remove links meanwhile: every link the host had
    // both before and after is inside, and nothing the host never had.
    for link in before.iter().filter(|l| after.contains(l)) {
        assert!(inside.contains(link), "{link} missing: {inside:?}");
    }
    // (Links of other tests' containers may come and go in between.)
    for link in inside
        .iter()
        .filter(|l| !l.starts_with("veth") && !l.starts_with("td"))
    {
        assert!(
            before.contains(link) || after.contains(link),
            "{link} is no host link: {before:?} / {after:?}"
        );
    }
}
