//! Linux control groups (`cgroups(7)`) for containers: detect the host's
//! layout, create a cgroup, write limits, read usage and OOM kills, freeze,
//! kill everything inside, remove.
//!
//! The host's layout is one of three: unified (cgroup v2 only), legacy
//! (v1 controller hierarchies only) or hybrid (v1 controllers plus a v2
//! mount without controllers, as systemd sets up in "hybrid" mode). Hybrid
//! hosts are driven through v1. Each [`Manager`] method has a v1 and a v2
//! implementation ([`v1::Manager`], [`v2::Manager`]); [`AnyManager`] picks
//! one at runtime. [`Manager::plan`] lists the writes [`Manager::apply`]
//! does, without doing them. [`Manager::set_devices`] restricts device
//! access to a [`DeviceRule`] allow-list (v1 `devices` controller, v2 eBPF
//! device program).
//!
//! ```no_run
//! use tinydocker_cgroups::{AnyManager, Layout, Manager, Resources};
//!
//! let layout = Layout::detect()?;
//! let cgroup = AnyManager::new(&layout, "tinydocker/0123456789ab");
//! let res = Resources { memory: Some(64 << 20), pids_limit: Some(10), ..Resources::default() };
//! for w in cgroup.plan(&res) {
//!     println!("{} {} <- {}", w.controller, w.file, w.value);
//! }
//! cgroup.create()?;
//! cgroup.apply(&res)?;
//! cgroup.add_task(std::process::id() as i32)?;
//! println!("{:?}", cgroup.stats()?);
//! # Ok::<(), tinydocker_cgroups::Error>(())
//! ```

mod any;
mod common;
mod cpus;
mod devices;
mod error;
#[cfg(test)]
mod fake;
mod layout;
mod resources;
mod stats;
mod sys;
pub mod v1;
pub mod v2;

pub use any::AnyManager;
pub use common::{shares_to_weight, Manager, Write};
pub use cpus::{online_cpus, online_mems, parse_cpu_list};
pub use devices::{DeviceControl, DeviceRule, DeviceType};
pub use error::Error;
pub use layout::{Layout, Mount};
pub use resources::{HugepageLimit, NetPriority, Resources, Throttle, ThrottleKind};
pub use stats::Stats;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Move the calling (single-threaded) process into a v1 cgroup by writing
/// "0" to each of `tasks_files` (from [`AnyManager::self_join_files`]).
/// Allocation-free, for a child between clone and exec. Returns the errno.
pub fn join_self(tasks_files: &[std::ffi::CString]) -> Result<(), i32> {
    use nix::errno::Errno;
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;

    for file in tasks_files {
        let fd = open(
            file.as_c_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| e as i32)?;
        match nix::unistd::write(&fd, b"0") {
            Ok(1) => {}
            // A write of 0 bytes sets no errno: pass on whatever it holds
            // rather than invent one.
            Ok(_) => return Err(Errno::last_raw()),
            Err(e) => return Err(e as i32),
        }
    }
    Ok(())
}
