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

use std::os::fd::AsFd;

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use crate::sys;

/// Bring `lo` up in the calling thread's network namespace. Returns the errno
/// on failure.
pub fn loopback_up() -> Result<(), i32> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| e as i32)?;
    let flags = sys::interface_flags(sock.as_fd(), c"lo").map_err(|e| e as i32)?;
    sys::set_interface_flags(sock.as_fd(), c"lo", flags | libc::IFF_UP as libc::c_short)
        .map_err(|e| e as i32)
}

#[cfg(test)]
mod tests {
    use nix::sched::{unshare, CloneFlags};

    use super::*;

    fn is_up(flags: libc::c_short) -> bool {
        flags & libc::IFF_UP as libc::c_short != 0
    }

    #[test]
    fn brings_lo_up_in_a_fresh_namespace() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping brings_lo_up_in_a_fresh_namespace: needs root");
            return;
        }
        // A thread of its own: the namespace goes with it.
        std::thread::spawn(|| {
            // Never go on in the host's namespace.
            unshare(CloneFlags::CLONE_NEWNET).expect("unshare");
            let sock = socket(
                AddressFamily::Inet,
                SockType::Datagram,
                SockFlag::empty(),
                None,
            )
            .expect("socket");
            let flags = || sys::interface_flags(sock.as_fd(), c"lo").expect("SIOCGIFFLAGS");
            assert!(!is_up(flags()));
            loopback_up().expect("loopback_up");
            assert!(is_up(flags()));
            // Again: already up is no error.
            loopback_up().expect("loopback_up, again");
        })
        .join()
        .expect("the netns thread");
    }
}
