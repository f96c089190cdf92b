//! `tinydocker push [-a] [-q] NAME[:TAG]`.

use std::io::Write;
use std::sync::Mutex;

use anyhow::{anyhow, Result};
use tinydocker_engine::Engine;
use tinydocker_registry::push::{PushOptions, PushProgress};

use crate::cli::PushArgs;

pub fn push(engine: &Engine, args: PushArgs) -> Result<i32> {
    match push_all(engine, &args) {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("tinydocker: {}", crate::errors::one_line(&e));
            Ok(1)
        }
    }
}

fn push_all(engine: &Engine, args: &PushArgs) -> Result<()> {
    let reference: tinydocker_fs::Reference = args.reference.parse()?;
    let store = engine.images()?;
    let names: Vec<String> = if args.all_tags {
        if args.reference.contains('@')
            || args
                .reference
                .rsplit('/')
                .next()
                .is_some_and(|l| l.contains(':'))
        {
            return Err(anyhow!("tag can't be used with --all-tags/-a"));
        }
        let prefix = format!("{}:", reference.name);
        let mut tags: Vec<String> = store
            .list()?
            .into_iter()
            .flat_map(|i| i.names)
            .filter(|n| n.starts_with(&prefix))
            .collect();
        tags.sort();
        if tags.is_empty() {
            return Err(anyhow!(
                "An image does not exist locally with the tag: {}",
                reference.name
            ));
        }
        tags
    } else {
        vec![reference.to_string()]
    };
    let mut out = std::io::stdout();
    if !args.quiet {
        writeln!(out, "The push refers to repository [{}]", reference.name)?;
    }
    let options = PushOptions {
        transport: super::pull::transport()?,
        ..PushOptions::default()
    };
    for name in names {
        let out_lock = Mutex::new(std::io::stdout());
        let quiet = args.quiet;
        let report = |layer: &str, p: PushProgress| {
            if quiet {
                return;
            }
            let line = match p {
                PushProgress::Preparing => "Preparing".to_string(),
                PushProgress::AlreadyExists => "Layer already exists".to_string(),
                PushProgress::Mounted(from) => format!("Mounted from {from}"),
                PushProgress::Pushed => "Pushed".to_string(),
            };
            let _ = writeln!(out_lock.lock().unwrap(), "{layer}: {line}");
        };
        let pushed = tinydocker_registry::push::push(&store, &name, &options, &report)?;
        engine.image_reference_event("push", &name);
        // `NAME@DIGEST` names it now, as docker's RepoDigests after a push.
        let repo = name
            .rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
            .map_or(name.as_str(), |(r, _)| r);
        if let Ok(by_digest) =
            format!("{repo}@{}", pushed.digest).parse::<tinydocker_fs::Reference>()
        {
            store.tag(&name, &by_digest)?;
        }
        if quiet {
            writeln!(out, "{name}")?;
        } else {
            writeln!(
                out,
                "{}: digest: {} size: {}",
                pushed.tag, pushed.digest, pushed.size
            )?;
        }
    }
    Ok(())
}
