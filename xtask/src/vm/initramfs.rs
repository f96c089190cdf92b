//! The guest's initramfs: a tree of directories, files and symlinks written
//! as a newc cpio archive (the format the kernel unpacks into its rootfs,
//! see the kernel's Documentation/driver-api/early-userspace/buffer-format.rst).
//!
//! Host programs go in at their canonical host paths with the shared
//! libraries `ldd` lists for them (and the dynamic loader), so the guest's
//! `/usr/lib/...` mirrors the host's; the host's merged-/usr symlinks
//! (`/bin -> usr/bin`, `/lib64 -> usr/lib64`, ...) are mirrored too.
//! Uncompressed: unpacking a gzip archive under TCG costs more than
//! loading the larger file.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

/// One entry of the archive.
enum Entry {
    /// A directory with its mode.
    Dir(u32),
    /// A host file, copied when the archive is written (its target, if it
    /// is a symlink).
    File {
        source: PathBuf,
        mode: u32,
    },
    /// Bytes made here.
    Data {
        bytes: Vec<u8>,
        mode: u32,
    },
    Symlink(String),
}

/// The archive's content, by path relative to `/`. A `BTreeMap` of paths
/// orders every directory before what it holds, as the kernel needs.
#[derive(Default)]
pub struct Tree {
    entries: BTreeMap<PathBuf, Entry>,
}

/// The top-level directories the host has as symlinks into /usr.
const MERGED: [&str; 6] = ["bin", "sbin", "lib", "lib64", "lib32", "libx32"];

/// Relative form of a guest path: no leading `/`, no `.` or `..`.
fn rel(path: impl AsRef<Path>) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.as_ref().components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => bail!("{}: no .. in guest paths", path.as_ref().display()),
        }
    }
    Ok(out)
}

/// Where a host file is once symlinks in its directories are resolved
/// (`/lib/x86_64-linux-gnu/libc.so.6` -> `/usr/lib/x86_64-linux-gnu/libc.so.6`);
/// the file name itself stays (a library keeps its soname).
fn canonical(path: &Path) -> Result<PathBuf> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{}: no file name", path.display()))?;
    Ok(fs::canonicalize(parent)
        .with_context(|| format!("resolve {}", parent.display()))?
        .join(name))
}

/// A program on the host's PATH (or in the sbin directories root has).
pub fn host_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .map(PathBuf::from)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The shared libraries `ldd` lists for `bin` (and the loader); none for
/// a static binary.
pub fn shared_libraries(bin: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| anyhow!("run ldd ({e}): apt-get install libc-bin"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // "not a dynamic executable": nothing to add.
        return Ok(Vec::new());
    }
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and
    // "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
    Ok(text
        .lines()
        .flat_map(|l| l.split_whitespace())
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .collect())
}

impl Tree {
    /// A directory and its parents.
    pub fn dir(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = rel(path)?;
        let mut at = PathBuf::new();
        for c in path.components() {
            at.push(c);
            match self.entries.get(&at) {
                None => {
                    self.entries.insert(at.clone(), Entry::Dir(0o755));
                }
                Some(Entry::Dir(_)) => {}
                Some(_) => bail!("{} is in the archive, not as a directory", at.display()),
            }
        }
        Ok(())
    }

    fn insert(&mut self, path: impl AsRef<Path>, entry: Entry) -> Result<()> {
        let path = rel(path)?;
        if let Some(parent) = path.parent() {
            self.dir(parent)?;
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    pub fn contains(&self, path: impl AsRef<Path>) -> bool {
        rel(path).is_ok_and(|p| self.entries.contains_key(&p))
    }

    /// The host file `source` at `dest`, with `mode` (or its own mode).
    pub fn file(&mut self, dest: impl AsRef<Path>, source: &Path, mode: Option<u32>) -> Result<()> {
        let meta = fs::metadata(source).with_context(|| format!("stat {}", source.display()))?;
        let mode = mode.unwrap_or(meta.permissions().mode() & 0o7777);
        self.insert(
            dest,
            Entry::File {
                source: source.to_path_buf(),
                mode,
            },
        )
    }

    pub fn data(
        &mut self,
        dest: impl AsRef<Path>,
        bytes: impl Into<Vec<u8>>,
        mode: u32,
    ) -> Result<()> {
        self.insert(
            dest,
            Entry::Data {
                bytes: bytes.into(),
                mode,
            },
        )
    }

    pub fn symlink(&mut self, dest: impl AsRef<Path>, target: &str) -> Result<()> {
        self.insert(dest, Entry::Symlink(target.to_string()))
    }

    /// Under `prefix`: the host's merged-/usr symlinks, `/tmp` (1777)
    /// and `/etc` with `passwd` and `group`.
    pub fn root_skeleton(&mut self, prefix: &str) -> Result<()> {
        let prefix = Path::new(prefix);
        for d in MERGED {
            let host = Path::new("/").join(d);
            if let Ok(target) = fs::read_link(&host) {
                self.symlink(prefix.join(d), &target.to_string_lossy())?;
            }
        }
        self.data(
            prefix.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            0o644,
        )?;
        self.data(
            prefix.join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\n",
            0o644,
        )?;
        self.dir(prefix.join("root"))?;
        self.insert(prefix.join("tmp"), Entry::Dir(0o1777))
    }

    /// The shared library `lib` at its canonical path under `prefix`,
    /// unless it is there already.
    pub fn library(&mut self, prefix: &str, lib: &Path) -> Result<()> {
        let dest = Path::new(prefix).join(rel(canonical(lib)?)?);
        if !self.contains(&dest) {
            self.file(&dest, lib, Some(0o755))?;
        }
        Ok(())
    }

    /// The host program `bin` at its canonical path under `prefix`, with
    /// its shared libraries; `staged` replaces its content (a stripped
    /// copy) when given.
    pub fn program(&mut self, prefix: &str, bin: &Path, staged: Option<&Path>) -> Result<PathBuf> {
        let dest = Path::new(prefix).join(rel(canonical(bin)?)?);
        self.file(&dest, staged.unwrap_or(bin), Some(0o755))?;
        for lib in shared_libraries(bin)? {
            self.library(prefix, &lib)?;
        }
        Ok(dest)
    }

    /// The host's static busybox under `prefix` with one symlink per applet
    /// beside it, except where a real program of that name is already
    /// packed (iproute2's `ip` does network namespaces, busybox's does not).
    pub fn busybox(&mut self, prefix: &str) -> Result<()> {
        let busybox = Path::new("/bin/busybox");
        if !busybox.is_file() {
            bail!("/bin/busybox is missing: apt-get install busybox-static");
        }
        if !shared_libraries(busybox)?.is_empty() {
            bail!("/bin/busybox is not static: apt-get install busybox-static");
        }
        let dest = self.program(prefix, busybox, None)?;
        let dir = dest.parent().expect("busybox's directory").to_path_buf();
        let list = Command::new(busybox).arg("--list").output()?;
        let taken = |tree: &Tree, name: &str| {
            ["usr/bin", "usr/sbin", "bin", "sbin"]
                .iter()
                .any(|d| tree.contains(Path::new(prefix).join(d).join(name)))
        };
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet.is_empty() || applet.contains('/') || taken(self, applet) {
                continue;
            }
            self.symlink(dir.join(applet), "busybox")?;
        }
        Ok(())
    }

    /// Write the archive; returns its size.
    pub fn write_cpio(&self, out: &Path) -> Result<u64> {
        let file = fs::File::create(out).with_context(|| format!("create {}", out.display()))?;
        let mut w = CpioWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            written: 0,
            ino: 1,
        };
        for (path, entry) in &self.entries {
            let name = path.to_string_lossy();
            match entry {
                Entry::Dir(mode) => w.entry(&name, 0o040000 | mode, 2, 0, &mut io::empty())?,
                Entry::Data { bytes, mode } => w.entry(
                    &name,
                    0o100000 | mode,
                    1,
                    bytes.len() as u64,
                    &mut &bytes[..],
                )?,
                Entry::Symlink(target) => w.entry(
                    &name,
                    0o120777,
                    1,
                    target.len() as u64,
                    &mut target.as_bytes(),
                )?,
                Entry::File { source, mode } => {
                    let mut f = fs::File::open(source)
                        .with_context(|| format!("open {}", source.display()))?;
                    let size = f.metadata()?.len();
                    w.entry(&name, 0o100000 | mode, 1, size, &mut f)
                        .with_context(|| format!("pack {}", source.display()))?;
                }
            }
        }
        w.entry("TRAILER!!!", 0, 1, 0, &mut io::empty())?;
        w.out.flush()?;
        Ok(w.written)
    }
}

struct CpioWriter<W: Write> {
    out: W,
    written: u64,
    ino: u32,
}

impl<W: Write> CpioWriter<W> {
    fn pad(&mut self) -> io::Result<()> {
        let pad = (4 - (self.written % 4) as usize) % 4;
        self.out.write_all(&[0u8; 3][..pad])?;
        self.written += pad as u64;
        Ok(())
    }

    /// One newc entry: the "070701" header (13 fields of 8 hex digits),
    /// the name with its NUL, padding to 4, the data, padding to 4.
    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        size: u64,
        data: &mut dyn io::Read,
    ) -> Result<()> {
        let size32 = u32::try_from(size).map_err(|_| anyhow!("{name}: too large for cpio"))?;
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime: reproducible archives
            size32,
            0,
            0,
            0,
            0,
            name.len() + 1,
            0,
        );
        self.ino += 1;
        self.out.write_all(header.as_bytes())?;
        self.out.write_all(name.as_bytes())?;
        self.out.write_all(&[0])?;
        self.written += header.len() as u64 + name.len() as u64 + 1;
        self.pad()?;
        let copied = io::copy(&mut io::Read::take(data, size), &mut self.out)?;
        if copied != size {
            bail!("{name}: changed while being packed ({copied} of {size} bytes)");
        }
        self.written += size;
        self.pad()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_layout() {
        let mut tree = Tree::default();
        tree.data("etc/hostname", "vm\n", 0o644).unwrap();
        tree.symlink("bin", "usr/bin").unwrap();
        let dir = std::env::temp_dir().join(format!("xtask-cpio-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let out = dir.join("a.cpio");
        let size = tree.write_cpio(&out).unwrap();
        let bytes = fs::read(&out).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(bytes.len() as u64, size);
        assert_eq!(size % 4, 0);
        // bin (symlink), etc (dir), etc/hostname, trailer: in path order.
        let text = String::from_utf8_lossy(&bytes);
        let names: Vec<&str> = ["bin\0", "etc\0", "etc/hostname\0", "TRAILER!!!\0"]
            .into_iter()
            .filter(|n| text.contains(n))
            .collect();
        assert_eq!(names.len(), 4, "{text:?}");
        assert!(text.find("etc\0").unwrap() < text.find("etc/hostname\0").unwrap());
        assert!(bytes.starts_with(b"070701"));
        // The first entry ("bin", 4 bytes with NUL): header 110 + 4 = 114,
        // padded to 116, then "usr/bin" (7) padded to 8.
        assert_eq!(&bytes[116..123], b"usr/bin");
        assert_eq!(&bytes[124..130], b"070701");
    }
}
