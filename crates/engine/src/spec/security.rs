//! `process.capabilities`, `process.user` and `process.noNewPrivileges`
//! of a spec as the security crate's [`Privileges`], which the child
//! applies; and capability sets in the spec's form.

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process};
use tinydocker_security::caps::{CapSet, CapSets, Identity, Privileges};

use crate::error::{invalid, Result};

/// The spec's capabilities by number (`capabilities(7)`), in the order of
/// [`caps::NAMES`].
const BY_NUMBER: [Capability; 41] = {
    use Capability::*;
    [
        Chown,
        DacOverride,
        DacReadSearch,
        Fowner,
        Fsetid,
        Kill,
        Setgid,
        Setuid,
        Setpcap,
        LinuxImmutable,
        NetBindService,
        NetBroadcast,
        NetAdmin,
        NetRaw,
        IpcLock,
        IpcOwner,
        SysModule,
        SysRawio,
        SysChroot,
        SysPtrace,
        SysPacct,
        SysAdmin,
        SysBoot,
        SysNice,
        SysResource,
        SysTime,
        SysTtyConfig,
        Mknod,
        Lease,
        AuditWrite,
        AuditControl,
        Setfcap,
        MacOverride,
        MacAdmin,
        Syslog,
        WakeAlarm,
        BlockSuspend,
        AuditRead,
        Perfmon,
        Bpf,
        CheckpointRestore,
    ]
};

/// The names of every capability tinydocker knows (`CAP_CHOWN`, ...).
pub fn capability_names() -> Vec<&'static str> {
    tinydocker_security::caps::NAMES.to_vec()
}

/// A capability set in the spec's form.
pub fn caps_to_spec(set: CapSet) -> Capabilities {
    (0..BY_NUMBER.len())
        .filter(|n| set.contains(*n as u32))
        .map(|n| BY_NUMBER[n])
        .collect()
}

/// A spec's capability set ("an unknown capability is an error": the spec
/// does not parse then).
pub fn caps_from_spec(set: Option<&Capabilities>) -> Result<CapSet> {
    let mut out = CapSet(0);
    for cap in set.into_iter().flatten() {
        let number = BY_NUMBER
            .iter()
            .position(|c| c == cap)
            .ok_or_else(|| invalid!("capability CAP_{cap} is not known to tinydocker"))?;
        out = out.with(number as u32);
    }
    Ok(out)
}

/// The five sets of `capabilities` (absent: none at all, as runc reads it).
pub fn capsets_from_spec(c: Option<&LinuxCapabilities>) -> Result<CapSets> {
    let Some(c) = c else {
        return Ok(CapSets::default());
    };
    Ok(CapSets {
        bounding: caps_from_spec(c.bounding().as_ref())?,
        effective: caps_from_spec(c.effective().as_ref())?,
        permitted: caps_from_spec(c.permitted().as_ref())?,
        inheritable: caps_from_spec(c.inheritable().as_ref())?,
        ambient: caps_from_spec(c.ambient().as_ref())?,
    })
}

/// The five sets in the spec's form (empty ones left out).
pub fn capsets_to_spec(sets: &CapSets) -> LinuxCapabilities {
    let set = |s: CapSet| (s.0 != 0).then(|| caps_to_spec(s));
    let mut c = LinuxCapabilities::default();
    c.set_bounding(set(sets.bounding));
    c.set_effective(set(sets.effective));
    c.set_permitted(set(sets.permitted));
    c.set_inheritable(set(sets.inheritable));
    c.set_ambient(set(sets.ambient));
    c
}

/// What the child applies to become the spec's process: its capability
/// sets, user and groups, and no_new_privs. `current_bounding` is this
/// runtime's own bounding set ([`tinydocker_security::caps::current_bounding`]): what the
/// child drops from.
pub fn privileges(process: &Process, current_bounding: CapSet) -> Result<Privileges> {
    let user = process.user();
    Ok(Privileges {
        sets: capsets_from_spec(process.capabilities().as_ref())?,
        identity: Identity {
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
        },
        no_new_privs: process.no_new_privileges().unwrap_or(false),
        current_bounding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinydocker_security::caps;

    #[test]
    fn the_table_follows_the_capability_numbers() {
        assert_eq!(BY_NUMBER.len(), caps::NAMES.len());
        for (cap, name) in BY_NUMBER.iter().zip(caps::NAMES) {
            assert_eq!(format!("CAP_{cap}"), name);
        }
    }

    #[test]
    fn capability_sets_round_trip() {
        let sets = CapSets {
            ambient: CapSet::default_set().with(12),
            ..CapSets::plain(CapSet::ALL)
        };
        let spec = capsets_to_spec(&sets);
        assert!(spec.inheritable().is_none());
        assert_eq!(capsets_from_spec(Some(&spec)).unwrap(), sets);
        let all = caps_to_spec(CapSet::ALL);
        assert_eq!(all.len(), caps::NAMES.len());
        assert_eq!(caps_from_spec(Some(&all)).unwrap(), CapSet::ALL);
    }
}
