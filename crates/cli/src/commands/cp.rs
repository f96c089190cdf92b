//! `tinydocker cp [-a] [-L] CONTAINER:SRC_PATH DEST_PATH|-` and
//! `tinydocker cp [-a] [-L] SRC_PATH|- CONTAINER:DEST_PATH`, with docker's
//! path rules (its `pkg/archive/copy.go`): a directory that exists receives
//! the source under its own name; one that does not becomes the copy of a
//! source directory; a path ending in `/.` copies a directory's content;
//! `DEST/` must be a directory; `-` is a tar stream on stdout or stdin.
//!
//! The copy is a tar stream from one root to the other (a thread writes
//! it into a pipe, this one unpacks it), each side resolved inside its own
//! root (see `tinydocker_fs::copy`).

use std::fs::File;
use std::io::IsTerminal;
use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use tinydocker_engine::{Engine, RootView};
use tinydocker_fs::copy::{self, base_name, CopyError, ExtractOptions};

use crate::cli::CpArgs;

/// One side of a copy: a path of the host, or of a container.
#[derive(Debug, PartialEq, Eq)]
enum Side<'a> {
    Local(&'a str),
    Container(&'a str, &'a str),
}

/// docker's reading of a `cp` argument: `CONTAINER:PATH` unless it is an
/// absolute path, has no colon, or starts with `.` before its colon.
fn side(arg: &str) -> Side<'_> {
    if arg.starts_with('/') {
        return Side::Local(arg);
    }
    match arg.split_once(':') {
        Some((container, path)) if !container.starts_with('.') => Side::Container(container, path),
        _ => Side::Local(arg),
    }
}

pub fn cp(engine: &Engine, args: &CpArgs) -> Result<()> {
    if args.source.is_empty() {
        bail!("source can not be empty");
    }
    if args.destination.is_empty() {
        bail!("destination can not be empty");
    }
    match (side(&args.source), side(&args.destination)) {
        (Side::Local(_), Side::Local(_)) => bail!("must specify at least one container source"),
        (Side::Container(..), Side::Container(..)) => {
            bail!("copying between containers is not supported")
        }
        (Side::Container(c, src), Side::Local(dest)) => {
            from_container(engine, c, src, dest, args.follow_link)
        }
        (Side::Local(src), Side::Container(c, dest)) => to_container(engine, src, c, dest, args),
    }
}

fn no_such(container: &str, path: &str) -> anyhow::Error {
    anyhow!("No such container:path: {container}:{path}")
}

/// A missing path of a container as docker says it; other failures as
/// they are.
fn in_container(e: CopyError, container: &str, path: &str) -> anyhow::Error {
    match e {
        CopyError::NotFound(_) => no_such(container, path),
        other => anyhow::Error::from(other),
    }
}

/// The container's root, as its processes see it.
fn container_root(engine: &Engine, container: &str, path: &str) -> Result<(OwnedFd, (u32, u32))> {
    let found = engine
        .container(container)
        .map_err(|_| no_such(container, path))?;
    let user = tinydocker_engine::process_user(&found)?;
    Ok((engine.open_root(&found, RootView::Mounted)?, user))
}

/// What is copied, or where to, as docker's `CopyInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Info {
    path: String,
    exists: bool,
    is_dir: bool,
    /// The name the source is copied as, when it is read under another
    /// (a symlink followed).
    rebase_name: Option<String>,
}

/// docker's `SplitPathDirEntry`: the directory and the name of a path
/// (`.` for one ending in `/.`).
fn split_dir_entry(path: &str) -> (String, String) {
    let trimmed = path.trim_end_matches('/');
    let base = base_name(path);
    let dir = match trimmed.rsplit_once('/') {
        Some(("", _)) => "/".to_string(),
        Some((dir, _)) if base != "." => dir.to_string(),
        Some(_) => trimmed.trim_end_matches("/.").to_string(),
        None if base == "." => ".".to_string(),
        None => ".".to_string(),
    };
    (dir, base)
}

/// docker's `PrepareArchiveCopy`: the directory of the destination to
/// unpack the source's archive into, and the renaming of its top entry.
fn prepare(src: &Info, dst: &Info) -> Result<(String, Option<(String, String)>)> {
    let (dst_dir, dst_base) = split_dir_entry(&dst.path);
    let (_, archived) = split_dir_entry(&src.path);
    let renamed = |to: String| Some((archived.clone(), to)).filter(|(from, to)| from != to);
    if dst.exists && dst.is_dir {
        let to = src.rebase_name.clone().unwrap_or_else(|| archived.clone());
        return Ok((dst.path.clone(), renamed(to)));
    }
    if dst.exists && src.is_dir {
        bail!("cannot copy directory");
    }
    if !dst.exists && !src.is_dir && (dst.path.ends_with('/') || dst.path.ends_with("/.")) {
        bail!("no such directory");
    }
    Ok((dst_dir, renamed(dst_base)))
}

/// docker's `GetRebaseName`: `resolved` with the trailing `/` or `/.` of
/// `path`, and the name to copy it as when the two names differ.
fn rebase_name(path: &str, resolved: &str) -> (String, Option<String>) {
    let mut resolved = resolved.to_string();
    if path.ends_with("/.") && !resolved.ends_with("/.") {
        resolved.push_str("/.");
    } else if path.ends_with('/') && !resolved.ends_with('/') {
        resolved.push('/');
    }
    let (path_base, resolved_base) = (base_name(path), base_name(&resolved));
    let rebase = (path_base != resolved_base).then_some(path_base);
    (resolved, rebase)
}

/// `path` made absolute from the working directory, its trailing `/` or
/// `/.` kept.
fn absolute(path: &str) -> Result<String> {
    if path.starts_with('/') {
        return Ok(path.to_string());
    }
    let cwd = std::env::current_dir().context("the working directory")?;
    Ok(format!("{}/{path}", cwd.display()))
}

/// `CONTAINER:SRC` to `DEST` (or to stdout with `-`).
fn from_container(engine: &Engine, c: &str, src: &str, dest: &str, follow: bool) -> Result<()> {
    let (root, _) = container_root(engine, c, src)?;
    let mut src = src.to_string();
    let mut rebase = None;
    if follow {
        if let Ok(st) = copy::stat(&root, &src) {
            if st.is_symlink() {
                (src, rebase) = rebase_name(&src, &st.link_target);
            }
        }
    }
    let stat = copy::stat(&root, &src).map_err(|e| in_container(e, c, &src))?;
    if dest == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        copy::write_tar(&root, &src, &mut out).map_err(|e| in_container(e, c, &src))?;
        return Ok(());
    }
    let dest = absolute(dest)?;
    validate_output_path(&dest)?;
    let src_info = Info {
        path: src.clone(),
        exists: true,
        is_dir: stat.is_dir(),
        rebase_name: rebase,
    };
    let (dir, rename) = prepare(&src_info, &local_destination(&dest)?)?;
    let into = copy::open_root(Path::new(&dir))?;
    // As docker's client: the files are the user's who copies them.
    let me = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    let options = ExtractOptions {
        no_overwrite_dir_non_dir: true,
        owner: Some(me),
        rebase: rename,
    };
    piped(
        |out| copy::write_tar(&root, &src, out).map(drop),
        |input| copy::extract_tar(&into, "/", input, &options),
    )
    .map_err(|e| in_container(e, c, &src))
}

/// docker's `ValidateOutputPath`: the destination's directory exists, and
/// the destination, if there, is a directory or a regular file.
fn validate_output_path(dest: &str) -> Result<()> {
    let parent = Path::new(dest.trim_end_matches('/')).parent();
    if let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            bail!(
                "invalid output path: directory {:?} does not exist",
                dir.display().to_string()
            );
        }
    }
    match std::fs::metadata(dest) {
        Ok(m) if !m.is_dir() && !m.is_file() => {
            bail!("invalid output path: {dest:?} must be a directory or a regular file")
        }
        _ => Ok(()),
    }
}

/// docker's `CopyInfoDestinationPath` on the host: symlinks followed;
/// a path not there needs a directory to be made in.
fn local_destination(dest: &str) -> Result<Info> {
    match std::fs::metadata(dest) {
        Ok(m) => Ok(Info {
            path: dest.to_string(),
            exists: true,
            is_dir: m.is_dir(),
            rebase_name: None,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (parent, _) = split_dir_entry(dest);
            match std::fs::metadata(&parent) {
                Ok(m) if m.is_dir() => Ok(Info {
                    path: dest.to_string(),
                    ..Info::default()
                }),
                Ok(_) => bail!("{parent}: not a directory"),
                Err(e) => Err(e).with_context(|| format!("stat {parent}")),
            }
        }
        Err(e) => Err(e).with_context(|| format!("stat {dest}")),
    }
}

/// docker's `CopyInfoSourcePath` on the host: the path with its parents'
/// symlinks resolved (and its own with `follow`, or a trailing `/`).
fn local_source(src: &str, follow: bool) -> Result<Info> {
    let src = absolute(src)?;
    let (dir, base) = split_dir_entry(&src);
    let whole = follow || src.ends_with('/') || base == ".";
    let resolved = if whole {
        let target = if base == "." {
            dir.as_str()
        } else {
            src.as_str()
        };
        let real = std::fs::canonicalize(target).with_context(|| format!("lstat {target}"))?;
        real.display().to_string()
    } else {
        let real = std::fs::canonicalize(&dir).with_context(|| format!("lstat {dir}"))?;
        format!(
            "{}/{base}",
            real.display().to_string().trim_end_matches('/')
        )
    };
    let (resolved, rebase) = rebase_name(&src, &resolved);
    let meta = std::fs::symlink_metadata(&resolved).with_context(|| format!("lstat {resolved}"))?;
    Ok(Info {
        path: resolved,
        exists: true,
        is_dir: meta.is_dir(),
        rebase_name: rebase,
    })
}

/// `SRC` (or a tar stream on stdin with `-`) to `CONTAINER:DEST`.
fn to_container(engine: &Engine, src: &str, c: &str, dest: &str, args: &CpArgs) -> Result<()> {
    let (root, user) = container_root(engine, c, dest)?;
    let mut dst = Info {
        path: dest.to_string(),
        ..Info::default()
    };
    let mut stat = copy::stat(&root, dest);
    if let Ok(st) = &stat {
        if st.is_symlink() {
            dst.path = st.link_target.clone();
            stat = copy::stat(&root, &dst.path);
        }
    }
    if let Ok(st) = &stat {
        if !st.is_dir() && !st.is_regular() {
            bail!("destination \"{c}:{dest}\" must be a directory or a regular file");
        }
        (dst.exists, dst.is_dir) = (true, st.is_dir());
    }
    let mut options = ExtractOptions {
        no_overwrite_dir_non_dir: true,
        owner: args.archive.then_some(user),
        rebase: None,
    };
    if src == "-" {
        if !dst.is_dir {
            bail!("destination \"{c}:{dest}\" must be a directory");
        }
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            bail!("cannot read a tar stream from a terminal: redirect STDIN");
        }
        return copy::extract_tar(&root, &dst.path, stdin.lock(), &options)
            .map_err(|e| in_container(e, c, &dst.path));
    }
    let source = local_source(src, args.follow_link)?;
    let (dir, rename) = prepare(&source, &dst)?;
    options.rebase = rename;
    let host = copy::open_root(Path::new("/"))?;
    piped(
        |out| copy::write_tar(&host, &source.path, out).map(drop),
        |input| copy::extract_tar(&root, &dir, input, &options),
    )
    .map_err(|e| in_container(e, c, &dir))
}

/// Run `write` on a thread of its own into a pipe, and `read` here from
/// it: an archive streamed from one root to another, never held whole.
/// The reader's error comes first (a writer that fails then only sees a
/// closed pipe).
fn piped(
    write: impl FnOnce(&mut File) -> Result<(), CopyError> + Send,
    read: impl FnOnce(&mut File) -> Result<(), CopyError>,
) -> Result<(), CopyError> {
    let (rx, tx) = nix::unistd::pipe().map_err(|e| CopyError::Io {
        path: "pipe".into(),
        source: e.into(),
    })?;
    let (mut rx, mut tx) = (File::from(rx), File::from(tx));
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || write(&mut tx));
        let read = read(&mut rx);
        // The writer is not left blocked on a pipe no one reads.
        drop(rx);
        let written = writer.join().unwrap_or(Ok(()));
        read.and(written)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides() {
        assert_eq!(side("c:/etc"), Side::Container("c", "/etc"));
        assert_eq!(side("/tmp/a:b"), Side::Local("/tmp/a:b"));
        assert_eq!(side("./a:b"), Side::Local("./a:b"));
        assert_eq!(side("file"), Side::Local("file"));
        assert_eq!(side("-"), Side::Local("-"));
    }

    #[test]
    fn split_dir_entries() {
        let split = |p| split_dir_entry(p);
        assert_eq!(split("/a/b"), ("/a".into(), "b".into()));
        assert_eq!(split("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(split("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(split("/b"), ("/".into(), "b".into()));
    }

    fn info(path: &str, exists: bool, is_dir: bool) -> Info {
        Info {
            path: path.into(),
            exists,
            is_dir,
            rebase_name: None,
        }
    }

    #[test]
    fn docker_copy_rules() {
        let file = info("/src/f", true, true);
        let file = Info {
            is_dir: false,
            ..file
        };
        let dir = info("/src/d", true, true);
        let content = info("/src/d/.", true, true);
        // Into an existing directory, under its own name.
        assert_eq!(
            prepare(&file, &info("/dst", true, true)).unwrap(),
            ("/dst".into(), None)
        );
        // A new name: renamed.
        let new = info("/dst/g", false, false);
        let renamed = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(
            prepare(&file, &new).unwrap(),
            ("/dst".into(), renamed("f", "g"))
        );
        assert_eq!(
            prepare(&dir, &new).unwrap(),
            ("/dst".into(), renamed("d", "g"))
        );
        assert_eq!(
            prepare(&content, &new).unwrap(),
            ("/dst".into(), renamed(".", "g"))
        );
        // Over an existing file.
        let existing = info("/dst/g", true, false);
        assert_eq!(
            prepare(&file, &existing).unwrap(),
            ("/dst".into(), renamed("f", "g"))
        );
        assert_eq!(
            prepare(&dir, &existing).unwrap_err().to_string(),
            "cannot copy directory"
        );
        // A file cannot make a directory.
        let asserted = info("/dst/new/", false, false);
        assert_eq!(
            prepare(&file, &asserted).unwrap_err().to_string(),
            "no such directory"
        );
        assert_eq!(
            prepare(&dir, &asserted).unwrap(),
            ("/dst".into(), renamed("d", "new"))
        );
        // A followed link keeps the link's name.
        let followed = Info {
            rebase_name: Some("sh".into()),
            ..info("/bin/busybox", true, false)
        };
        let into = info("/dst", true, true);
        assert_eq!(
            prepare(&followed, &into).unwrap(),
            ("/dst".into(), renamed("busybox", "sh"))
        );
    }

    #[test]
    fn rebase_names() {
        assert_eq!(
            rebase_name("/bin/sh", "/bin/busybox"),
            ("/bin/busybox".into(), Some("sh".into()))
        );
        assert_eq!(rebase_name("/a/d/.", "/b/d"), ("/b/d/.".into(), None));
        assert_eq!(rebase_name("/a/x", "/b/x"), ("/b/x".into(), None));
    }
}
