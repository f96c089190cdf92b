//! The seccomp module end to end: the default profile resolved per
//! capability set, compilation and the on-disk cache, and the compiled
//! filter loaded in a forked child.

mod cache;
mod load;
mod resolve;

use tinydocker_security::caps::CapSet;
use tinydocker_security::seccomp::{Arch, Host, KernelVersion};

/// podman's default set plus `names`.
fn caps_with(names: &[&str]) -> CapSet {
    let add: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let caps = CapSet::with_changes(CapSet::default_set(), &add, &[]).unwrap();
    assert!(names.iter().all(|n| caps.contains_name(n)));
    caps
}

/// A fixed host, so snapshots do not depend on the machine.
fn x86_64_host() -> Host {
    Host {
        arch: Arch::X86_64,
        kernel: KernelVersion::new(6, 1),
    }
}
