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
        let names: Vec<(String, String)> = match image.names.is_empty() {
            true => vec![("<none>".into(), "<none>".into())],
            false => image
                .names
                .iter()
                .map(|n| {
                    let (repo, tag) = n.rsplit_once(':').unwrap_or((n, "latest"));
                    (repo.to_string(), tag.to_string())
                })
                .collect(),
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
