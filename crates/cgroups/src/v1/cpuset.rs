//! v1 `cpuset` controller (cpuset(7)): which CPUs and memory nodes the
//! tasks may use. A new v1 cpuset starts with empty `cpuset.cpus` and
//! `cpuset.mems`, and no task can join it until both are filled in.

use std::path::Path;

use crate::common::{mkdir, read_file, write_file, Controller, Write};
use crate::{Error, Resources};

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

impl CpuSet {
    /// Create `relative` under the hierarchy root `mount`, one level at a
    /// time; every level whose `cpuset.cpus` or `cpuset.mems` is empty (a new
    /// one, or one left half-made by a crash) gets its parent's values.
    pub(crate) fn create(mount: &Path, relative: &Path) -> Result<(), Error> {
        // The common case: the parent exists (and has its cpus and mems), the
        // leaf is new and so empty: copy the parent's values into it.
        // A parent another runtime has just made may not have its values
        // yet: then every level is filled in below.
        let leaf = mount.join(relative);
        if let (Some(parent), Ok(())) = (leaf.parent(), std::fs::create_dir(&leaf)) {
            let cpus = read_file(&parent.join("cpuset.cpus"))?;
            let mems = read_file(&parent.join("cpuset.mems"))?;
            if !cpus.trim().is_empty() && !mems.trim().is_empty() {
                write_file(&leaf.join("cpuset.cpus"), cpus.trim())?;
                write_file(&leaf.join("cpuset.mems"), mems.trim())?;
                return Ok(());
            }
        }
        let mut parent = mount.to_path_buf();
        for part in relative.iter() {
            let dir = parent.join(part);
            mkdir(&dir)?;
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let own = dir.join(file);
                if read_file(&own)?.trim().is_empty() {
                    let inherited = read_file(&parent.join(file))?;
                    write_file(&own, inherited.trim())?;
                }
            }
            parent = dir;
        }
        Ok(())
    }
}
