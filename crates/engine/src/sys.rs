//! The system calls the engine makes that `nix` has no wrapper for, each
//! behind a small safe function.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Whether directory `path` is marked opaque for overlayfs
/// (`trusted.overlay.opaque=y`; lgetxattr(2)).
pub(crate) fn overlay_opaque(path: &Path) -> bool {
    let Ok(path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mut value = [0u8; 2];
    // SAFETY: both names are NUL-terminated strings that outlive the call;
    // the kernel writes at most `value.len()` bytes into `value`.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

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
