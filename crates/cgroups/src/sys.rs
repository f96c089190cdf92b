//! The system calls this crate makes beyond std's: `poll(2)`, `inotify(7)`
//! and `fstatfs(2)` through nix, and the raw ones nix has no wrapper for —
//! `pidfd_open(2)`, `pidfd_send_signal(2)` and the two `bpf(2)` commands of
//! the v2 device program — each behind a safe wrapper, so `unsafe` lives in
//! this one module.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{self, AddWatchFlags, InitFlags};
use nix::sys::statfs::{fstatfs, CGROUP2_SUPER_MAGIC};

/// A pidfd for `pid` (`pidfd_open(2)`): it keeps naming this process even
/// after the pid is reused, and polls readable once the process has exited.
pub(crate) fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and a flags word and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Send `signal` to the process behind `pidfd` (`pidfd_send_signal(2)`).
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    // SAFETY: a valid pidfd, a signal number, a null siginfo (meaning "as
    // kill(2) would") and zero flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The time left until `deadline`, in milliseconds for `poll(2)`.
fn poll_timeout(deadline: Instant) -> PollTimeout {
    let left = deadline.saturating_duration_since(Instant::now());
    // Round up so a sub-millisecond remainder still waits instead of spinning.
    let ms = left.as_micros().div_ceil(1000);
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

/// Wait until every fd in `fds` polls readable (for pidfds: the process has
/// exited), or `deadline` passes. Returns how many fds were still pending
/// at the deadline (0 = all done).
pub(crate) fn poll_all_readable(fds: &[OwnedFd], deadline: Instant) -> io::Result<usize> {
    let mut pending: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
        .collect();
    while !pending.is_empty() {
        match poll(&mut pending, poll_timeout(deadline)) {
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno.into()),
            Ok(0) => return Ok(pending.len()),
            Ok(_) => pending.retain(|p| p.revents() == Some(PollFlags::empty())),
        }
    }
    Ok(0)
}

/// An inotify instance watching files for modification — how cgroupfs
/// announces changes of `cgroup.events` (cgroups(7)).
pub(crate) struct Inotify {
    inotify: inotify::Inotify,
}

impl Inotify {
    pub(crate) fn new() -> io::Result<Inotify> {
        let inotify = inotify::Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)?;
        Ok(Inotify { inotify })
    }

    /// Watch `path` for modification (and for its removal).
    pub(crate) fn watch_modify(&self, path: &Path) -> io::Result<()> {
        let mask = AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_DELETE_SELF;
        self.inotify.add_watch(path, mask)?;
        Ok(())
    }

    /// Block until an event arrives or `deadline` passes; drain the queued
    /// events. Returns false on timeout.
    pub(crate) fn wait(&self, deadline: Instant) -> io::Result<bool> {
        let fd = self.inotify.as_fd();
        loop {
            let mut pfd = [PollFd::new(fd, PollFlags::POLLIN)];
            match poll(&mut pfd, poll_timeout(deadline)) {
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(errno.into()),
                Ok(0) => return Ok(false),
                Ok(_) => break,
            }
        }
        // The events only say "something changed": the caller re-reads the
        // file, so their content is dropped (read(2) rather than
        // read_events, which would parse and collect them).
        let mut buf = [0u8; 4096];
        loop {
            match nix::unistd::read(fd, &mut buf) {
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) | Ok(0) => return Ok(true),
                Err(errno) => return Err(errno.into()),
                Ok(_) => {}
            }
        }
    }
}

/// Whether `fd` lies on a cgroup2 filesystem (`fstatfs(2)`).
pub(crate) fn is_cgroup2(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(fstatfs(fd)?.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

// bpf(2) commands, program and attach types (linux/bpf.h).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;

/// The head of `union bpf_attr` for `BPF_PROG_LOAD`, up to the fields
/// used; the kernel zero-fills the rest.
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// `union bpf_attr` for `BPF_PROG_ATTACH`.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// `bpf(cmd, attr, sizeof *attr)`; the result (an fd, or 0) or -1.
///
/// # Safety
///
/// `attr` must be the attribute struct of `cmd` and every pointer in it
/// valid for the kernel to read for the duration of the call.
unsafe fn bpf<T>(cmd: libc::c_int, attr: &T) -> io::Result<libc::c_long> {
    // SAFETY: the caller vouches for attr; its size goes along.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *const T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// Load `insns` as a `BPF_PROG_TYPE_CGROUP_DEVICE` program named `name`
/// (at most 15 of `[A-Za-z0-9_.]`) under `license`; the program's fd.
pub(crate) fn bpf_load_device_program(
    insns: &[crate::v2::bpf::Insn],
    license: &CStr,
    name: &str,
) -> io::Result<OwnedFd> {
    let mut prog_name = [0u8; 16];
    let len = name.len().min(prog_name.len() - 1);
    prog_name[..len].copy_from_slice(&name.as_bytes()[..len]);
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
        prog_name,
    };
    // SAFETY: the BPF_PROG_LOAD attributes; insns (bpf_insn layout,
    // insn_cnt of them) and the NUL-terminated license outlive the call.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &attr)? };
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attach the device program `prog` to the cgroup whose directory is open
/// as `cgroup`, next to any others (`BPF_F_ALLOW_MULTI`). The attachment
/// holds a reference: `prog` may be closed afterwards.
pub(crate) fn bpf_attach_device_program(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
) -> io::Result<()> {
    let attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    // SAFETY: the BPF_PROG_ATTACH attributes, holding no pointers.
    unsafe { bpf(BPF_PROG_ATTACH, &attr)? };
    Ok(())
}

/// Whether `err` is `errno`.
pub(crate) fn is_errno(err: &io::Error, errno: i32) -> bool {
    err.raw_os_error() == Some(errno)
}

/// How long kill and freeze waits may take before giving up.
pub(crate) const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
