//! `tinydocker-runtime`, the OCI runtime, called as containerd's shim and
//! dockerd call runc: create, start, state, kill, delete, exec, pause,
//! resume, ps, update, run, the console socket, hooks, and bad input.

use std::fs;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use serde_json::{json, Value};
use tinydocker_tests::oci::OciRoot;
use tinydocker_tests::{process_alive, settles};

fn wait_stopped(root: &OciRoot, id: &str) {
    assert!(
        settles(|| root.status(id) == "stopped"),
        "{id} never stopped"
    );
}

#[test]
fn create_waits_for_start_then_runs_and_delete_leaves_nothing() {
    let root = OciRoot::new();
    let shared = root.path().join("shared");
    fs::create_dir_all(&shared).unwrap();
    let bundle = root.bundle(
        "c1",
        &["sh", "-c", "echo ran as $$ on $(hostname) > /shared/out"],
        |c| {
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/shared", "type": "bind",
                "source": shared, "options": ["rbind", "rw"]
            }));
        },
    );
    let out = shared.join("out");
    let pid_file = root.path().join("init.pid");
    root.run(&[
        "create",
        "--bundle",
        &bundle.to_string_lossy(),
        "--pid-file",
        &pid_file.to_string_lossy(),
        "c1",
    ])
    .ok();
    let state = root.state_of("c1");
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], "c1");
    assert_eq!(state["bundle"], bundle.to_string_lossy().as_ref());
    let pid: i64 = fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(state["pid"], pid);
    assert!(process_alive(pid));
    // Created, not started: the command has not run.
    assert!(!out.exists());
    assert_eq!(root.ids(), ["c1"]);

    root.run(&["start", "c1"]).ok();
    wait_stopped(&root, "c1");
    assert_eq!(fs::read_to_string(&out).unwrap(), "ran as 1 on c1\n");
    assert_eq!(root.state_of("c1")["pid"], 0);
    root.run(&["start", "c1"])
        .code(1)
        .stderr_has("cannot start a container that has stopped");
    root.run(&["delete", "c1"]).ok();
    root.assert_clean();
}

#[test]
fn a_created_container_is_deleted_plainly_and_killed() {
    let root = OciRoot::new();
    let bundle = root.bundle("c2", &["true"], |_| {});
    root.run(&["create", "--bundle", &bundle.to_string_lossy(), "c2"])
        .ok();
    let pid = root.state_of("c2")["pid"].as_i64().unwrap();
    // What containerd's shim does with a task it never started.
    root.run(&["delete", "c2"]).ok();
    assert!(settles(|| !process_alive(pid)));
    root.assert_clean();
    root.run(&["state", "c2"])
        .code(1)
        .stderr_has("does not exist");
}

#[test]
fn a_running_container_is_signalled_paused_listed_updated_and_exec_ed() {
    let root = OciRoot::new();
    let bundle = root.bundle("c3", &["sleep", "1000"], |_| {});
    root.run(&["create", "--bundle", &bundle.to_string_lossy(), "c3"])
        .ok();
    root.run(&["start", "c3"]).ok();
    assert_eq!(root.status("c3"), "running");
    root.run(&["start", "c3"])
        .code(1)
        .stderr_has("cannot start an already running container");
    root.run(&["delete", "c3"])
        .code(1)
        .stderr_has("cannot delete container c3 that is not stopped: running");

    // exec --detach with a whole process, as the shim calls it.
    let process = root.path().join("process.json");
    fs::write(
        &process,
        json!({
            "args": ["sleep", "999"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "user": {"uid": 0, "gid": 0}
        })
        .to_string(),
    )
    .unwrap();
    let exec_pid = root.path().join("exec.pid");
    root.run(&[
        "exec",
        "--process",
        &process.to_string_lossy(),
        "--detach",
        "--pid-file",
        &exec_pid.to_string_lossy(),
        "c3",
    ])
    .ok();
    let exec_pid: i64 = fs::read_to_string(&exec_pid).unwrap().parse().unwrap();
    assert!(
        process_alive(exec_pid),
        "the detached exec outlives the runtime"
    );
    let ps = root.run(&["ps", "--format", "json", "c3"]);
    ps.ok();
    let pids: Vec<i64> = serde_json::from_str(ps.text()).unwrap();
    let init = root.state_of("c3")["pid"].as_i64().unwrap();
    assert!(pids.contains(&init) && pids.contains(&exec_pid), "{pids:?}");
    // A foreground exec's exit code comes back.
    root.run(&["exec", "c3", "sh", "-c", "exit 7"]).code(7);

    root.run(&["pause", "c3"]).ok();
    assert_eq!(root.status("c3"), "paused");
    root.run(&["resume", "c3"]).ok();
    assert_eq!(root.status("c3"), "running");

    let resources = json!({"memory": {"limit": 64 * 1024 * 1024}, "pids": {"limit": 50}});
    root.run_with_stdin(
        &["update", "--resources", "-", "c3"],
        resources.to_string().as_bytes(),
    )
    .ok();
    let memory_limit = ["memory/{p}/memory.limit_in_bytes", "{p}/memory.max"]
        .iter()
        .map(|f| {
            Path::new("/sys/fs/cgroup")
                .join(f.replace("{p}", &format!("{}/c3", root.cgroup_parent)))
        })
        .find(|p| p.exists())
        .expect("the container's memory limit file");
    assert_eq!(fs::read_to_string(memory_limit).unwrap().trim(), "67108864");

    let stats = root.run(&["events", "--stats", "c3"]);
    stats.ok();
    let stats: Value = serde_json::from_str(stats.text()).unwrap();
    assert_eq!(stats["type"], "stats");
    assert!(stats["data"]["pids"]["current"].as_u64().unwrap() >= 2);

    // sleep as pid 1 ignores TERM: --all with KILL ends everything.
    root.run(&["kill", "--all", "c3", "KILL"]).ok();
    wait_stopped(&root, "c3");
    assert!(settles(|| !process_alive(exec_pid)));
    root.run(&["kill", "c3", "TERM"])
        .code(1)
        .stderr_has("container not running");
    root.run(&["delete", "c3"]).ok();
    root.assert_clean();
}

#[test]
fn delete_force_kills_a_running_or_paused_container() {
    let root = OciRoot::new();
    for id in ["f1", "f2"] {
        let bundle = root.bundle(id, &["sleep", "1000"], |_| {});
        root.run(&["create", "--bundle", &bundle.to_string_lossy(), id])
            .ok();
        root.run(&["start", id]).ok();
    }
    root.run(&["pause", "f2"]).ok();
    root.run(&["delete", "--force", "f1"]).ok();
    root.run(&["delete", "--force", "f2"]).ok();
    // Gone already: --force says nothing, as runc's.
    root.run(&["delete", "--force", "f1"]).ok();
    root.assert_clean();
}

#[test]
fn a_paused_container_whose_init_died_is_still_resumed_and_deleted() {
    let root = OciRoot::new();
    let bundle = root.bundle("k1", &["sh", "-c", "sleep 1000 & exec sleep 1000"], |_| {});
    root.run(&["create", "--bundle", &bundle.to_string_lossy(), "k1"])
        .ok();
    root.run(&["start", "k1"]).ok();
    let init = root.state_of("k1")["pid"].as_i64().unwrap();
    root.run(&["pause", "k1"]).ok();
    // Killed from outside, not through the runtime. On cgroup v2 a fatal
    // signal reaches a frozen task, so the init dies while its container
    // is marked paused (as after `kill` or `delete --force` of a paused
    // container, racing with their thaw); on v1 it dies at the thaw.
    // SAFETY: kill(2) takes no pointers; `init` is this container's init.
    unsafe { libc::kill(init as i32, libc::SIGKILL) };
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        wait_stopped(&root, "k1");
    }
    root.run(&["resume", "k1"]).ok();
    wait_stopped(&root, "k1");
    root.run(&["delete", "k1"]).ok();
    root.assert_clean();
}

#[test]
fn a_config_without_process_is_created_and_start_says_there_is_nothing_to_run() {
    let root = OciRoot::new();
    let bundle = root.bundle("n1", &["true"], |c| {
        c.as_object_mut().unwrap().remove("process");
    });
    root.run(&["create", "--bundle", &bundle.to_string_lossy(), "n1"])
        .ok();
    assert_eq!(root.status("n1"), "created");
    let init = root.state_of("n1")["pid"].as_i64().unwrap();
    assert!(process_alive(init));
    root.run(&["start", "n1"])
        .code(1)
        .stderr_has("has no process to run");
    // Its init, which held the namespaces, is gone with the refusal.
    assert_eq!(root.status("n1"), "stopped");
    assert!(!process_alive(init));
    root.run(&["delete", "n1"]).ok();
    root.assert_clean();
}

#[test]
fn run_waits_and_passes_the_exit_code_on() {
    let root = OciRoot::new();
    let bundle = root.bundle("r1", &["sh", "-c", "echo out; exit 3"], |_| {});
    let o = root.run(&["run", "--bundle", &bundle.to_string_lossy(), "r1"]);
    o.code(3);
    assert_eq!(o.text(), "out");
    root.assert_clean();
}

#[test]
fn the_terminal_goes_back_over_the_console_socket() {
    let root = OciRoot::new();
    let bundle = root.bundle("t1", &["sh", "-c", "tty; echo done"], |c| {
        c["process"]["terminal"] = json!(true);
    });
    let socket = root.path().join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let receiver = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        receive_fd(&stream)
    });
    root.run(&[
        "create",
        "--bundle",
        &bundle.to_string_lossy(),
        "--console-socket",
        &socket.to_string_lossy(),
        "t1",
    ])
    .ok();
    let master = receiver.join().unwrap();
    root.run(&["start", "t1"]).ok();
    let mut text = String::new();
    let mut file = fs::File::from(master);
    let mut buf = [0u8; 256];
    // Until the program's side closes (EIO).
    while let Ok(n) = file.read(&mut buf) {
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        text.contains("/dev/pts/0") && text.contains("done"),
        "{text:?}"
    );
    wait_stopped(&root, "t1");
    root.run(&["delete", "t1"]).ok();
    root.assert_clean();
    // Without the socket, a terminal is refused and nothing is made.
    root.run(&["create", "--bundle", &bundle.to_string_lossy(), "t2"])
        .code(1)
        .stderr_has("--console-socket");
    root.assert_clean();
}

/// One fd received over a unix socket (SCM_RIGHTS).
fn receive_fd(stream: &std::os::unix::net::UnixStream) -> OwnedFd {
    use std::os::fd::AsRawFd;
    let mut data = [0u8; 64];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut control = [0u8; 64];
    // SAFETY: a zeroed msghdr is valid; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len();
    // SAFETY: msg points at live buffers.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, 0) };
    assert!(n >= 0, "recvmsg failed");
    // SAFETY: the kernel filled the control buffer; CMSG_FIRSTHDR reads within it.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    assert!(!cmsg.is_null(), "no fd came");
    // SAFETY: an SCM_RIGHTS message's data is an fd the kernel installed for us.
    unsafe {
        assert_eq!((*cmsg).cmsg_type, libc::SCM_RIGHTS);
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>());
        OwnedFd::from_raw_fd(fd)
    }
}

#[test]
fn hooks_get_the_state_on_stdin() {
    let root = OciRoot::new();
    let dir = root.path().to_path_buf();
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{name}.json", dir.display())]});
    let bundle = root.bundle("h1", &["true"], |c| {
        c["hooks"] = json!({
            "prestart": [hook("prestart")],
            // A failed poststart or poststop hook is a warning: the
            // ones after it still run.
            "poststart": [{"path": "/bin/false"}, hook("poststart")],
            "poststop": [{"path": "/bin/false"}, hook("poststop")],
        });
    });
    root.run(&["create", "--bundle", &bundle.to_string_lossy(), "h1"])
        .ok();
    root.run(&["start", "h1"]).ok();
    wait_stopped(&root, "h1");
    root.run(&["delete", "h1"]).ok();
    for (name, status) in [
        ("prestart", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let state: Value =
            serde_json::from_str(&fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
                .unwrap();
        assert_eq!(state["id"], "h1", "{name}");
        assert_eq!(state["status"], status, "{name}");
        assert_eq!(state["bundle"], bundle.to_string_lossy().as_ref(), "{name}");
    }
    root.assert_clean();
}

#[test]
fn bad_input_is_one_error_exit_1_and_nothing_left() {
    let root = OciRoot::new();
    let good = root.bundle("b0", &["true"], |_| {});
    let create =
        |bundle: &Path, id: &str| root.run(&["create", "--bundle", &bundle.to_string_lossy(), id]);

    let malformed = root.path().join("malformed");
    fs::create_dir_all(&malformed).unwrap();
    fs::write(
        malformed.join("config.json"),
        "{\"ociVersion\": \"1.0.2\",\n \"root\": }",
    )
    .unwrap();
    let o = create(&malformed, "b1");
    o.code(1).stderr_has("line 2 column");
    assert_eq!(o.stderr.lines().count(), 1, "{:?}", o.stderr);

    let old = root.bundle("b2", &["true"], |c| c["ociVersion"] = json!("0.9.0"));
    create(&old, "b2")
        .code(1)
        .stderr_has("unsupported ociVersion");

    let no_root = root.bundle("b3", &["true"], |c| {
        c["root"]["path"] = json!("/nonexistent/rootfs")
    });
    create(&no_root, "b3").code(1).stderr_has("does not exist");

    let not_found = root.bundle("b4", &["nope"], |_| {});
    create(&not_found, "b4")
        .code(1)
        .stderr_has("executable file not found");

    create(&good, "bad/id")
        .code(1)
        .stderr_has("invalid container id");
    root.assert_clean();

    // Failures after the container is made (its init waits for start):
    // it is removed again, init included.
    let bundle = good.to_string_lossy();
    let pid_file = root.path().join("no-such-dir").join("b5.pid");
    let o = root.run(&[
        "create",
        "--bundle",
        &bundle,
        "--pid-file",
        &pid_file.to_string_lossy(),
        "b5",
    ]);
    o.code(1).stderr_has("write the pid file");
    assert_eq!(o.stderr.lines().count(), 1, "{:?}", o.stderr);
    let tty = root.bundle("b6", &["true"], |c| c["process"]["terminal"] = json!(true));
    let tty = tty.to_string_lossy();
    create(Path::new(tty.as_ref()), "b6")
        .code(1)
        .stderr_has("needs --console-socket");
    let socket = root.path().join("no-such.sock");
    let o = root.run(&[
        "create",
        "--bundle",
        &tty,
        "--console-socket",
        &socket.to_string_lossy(),
        "b6",
    ]);
    o.code(1).stderr_has("connect to the console socket");
    assert_eq!(o.stderr.lines().count(), 1, "{:?}", o.stderr);
    root.assert_clean();

    create(&good, "b0").ok();
    create(&good, "b0")
        .code(1)
        .stderr_has("container with id exists: b0");
    for args in [
        &["state", "zz"][..],
        &["start", "zz"],
        &["kill", "zz"],
        &["delete", "zz"],
    ] {
        root.run(args)
            .code(1)
            .stderr_has("container \"zz\" does not exist");
    }
    root.run(&["exec", "b0", "true"])
        .code(1)
        .stderr_has("container not running");
    root.run(&["kill", "b0", "NOSIG"])
        .code(1)
        .stderr_has("invalid signal");
    root.run(&["--systemd-cgroup", "state", "b0"])
        .code(1)
        .stderr_has("not supported");
    // Every error is a JSON line in the --log file, as the shim reads it.
    let log = fs::read_to_string(root.log()).unwrap();
    let last: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("not supported"));
    assert!(last["time"].as_str().unwrap().ends_with('Z'));
    root.run(&["delete", "b0"]).ok();
    root.assert_clean();
}

#[test]
fn version_features_and_spec() {
    let root = OciRoot::new();
    let v = root.run(&["--version"]);
    v.ok();
    let lines = v.lines();
    assert!(
        lines[0].starts_with("tinydocker-runtime version "),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("commit: "), "{lines:?}");
    assert!(lines[2].starts_with("spec: 1."), "{lines:?}");
    let f = root.run(&["features"]);
    f.ok();
    let f: Value = serde_json::from_str(f.text()).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    let dir = root.path().join("specdir");
    fs::create_dir_all(&dir).unwrap();
    root.run(&["spec", "--bundle", &dir.to_string_lossy()]).ok();
    let spec: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(spec["root"]["path"], "rootfs");
    root.run(&["spec", "--bundle", &dir.to_string_lossy()])
        .code(1)
        .stderr_has("exists");
}

#[test]
fn a_user_namespace_maps_the_container_s_root() {
    let root = OciRoot::new();
    let bundle = root.bundle("u1", &["sh", "-c", "id -u; cat /proc/self/uid_map"], |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    root.run(&["create", "--bundle", &bundle.to_string_lossy(), "u1"])
        .ok();
    let pid = root.state_of("u1")["pid"].as_i64().unwrap();
    // Root in its namespace, an unprivileged id on the host.
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(uids.split_whitespace().nth(1), Some("100000"), "{uids}");
    let map = fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    root.run(&["delete", "u1"]).ok();
    // run: the command sees itself as root.
    let o = root.run(&["run", "--bundle", &bundle.to_string_lossy(), "u2"]);
    o.ok();
    assert_eq!(o.lines()[0], "0");
    root.assert_clean();
    // Mappings without a user namespace are refused.
    let bad = root.bundle("u3", &["true"], |c| {
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    });
    root.run(&["create", "--bundle", &bad.to_string_lossy(), "u3"])
        .code(1)
        .stderr_has("need a user namespace");
    root.assert_clean();
}

#[test]
fn without_a_cgroups_path_the_cgroup_is_tinydockers_and_goes_with_it() {
    let root = OciRoot::new();
    let id = format!("nocg-{}", std::process::id());
    let bundle = root.bundle(&id, &["true"], |c| {
        c["linux"].as_object_mut().unwrap().remove("cgroupsPath");
    });
    root.run(&["create", "--bundle", &bundle.to_string_lossy(), &id])
        .ok();
    let dirs = tinydocker_tests::oci::cgroup_dirs_named(&format!("tinydocker/runtime/{id}"));
    assert!(!dirs.is_empty(), "no cgroup tinydocker/runtime/{id}");
    root.run(&["start", &id]).ok();
    wait_stopped(&root, &id);
    root.run(&["delete", &id]).ok();
    for dir in dirs {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
    root.assert_clean();
}

/// The host's smallest huge page size as the cgroup files name it
/// (hugepages-2048kB -> 2MB) and its bytes; 2MB when the kernel lists none.
fn smallest_huge_page() -> (String, u64) {
    let kb = tinydocker_tests::entries(Path::new("/sys/kernel/mm/hugepages"))
        .iter()
        .filter_map(|e| {
            e.strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()
        })
        .min()
        .unwrap_or(2048u64);
    let name = match kb {
        kb if kb % (1 << 20) == 0 => format!("{}GB", kb >> 20),
        kb if kb % 1024 == 0 => format!("{}MB", kb >> 10),
        kb => format!("{kb}KB"),
    };
    (name, kb << 10)
}

/// Where the v1 hierarchy holding `controller` is mounted, read from the
/// mount table (not through tinydocker's own layout detection).
fn v1_hierarchy(controller: &str) -> Option<std::path::PathBuf> {
    fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let (point, fstype, options) = (fields[1], fields[2], fields[3]);
            (fstype == "cgroup" && options.split(',').any(|o| o == controller))
                .then(|| point.into())
        })
}

/// `hugepageLimits` and `network` reach hugetlb, net_cls and net_prio
/// where the host has them (the QEMU v1 and hybrid guests); v2 has
/// hugetlb only, and ignores `network` as runc does. Where a hierarchy is
/// missing (this dev host: hybrid without hugetlb or net_cls,net_prio) the
/// container is refused in one line naming the field, with nothing made.
#[test]
fn hugepage_limits_and_network_classes_reach_cgroupfs_or_are_refused() {
    let root = OciRoot::new();
    let (size, page) = smallest_huge_page();
    let limit = 4 * page;
    let resources = |size: &str, interface: &str| {
        json!({
            "hugepageLimits": [{"pageSize": size, "limit": limit}],
            "network": {"classID": 0x0010_0001, "priorities": [{"name": interface, "priority": 5}]}
        })
    };
    let create = |id: &str, resources: Value| {
        let bundle = root.bundle(id, &["true"], |c| c["linux"]["resources"] = resources);
        root.run(&["create", "--bundle", &bundle.to_string_lossy(), id])
    };
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let rel = format!("{}/hp1", root.cgroup_parent);
    let out = create("hp1", resources(&size, "lo"));

    // The refusal each layout must give, when it must give one.
    let refusal = if v2 {
        let controllers = fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap();
        (!controllers.split_whitespace().any(|c| c == "hugetlb"))
            .then(|| "the hugetlb cgroup controller is not available in".to_string())
    } else {
        [
            ("hugetlb", "hugepageLimits"),
            ("net_cls", "network"),
            ("net_prio", "network"),
        ]
        .into_iter()
        .find(|(controller, _)| v1_hierarchy(controller).is_none())
        .map(|(controller, field)| {
            format!("linux.resources.{field}: this host has no {controller} cgroup hierarchy")
        })
    };
    if let Some(message) = refusal {
        out.code(1).stderr_has(&message);
        assert_eq!(out.stderr.lines().count(), 1, "{:?}", out.stderr);
        root.assert_clean();
        return;
    }

    out.ok();
    let read = |path: std::path::PathBuf| {
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    };
    let mut dirs = Vec::new();
    if v2 {
        let dir = Path::new("/sys/fs/cgroup").join(&rel);
        assert_eq!(
            read(dir.join(format!("hugetlb.{size}.max"))).trim(),
            limit.to_string()
        );
        // Reservations too, where the kernel (5.7+) limits them.
        let reserved = dir.join(format!("hugetlb.{size}.rsvd.max"));
        if reserved.exists() {
            assert_eq!(read(reserved).trim(), limit.to_string());
        }
        dirs.push(dir);
    } else {
        let hugetlb = v1_hierarchy("hugetlb").unwrap().join(&rel);
        let net_cls = v1_hierarchy("net_cls").unwrap().join(&rel);
        let net_prio = v1_hierarchy("net_prio").unwrap().join(&rel);
        assert_eq!(
            read(hugetlb.join(format!("hugetlb.{size}.limit_in_bytes"))).trim(),
            limit.to_string()
        );
        let reserved = hugetlb.join(format!("hugetlb.{size}.rsvd.limit_in_bytes"));
        if reserved.exists() {
            assert_eq!(read(reserved).trim(), limit.to_string());
        }
        assert_eq!(read(net_cls.join("net_cls.classid")).trim(), "1048577");
        let map = read(net_prio.join("net_prio.ifpriomap"));
        assert!(map.lines().any(|l| l == "lo 5"), "{map:?}");
        // The init joined them too.
        let pid = root.state_of("hp1")["pid"].as_i64().unwrap();
        let cgroups = read(format!("/proc/{pid}/cgroup").into());
        for controller in ["hugetlb", "net_cls", "net_prio"] {
            assert!(
                cgroups.lines().any(|l| {
                    let mut f = l.splitn(3, ':').skip(1);
                    let (list, path) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
                    list.split(',').any(|c| c == controller) && path.ends_with(&rel)
                }),
                "{controller} of {pid}: {cgroups}"
            );
        }
        dirs.extend([hugetlb, net_cls, net_prio]);
    }
    root.run(&["delete", "hp1"]).ok();
    for dir in dirs {
        assert!(!dir.exists(), "{} is left", dir.display());
    }

    // A page size no kernel has and (v1) an interface the host lacks: one
    // line each naming it, and nothing left.
    let out = create("hp2", resources("3MB", "lo"));
    out.code(1)
        .stderr_has("huge page size 3MB: the kernel has no such size (it has ")
        .stderr_has(&size);
    assert_eq!(out.stderr.lines().count(), 1, "{:?}", out.stderr);
    if !v2 {
        create("hp3", resources(&size, "tdnosuch0"))
            .code(1)
            .stderr_has("network priority for tdnosuch0: the host has no interface of that name");
    }
    root.assert_clean();
}
