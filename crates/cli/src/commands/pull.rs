//! `tinydocker pull [--platform P] [-q] NAME[:TAG|@DIGEST]`, with docker's
//! lines: one per layer and step, then `Digest:` and `Status:`.

use std::io::Write;
use std::sync::Mutex;

use anyhow::{anyhow, Result};
use tinydocker_engine::Engine;
use tinydocker_registry::{Platform, Progress, PullOptions};

use crate::cli::PullArgs;

/// docker's `pull` exits 1 on failure (125 is `run`'s).
pub fn pull(engine: &Engine, args: PullArgs) -> Result<i32> {
    match pull_image(engine, &args, std::io::stdout()) {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("tinydocker: {}", crate::errors::one_line(&e));
            Ok(1)
        }
    }
}

/// Pull `args.reference`, docker's lines to `out` (stdout for `pull`,
/// stderr for `run`'s pull of a missing image).
pub fn pull_image(engine: &Engine, args: &PullArgs, out: impl Write + Send) -> Result<()> {
    pull_with(engine, args, out, true)
}

/// As [`pull_image`]; `pull` ends with the name on a line of its own,
/// `run`'s pull does not.
pub fn pull_with(
    engine: &Engine,
    args: &PullArgs,
    out: impl Write + Send,
    name_line: bool,
) -> Result<()> {
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).map_err(|e| anyhow!(e))?,
        None => Platform::host(),
    };
    let options = PullOptions {
        platform,
        platform_required: args.platform.is_some(),
        max_concurrent_downloads: args.max_concurrent_downloads as usize,
        transport: transport()?,
        ..PullOptions::default()
    };
    let store = engine.images()?;
    let before = store.resolve(&args.reference).ok().map(|i| i.id);
    let quiet = args.quiet;
    // The first line once the manifest is found, as docker's.
    let header = {
        let tag = args
            .reference
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .or_else(|| {
                let last = args.reference.rsplit('/').next().unwrap_or_default();
                last.split_once(':').map(|(_, t)| t.to_string())
            })
            .unwrap_or_else(|| "latest".into());
        let repo = args
            .reference
            .split('@')
            .next()
            .map(|r| match r.rsplit_once(':') {
                Some((name, tag)) if !tag.contains('/') => name,
                _ => r,
            })
            .unwrap_or_default();
        format!("{tag}: Pulling from {repo}")
    };
    let header = Mutex::new(Some(header));
    let out = Mutex::new(out);
    let fetched = Mutex::new(0usize);
    let report = |layer: &str, p: Progress| {
        let line = match p {
            Progress::PullingFsLayer => "Pulling fs layer",
            Progress::AlreadyExists => "Already exists",
            // Plain lines: a bar is for a terminal.
            Progress::Downloading { .. } => return,
            Progress::VerifyingChecksum => "Verifying Checksum",
            Progress::DownloadComplete => "Download complete",
            Progress::PullComplete => {
                *fetched.lock().unwrap() += 1;
                "Pull complete"
            }
        };
        if !quiet {
            let mut out = out.lock().unwrap();
            if let Some(header) = header.lock().unwrap().take() {
                let _ = writeln!(out, "{header}");
            }
            let _ = writeln!(out, "{layer}: {line}");
        }
    };
    let pulled = tinydocker_registry::pull(&store, &args.reference, &options, &report)?;
    let mut out = out.into_inner().unwrap();
    if quiet {
        writeln!(out, "{}", pulled.name)?;
        return Ok(());
    }
    writeln!(out, "Digest: {}", pulled.digest)?;
    let fetched = *fetched.lock().unwrap();
    if fetched == 0 && before.as_deref() == Some(pulled.image.id.as_str()) {
        writeln!(out, "Status: Image is up to date for {}", pulled.name)?;
    } else {
        writeln!(out, "Status: Downloaded newer image for {}", pulled.name)?;
    }
    if name_line {
        writeln!(out, "{}", pulled.name)?;
    }
    Ok(())
}

/// tinydocker's config of registries (insecure ones, `certs.d`).
pub fn transport() -> Result<tinydocker_registry::Transport> {
    tinydocker_registry::Transport::from_config().map_err(|e| anyhow!("config: {e}"))
}
