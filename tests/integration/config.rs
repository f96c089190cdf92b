//! The image's config as `import --change` makes it, and as `run` honours
//! it: Cmd, Env, WorkingDir, StopSignal, Labels and Volumes.

use tinydocker_tests::{busybox_rootfs, TestRoot};

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
