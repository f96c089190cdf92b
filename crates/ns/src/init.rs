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

/// Fork; the child runs `command` (which resets its signal mask and execs,
/// or reports its failure and exits). The caller stays as the init: every
/// signal it gets goes on to the command, every exited child is reaped,
/// and when the command ends the init exits with its code (128+N for a
/// signal N, as a shell reports it). `channel`: the handshake fd, closed
/// in the init so that the runtime sees the command's exec, not the init's
/// lingering copy. Returns only if the fork fails, with its errno.
pub fn fork_and_reap(channel: RawFd, command: impl FnOnce() -> Infallible) -> i32 {
    // SAFETY: sigfillset on a local set; sigprocmask with valid pointers.
    // Blocked before the fork, so no signal is missed in between (the
    // command empties its mask before exec).
    let all = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        all
    };
    // SAFETY: a single-threaded process forks; the child only makes system
    // calls before exec.
    let pid = unsafe { libc::fork() };
    match pid {
        0 => {
            command();
        }
        p if p < 0 => return crate::child::errno(),
        _ => {}
    }
    // The init keeps nothing of the runtime's: not the handshake (the
    // runtime reads the command's exec as its end of file), nor any other
    // fd the runtime had open (pipes whose readers wait for their end).
    // SAFETY: close_range closes fds from 3 up; the init uses none.
    if unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) } != 0 {
        // SAFETY: closes the handshake fd at least.
        unsafe { libc::close(channel) };
    }
    loop {
        // SAFETY: siginfo_t is plain old data; zeroed is valid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid set and output pointers.
        let sig = unsafe { libc::sigwaitinfo(&all, &mut info) };
        if sig < 0 {
            continue;
        }
        if sig != libc::SIGCHLD {
            // SAFETY: kill with a pid and signal number; the command is
            // not reaped yet, so its pid is still its own.
            unsafe { libc::kill(pid, sig) };
            continue;
        }
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid status pointer.
            let reaped = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if reaped <= 0 {
                break;
            }
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
