//! `tinydocker pull [--platform P] [-q] NAME[:TAG|@DIGEST]`, with docker's
//! lines: one per layer and step, then `Digest:` and `Status:`.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use anyhow::{anyhow, Result};
use tinydocker_engine::Engine;
use tinydocker_registry::{Platform, Progress, PullOptions};

use crate::cli::PullArgs;

/// docker's `pull` exits 1 on failure (125 is `run`'s).
pub fn pull(engine: &Engine, args: PullArgs) -> Result<i32> {
    let result = if args.all_tags {
        pull_all_tags(engine, &args)
    } else {
        pull_image(engine, &args, std::io::stdout())
    };
    match result {
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
    let terminal = std::io::stdout().is_terminal();
    pull_with(engine, args, out, true, terminal)
}

/// `pull -a NAME`: each tag of the repository in turn.
fn pull_all_tags(engine: &Engine, args: &PullArgs) -> Result<()> {
    let reference: tinydocker_fs::Reference = args.reference.parse()?;
    if args.reference.contains('@')
        || args
            .reference
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    {
        return Err(anyhow!("tag can't be used with --all-tags/-a"));
    }
    let options = PullOptions {
        transport: transport()?,
        ..PullOptions::default()
    };
    let tags = tinydocker_registry::tags(&reference.name, &options)?;
    for tag in tags {
        let one = PullArgs {
            reference: format!("{}:{tag}", reference.name),
            all_tags: false,
            platform: args.platform.clone(),
            quiet: args.quiet,
            max_concurrent_downloads: args.max_concurrent_downloads,
        };
        pull_image(engine, &one, std::io::stdout())?;
    }
    Ok(())
}

/// As [`pull_image`]; `pull` ends with the name on a line of its own,
/// `run`'s pull does not.
pub fn pull_with(
    engine: &Engine,
    args: &PullArgs,
    out: impl Write + Send,
    name_line: bool,
    is_terminal: bool,
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
    let terminal = is_terminal;
    let display = Mutex::new(Display::new(out, header, terminal, quiet));
    let fetched = Mutex::new(0usize);
    let report = |layer: &str, p: Progress| {
        if p == Progress::PullComplete {
            *fetched.lock().unwrap() += 1;
        }
        display.lock().unwrap().update(layer, &p);
    };
    let pulled = tinydocker_registry::pull(&store, &args.reference, &options, &report)?;
    engine.image_reference_event("pull", &pulled.name);
    let mut out = display.into_inner().unwrap().out;
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

/// docker's pull lines: on a terminal one line per layer, redrawn in place
/// (with a bar while it downloads); otherwise a line per step, the
/// progress of downloading and extracting left out, as docker does.
struct Display<W> {
    out: W,
    /// The "TAG: Pulling from REPO" line, until the first layer's.
    header: Option<String>,
    terminal: bool,
    quiet: bool,
    /// On a terminal: the layers in the order of their lines.
    lines: Vec<String>,
}

impl<W: Write> Display<W> {
    fn new(out: W, header: String, terminal: bool, quiet: bool) -> Self {
        Display {
            out,
            header: Some(header),
            terminal,
            quiet,
            lines: Vec::new(),
        }
    }

    fn update(&mut self, layer: &str, p: &Progress) {
        if self.quiet {
            return;
        }
        if let Some(header) = self.header.take() {
            let _ = writeln!(self.out, "{header}");
        }
        let text = status(p);
        if !self.terminal {
            if !matches!(p, Progress::Downloading { .. } | Progress::Extracting) {
                let _ = writeln!(self.out, "{layer}: {text}");
            }
            return;
        }
        let _ = match self.lines.iter().position(|l| l == layer) {
            None => {
                self.lines.push(layer.to_string());
                writeln!(self.out, "{layer}: {text}")
            }
            Some(i) => {
                // Up to the layer's line, rewrite it, back down.
                let up = self.lines.len() - i;
                write!(self.out, "\x1b[{up}A\r\x1b[2K{layer}: {text}\r\x1b[{up}B")
            }
        };
        let _ = self.out.flush();
    }
}

/// docker's words for a step; a bar and the sizes while downloading.
fn status(p: &Progress) -> String {
    match p {
        Progress::PullingFsLayer => "Pulling fs layer".into(),
        Progress::AlreadyExists => "Already exists".into(),
        Progress::Downloading { done, total } => {
            format!("Downloading {}", bar(*done, *total))
        }
        Progress::VerifyingChecksum => "Verifying Checksum".into(),
        Progress::DownloadComplete => "Download complete".into(),
        Progress::Extracting => "Extracting".into(),
        Progress::PullComplete => "Pull complete".into(),
    }
}

/// `[=====>       ]  1.2MB/3.4MB`, as docker draws it (50 wide).
fn bar(done: u64, total: u64) -> String {
    const WIDTH: u64 = 50;
    if total == 0 {
        return crate::human::size(done);
    }
    let filled = (done.min(total) * WIDTH / total) as usize;
    let bar = if filled == 0 {
        " ".repeat(WIDTH as usize)
    } else {
        format!(
            "{}>{}",
            "=".repeat(filled - 1),
            " ".repeat(WIDTH as usize - filled)
        )
    };
    format!(
        "[{bar}]  {}/{}",
        crate::human::size(done),
        crate::human::size(total)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_as_docker_draws_them() {
        assert_eq!(
            bar(1_000_000, 2_000_000),
            format!("[{}>{}]  1MB/2MB", "=".repeat(24), " ".repeat(25))
        );
        assert_eq!(bar(0, 10), format!("[{}]  0B/10B", " ".repeat(50)));
    }

    #[test]
    fn plain_lines_without_a_terminal() {
        let mut d = Display::new(Vec::new(), "v1: Pulling from x".into(), false, false);
        d.update("aaa", &Progress::PullingFsLayer);
        d.update("aaa", &Progress::Downloading { done: 1, total: 2 });
        d.update("aaa", &Progress::Extracting);
        d.update("aaa", &Progress::PullComplete);
        assert_eq!(
            String::from_utf8(d.out).unwrap(),
            "v1: Pulling from x\naaa: Pulling fs layer\naaa: Pull complete\n"
        );
    }

    #[test]
    fn a_terminal_redraws_each_layers_line() {
        let mut d = Display::new(Vec::new(), "v1: Pulling from x".into(), true, false);
        d.update("aaa", &Progress::PullingFsLayer);
        d.update("bbb", &Progress::PullingFsLayer);
        d.update("aaa", &Progress::PullComplete);
        assert_eq!(
            String::from_utf8(d.out).unwrap(),
            "v1: Pulling from x\naaa: Pulling fs layer\nbbb: Pulling fs layer\n\x1b[2A\r\x1b[2Kaaa: Pull complete\r\x1b[2B"
        );
    }
}
