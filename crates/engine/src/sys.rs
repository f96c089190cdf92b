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

/// `open_tree(2)` with `OPEN_TREE_CLONE`: a detached copy of the mount at
/// `path` (not the mounts below it), which goes when the descriptor is
/// closed.
pub(crate) fn clone_mount(path: &std::ffi::CStr) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    // SAFETY: open_tree with a NUL-terminated path that outlives the call;
    // the returned fd is owned from here.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}
