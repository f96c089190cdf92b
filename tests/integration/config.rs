//! The image's config as `import --change` makes it, and as `run` honours
//! it: Cmd, Env, WorkingDir, StopSignal, Labels and Volumes.

use std::time::{Duration, Instant};

use tinydocker_tests::{busybox_rootfs, make_busybox_rootfs, settles, TestRoot};

/// `import -c CHANGE... busybox-rootfs NAME`: the id it printed.
#[track_caller]
fn import_with(root: &TestRoot, name: &str, changes: &[&str]) -> String {
    let rootfs = busybox_rootfs().to_string_lossy().to_string();
    let mut args = vec!["import"];
    for change in changes {
        args.extend(["-c", change]);
    }
    args.extend([rootfs.as_str(), name]);
    let out = root.run(&args);
    out.ok();
    out.text().to_string()
}

#[test]
fn import_change_sets_the_config_run_uses() {
    let root = TestRoot::new();
    let id = import_with(
        &root,
        "configured",
        &[
            r#"CMD ["sh", "-c", "echo $GREETING from $(pwd)"]"#,
            "ENV GREETING=\"hello there\"",
            "WORKDIR /tmp",
            "EXPOSE 80 53/udp",
            "LABEL team=core",
        ],
    );
    // The config is part of the image: not the plain import's id.
    assert_ne!(id, root.busybox_id);
    // Without a change, the id of before.
    let rootfs = busybox_rootfs().to_string_lossy().to_string();
    root.run(&["import", &rootfs, "plain"])
        .ok()
        .stdout_is(&root.busybox_id);
    // Another change, another image.
    assert_ne!(import_with(&root, "other", &["LABEL team=web"]), id);

    root.run(&["run", "--rm", "--pull", "never", "configured"])
        .ok()
        .stdout_is("hello there from /tmp");
    let inspect = root.run(&["inspect", "configured"]);
    inspect.ok();
    let v: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    let config = &v[0]["Config"];
    assert_eq!(config["Labels"]["team"], "core");
    assert_eq!(config["WorkingDir"], "/tmp");
    assert_eq!(
        config["ExposedPorts"],
        serde_json::json!({ "80/tcp": {}, "53/udp": {} })
    );
    // Shell form: run by /bin/sh -c.
    import_with(&root, "shell", &["ENTRYPOINT echo one two"]);
    root.run(&["run", "--rm", "--pull", "never", "shell"])
        .ok()
        .stdout_is("one two");
}

#[test]
fn import_change_refuses_other_instructions() {
    let root = TestRoot::new();
    let rootfs = busybox_rootfs().to_string_lossy().to_string();
    root.run(&["import", "-c", "RUN echo hi", &rootfs, "bad"])
        .usage_error()
        .stderr_has("run is not a valid change command");
    root.run(&["import", "-c", "EXPOSE 99999", &rootfs, "bad"])
        .usage_error();
    // Nothing imported.
    root.run(&["images", "-q"])
        .ok()
        .stdout_is(&root.busybox_id["sha256:".len().."sha256:".len() + 12]);
}

/// The stdout `logs NAME` shows.
fn logs(root: &TestRoot, name: &str) -> String {
    let out = root.run(&["logs", name]);
    out.ok();
    out.stdout
}

/// The container's `inspect` object.
#[track_caller]
pub(crate) fn inspect(root: &TestRoot, name: &str) -> serde_json::Value {
    let out = root.run(&["inspect", name]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v[0].clone()
}

/// A shell that says `got SIG` and exits 3 on USR1 or USR2, and
/// otherwise ignores TERM.
const TRAPS: &str = "trap 'echo got USR1; exit 3' USR1; trap 'echo got USR2; exit 4' USR2; \
                     trap '' TERM; echo ready; while :; do sleep 0.1; done";

#[track_caller]
fn wait_ready(root: &TestRoot, name: &str, count: usize) {
    assert!(
        settles(|| logs(root, name).matches("ready").count() >= count),
        "{name} never got ready: {}",
        logs(root, name)
    );
}

#[test]
fn stop_sends_the_images_stop_signal_or_the_containers() {
    let root = TestRoot::new();
    import_with(&root, "usr1", &["STOPSIGNAL SIGUSR1"]);
    root.detach(&[
        "--name",
        "from-image",
        "--pull",
        "never",
        "usr1",
        "sh",
        "-c",
        TRAPS,
    ]);
    root.detach(&[
        "--name",
        "from-flag",
        "--stop-signal",
        "usr2",
        "--pull",
        "never",
        "usr1",
        "sh",
        "-c",
        TRAPS,
    ]);
    wait_ready(&root, "from-image", 1);
    wait_ready(&root, "from-flag", 1);
    assert_eq!(
        inspect(&root, "from-image")["Config"]["StopSignal"],
        "SIGUSR1"
    );
    assert_eq!(inspect(&root, "from-flag")["Config"]["StopSignal"], "usr2");

    // restart stops with it too, and the container runs again.
    root.run(&["restart", "from-image"]).ok();
    wait_ready(&root, "from-image", 2);
    assert!(logs(&root, "from-image").contains("got USR1"));

    let started = Instant::now();
    root.run(&["stop", "from-image", "from-flag"])
        .ok()
        .stdout_is("from-image\nfrom-flag");
    // Not the 10 s a TERM it ignores would have taken.
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(inspect(&root, "from-image")["State"]["ExitCode"], 3);
    assert_eq!(inspect(&root, "from-flag")["State"]["ExitCode"], 4);
    assert!(logs(&root, "from-flag").contains("got USR2"));

    // stop -s: that signal, whatever the container's.
    root.run(&["start", "from-flag"]).ok();
    wait_ready(&root, "from-flag", 2);
    root.run(&["stop", "-s", "USR1", "from-flag"]).ok();
    assert_eq!(inspect(&root, "from-flag")["State"]["ExitCode"], 3);
}

#[test]
fn stop_timeout_is_the_containers_grace_period() {
    let root = TestRoot::new();
    root.detach(&[
        "--name",
        "stubborn",
        "--stop-timeout",
        "1",
        "busybox",
        "sh",
        "-c",
        TRAPS,
    ]);
    wait_ready(&root, "stubborn", 1);
    assert_eq!(inspect(&root, "stubborn")["Config"]["StopTimeout"], 1);
    assert!(inspect(&root, "stubborn")["Config"]
        .get("StopSignal")
        .is_none());
    let started = Instant::now();
    // TERM, ignored; SIGKILL after its 1 s, not 10.
    root.run(&["stop", "stubborn"]).ok();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert_eq!(inspect(&root, "stubborn")["State"]["ExitCode"], 137);
    root.run(&["run", "--stop-signal", "NOPE", "busybox", "true"])
        .usage_error();
    root.run(&["run", "--stop-timeout", "x", "busybox", "true"])
        .usage_error();
    // Bad input made nothing.
    assert_eq!(root.container_ids().len(), 1);
}

#[test]
fn labels_of_the_image_and_the_container_filter_ps_and_images() {
    let root = TestRoot::new();
    let tmp = tinydocker_tests::TempDir::new("label-file");
    let file = tmp.join("labels");
    std::fs::write(&file, "# the tier\ntier=back\n\nowner=ops\n").unwrap();
    import_with(&root, "labelled", &["LABEL team=core tier=front"]);
    let file_arg = file.to_string_lossy().to_string();
    root.run(&[
        "run",
        "--name",
        "la",
        "--pull",
        "never",
        "--label-file",
        &file_arg,
        "-l",
        "owner=dev",
        "-l",
        "flag",
        "labelled",
        "true",
    ])
    .ok();
    root.run(&["run", "--name", "lb", "-l", "team=web", "busybox", "true"])
        .ok();
    root.run(&["run", "--name", "lc", "busybox", "true"]).ok();
    // The image's, under the label file's, under -l's.
    assert_eq!(
        inspect(&root, "la")["Config"]["Labels"],
        serde_json::json!({ "team": "core", "tier": "back", "owner": "dev", "flag": "" })
    );
    assert_eq!(
        inspect(&root, "lc")["Config"]["Labels"],
        serde_json::json!({})
    );
    let ps = |filters: &[&str]| {
        let mut args = vec!["ps", "-a", "--format", "{{.Names}}"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let out = root.run(&args);
        out.ok();
        let mut names: Vec<String> = out.lines().iter().map(|s| s.to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(ps(&["label=team"]), ["la", "lb"]);
    assert_eq!(ps(&["label=team=web"]), ["lb"]);
    assert_eq!(ps(&["label=team", "label=flag"]), ["la"]);
    assert_eq!(ps(&["label=flag="]), ["la"]);
    assert!(ps(&["label=team=core", "label=owner=ops"]).is_empty());
    // Without -a: running ones only.
    root.run(&["ps", "-q", "--filter", "label=team"])
        .ok()
        .stdout_is("");
    root.run(&["ps", "--filter", "nope=1"]).usage_error();

    let images = |filter: &str| {
        let out = root.run(&["images", "--filter", filter]);
        out.ok();
        out.lines()
            .iter()
            .skip(1)
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(images("label=team"), ["labelled"]);
    assert_eq!(images("label=tier=front"), ["labelled"]);
    assert!(images("label=tier=back").is_empty());
}

/// An image `NAME` of busybox with `/data` (a file owned 1000:1000 mode
/// 640, a symbolic link, a directory) and the config `VOLUME /data
/// /empty`.
pub(crate) fn import_volume_image(root: &TestRoot, name: &str) -> tinydocker_tests::TempDir {
    use std::os::unix::fs::{chown, symlink, PermissionsExt};
    let tmp = tinydocker_tests::TempDir::new("volume-rootfs");
    let rootfs = tmp.join("rootfs");
    make_busybox_rootfs(&rootfs);
    let data = rootfs.join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("hello"), "from the image\n").unwrap();
    chown(data.join("hello"), Some(1000), Some(1000)).unwrap();
    std::fs::set_permissions(data.join("hello"), std::fs::Permissions::from_mode(0o640)).unwrap();
    symlink("hello", data.join("link")).unwrap();
    let rootfs_arg = rootfs.to_string_lossy().to_string();
    root.run(&["import", "-c", "VOLUME /data /empty", &rootfs_arg, name])
        .ok();
    tmp
}

/// `volume ls -q`, sorted.
pub(crate) fn volumes(root: &TestRoot) -> Vec<String> {
    let out = root.run(&["volume", "ls", "-q"]);
    out.ok();
    let mut names: Vec<String> = out.lines().iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

#[test]
fn image_volumes_get_anonymous_volumes_with_the_images_content() {
    let root = TestRoot::new();
    let _tmp = import_volume_image(&root, "vol");
    root.run(&[
        "run",
        "--name",
        "keeper",
        "--pull",
        "never",
        "vol",
        "sh",
        "-c",
        "cat /data/hello; stat -c '%u:%g %a' /data/hello; readlink /data/link; \
         ls -d /data/sub; echo run >> /data/log; touch /empty/x",
    ])
    .ok()
    .stdout_is("from the image\n1000:1000 640\nhello\n/data/sub");
    let names = volumes(&root);
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.len() == 64));
    let table = root.run(&["volume", "ls"]);
    table.ok();
    assert!(table.lines()[0].starts_with("DRIVER"), "{}", table.stdout);
    assert!(table.lines()[1].starts_with("local "), "{}", table.stdout);

    assert_eq!(
        inspect(&root, "keeper")["Config"]["Volumes"],
        serde_json::json!({ "/data": {}, "/empty": {} })
    );
    let mounts = inspect(&root, "keeper")["Mounts"].clone();
    let data = mounts
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/data")
        .unwrap_or_else(|| panic!("no /data in {mounts}"))
        .clone();
    assert_eq!(data["Type"], "volume");
    let name = data["Name"].as_str().unwrap().to_string();
    assert!(names.contains(&name));
    let source = std::path::PathBuf::from(data["Source"].as_str().unwrap());
    assert_eq!(
        source,
        root.path().join("volumes").join(&name).join("_data")
    );
    assert_eq!(
        std::fs::read_to_string(source.join("log")).unwrap(),
        "run\n"
    );

    // The same volume when the container starts again.
    root.run(&["start", "keeper"]).ok();
    root.run(&["wait", "keeper"]).ok().stdout_is("0");
    assert_eq!(
        std::fs::read_to_string(source.join("log")).unwrap(),
        "run\nrun\n"
    );
    assert_eq!(volumes(&root), names, "no new volume for a start");

    // In use: kept.
    root.run(&["volume", "rm", &name])
        .code(1)
        .one_error_line()
        .stderr_has("volume is in use");
    root.run(&["volume", "rm", "nope"])
        .code(1)
        .stderr_has("no such volume");
    root.run(&["volume", "prune", "-f"])
        .ok()
        .stdout_is("Total reclaimed space: 0B");
    assert_eq!(volumes(&root), names);

    // rm -v: the container and its volumes.
    root.run(&["rm", "-v", "keeper"]).ok();
    assert!(volumes(&root).is_empty());
    assert!(!source.exists());
    assert_eq!(
        tinydocker_tests::entries(&root.path().join("volumes")),
        ["lock"]
    );
}

#[test]
fn a_bind_mount_replaces_the_volume_and_rm_takes_volumes_along() {
    let root = TestRoot::new();
    let tmp = import_volume_image(&root, "vol");
    let host = tmp.join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("mine"), "host\n").unwrap();
    let bind = format!("{}:/data/", host.display());
    // -v on /data: no volume there, one for /empty.
    root.run(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "--pull",
        "never",
        "vol",
        "sh",
        "-c",
        "cat /data/mine; test -e /data/hello || echo no hello; echo > /empty/e",
    ])
    .ok()
    .stdout_is("host\nno hello");
    // --rm took its volume.
    assert!(volumes(&root).is_empty());

    // A start that fails (no such command) without --rm keeps the
    // container, and its volumes, as docker does; with --rm neither.
    root.run(&["run", "--rm", "--pull", "never", "vol", "no-such-command"])
        .code(127);
    assert!(volumes(&root).is_empty());
    root.run(&[
        "run",
        "--name",
        "failed",
        "--pull",
        "never",
        "vol",
        "no-such-command",
    ])
    .code(127);
    assert_eq!(volumes(&root).len(), 2);
    root.run(&["rm", "-v", "failed"]).ok();
    assert!(volumes(&root).is_empty());
    // A run that fails before the container exists (the image has no
    // command; no such user) leaves no volume.
    root.run(&["run", "--pull", "never", "vol"])
        .usage_error()
        .stderr_has("no command specified");
    root.run(&["run", "-u", "nobody-here", "--pull", "never", "vol", "true"])
        .usage_error();
    assert!(volumes(&root).is_empty());
    root.assert_no_containers();

    // Detached with --rm: gone with the container.
    root.detach(&["--rm", "--pull", "never", "vol", "true"]);
    root.assert_no_containers_soon();
    assert!(
        settles(|| volumes(&root).is_empty()),
        "{:?}",
        volumes(&root)
    );
}

#[test]
fn volume_prune_removes_the_volumes_no_container_uses() {
    let root = TestRoot::new();
    let _tmp = import_volume_image(&root, "vol");
    root.run(&["run", "--name", "gone", "--pull", "never", "vol", "true"])
        .ok();
    let old = volumes(&root);
    // rm without -v leaves them, unused.
    root.run(&["rm", "gone"]).ok();
    assert_eq!(volumes(&root), old);
    root.run(&["run", "--name", "user", "--pull", "never", "vol", "true"])
        .ok();
    let all = volumes(&root);
    assert_eq!(all.len(), 4);
    let kept: Vec<String> = all.iter().filter(|v| !old.contains(v)).cloned().collect();

    let out = root.run(&["volume", "prune", "-f"]);
    out.ok();
    let lines = out.lines();
    assert_eq!(lines[0], "Deleted Volumes:", "{}", out.stdout);
    let mut deleted: Vec<String> = lines[1..3].iter().map(|s| s.to_string()).collect();
    deleted.sort();
    assert_eq!(deleted, old);
    assert!(
        lines[4].starts_with("Total reclaimed space: "),
        "{}",
        out.stdout
    );
    assert_eq!(volumes(&root), kept);
    // Unused once its container is gone: volume rm takes it.
    root.run(&["rm", "user"]).ok();
    root.run(&["volume", "rm", &kept[0], &kept[1]])
        .ok()
        .stdout_is(&format!("{}\n{}", kept[0], kept[1]));
    assert!(volumes(&root).is_empty());
    root.assert_no_containers();
}
