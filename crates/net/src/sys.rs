//! The one call this crate makes that nix has no safe function for: the
//! interface-flags `ioctl`s of `netdevice(7)` (nix only generates `unsafe`
//! ioctl functions), behind safe wrappers so `unsafe` lives in this module.
//! Allocation-free, for [`crate::loopback_up`] in a child before exec.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};

use libc::{c_short, ifreq};
use nix::errno::Errno;

nix::ioctl_readwrite_bad!(siocgifflags, libc::SIOCGIFFLAGS, ifreq);
nix::ioctl_write_ptr_bad!(siocsifflags, libc::SIOCSIFFLAGS, ifreq);

/// An `ifreq` naming `name` (cut to `IFNAMSIZ` bytes; the kernel ends it
/// with a NUL itself), every other byte zero.
fn ifreq(name: &CStr) -> ifreq {
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.to_bytes_with_nul()) {
        *dst = *src as libc::c_char;
    }
    req
}

/// The flags (`IFF_*`) of the interface `name` (`SIOCGIFFLAGS`), asked
/// through any socket `sock`.
pub(crate) fn interface_flags(sock: BorrowedFd<'_>, name: &CStr) -> Result<c_short, Errno> {
    let mut req = ifreq(name);
    // SAFETY: SIOCGIFFLAGS reads the name from and writes the flags into the
    // ifreq it is given, a live local; ifru_flags is then the union member
    // the kernel filled.
    unsafe {
        siocgifflags(sock.as_raw_fd(), &mut req)?;
        Ok(req.ifr_ifru.ifru_flags)
    }
}

/// Set the flags of the interface `name` to `flags` (`SIOCSIFFLAGS`).
pub(crate) fn set_interface_flags(
    sock: BorrowedFd<'_>,
    name: &CStr,
    flags: c_short,
) -> Result<(), Errno> {
    let mut req = ifreq(name);
    req.ifr_ifru.ifru_flags = flags;
    // SAFETY: SIOCSIFFLAGS only reads the ifreq it is given, a live local.
    unsafe { siocsifflags(sock.as_raw_fd(), &req) }?;
    Ok(())
}
