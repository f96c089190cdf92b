//! v2 `pids` controller: `pids.max` and `pids.current`; see the kernel's
//! `cgroup-v2.rst`, "PID".

use std::path::Path;

use crate::common::{parse_max, read_optional, read_u64_or_zero, Controller, Write};
use crate::{Error, Resources, Stats};

pub(crate) struct Pids;

impl Controller for Pids {
    const NAME: &'static str = "pids";

    fn plan(res: &Resources) -> Vec<Write> {
        match res.pids_limit {
            Some(limit) if limit > 0 => vec![Write::new(Self::NAME, "pids.max", limit.to_string())],
            Some(_) => vec![Write::new(Self::NAME, "pids.max", "max")],
            None => Vec::new(),
        }
    }

    fn stats(dir: &Path, stats: &mut Stats) -> Result<(), Error> {
        stats.pids_current = read_u64_or_zero(&dir.join("pids.current"))?;
        let max = dir.join("pids.max");
        stats.pids_limit = match read_optional(&max)? {
            Some(text) => parse_max(&max, &text)?,
            None => None,
        };
        Ok(())
    }
}
