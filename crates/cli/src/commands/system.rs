//! `tinydocker system df|prune|reset`: what the state root takes on disk,
//! removing what nothing uses, and removing everything (podman's reset).

use anyhow::{bail, Result};
use tinydocker_engine::{DiskUsage, Engine, Observed};

use crate::cli::{SystemDfArgs, SystemPruneArgs, SystemResetArgs};
use crate::human;

/// docker's sizes: no space between the number and the unit.
fn size(bytes: u64) -> String {
    human::size(bytes)
}

/// docker's RECLAIMABLE cell: the bytes and their share of the total
/// (`with_share`: the build cache has no share).
fn reclaimable(bytes: u64, total: u64, with_share: bool) -> String {
    if with_share && total > 0 {
        format!("{} ({}%)", size(bytes), bytes * 100 / total)
    } else {
        size(bytes)
    }
}

/// The summary rows of `system df`: TYPE, TOTAL, ACTIVE, SIZE,
/// RECLAIMABLE, with docker's field names for `--format`.
fn summary(usage: &DiskUsage) -> Vec<Vec<(&'static str, String)>> {
    let row = |kind: &str, total: usize, active: usize, bytes: u64, free: u64, share: bool| {
        vec![
            ("Type", kind.to_string()),
            ("TotalCount", total.to_string()),
            ("Active", active.to_string()),
            ("Size", size(bytes)),
            ("Reclaimable", reclaimable(free, bytes, share)),
        ]
    };
    let images_size: u64 = usage.images.iter().map(|i| i.size).sum();
    let unused_images = usage.images.iter().filter(|i| i.containers == 0);
    // Shared layers of an unused image stay while another image has them.
    let images_free: u64 = unused_images.map(|i| i.size - i.shared_size).sum();
    let containers_size: u64 = usage.containers.iter().map(|c| c.size_rw).sum();
    // Each container observed once: running ones are active, the others'
    // writable layers reclaimable.
    let (mut containers_active, mut containers_free) = (0, 0);
    for c in &usage.containers {
        if matches!(c.container.observe(), Observed::Running { .. }) {
            containers_active += 1;
        } else {
            containers_free += c.size_rw;
        }
    }
    let volumes_size: u64 = usage.volumes.iter().map(|v| v.size).sum();
    let volumes_free: u64 = usage
        .volumes
        .iter()
        .filter(|v| v.ref_count == 0)
        .map(|v| v.size)
        .sum();
    vec![
        row(
            "Images",
            usage.images.len(),
            usage.images.iter().filter(|i| i.containers > 0).count(),
            images_size,
            images_free,
            true,
        ),
        row(
            "Containers",
            usage.containers.len(),
            containers_active,
            containers_size,
            containers_free,
            true,
        ),
        row(
            "Local Volumes",
            usage.volumes.len(),
            usage.volumes.iter().filter(|v| v.ref_count > 0).count(),
            volumes_size,
            volumes_free,
            true,
        ),
        // tinydocker builds nothing: no cache.
        row("Build Cache", 0, 0, 0, 0, false),
    ]
}

/// `system df [-v] [--format TEMPLATE]`.
pub fn df(engine: &Engine, args: SystemDfArgs) -> Result<i32> {
    let usage = engine.disk_usage()?;
    let rows = summary(&usage);
    if let Some(format) = &args.format {
        if args.verbose {
            bail!("--format and --verbose cannot be combined");
        }
        for row in &rows {
            println!("{}", super::ps::template(format, row)?);
        }
        return Ok(0);
    }
    if !args.verbose {
        let cells: Vec<Vec<String>> = rows
            .into_iter()
            .map(|r| r.into_iter().map(|(_, v)| v).collect())
            .collect();
        super::print_table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &cells);
        return Ok(0);
    }
    verbose(&usage);
    Ok(0)
}

/// `system df -v`: each image, container and volume, as docker lists them.
fn verbose(usage: &DiskUsage) {
    println!("Images space usage:\n");
    let mut images = Vec::new();
    for i in &usage.images {
        let id = i.image.id.strip_prefix("sha256:").unwrap_or(&i.image.id);
        for (repo, tag) in super::images::repo_tags(&i.image) {
            let created = u128::from(i.image.created) * 1_000_000_000;
            images.push(vec![
                repo,
                tag,
                id[..12.min(id.len())].to_string(),
                format!("{} ago", human::duration(human::since(created))),
                size(i.size),
                size(i.shared_size),
                size(i.size - i.shared_size),
                i.containers.to_string(),
            ]);
        }
    }
    super::print_table(
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        &images,
    );
    println!("\nContainers space usage:\n");
    let containers: Vec<Vec<String>> = usage
        .containers
        .iter()
        .map(|c| {
            let fields = super::ps::fields(&c.container, c.container.observe(), false);
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map_or(String::new(), |(_, v)| v.clone())
            };
            let meta = &c.container.config.meta;
            vec![
                field("ID"),
                field("Image"),
                field("Command"),
                (meta.volumes.len() + meta.named_volumes.len()).to_string(),
                size(c.size_rw),
                field("RunningFor"),
                field("Status"),
                field("Names"),
            ]
        })
        .collect();
    super::print_table(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ],
        &containers,
    );
    println!("\nLocal Volumes space usage:\n");
    let volumes: Vec<Vec<String>> = usage
        .volumes
        .iter()
        .map(|v| vec![v.info.name.clone(), v.ref_count.to_string(), size(v.size)])
        .collect();
    super::print_table(&["VOLUME NAME", "LINKS", "SIZE"], &volumes);
    println!("\nBuild cache usage: 0B\n");
    super::print_table(
        &[
            "CACHE ID",
            "CACHE TYPE",
            "SIZE",
            "CREATED",
            "LAST USED",
            "USAGE",
            "SHARED",
        ],
        &[],
    );
}

/// docker's warning before `system prune`, naming what goes.
fn prune_warning(args: &SystemPruneArgs) -> String {
    let mut lines = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if args.volumes {
        lines.push("all volumes not used by at least one container");
    }
    if args.all {
        lines.push("all images without at least one container associated to them");
        lines.push("all build cache");
    } else {
        lines.push("all dangling images");
        lines.push("all dangling build cache");
    }
    let mut text = "WARNING! This will remove:\n".to_string();
    for line in lines {
        text.push_str(&format!("  - {line}\n"));
    }
    text
}

/// A prune's list of what went, as docker prints it; nothing when none.
fn deleted(title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    println!("Deleted {title}:");
    for item in items {
        println!("{item}");
    }
    println!();
}

/// The prune filters of `system prune` and `network prune`, all to be
/// met: `until` (created before), `label` (has), `label!` (has not).
#[derive(Debug, Default)]
pub(crate) struct PruneFilter {
    /// Nanoseconds since the epoch.
    until: Option<u128>,
    labels: Vec<String>,
    not_labels: Vec<String>,
}

impl PruneFilter {
    /// `--filter KEY=VALUE`s.
    fn parse(given: &[String]) -> Result<PruneFilter> {
        let pairs: Vec<(String, String)> = given
            .iter()
            .map(|e| {
                let (k, v) = e.split_once('=').unwrap_or((e, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        PruneFilter::from_pairs(&pairs, "system prune")
    }

    /// Filters as (key, value); `command` names who refuses the others.
    pub(crate) fn from_pairs(pairs: &[(String, String)], command: &str) -> Result<PruneFilter> {
        let mut f = PruneFilter::default();
        for (key, value) in pairs {
            match key.as_str() {
                "until" => f.until = Some(until(value)?),
                "label" if !value.is_empty() => f.labels.push(value.clone()),
                // `label!=KEY=VALUE` splits at its first '=' as `label!`.
                "label!" if !value.is_empty() => f.not_labels.push(value.clone()),
                _ => bail!(
                    "invalid filter '{key}={value}' ({command} filters by until=, label= and label!=)"
                ),
            }
        }
        Ok(f)
    }

    /// Whether an object with these labels, made at `created` (ns since
    /// the epoch), passes.
    pub(crate) fn keeps(
        &self,
        labels: &std::collections::BTreeMap<String, String>,
        created: u128,
    ) -> bool {
        self.until.is_none_or(|until| created < until)
            && tinydocker_engine::labels_match(labels, &self.labels)
            && !self
                .not_labels
                .iter()
                .any(|l| tinydocker_engine::labels_match(labels, std::slice::from_ref(l)))
    }
}

/// docker's `until`: a Unix time (`1700000000[.5]`), an RFC 3339 date, or
/// a duration before now (`10m`, `24h`, `1h30m`); nanoseconds since the
/// epoch.
fn until(text: &str) -> Result<u128> {
    tinydocker_engine::logs::parse_time("until", text, tinydocker_engine::now_nanos()).map_err(
        |_| {
            anyhow::anyhow!(
                "invalid until {text:?}: expected a Unix time, an RFC 3339 date or a duration such as 24h"
            )
        },
    )
}

/// `system prune [-a] [-f] [--volumes]`: containers, networks, volumes
/// with `--volumes`, images, in docker's order, then the bytes freed.
pub fn prune(engine: &Engine, args: SystemPruneArgs) -> Result<i32> {
    let filter = PruneFilter::parse(&args.filter)?;
    if filter.until.is_some() && args.volumes {
        bail!("the \"until\" filter is not supported with \"--volumes\"");
    }
    if !args.force && !super::confirm(&prune_warning(&args))? {
        return Ok(0);
    }
    let containers =
        engine.prune_where(|c| filter.keeps(&c.config.meta.labels, c.config.created))?;
    for e in &containers.failed {
        eprintln!("tinydocker: {}", e.one_line());
    }
    deleted("Containers", &containers.removed);
    deleted(
        "Networks",
        &engine.prune_networks(|n| filter.keeps(&n.labels, n.created))?,
    );
    let mut reclaimed = containers.reclaimed;
    if args.volumes {
        let (volumes, bytes) = engine.prune_volumes_where(|v| filter.keeps(&v.record.labels, 0))?;
        deleted("Volumes", &volumes);
        reclaimed += bytes;
    }
    let images = engine.prune_images_where(args.all, |i| {
        filter.keeps(&i.config.labels, u128::from(i.created) * 1_000_000_000)
    })?;
    let lines: Vec<String> = images
        .iter()
        .flat_map(|r| {
            r.untagged
                .iter()
                .map(|n| format!("untagged: {n}"))
                .chain([format!("deleted: {}", r.image.id)])
        })
        .collect();
    deleted("Images", &lines);
    reclaimed += images.iter().map(|r| r.image.size).sum::<u64>();
    println!("Total reclaimed space: {}", size(reclaimed));
    Ok(if containers.failed.is_empty() { 0 } else { 1 })
}

/// `system reset [-f]`: podman's question, then everything goes.
pub fn reset(engine: &Engine, args: SystemResetArgs) -> Result<i32> {
    let warning = format!(
        "WARNING! This will remove:\n        - all containers\n        - all images\n        - all networks\n        - all volumes\n        - the state root's contents: {:?}\n        - the networks that state roots deleted by hand left on this host",
        engine.root()
    );
    if !args.force && !super::confirm(&warning)? {
        return Ok(0);
    }
    engine.reset()?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaimable_cells() {
        assert_eq!(reclaimable(500, 1000, true), "500B (50%)");
        assert_eq!(reclaimable(0, 0, true), "0B");
        assert_eq!(reclaimable(0, 0, false), "0B");
    }

    #[test]
    fn prune_filters() {
        let f = PruneFilter::parse(&["label=a=1".into(), "label!=b".into(), "until=100".into()])
            .unwrap();
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(f.keeps(&labels(&[("a", "1")]), 99_000_000_000));
        assert!(!f.keeps(&labels(&[("a", "1")]), 100_000_000_000));
        assert!(!f.keeps(&labels(&[("a", "1"), ("b", "x")]), 0));
        assert!(!f.keeps(&labels(&[("a", "2")]), 0));
        assert!(PruneFilter::parse(&["dangling=true".into()]).is_err());
        assert_eq!(
            until("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000_000_000
        );
        let hour_ago = until("1h").unwrap();
        let now = tinydocker_engine::now_nanos();
        assert!((now - hour_ago).abs_diff(3_600_000_000_000) < 10_000_000_000);
        assert!(until("soon").is_err());
    }
}
