//! `cp` and `export`: files into and out of running and stopped
//! containers, as tar streams too, resolved inside the container's root.

use std::fs;
use std::process::Command;

use tinydocker_tests::{bin, mounts_mentioning, output, test_name, Out, TempDir, TestRoot};

use crate::api::{raw, Service};

/// `sh -c SCRIPT` on the host, with `$TD` the tinydocker command of `root`.
fn host_sh(root: &TestRoot, script: &str) -> Out {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .env(
            "TD",
            format!("{} --root {}", bin().display(), root.path().display()),
        )
        .env_remove("TINYDOCKER_ROOT");
    output(cmd, None)
}

/// A running container `name` with `/d/sub/f` ("deep"), and a file and a
/// directory at the path of the host directory `host` holding "container".
fn running(root: &TestRoot, name: &str, host: &str) {
    root.detach(&[
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "while :; do sleep 1; done",
    ]);
    let script = format!(
        "mkdir -p /d/sub {host} && echo deep > /d/sub/f && echo container > {host}/secret \
         && ln -s {host}/secret /abs && ln -s ../../../../../../..{host} /updir"
    );
    root.run(&["exec", name, "sh", "-c", &script]).ok();
}

#[track_caller]
fn read(path: impl AsRef<std::path::Path>) -> String {
    let path = path.as_ref();
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn cp_both_ways_with_running_and_stopped_containers() {
    let root = TestRoot::new();
    let tmp = TempDir::new(&test_name());
    let host = tmp.join("host");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("secret"), "host\n").unwrap();
    let h = host.display().to_string();
    let t = |p: &str| tmp.join(p).display().to_string();
    running(&root, "cpr", &h);

    // Out of a running container: a file, a directory into one that
    // exists, a directory's content as a new one.
    root.run(&["cp", "cpr:/d/sub/f", &t("f")]).ok();
    assert_eq!(read(tmp.join("f")), "deep\n");
    root.run(&["cp", "cpr:/d", &format!("{}/", tmp.path().display())])
        .ok();
    assert_eq!(read(tmp.join("d/sub/f")), "deep\n");
    root.run(&["cp", "cpr:/d/.", &t("content")]).ok();
    assert_eq!(read(tmp.join("content/sub/f")), "deep\n");
    // A file cannot make a directory; a missing path is docker's error.
    root.run(&["cp", "cpr:/d/sub/f", &t("nodir/")])
        .code(1)
        .stderr_has("no such directory");
    root.run(&["cp", "cpr:/nope", &t("x")])
        .code(1)
        .one_error_line()
        .stderr_has("No such container:path: cpr:/nope");
    root.run(&["cp", "nosuch:/d", &t("x")])
        .code(1)
        .stderr_has("No such container:path: nosuch:/d");

    // Into a running container: a file into a directory, a directory
    // under a new name.
    fs::write(tmp.join("in.txt"), "hello\n").unwrap();
    root.run(&["cp", &t("in.txt"), "cpr:/d/"]).ok();
    root.run(&["exec", "cpr", "cat", "/d/in.txt"])
        .ok()
        .stdout_is("hello");
    root.run(&["cp", &t("d"), "cpr:/copied"]).ok();
    root.run(&["exec", "cpr", "cat", "/copied/sub/f"])
        .ok()
        .stdout_is("deep");

    // Stopped: read through its layers, written into its writable layer,
    // with nothing left mounted.
    root.run(&["kill", "cpr"]).ok();
    root.run(&["wait", "cpr"]).ok();
    root.run(&["cp", "cpr:/d/in.txt", &t("after")]).ok();
    assert_eq!(read(tmp.join("after")), "hello\n");
    root.run(&["cp", &t("in.txt"), "cpr:/stopped.txt"]).ok();
    assert!(
        mounts_mentioning(root.path()).is_empty(),
        "a mount was left"
    );
    root.run(&["start", "cpr"]).ok();
    root.run(&["exec", "cpr", "cat", "/stopped.txt"])
        .ok()
        .stdout_is("hello");
}

#[test]
fn cp_tar_streams_on_stdin_and_stdout() {
    let root = TestRoot::new();
    let tmp = TempDir::new(&test_name());
    running(&root, "cps", "/unused");
    let listed = host_sh(&root, "$TD cp cps:/d - | tar t");
    listed.ok();
    assert_eq!(listed.lines(), ["d", "d/sub", "d/sub/f"], "{listed:?}");
    fs::write(tmp.join("streamed"), "streamed\n").unwrap();
    let script = format!(
        "tar c -C {} streamed | $TD cp - cps:/d",
        tmp.path().display()
    );
    host_sh(&root, &script).ok();
    root.run(&["exec", "cps", "cat", "/d/streamed"])
        .ok()
        .stdout_is("streamed");
    // A stream goes into a directory only.
    let script = format!(
        "tar c -C {} streamed | $TD cp - cps:/d/streamed",
        tmp.path().display()
    );
    host_sh(&root, &script)
        .code(1)
        .stderr_has("must be a directory");
}

/// Symlinks of the container, absolute or climbing with `..`, lead to the
/// container's files, never the host's: read, and written, running or not.
#[test]
fn cp_resolves_symlinks_inside_the_container() {
    let root = TestRoot::new();
    let tmp = TempDir::new(&test_name());
    let host = tmp.join("host");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("secret"), "host\n").unwrap();
    let h = host.display().to_string();
    running(&root, "cpe", &h);
    let t = |p: &str| tmp.join(p).display().to_string();
    let check = |tag: &str| {
        root.run(&["cp", "-L", "cpe:/abs", &t(&format!("abs-{tag}"))])
            .ok();
        assert_eq!(read(tmp.join(format!("abs-{tag}"))), "container\n");
        root.run(&["cp", "cpe:/updir/secret", &t(&format!("up-{tag}"))])
            .ok();
        assert_eq!(read(tmp.join(format!("up-{tag}"))), "container\n");
        // Written through the climbing link: into the container.
        fs::write(tmp.join(tag), "dropped\n").unwrap();
        root.run(&["cp", &t(tag), "cpe:/updir/"]).ok();
        assert!(!host.join(tag).exists(), "written to the host");
    };
    check("running");
    root.run(&["kill", "cpe"]).ok();
    root.run(&["wait", "cpe"]).ok();
    check("stopped");
    assert_eq!(read(host.join("secret")), "host\n");
    root.run(&["start", "cpe"]).ok();
    root.run(&[
        "exec",
        "cpe",
        "cat",
        &format!("{h}/running"),
        &format!("{h}/stopped"),
    ])
    .ok()
    .stdout_is("dropped\ndropped");
}

#[test]
fn export_a_container_filesystem() {
    let root = TestRoot::new();
    let tmp = TempDir::new(&test_name());
    running(&root, "cpx", "/unused");
    let listed = host_sh(&root, "$TD export cpx | tar t");
    listed.ok();
    let names = listed.lines();
    assert!(names.contains(&"bin/busybox"), "{listed:?}");
    assert!(names.contains(&"d/sub/f"), "{listed:?}");
    // Its mounts are not exported: nothing of /proc.
    assert!(!names.iter().any(|n| n.starts_with("proc/")), "{listed:?}");
    root.run(&["kill", "cpx"]).ok();
    root.run(&["wait", "cpx"]).ok();
    let out = tmp.join("export.tar").display().to_string();
    root.run(&["export", "-o", &out, "cpx"]).ok();
    let listed = output(
        {
            let mut c = Command::new("tar");
            c.args(["tf", &out]);
            c
        },
        None,
    );
    assert!(listed.ok().lines().contains(&"d/sub/f"), "{listed:?}");
    root.run(&["export", "nosuch"])
        .code(1)
        .stderr_has("No such container: nosuch");
}

/// docker's own client: `docker cp` both ways, `docker export`, the stat
/// header of `HEAD .../archive`, a missing path's 404.
#[test]
fn docker_cp_and_export_through_the_service() {
    let root = TestRoot::new();
    let tmp = TempDir::new(&test_name());
    let service = Service::start(&root);
    running(&root, "svccp", "/unused");
    let t = |p: &str| tmp.join(p).display().to_string();

    service.docker(&["cp", "svccp:/d", &t("d")]).ok();
    assert_eq!(read(tmp.join("d/sub/f")), "deep\n");
    fs::write(tmp.join("in.txt"), "hello\n").unwrap();
    service.docker(&["cp", &t("in.txt"), "svccp:/d/sub/"]).ok();
    root.run(&["exec", "svccp", "cat", "/d/sub/in.txt"])
        .ok()
        .stdout_is("hello");
    service
        .docker(&["cp", "svccp:/nope", &t("x")])
        .code(1)
        .stderr_has("No such container:path: svccp:/nope");

    let socket = service.socket.display();
    let listed = host_sh(
        &root,
        &format!("/usr/bin/docker -H unix://{socket} export svccp | tar t"),
    );
    assert!(listed.ok().lines().contains(&"bin/busybox"), "{listed:?}");

    let head = raw(
        &service.socket,
        "HEAD /v1.41/containers/svccp/archive?path=/d/sub/f HTTP/1.0\r\nHost: x\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    let stat = head
        .lines()
        .find_map(|l| l.strip_prefix("x-docker-container-path-stat: "))
        .unwrap_or_else(|| panic!("no stat header: {head}"));
    let mut decode = Command::new("base64");
    decode.arg("-d");
    let json = output(decode, Some(stat.trim().as_bytes()));
    let json: serde_json::Value = serde_json::from_str(json.ok().text()).unwrap();
    assert_eq!(json["name"], "f");
    assert_eq!(json["size"], 5);
    assert_eq!(json["mode"], 0o644);
    assert_eq!(json["linkTarget"], "");
    let missing = raw(
        &service.socket,
        "GET /v1.41/containers/svccp/archive?path=/nope HTTP/1.0\r\nHost: x\r\n\r\n",
    );
    assert!(missing.starts_with("HTTP/1.0 404"), "{missing}");
    assert!(
        missing.contains("Could not find the file /nope in container svccp"),
        "{missing}"
    );

    // Stopped: docker cp out of it and into it.
    service.docker(&["kill", "svccp"]).ok();
    root.run(&["wait", "svccp"]).ok();
    service
        .docker(&["cp", "svccp:/d/sub/in.txt", &t("back")])
        .ok();
    assert_eq!(read(tmp.join("back")), "hello\n");
    service.docker(&["cp", &t("back"), "svccp:/back"]).ok();
    service.docker(&["cp", "svccp:/back", &t("again")]).ok();
    assert_eq!(read(tmp.join("again")), "hello\n");
}
