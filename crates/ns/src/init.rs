//! A minimal init for pid 1 (`run --init`): the container's first process
//! forks the command and stays behind it, forwarding signals and reaping.
//!
//! Without it the user's command is pid 1 of its namespace: the kernel
//! drops the signals it has no handler for (a `stop` must wait for its
//! timeout and kill), and orphans reparented to it stay zombies unless it
//! reaps them. This init blocks every signal and takes them one by one with
//! `sigwaitinfo(2)`: no handlers, no allocation (it is a copy of the
//! runtime between clone and exec, see [`crate::child`]).

use std::convert::Infallible;
use std::os::fd::RawFd;

use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::sys::wait::WaitPidFlag;
use nix::unistd::{fork, ForkResult};

use crate::sys;

/// Fork; the child runs `command` (which resets its signal mask and execs,
/// or reports its failure and exits). The caller stays as the init: every
/// signal it gets goes on to the command, every exited child is reaped,
/// and when the command ends the init exits with its code (128+N for a
/// signal N, as a shell reports it). `channel`: the handshake fd, closed
/// in the init so that the runtime sees the command's exec, not the init's
/// lingering copy. Returns only if the fork fails, with its errno.
pub fn fork_and_reap(channel: RawFd, command: impl FnOnce() -> Infallible) -> i32 {
    // Blocked before the fork, so no signal is missed in between (the
    // command empties its mask before exec).
    let all = SigSet::all();
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&all), None);
    // SAFETY: a single-threaded process forks; the child only makes system
    // calls before exec.
    let pid = match unsafe { fork() } {
        Ok(ForkResult::Parent { child }) => child.as_raw(),
        Ok(ForkResult::Child) => 0,
        Err(e) => return e as i32,
    };
    if pid == 0 {
        command();
    }
    // The init keeps nothing of the runtime's: not the handshake (the
    // runtime reads the command's exec as its end of file), nor any other
    // fd the runtime had open (pipes whose readers wait for their end).
    if sys::close_range(3, u32::MAX, 0).is_err() {
        crate::child::close(channel);
    }
    loop {
        let Ok(sig) = sys::sigwaitinfo(&all) else {
            continue;
        };
        if sig != libc::SIGCHLD {
            // The command is not reaped yet, so its pid is still its own.
            let _ = sys::kill(pid, sig);
            continue;
        }
        while let Ok(Some((reaped, status))) = sys::waitpid(-1, WaitPidFlag::WNOHANG) {
            if reaped == pid {
                let code = if libc::WIFSIGNALED(status) {
                    128 + libc::WTERMSIG(status)
                } else {
                    libc::WEXITSTATUS(status)
                };
                crate::child::exit(code);
            }
        }
    }
}
