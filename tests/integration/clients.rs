//! docker's other clients against `tinydocker system service`: docker-py
//! (Debian's python3-docker 5.0.3) and docker-compose 1.29 (which is
//! built on docker-py), each pointed at the service's socket.

use std::process::Command;

use tinydocker_tests::{output, Out, TestRoot};

use crate::api::Service;

/// `python3 -c SCRIPT` with `docker.DockerClient` on the service's socket
/// as `client`.
fn docker_py(service: &Service, script: &str) -> Out {
    let program = format!(
        "import docker\nclient = docker.DockerClient(base_url='unix://{}', version='1.41')\n{script}",
        service.socket.display()
    );
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(program);
    output(cmd, None)
}

#[test]
fn docker_py_runs_execs_and_lists_through_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    let out = docker_py(
        &service,
        r#"
# run in the foreground: create, start, wait, logs, and removal
print(client.containers.run('busybox', ['echo', 'hello from py'], remove=True, network_mode='none').decode(), end='')
c = client.containers.run('busybox', ['sh', '-c', 'echo started; exec sleep 1000'], detach=True,
                          name='pyc', labels={'suite': 'py'}, network_mode='none')
c.reload()
print('status', c.status)
print('labels', c.labels['suite'])
code, text = c.exec_run(['echo', 'hi'])
print('exec', code, text.decode().strip())
code, text = c.exec_run(['sh', '-c', 'echo oops >&2; exit 3'])
print('exec', code, text.decode().strip())
print('logs', c.logs().decode().strip())
print('listed', [x.name for x in client.containers.list(filters={'label': 'suite=py'})])
print('images', any('busybox:latest' in i.tags for i in client.images.list()))
net = client.networks.create('pynet', labels={'suite': 'py'})
print('network', client.networks.get('pynet').attrs['Labels']['suite'])
net.remove()
c.stop(timeout=1)
c.reload()
print('stopped', c.status)
c.remove()
print('left', client.containers.list(all=True))
"#,
    );
    out.ok();
    assert_eq!(
        out.lines(),
        vec![
            "hello from py",
            "status running",
            "labels py",
            "exec 0 hi",
            "exec 3 oops",
            "logs started",
            "listed ['pyc']",
            "images True",
            "network py",
            "stopped exited",
            "left []",
        ],
        "{}",
        out.stderr
    );
    root.assert_no_containers();
}

/// A two-service project: `client` reaches `web` by its service name on
/// the project's network, through the embedded DNS.
const COMPOSE_FILE: &str = r#"version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo hello from web > /www/index.html && echo web up && exec httpd -f -p 80 -h /www"]
  client:
    image: busybox
    command: ["sleep", "1000"]
"#;

#[test]
fn compose_up_ps_logs_exec_and_down_through_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    let dir = root.path().join("project");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("docker-compose.yml"), COMPOSE_FILE).unwrap();
    let compose = |args: &[&str]| {
        let mut cmd = Command::new("docker-compose");
        cmd.current_dir(&dir)
            .args(["--no-ansi", "-p", "tdproj"])
            .args(args)
            .env(
                "DOCKER_HOST",
                format!("unix://{}", service.socket.display()),
            )
            .env("DOCKER_CONFIG", root.path().join("docker-config"))
            .env_remove("DOCKER_CONTEXT");
        output(cmd, None)
    };
    compose(&["up", "-d"]).ok();
    let ps = compose(&["ps"]);
    ps.ok();
    assert!(
        ps.text().contains("tdproj_web_1") && ps.text().contains("tdproj_client_1"),
        "{}",
        ps.text()
    );
    assert!(ps.text().contains("Up"), "{}", ps.text());
    // By service name, over the project's network.
    let got = compose(&["exec", "-T", "client", "wget", "-qO-", "http://web/"]);
    got.ok();
    assert_eq!(got.text(), "hello from web");
    let logs = compose(&["logs", "--no-color", "web"]);
    logs.ok();
    assert!(logs.text().contains("web up"), "{}", logs.text());
    compose(&["down", "-t", "1"]).ok();
    // Nothing of the project is left: containers, names, mounts, its
    // network (and with it its bridge).
    root.assert_no_containers();
    let networks = service.docker(&["network", "ls", "--format", "{{.Name}}"]);
    networks.ok();
    assert!(!networks.text().contains("tdproj"), "{}", networks.text());
}
