//! docker's hijacked streams through the service: `exec` (output, exit
//! codes, stdin to its end, a terminal, detached), `attach` and `resize`,
//! a client that drops a hijack halfway, docker-py's `exec_run`; and
//! `tinydocker attach`.

use std::io::{Read, Write};
use std::process::Command;

use tinydocker_tests::{output, TestRoot};

use crate::api::Service;

#[test]
fn docker_exec_through_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    root.run(&["run", "-d", "--name", "ex", "busybox", "sleep", "1000"])
        .ok();
    service
        .docker(&["exec", "ex", "echo", "hi"])
        .ok()
        .stdout_is("hi");
    service
        .docker(&["exec", "ex", "sh", "-c", "exit 3"])
        .code(3);
    let err = service.docker(&["exec", "ex", "sh", "-c", "echo oops >&2"]);
    err.ok();
    assert_eq!(err.stderr.trim(), "oops", "{err:?}");
    // Piped stdin: its end is the command's, which then exits.
    output(
        service.docker_cmd(&["exec", "-i", "ex", "cat"]),
        Some(b"piped\n"),
    )
    .ok()
    .stdout_is("piped");
    let missing = service.docker(&["exec", "ex", "nosuchcmd"]);
    missing.code(127);
    assert!(
        missing
            .stdout
            .contains("exec: \"nosuchcmd\": executable file not found in $PATH"),
        "{missing:?}"
    );
    // A terminal of the container's own.
    let mut script = Command::new("script");
    script.args([
        "-qec",
        &format!(
            "docker -H unix://{} exec -t ex sh -c 'tty; exit 4'",
            service.socket.display()
        ),
        "/dev/null",
    ]);
    let tty = output(script, None);
    assert!(tty.stdout.contains("/dev/pts/"), "{tty:?}");
    // Detached: it runs on after the answer.
    service
        .docker(&["exec", "-d", "ex", "sh", "-c", "echo bg > /tmp/bg"])
        .ok();
    assert!(tinydocker_tests::settles(|| {
        service
            .docker(&["exec", "ex", "cat", "/tmp/bg"])
            .stdout
            .trim()
            == "bg"
    }));
    root.run(&["rm", "-f", "ex"]).ok();
}

#[test]
fn docker_py_exec_run_through_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    root.run(&["run", "-d", "--name", "py", "busybox", "sleep", "1000"])
        .ok();
    let script = format!(
        "import docker\n\
         c = docker.DockerClient(base_url='unix://{}').containers.get('py')\n\
         print(c.exec_run(['echo', 'hi']) == (0, b'hi\\n'))\n\
         print(c.exec_run(['sh', '-c', 'echo a; echo b >&2; exit 4'], demux=True))\n",
        service.socket.display()
    );
    let mut python = Command::new("python3");
    python.args(["-c", &script]);
    let out = output(python, None);
    out.ok();
    assert_eq!(
        out.lines(),
        ["True", "ExecResult(exit_code=4, output=(b'a\\n', b'b\\n'))"],
        "{out:?}"
    );
    root.run(&["rm", "-f", "py"]).ok();
}

/// A raw HTTP request on the service's socket: the connection.
fn request(socket: &std::path::Path, text: &str) -> std::os::unix::net::UnixStream {
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream.write_all(text.as_bytes()).unwrap();
    stream
}

#[test]
fn a_hijack_dropped_halfway_hurts_neither_the_container_nor_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    root.run(&["run", "-d", "--name", "drop", "busybox", "sleep", "1000"])
        .ok();
    let body = r#"{"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Cmd":["sh","-c","while true; do echo tick; done"]}"#;
    let mut create = request(
        &service.socket,
        &format!(
            "POST /v1.41/containers/drop/exec HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let mut answer = String::new();
    create.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let id = answer
        .split("\"Id\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let start = r#"{"Detach":false,"Tty":false}"#;
    let mut hijack = request(
        &service.socket,
        &format!(
            "POST /v1.41/exec/{id}/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {}\r\n\r\n{start}",
            start.len()
        ),
    );
    let mut buf = [0u8; 4096];
    let n = hijack.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    drop(hijack);
    service.docker(&["ps", "-q"]).ok();
    service
        .docker(&["exec", "drop", "echo", "still"])
        .ok()
        .stdout_is("still");
    root.run(&["rm", "-f", "drop"]).ok();
    service.docker(&["ps", "-aq"]).ok().stdout_is("");
}

#[test]
fn docker_attach_and_resize_through_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    root.run(&[
        "run",
        "-d",
        "-i",
        "--name",
        "att",
        "busybox",
        "sh",
        "-c",
        "read line; echo \"got $line\"; exit 6",
    ])
    .ok();
    let attached = output(service.docker_cmd(&["attach", "att"]), Some(b"hello\n"));
    attached.code(6);
    assert_eq!(attached.stdout, "got hello\n", "{attached:?}");

    root.run(&[
        "run", "-d", "-t", "--name", "term", "busybox", "sleep", "1000",
    ])
    .ok();
    let mut resize = request(
        &service.socket,
        "POST /v1.41/containers/term/resize?h=21&w=73 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let mut answer = String::new();
    resize.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    service
        .docker(&["exec", "term", "stty", "-F", "/dev/pts/0", "size"])
        .ok()
        .stdout_is("21 73");
    root.run(&["run", "-d", "--name", "plain", "busybox", "sleep", "1000"])
        .ok();
    let mut refused = request(
        &service.socket,
        "POST /v1.41/containers/plain/resize?h=21&w=73 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let mut answer = String::new();
    refused.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    root.run(&["rm", "-f", "term", "plain"]).ok();
}

#[test]
fn cli_attach_passes_stdin_and_returns_the_exit_code() {
    let root = TestRoot::new();
    root.run(&[
        "run",
        "-d",
        "-i",
        "--name",
        "cli-att",
        "busybox",
        "sh",
        "-c",
        "read line; echo \"got $line\"; echo err >&2; exit 5",
    ])
    .ok();
    let out = root.run_with_stdin(&["attach", "cli-att"], b"typed\n");
    out.code(5);
    assert_eq!(out.stdout, "got typed\n", "{out:?}");
    assert_eq!(out.stderr, "err\n", "{out:?}");
    root.run(&["attach", "cli-att"])
        .code(125)
        .stderr_has("You cannot attach to a stopped container, start it first");
    root.run(&["rm", "cli-att"]).ok();
}
