//! The two IPv4 sysctls a bridge network needs (`sysctl(8)`, the kernel's
//! `Documentation/networking/ip-sysctl.rst`, `proc(5)` for `/proc/sys`).
//!
//! `net.ipv4.ip_forward` lets the host route between the bridge and its uplink;
//! `net.ipv4.conf.<iface>.route_localnet` lets packets to `127.0.0.0/8` be
//! DNAT-ed to a container (a published port reached through `127.0.0.1`).
//! Both are per network namespace: they act on the namespace of the caller.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// Turns on IPv4 forwarding (`net.ipv4.ip_forward = 1`) unless it already is.
///
/// Reading first spares the write, so this also works where `/proc/sys` is
/// mounted read-only but forwarding is already on.
///
/// ```no_run
/// tinydocker_net::sysctl::enable_ip_forward()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn enable_ip_forward() -> io::Result<()> {
    set_to_one(Path::new(IP_FORWARD))
}

/// Sets `net.ipv4.conf.<iface>.route_localnet = 1`, so that traffic to
/// `127.0.0.1` DNAT-ed to a container address on `iface` is routed instead of
/// dropped as a martian.
///
/// `iface` must be an interface name (no `/`, not `.` or `..`); anything else
/// is rejected with [`io::ErrorKind::InvalidInput`] before touching `/proc`.
///
/// ```no_run
/// tinydocker_net::sysctl::set_route_localnet("td0")?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_route_localnet(iface: &str) -> io::Result<()> {
    set_to_one(&route_localnet_path(iface)?)
}

fn route_localnet_path(iface: &str) -> io::Result<PathBuf> {
    // The same rules as the kernel's dev_valid_name(): this keeps the name
    // from walking out of /proc/sys/net/ipv4/conf.
    let valid = !iface.is_empty()
        && iface.len() < libc::IFNAMSIZ
        && iface != "."
        && iface != ".."
        && !iface
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace());
    if !valid {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{iface:?} is not a valid interface name"),
        ));
    }
    Ok(Path::new("/proc/sys/net/ipv4/conf")
        .join(iface)
        .join("route_localnet"))
}

fn set_to_one(path: &Path) -> io::Result<()> {
    if fs::read(path)?.trim_ascii() == b"1" {
        return Ok(());
    }
    fs::write(path, b"1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_localnet_path_takes_only_interface_names() {
        assert_eq!(
            route_localnet_path("td0").unwrap(),
            Path::new("/proc/sys/net/ipv4/conf/td0/route_localnet")
        );
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../all",
            "a b",
            "x:1",
            "sixteen-bytes-xx",
        ] {
            let err = route_localnet_path(bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn set_to_one_writes_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("knob");

        fs::write(&path, "0\n").unwrap();
        set_to_one(&path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "1");

        // Already 1 (as /proc prints it, with a newline): not rewritten.
        fs::write(&path, "1\n").unwrap();
        set_to_one(&path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "1\n");
    }
}
