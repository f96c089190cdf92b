//! v1 `net_cls` controller: tags the packets of the cgroup's sockets with
//! a class id (`net_cls.classid`, 0xAAAABBBB for the `tc` class AAAA:BBBB)
//! that traffic control and iptables match on; see the kernel's
//! `cgroup-v1/net_cls.rst`. cgroup v2 has no such controller.

use crate::common::{Controller, Write};
use crate::Resources;

pub(crate) struct NetCls;

impl Controller for NetCls {
    const NAME: &'static str = "net_cls";

    fn plan(res: &Resources) -> Vec<Write> {
        res.net_cls_classid
            .map(|id| Write::new(Self::NAME, "net_cls.classid", id.to_string()))
            .into_iter()
            .collect()
    }
}
