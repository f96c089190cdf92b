//! docker's event filters (`--filter KEY=VALUE`, the API's `filters`):
//! values of one key are alternatives, keys must all match. Names and ids
//! match by prefix too (`container=web` matches `web-1`), as docker's
//! `FuzzyMatch`; `event`, `type` and `image` exactly.

use super::{Event, EventType};
use crate::error::{Error, Result};

/// The keys docker accepts.
const KEYS: [&str; 14] = [
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// Keys that match an event's actor by its id or `name` attribute.
const BY_NAME: [&str; 9] = [
    "config",
    "container",
    "daemon",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "volume",
];

/// Which events to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pairs: Vec<(String, String)>,
}

impl EventFilter {
    /// A filter of `(key, value)` pairs; docker's error for a key it does
    /// not know.
    ///
    /// ```
    /// use tinydocker_engine::EventFilter;
    /// assert!(EventFilter::new(vec![("type".into(), "container".into())]).is_ok());
    /// let bad = EventFilter::new(vec![("colour".into(), "red".into())]).unwrap_err();
    /// assert_eq!(bad.to_string(), "Invalid filter 'colour'");
    /// ```
    pub fn new(pairs: Vec<(String, String)>) -> Result<EventFilter> {
        if let Some((key, _)) = pairs.iter().find(|(k, _)| !KEYS.contains(&k.as_str())) {
            return Err(Error::Invalid(format!("Invalid filter '{key}'")));
        }
        Ok(EventFilter { pairs })
    }

    fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, key: &str) -> bool {
        self.values(key).next().is_some()
    }

    /// A key absent, or one of its values `source`.
    fn exact(&self, key: &str, source: &str) -> bool {
        !self.has(key) || self.values(key).any(|v| v == source)
    }

    /// A key absent, or one of its values `source` or a prefix of it.
    fn fuzzy(&self, key: &str, source: &str) -> bool {
        !self.has(key) || self.values(key).any(|v| source.starts_with(v))
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &Event) -> bool {
        let attrs = &event.actor.attributes;
        let name = attrs.get("name").map_or("", String::as_str);
        let by_name = BY_NAME.iter().all(|key| {
            self.fuzzy(key, &event.actor.id) || (!name.is_empty() && self.fuzzy(key, name))
        });
        let labels: Vec<String> = self.values("label").map(str::to_string).collect();
        self.event_matches(&event.action)
            && self.exact("type", &event.kind)
            && self.exact("scope", &event.scope)
            && by_name
            && self.image_matches(event)
            && crate::labels_match(attrs, &labels)
    }

    /// `exec_create`, `exec_start` and `health_status` carry a command or
    /// status after a colon: asked for without one, they match by prefix.
    fn event_matches(&self, action: &str) -> bool {
        let loose = self
            .values("event")
            .any(|v| matches!(v, "exec_create" | "exec_start" | "health_status"));
        if loose {
            self.fuzzy("event", action)
        } else {
            self.exact("event", action)
        }
    }

    /// An image by its id or name, with or without its tag; a container's
    /// by the image it was made from.
    fn image_matches(&self, event: &Event) -> bool {
        if !self.has("image") {
            return true;
        }
        let attr = if event.kind == EventType::Image.as_str() {
            "name"
        } else {
            "image"
        };
        let name = event.actor.attributes.get(attr).map_or("", String::as_str);
        [event.actor.id.as_str(), name]
            .iter()
            .filter(|s| !s.is_empty())
            .any(|s| self.exact("image", s) || self.exact("image", strip_tag(s)))
    }
}

/// `busybox` of `busybox:1.36`, `localhost:5000/app` of
/// `localhost:5000/app:v1`, and of `app@sha256:...` `app`.
pub(super) fn strip_tag(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rfind('/').map_or(0, |i| i + 1);
    match image[last..].find(':') {
        Some(colon) => &image[..last + colon],
        None => image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Actor;

    fn event(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event {
            status: String::new(),
            id: String::new(),
            from: String::new(),
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: attrs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            scope: "local".into(),
            time: 0,
            time_nano: 0,
        }
    }

    fn filter(pairs: &[(&str, &str)]) -> EventFilter {
        EventFilter::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn filters_match_as_dockers() {
        let start = event(
            "container",
            "start",
            "0123abcd",
            &[
                ("name", "web-1"),
                ("image", "busybox:1.36"),
                ("tier", "front"),
            ],
        );
        let exec = event(
            "container",
            "exec_start: sh -c true",
            "0123abcd",
            &[("name", "web-1")],
        );
        let pull = event("image", "pull", "busybox:latest", &[("name", "busybox")]);
        let connect = event(
            "network",
            "connect",
            "feed",
            &[("name", "net1"), ("container", "0123abcd")],
        );
        let yes = |f: &[(&str, &str)], e: &Event| assert!(filter(f).matches(e), "{f:?} {e:?}");
        let no = |f: &[(&str, &str)], e: &Event| assert!(!filter(f).matches(e), "{f:?} {e:?}");
        yes(&[], &start);
        yes(&[("container", "web")], &start);
        yes(&[("container", "0123")], &start);
        yes(&[("container", "nope"), ("container", "web-1")], &start);
        no(&[("container", "nope")], &start);
        no(&[("container", "web")], &connect);
        yes(&[("event", "start")], &start);
        no(&[("event", "sta")], &start);
        yes(&[("event", "exec_start")], &exec);
        no(&[("event", "exec_start")], &start);
        yes(
            &[("type", "container"), ("event", "start"), ("event", "die")],
            &start,
        );
        no(&[("type", "image")], &start);
        yes(&[("image", "busybox")], &start);
        yes(&[("image", "busybox:1.36")], &start);
        no(&[("image", "busy")], &start);
        yes(&[("image", "busybox")], &pull);
        yes(&[("image", "busybox:latest")], &pull);
        yes(&[("label", "tier")], &start);
        yes(&[("label", "tier=front")], &start);
        no(&[("label", "tier=back")], &start);
        no(&[("label", "tier"), ("label", "other")], &start);
        yes(&[("network", "net1")], &connect);
        no(&[("network", "net1")], &start);
        yes(&[("scope", "local")], &start);
    }

    #[test]
    fn tags_are_stripped() {
        assert_eq!(strip_tag("busybox:1.36"), "busybox");
        assert_eq!(strip_tag("localhost:5000/app:v1"), "localhost:5000/app");
        assert_eq!(strip_tag("localhost:5000/app"), "localhost:5000/app");
        assert_eq!(strip_tag("app@sha256:abc"), "app");
    }
}
