//! The system calls nix has no function for, or whose nix function does
//! not fit the cloned child — `prctl(2)`'s `PR_CAPBSET_DROP` and
//! `PR_CAP_AMBIENT`, raw `setgroups(2)`/`setresgid(2)`/`setresuid(2)`,
//! `capset(2)` and `seccomp(2)` — each behind a safe wrapper, so `unsafe`
//! lives in this one module. All are allocation-free and async-signal-safe,
//! for the child between `clone` and `execve(2)`.

use libc::c_ulong;
use nix::errno::Errno;

/// Drop `cap` from the calling thread's bounding set (`PR_CAPBSET_DROP`).
pub(crate) fn capbset_drop(cap: u32) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as c_ulong, 0, 0, 0) };
    Errno::result(rc).map(drop)
}

/// Empty the calling thread's ambient set (`PR_CAP_AMBIENT_CLEAR_ALL`).
pub(crate) fn clear_ambient() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as c_ulong,
            0,
            0,
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// Raise `cap` in the calling thread's ambient set (`PR_CAP_AMBIENT_RAISE`;
/// it must be permitted and inheritable).
pub(crate) fn raise_ambient(cap: u32) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as c_ulong,
            cap as c_ulong,
            0,
            0,
        )
    };
    Errno::result(rc).map(drop)
}

// Raw system calls, not nix's (or glibc's) setgroups/setresgid/setresuid:
// glibc's wrappers would signal every thread the parent had, which this
// cloned child does not have.

/// Set the supplementary groups of the calling thread (`setgroups(2)`).
pub(crate) fn setgroups(groups: &[u32]) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe a valid slice of gid_t.
    let rc = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    Errno::result(rc).map(drop)
}

/// Set the real, effective and saved group ids to `gid` (`setresgid(2)`).
pub(crate) fn setresgid(gid: u32) -> Result<(), Errno> {
    // SAFETY: setresgid takes plain ids.
    let rc = unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) };
    Errno::result(rc).map(drop)
}

/// Set the real, effective and saved user ids to `uid` (`setresuid(2)`).
pub(crate) fn setresuid(uid: u32) -> Result<(), Errno> {
    // SAFETY: setresuid takes plain ids.
    let rc = unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) };
    Errno::result(rc).map(drop)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Set the calling thread's effective, permitted and inheritable sets, one
/// bit per capability number (`capset(2)`; nix has no capability calls).
pub(crate) fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    // Version 3 splits each 64-bit set into two 32-bit halves, low first.
    let half = |set: u64, i: u32| (set >> (32 * i)) as u32;
    let data = [0, 1].map(|i| CapData {
        effective: half(effective, i),
        permitted: half(permitted, i),
        inheritable: half(inheritable, i),
    });
    // SAFETY: a version-3 header and two data structs, as capset(2) wants.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    Errno::result(rc).map(drop)
}

/// Install `program` as a seccomp filter on the calling thread
/// (`seccomp(2)`, `SECCOMP_SET_MODE_FILTER`, with `flags`). At most
/// `u16::MAX` instructions (the caller's programs hold at most 4096).
pub(crate) fn seccomp_set_mode_filter(
    program: &[libc::sock_filter],
    flags: u32,
) -> Result<(), Errno> {
    let prog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `program`, which outlives the call; the
    // kernel copies the program and never writes through the pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as c_ulong,
            flags as c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    // Not Errno::result: with SECCOMP_FILTER_FLAG_TSYNC a failure returns
    // the id of the thread that could not be synchronised, not -1.
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}
