//! v1 `cpuacct` controller: CPU time accounting (`cpuacct.usage`, in
//! nanoseconds); see the kernel's `cgroup-v1/cpuacct.rst`.

use std::path::Path;

use crate::common::{read_u64_or_zero, Controller, Write};
use crate::{Error, Resources, Stats};

pub(crate) struct CpuAcct;

impl Controller for CpuAcct {
    const NAME: &'static str = "cpuacct";

    fn plan(_res: &Resources) -> Vec<Write> {
        Vec::new()
    }

    fn stats(dir: &Path, stats: &mut Stats) -> Result<(), Error> {
        stats.cpu_usage_ns = read_u64_or_zero(&dir.join("cpuacct.usage"))?;
        Ok(())
    }
}
