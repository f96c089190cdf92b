//! `tinydocker history [--no-trunc] [-q] IMAGE` and `image prune [-a] [-f]`.

use anyhow::Result;
use serde_json::Value;
use tinydocker_engine::Engine;

use crate::cli::{HistoryArgs, ImagePruneArgs};

/// One row of `history`, newest first.
struct Step {
    image: String,
    created: u64,
    created_by: String,
    size: u64,
    comment: String,
}

pub fn history(engine: &Engine, args: HistoryArgs) -> Result<i32> {
    let store = engine.images()?;
    let image = store.resolve(&args.image)?;
    let config: Option<Value> = image
        .config_blob
        .as_ref()
        .and_then(|d| std::fs::read(store.blob_path(d)).ok())
        .and_then(|data| serde_json::from_slice(&data).ok());
    let layer_sizes: Vec<u64> = image.layers.iter().map(|l| store.layer_size(l)).collect();
    let mut steps = Vec::new();
    match config.as_ref().and_then(|c| c["history"].as_array()) {
        Some(history) if !history.is_empty() => {
            let mut layer = 0;
            for h in history {
                let empty = h["empty_layer"].as_bool().unwrap_or(false);
                let size = if empty {
                    0
                } else {
                    layer += 1;
                    layer_sizes.get(layer - 1).copied().unwrap_or(0)
                };
                let created = h["created"]
                    .as_str()
                    .and_then(chrono_secs)
                    .unwrap_or(image.created);
                steps.push(Step {
                    image: "<missing>".into(),
                    created,
                    created_by: h["created_by"].as_str().unwrap_or_default().to_string(),
                    size,
                    comment: h["comment"].as_str().unwrap_or_default().to_string(),
                });
            }
        }
        // An import (or a config without history): a step a layer.
        _ => {
            for size in &layer_sizes {
                steps.push(Step {
                    image: "<missing>".into(),
                    created: image.created,
                    created_by: String::new(),
                    size: *size,
                    comment: "Imported by tinydocker".into(),
                });
            }
        }
    }
    steps.reverse();
    if let Some(top) = steps.first_mut() {
        top.image = if args.no_trunc {
            image.id.clone()
        } else {
            image.short_id().to_string()
        };
    }
    if args.quiet {
        for s in &steps {
            println!("{}", s.image);
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = steps
        .iter()
        .map(|s| {
            let by = s.created_by.replace(['\n', '\t'], " ");
            let by = if !args.no_trunc && by.chars().count() > 45 {
                format!("{}…", by.chars().take(44).collect::<String>())
            } else {
                by
            };
            vec![
                s.image.clone(),
                format!(
                    "{} ago",
                    crate::human::duration(crate::human::since(
                        u128::from(s.created) * 1_000_000_000
                    ))
                ),
                by,
                crate::human::size(s.size),
                s.comment.clone(),
            ]
        })
        .collect();
    super::print_table(
        &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        &rows,
    );
    Ok(0)
}

/// RFC 3339 to seconds since the epoch.
pub(super) fn chrono_secs(text: &str) -> Option<u64> {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
    let b = text.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut secs = days * 86_400 + h * 3600 + mi * 60 + s;
    // A zone offset after the seconds (and any fraction).
    let rest = text[19..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if let Some(sign) = rest.chars().next().filter(|c| *c == '+' || *c == '-') {
        let oh = rest.get(1..3)?.parse::<i64>().ok()?;
        let om = rest.get(4..6)?.parse::<i64>().ok()?;
        let off = oh * 3600 + om * 60;
        secs -= if sign == '+' { off } else { -off };
    }
    u64::try_from(secs).ok()
}

pub fn prune(engine: &Engine, args: ImagePruneArgs) -> Result<i32> {
    if !args.force {
        let what = if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        if !super::confirm(&format!("WARNING! This will remove {what}."))? {
            return Ok(0);
        }
    }
    let removed = engine.prune_images(args.all)?;
    if !removed.is_empty() {
        println!("Deleted Images:");
        for r in &removed {
            for name in &r.untagged {
                println!("untagged: {name}");
            }
            println!("deleted: {}", r.image.id);
        }
        println!();
    }
    let reclaimed: u64 = removed.iter().map(|r| r.image.size).sum();
    println!("Total reclaimed space: {}", crate::human::size(reclaimed));
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_times() {
        assert_eq!(super::chrono_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            super::chrono_secs("2023-11-14T22:13:20.123456789Z"),
            Some(1_700_000_000)
        );
        assert_eq!(
            super::chrono_secs("2023-11-15T00:13:20+02:00"),
            Some(1_700_000_000)
        );
        assert_eq!(super::chrono_secs("nonsense"), None);
    }
}
