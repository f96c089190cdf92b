//! Timing one command: wall time until the process exits, CPU time of its
//! whole process tree, peak resident memory — all from wait4(2)'s rusage —
//! and what it printed (kept in memfds, so no pipe can fill up or be held
//! open by a daemon the command leaves behind).
//!
//! The whole tree: a runtime may leave processes that outlive it for a
//! moment (podman's conmon runs the container and the cleanup after
//! `podman run` has returned; they are orphans, not its children). For
//! [`Tree::Whole`] the bench is a child subreaper (PR_SET_CHILD_SUBREAPER,
//! prctl(2)) while the command runs: such orphans become the bench's
//! children, and it waits for them and adds their CPU time. The wall time
//! still ends when the command itself exits — that is what a user waits for.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::signals::Interrupt;
use super::taskstats::ExitStats;

/// What measuring needs: the stop signals to watch, and where peak memory
/// comes from — taskstats (see `taskstats.rs`), or where the kernel has
/// none, wait4's ru_maxrss, which is never below the bench's own resident
/// size at the spawn.
pub struct Meter {
    pub stop: Interrupt,
    pub exits: Option<ExitStats>,
}

impl Meter {
    pub fn rss_source(&self) -> &'static str {
        match self.exits {
            Some(_) => "taskstats hiwater_rss of the runtime's own process at its exit",
            None => "wait4 ru_maxrss (taskstats unavailable): includes the bench's own resident size at the spawn",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub wall_ms: f64,
    /// User + system time of the process and the descendants it (or, for
    /// [`Tree::Whole`], the bench) waited for.
    pub cpu_ms: f64,
    /// Peak resident set of the command's own process (not of its
    /// descendants): see [`Meter`]. None when its record was lost.
    pub peak_rss_kib: Option<i64>,
    pub stdout: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// Wait for orphans the command leaves and count their CPU time.
    Whole,
    /// The command alone: it starts something long-lived (`run -d`), which
    /// must not be waited for.
    Direct,
}

fn memfd(name: &std::ffi::CStr) -> Result<File> {
    // SAFETY: a valid C string; we own the descriptor returned.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn read_all(mut file: File) -> String {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut text);
    text
}

pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The bench's own children, as the kernel lists them per thread.
fn children() -> BTreeSet<i32> {
    let mut pids = BTreeSet::new();
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return pids;
    };
    for task in tasks.flatten() {
        if let Ok(list) = fs::read_to_string(task.path().join("children")) {
            pids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    pids
}

/// PR_SET_CHILD_SUBREAPER for as long as it lives.
struct Subreaper;

impl Subreaper {
    fn on() -> Result<Subreaper> {
        // SAFETY: prctl with an integer argument.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error()).context("PR_SET_CHILD_SUBREAPER");
        }
        Ok(Subreaper)
    }
}

impl Drop for Subreaper {
    fn drop(&mut self) {
        // SAFETY: prctl with an integer argument.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) };
    }
}

fn cpu_ms(usage: &libc::rusage) -> f64 {
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Reap `pid` (it has exited, or will): its wait status and rusage.
fn reap(pid: i32) -> Result<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain data, filled by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child with valid output pointers.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            return Ok((status, usage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err).with_context(|| format!("wait4 {pid}"));
        }
    }
}

fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// A command that ran and failed.
#[derive(Debug)]
pub struct CommandFailed {
    pub command: String,
    /// "exit code 1", "killed by signal 9".
    pub how: String,
    /// The last line it wrote to stderr.
    pub last_line: String,
}

impl std::fmt::Display for CommandFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` failed ({}): {}",
            self.command, self.how, self.last_line
        )
    }
}

impl std::error::Error for CommandFailed {}

/// An error in a few words for a table row: a failed command's exit and
/// last line of stderr, without the command line.
pub fn short_error(err: &anyhow::Error) -> String {
    match err.downcast_ref::<CommandFailed>() {
        Some(f) => format!("{}: {}", f.how, f.last_line),
        None => format!("{err:#}"),
    }
}

/// Run `cmd` to completion with stdin from /dev/null; time it. Fails when
/// it exits with a non-zero status (the error holds its stderr), or with
/// [`super::signals::Interrupted`] when a stop signal arrives (the command
/// is then killed).
pub fn measure(cmd: &mut Command, tree: Tree, meter: &Meter) -> Result<Sample> {
    let stop = &meter.stop;
    stop.check()?;
    let out = memfd(c"bench-stdout")?;
    let err = memfd(c"bench-stderr")?;
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(err.try_clone()?);
    let subreaper = match tree {
        Tree::Whole => Some(Subreaper::on()?),
        Tree::Direct => None,
    };
    let before = children();
    if let Some(exits) = &meter.exits {
        exits.drain();
    }
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("start {}", describe(cmd)))?;
    let pid = child.id() as i32;
    // Our unreaped child: the pid cannot be reused before we wait for it.
    let pidfd = pidfd_open(pid).context("pidfd_open")?;
    if let Err(e) = stop.wait_exit(pidfd.as_fd()) {
        // A second stop signal: no more waiting.
        // SAFETY: signalling our own unreaped child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = reap(pid);
        return Err(e);
    }
    let wall = start.elapsed();
    let (status, usage) = reap(pid)?;
    let peak_rss_kib = match &meter.exits {
        Some(exits) => exits.peak_rss_kib(pid),
        None => Some(usage.ru_maxrss),
    };
    let mut cpu = cpu_ms(&usage);
    if subreaper.is_some() {
        // Orphans of the command's tree were reparented to us as their
        // parents exited; each may orphan more as it exits.
        loop {
            let new: Vec<i32> = children().difference(&before).copied().collect();
            if new.is_empty() {
                break;
            }
            for orphan in new {
                if let Ok(fd) = pidfd_open(orphan) {
                    stop.wait_exit(fd.as_fd())?;
                }
                let (_, usage) = reap(orphan)?;
                cpu += cpu_ms(&usage);
            }
        }
    }
    drop(subreaper);
    // A stop signal while it ran: it has finished, now stop.
    stop.check()?;
    let stdout = read_all(out);
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let stderr = read_all(err);
        let how = if libc::WIFEXITED(status) {
            format!("exit code {}", libc::WEXITSTATUS(status))
        } else {
            format!("killed by signal {}", libc::WTERMSIG(status))
        };
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string();
        return Err(CommandFailed {
            command: describe(cmd),
            how,
            last_line: last,
        }
        .into());
    }
    Ok(Sample {
        wall_ms: wall.as_secs_f64() * 1e3,
        cpu_ms: cpu,
        peak_rss_kib,
        stdout,
    })
}

/// Run a cleanup command to completion, whatever signals arrive: it runs in
/// its own process group, so a second Ctrl-C at the terminal does not reach
/// it. Its stdout, or an error with its stderr.
pub fn run_cleanup(cmd: &mut Command) -> Result<String> {
    use std::os::unix::process::CommandExt;
    let out = memfd(c"cleanup-stdout")?;
    let err = memfd(c"cleanup-stderr")?;
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(err.try_clone()?)
        .process_group(0);
    let status = cmd
        .status()
        .with_context(|| format!("start {}", describe(cmd)))?;
    if !status.success() {
        let stderr = read_all(err);
        bail!("`{}` failed ({status}): {}", describe(cmd), stderr.trim());
    }
    Ok(read_all(out))
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Median, min and max wall time, median CPU time, peak RSS of a series.
#[derive(Debug, Clone)]
pub struct Stats {
    pub n: usize,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub cpu_median_ms: f64,
    /// The largest of the samples' peaks (None if none had one).
    pub peak_rss_kib: Option<i64>,
}

impl Stats {
    pub fn of(samples: &[Sample]) -> Stats {
        let wall: Vec<f64> = samples.iter().map(|s| s.wall_ms).collect();
        let cpu: Vec<f64> = samples.iter().map(|s| s.cpu_ms).collect();
        Stats {
            n: samples.len(),
            median_ms: median(&wall),
            min_ms: wall.iter().copied().fold(f64::INFINITY, f64::min),
            max_ms: wall.iter().copied().fold(0.0, f64::max),
            cpu_median_ms: median(&cpu),
            peak_rss_kib: samples.iter().filter_map(|s| s.peak_rss_kib).max(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "runs": self.n,
            "median_ms": round3(self.median_ms),
            "min_ms": round3(self.min_ms),
            "max_ms": round3(self.max_ms),
            "cpu_median_ms": round3(self.cpu_median_ms),
            "peak_rss_kib": self.peak_rss_kib,
        })
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Median of the ratios a[i] / b[i], pair by pair.
pub fn pairwise_ratio(a: &[Sample], b: &[Sample]) -> Option<f64> {
    let ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter(|(_, y)| y.wall_ms > 0.0)
        .map(|(x, y)| x.wall_ms / y.wall_ms)
        .collect();
    (!ratios.is_empty()).then(|| median(&ratios))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(wall_ms: f64) -> Sample {
        Sample {
            wall_ms,
            cpu_ms: wall_ms / 2.0,
            peak_rss_kib: Some(wall_ms as i64),
            stdout: String::new(),
        }
    }

    #[test]
    fn median_of_odd_and_even_series() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn stats_and_ratios() {
        let a = [sample(10.0), sample(30.0), sample(20.0)];
        let b = [sample(5.0), sample(10.0), sample(10.0)];
        let s = Stats::of(&a);
        assert_eq!((s.median_ms, s.min_ms, s.max_ms), (20.0, 10.0, 30.0));
        assert_eq!(s.cpu_median_ms, 10.0);
        assert_eq!(s.peak_rss_kib, Some(30));
        // 2, 3, 2: the median of the pairs, not the ratio of the medians.
        assert_eq!(pairwise_ratio(&a, &b), Some(2.0));
        assert_eq!(pairwise_ratio(&a, &[]), None);
    }
}
