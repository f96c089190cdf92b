//! cgroup v2 (cgroups(7), "Cgroups version 2"): one unified hierarchy,
//! one directory per cgroup, controllers enabled for children through each
//! parent's `cgroup.subtree_control`.

mod cpu;
mod cpuset;
mod events;
mod freezer;
mod io;
mod manager;
mod memory;
mod pids;

pub use manager::Manager;
