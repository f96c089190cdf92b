//! cgroup v2 (cgroups(7), "Cgroups version 2"): one unified hierarchy,
//! one directory per cgroup, controllers enabled for children through each
//! parent's `cgroup.subtree_control`.

pub(crate) mod bpf;
mod cpu;
mod cpuset;
mod devices;
mod events;
mod freezer;
mod hugetlb;
mod io;
mod manager;
mod memory;
mod pids;

pub use manager::Manager;
