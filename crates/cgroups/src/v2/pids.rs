//! v2 `pids` controller: `pids.max` and `pids.current`, the same files and
//! formats as v1 (see the kernel's `cgroup-v2.rst`, "PID"), so one type
//! serves both.

pub(crate) use crate::v1::pids::Pids;
