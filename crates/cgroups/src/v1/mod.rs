//! cgroup v1 (cgroups(7), "Cgroups version 1"): one hierarchy per
//! controller (or per group of co-mounted controllers), each with its own
//! directory for the same cgroup. Hybrid hosts are driven through here too.

mod blkio;
mod cpu;
mod cpuacct;
mod cpuset;
mod devices;
mod freezer;
pub(crate) mod hugetlb;
mod manager;
mod memory;
mod net_cls;
mod net_prio;
pub(crate) mod pids;

pub use manager::Manager;
