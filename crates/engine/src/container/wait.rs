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
//!
//! docker's conditions: `not-running` returns at once for a container that
//! is not running; `next-exit` waits for the end of a run, one a later
//! `start` begins if none runs now (`docker run` waits so before it
//! starts the container it created); `removed` waits on past the exit
//! until the container is removed (`docker run --rm`).

use std::os::fd::AsFd;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::process::pidfd::Process;
use crate::store::{readable, Container, Lock, Observed, Watch};
use crate::Engine;

/// What a wait waits for (docker's `condition`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WaitCondition {
    /// The container not running: at once for one made and never started
    /// or exited, else the end of its run.
    #[default]
    NotRunning,
    /// The end of a run: the current one, else the next one started.
    NextExit,
    /// Its removal (`rm`, or its own at exit with `auto_remove`).
    Removed,
}

impl WaitCondition {
    /// docker's names: `not-running`, `next-exit`, `removed`.
    pub fn parse(text: &str) -> Option<WaitCondition> {
        match text {
            "not-running" => Some(WaitCondition::NotRunning),
            "next-exit" => Some(WaitCondition::NextExit),
            "removed" => Some(WaitCondition::Removed),
            _ => None,
        }
    }
}

/// A record's run, as far as a wait tells runs apart: its init and when
/// its last run ended. A `next-exit` wait on a container that is not
/// running waits until this changes.
fn run_of(c: &Container) -> (i32, u64, u128) {
    (c.state.pid, c.state.pid_start, c.state.finished_at)
}

/// What a container killed with its supervisor ended with: its init got
/// the parent-death signal, SIGKILL.
const DEAD_CODE: i32 = 128 + libc::SIGKILL;

pub(crate) fn wait(engine: &Engine, key: &str, condition: WaitCondition) -> Result<i32> {
    begin(engine, key, condition)?.wait()
}

/// A wait under way: what changes from here on is seen (see
/// [`begin`]).
pub struct Waiting {
    engine: Engine,
    id: String,
    name: String,
    condition: WaitCondition,
    watch: Watch,
    /// Held until the exit is read: a `--rm` container's runtime keeps
    /// its record until then.
    waiter: Option<Lock>,
    /// `next-exit` of a container not running: the run (none, or the one
    /// that ended) whose state does not count.
    not_yet: Option<(i32, u64, u128)>,
    /// The exit code a wait for the removal answers.
    last_code: i32,
}

/// Begin waiting on container `key`: its directory watched, this process
/// counted among its waiters, and the run a `next-exit` waits past
/// decided, so that a `start` from here on is seen (docker's client asks
/// for the wait before it starts the container it created).
pub(crate) fn begin(engine: &Engine, key: &str, condition: WaitCondition) -> Result<Waiting> {
    let store = &engine.store;
    let first = store.find(key)?;
    let watch = Watch::new(&first.dir)?;
    // Before the record is read again: a `--rm` container's runtime that
    // finds a waiter records the exit and waits for it to be read before
    // it removes the container.
    let waiter = first.add_waiter()?;
    let now = store.find(&first.config.id)?;
    let not_yet = (condition == WaitCondition::NextExit
        && matches!(
            now.observe(),
            Observed::Unstarted | Observed::Exited { .. } | Observed::Dead
        ))
    .then(|| run_of(&now));
    Ok(Waiting {
        engine: engine.clone(),
        id: now.config.id.clone(),
        name: now.config.name.clone(),
        condition,
        watch,
        waiter,
        not_yet,
        last_code: now.state.exit_code,
    })
}

impl Waiting {
    /// Block until the condition holds; the exit code of the container's
    /// last run.
    pub fn wait(mut self) -> Result<i32> {
        let store = &self.engine.store;
        let (id, condition) = (self.id.clone(), self.condition);
        // The run being waited for: a restart policy starts another one,
        // and the wait returns when the first ends, as docker's does.
        let mut waiting_for: Option<(i32, u64)> = None;
        // Found between two runs first: the end of the run before (its
        // finish time); the next end is the one waited for.
        let mut found_between: Option<u128> = None;
        // The last supervisor seen: a `--rm` container's removes the
        // record first and the rest of its directory after, so the wait
        // returns once that supervisor is gone and the removal is whole.
        let mut last_supervisor: Option<Process> = None;
        loop {
            let Ok(c) = store.find(&id) else {
                if let Some(supervisor) = last_supervisor {
                    supervisor.wait(Some(Duration::from_secs(30)));
                }
                if condition == WaitCondition::Removed {
                    return Ok(self.last_code);
                }
                return Err(Error::State(format!(
                    "container {} was removed before its exit code could be read",
                    self.name
                )));
            };
            let observed = c.observe();
            let this_run = (c.state.pid, c.state.pid_start);
            let stale = self.not_yet == Some(run_of(&c));
            match observed {
                _ if stale => {}
                Observed::Exited { code, .. } if condition == WaitCondition::Removed => {
                    self.last_code = code;
                    self.waiter = None;
                }
                Observed::Exited { code, .. } => return Ok(code),
                Observed::Unstarted if condition == WaitCondition::NotRunning => {
                    return Ok(c.state.exit_code)
                }
                Observed::Unstarted => {}
                Observed::Restarting { code, .. } if condition == WaitCondition::Removed => {
                    self.last_code = code;
                }
                // Found between two runs: a restarting container counts as
                // running, as in docker; the next run's end is waited for
                // (a short run may end before it is ever seen running).
                Observed::Restarting { code, at } => match found_between {
                    _ if waiting_for.is_some() => return Ok(code),
                    Some(first) if first != at => return Ok(code),
                    _ => found_between = Some(at),
                },
                // Read again: the supervisor may have recorded the exit
                // and gone between the read above and the liveness checks.
                Observed::Dead => {
                    let code = match store.find(&id).map(|c| c.observe()) {
                        Ok(Observed::Exited { code, .. }) => code,
                        Ok(_) => DEAD_CODE,
                        // A `--rm` one removed meanwhile: the next read
                        // says so.
                        Err(_) => continue,
                    };
                    if condition != WaitCondition::Removed {
                        return Ok(code);
                    }
                    self.last_code = code;
                    self.waiter = None;
                }
                Observed::Running { .. } => match waiting_for {
                    Some(run) if run != this_run && condition != WaitCondition::Removed => {
                        return Ok(c.state.exit_code)
                    }
                    _ => waiting_for = Some(this_run),
                },
                Observed::Created => {}
            }
            let init = Process::open(c.state.pid, c.state.pid_start);
            let supervisor = Process::open(c.state.runtime_pid, c.state.runtime_start);
            let [changed, ..] = readable(
                [
                    Some(self.watch.as_fd()),
                    init.as_ref().map(|p| p.as_fd()),
                    supervisor.as_ref().map(|p| p.as_fd()),
                ],
                None,
            )?;
            if changed {
                self.watch.drain();
            }
            last_supervisor = supervisor;
        }
    }
}
