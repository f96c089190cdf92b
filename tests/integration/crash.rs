//! Crash safety: whatever is killed with SIGKILL at any moment, the next
//! `ps` tells the truth and `rm` cleans up everything the container had.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use tinydocker_tests::{entries, wait_gone, TestRoot};

use super::cgroups::{cgroup_dirs, unique_parent, ParentGuard};
use super::network::{bridge_ports, create_network, inspect, subnets_in};

/// Every 64-hex string in a JSON document (the owners in an IPAM file).
fn ids_in(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s)
            if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            out.push(s.clone())
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| ids_in(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| ids_in(v, out)),
        _ => {}
    }
}

#[test]
fn sigkill_of_run_at_any_moment_leaves_nothing_after_rm() {
    let parent = unique_parent();
    let _guard = ParentGuard(parent.clone());
    let root = TestRoot::new();
    create_network(&root, "crashnet", subnets_in(249));
    let bridge = inspect(&root, "crashnet").bridge;
    // How long a whole run takes here, to spread the kills over it.
    let clock = std::time::Instant::now();
    root.run(&[
        "run",
        "--rm",
        "--network",
        "crashnet",
        "--cgroup-parent",
        &parent,
        "busybox",
        "true",
    ])
    .ok();
    let whole = clock.elapsed();
    // Kill `run` at moments spread over its whole setup: before the record,
    // with a cgroup, with an init, with a veth. The last rounds kill once
    // the command has said it runs, however slow this machine is just now.
    const ROUNDS: u32 = 24;
    const STARTED: u32 = 4;
    for round in 0..ROUNDS {
        let started = round >= ROUNDS - STARTED;
        let mut cmd: Command = root.cmd(&[
            "run",
            "--network",
            "crashnet",
            "--cgroup-parent",
            &parent,
            "busybox",
            "sh",
            "-c",
            "echo ready; exec sleep 100",
        ]);
        cmd.stdin(Stdio::null())
            .stdout(if started {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn run");
        if started {
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .expect("read the command's first line");
            assert_eq!(line, "ready\n");
        } else {
            std::thread::sleep(whole * round / (ROUNDS - STARTED));
        }
        // SAFETY: SIGKILL to the test's own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().expect("reap run");
    }
    // Each init dies with its runtime (the parent-death signal, delivered
    // as the runtime exits; the init may take a moment to get scheduled
    // and go).
    for id in root.container_ids() {
        let pid = root.record(&id)["state"]["pid"].as_i64().unwrap_or(0);
        if pid > 0 {
            wait_gone(pid);
        }
    }
    // The truth: nothing runs any more, nothing is still "being created".
    let out = root.run(&["ps", "-a", "--format", "{{.ID}} {{.State}}"]);
    out.ok();
    for line in out.lines() {
        let state = line.split(' ').nth(1).unwrap_or_default();
        assert!(
            matches!(state, "dead" | "exited"),
            "after SIGKILL of its run: {line}\n{}",
            out.text()
        );
    }
    let left = root.container_ids();
    // Some kills came after the record existed (the point of the test).
    assert!(
        left.len() >= STARTED as usize,
        "only {} records after {ROUNDS} kills",
        left.len()
    );
    for id in left {
        root.run(&["rm", &id]).ok();
    }
    root.assert_no_containers();
    // No cgroup, no veth, no address is left.
    for dir in cgroup_dirs(&parent) {
        let children: Vec<String> = entries(&dir)
            .into_iter()
            .filter(|e| dir.join(e).is_dir())
            .collect();
        assert_eq!(
            children,
            Vec::<String>::new(),
            "cgroups left in {}",
            dir.display()
        );
    }
    assert_eq!(
        bridge_ports(&bridge),
        Vec::<String>::new(),
        "veths left on {bridge}"
    );
    // An address taken by a run killed before its record existed is
    // reclaimed at the next allocation: after one more container, it holds
    // the only address.
    let out = root.run(&[
        "run",
        "-d",
        "--network",
        "crashnet",
        "--cgroup-parent",
        &parent,
        "busybox",
        "sleep",
        "100",
    ]);
    out.ok();
    let last = out.text().to_string();
    let ipam = root.path().join("networks").join("crashnet.ipam.json");
    let leases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ipam).expect("ipam file")).expect("json");
    let mut owners = Vec::new();
    ids_in(&leases, &mut owners);
    assert_eq!(owners, std::slice::from_ref(&last), "leases: {leases}");
    root.run(&["rm", "-f", &last]).ok();
    root.assert_no_containers();
}
