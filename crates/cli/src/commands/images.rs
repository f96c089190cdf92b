//! `tinydocker images`.

use anyhow::Result;

use crate::cli::ImagesArgs;
use crate::human;
use tinydocker_engine::Engine;

pub fn images(engine: &Engine, args: ImagesArgs) -> Result<i32> {
    let filters = Filters::parse(&args)?;
    let images: Vec<_> = engine
        .images()?
        .list()?
        .into_iter()
        .filter(|i| filters.keep(i))
        .collect();
    let id = |image: &tinydocker_fs::Image| {
        if args.no_trunc {
            image.id.clone()
        } else {
            image.short_id().to_string()
        }
    };
    if args.quiet {
        for image in &images {
            println!("{}", id(image));
        }
        return Ok(0);
    }
    let mut rows = Vec::new();
    for image in &images {
        let created = format!(
            "{} ago",
            human::duration(human::since(image.created as u128 * 1_000_000_000))
        );
        let names = repo_tags(image);
        for (repo, tag) in names {
            if !filters.keep_name(&repo, &tag) {
                continue;
            }
            let mut row = vec![repo.clone(), tag];
            if args.digests {
                let digest = image
                    .names
                    .iter()
                    .find_map(|n| n.strip_prefix(&format!("{repo}@")))
                    .unwrap_or("<none>");
                row.push(digest.to_string());
            }
            row.extend([id(image), created.clone(), human::size(image.size)]);
            rows.push(row);
        }
    }
    let mut header = vec!["REPOSITORY", "TAG"];
    if args.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    super::print_table(&header, &rows);
    Ok(0)
}

/// `--filter dangling=`, `--filter reference=` (docker's patterns, `*`
/// within a path component), `--filter label=` and the REPOSITORY[:TAG]
/// argument.
struct Filters {
    dangling: Option<bool>,
    references: Vec<String>,
    labels: Vec<String>,
}

impl Filters {
    fn parse(args: &ImagesArgs) -> Result<Filters> {
        let mut filters = Filters {
            dangling: None,
            references: Vec::new(),
            labels: Vec::new(),
        };
        for f in &args.filter {
            match f.split_once('=') {
                Some(("dangling", v)) => {
                    filters.dangling = Some(match v {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => anyhow::bail!("invalid filter 'dangling={v}'"),
                    })
                }
                Some(("reference", v)) => filters.references.push(v.to_string()),
                Some(("label", v)) if !v.is_empty() => filters.labels.push(v.to_string()),
                _ => anyhow::bail!("invalid filter '{f}'"),
            }
        }
        if let Some(repo) = &args.repository {
            filters.references.push(repo.clone());
        }
        Ok(filters)
    }

    fn keep(&self, image: &tinydocker_fs::Image) -> bool {
        let dangling = !image.names.iter().any(|n| !n.contains('@'));
        self.dangling.is_none_or(|d| d == dangling)
            && (self.references.is_empty()
                || repo_tags(image)
                    .iter()
                    .any(|(repo, tag)| self.keep_name(repo, tag)))
            && tinydocker_engine::labels_match(&image.config.labels, &self.labels)
    }

    fn keep_name(&self, repo: &str, tag: &str) -> bool {
        self.references.iter().all(|pattern| {
            let (p_repo, p_tag) = match pattern.rsplit_once(':') {
                Some((r, t)) if !t.contains('/') => (r, Some(t)),
                _ => (pattern.as_str(), None),
            };
            glob(p_repo, repo) && p_tag.is_none_or(|t| glob(t, tag))
        })
    }
}

/// The `(REPOSITORY, TAG)` rows of an image: `NAME:TAG`s; an image known
/// only by `NAME@DIGEST` (pulled by digest) is `NAME <none>`, and one with
/// no name `<none> <none>`, as docker lists them.
pub(super) fn repo_tags(image: &tinydocker_fs::Image) -> Vec<(String, String)> {
    let tagged: Vec<(String, String)> = image
        .names
        .iter()
        .filter(|n| !n.contains('@'))
        .map(|n| {
            let (repo, tag) = n.rsplit_once(':').unwrap_or((n, "latest"));
            (repo.to_string(), tag.to_string())
        })
        .collect();
    if !tagged.is_empty() {
        tagged
    } else if let Some(repo) = image.names.iter().find_map(|n| n.split_once('@')) {
        vec![(repo.0.to_string(), "<none>".into())]
    } else {
        vec![("<none>".into(), "<none>".into())]
    }
}

/// `*` matches any run of characters but `/`, `?` one of them.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && t[0] != b'/' && go(p, &t[1..])),
            (Some(b'?'), Some(&c)) if c != b'/' => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn reference_patterns() {
        assert!(glob("busybox", "busybox"));
        assert!(glob("busy*", "busybox"));
        assert!(!glob("*", "team/app"));
        assert!(glob("*/*", "team/app"));
        assert!(glob("127.0.0.1:5000/*/app", "127.0.0.1:5000/team/app"));
        assert!(!glob("app", "apps"));
        assert!(glob("v?", "v1"));
    }
}
