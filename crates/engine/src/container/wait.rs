//! Waiting for a container to stop, for its exit code.
//!
//! No polling: the wait is a `poll(2)` on an inotify watch of the
//! container's directory (its supervisor records the exit by replacing the
//! record), on its init's pidfd and on its supervisor's pidfd (a supervisor
//! killed before it could record leaves a dead container).
//!
//! A `--rm` container is removed at its exit; each wait counts itself
//! among the container's waiters (a shared `flock(2)`), and a runtime that
//! finds waiters records the exit and lets them read it before removing.

use std::os::fd::AsFd;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::process::pidfd::Process;
use crate::store::{readable, Observed, Watch};
use crate::Engine;

/// What a container killed with its supervisor ended with: its init got
/// the parent-death signal, SIGKILL.
const DEAD_CODE: i32 = 128 + libc::SIGKILL;

pub(crate) fn wait(engine: &Engine, key: &str) -> Result<i32> {
    let store = &engine.store;
    let first = store.find(key)?;
    let id = first.config.id.clone();
    let watch = Watch::new(&first.dir)?;
    // Before the record is read: a `--rm` container's runtime that finds a
    // waiter records the exit and waits for it to be read before it
    // removes the container.
    let _waiter = first.add_waiter()?;
    // The run being waited for: a restart policy starts another one, and
    // the wait returns when the first ends, as docker's does.
    let mut waiting_for: Option<(i32, u64)> = None;
    // Found between two runs first: the end of the run before (its
    // finish time); the next end is the one waited for.
    let mut found_between: Option<u128> = None;
    // The last supervisor seen: a `--rm` container's removes the record
    // first and the rest of its directory after, so the wait returns once
    // that supervisor is gone and the removal is whole.
    let mut last_supervisor: Option<Process> = None;
    loop {
        let Ok(c) = store.find(&id) else {
            if let Some(supervisor) = last_supervisor {
                supervisor.wait(Some(Duration::from_secs(30)));
            }
            return Err(Error::State(format!(
                "container {} was removed before its exit code could be read",
                first.config.name
            )));
        };
        let observed = c.observe();
        let this_run = (c.state.pid, c.state.pid_start);
        match observed {
            Observed::Exited { code, .. } => return Ok(code),
            // Found between two runs: a restarting container counts as
            // running, as in docker; the next run's end is waited for (a
            // short run may end before it is ever seen running).
            Observed::Restarting { code, at } => match found_between {
                _ if waiting_for.is_some() => return Ok(code),
                Some(first) if first != at => return Ok(code),
                _ => found_between = Some(at),
            },
            // Read again: the supervisor may have recorded the exit and
            // gone between the read above and the liveness checks.
            Observed::Dead => match store.find(&id).map(|c| c.observe()) {
                Ok(Observed::Exited { code, .. }) => return Ok(code),
                Ok(_) => return Ok(DEAD_CODE),
                // A `--rm` one removed meanwhile: the next read says so.
                Err(_) => continue,
            },
            Observed::Running { .. } => match waiting_for {
                Some(run) if run != this_run => return Ok(c.state.exit_code),
                _ => waiting_for = Some(this_run),
            },
            Observed::Created => {}
        }
        let init = Process::open(c.state.pid, c.state.pid_start);
        let supervisor = Process::open(c.state.runtime_pid, c.state.runtime_start);
        let [changed, ..] = readable(
            [
                Some(watch.as_fd()),
                init.as_ref().map(|p| p.as_fd()),
                supervisor.as_ref().map(|p| p.as_fd()),
            ],
            None,
        )?;
        if changed {
            watch.drain();
        }
        last_supervisor = supervisor;
    }
}
