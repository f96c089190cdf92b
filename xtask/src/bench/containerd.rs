//! Case 8, `ctr-run`: tinydocker-runtime as containerd's runc binary,
//! beside runc, on a private containerd started for the case:
//!
//! `ctr -n NS --address SOCK run --rm --runc-binary RUNTIME --rootfs ROOTFS ID /bin/true`
//!
//! containerd runs from a config in the scratch directory (`version = 2`,
//! its root, state, gRPC socket and opt directory there, the CRI plugin
//! disabled); the bench waits for its socket before the first run (polling
//! is setup, not measured). ROOTFS is a copy of the busybox rootfs there:
//! ctr's spec has a writable root and a `/run` mount, which the runtimes
//! create in it, and the cached rootfs the other cases use stays as it is. Each runtime has a namespace of its own
//! (`tdbench-PID-RUNTIME`), so the state root the shim gives it
//! (`--root /run/containerd/runc/NS`) and the cgroups ctr puts its
//! containers in (`/NS/ID`) hold only its own. The runtimes alternate, forth
//! and back, after the warm-up rounds. No target: the medians and their
//! ratio are reported.
//!
//! Wall time runs until `ctr` exits; CPU time and peak RSS are ctr's own
//! (the work is containerd's, the shim's and the runtime's).
//!
//! Afterwards (also after an error or an interruption) containerd is
//! stopped, and what the case leaves is checked and removed: containers and
//! tasks containerd still knows, shims still running for this containerd,
//! containers in a runtime's state root (then the root), cgroups below
//! `/NS`, shim sockets in /run/containerd/s, ctr's fifos in
//! /run/containerd/fifo, and those directories of /run/containerd that did
//! not exist before. Anything found fails the bench (as left behind); the
//! empty `/NS` cgroups and the state roots are removed without comment.
//!
//! Not installed (`containerd` or `ctr` not on PATH): a "not run" row.

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::cases::{alternate, report, Contender};
use super::measure::{measure, pidfd_open, run_cleanup, short_error, Tree};
use super::peers::{self, Oci};
use super::report::CaseReport;
use super::signals::is_interrupted;
use super::teardown::{cgroup_mounts, remove_cgroup_tree, remove_tree};
use super::{Bench, Case};

/// containerd's version when containerd and ctr are installed; otherwise
/// a line in `missing`.
pub fn installed(missing: &mut Vec<(&'static str, String)>) -> Option<String> {
    // "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
    let version = peers::version("containerd").map(|line| {
        line.split_whitespace()
            .nth(2)
            .map_or(line.clone(), str::to_string)
    });
    match (version, peers::version("ctr")) {
        (Some(v), Some(_)) => Some(v),
        _ => {
            missing.push((
                "containerd",
                "containerd and ctr not installed (apt-get install containerd)".into(),
            ));
            None
        }
    }
}

/// Where shims listen (containerd 1.6: `defaults.DefaultStateDir`, whatever
/// the config says) and ctr makes its fifos.
const RUN_DIR: &str = "/run/containerd";

/// One runtime's side: its namespace and the program that reads its state
/// root.
struct Side {
    ns: String,
    runtime: PathBuf,
}

/// The private containerd, and the cleanup of what the case makes. Dropped
/// without [`Daemon::finish`] (an error, an interruption), it cleans up and
/// prints what it found.
struct Daemon {
    child: Option<Child>,
    dir: PathBuf,
    sock: PathBuf,
    sides: Vec<Side>,
    /// The container ids each side may have used.
    ids: Vec<String>,
    /// Directories of /run/containerd that did not exist before, deepest
    /// first: removed if empty at the end.
    made: Vec<PathBuf>,
    finished: bool,
}

impl Daemon {
    fn start(bench: &Bench, dir: PathBuf, sides: Vec<Side>, ids: Vec<String>) -> Result<Daemon> {
        let made = ["fifo", "s", "runc", ""]
            .iter()
            .map(|d| Path::new(RUN_DIR).join(d))
            .filter(|d| !d.exists())
            .collect();
        fs::create_dir_all(&dir)?;
        let sock = dir.join("containerd.sock");
        let config = format!(
            "version = 2\nroot = {root:?}\nstate = {state:?}\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\n[grpc]\n  address = {sock:?}\n\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = {opt:?}\n",
            root = dir.join("root"),
            state = dir.join("state"),
            opt = dir.join("opt"),
        );
        fs::write(dir.join("config.toml"), config)?;
        let log = fs::File::create(dir.join("containerd.log"))?;
        let mut daemon = Daemon {
            child: None,
            dir,
            sock,
            sides,
            ids,
            made,
            finished: false,
        };
        // Its own process group: a Ctrl-C at the terminal is the bench's
        // to handle, containerd is stopped by the cleanup.
        let child = Command::new("containerd")
            .arg("--config")
            .arg(daemon.dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("start containerd")?;
        daemon.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            bench.meter.stop.check()?;
            if let Some(status) = daemon.child.as_mut().and_then(|c| c.try_wait().ok()?) {
                daemon.child = None;
                bail!("containerd exited ({status}): {}", daemon.last_log_line());
            }
            if UnixStream::connect(&daemon.sock).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "containerd: no socket after 20 s: {}",
                    daemon.last_log_line()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        measure(
            &mut daemon.ctr(None, &["version"]),
            Tree::Whole,
            &bench.meter,
        )
        .context("ctr version")?;
        Ok(daemon)
    }

    fn last_log_line(&self) -> String {
        fs::read_to_string(self.dir.join("containerd.log"))
            .unwrap_or_default()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string()
    }

    fn ctr(&self, ns: Option<&str>, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        if let Some(ns) = ns {
            cmd.args(["-n", ns]);
        }
        cmd.arg("--address").arg(&self.sock).args(args);
        cmd
    }

    /// Stop containerd and remove what the case made; what was left
    /// behind (or could not be removed), one line each.
    fn finish(&mut self) -> Vec<String> {
        let mut left = Vec::new();
        if std::mem::replace(&mut self.finished, true) {
            return left;
        }
        if self.child.is_some() {
            for side in &self.sides {
                for (what, args) in [
                    ("tasks", ["tasks", "ls", "-q"]),
                    ("containers", ["containers", "ls", "-q"]),
                ] {
                    match run_cleanup(&mut self.ctr(Some(&side.ns), &args)) {
                        Ok(out) if out.trim().is_empty() => {}
                        Ok(out) => left.push(format!(
                            "containerd {what} in {}: {}",
                            side.ns,
                            out.split_whitespace().collect::<Vec<_>>().join(" ")
                        )),
                        Err(e) => left.push(format!("ctr {what} ls: {e:#}")),
                    }
                }
            }
        }
        if let Some(mut child) = self.child.take() {
            if let Err(e) = stop(&mut child, "containerd") {
                left.push(format!("stop containerd: {e:#}"));
            }
        }
        // The shims exit as their task is deleted (`run --rm`).
        left.extend(end_shims(&self.sock));
        for side in &self.sides {
            let root = Path::new(RUN_DIR).join("runc").join(&side.ns);
            if root.exists() {
                let mut list = Command::new(&side.runtime);
                list.arg("--root").arg(&root).args(["list", "-q"]);
                match run_cleanup(&mut list) {
                    Ok(out) if out.trim().is_empty() => {}
                    Ok(out) => left.push(format!(
                        "containers in {}: {}",
                        root.display(),
                        out.split_whitespace().collect::<Vec<_>>().join(" ")
                    )),
                    // runc lists nothing in a root it never made; a root
                    // it cannot read is for the removal to settle.
                    Err(_) => {}
                }
                if let Err(e) = remove_tree(&root) {
                    left.push(format!("{e:#}"));
                }
            }
            // The runtimes remove /NS/ID; /NS is ctr's and stays.
            for mount in cgroup_mounts() {
                let dir = mount.join(&side.ns);
                for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        left.push(format!("cgroup {}", entry.path().display()));
                    }
                }
            }
            if let Err(e) = remove_cgroup_tree(&side.ns) {
                left.push(format!("{e:#}"));
            }
            for id in &self.ids {
                let key = format!("{}/{}/{id}", self.sock.display(), side.ns);
                let socket = Path::new(RUN_DIR)
                    .join("s")
                    .join(hex(&sha256(key.as_bytes())));
                if socket.exists() {
                    left.push(format!("shim socket {} ({id})", socket.display()));
                    let _ = fs::remove_file(&socket);
                }
            }
        }
        // ctr's fifos: /run/containerd/fifo/RANDOM/ID-stdout, ...
        let fifo = Path::new(RUN_DIR).join("fifo");
        for dir in fs::read_dir(&fifo).into_iter().flatten().flatten() {
            let mut ours = false;
            for file in fs::read_dir(dir.path()).into_iter().flatten().flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                if self
                    .ids
                    .iter()
                    .any(|id| name.starts_with(&format!("{id}-")))
                {
                    left.push(format!("fifo {}", file.path().display()));
                    let _ = fs::remove_file(file.path());
                    ours = true;
                }
            }
            if ours {
                let _ = fs::remove_dir(dir.path());
            }
        }
        for dir in &self.made {
            // Empty unless another containerd uses it meanwhile.
            let _ = fs::remove_dir(dir);
        }
        if let Err(e) = remove_tree(&self.dir) {
            left.push(format!("{e:#}"));
        }
        left
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        for line in self.finish() {
            eprintln!("bench: cleanup: ctr-run: {line}");
        }
    }
}

/// The shims of the containerd at `sock` that do not exit within 5 s
/// (they exit as their task is deleted), killed through their pidfds;
/// one line each.
pub(super) fn end_shims(sock: &Path) -> Vec<String> {
    let mut left = Vec::new();
    let shims = shims_of(sock);
    let deadline = Instant::now() + Duration::from_secs(5);
    for (pid, fd) in &shims {
        if !exits_by(fd, deadline) {
            left.push(format!("shim {pid} still running: killed"));
            // SAFETY: pidfd_send_signal on a pidfd we own, no siginfo.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
            exits_by(fd, Instant::now() + Duration::from_secs(5));
        }
    }
    left
}

/// SIGTERM, up to 10 s to exit, then SIGKILL; reaped.
pub(super) fn stop(child: &mut Child, name: &str) -> Result<()> {
    let pid = child.id() as i32;
    // Our unreaped child: its pid is not reused before the wait.
    let fd = pidfd_open(pid).with_context(|| format!("pidfd_open {name}"))?;
    // SAFETY: signalling our own unreaped child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let killed = !exits_by(&fd, Instant::now() + Duration::from_secs(10));
    if killed {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    child.wait().with_context(|| format!("wait for {name}"))?;
    if killed {
        bail!("{name} did not exit within 10 s of SIGTERM: killed");
    }
    Ok(())
}

/// Whether the process of `pidfd` exits before `deadline` (poll(2)).
fn exits_by(pidfd: &std::os::fd::OwnedFd, deadline: Instant) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
        if rc >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return rc > 0;
        }
    }
}

/// The running shims of the containerd at `sock` (`-address SOCK` on
/// their command line), with pidfds.
fn shims_of(sock: &Path) -> Vec<(i32, std::os::fd::OwnedFd)> {
    let sock = sock.as_os_str().as_encoded_bytes();
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let shim = args
            .first()
            .is_some_and(|a| a.windows(15).any(|w| w == b"containerd-shim"));
        let ours = args.windows(2).any(|w| w[0] == b"-address" && w[1] == sock);
        if shim && ours {
            if let Ok(fd) = pidfd_open(pid) {
                found.push((pid, fd));
            }
        }
    }
    found
}

/// `name` on PATH, as an absolute path.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

pub fn ctr_run(bench: &Bench, rootfs: &Path) -> Result<CaseReport> {
    let case = Case::CtrRun;
    let Some(version) = &bench.containerd else {
        return Ok(CaseReport {
            name: case.name(),
            number: case.number(),
            title: title(),
            rows: bench.missing_rows(case),
            notes: Vec::new(),
            extra: serde_json::Value::Null,
        });
    };
    let pid = std::process::id();
    let mut runtimes: Vec<(&Oci, PathBuf)> = vec![(&bench.runtime, bench.runtime.program.clone())];
    if let Some(runc) = &bench.runc {
        let path = which("runc").unwrap_or_else(|| "runc".into());
        runtimes.push((runc, path));
    }
    let sides: Vec<Side> = runtimes
        .iter()
        .map(|(rt, path)| Side {
            ns: format!("tdbench-{pid}-{}", rt.name),
            runtime: path.clone(),
        })
        .collect();
    let id = |i: usize| format!("tdbench-ctr-{i}");
    let ids: Vec<String> = (0..bench.opts.warmup + bench.opts.runs).map(id).collect();
    let mut daemon = match Daemon::start(bench, bench.scratch.join("containerd"), sides, ids) {
        Ok(d) => d,
        Err(e) if is_interrupted(&e) => return Err(e),
        Err(e) => {
            // containerd itself did not come up: rows saying why.
            let why = format!("containerd {version}: {}", short_error(&e));
            let contenders: Vec<Contender> = runtimes
                .iter()
                .map(|(rt, _)| Contender::failed(rt.name, label(rt), String::new(), why.clone()))
                .collect();
            return Ok(report(case, title(), &contenders, bench));
        }
    };
    let rootfs_copy = daemon.dir.join("rootfs");
    crate::run(Command::new("cp").arg("-a").arg(rootfs).arg(&rootfs_copy))
        .context("copy the busybox rootfs")?;
    let rootfs = rootfs_copy.as_path();
    let daemon_ref = &daemon;
    let mut contenders: Vec<Contender> = runtimes
        .iter()
        .zip(&daemon_ref.sides)
        .map(|((rt, path), side)| {
            let ns = side.ns.as_str();
            let mut c = Contender::new(
                rt.name,
                label(rt),
                format!(
                    "ctr -n {ns} --address SOCK run --rm --runc-binary {} --rootfs ROOTFS ID /bin/true",
                    path.display()
                ),
                move |i| {
                    let mut cmd = daemon_ref.ctr(Some(ns), &["run", "--rm", "--runc-binary"]);
                    cmd.arg(path).arg("--rootfs").arg(rootfs).arg(id(i)).arg("/bin/true");
                    cmd
                },
            );
            c.tree = Tree::Direct;
            c
        })
        .collect();
    let result = alternate(&mut contenders, bench);
    let mut report = report(case, title(), &contenders, bench);
    drop(contenders);
    let left = daemon.finish();
    if let Err(e) = result {
        for line in &left {
            eprintln!("bench: cleanup: ctr-run: {line}");
        }
        return Err(e);
    }
    report.notes.push(format!(
        "containerd {version}, private (config, root, state, socket in the scratch directory; CRI disabled); one namespace per runtime; cpu and peak RSS: ctr's own process; x tinydocker: here, over tinydocker-runtime via ctr"
    ));
    let medians: Vec<Option<f64>> = report
        .rows
        .iter()
        .map(|r| r.stats().map(|s| s.median_ms))
        .collect();
    let mut extra = json!({ "containerd": { "version": version, "left_behind": left } });
    if let [Some(td), Some(runc), ..] = medians[..] {
        report.notes.push(format!(
            "tinydocker-runtime / runc, medians: {td:.2} ms / {runc:.2} ms = {:.3} (no target)",
            td / runc
        ));
        extra["median_ratio_tinydocker_runtime_to_runc"] = json!(super::measure::round3(td / runc));
    }
    if !left.is_empty() {
        report
            .notes
            .push(format!("LEFT BEHIND: {}", left.join("; ")));
    }
    report.extra = extra;
    Ok(report)
}

fn label(rt: &Oci) -> String {
    format!("{} {}, via ctr", rt.name, rt.version)
}

fn title() -> String {
    "`ctr run --rm` of `/bin/true` on a private containerd, with each runtime as its runc binary"
        .into()
}

/// SHA-256 (FIPS 180-4) of `data`: the name of a shim's socket.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_names_a_shim_socket_as_containerd_does() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // The name of a live shim's socket in /run/containerd/s.
        assert_eq!(
            hex(&sha256(b"/tmp/h1/containerd.sock/t1/c10")),
            "b48eb3b21e7f3d6de8209eaad44341d54879450e815bd07ed2b037ca6b9ed2fa"
        );
        // Two blocks; `printf %s ... | sha256sum`.
        assert_eq!(
            hex(&sha256(
                b"/tmp/tinydocker-bench-123456/containerd/containerd.sock/tdbench-123456-tinydocker-runtime/tdbench-ctr-22"
            )),
            "3cfc25970510846d2fe7caccc52cf5da22b4141fc8eb7c45d23c51ac64e1bdf9"
        );
    }
}
