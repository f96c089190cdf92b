//! v2 freezer: `cgroup.freeze` (write 1 or 0), confirmed by "frozen 1" in
//! `cgroup.events`; see the kernel's `cgroup-v2.rst`, "Core Interface Files".

use std::path::Path;

use super::events;
use crate::common::write_file;
use crate::Error;

pub(crate) struct Freezer;

impl Freezer {
    /// Freeze the cgroup and its descendants; returns once the kernel
    /// reports every task stopped.
    pub(crate) fn freeze(dir: &Path) -> Result<(), Error> {
        write_file(&dir.join("cgroup.freeze"), "1")?;
        events::wait_until(dir, "frozen", |e| e.frozen)
    }

    pub(crate) fn thaw(dir: &Path) -> Result<(), Error> {
        write_file(&dir.join("cgroup.freeze"), "0")
    }
}
