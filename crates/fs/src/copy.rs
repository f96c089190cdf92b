//! Copying files into and out of a root filesystem as tar streams, the way
//! `docker cp` does: a path's metadata, a tar of a file or a directory
//! tree (its name as the top entry), and a tar unpacked into a directory.
//!
//! Everything is done from a descriptor of the root (a container's root,
//! or a directory of the host's) and resolved inside it: a path's parents
//! with `openat2(RESOLVE_IN_ROOT)` (a symlink, even an absolute one or one
//! full of `..`, leads to a place under the root, never the host's), a
//! tree walked by descriptor, one name at a time, never following a
//! symlink (a symlink swapped in meanwhile by a process of the container
//! is archived as the link it is). Archives are streamed, never held.

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::layer::{self, clean, cstr, join, resolve_dir, Rules, UnpackError};

/// Why a copy failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The path is not there.
    #[error("{0}: no such file or directory")]
    NotFound(String),
    /// The path (or a parent of it) is not a directory where one is needed.
    #[error("{0}: not a directory")]
    NotADirectory(String),
    /// Reading the tree or writing the stream failed.
    #[error("{path}: {source}")]
    Io {
        /// The path in the root being read or written.
        path: String,
        #[source]
        source: io::Error,
    },
    /// Unpacking an entry failed.
    #[error(transparent)]
    Unpack(#[from] UnpackError),
}

impl CopyError {
    fn io(path: &str, source: io::Error) -> CopyError {
        match source.raw_os_error() {
            Some(libc::ENOENT) => CopyError::NotFound(path.to_string()),
            Some(libc::ENOTDIR) => CopyError::NotADirectory(path.to_string()),
            _ => CopyError::Io {
                path: path.to_string(),
                source,
            },
        }
    }
}

// Go's os.FileMode type bits, which docker's path stat carries.
const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_DEVICE: u32 = 1 << 26;
const GO_NAMED_PIPE: u32 = 1 << 25;
const GO_SOCKET: u32 = 1 << 24;
const GO_SETUID: u32 = 1 << 23;
const GO_SETGID: u32 = 1 << 22;
const GO_CHAR_DEVICE: u32 = 1 << 21;
const GO_STICKY: u32 = 1 << 20;

/// What docker's `X-Docker-Container-Path-Stat` says of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    /// The path's last component (`/` for the root).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Permissions and type as Go's `os.FileMode` (directory `1<<31`,
    /// symlink `1<<27`, ...).
    pub mode: u32,
    /// Last modification, nanoseconds since the epoch.
    pub mtime: u128,
    /// For a symlink, where it leads in the root, all links followed
    /// (absolute); otherwise empty.
    pub link_target: String,
}

impl PathStat {
    /// A directory (docker's `mode & ModeDir`).
    pub fn is_dir(&self) -> bool {
        self.mode & GO_DIR != 0
    }

    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.mode & GO_SYMLINK != 0
    }

    /// A regular file (none of Go's type bits).
    pub fn is_regular(&self) -> bool {
        self.mode & (GO_DIR | GO_SYMLINK | GO_DEVICE | GO_NAMED_PIPE | GO_SOCKET) == 0
    }
}

/// Go's `os.FileMode` of a `stat(2)` mode.
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut mode = st_mode & 0o777;
    mode |= match st_mode & libc::S_IFMT {
        libc::S_IFDIR => GO_DIR,
        libc::S_IFLNK => GO_SYMLINK,
        libc::S_IFBLK => GO_DEVICE,
        libc::S_IFCHR => GO_DEVICE | GO_CHAR_DEVICE,
        libc::S_IFIFO => GO_NAMED_PIPE,
        libc::S_IFSOCK => GO_SOCKET,
        _ => 0,
    };
    for (bit, go) in [
        (libc::S_ISUID, GO_SETUID),
        (libc::S_ISGID, GO_SETGID),
        (libc::S_ISVTX, GO_STICKY),
    ] {
        if st_mode & bit != 0 {
            mode |= go;
        }
    }
    mode
}

/// The name docker gives what a path names, as the top entry of its
/// archive and in its stat: the last component, `.` for a path ending in
/// `/.` (a directory's content), `/` for the root.
pub fn base_name(path: &str) -> String {
    if path == "." || path.ends_with("/.") {
        return ".".into();
    }
    match clean(Path::new(path)).last() {
        Some(name) => name.to_string_lossy().into_owned(),
        None => "/".into(),
    }
}

/// A path in the root, found: its parent directory and its name, or (for
/// the root, or a path that ends in `/` or `/.`, which must be a
/// directory and is followed) the directory itself.
struct Found {
    dir: OwnedFd,
    name: Option<CString>,
}

impl Found {
    fn stat(&self) -> io::Result<libc::stat> {
        match &self.name {
            Some(name) => fstatat(&self.dir, name),
            None => fstatat(&self.dir, c""),
        }
    }
}

fn find(root: &OwnedFd, path: &str) -> io::Result<Found> {
    let parts = clean(Path::new(path));
    let whole_dir = path.ends_with('/') || path.ends_with("/.") || path == ".";
    match parts.split_last() {
        Some((name, parents)) if !whole_dir => Ok(Found {
            dir: resolve_dir(root, parents)?,
            name: Some(cstr(name.as_bytes())),
        }),
        _ => Ok(Found {
            dir: resolve_dir(root, &parts)?,
            name: None,
        }),
    }
}

/// The stat of `path` in `root` (a symlink itself, not followed, but for
/// its [`PathStat::link_target`]).
pub fn stat(root: &OwnedFd, path: &str) -> Result<PathStat, CopyError> {
    let failed = |e| CopyError::io(path, e);
    let found = find(root, path).map_err(failed)?;
    let st = found.stat().map_err(failed)?;
    let mode = go_file_mode(st.st_mode);
    let link_target = if mode & GO_SYMLINK != 0 {
        let parts = clean(Path::new(path));
        let real = layer::real_path(root, &parts).map_err(failed)?;
        let real: Vec<&OsStr> = real.iter().map(OsString::as_os_str).collect();
        format!("/{}", join(&real).display())
    } else {
        String::new()
    };
    Ok(PathStat {
        name: base_name(path),
        size: st.st_size as u64,
        mode,
        mtime: st.st_mtime as u128 * 1_000_000_000 + st.st_mtime_nsec as u128,
        link_target,
    })
}

/// Write a tar of `path` in `root` to `out`: a file as one entry, a
/// directory as itself and everything under it, named as
/// [`base_name`] says (docker's archive of a path). Symlinks are archived
/// as links; what is mounted from a kernel filesystem (`/proc`, `/sys`,
/// cgroups, ptys, mqueues) only as its empty directory. `out` comes back
/// when the archive is complete.
pub fn write_tar<W: Write>(root: &OwnedFd, path: &str, out: W) -> Result<W, CopyError> {
    let failed = |e| CopyError::io(path, e);
    let found = find(root, path).map_err(failed)?;
    let st = found.stat().map_err(failed)?;
    let mut walk = Walk::new(out);
    let name = PathBuf::from(base_name(path));
    match &found.name {
        Some(n) => walk.entry(&found.dir, n, &st, &name)?,
        None => {
            let dir = reopen_dir(&found.dir, c".").map_err(failed)?;
            walk.directory(dir, &st, &name, true)?;
        }
    }
    walk.tar.into_inner().map_err(failed)
}

/// Write a tar of everything under `root` to `out`, named from there
/// (`bin`, `bin/busybox`; the root itself has no entry): docker's export.
pub fn write_tree<W: Write>(root: &OwnedFd, out: W) -> Result<W, CopyError> {
    let failed = |e| CopyError::io("/", e);
    let dir = reopen_dir(root, c".").map_err(failed)?;
    let st = fstatat(&dir, c"").map_err(failed)?;
    let mut walk = Walk::new(out);
    walk.directory(dir, &st, Path::new(""), false)?;
    walk.tar.into_inner().map_err(failed)
}

/// A tree being archived.
struct Walk<W: Write> {
    tar: tar::Builder<W>,
    /// The first path archived of each file with more than one link
    /// (device, inode): the others are hard links to it.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> Walk<W> {
    fn new(out: W) -> Walk<W> {
        let mut tar = tar::Builder::new(out);
        tar.mode(tar::HeaderMode::Complete);
        tar.follow_symlinks(false);
        Walk {
            tar,
            links: HashMap::new(),
        }
    }

    /// Archive `name` of `dir` (its stat `st`) as `path`.
    fn entry(
        &mut self,
        dir: &OwnedFd,
        name: &CString,
        st: &libc::stat,
        path: &Path,
    ) -> Result<(), CopyError> {
        let shown = path.display().to_string();
        let failed = |e| CopyError::io(&shown, e);
        let mut header = header_of(st);
        let kind = st.st_mode & libc::S_IFMT;
        if kind != libc::S_IFDIR && st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key) {
                header.set_entry_type(tar::EntryType::Link);
                header.set_size(0);
                let first = first.clone();
                return self
                    .tar
                    .append_link(&mut header, path, first)
                    .map_err(failed);
            }
            self.links.insert(key, path.to_path_buf());
        }
        match kind {
            libc::S_IFDIR => {
                let sub = reopen_dir(dir, name).map_err(failed)?;
                self.directory(sub, st, path, true)
            }
            libc::S_IFREG => {
                let file = reopen_file(dir, name).map_err(failed)?;
                let size = st.st_size as u64;
                let data = Exactly {
                    inner: File::from(file).take(size),
                    left: size,
                };
                self.tar
                    .append_data(&mut header, path, data)
                    .map_err(failed)
            }
            libc::S_IFLNK => {
                let target = layer::read_link(dir, name).map_err(failed)?;
                self.tar
                    .append_link(&mut header, path, target)
                    .map_err(failed)
            }
            libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO => self
                .tar
                .append_data(&mut header, path, io::empty())
                .map_err(failed),
            // Sockets are not archived, as docker's.
            _ => Ok(()),
        }
    }

    /// Archive directory `dir` (a readable descriptor) as `path` (unless
    /// not `itself`), and what is in it, by name.
    fn directory(
        &mut self,
        dir: OwnedFd,
        st: &libc::stat,
        path: &Path,
        itself: bool,
    ) -> Result<(), CopyError> {
        let shown = path.display().to_string();
        let failed = |e| CopyError::io(&shown, e);
        if itself {
            let mut header = header_of(st);
            self.tar
                .append_data(&mut header, path, io::empty())
                .map_err(failed)?;
        }
        if kernel_filesystem(&dir) {
            return Ok(());
        }
        let mut names: Vec<OsString> =
            std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))
                .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
                .map_err(failed)?;
        names.sort();
        for name in names {
            let cname = cstr(name.as_bytes());
            let st = match fstatat(&dir, &cname) {
                Ok(st) => st,
                // Gone meanwhile.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(failed(e)),
            };
            self.entry(&dir, &cname, &st, &path.join(&name))?;
        }
        Ok(())
    }
}

/// A tar header of what `st` describes (its data, links and name set by
/// the caller).
fn header_of(st: &libc::stat) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => tar::EntryType::Directory,
        libc::S_IFLNK => tar::EntryType::Symlink,
        libc::S_IFCHR => tar::EntryType::Char,
        libc::S_IFBLK => tar::EntryType::Block,
        libc::S_IFIFO => tar::EntryType::Fifo,
        _ => tar::EntryType::Regular,
    };
    header.set_entry_type(kind);
    header.set_mode(st.st_mode & 0o7777);
    header.set_uid(st.st_uid.into());
    header.set_gid(st.st_gid.into());
    header.set_mtime(st.st_mtime.max(0) as u64);
    header.set_size(if kind == tar::EntryType::Regular {
        st.st_size as u64
    } else {
        0
    });
    if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
        let (major, minor) = (libc::major(st.st_rdev), libc::minor(st.st_rdev));
        let _ = header.set_device_major(major);
        let _ = header.set_device_minor(minor);
    }
    header
}

/// A file's data, exactly as long as its header says: a file that shrank
/// while archived is padded with zeros (the archive stays readable).
struct Exactly<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exactly<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left as usize);
        let mut n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            buf[..want].fill(0);
            n = want;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// How [`extract_tar`] makes what the archive holds.
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// Refuse to replace a directory with a non-directory or the reverse
    /// (docker's `noOverwriteDirNonDir`).
    pub no_overwrite_dir_non_dir: bool,
    /// Own everything by this uid and gid, not as the archive says.
    pub owner: Option<(u32, u32)>,
    /// Read the archive's top name `.0` as `.1` (docker's rebase onto a
    /// destination of another name).
    pub rebase: Option<(String, String)>,
}

/// Unpack the tar `reader` gives into directory `dir` of `root` (which
/// must exist; symlinks on the way followed inside `root`). No entry
/// lands outside `dir`: entries' paths are cleaned as if rooted at `dir`
/// (`../x` is `x`), and their parents resolved inside it.
pub fn extract_tar(
    root: &OwnedFd,
    dir: &str,
    reader: impl Read,
    options: &ExtractOptions,
) -> Result<(), CopyError> {
    let parts = clean(Path::new(dir));
    let into = resolve_dir(root, &parts).map_err(|e| CopyError::io(dir, e))?;
    let rules = Rules {
        whiteouts: false,
        no_overwrite_dir_non_dir: options.no_overwrite_dir_non_dir.then(|| dir.to_string()),
        owner: options.owner.map(|(u, g)| (u.into(), g.into())),
        rebase: options
            .rebase
            .as_ref()
            .map(|(from, to)| (OsString::from(from), OsString::from(to))),
    };
    let mut archive = tar::Archive::new(reader);
    let mut dirs = Vec::new();
    for entry in archive.entries().map_err(UnpackError::NotATarball)? {
        let mut entry = entry.map_err(layer::read_error)?;
        if let Some(made) = layer::apply(&into, &mut entry, &rules)? {
            dirs.push(made);
        }
    }
    // Directories' times last: what was made in them changed them.
    for (path, times) in dirs.iter().rev() {
        let _ = layer::set_times(&into, path, *times);
    }
    Ok(())
}

// ---- system calls on a directory fd and one name ----

fn fstatat(dir: &OwnedFd, name: &std::ffi::CStr) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    let flags = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;
    // SAFETY: a valid dirfd and a NUL-terminated name; st is read only
    // after fstatat filled it.
    layer::check(unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), st.as_mut_ptr(), flags) })?;
    // SAFETY: initialised by the successful fstatat.
    Ok(unsafe { st.assume_init() })
}

/// Open `name` in `dir` with `flags`, never following a symlink.
fn open_at(dir: &OwnedFd, name: &std::ffi::CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: a valid dirfd and a NUL-terminated name.
    let fd = layer::check(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) })?;
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn reopen_dir(dir: &OwnedFd, name: &std::ffi::CStr) -> io::Result<OwnedFd> {
    open_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY)
}

/// A regular file to read: one swapped for a fifo or a device meanwhile
/// is refused rather than read (which could block).
fn reopen_file(dir: &OwnedFd, name: &std::ffi::CStr) -> io::Result<OwnedFd> {
    let fd = open_at(dir, name, libc::O_RDONLY | libc::O_NONBLOCK)?;
    if fstatat(&fd, c"")?.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(fd)
}

/// Whether `dir` is on a kernel filesystem whose files are not content
/// (`proc(5)`, sysfs, cgroups, devpts, mqueue): docker's archives of a
/// container do not hold them.
fn kernel_filesystem(dir: &OwnedFd) -> bool {
    const KINDS: [libc::c_long; 6] = [
        libc::PROC_SUPER_MAGIC,
        libc::SYSFS_MAGIC,
        libc::CGROUP_SUPER_MAGIC,
        libc::CGROUP2_SUPER_MAGIC,
        libc::DEVPTS_SUPER_MAGIC,
        0x1980_0202, // mqueue
    ];
    let mut fs = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: a valid descriptor; fs is read only after fstatfs filled it.
    if unsafe { libc::fstatfs(dir.as_raw_fd(), fs.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: initialised by the successful fstatfs.
    let kind = unsafe { fs.assume_init() }.f_type as libc::c_long;
    KINDS.contains(&kind)
}

/// A directory of the host, opened as the root of a copy.
pub fn open_root(path: &Path) -> Result<OwnedFd, CopyError> {
    layer::open_dir(path).map_err(|e| CopyError::io(&path.display().to_string(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn names(archive: &[u8]) -> Vec<String> {
        tar::Archive::new(archive)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(size);
        h
    }

    #[test]
    fn go_modes() {
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(go_file_mode(libc::S_IFREG | 0o4755), (1 << 23) | 0o755);
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            (1 << 26) | (1 << 21) | 0o666
        );
    }

    #[test]
    fn base_names() {
        assert_eq!(base_name("/etc/passwd"), "passwd");
        assert_eq!(base_name("/etc/"), "etc");
        assert_eq!(base_name("/etc/."), ".");
        assert_eq!(base_name("/"), "/");
        assert_eq!(base_name("a/../b"), "b");
    }

    #[test]
    fn archive_of_a_directory_and_its_content() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("d/sub")).unwrap();
        fs::write(tmp.path().join("d/sub/f"), "data").unwrap();
        symlink("/etc/passwd", tmp.path().join("d/link")).unwrap();
        let root = open_root(tmp.path()).unwrap();
        let tar = write_tar(&root, "/d", Vec::new()).unwrap();
        assert_eq!(names(&tar), ["d", "d/link", "d/sub", "d/sub/f"]);
        let tar = write_tar(&root, "/d/.", Vec::new()).unwrap();
        // The tar writer drops the leading `./` docker's has: the same paths.
        assert_eq!(names(&tar), [".", "link", "sub", "sub/f"]);
        let tar = write_tree(&root, Vec::new()).unwrap();
        assert_eq!(names(&tar), ["d", "d/link", "d/sub", "d/sub/f"]);
        let st = stat(&root, "/d/link").unwrap();
        assert!(st.is_symlink());
        assert_eq!(st.link_target, "/etc/passwd");
        assert!(matches!(stat(&root, "/nope"), Err(CopyError::NotFound(_))));
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("etc")).unwrap();
        fs::write(tmp.path().join("etc/hostname"), "inside").unwrap();
        symlink("/etc", tmp.path().join("up")).unwrap();
        symlink("../../../../etc/hostname", tmp.path().join("dotdot")).unwrap();
        let root = open_root(tmp.path()).unwrap();
        let tar = write_tar(&root, "/up/hostname", Vec::new()).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        assert_eq!(text, "inside");
        assert_eq!(stat(&root, "/dotdot").unwrap().link_target, "/etc/hostname");
    }

    #[test]
    fn extraction_stays_inside_and_rebases() {
        let tmp = tempfile::tempdir().unwrap();
        let (outside, into) = (tmp.path().join("outside"), tmp.path().join("into"));
        fs::create_dir_all(&into).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, "esc", &outside).unwrap();
        for path in ["esc/x", "top/f"] {
            let mut h = header(tar::EntryType::Regular, 0o644, 1);
            b.append_data(&mut h, path, &b"x"[..]).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let root = open_root(&into).unwrap();
        let options = ExtractOptions {
            rebase: Some(("top".into(), "renamed".into())),
            ..Default::default()
        };
        extract_tar(&root, "/", &tar[..], &options).unwrap();
        assert!(
            !outside.exists(),
            "a symlink's target outside is not followed out"
        );
        assert!(into
            .join(outside.strip_prefix("/").unwrap())
            .join("x")
            .exists());
        assert_eq!(fs::read(into.join("renamed/f")).unwrap(), b"x");

        fs::create_dir(into.join("dir")).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Regular, 0o644, 0);
        b.append_data(&mut h, "dir", io::empty()).unwrap();
        let tar = b.into_inner().unwrap();
        let options = ExtractOptions {
            no_overwrite_dir_non_dir: true,
            ..Default::default()
        };
        let err = extract_tar(&root, "/", &tar[..], &options).unwrap_err();
        assert!(
            err.to_string().contains("cannot overwrite directory"),
            "{err}"
        );
    }
}
