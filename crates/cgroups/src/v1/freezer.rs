//! v1 `freezer` controller: stop and resume every task of a cgroup
//! (`freezer.state`: THAWED, FREEZING, FROZEN); see the kernel's
//! `cgroup-v1/freezer-subsystem.rst`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{read_file, write_file, Controller, Write};
use crate::{Error, Resources};

pub(crate) struct Freezer;

const STATE: &str = "freezer.state";

/// How long `freeze` re-reads the state before giving up.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(2);

impl Controller for Freezer {
    const NAME: &'static str = "freezer";

    fn plan(_res: &Resources) -> Vec<Write> {
        Vec::new()
    }
}

impl Freezer {
    /// Ask the kernel to freeze the cgroup (and its descendants); tasks stop
    /// at their next return to user space, and tasks forked meanwhile start
    /// frozen.
    pub(crate) fn start_freeze(dir: &Path) -> Result<(), Error> {
        write_file(&dir.join(STATE), "FROZEN")
    }

    /// Freeze and return once the state reads FROZEN. The v1 freezer sends
    /// no notification (unlike v2's `cgroup.events`), and reading the state
    /// is what advances FREEZING to FROZEN, so this re-reads it — yielding,
    /// not sleeping — until a short deadline.
    pub(crate) fn freeze(dir: &Path) -> Result<(), Error> {
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        Self::start_freeze(dir)?;
        loop {
            let state = read_file(&dir.join(STATE))?;
            if state.trim() == "FROZEN" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                // Don't leave the cgroup half-frozen.
                let _ = Self::thaw(dir);
                return Err(Error::Freeze {
                    path: dir.join(STATE),
                    state: state.trim().to_string(),
                });
            }
            std::thread::yield_now();
        }
    }

    pub(crate) fn thaw(dir: &Path) -> Result<(), Error> {
        write_file(&dir.join(STATE), "THAWED")
    }
}
