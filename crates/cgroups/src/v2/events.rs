//! v2 `cgroup.events`: "populated" (any process in the cgroup or below)
//! and "frozen". A change of its values is a file-modified event, which
//! `inotify(7)` delivers: waiting on it needs no polling loop.

use std::path::Path;
use std::time::Instant;

use crate::common::{flat_keyed, read_optional};
use crate::sys::{is_errno, Inotify, WAIT_TIMEOUT};
use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Events {
    pub(crate) populated: bool,
    pub(crate) frozen: bool,
}

pub(crate) fn parse(text: &str) -> Events {
    Events {
        populated: flat_keyed(text, "populated").unwrap_or(0) != 0,
        frozen: flat_keyed(text, "frozen").unwrap_or(0) != 0,
    }
}

/// The state of the cgroup at `dir`; `None` when it does not exist.
pub(crate) fn read(dir: &Path) -> Result<Option<Events>, Error> {
    Ok(read_optional(&dir.join("cgroup.events"))?.map(|text| parse(&text)))
}

/// Block until `done` holds for the cgroup at `dir` (or it is gone), woken
/// by inotify each time `cgroup.events` changes.
pub(crate) fn wait_until(
    dir: &Path,
    what: &'static str,
    done: impl Fn(Events) -> bool,
) -> Result<(), Error> {
    let path = dir.join("cgroup.events");
    let wait_err = |source| Error::Wait {
        path: path.clone(),
        what,
        source,
    };
    let deadline = Instant::now() + WAIT_TIMEOUT;
    let inotify = Inotify::new().map_err(wait_err)?;
    // Watch before the first read, so a change between the two still wakes us.
    match inotify.watch_modify(&path) {
        Ok(()) => {}
        Err(err) if is_errno(&err, libc::ENOENT) => return Ok(()),
        Err(err) => return Err(wait_err(err)),
    }
    loop {
        match read(dir)? {
            None => return Ok(()),
            Some(events) if done(events) => return Ok(()),
            Some(_) => {}
        }
        if !inotify.wait(deadline).map_err(wait_err)? {
            return Err(Error::Timeout {
                path,
                what,
                secs: WAIT_TIMEOUT.as_secs(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_events() {
        assert_eq!(
            parse("populated 1\nfrozen 0\n"),
            Events {
                populated: true,
                frozen: false
            }
        );
        assert_eq!(
            parse("populated 0\nfrozen 1\n"),
            Events {
                populated: false,
                frozen: true
            }
        );
    }

    #[test]
    fn wait_wakes_on_modification() {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("cgroup.events");
        std::fs::write(&events, "populated 1\nfrozen 0\n").unwrap();
        let writer = {
            let events = events.clone();
            std::thread::spawn(move || {
                // Rewrite in place, as the kernel does, until the waiter is done.
                crate::common::write_io(&events, "populated 0\nfrozen 0\n").unwrap();
            })
        };
        wait_until(dir.path(), "test", |e| !e.populated).unwrap();
        writer.join().unwrap();
        // Missing cgroup: nothing to wait for.
        wait_until(&dir.path().join("gone"), "test", |_| false).unwrap();
    }
}
