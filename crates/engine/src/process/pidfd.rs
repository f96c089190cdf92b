//! A container's processes by pidfd (`pidfd_open(2)`): opened only after
//! the pid's start time was checked, so a recycled pid is never signalled
//! or waited on, and waiting is a `poll(2)` on the pidfd, not a sleep loop.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::proc::pid_start_time;
use crate::store::{deadline, readable};

/// A live process, by pidfd.
#[derive(Debug)]
pub struct Process {
    fd: OwnedFd,
}

impl Process {
    /// The live process `pid` started at `start`, or None if it is gone
    /// (or the pid now names another process).
    pub fn open(pid: i32, start: u64) -> Option<Process> {
        if pid <= 0 {
            return None;
        }
        let fd = tinydocker_ns::pidfd::open(pid).ok()?;
        // Checked after opening: from here on the pidfd names this process.
        (pid_start_time(pid) == Some(start)).then_some(Process { fd })
    }

    /// Send `signal`; a process that has exited meanwhile is no error.
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        match tinydocker_ns::pidfd::send_signal(self.fd.as_fd(), signal) {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// Wait until the process has exited; false if `timeout` passed first.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        readable([Some(self.fd.as_fd())], deadline(timeout)).is_ok_and(|[ready]| ready)
    }

    /// Whether it has exited already.
    pub fn exited(&self) -> bool {
        self.wait(Some(Duration::ZERO))
    }
}

impl AsFd for Process {
    /// The pidfd: readable once the process has exited; also what enters
    /// the process's namespaces (`setns(2)`).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_opens_and_waits() {
        let me = std::process::id() as i32;
        let start = pid_start_time(me).unwrap();
        let p = Process::open(me, start).expect("this process");
        assert!(!p.wait(Some(Duration::from_millis(1))), "alive");
        assert!(!p.exited());
        assert!(Process::open(me, start + 1).is_none(), "wrong start time");
    }
}
