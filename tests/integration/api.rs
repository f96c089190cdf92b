//! `tinydocker system service`: docker's own client (`/usr/bin/docker`,
//! Debian's docker.io 20.10) against tinydocker's Engine API socket.

use std::process::{Child, Command, Stdio};

use tinydocker_tests::{output, settles, Out, TestRoot};

/// The docker client of docker.io, not whatever comes first on PATH.
const DOCKER: &str = "/usr/bin/docker";

/// A service of a test's own root on a socket in it, killed on drop.
pub(crate) struct Service {
    pub(crate) child: Child,
    pub(crate) socket: std::path::PathBuf,
}

impl Service {
    pub(crate) fn start(root: &TestRoot) -> Service {
        let socket = root.path().join("api.sock");
        let mut cmd = root.cmd(&[
            "system",
            "service",
            "--time",
            "0",
            &format!("unix://{}", socket.display()),
        ]);
        let child = cmd
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the service");
        assert!(
            settles(|| std::os::unix::net::UnixStream::connect(&socket).is_ok()),
            "the service never listened"
        );
        Service { child, socket }
    }

    /// `docker -H unix://SOCKET ARGS...`, with a config dir of nobody's.
    pub(crate) fn docker(&self, args: &[&str]) -> Out {
        output(self.docker_cmd(args), None)
    }

    /// [`Service::docker`], not yet run.
    pub(crate) fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(DOCKER);
        cmd.arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .env("DOCKER_CONFIG", self.socket.with_file_name("docker-config"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT");
        cmd
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// A service started with the stop signals blocked (as a parent that
/// reads its own from a signalfd leaves them to its children) still ends
/// at SIGTERM, and removes its socket.
#[test]
fn the_service_ends_at_sigterm_even_started_with_it_blocked() {
    use std::os::unix::process::CommandExt;
    let root = TestRoot::new();
    let socket = root.path().join("blocked.sock");
    let mut cmd = root.cmd(&[
        "system",
        "service",
        "--time",
        "0",
        &format!("unix://{}", socket.display()),
    ]);
    // SAFETY: only sigprocmask, async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the service");
    assert!(settles(
        || std::os::unix::net::UnixStream::connect(&socket).is_ok()
    ));
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut status = None;
    let ended = settles(|| {
        status = child.try_wait().expect("wait for the service");
        status.is_some()
    });
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(ended, "the service ignored SIGTERM");
    assert!(status.unwrap().success(), "{status:?}");
    assert!(!socket.exists(), "the socket stayed");
}

#[test]
fn docker_version_ps_images_and_inspect_through_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    let version = service.docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    version.ok().stdout_is("1.41");
    service
        .docker(&["info", "--format", "{{.OSType}}"])
        .ok()
        .stdout_is("linux");

    root.run(&["run", "--name", "made-by-cli", "busybox", "true"])
        .ok();
    service.docker(&["ps", "-q"]).ok().stdout_is("");
    let all = service.docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    all.ok();
    assert!(all.text().starts_with("made-by-cli Exited (0)"), "{all:?}");
    service
        .docker(&["inspect", "--format", "{{.State.ExitCode}}", "made-by-cli"])
        .ok()
        .stdout_is("0");
    let missing = service.docker(&["inspect", "nope"]);
    missing.code(1).stderr_has("No such object: nope");
    let images = service.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    images.ok().stdout_is("busybox:latest");
    service
        .docker(&["image", "inspect", "--format", "{{.Id}}", "busybox"])
        .ok()
        .stdout_is(&root.busybox_id);
    root.run(&["rm", "made-by-cli"]).ok();
    // An API version it does not serve: docker's words, status 400.
    let answer = raw(
        &service.socket,
        "GET /v1.99/info HTTP/1.0\r\nHost: x\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.0 400"), "{answer}");
    assert!(answer.contains("is too new"), "{answer}");
}

/// One raw HTTP exchange over the socket.
pub(crate) fn raw(socket: &std::path::Path, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn docker_logs_stop_start_kill_wait_rm_and_images_through_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    let id = root.detach(&[
        "--name",
        "svc",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; trap 'exit 7' TERM; while :; do sleep 0.1; done",
    ]);
    assert!(
        settles(|| service.docker(&["logs", "svc"]).text().contains("out")),
        "no logs"
    );
    let logs = service.docker(&["logs", "svc"]);
    logs.ok().stdout_is("out");
    assert_eq!(logs.stderr.trim(), "err");
    service
        .docker(&["logs", "--tail", "0", "svc"])
        .ok()
        .stdout_is("");
    let stats = service.docker(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}} {{.MemUsage}}",
        "svc",
    ]);
    stats.ok();
    assert!(stats.text().starts_with("svc "), "{stats:?}");
    let pids: u32 = stats
        .text()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(pids >= 1, "{stats:?}");
    let top = service.docker(&["top", "svc"]);
    top.ok();
    assert!(top.lines()[0].starts_with("UID"), "{top:?}");
    assert!(top.text().contains("while :"), "{top:?}");
    let own = root.run(&["top", "svc", "-o", "pid,comm"]);
    own.ok();
    assert_eq!(
        own.lines()[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND"]
    );
    assert!(
        own.lines().iter().skip(1).any(|l| l.ends_with(" sh")),
        "{own:?}"
    );
    service.docker(&["pause", "svc"]).ok().stdout_is("svc");
    service.docker(&["unpause", "svc"]).ok().stdout_is("svc");
    service
        .docker(&["stop", "-t", "5", "svc"])
        .ok()
        .stdout_is("svc");
    service
        .docker(&["inspect", "--format", "{{.State.ExitCode}}", &id])
        .ok()
        .stdout_is("7");
    service.docker(&["wait", "svc"]).ok().stdout_is("7");
    service.docker(&["start", "svc"]).ok().stdout_is("svc");
    service
        .docker(&["restart", "-t", "5", "svc"])
        .ok()
        .stdout_is("svc");
    service.docker(&["kill", "svc"]).ok().stdout_is("svc");
    service.docker(&["wait", "svc"]).ok().stdout_is("137");
    let again = service.docker(&["kill", "svc"]);
    again.code(1).stderr_has("is not running");
    service
        .docker(&["top", "svc"])
        .code(1)
        .stderr_has("is not running");
    root.run(&["start", "svc"]).ok();
    // Renamed while running, through the API and the CLI; a taken name or
    // the same one refused.
    service.docker(&["rename", "svc", "svc2"]).ok();
    root.run(&["inspect", "svc2"]).ok();
    root.run(&["inspect", "svc"]).code(1);
    root.run(&["run", "--name", "taken", "busybox", "true"])
        .ok();
    service
        .docker(&["rename", "svc2", "taken"])
        .code(1)
        .stderr_has("is already in use");
    root.run(&["rename", "svc2", "svc2"])
        .code(125)
        .stderr_has("same name");
    root.run(&["rename", "svc2", "svc"]).ok().stdout_is("");
    root.run(&["rm", "taken"]).ok();
    let refused = service.docker(&["rm", "svc"]);
    refused
        .code(1)
        .stderr_has("You cannot remove a running container");
    service.docker(&["rm", "-f", "svc"]).ok().stdout_is("svc");
    root.run(&["ps", "-aq"]).ok().stdout_is("");
    service
        .docker(&["rm", "nope"])
        .code(1)
        .stderr_has("No such container: nope");

    service.docker(&["tag", "busybox", "retagged:v1"]).ok();
    root.run(&["images", "-q", "--no-trunc", "retagged:v1"])
        .ok()
        .stdout_is(&root.busybox_id);
    service
        .docker(&["rmi", "retagged:v1"])
        .ok()
        .stdout_is("Untagged: retagged:v1");
    service
        .docker(&["rmi", "nope:v1"])
        .code(1)
        .stderr_has("No such image: nope:v1");
}

/// `docker pull`, `tag`, `push`, `save` and `load` through the service,
/// with a registry on 127.0.0.1.
#[test]
fn docker_pull_push_save_and_load_through_the_service() {
    use tinydocker_tests::registry::{image_of, push, Registry};
    let registry = Registry::start();
    let work = tinydocker_tests::TempDir::new("api-images");
    let layout = image_of(
        work.path(),
        tinydocker_tests::busybox_rootfs(),
        &["--config.cmd", "echo"],
    );
    let name = format!("{}/team/box:v1", registry.addr);
    push(&layout, &name, "v2s2");
    let root = TestRoot::empty();
    let service = Service::start(&root);
    let pulled = service.docker(&["pull", &name]);
    pulled.ok();
    assert!(pulled.stdout.contains("Pull complete"), "{pulled:?}");
    assert!(
        pulled
            .stdout
            .contains(&format!("Status: Downloaded newer image for {name}")),
        "{pulled:?}"
    );
    let id = root.run(&["images", "-q", "--no-trunc", &name]);
    id.ok();
    let other = format!("{}/other/box:v2", registry.addr);
    service.docker(&["tag", &name, &other]).ok();
    let pushed = service.docker(&["push", &other]);
    pushed.ok();
    assert!(
        pushed.stdout.contains("Mounted from team/box"),
        "{pushed:?}"
    );
    assert!(pushed.stdout.contains("v2: digest: sha256:"), "{pushed:?}");

    let archive = work.join("saved.tar");
    service
        .docker(&["save", "-o", &archive.to_string_lossy(), &other])
        .ok();
    let fresh = TestRoot::empty();
    let second = Service::start(&fresh);
    second
        .docker(&["load", "-i", &archive.to_string_lossy()])
        .ok()
        .stdout_is(&format!("Loaded image: {other}"));
    fresh
        .run(&["images", "-q", "--no-trunc", &other])
        .ok()
        .stdout_is(id.text());
    let missing = service.docker(&["pull", &format!("{}/no/such:v1", registry.addr)]);
    missing.code(1).stderr_has("manifest unknown");
}

/// `docker login` (the service's `/auth` checks the credentials), then a
/// pull and a push with what the client keeps and sends
/// (`X-Registry-Auth`); without a login the registry refuses both.
#[test]
fn docker_login_then_pull_and_push_with_credentials_through_the_service() {
    use tinydocker_tests::registry::{htpasswd_auth, image_of, run, Registry};
    let registry = Registry::start_with(|dir| htpasswd_auth(dir, "tester", "s3cret"));
    let work = tinydocker_tests::TempDir::new("api-auth");
    let layout = image_of(
        work.path(),
        tinydocker_tests::busybox_rootfs(),
        &["--config.cmd", "echo"],
    );
    let name = format!("{}/team/private:v1", registry.addr);
    run(Command::new("skopeo")
        .args(["copy", "-q", "--dest-tls-verify=false"])
        .args(["--dest-creds", "tester:s3cret"])
        .arg(format!("oci:{}:img", layout.display()))
        .arg(format!("docker://{name}")));
    let root = TestRoot::empty();
    let service = Service::start(&root);
    service
        .docker(&["pull", &name])
        .code(1)
        .stderr_has("may require 'docker login'");
    let login = |password: &str| {
        let mut cmd = Command::new(DOCKER);
        cmd.arg("-H")
            .arg(format!("unix://{}", service.socket.display()))
            .args(["login", "-u", "tester", "--password-stdin", &registry.addr])
            .env(
                "DOCKER_CONFIG",
                service.socket.with_file_name("docker-config"),
            )
            .env_remove("DOCKER_HOST");
        output(cmd, Some(password.as_bytes()))
    };
    login("wrong").code(1).stderr_has("unauthorized");
    login("s3cret").ok().stdout_is("Login Succeeded");
    let pulled = service.docker(&["pull", &name]);
    pulled.ok();
    assert!(pulled.stdout.contains("Pull complete"), "{pulled:?}");
    let other = format!("{}/team/copy:v2", registry.addr);
    service.docker(&["tag", &name, &other]).ok();
    let pushed = service.docker(&["push", &other]);
    pushed.ok();
    assert!(pushed.stdout.contains("v2: digest: sha256:"), "{pushed:?}");
}

#[test]
fn docker_network_commands_through_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    let name = format!("tdapi{}", std::process::id() % 100_000);
    service
        .docker(&[
            "network",
            "create",
            "--subnet",
            "10.213.7.0/24",
            "--label",
            "team=api",
            &name,
        ])
        .ok();
    service
        .docker(&["network", "inspect", "--format", "{{.Labels.team}}", &name])
        .ok()
        .stdout_is("api");
    let listed = service.docker(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    listed.ok();
    let lines = listed.lines();
    assert!(
        lines.contains(&format!("{name} bridge").as_str()),
        "{listed:?}"
    );
    assert!(
        lines.contains(&"host host") && lines.contains(&"none null"),
        "{listed:?}"
    );
    service
        .docker(&[
            "network",
            "inspect",
            "--format",
            "{{(index .IPAM.Config 0).Subnet}}",
            &name,
        ])
        .ok()
        .stdout_is("10.213.7.0/24");
    service
        .docker(&["network", "create", &name])
        .code(1)
        .stderr_has("already exists");
    // Statuses by the engine's kind of error: a network or volume in use
    // is a conflict, a missing volume 404.
    root.run(&[
        "run",
        "-d",
        "--name",
        "user",
        "--network",
        &name,
        "-v",
        "apivol:/v",
        "busybox",
        "sleep",
        "100",
    ])
    .ok();
    let delete = |path: &str| {
        raw(
            &service.socket,
            &format!("DELETE /v1.41/{path} HTTP/1.0\r\nHost: x\r\n\r\n"),
        )
    };
    for (path, status) in [
        (format!("networks/{name}"), "409"),
        ("volumes/apivol".to_string(), "409"),
        ("volumes/nosuchvol".to_string(), "404"),
    ] {
        let answer = delete(&path);
        assert!(
            answer.starts_with(&format!("HTTP/1.0 {status}")),
            "{path}: {answer}"
        );
    }
    root.run(&["rm", "-f", "-v", "user"]).ok();
    root.run(&["volume", "rm", "apivol"]).ok();
    service
        .docker(&["network", "rm", &name])
        .ok()
        .stdout_is(&name);
    service
        .docker(&["network", "rm", &name])
        .code(1)
        .stderr_has(&format!("No such network: {name}"));
    service
        .docker(&["network", "rm", "host"])
        .code(1)
        .stderr_has("pre-defined network");
}

/// A wait through the API, begun: its status line read (the wait is
/// under way), the rest of the answer read on a thread.
fn wait_begun(
    socket: &std::path::Path,
    id: &str,
    condition: &str,
) -> std::thread::JoinHandle<String> {
    use std::io::{BufRead, Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    write!(
        stream,
        "POST /v1.41/containers/{id}/wait?condition={condition} HTTP/1.0\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.0 200"), "{status}");
    std::thread::spawn(move || {
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        rest
    })
}

/// The JSON body of a raw answer.
fn body_of(answer: &str) -> serde_json::Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or(answer);
    serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

/// A raw `POST /containers/create` with a JSON body.
fn create_raw(socket: &std::path::Path, query: &str, body: &str) -> String {
    raw(
        socket,
        &format!(
            "POST /v1.41/containers/create{query} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn docker_create_start_wait_logs_and_rm_through_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    let made = service.docker(&[
        "create",
        "--name",
        "xx",
        "--network",
        "none",
        "busybox",
        "echo",
        "hi",
    ]);
    made.ok();
    let id = made.text().to_string();
    assert_eq!(id.len(), 64, "{made:?}");
    let listed = service.docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    listed.ok().stdout_is("xx Created");
    service
        .docker(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.Pid}} {{.State.StartedAt}}",
            "xx",
        ])
        .ok()
        .stdout_is("created 0 0001-01-01T00:00:00Z");
    // A name in use: docker's 409 and words.
    let taken = service.docker(&[
        "create",
        "--name",
        "xx",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    assert_ne!(taken.code, 0, "{taken:?}");
    taken.stderr_has(&format!(
        "Conflict. The container name \"/xx\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    ));
    // `next-exit` of a created container: the end of the run a later
    // start begins (what `docker run` asks before it starts one).
    let next = wait_begun(&service.socket, "xx", "next-exit");
    service.docker(&["start", "xx"]).ok().stdout_is("xx");
    assert_eq!(body_of(&next.join().unwrap())["StatusCode"], 0);
    service.docker(&["wait", "xx"]).ok().stdout_is("0");
    service.docker(&["logs", "xx"]).ok().stdout_is("hi");
    service.docker(&["rm", "xx"]).ok().stdout_is("xx");

    // run -d: create, then start.
    let ran = service.docker(&[
        "run",
        "-d",
        "--name",
        "rd",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "exit 4",
    ]);
    ran.ok();
    service.docker(&["wait", "rd"]).ok().stdout_is("4");
    service.docker(&["rm", "rd"]).ok();

    // AutoRemove: gone after its exit, which a wait for the removal sees.
    let answer = create_raw(
        &service.socket,
        "?name=gone",
        r#"{"Image":"busybox","Cmd":["sh","-c","exit 5"],"HostConfig":{"AutoRemove":true,"NetworkMode":"none"}}"#,
    );
    assert!(answer.starts_with("HTTP/1.0 201"), "{answer}");
    assert_eq!(body_of(&answer)["Warnings"], serde_json::json!([]));
    let removed = wait_begun(&service.socket, "gone", "removed");
    service.docker(&["start", "gone"]).ok();
    let removed = removed.join().unwrap();
    assert_eq!(body_of(&removed)["StatusCode"], 5, "{removed}");
    root.assert_no_containers();

    // Not running: `not-running` answers at once.
    service
        .docker(&[
            "create",
            "--name",
            "idle",
            "--network",
            "none",
            "busybox",
            "true",
        ])
        .ok();
    let idle = wait_begun(&service.socket, "idle", "not-running")
        .join()
        .unwrap();
    assert!(idle.contains(r#""StatusCode":0"#), "{idle}");
    // A prune removes it.
    service.docker(&["container", "prune", "-f"]).ok();
    root.assert_no_containers();

    // Malformed JSON: 400; an unknown image: 404 in docker's words; a
    // field tinydocker cannot honour: 400, nothing made.
    let bad = create_raw(&service.socket, "", "{\"Image\":");
    assert!(bad.starts_with("HTTP/1.0 400"), "{bad}");
    let unknown = create_raw(&service.socket, "", r#"{"Image":"nope"}"#);
    assert!(unknown.starts_with("HTTP/1.0 404"), "{unknown}");
    assert_eq!(body_of(&unknown)["message"], "No such image: nope:latest");
    let refused = create_raw(
        &service.socket,
        "",
        r#"{"Image":"busybox","HostConfig":{"Sysctls":{"net.ipv4.ip_forward":"1"}}}"#,
    );
    assert!(refused.starts_with("HTTP/1.0 400"), "{refused}");
    assert!(
        body_of(&refused)["message"]
            .as_str()
            .unwrap()
            .contains("Sysctls"),
        "{refused}"
    );
    root.assert_no_containers();
}

#[test]
fn docker_run_maps_host_config_onto_run_flags() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    let dir = tinydocker_tests::TempDir::new("api-binds");
    std::fs::write(dir.join("f"), "bound").unwrap();
    let bind = format!("{}:/data:ro", dir.path().display());
    let ran = service.docker(&[
        "run", "-d", "--name", "lim", "--network", "none",
        "-m", "64m", "--cpus", "0.5", "--pids-limit", "50",
        "-e", "FOO=bar", "-l", "team=api", "--restart", "on-failure:2",
        "-v", &bind, "--tmpfs", "/scratch:size=1m", "--ulimit", "nofile=100:200",
        "busybox", "sh", "-c",
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max /data/f; echo $FOO; \
         echo nofile $(ulimit -n) $(ulimit -Hn); grep ' /scratch ' /proc/mounts | cut -d' ' -f2,3",
    ]);
    ran.ok();
    service.docker(&["wait", "lim"]).ok().stdout_is("0");
    let seen = service.docker(&["logs", "lim"]);
    seen.ok();
    for line in ["bound", "nofile 100 200", "/scratch tmpfs"] {
        assert!(seen.text().contains(line), "{line}: {seen:?}");
    }
    service
        .docker(&[
            "inspect",
            "--format",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{index .Config.Labels \"team\"}} {{index .HostConfig.Binds 0}}",
            "lim",
        ])
        .ok()
        .stdout_is(&format!("67108864 500000000 50 on-failure:2 api {bind}"));
    let env = service.docker(&["inspect", "--format", "{{json .Config.Env}}", "lim"]);
    env.ok();
    assert!(env.text().contains("\"FOO=bar\""), "{env:?}");
    service.docker(&["rm", "lim"]).ok();
    // Port bindings, as asked for (the container is not started: no
    // network is touched).
    service
        .docker(&[
            "create",
            "--name",
            "ports",
            "-p",
            "127.0.0.1:18080:80",
            "busybox",
            "true",
        ])
        .ok();
    service
        .docker(&[
            "inspect",
            "--format",
            "{{json .HostConfig.PortBindings}}",
            "ports",
        ])
        .ok()
        .stdout_is(r#"{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"18080"}]}"#);
    service.docker(&["rm", "ports"]).ok();
    root.assert_no_containers();
}

/// `docker run` of an image the store does not have: the 404 makes
/// docker's client pull it (from a registry on 127.0.0.1) and ask again.
#[test]
fn docker_run_pulls_a_missing_image_and_creates_again() {
    use tinydocker_tests::registry::{image_of, push, Registry};
    let registry = Registry::start();
    let work = tinydocker_tests::TempDir::new("api-run-pull");
    let layout = image_of(
        work.path(),
        tinydocker_tests::busybox_rootfs(),
        &["--config.cmd", "true"],
    );
    let name = format!("{}/team/runnable:v1", registry.addr);
    push(&layout, &name, "v2s2");
    let root = TestRoot::empty();
    let service = Service::start(&root);
    let ran = service.docker(&["run", "-d", "--name", "pulled", "--network", "none", &name]);
    ran.ok();
    assert!(ran.stderr.contains("Unable to find image"), "{ran:?}");
    service.docker(&["wait", "pulled"]).ok().stdout_is("0");
    root.run(&["images", "-q", &name]).ok();
    service.docker(&["rm", "pulled"]).ok();
    root.assert_no_containers();
}
