//! Cases 12 and 13: docker's own client (`/usr/bin/docker`, docker.io
//! 20.10) against three Engine API servers, each started by the case on a
//! socket in the scratch directory and stopped at its end:
//!
//! - tinydocker: `tinydocker system service --time 0 unix://SOCK` on the
//!   bench's root (busybox is imported there);
//! - dockerd 20.10: its own data root, exec root, socket, pid file and
//!   cgroup parent (below the bench's), the containerd it starts itself,
//!   no bridge and no iptables rules, busybox a `docker import` of the
//!   same rootfs tarball;
//! - podman's service (`podman system service`), on the bench's private
//!   podman store, with runc and the rlimits this machine needs set in a
//!   containers.conf of its own.
//!
//! Case 12, `api-run`: `docker run --rm --network none busybox true`
//! through each (create, attach, wait, start, and the removal: the whole
//! client command is timed); tinydocker's default bridge too. Case 13,
//! `api-ps`: `docker ps` with 20 containers (`sleep 1000`, detached) in
//! each, beside the bare client (`docker --version`). The services run
//! for the whole case, so their own memory is not in the rows; the
//! tinydocker service's resident size when idle (before the first request
//! and again at the end) is in the case's notes and JSON.
//!
//! Not installed (no `/usr/bin/docker`): "not run" rows; no dockerd or
//! podman: their rows say so.

use std::fs;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::cases::{alternate, report, Contender};
use super::containerd::{end_shims, stop};
use super::measure::{measure, run_cleanup, Tree};
use super::peers::{self, PODMAN_IMAGE};
use super::report::{CaseReport, Outcome, Row};
use super::signals::is_interrupted;
use super::teardown::{mounts_under, remove_tree};
use super::{Bench, Case};

/// The client of docker.io, not whatever `docker` comes first on PATH.
pub const DOCKER: &str = "/usr/bin/docker";
const DOCKERD: &str = "/usr/sbin/dockerd";

/// dockerd 20.10 makes this whatever its exec root.
const PLUGIN_DIR: &str = "/run/docker";

/// The containers of case 13.
const PS_CONTAINERS: usize = 20;

/// One API server of a case: its process, socket and what to undo.
struct Server {
    name: &'static str,
    label: String,
    child: Option<Child>,
    sock: PathBuf,
    dir: PathBuf,
    /// The client's config directory (never the user's ~/.docker).
    config: PathBuf,
    /// Directories that did not exist before it started (dockerd's), to
    /// remove when empty.
    made: Vec<PathBuf>,
}

impl Server {
    /// `docker -H unix://SOCK ARGS...`.
    fn docker(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(DOCKER);
        cmd.arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .env("DOCKER_CONFIG", &self.config)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT");
        cmd
    }

    /// Start `cmd` (its output to `log` in `dir`) and wait until the
    /// socket answers `docker version` (setup, not measured).
    fn start(
        bench: &Bench,
        name: &'static str,
        label: String,
        dir: PathBuf,
        mut cmd: Command,
    ) -> Result<Server> {
        let made = [PLUGIN_DIR, "/run/containerd/s", "/run/containerd"]
            .iter()
            .map(PathBuf::from)
            .filter(|d| !d.exists())
            .collect();
        fs::create_dir_all(dir.join("client"))?;
        let log = fs::File::create(dir.join("server.log"))?;
        let mut server = Server {
            name,
            label,
            child: None,
            sock: dir.join("api.sock"),
            config: dir.join("client"),
            dir,
            made,
        };
        // Its own process group: a Ctrl-C is the bench's to handle.
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("start {name}"))?;
        server.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            bench.meter.stop.check()?;
            if let Some(status) = server.child.as_mut().and_then(|c| c.try_wait().ok()?) {
                server.child = None;
                bail!("{name} exited ({status}): {}", server.last_log_line());
            }
            if UnixStream::connect(&server.sock).is_ok()
                && server
                    .docker(&["version"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("{name}: no answer after 60 s: {}", server.last_log_line());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn last_log_line(&self) -> String {
        fs::read_to_string(self.dir.join("server.log"))
            .unwrap_or_default()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string()
    }

    fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// Remove every container, stop the server and remove what it made;
    /// what was left behind, one line each.
    fn finish(&mut self) -> Vec<String> {
        let mut left = Vec::new();
        let Some(mut child) = self.child.take() else {
            return left;
        };
        match run_cleanup(&mut self.docker(&["ps", "-aq"])) {
            Ok(ids) if ids.trim().is_empty() => {}
            Ok(ids) => {
                let mut args = vec!["rm", "-f"];
                args.extend(ids.split_whitespace());
                if let Err(e) = run_cleanup(&mut self.docker(&args)) {
                    left.push(format!("{}: rm -f: {e:#}", self.name));
                }
            }
            Err(e) => left.push(format!("{}: ps -aq: {e:#}", self.name)),
        }
        if let Err(e) = stop(&mut child, self.name) {
            left.push(format!("stop {}: {e:#}", self.name));
        }
        // dockerd's containerd and its shims go with it.
        let containerd_sock = self.dir.join("exec/containerd/containerd.sock");
        for line in end_shims(&containerd_sock) {
            left.push(format!("{}: {line}", self.name));
        }
        for mount in mounts_under(&self.dir).into_iter().rev() {
            left.push(format!("{}: mount {}", self.name, mount.display()));
            let path = std::ffi::CString::new(mount.as_os_str().as_encoded_bytes())
                .expect("a path without NUL");
            // SAFETY: a valid C string; a lazy unmount of our own mount.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        }
        // Deepest first, as listed.
        for dir in &self.made {
            let _ = fs::remove_dir_all(dir.join("plugins"));
            let _ = fs::remove_dir(dir);
        }
        if let Err(e) = remove_tree(&self.dir) {
            left.push(format!("{e:#}"));
        }
        left
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for line in self.finish() {
            eprintln!("bench: cleanup: {line}");
        }
    }
}

/// The servers of a case: tinydocker's always (its failure fails the
/// bench), dockerd's and podman's when installed and they start (else a
/// row saying why).
fn servers(bench: &Bench, case: Case) -> Result<(Vec<Server>, Vec<Row>)> {
    let dir = bench.scratch.join(format!("api-{}", case.name()));
    let mut servers = Vec::new();
    let mut rows = Vec::new();
    let sock = dir.join("tinydocker/api.sock");
    let mut td = bench.td.cmd(&["system", "service", "--time", "0"]);
    td.arg(format!("unix://{}", sock.display()));
    servers.push(Server::start(
        bench,
        "tinydocker",
        "tinydocker service".into(),
        dir.join("tinydocker"),
        td,
    )?);
    let mut peer = |name: &'static str, made: Result<Server>| match made {
        Ok(s) => {
            servers.push(s);
            Ok(())
        }
        Err(e) if is_interrupted(&e) => Err(e),
        Err(e) => {
            rows.push(Row {
                step: None,
                runtime: name,
                label: name.to_string(),
                command: String::new(),
                outcome: Outcome::Failed(format!("{e:#}")),
            });
            Ok(())
        }
    };
    let dockerd_version = peers::version(DOCKERD);
    if let Some(version) = dockerd_version.clone() {
        peer("dockerd", dockerd(bench, &dir.join("dockerd"), version))?;
    }
    // A missing podman is in the bench's own missing rows.
    if let Some(podman) = &bench.podman {
        peer("podman", podman_service(bench, podman, &dir.join("podman")))?;
    }
    if dockerd_version.is_none() {
        rows.push(missing_row(
            "dockerd",
            "not installed (apt-get install docker.io)",
        ));
    }
    Ok((servers, rows))
}

fn missing_row(name: &'static str, why: &str) -> Row {
    Row {
        step: None,
        runtime: name,
        label: name.to_string(),
        command: String::new(),
        outcome: Outcome::Missing(why.to_string()),
    }
}

/// A dockerd of the case's own, with busybox imported.
fn dockerd(bench: &Bench, dir: &Path, version: String) -> Result<Server> {
    fs::create_dir_all(dir)?;
    let config = json!({ "deprecated-key-path": dir.join("key.json") });
    fs::write(dir.join("daemon.json"), config.to_string())?;
    let mut cmd = Command::new(DOCKERD);
    cmd.arg("--config-file")
        .arg(dir.join("daemon.json"))
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("dockerd.pid"))
        .arg("-H")
        .arg(format!("unix://{}", dir.join("api.sock").display()))
        .args([
            "--bridge",
            "none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--userland-proxy=false",
            "--storage-driver",
            "overlay2",
            "--exec-opt",
            "native.cgroupdriver=cgroupfs",
            "--cgroup-parent",
        ])
        .arg(format!("/{}/dockerd", bench.cgroup_parent));
    let server = Server::start(
        bench,
        "dockerd",
        format!("dockerd {version}"),
        dir.to_path_buf(),
        cmd,
    )?;
    let tar = bench.scratch.join("busybox-api.tar");
    if !tar.exists() {
        fs::copy(
            crate::workspace().join("target/xtask/busybox-rootfs.tar"),
            &tar,
        )?;
    }
    let mut import = server.docker(&["import"]);
    import.arg(&tar).arg("busybox");
    measure(&mut import, Tree::Whole, &bench.meter).context("docker import (dockerd)")?;
    Ok(server)
}

/// podman's service on the bench's podman store (busybox imported there
/// is tagged as docker's client names it).
fn podman_service(bench: &Bench, podman: &peers::Podman, dir: &Path) -> Result<Server> {
    fs::create_dir_all(dir)?;
    let conf = dir.join("containers.conf");
    fs::write(
        &conf,
        "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n",
    )?;
    measure(
        &mut podman.cmd(&["tag", PODMAN_IMAGE, "docker.io/library/busybox:latest"]),
        Tree::Whole,
        &bench.meter,
    )
    .context("podman tag busybox")?;
    let mut cmd = podman.cmd(&["system", "service", "--time", "0"]);
    cmd.arg(format!("unix://{}", dir.join("api.sock").display()))
        .env("CONTAINERS_CONF", &conf);
    Server::start(
        bench,
        "podman",
        format!("podman {} service", podman.version),
        dir.to_path_buf(),
        cmd,
    )
}

/// Resident memory of a process (VmRSS), KiB.
fn rss_kib(pid: i32) -> Option<u64> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn not_run(case: Case, title: String) -> CaseReport {
    CaseReport {
        name: case.name(),
        number: case.number(),
        title,
        rows: vec![missing_row(
            "docker",
            "no /usr/bin/docker (apt-get install docker.io)",
        )],
        notes: Vec::new(),
        extra: serde_json::Value::Null,
    }
}

/// Case 12: `docker run --rm --network none busybox true` through each
/// server (and tinydocker's on its default bridge).
pub fn api_run(bench: &Bench) -> Result<CaseReport> {
    let case = Case::ApiRun;
    let title = "docker run --rm busybox true through each Engine API server".to_string();
    if !Path::new(DOCKER).is_file() {
        return Ok(not_run(case, title));
    }
    let (servers, missing) = servers(bench, case)?;
    let idle = servers[0].pid().and_then(rss_kib);
    let none = ["run", "--rm", "--network", "none", "busybox", "true"];
    let mut contenders = Vec::new();
    for s in &servers {
        contenders.push(Contender::new(
            s.name,
            s.label.clone(),
            format!("docker -H unix://SOCK {}", none.join(" ")),
            move |_| s.docker(&none),
        ));
    }
    let bridge = ["run", "--rm", "busybox", "true"];
    let td = &servers[0];
    contenders.push(Contender::new(
        "tinydocker",
        "tinydocker service, default bridge",
        format!("docker -H unix://SOCK {}", bridge.join(" ")),
        move |_| td.docker(&bridge),
    ));
    alternate(&mut contenders, bench)?;
    let after = servers[0].pid().and_then(rss_kib);
    let mut report = report(case, title, &contenders, bench);
    report.rows.extend(missing);
    report.notes.push(format!(
        "tinydocker service resident when idle: {} KiB at start, {} KiB after the runs",
        idle.unwrap_or(0),
        after.unwrap_or(0)
    ));
    report.extra = json!({ "service_rss_kib": { "idle": idle, "after": after } });
    Ok(report)
}

/// Case 13: `docker ps` with 20 running containers in each server, and
/// the bare client.
pub fn api_ps(bench: &Bench) -> Result<CaseReport> {
    let case = Case::ApiPs;
    let title = format!("docker ps with {PS_CONTAINERS} running containers, and the bare client");
    if !Path::new(DOCKER).is_file() {
        return Ok(not_run(case, title));
    }
    let (servers, missing) = servers(bench, case)?;
    let mut failed = Vec::new();
    for s in &servers {
        for _ in 0..PS_CONTAINERS {
            bench.meter.stop.check()?;
            let mut run = s.docker(&["run", "-d", "--network", "none", "busybox", "sleep", "1000"]);
            if let Err(e) = run_cleanup(&mut run) {
                if s.name == "tinydocker" {
                    return Err(e.context("docker run -d through tinydocker's service"));
                }
                failed.push(s.name);
                break;
            }
        }
    }
    let mut contenders = vec![Contender::new(
        "docker",
        "docker client alone",
        "docker --version",
        |_| {
            let mut c = Command::new(DOCKER);
            c.arg("--version");
            c
        },
    )];
    for s in &servers {
        let mut c = Contender::new(
            s.name,
            s.label.clone(),
            "docker -H unix://SOCK ps",
            move |_| s.docker(&["ps"]),
        );
        if failed.contains(&s.name) {
            c.failed = Some(format!("docker run -d failed through {}", s.name));
        }
        contenders.push(c);
    }
    // tinydocker's row first: it is the reference of the ratios.
    contenders.swap(0, 1);
    alternate(&mut contenders, bench)?;
    let mut report = report(case, title, &contenders, bench);
    report.rows.extend(missing);
    Ok(report)
}
