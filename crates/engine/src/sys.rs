//! The system calls the engine makes that `nix` has no wrapper for, each
//! behind a small safe function.

use std::io;

/// Fill `buf` from the kernel's random source (`getrandom(2)`).
pub(crate) fn getrandom(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: getrandom writes at most `rest.len()` bytes into `rest`.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n > 0 {
            filled += n as usize;
        }
    }
}

/// `waitpid(2)` for the raw status (`WNOHANG` when `nohang`): nix's
/// decoded status cannot hold a child killed by a real-time signal.
/// None: not exited yet.
pub(crate) fn waitpid(pid: i32, nohang: bool) -> io::Result<Option<i32>> {
    let mut status = 0;
    let flags = if nohang { libc::WNOHANG } else { 0 };
    loop {
        // SAFETY: waitpid with a valid pointer to an int.
        let rc = unsafe { libc::waitpid(pid, &mut status, flags) };
        if rc == pid {
            return Ok(Some(status));
        }
        if rc == 0 {
            return Ok(None);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
