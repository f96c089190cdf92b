//! The event journal on disk: JSON lines appended by every process that
//! drives the engine (the command line, detached supervisors, the API
//! service, the OCI runtime), read back and followed by `events`.
//!
//! Each event is one `write(2)` to a file opened `O_APPEND`: the kernel
//! places each write whole at the end, so concurrent writers never
//! interleave. The journal is bounded by rotation: when it grows past its
//! limit, it is renamed to `events.log.1` (replacing the one before) and
//! the next writer starts a new one, so between one and two limits' worth
//! of events are kept. No append is lost to a rotation: writers hold a
//! shared `flock(2)` on the file they write, and check under it that the
//! path still names that file; the rotator renames under an exclusive
//! lock of it, so a writer either finished before the rename or sees it
//! and opens the new file. A reader that saw the rename therefore knows
//! the old file is complete.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::logs::Lines;

/// The journal of one state root.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    dir: PathBuf,
    /// The size past which it is rotated.
    limit: u64,
}

/// The journal's file, written now.
const CURRENT: &str = "events.log";
/// The one before, complete.
const PREVIOUS: &str = "events.log.1";

/// About 2500 events of a few hundred bytes each per file: docker keeps
/// the last 1000 in memory.
pub(crate) const LIMIT: u64 = 1 << 20;

impl Journal {
    pub(crate) fn new(root: &Path) -> Journal {
        Journal::with_limit(root.join("events"), LIMIT)
    }

    pub(crate) fn with_limit(dir: PathBuf, limit: u64) -> Journal {
        Journal { dir, limit }
    }

    /// The directory the files are in (watched by followers).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn current(&self) -> PathBuf {
        self.dir.join(CURRENT)
    }

    pub(crate) fn previous(&self) -> PathBuf {
        self.dir.join(PREVIOUS)
    }

    /// Append one line (its '\n' included) in one write; rotate after it
    /// if the journal has grown past its limit.
    pub(crate) fn append(&self, line: &[u8]) -> io::Result<()> {
        let path = self.current();
        loop {
            let file = self.open_for_append(&path)?;
            lock(|| file.lock_shared())?;
            let held = file.metadata()?;
            if !names(&path, &held)? {
                // Rotated away between the open and the lock.
                continue;
            }
            let written = (&file).write(line)?;
            if written != line.len() {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write to {}", path.display()),
                ));
            }
            if held.len() + line.len() as u64 > self.limit {
                self.rotate(&file, &path)?;
            }
            return Ok(());
        }
    }

    fn open_for_append(&self, path: &Path) -> io::Result<File> {
        let open = || {
            fs::OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC)
                .open(path)
        };
        match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&self.dir)?;
                open()
            }
            opened => opened,
        }
    }

    /// Rename the journal out of the way, once every writer of it is done
    /// (the shared lock becomes exclusive: flock converts by releasing
    /// first, so two rotators never wait on each other). Another writer
    /// may have rotated it meanwhile: then nothing is left to do.
    fn rotate(&self, file: &File, path: &Path) -> io::Result<()> {
        lock(|| file.lock())?;
        let held = file.metadata()?;
        if names(path, &held)? && held.len() > self.limit {
            fs::rename(path, self.previous())?;
        }
        Ok(())
    }
}

/// Take a flock, again when a signal interrupts the wait.
fn lock(mut take: impl FnMut() -> io::Result<()>) -> io::Result<()> {
    loop {
        match take() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            done => return done,
        }
    }
}

/// Whether `path` names the file whose metadata is `held`.
fn names(path: &Path, held: &fs::Metadata) -> io::Result<bool> {
    match fs::metadata(path) {
        Ok(now) => Ok(now.ino() == held.ino() && now.dev() == held.dev()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// One file of the journal, read line by line from where it stopped.
pub(crate) struct Segment {
    lines: Lines,
    ino: u64,
}

impl Segment {
    /// The file at `path`; None if there is none.
    pub(crate) fn open(path: &Path) -> io::Result<Option<Segment>> {
        let Some(lines) = Lines::open(path)? else {
            return Ok(None);
        };
        let ino = lines.file().metadata()?.ino();
        Ok(Some(Segment { lines, ino }))
    }

    /// Whether this is the same file as `other`.
    pub(crate) fn same(&self, other: &Segment) -> bool {
        self.ino == other.ino
    }

    /// Whether `path` still names this file (not rotated away).
    pub(crate) fn is_at(&self, path: &Path) -> io::Result<bool> {
        names(path, &self.lines.file().metadata()?)
    }

    /// Every complete line from where the last call stopped to the end of
    /// the file as it is now, without its '\n'.
    pub(crate) fn read_lines(
        &mut self,
        each: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.lines.read(each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &Path) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(mut segment) = Segment::open(path).unwrap() {
            segment
                .read_lines(|l| {
                    out.push(String::from_utf8(l.to_vec()).unwrap());
                    Ok(())
                })
                .unwrap();
        }
        out
    }

    #[test]
    fn the_journal_rotates_past_its_limit_and_keeps_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        // Made on first use, under a root that does not exist yet.
        let journal = Journal::with_limit(dir.path().join("root/events"), 100);
        for i in 0..25 {
            journal.append(format!("{i:09}\n").as_bytes()).unwrap();
        }
        // Ten-byte lines: a file is renamed when it passes 100 bytes, at
        // its 11th line.
        let current = lines(&journal.current());
        let previous = lines(&journal.previous());
        assert_eq!(previous.len(), 11, "{previous:?}");
        assert_eq!(previous.first().unwrap(), "000000011");
        assert_eq!(current, ["000000022", "000000023", "000000024"]);
    }

    #[test]
    fn concurrent_appenders_lose_and_mix_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (writers, each) = (8, 400);
        let line_len = |w: usize| 100 + w * 7;
        let total: usize = (0..writers).map(|w| each * (line_len(w) + 8)).sum();
        // Rotated once, mid-way, while the writers race: everything
        // written is in the two files kept.
        let journal = Journal::with_limit(dir.path().to_path_buf(), (total * 3 / 5) as u64);
        let threads: Vec<_> = (0..writers)
            .map(|w| {
                let journal = journal.clone();
                std::thread::spawn(move || {
                    for i in 0..each {
                        // Long enough that a torn write would show.
                        let line = format!("{w}:{i:03}:{}\n", "x".repeat(line_len(w)));
                        journal.append(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let previous = lines(&journal.previous());
        assert!(!previous.is_empty(), "the test must rotate");
        let all: Vec<String> = previous
            .into_iter()
            .chain(lines(&journal.current()))
            .collect();
        let mut next = vec![0; writers];
        for line in &all {
            let mut parts = line.split(':');
            let w: usize = parts.next().unwrap().parse().unwrap();
            let i: usize = parts.next().unwrap().parse().unwrap();
            assert_eq!(
                parts.next().unwrap(),
                "x".repeat(line_len(w)),
                "torn: {line}"
            );
            assert_eq!(i, next[w], "writer {w}: lost or out of order");
            next[w] += 1;
        }
        assert_eq!(next, vec![each; writers], "appends were lost");
    }
}
