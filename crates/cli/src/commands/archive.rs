//! `tinydocker save [-o FILE] IMAGE...`, `tinydocker load [-i FILE] [-q]`
//! and `tinydocker export [-o FILE] CONTAINER`.

use std::fs::File;
use std::io::{IsTerminal, Write};

use anyhow::{anyhow, Context, Result};
use tinydocker_engine::{Engine, RootView};
use tinydocker_registry::archive;

use crate::cli::{ExportArgs, LoadArgs, SaveArgs};

/// As docker: exit 1 with one line on failure.
fn exit_code(result: Result<()>) -> Result<i32> {
    match result {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("tinydocker: {}", crate::errors::one_line(&e));
            Ok(1)
        }
    }
}

pub fn save(engine: &Engine, args: SaveArgs) -> Result<i32> {
    exit_code(save_to(engine, &args))
}

fn save_to(engine: &Engine, args: &SaveArgs) -> Result<()> {
    let store = engine.images()?;
    to_output(args.output.as_deref(), |out| {
        Ok(archive::save(&store, &args.images, out)?)
    })?;
    saved_events(engine, &store, &args.images);
    Ok(())
}

/// docker's `save` event of each image saved, by its id.
pub fn saved_events(engine: &Engine, store: &tinydocker_fs::ImageStore, names: &[String]) {
    for name in names {
        if let Ok(image) = store.resolve(name) {
            engine.image_event("save", &image.id, &image.id);
        }
    }
}

/// `tinydocker export [-o FILE] CONTAINER`: the container's root
/// filesystem (without its volumes) as a tar archive.
pub fn export(engine: &Engine, args: ExportArgs) -> Result<i32> {
    exit_code(export_to(engine, &args))
}

fn export_to(engine: &Engine, args: &ExportArgs) -> Result<()> {
    let container = engine.container(&args.container)?;
    let root = engine.open_root(&container, RootView::Layers)?;
    to_output(args.output.as_deref(), |out| {
        tinydocker_fs::copy::write_tree(&root, out)?;
        Ok(())
    })
}

/// Write an archive with `write` to the file `output`, or to stdout when
/// there is none (never a terminal, as docker refuses one).
fn to_output(
    output: Option<&std::path::Path>,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    match output {
        Some(path) => {
            // Written beside the target and renamed over it: a failure
            // leaves no half archive.
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
            let dir = dir.unwrap_or(std::path::Path::new("."));
            let name = path
                .file_name()
                .ok_or_else(|| anyhow!("{}: not a file name", path.display()))?;
            let tmp = dir.join(format!(
                ".{}.tinydocker-save-{}",
                name.to_string_lossy(),
                std::process::id()
            ));
            let file = File::create(&tmp).with_context(|| format!("{}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let written = write(&mut out)
                .and_then(|()| Ok(out.flush()?))
                .and_then(|()| {
                    std::fs::rename(&tmp, path).with_context(|| format!("{}", path.display()))
                });
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            written
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(anyhow!(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                ));
            }
            let mut out = std::io::BufWriter::new(stdout.lock());
            write(&mut out)?;
            out.flush()?;
            Ok(())
        }
    }
}

pub fn load(engine: &Engine, args: LoadArgs) -> Result<i32> {
    exit_code(load_from(engine, &args))
}

fn load_from(engine: &Engine, args: &LoadArgs) -> Result<()> {
    let store = engine.images()?;
    let loaded = match &args.input {
        Some(path) => {
            let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
            archive::load(&store, std::io::BufReader::new(file))?
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(anyhow!("requested load from stdin, but stdin is empty"));
            }
            archive::load(&store, stdin.lock())?
        }
    };
    let mut out = std::io::stdout().lock();
    for image in loaded {
        engine.image_event("load", &image.id, &image.id);
        if image.names.is_empty() {
            writeln!(out, "Loaded image ID: {}", image.id)?;
        }
        for name in image.names {
            writeln!(out, "Loaded image: {name}")?;
        }
    }
    Ok(())
}
