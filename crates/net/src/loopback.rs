//! The loopback interface of a fresh network namespace.
//!
//! A new network namespace (`network_namespaces(7)`) starts with one
//! interface, `lo`, and it is down. [`loopback_up`] brings it up with two
//! `ioctl`s on a datagram socket (`netdevice(7)`): cheap enough to run in the
//! container's child before exec, and allocation-free, so it may.
//!
//! ```no_run
//! // Inside a fresh network namespace:
//! tinydocker_net::loopback_up().expect("bring lo up");
//! ```

/// Bring `lo` up in the calling thread's network namespace. Returns the errno
/// on failure.
pub fn loopback_up() -> Result<(), i32> {
    // SAFETY: socket() has no memory preconditions.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(errno());
    }
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the flags into a valid ifreq.
    let mut rc = unsafe { libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) };
    if rc == 0 {
        // SAFETY: the union member ifru_flags is the one SIOCGIFFLAGS filled.
        unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
        // SAFETY: SIOCSIFFLAGS reads a valid ifreq.
        rc = unsafe { libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) };
    }
    let result = if rc == 0 { Ok(()) } else { Err(errno()) };
    // SAFETY: closes the socket opened above.
    unsafe { libc::close(sock) };
    result
}

fn errno() -> i32 {
    // SAFETY: __errno_location always returns a valid thread-local pointer.
    unsafe { *libc::__errno_location() }
}
