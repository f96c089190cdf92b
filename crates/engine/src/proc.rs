//! What the engine reads of `/proc` (`proc(5)`): a process's start time
//! (liveness is a pid *and* its start time, never a bare pid), this boot's
//! id and start, and the clock.

use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the epoch.
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Read a `/proc` file with one read(2): the kernel makes its text anew for
/// every read, and std's growing reads of a file whose size shows as 0
/// (32, 32, 64, ... bytes) would have it made several times.
pub(crate) fn read_proc(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(16 * 1024);
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// This process's pid and start time, read once per process (a fork's
/// child, a detached container's supervisor, reads its own): it names the
/// runtime in what it makes (a `.making-` directory, the record).
pub fn this_process() -> (i32, u64) {
    static PID: AtomicI32 = AtomicI32::new(0);
    static START: AtomicU64 = AtomicU64::new(0);
    let me = std::process::id() as i32;
    if PID.load(Ordering::Acquire) != me {
        // Two threads racing here both read the same value.
        START.store(pid_start_time(me).unwrap_or(0), Ordering::Relaxed);
        PID.store(me, Ordering::Release);
    }
    (me, START.load(Ordering::Relaxed))
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), read once per process.
pub fn boot_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        read_proc(Path::new("/proc/sys/kernel/random/boot_id"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
}

/// When this boot began, in nanoseconds since the epoch (`btime` of
/// /proc/stat).
pub(crate) fn boot_time() -> u128 {
    read_proc(Path::new("/proc/stat"))
        .ok()
        .and_then(|stat| {
            stat.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|t| t.trim().parse::<u128>().ok())
        })
        .map_or(0, |secs| secs * 1_000_000_000)
}

/// The start time of a live process (clock ticks after boot, field 22 of
/// `/proc/PID/stat`), or None if there is no such process or it has
/// exited and waits to be reaped (a zombie keeps its pid and its start
/// time, but it is no longer running anything).
pub fn pid_start_time(pid: i32) -> Option<u64> {
    let stat = read_proc(Path::new(&format!("/proc/{pid}/stat"))).ok()?;
    // The command name (field 2) may hold spaces and parentheses: skip past the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    // Field 3, the state: Z (zombie) and X (dead) are not running.
    if matches!(fields.next()?, "Z" | "X") {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// The host's name (`/proc/sys/kernel/hostname`), "localhost" when unreadable.
pub fn host_hostname() -> String {
    read_proc(Path::new("/proc/sys/kernel/hostname"))
        .map_or_else(|_| "localhost".into(), |s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_readable() {
        let me = std::process::id() as i32;
        assert!(pid_start_time(me).is_some());
        assert_eq!(pid_start_time(me), pid_start_time(me));
        assert_eq!(pid_start_time(i32::MAX), None);
        assert_eq!(this_process(), (me, pid_start_time(me).unwrap()));
    }
}
