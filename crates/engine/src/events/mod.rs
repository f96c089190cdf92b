//! docker's events: what happened to containers, images, networks and
//! volumes, in the form of docker's API (`GET /events`, `docker events`).
//!
//! Every process that drives the engine (the command line, a detached
//! container's supervisor, the API service, the OCI runtime) records what
//! it does in one journal under the state root ([`journal`]): an event is
//! one small append, no fsync, and never fails the operation it records
//! (a write error is a warning). Readers go through the events of a time
//! range, then follow new ones as they are appended, woken by
//! `inotify(7)` on the journal's directory.

mod filter;
mod journal;

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use filter::EventFilter;
pub(crate) use journal::Journal;
use journal::Segment;

use crate::config::ContainerConfig;
use crate::error::{Error, Result};
use crate::proc::now_nanos;
use crate::store::{readable, Watch};
use crate::Engine;

/// What an event is about (docker's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// A container; the actor is its id.
    Container,
    /// An image; the actor is its reference or id.
    Image,
    /// A network; the actor is its id.
    Network,
    /// A volume; the actor is its name.
    Volume,
}

impl EventType {
    /// docker's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
            EventType::Network => "network",
            EventType::Volume => "volume",
        }
    }
}

/// One event, as docker's API sends it (`events.Message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The action again, for old clients (containers and images only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// The actor's id again, for old clients (containers and images only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// A container's image, for old clients.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// [`EventType::as_str`].
    #[serde(rename = "Type")]
    pub kind: String,
    /// What happened: `create`, `start`, `die`, `pull`, `connect`, ...
    #[serde(rename = "Action")]
    pub action: String,
    /// What it happened to.
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Always `local`.
    pub scope: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

/// What an event happened to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Its id (a container's, a network's), reference (an image's) or
    /// name (a volume's).
    #[serde(rename = "ID")]
    pub id: String,
    /// Its name, image, labels, and what the action adds (`exitCode`,
    /// `signal`, `container`, ...).
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event now.
    pub fn new(
        kind: EventType,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) -> Event {
        let nanos = now_nanos() as i64;
        // Old clients' fields, as docker fills them.
        let legacy = matches!(kind, EventType::Container | EventType::Image);
        let from = match kind {
            EventType::Container => attributes.get("image").cloned().unwrap_or_default(),
            _ => String::new(),
        };
        Event {
            status: if legacy { action.into() } else { String::new() },
            id: if legacy { id.into() } else { String::new() },
            from,
            kind: kind.as_str().into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
        }
    }
}

/// Which events to read: a time range (nanoseconds since the epoch, both
/// ends included) and a filter. As docker: without `since` or `until`,
/// only events from now on; following goes on until `until` (for ever
/// without one), and not at all when `until` has passed.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Events from then on.
    pub since: Option<u128>,
    /// Events until then.
    pub until: Option<u128>,
    /// Which events.
    pub filter: EventFilter,
}

impl Engine {
    /// Record an event. It costs one small append to the journal, and
    /// never fails what it records: a write error is a warning.
    pub fn event(
        &self,
        kind: EventType,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let event = Event::new(kind, action, id, attributes);
        let mut line = serde_json::to_vec(&event).expect("an event serializes");
        line.push(b'\n');
        if let Err(e) = self.journal.append(&line) {
            self.warn(&format!(
                "warning: event {} {action} of {id} not recorded: {}",
                kind.as_str(),
                crate::io_text(&e)
            ));
        }
    }

    /// Record an event of a container: its name, image and labels, and
    /// `extra` (`exitCode` for `die`, `signal` for `kill`, ...).
    pub fn container_event(
        &self,
        config: &ContainerConfig,
        action: &str,
        extra: &[(&str, String)],
    ) {
        let mut attributes = config.meta.labels.clone();
        attributes.insert("image".into(), config.image.clone());
        attributes.insert("name".into(), config.name.clone());
        for (k, v) in extra {
            attributes.insert(k.to_string(), v.clone());
        }
        self.event(EventType::Container, action, &config.id, attributes);
    }

    /// Record an event of an image: `id` is its reference or id, `name`
    /// the reference it is known by (docker's `name` attribute).
    pub fn image_event(&self, action: &str, id: &str, name: &str) {
        let attributes = [("name".to_string(), name.to_string())].into();
        self.event(EventType::Image, action, id, attributes);
    }

    /// Record an event of an image by its reference (`pull`, `push`):
    /// `busybox:latest`, named `busybox`.
    pub fn image_reference_event(&self, action: &str, reference: &str) {
        self.image_event(action, reference, filter::strip_tag(reference));
    }

    /// Record an event of a network (bridge driver); `container` for
    /// `connect` and `disconnect`.
    pub fn network_event(&self, action: &str, id: &str, name: &str, container: Option<&str>) {
        let mut attributes: BTreeMap<String, String> = [
            ("name".to_string(), name.to_string()),
            ("type".to_string(), "bridge".to_string()),
        ]
        .into();
        if let Some(c) = container {
            attributes.insert("container".into(), c.into());
        }
        self.event(EventType::Network, action, id, attributes);
    }

    /// Record an event of a (local) volume, with `extra` (`container`,
    /// `destination` for `mount`).
    pub fn volume_event(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attributes: BTreeMap<String, String> =
            [("driver".to_string(), "local".to_string())].into();
        for (k, v) in extra {
            attributes.insert(k.to_string(), v.clone());
        }
        self.event(EventType::Volume, action, name, attributes);
    }

    /// Hand the recorded events `query` selects to `each`, oldest first,
    /// then follow new ones as they are recorded (see [`EventQuery`]),
    /// until `until`, until `cancel` becomes readable (a pipe whose other
    /// end was closed: the client went), or until `each` fails (that
    /// error is returned).
    pub fn events(
        &self,
        query: &EventQuery,
        cancel: Option<BorrowedFd<'_>>,
        each: &mut dyn FnMut(&Event) -> io::Result<()>,
    ) -> Result<()> {
        read(&self.journal, query, cancel, each)
    }
}

fn read(
    journal: &Journal,
    query: &EventQuery,
    cancel: Option<BorrowedFd<'_>>,
    each: &mut dyn FnMut(&Event) -> io::Result<()>,
) -> Result<()> {
    let start = now_nanos();
    // Only what comes from now on, unless a range is asked for.
    let since = match (query.since, query.until) {
        (Some(since), _) => since,
        (None, Some(_)) => 0,
        (None, None) => start,
    };
    let follow = query.until.is_none_or(|until| until > start);
    let path = journal.current();
    // Watching starts before the first read: nothing appended after that
    // read is missed.
    let watch = if follow {
        std::fs::create_dir_all(journal.dir()).map_err(|e| Error::io("make", journal.dir(), e))?;
        Some(Watch::new(journal.dir())?)
    } else {
        None
    };
    let mut deliver = |segment: &mut Segment| -> Result<()> {
        let mut failed = None;
        let read = segment.read_lines(|line| {
            let Ok(event) = serde_json::from_slice::<Event>(line) else {
                // A line damaged (a full disk): skipped.
                return Ok(());
            };
            let time = event.time_nano.max(0) as u128;
            if time < since
                || query.until.is_some_and(|until| time > until)
                || !query.filter.matches(&event)
            {
                return Ok(());
            }
            each(&event).map_err(|e| {
                let kind = e.kind();
                failed = Some(e);
                io::Error::from(kind)
            })
        });
        if let Some(e) = failed {
            return Err(Error::sys("write the events out", e));
        }
        read.map_err(|e| Error::io("read", journal.dir(), e))
    };
    // The current file first: if it is rotated between the two opens,
    // the previous one is the file already open (and the older one,
    // gone, is what a rotation drops anyway).
    let mut current = Segment::open(&path).map_err(|e| Error::io("open", &path, e))?;
    let previous = journal.previous();
    if let Some(mut older) =
        Segment::open(&previous).map_err(|e| Error::io("open", &previous, e))?
    {
        if !current.as_ref().is_some_and(|c| c.same(&older)) {
            deliver(&mut older)?;
        }
    }
    loop {
        if current.is_none() {
            current = Segment::open(&path).map_err(|e| Error::io("open", &path, e))?;
        }
        if let Some(segment) = &mut current {
            deliver(segment)?;
            // Rotated: complete now (see `journal`); the rest of it, then
            // the new file.
            if !segment
                .is_at(&path)
                .map_err(|e| Error::io("stat", &path, e))?
            {
                deliver(segment)?;
                current = None;
                continue;
            }
        }
        let Some(watch) = &watch else {
            return Ok(());
        };
        let deadline = match query.until {
            None => None,
            Some(until) => {
                let now = now_nanos();
                if now > until {
                    return Ok(());
                }
                Some(Instant::now() + Duration::from_nanos((until - now) as u64))
            }
        };
        let [changed, cancelled] = readable([Some(watch.as_fd()), cancel], deadline)?;
        if cancelled || !changed {
            return Ok(());
        }
        watch.drain();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(dir: &std::path::Path) -> Engine {
        Engine::new(dir)
    }

    fn collect(engine: &Engine, query: &EventQuery) -> Vec<String> {
        let mut seen = Vec::new();
        engine
            .events(query, None, &mut |e| {
                seen.push(format!("{} {} {}", e.kind, e.action, e.actor.id));
                Ok(())
            })
            .unwrap();
        seen
    }

    #[test]
    fn events_have_dockers_form() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        engine.image_event("pull", "busybox:latest", "busybox");
        let line = std::fs::read_to_string(dir.path().join("events/events.log")).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["status"], "pull");
        assert_eq!(value["id"], "busybox:latest");
        assert_eq!(value["Type"], "image");
        assert_eq!(value["Action"], "pull");
        assert_eq!(value["Actor"]["ID"], "busybox:latest");
        assert_eq!(value["Actor"]["Attributes"]["name"], "busybox");
        assert_eq!(value["scope"], "local");
        assert_eq!(
            value["time"].as_i64().unwrap(),
            value["timeNano"].as_i64().unwrap() / 1_000_000_000
        );
        assert!(value.get("from").is_none());
        engine.network_event("create", "feed", "net1", None);
        let last = std::fs::read_to_string(dir.path().join("events/events.log")).unwrap();
        let value: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
        assert!(value.get("status").is_none(), "{value}");
        assert_eq!(value["Actor"]["Attributes"]["type"], "bridge");
    }

    #[test]
    fn a_range_reads_past_events_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = engine(dir.path());
        engine.journal = Journal::with_limit(dir.path().join("events"), 1000);
        let before = now_nanos();
        for i in 0..12 {
            engine.volume_event("create", &format!("v{i}"), &[]);
        }
        let after = now_nanos();
        assert!(dir.path().join("events/events.log.1").exists());
        let all = collect(
            &engine,
            &EventQuery {
                since: Some(before),
                until: Some(after),
                ..Default::default()
            },
        );
        // Rotated at least once: the oldest may be gone, the newest kept,
        // in order.
        assert!(all.len() >= 6, "{all:?}");
        assert_eq!(all.last().unwrap(), "volume create v11");
        let filtered = collect(
            &engine,
            &EventQuery {
                until: Some(after),
                filter: EventFilter::new(vec![("volume".into(), "v11".into())]).unwrap(),
                ..Default::default()
            },
        );
        assert_eq!(filtered, ["volume create v11"]);
        // Nothing before `since`.
        let none = collect(
            &engine,
            &EventQuery {
                since: Some(after + 1),
                until: Some(after + 2),
                ..Default::default()
            },
        );
        assert!(none.is_empty());
    }

    #[test]
    fn following_sees_new_events_and_a_cancel_ends_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = engine(dir.path());
        // Small: the follower crosses rotations.
        engine.journal = Journal::with_limit(dir.path().join("events"), 600);
        engine.volume_event("create", "old", &[]);
        let (cancel_r, cancel_w) = nix::unistd::pipe().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // From now on: what is recorded after this is seen, whether the
        // follower reads it as past or as new.
        let query = EventQuery {
            since: Some(now_nanos()),
            ..Default::default()
        };
        let follower = {
            let engine = engine.clone();
            std::thread::spawn(move || {
                engine
                    .events(&query, Some(cancel_r.as_fd()), &mut |e| {
                        tx.send(e.actor.id.clone()).map_err(io::Error::other)
                    })
                    .unwrap();
            })
        };
        let mut seen = Vec::new();
        for i in 0..10 {
            engine.volume_event("create", &format!("v{i}"), &[]);
            seen.push(rx.recv_timeout(Duration::from_secs(10)).unwrap());
        }
        assert_eq!(seen, (0..10).map(|i| format!("v{i}")).collect::<Vec<_>>());
        assert!(!seen.contains(&"old".to_string()));
        assert_eq!(seen.last().unwrap(), "v9");
        assert!(dir.path().join("events/events.log.1").exists());
        drop(cancel_w);
        follower.join().unwrap();
    }
}
