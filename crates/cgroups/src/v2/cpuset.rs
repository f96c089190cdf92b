//! v2 `cpuset` controller (cpuset(7)): `cpuset.cpus` and `cpuset.mems`.
//! Unlike v1, an empty v2 cpuset inherits its parent's effective sets, so a
//! new cgroup needs no copying.

use crate::common::{Controller, Write};
use crate::Resources;

pub(crate) struct CpuSet;

impl Controller for CpuSet {
    const NAME: &'static str = "cpuset";

    fn plan(res: &Resources) -> Vec<Write> {
        let mut writes = Vec::new();
        if let Some(cpus) = &res.cpuset_cpus {
            writes.push(Write::new(Self::NAME, "cpuset.cpus", cpus.trim()));
        }
        if let Some(mems) = &res.cpuset_mems {
            writes.push(Write::new(Self::NAME, "cpuset.mems", mems.trim()));
        }
        writes
    }
}
