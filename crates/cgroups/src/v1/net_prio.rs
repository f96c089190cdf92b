//! v1 `net_prio` controller: the priority of the cgroup's traffic on each
//! network interface (`net_prio.ifpriomap`, one "IFNAME PRIORITY" per
//! write); see the kernel's `cgroup-v1/net_prio.rst`. cgroup v2 has no
//! such controller.

use std::path::Path;

use crate::common::{write_all, Controller, Write};
use crate::{Error, Resources};

pub(crate) struct NetPrio;

impl Controller for NetPrio {
    const NAME: &'static str = "net_prio";

    fn plan(res: &Resources) -> Vec<Write> {
        res.net_prio_ifpriomap
            .iter()
            .map(|p| {
                Write::new(
                    Self::NAME,
                    "net_prio.ifpriomap",
                    format!("{} {}", p.interface, p.priority),
                )
            })
            .collect()
    }

    /// The kernel looks each interface up in the initial network
    /// namespace, whatever namespace the writer or the container is in,
    /// and answers ENODEV when there is none of that name.
    fn apply(dir: &Path, res: &Resources) -> Result<(), Error> {
        write_all(dir, &Self::plan(res)).map_err(|err| match err {
            Error::Write { value, source, .. } if source.raw_os_error() == Some(libc::ENODEV) => {
                let interface = value.split(' ').next().unwrap_or_default();
                Error::InvalidResources {
                    reason: format!(
                        "network priority for {interface}: the host has no interface of that name"
                    ),
                }
            }
            err => err,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NetPriority;

    #[test]
    fn one_write_per_interface() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("net_prio.ifpriomap"), "lo 0\n").unwrap();
        let res = Resources {
            net_prio_ifpriomap: vec![
                NetPriority {
                    interface: "eth0".into(),
                    priority: 5,
                },
                NetPriority {
                    interface: "lo".into(),
                    priority: 3,
                },
            ],
            ..Resources::default()
        };
        NetPrio::apply(dir.path(), &res).unwrap();
        // A regular file keeps both writes, one after the other; the
        // kernel's takes each as one entry.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("net_prio.ifpriomap")).unwrap(),
            "eth0 5lo 3"
        );
    }
}
