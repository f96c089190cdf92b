//! `tinydocker events [--since T] [--until T] [-f KEY=VALUE]... [--format
//! TEMPLATE]`: what happened to containers, images, networks and volumes,
//! from the engine's journal, as docker prints it. Without `--until` it
//! follows the journal (woken by `inotify(7)`) until interrupted.

use std::io::{self, Write};

use anyhow::{anyhow, Result};
use serde_json::Value;
use tinydocker_engine::logs::format_time;
use tinydocker_engine::{now_nanos, Engine, Event, EventFilter, EventQuery};

use crate::cli::EventsArgs;

pub fn events(engine: &Engine, args: EventsArgs) -> Result<()> {
    let now = now_nanos();
    let query = EventQuery {
        since: super::logs::time_flag("--since", &args.since, now)?,
        until: super::logs::time_flag("--until", &args.until, now)?,
        filter: EventFilter::new(filter_pairs(&args.filter)?)?,
    };
    if let (Some(since), Some(until)) = (query.since, query.until) {
        if since > until {
            return Err(anyhow!(
                "`since` time ({}) cannot be after `until` time ({})",
                args.since.unwrap_or_default(),
                args.until.unwrap_or_default()
            ));
        }
    }
    let format = args.format.filter(|f| !f.is_empty());
    if let Some(format) = &format {
        // A bad template is an error before anything is printed.
        render(&sample(), format)?;
    }
    let mut out = io::stdout().lock();
    let result = engine.events(&query, None, &mut |event| {
        let line = match &format {
            Some(format) => render(event, format).map_err(io::Error::other)?,
            None => human(event),
        };
        writeln!(out, "{line}")?;
        out.flush()
    });
    match result {
        // The reader went away (`events | head`): nothing more to do.
        Err(e) if super::logs::is_broken_pipe(&e) => Ok(()),
        done => Ok(done?),
    }
}

/// `-f KEY=VALUE` as pairs.
fn filter_pairs(filters: &[String]) -> Result<Vec<(String, String)>> {
    filters
        .iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_lowercase(), v.to_string())),
            None => Err(anyhow!("bad format of filter (expected name=value)")),
        })
        .collect()
}

/// docker's line: `TIME TYPE ACTION ID (KEY=VALUE, ...)`, the attributes
/// sorted by key.
fn human(event: &Event) -> String {
    let mut line = format!(
        "{} {} {} {}",
        format_time(event.time_nano.max(0) as u128),
        event.kind,
        event.action,
        event.actor.id
    );
    if !event.actor.attributes.is_empty() {
        let attrs: Vec<String> = event
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line.push_str(&format!(" ({})", attrs.join(", ")));
    }
    line
}

/// An event through a template: `{{json .}}`, `{{.Action}}`,
/// `{{.Actor.Attributes.name}}`, `{{json .Actor}}`, with docker's (Go's)
/// field names; an attribute the event lacks is `<no value>`, as Go's.
fn render(event: &Event, format: &str) -> Result<String> {
    let value = serde_json::to_value(event)?;
    super::template::fill(format, |action| {
        let (json, path) = match action.strip_prefix("json ") {
            Some(path) => (true, path.trim()),
            None => (false, action),
        };
        let Some(found) = lookup(&value, path)? else {
            return Ok("<no value>".into());
        };
        Ok(match found {
            Value::String(s) if !json => s.clone(),
            other => other.to_string(),
        })
    })
}

/// The value at a Go field path (`.`, `.Actor.ID`, `.Actor.Attributes.x`)
/// of an event's JSON; None for a missing attribute.
fn lookup<'a>(event: &'a Value, path: &str) -> Result<Option<&'a Value>> {
    let Some(path) = path.strip_prefix('.') else {
        return Err(anyhow!(
            "invalid --format: {path:?} is not a field (.Type, .Action, .Actor.ID, ...)"
        ));
    };
    let mut at = event;
    let mut in_attributes = false;
    for field in path.split('.').filter(|f| !f.is_empty()) {
        if in_attributes {
            return Ok(at.get(field));
        }
        // Go's names for the fields the JSON names in lower case.
        let key = match field {
            "Status" | "ID" | "From" | "Scope" | "Time" if at.get("Actor").is_some() => match field
            {
                "ID" => "id".to_string(),
                other => other.to_lowercase(),
            },
            "TimeNano" => "timeNano".to_string(),
            other => other.to_string(),
        };
        at = match at.get(&key) {
            Some(next) => next,
            // The old clients' fields are left out when empty.
            None if matches!(field, "Status" | "ID" | "From") => return Ok(None),
            None => {
                return Err(anyhow!(
                    "invalid --format: no field {field:?} in an event (.Type, .Action, .Actor.ID, .Actor.Attributes.NAME, .Time, ...)"
                ))
            }
        };
        in_attributes = field == "Attributes";
    }
    Ok(Some(at))
}

/// An event to try a template on.
fn sample() -> Event {
    Event::new(
        tinydocker_engine::EventType::Container,
        "start",
        "0",
        Default::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        let mut e = Event::new(
            tinydocker_engine::EventType::Container,
            "die",
            "abc",
            [
                ("name".to_string(), "web".to_string()),
                ("exitCode".to_string(), "3".to_string()),
            ]
            .into(),
        );
        e.time_nano = 1_795_895_520_123_456_789;
        e.time = 1_795_895_520;
        e
    }

    #[test]
    fn lines_are_dockers() {
        assert_eq!(
            human(&event()),
            "2026-11-28T19:52:00.123456789Z container die abc (exitCode=3, name=web)"
        );
    }

    #[test]
    fn templates_take_dockers_field_names() {
        let e = event();
        let text = |f: &str| render(&e, f).unwrap();
        assert_eq!(
            text("{{.Type}} {{.Action}} {{.Actor.ID}} {{.ID}}"),
            "container die abc abc"
        );
        assert_eq!(text("{{.Actor.Attributes.exitCode}}"), "3");
        assert_eq!(text("{{.Actor.Attributes.signal}}"), "<no value>");
        assert_eq!(
            text("{{.TimeNano}} {{.Time}}"),
            "1795895520123456789 1795895520"
        );
        assert_eq!(text("{{.From}}"), "<no value>");
        assert_eq!(text("{{json .Actor.Attributes.name}}"), "\"web\"");
        let json: Value = serde_json::from_str(&text("{{json .}}")).unwrap();
        assert_eq!(json["Actor"]["Attributes"]["exitCode"], "3");
        assert_eq!(json["status"], "die");
        assert!(render(&e, "{{.Nope}}").is_err());
        assert!(render(&e, "{{.Type").is_err());
    }

    #[test]
    fn filters_need_a_value() {
        assert_eq!(
            filter_pairs(&["Container=web".into(), "label=a=b".into()]).unwrap(),
            [
                ("container".to_string(), "web".to_string()),
                ("label".to_string(), "a=b".to_string())
            ]
        );
        assert!(filter_pairs(&["web".into()]).is_err());
    }
}
