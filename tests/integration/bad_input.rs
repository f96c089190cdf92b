//! Bad input: exit 125, one line on stderr, and nothing left behind — no
//! container record, no name, no mount, no half-imported image.

use std::fs;

use tinydocker_tests::{busybox_rootfs, entries, tarballs, TempDir, TestRoot};

/// `run ARGS` must fail as a usage error and leave the root as it was.
#[track_caller]
fn rejected(root: &TestRoot, args: &[&str]) {
    let mut full = vec!["run", "--rm"];
    full.extend_from_slice(args);
    root.run(&full).usage_error();
    root.assert_no_containers();
    // Same without --rm: no record is kept for a container that never was.
    let mut full = vec!["run"];
    full.extend_from_slice(args);
    root.run(&full).usage_error();
    root.assert_no_containers();
}

#[test]
fn unknown_image() {
    let root = TestRoot::new();
    // --pull never: a missing image is not looked for on docker.io (a
    // test sends nothing beyond the machine).
    rejected(&root, &["--pull", "never", "nosuchimage", "true"]);
    rejected(&root, &["--pull", "never", "busybox:nosuchtag", "true"]);
}

#[test]
fn malformed_image_names() {
    let root = TestRoot::new();
    rejected(&root, &["BusyBox", "true"]);
    rejected(&root, &["a::b", "true"]);
    let rootfs = busybox_rootfs().to_string_lossy().into_owned();
    for bad in ["BusyBox", "a::b", ""] {
        root.run(&["import", &rootfs, bad]).usage_error();
    }
    let images = root.run(&["images", "-q"]);
    assert_eq!(images.lines().len(), 1, "images -q:\n{}", images.stdout);
}

#[test]
fn invalid_container_names() {
    let root = TestRoot::new();
    for name in [
        "--name=-x",
        "--name=a",
        "--name=bad/name",
        "--name=",
        "--name=.hidden",
    ] {
        rejected(&root, &[name, "busybox", "true"]);
    }
}

#[test]
fn name_already_in_use() {
    let root = TestRoot::new();
    root.run(&["run", "--name", "taken", "busybox", "true"])
        .ok();
    let before = root.containers();
    for rm in [true, false] {
        let mut args = vec!["run"];
        if rm {
            args.push("--rm");
        }
        args.extend(["--name", "taken", "busybox", "echo", "second"]);
        root.run(&args)
            .usage_error()
            .stderr_has("taken")
            .stdout_is("");
        assert_eq!(root.containers(), before);
        assert_eq!(root.names(), ["taken"]);
        assert_eq!(root.host_mounts(), Vec::<String>::new());
    }
    root.run(&["rm", "taken"]).ok();
    root.assert_no_containers();
}

#[test]
fn volume_host_path_does_not_exist() {
    let root = TestRoot::new();
    let dir = TempDir::new("missing-volume");
    let spec = format!("{}:/data", dir.join("not-there").display());
    rejected(&root, &["-v", &spec, "busybox", "true"]);
    assert_eq!(
        entries(dir.path()),
        Vec::<String>::new(),
        "nothing created on the host"
    );
}

#[test]
fn malformed_volumes() {
    let root = TestRoot::new();
    let dir = TempDir::new("bad-volume");
    let host = dir.path().display().to_string();
    for spec in [
        format!("{host}:data"),
        format!("{host}:/data:rx"),
        format!("{host}:/"),
        format!("{host}:/a/../b"),
        "relative/dir:/data".to_string(),
        host.clone(),
    ] {
        rejected(&root, &["-v", &spec, "busybox", "true"]);
    }
}

#[test]
fn malformed_env() {
    let root = TestRoot::new();
    rejected(&root, &["-e", "=x", "busybox", "true"]);
    rejected(&root, &["-e", "A B=1", "busybox", "true"]);
    let dir = TempDir::new("bad-env-file");
    let file = dir.join("bad.env");
    fs::write(&file, "# fine\nGOOD=1\n=bad\n").unwrap();
    rejected(
        &root,
        &["--env-file", &file.to_string_lossy(), "busybox", "true"],
    );
    let missing = dir.join("missing.env");
    rejected(
        &root,
        &["--env-file", &missing.to_string_lossy(), "busybox", "true"],
    );
}

#[test]
fn other_malformed_flags() {
    let root = TestRoot::new();
    rejected(&root, &["-w", "relative/dir", "busybox", "true"]);
    rejected(&root, &["--hostname", "bad_host", "busybox", "true"]);
    rejected(&root, &["--network", "nosuchnetwork", "busybox", "true"]);
}

/// `import FILE x` must fail and leave the image store as it was: only
/// busybox listed, the same layers, nothing in images/tmp.
#[track_caller]
fn import_rejected(root: &TestRoot, file: &std::path::Path) {
    let layers = root.layers();
    root.run(&["import", &file.to_string_lossy(), "broken"])
        .usage_error();
    let images = root.run(&["images"]);
    images.ok();
    assert!(
        !images.stdout.contains("broken"),
        "images:\n{}",
        images.stdout
    );
    assert_eq!(images.lines().len(), 2, "images:\n{}", images.stdout);
    assert_eq!(root.layers(), layers, "images/layers changed");
    assert_eq!(
        entries(&root.path().join("images/tmp")),
        Vec::<String>::new(),
        "images/tmp is not empty"
    );
    assert_eq!(root.host_mounts(), Vec::<String>::new());
}

#[test]
fn import_of_a_text_file() {
    let root = TestRoot::new();
    let dir = TempDir::new("text-import");
    let file = dir.join("notes.txt");
    fs::write(&file, "this is not a tarball\n".repeat(100)).unwrap();
    import_rejected(&root, &file);
    import_rejected(&root, &dir.join("does-not-exist.tar"));
}

#[test]
fn import_of_truncated_tarballs() {
    let root = TestRoot::new();
    let dir = TempDir::new("truncated-import");
    let (tar, gz) = tarballs(busybox_rootfs(), dir.path());

    for (name, whole) in [("cut.tar", &tar), ("cut.tar.gz", &gz)] {
        let bytes = fs::read(whole).unwrap();
        let cut = dir.join(name);
        fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        import_rejected(&root, &cut);
    }
}

#[test]
fn a_mount_that_fails_in_the_child_is_reported_and_leaves_nothing() {
    // A directory volume onto a file of the image: the child cannot make
    // its mount point, says which step failed, and everything goes.
    let root = TestRoot::new();
    for rm in [true, false] {
        let mut args = vec!["run"];
        if rm {
            args.push("--rm");
        }
        args.extend(["-v", "/tmp:/bin/busybox/x", "busybox", "true"]);
        let out = root.run(&args);
        out.usage_error()
            .stderr_has("bind mount /tmp on /bin/busybox/x");
        assert_eq!(root.host_mounts(), Vec::<String>::new());
    }
    // Without --rm the record stays, saying why, as docker keeps a container
    // that failed to start; rm removes it.
    let ps = root.run(&["ps", "-a"]);
    ps.ok();
    assert!(ps.stdout.contains("Exited (125)"), "{}", ps.stdout);
    let ids = root.run(&["ps", "-aq"]);
    for id in ids.lines() {
        root.run(&["rm", id]).ok();
    }
    root.assert_no_containers();
}
