//! `tinydocker images`.

use anyhow::Result;

use crate::cli::ImagesArgs;
use crate::human;
use tinydocker_engine::Engine;

pub fn images(engine: &Engine, args: ImagesArgs) -> Result<i32> {
    let images = engine.images()?.list()?;
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
        // `NAME:TAG` rows; an image known only by `NAME@DIGEST` (pulled by
        // digest) is `NAME <none>`, as docker lists it.
        let tagged: Vec<(String, String)> = image
            .names
            .iter()
            .filter(|n| !n.contains('@'))
            .map(|n| {
                let (repo, tag) = n.rsplit_once(':').unwrap_or((n, "latest"));
                (repo.to_string(), tag.to_string())
            })
            .collect();
        let names = if !tagged.is_empty() {
            tagged
        } else if let Some(repo) = image.names.iter().find_map(|n| n.split_once('@')) {
            vec![(repo.0.to_string(), "<none>".into())]
        } else {
            vec![("<none>".into(), "<none>".into())]
        };
        for (repo, tag) in names {
            rows.push(vec![
                repo,
                tag,
                id(image),
                created.clone(),
                human::size(image.size),
            ]);
        }
    }
    super::print_table(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows);
    Ok(0)
}
