//! `linux.sysctl`: kernel parameters the init writes under `/proc/sys`
//! before it pivots. Only those a namespace of the container's own
//! confines are allowed (runc's rule): `net.*` with a network namespace of
//! its own, the System V IPC and POSIX message queue ones with an IPC
//! namespace, the host and domain names with a UTS namespace. Anything
//! else would change the host.

use std::collections::HashMap;

use super::namespaces::NamespacePlan;
use crate::error::{invalid, Result};

const IPC_KEYS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The sysctls as (`/proc/sys/...` path, value), checked, sorted by key.
pub fn sysctls(
    sysctl: Option<&HashMap<String, String>>,
    ns: &NamespacePlan,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (key, value) in sysctl.into_iter().flatten() {
        let dotted = key.replace('/', ".");
        let well_formed = !dotted.is_empty()
            && dotted.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        if !well_formed {
            return Err(invalid!("sysctl {key:?}: not a sysctl name"));
        }
        let confined = if dotted.starts_with("net.") {
            ns.own_network()
        } else if IPC_KEYS.contains(&dotted.as_str()) || dotted.starts_with("fs.mqueue.") {
            ns.own_ipc()
        } else if dotted == "kernel.hostname" || dotted == "kernel.domainname" {
            ns.own_uts()
        } else {
            false
        };
        if !confined {
            return Err(invalid!(
                "sysctl {key:?} is not in a separate kernel namespace of the container: it would change the host"
            ));
        }
        if value.contains('\0') {
            return Err(invalid!("sysctl {key:?}: the value holds a NUL byte"));
        }
        out.push((
            format!("/proc/sys/{}", dotted.replace('.', "/")),
            value.clone(),
        ));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinydocker_ns::Namespaces;

    fn plan(clone: Namespaces) -> NamespacePlan {
        NamespacePlan {
            clone,
            new_cgroup: false,
            join: vec![],
            join_pid: None,
            user: None,
        }
    }

    #[test]
    fn only_namespaced_sysctls() {
        let all = plan(Namespaces::CONTAINER);
        let map = |k: &str| HashMap::from([(k.to_string(), "1".to_string())]);
        assert_eq!(
            sysctls(Some(&map("net.ipv4.ip_unprivileged_port_start")), &all).unwrap(),
            [(
                "/proc/sys/net/ipv4/ip_unprivileged_port_start".to_string(),
                "1".to_string()
            )]
        );
        sysctls(Some(&map("kernel.shmmax")), &all).unwrap();
        sysctls(Some(&map("fs.mqueue.msg_max")), &all).unwrap();
        let host_net = plan(Namespaces::CONTAINER.without(Namespaces::NET));
        for (key, ns) in [
            ("net.ipv4.ip_forward", &host_net),
            ("kernel.panic", &all),
            ("vm.overcommit_memory", &all),
            ("net/../../kernel/panic", &all),
            ("net..x", &all),
            ("", &all),
        ] {
            assert!(sysctls(Some(&map(key)), ns).is_err(), "{key}");
        }
    }
}
