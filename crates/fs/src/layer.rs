//! Unpacking an image layer — a tar stream, plain, gzip or zstd — into a
//! directory in overlayfs's own form, as containerd's applier does:
//!
//! - a whiteout `.wh.NAME` becomes a character device 0/0 named `NAME`,
//!   and an opaque marker `.wh..wh..opq` the `trusted.overlay.opaque=y`
//!   attribute of its directory;
//! - regular files, directories, symlinks (relative, absolute, dangling),
//!   hard links, fifos and device nodes keep their owner, mode (setuid and
//!   setgid bits too), modification time and extended attributes (PAX
//!   `SCHILY.xattr.*`); long and unicode names come through PAX and GNU
//!   headers; a missing parent directory is made (0755, as containerd);
//! - nothing is written outside `dest`: an entry's path is cleaned as if
//!   rooted at `/` (`../../x` is `x`), every parent is resolved inside
//!   `dest` (`openat2(RESOLVE_IN_ROOT)`: a symlink the layer made, even an
//!   absolute one, leads to a place under `dest`), the last component is
//!   never followed, and a hard link's target is cleaned the same way.
//!
//! The sha256 of the uncompressed stream (the layer's "diff id") is
//! computed on the way; the whole stream is read, also past the tar
//! end-of-archive blocks, so the digest is the stream's.

use std::cell::Cell;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use sha2::{Digest, Sha256};

/// What unpacking a layer found out about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedLayer {
    /// `sha256:<hex>` of the uncompressed tar stream.
    pub diff_id: String,
    /// Bytes of the uncompressed tar stream.
    pub size: u64,
}

/// Why a layer could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("read the layer: {0}")]
    Read(#[source] io::Error),
    #[error("the layer is not a tar archive: {0}")]
    NotATarball(#[source] io::Error),
    #[error("the layer ends early (truncated)")]
    Truncated,
    #[error("{path}: {what}: {source}")]
    Entry {
        path: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    /// An entry would replace a directory with a non-directory or the
    /// reverse, which the caller refused.
    #[error("{0}")]
    Overwrite(String),
    #[error("{path}: entry type {kind:?} is not supported")]
    UnsupportedType { path: String, kind: u8 },
}

/// How entries are made: an image layer's way, or a copy's into a
/// container (`cp`, `PUT /containers/{id}/archive`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    /// `.wh.NAME` and `.wh..wh..opq` are overlayfs whiteouts (a layer),
    /// not files.
    pub whiteouts: bool,
    /// An entry may not replace a directory with a non-directory, or the
    /// reverse (docker's `noOverwriteDirNonDir`); the text names the
    /// directory unpacked into, for the error.
    pub no_overwrite_dir_non_dir: Option<String>,
    /// Every entry owned by this uid and gid rather than the archive's.
    pub owner: Option<(u64, u64)>,
    /// The first component `.0` of an entry's path (and of a hard link's
    /// target) read as `.1`: docker's rebase of a copied file or
    /// directory onto its destination's name.
    pub rebase: Option<(OsString, OsString)>,
}

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// The compression of a stream, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Hashes and counts what passes through; notes end-of-file.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
    /// Shared with the unpacking loop, which tells a cut-off stream from a
    /// malformed one by it.
    eof: Rc<Cell<bool>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof.set(true);
        }
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Unpack the layer `reader` gives (compression detected) into `dest`, an
/// existing empty directory.
pub fn unpack(reader: impl Read, dest: &Path) -> Result<UnpackedLayer, UnpackError> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let head = buffered.fill_buf().map_err(UnpackError::Read)?;
    let stream: Box<dyn Read> = match Compression::detect(head) {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(buffered).map_err(UnpackError::Read)?)
        }
    };
    let eof = Rc::new(Cell::new(false));
    let mut hashing = Hashing {
        inner: stream,
        hasher: Sha256::new(),
        size: 0,
        eof: eof.clone(),
    };
    let root = open_dir(dest).map_err(|source| UnpackError::Entry {
        path: dest.display().to_string(),
        what: "open",
        source,
    })?;
    let mut dirs = Vec::new();
    {
        let mut archive = tar::Archive::new(&mut hashing);
        let entries = archive.entries().map_err(UnpackError::NotATarball)?;
        for entry in entries {
            // Whatever went wrong, a stream that ended first was cut off.
            let cut = |e| if eof.get() { UnpackError::Truncated } else { e };
            let mut entry = entry.map_err(read_error).map_err(cut)?;
            let rules = Rules {
                whiteouts: true,
                ..Rules::default()
            };
            if let Some(dir) = apply(&root, &mut entry, &rules).map_err(cut)? {
                dirs.push(dir);
            }
        }
    }
    // The tar reader stops at the end-of-archive blocks: end-of-file
    // before them is a cut-off stream.
    if eof.get() {
        return Err(UnpackError::Truncated);
    }
    io::copy(&mut hashing, &mut io::sink()).map_err(read_error)?;
    // Directories' times last: what was made in them changed them.
    for (path, times) in dirs.iter().rev() {
        let _ = set_times(&root, path, *times);
    }
    Ok(UnpackedLayer {
        diff_id: format!("sha256:{:x}", hashing.hasher.finalize()),
        size: hashing.size,
    })
}

pub(crate) fn read_error(e: io::Error) -> UnpackError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => UnpackError::Truncated,
        _ => UnpackError::NotATarball(e),
    }
}

/// An entry's path, cleaned as if rooted at `/`: its normal components.
pub(crate) fn clean(path: &Path) -> Vec<&OsStr> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    parts
}

pub(crate) fn join(parts: &[&OsStr]) -> PathBuf {
    parts.iter().collect()
}

pub(crate) type Times = (i64, i64);

/// `parts` with its first component renamed as `rebase` says (from `.`:
/// the archive of a directory's content, every entry put under the new
/// name).
fn rebased<'a>(
    mut parts: Vec<&'a OsStr>,
    rebase: &'a Option<(OsString, OsString)>,
) -> Vec<&'a OsStr> {
    match rebase {
        Some((from, to)) if from == "." => parts.insert(0, to),
        Some((from, to)) if parts.first() == Some(&from.as_os_str()) => parts[0] = to,
        _ => {}
    }
    parts
}

/// Make one entry; a directory's path and times come back to be set at
/// the end.
pub(crate) fn apply<R: Read>(
    root: &OwnedFd,
    entry: &mut tar::Entry<'_, R>,
    rules: &Rules,
) -> Result<Option<(PathBuf, Times)>, UnpackError> {
    let raw_path = entry.path().map_err(UnpackError::NotATarball)?.into_owned();
    let shown = raw_path.display().to_string();
    let failed = |what: &'static str| {
        let path = shown.clone();
        move |source: io::Error| UnpackError::Entry { path, what, source }
    };
    let parts = rebased(clean(&raw_path), &rules.rebase);
    let header = entry.header().clone();
    let kind = header.entry_type();
    let Some((&name, parents)) = parts.split_last() else {
        // The root itself: nothing to make.
        return Ok(None);
    };
    let mode = header.mode().map_err(failed("mode"))?;
    let (uid, gid) = match rules.owner {
        Some(owner) => owner,
        None => (
            header.uid().map_err(failed("owner"))?,
            header.gid().map_err(failed("group"))?,
        ),
    };
    let mtime = header.mtime().map_err(failed("time"))? as i64;
    let times = (mtime, 0);
    let name_bytes = name.as_bytes();
    let parent = make_parents(root, parents).map_err(failed("make its directory"))?;

    if let Some(into) = &rules.no_overwrite_dir_non_dir {
        check_overwrite(&parent, name, kind, into, &parts)?;
    }
    if !rules.whiteouts {
        // Names like any other.
    } else if name_bytes == OPAQUE.as_bytes() {
        let dir = reopen(&parent, None).map_err(failed("open its directory"))?;
        set_xattr(&dir, "trusted.overlay.opaque", b"y").map_err(failed("mark opaque"))?;
        return Ok(None);
    } else if let Some(hidden) = name_bytes.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
        let hidden = cstr(hidden);
        remove_existing(&parent, &hidden).map_err(failed("remove what it hides"))?;
        mknod(&parent, &hidden, libc::S_IFCHR, 0, 0).map_err(failed("make the whiteout"))?;
        return Ok(None);
    }
    let cname = cstr(name_bytes);
    let xattrs = pax_xattrs(entry).map_err(failed("read its attributes"))?;
    use tar::EntryType as T;
    match kind {
        T::Directory => {
            if !is_dir(&parent, &cname) {
                remove_existing(&parent, &cname).map_err(failed("replace"))?;
                mkdir(&parent, &cname).map_err(failed("make the directory"))?;
            }
            let dir = reopen(&parent, Some(&cname)).map_err(failed("open"))?;
            finish_fd(&dir, uid, gid, mode, &xattrs).map_err(failed("set owner and mode"))?;
            return Ok(Some((join(&parts), times)));
        }
        T::Regular | T::Continuous => {
            remove_existing(&parent, &cname).map_err(failed("replace"))?;
            let file = create(&parent, &cname).map_err(failed("create"))?;
            let mut file = File::from(file);
            let size = entry.size();
            let copied = io::copy(entry, &mut file).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => UnpackError::Truncated,
                _ => failed("write")(e),
            })?;
            if copied < size {
                return Err(UnpackError::Truncated);
            }
            file.flush().map_err(failed("write"))?;
            let fd = OwnedFd::from(file);
            finish_fd(&fd, uid, gid, mode, &xattrs).map_err(failed("set owner and mode"))?;
            set_fd_times(&fd, times).map_err(failed("set times"))?;
        }
        T::Symlink => {
            let target = entry
                .link_name()
                .map_err(failed("link target"))?
                .ok_or_else(|| failed("link target")(io::ErrorKind::InvalidData.into()))?;
            remove_existing(&parent, &cname).map_err(failed("replace"))?;
            symlink(&parent, &cname, &cstr(target.as_os_str().as_bytes()))
                .map_err(failed("make the symlink"))?;
            chown_nofollow(&parent, &cname, uid, gid).map_err(failed("set owner"))?;
            let _ = utimes_at(&parent, &cname, times);
        }
        T::Link => {
            let target = entry
                .link_name()
                .map_err(failed("link target"))?
                .ok_or_else(|| failed("link target")(io::ErrorKind::InvalidData.into()))?;
            let target = rebased(clean(&target), &rules.rebase);
            let Some((&tname, tparents)) = target.split_last() else {
                return Err(failed("link target")(io::ErrorKind::InvalidInput.into()));
            };
            let tparent = resolve_dir(root, tparents).map_err(failed("find the link target"))?;
            remove_existing(&parent, &cname).map_err(failed("replace"))?;
            link(&tparent, &cstr(tname.as_bytes()), &parent, &cname)
                .map_err(failed("make the hard link"))?;
        }
        T::Char | T::Block | T::Fifo => {
            let file_type = match kind {
                T::Char => libc::S_IFCHR,
                T::Block => libc::S_IFBLK,
                _ => libc::S_IFIFO,
            };
            let major = header
                .device_major()
                .map_err(failed("device"))?
                .unwrap_or(0);
            let minor = header
                .device_minor()
                .map_err(failed("device"))?
                .unwrap_or(0);
            remove_existing(&parent, &cname).map_err(failed("replace"))?;
            mknod(&parent, &cname, file_type, major, minor).map_err(failed("make the node"))?;
            chown_nofollow(&parent, &cname, uid, gid).map_err(failed("set owner"))?;
            chmod_at(&parent, &cname, mode).map_err(failed("set mode"))?;
            let _ = utimes_at(&parent, &cname, times);
        }
        // PAX and GNU long-name headers are read by the tar reader itself.
        T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {}
        other => {
            return Err(UnpackError::UnsupportedType {
                path: shown,
                kind: other.as_byte(),
            })
        }
    }
    Ok(None)
}

/// docker's `noOverwriteDirNonDir`: refuse an entry that would replace a
/// directory with something else, or something else with a directory.
fn check_overwrite(
    parent: &OwnedFd,
    name: &OsStr,
    kind: tar::EntryType,
    into: &str,
    parts: &[&OsStr],
) -> Result<(), UnpackError> {
    let cname = cstr(name.as_bytes());
    if !exists(parent, &cname) {
        return Ok(());
    }
    let path = Path::new(into).join(join(parts)).display().to_string();
    let (was_dir, is_dir_entry) = (is_dir(parent, &cname), kind == tar::EntryType::Directory);
    let what = match (was_dir, is_dir_entry) {
        (true, false) => format!("cannot overwrite directory {path:?} with non-directory {into:?}"),
        (false, true) => format!("cannot overwrite non-directory {path:?} with directory {into:?}"),
        _ => return Ok(()),
    };
    Err(UnpackError::Overwrite(what))
}

fn pax_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            if let Ok(key) = ext.key() {
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    out.push((name.to_string(), ext.value_bytes().to_vec()));
                }
            }
        }
    }
    Ok(out)
}

// ---- system calls, each on a directory fd and one name ----

pub(crate) fn cstr(bytes: &[u8]) -> CString {
    // A tar name cannot hold a NUL: the header's fields end at the first.
    CString::new(bytes.to_vec()).unwrap_or_default()
}

pub(crate) fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let c = cstr(path.as_os_str().as_bytes());
    // SAFETY: a NUL-terminated path; the returned fd is owned from here.
    let fd = check(unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The directory at `parts` under `root`, resolved inside `root`.
pub(crate) fn resolve_dir(root: &OwnedFd, parts: &[&OsStr]) -> io::Result<OwnedFd> {
    let path = if parts.is_empty() {
        CString::new(".").expect("no NUL")
    } else {
        cstr(join(parts).as_os_str().as_bytes())
    };
    // SAFETY: open_how is plain old data; zeroed is valid.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // A path that climbs with `..` gets EAGAIN when a rename or mount
    // anywhere on the host raced its resolution (openat2(2)): asked again,
    // as the manual says, a bounded number of times.
    let mut tries = 0;
    loop {
        // SAFETY: openat2 with a valid dirfd, a NUL-terminated path and an
        // open_how of the size passed; the returned fd is owned from here.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: fd was just opened and is owned by nobody else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let e = io::Error::last_os_error();
        tries += 1;
        let again = matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINTR));
        if !again || tries == 64 {
            return Err(e);
        }
    }
}

/// The parent directory of an entry, made (0755) where missing. A
/// symlink on the way is followed inside `root` (see [`real_path`]), so
/// the directories made are where the entry's path leads.
fn make_parents(root: &OwnedFd, parts: &[&OsStr]) -> io::Result<OwnedFd> {
    match resolve_dir(root, parts) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        other => return other,
    }
    let real = real_path(root, parts)?;
    let real: Vec<&OsStr> = real.iter().map(OsString::as_os_str).collect();
    for i in 0..real.len() {
        let dir = resolve_dir(root, &real[..i])?;
        match mkdir(&dir, &cstr(real[i].as_bytes())) {
            Err(e) if e.raw_os_error() != Some(libc::EEXIST) => return Err(e),
            _ => {}
        }
    }
    resolve_dir(root, &real)
}

/// `parts` with every symlink on the way replaced by its target, as
/// `openat2(RESOLVE_IN_ROOT)` resolves them (an absolute target starts
/// again at `root`, `..` stops there): real components under `root`, the
/// first missing one and what follows it kept as they are.
pub(crate) fn real_path(root: &OwnedFd, parts: &[&OsStr]) -> io::Result<Vec<OsString>> {
    let mut todo: std::collections::VecDeque<OsString> =
        parts.iter().map(|p| p.to_os_string()).collect();
    let mut real: Vec<OsString> = Vec::new();
    let mut links = 0;
    let mut missing = false;
    while let Some(part) = todo.pop_front() {
        match part.as_bytes() {
            b"" | b"." => continue,
            b".." => {
                real.pop();
                continue;
            }
            _ => {}
        }
        if missing {
            real.push(part);
            continue;
        }
        let refs: Vec<&OsStr> = real.iter().map(OsString::as_os_str).collect();
        let dir = resolve_dir(root, &refs)?;
        match read_link(&dir, &cstr(part.as_bytes())) {
            Ok(target) => {
                links += 1;
                if links > 40 {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                if target.as_bytes().starts_with(b"/") {
                    real.clear();
                }
                for (i, p) in target.as_bytes().split(|&b| b == b'/').enumerate() {
                    todo.insert(i, OsStr::from_bytes(p).to_os_string());
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => real.push(part),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                missing = true;
                real.push(part);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(real)
}

pub(crate) fn read_link(dir: &OwnedFd, name: &CString) -> io::Result<OsString> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: a valid dirfd, a NUL-terminated name and a buffer of the
    // length passed.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(OsString::from_vec(buf))
}

/// A real (not O_PATH) descriptor of `name` in `dir` (or of `dir`), for
/// the f* calls; never follows a symlink.
fn reopen(dir: &OwnedFd, name: Option<&CString>) -> io::Result<OwnedFd> {
    let dot = CString::new(".").expect("no NUL");
    let name = name.unwrap_or(&dot);
    // SAFETY: a valid dirfd and a NUL-terminated name.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    })?;
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn exists(dir: &OwnedFd, name: &CString) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstatat fills st, which is not read.
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    rc == 0
}

fn is_dir(dir: &OwnedFd, name: &CString) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstatat fills st on success; it is read only then.
    let ok = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    } == 0;
    // SAFETY: initialised by the successful fstatat.
    ok && unsafe { st.assume_init() }.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// Remove `name` from `dir` if it is there: a file, a link, a node, or a
/// whole directory tree (an entry of this layer replacing another).
fn remove_existing(dir: &OwnedFd, name: &CString) -> io::Result<()> {
    // SAFETY: a valid dirfd and a NUL-terminated name.
    if unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) } == 0 {
        return Ok(());
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::ENOENT) => Ok(()),
        Some(libc::EISDIR) => {
            let sub = resolve_dir_fd(dir, name)?;
            let path = PathBuf::from(format!("/proc/self/fd/{}", sub.as_raw_fd()));
            std::fs::remove_dir_all(&path).or_else(|_| clear_dir(&sub))?;
            // SAFETY: as above, removing the now empty directory.
            check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) })
                .map(drop)
        }
        _ => Err(io::Error::last_os_error()),
    }
}

fn resolve_dir_fd(dir: &OwnedFd, name: &CString) -> io::Result<OwnedFd> {
    // SAFETY: a valid dirfd and a NUL-terminated name.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Empty a directory (its fd), without following symlinks.
fn clear_dir(dir: &OwnedFd) -> io::Result<()> {
    let path = format!("/proc/self/fd/{}", dir.as_raw_fd());
    for entry in std::fs::read_dir(&path)? {
        let entry = entry?;
        let name = cstr(entry.file_name().as_bytes());
        remove_existing(dir, &name)?;
    }
    Ok(())
}

fn mkdir(dir: &OwnedFd, name: &CString) -> io::Result<()> {
    // SAFETY: a valid dirfd and a NUL-terminated name.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) }).map(drop)
}

fn create(dir: &OwnedFd, name: &CString) -> io::Result<OwnedFd> {
    // SAFETY: a valid dirfd and a NUL-terminated name.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o600,
        )
    })?;
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn mknod(
    dir: &OwnedFd,
    name: &CString,
    kind: libc::mode_t,
    major: u32,
    minor: u32,
) -> io::Result<()> {
    // SAFETY: a valid dirfd and a NUL-terminated name.
    check(unsafe {
        libc::mknodat(
            dir.as_raw_fd(),
            name.as_ptr(),
            kind | 0o600,
            libc::makedev(major, minor),
        )
    })
    .map(drop)
}

fn symlink(dir: &OwnedFd, name: &CString, target: &CString) -> io::Result<()> {
    // SAFETY: a valid dirfd and NUL-terminated strings.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

fn link(from_dir: &OwnedFd, from: &CString, dir: &OwnedFd, name: &CString) -> io::Result<()> {
    // SAFETY: valid dirfds and NUL-terminated names; no AT_SYMLINK_FOLLOW,
    // so a symlink target is linked itself, not followed.
    check(unsafe {
        libc::linkat(
            from_dir.as_raw_fd(),
            from.as_ptr(),
            dir.as_raw_fd(),
            name.as_ptr(),
            0,
        )
    })
    .map(drop)
}

fn chown_nofollow(dir: &OwnedFd, name: &CString, uid: u64, gid: u64) -> io::Result<()> {
    // SAFETY: a valid dirfd and a NUL-terminated name.
    check(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            uid as libc::uid_t,
            gid as libc::gid_t,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

fn chmod_at(dir: &OwnedFd, name: &CString, mode: u32) -> io::Result<()> {
    // SAFETY: a valid dirfd and a NUL-terminated name (not a symlink:
    // nodes only).
    check(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode & 0o7777, 0) }).map(drop)
}

/// Owner, then mode (a chown clears setuid and setgid), then attributes.
fn finish_fd(
    fd: &OwnedFd,
    uid: u64,
    gid: u64,
    mode: u32,
    xattrs: &[(String, Vec<u8>)],
) -> io::Result<()> {
    // SAFETY: plain calls on a valid descriptor.
    check(unsafe { libc::fchown(fd.as_raw_fd(), uid as libc::uid_t, gid as libc::gid_t) })?;
    // SAFETY: as above.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), (mode & 0o7777) as libc::mode_t) })?;
    for (name, value) in xattrs {
        set_xattr(fd, name, value)?;
    }
    Ok(())
}

fn set_xattr(fd: &OwnedFd, name: &str, value: &[u8]) -> io::Result<()> {
    let name = cstr(name.as_bytes());
    // SAFETY: a valid descriptor, a NUL-terminated name and a value of the
    // length passed.
    check(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}

fn timespecs((sec, nsec): Times) -> [libc::timespec; 2] {
    let t = libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as libc::c_long,
    };
    [t, t]
}

fn set_fd_times(fd: &OwnedFd, times: Times) -> io::Result<()> {
    let ts = timespecs(times);
    // SAFETY: a valid descriptor and two timespecs.
    check(unsafe { libc::futimens(fd.as_raw_fd(), ts.as_ptr()) }).map(drop)
}

/// Set the times of the directory at `parts` under `root` (resolved
/// inside it).
pub(crate) fn set_times(root: &OwnedFd, path: &Path, times: Times) -> io::Result<()> {
    let parts: Vec<&OsStr> = clean(path);
    let Some((&name, parents)) = parts.split_last() else {
        return Ok(());
    };
    utimes_at(&resolve_dir(root, parents)?, &cstr(name.as_bytes()), times)
}

/// Set the times of `name` in `dir`, not following it.
fn utimes_at(dir: &OwnedFd, name: &CString, times: Times) -> io::Result<()> {
    let ts = timespecs(times);
    // SAFETY: a valid dirfd, a NUL-terminated name and two timespecs.
    check(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            name.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    /// A tar stream built entry by entry.
    struct Layer(tar::Builder<Vec<u8>>);

    impl Layer {
        fn new() -> Self {
            Layer(tar::Builder::new(Vec::new()))
        }

        fn header(kind: tar::EntryType, mode: u32) -> tar::Header {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(1_600_000_000);
            h.set_size(0);
            h
        }

        fn dir(mut self, path: &str) -> Self {
            let mut h = Self::header(tar::EntryType::Directory, 0o755);
            self.0.append_data(&mut h, path, io::empty()).unwrap();
            self
        }

        fn file(mut self, path: &str, body: &[u8]) -> Self {
            self = self.file_as(path, body, 0o644, 0, 0);
            self
        }

        fn file_as(mut self, path: &str, body: &[u8], mode: u32, uid: u64, gid: u64) -> Self {
            let mut h = Self::header(tar::EntryType::Regular, mode);
            h.set_uid(uid);
            h.set_gid(gid);
            h.set_size(body.len() as u64);
            self.0.append_data(&mut h, path, body).unwrap();
            self
        }

        /// A name the builder would refuse (`..`, absolute): written into
        /// the header's name field directly.
        fn raw_file(mut self, path: &str, body: &[u8]) -> Self {
            let mut h = Self::header(tar::EntryType::Regular, 0o644);
            h.set_size(body.len() as u64);
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            self.0.append(&h, body).unwrap();
            self
        }

        fn link(mut self, kind: tar::EntryType, path: &str, target: &str) -> Self {
            let mut h = Self::header(kind, 0o777);
            self.0.append_link(&mut h, path, target).unwrap();
            self
        }

        fn node(mut self, kind: tar::EntryType, path: &str, major: u32, minor: u32) -> Self {
            let mut h = Self::header(kind, 0o640);
            h.set_device_major(major).unwrap();
            h.set_device_minor(minor).unwrap();
            self.0.append_data(&mut h, path, io::empty()).unwrap();
            self
        }

        fn with_xattr(mut self, path: &str, key: &str, value: &[u8]) -> Self {
            let key = format!("SCHILY.xattr.{key}");
            self.0
                .append_pax_extensions([(key.as_str(), value)])
                .unwrap();
            self.file(path, b"x")
        }

        fn bytes(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    fn unpacked(bytes: &[u8]) -> (tempfile::TempDir, UnpackedLayer) {
        let dir = tempfile::tempdir().unwrap();
        let layer = unpack(bytes, dir.path()).unwrap();
        (dir, layer)
    }

    fn sha(bytes: &[u8]) -> String {
        format!("sha256:{:x}", Sha256::digest(bytes))
    }

    #[test]
    fn files_dirs_owners_modes_and_the_diff_id() {
        let tar = Layer::new()
            .dir("etc")
            .file("etc/hostname", b"box\n")
            .file_as("usr/bin/su", b"#!", 0o4755, 0, 0)
            .file_as("home/user/notes", b"n", 0o600, 1000, 1001)
            .bytes();
        let (dir, layer) = unpacked(&tar);
        assert_eq!(layer.diff_id, sha(&tar));
        assert_eq!(layer.size, tar.len() as u64);
        let root = dir.path();
        assert_eq!(fs::read(root.join("etc/hostname")).unwrap(), b"box\n");
        let su = fs::metadata(root.join("usr/bin/su")).unwrap();
        assert_eq!(su.permissions().mode() & 0o7777, 0o4755, "setuid kept");
        let notes = fs::metadata(root.join("home/user/notes")).unwrap();
        assert_eq!((notes.uid(), notes.gid()), (1000, 1001));
        // Parents the archive did not list are made 0755.
        let home = fs::metadata(root.join("home")).unwrap();
        assert_eq!(home.permissions().mode() & 0o777, 0o755);
        assert_eq!(
            fs::metadata(root.join("etc/hostname")).unwrap().mtime(),
            1_600_000_000
        );
        assert_eq!(
            fs::metadata(root.join("etc")).unwrap().mtime(),
            1_600_000_000
        );
    }

    #[test]
    fn whiteouts_and_opaque_directories_in_overlay_form() {
        let tar = Layer::new()
            .dir("var")
            .file("var/.wh.cache", b"")
            .dir("opt")
            .file("opt/.wh..wh..opq", b"")
            .file("opt/kept", b"k")
            .bytes();
        let (dir, _) = unpacked(&tar);
        let root = dir.path();
        let wh = fs::symlink_metadata(root.join("var/cache")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(wh.rdev(), 0);
        assert!(!root.join("var/.wh.cache").exists());
        let mut value = [0u8; 4];
        let path = cstr(root.join("opt").as_os_str().as_bytes());
        let key = cstr(b"trusted.overlay.opaque");
        // SAFETY: a NUL-terminated path and name, a buffer of the size passed.
        let n = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                key.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        assert_eq!(&value[..n as usize], b"y");
        assert!(!root.join("opt/.wh..wh..opq").exists());
        assert!(root.join("opt/kept").exists());
    }

    #[test]
    fn symlinks_hardlinks_and_nodes() {
        let tar = Layer::new()
            .file("bin/busybox", b"bb")
            .link(tar::EntryType::Symlink, "bin/sh", "busybox")
            .link(tar::EntryType::Symlink, "etc/mtab", "/proc/self/mounts")
            .link(tar::EntryType::Symlink, "dangling", "nowhere/at/all")
            .link(tar::EntryType::Link, "bin/ls", "bin/busybox")
            .node(tar::EntryType::Char, "dev/null", 1, 3)
            .node(tar::EntryType::Fifo, "run/pipe", 0, 0)
            .bytes();
        let (dir, _) = unpacked(&tar);
        let root = dir.path();
        assert_eq!(
            fs::read_link(root.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        assert_eq!(
            fs::read_link(root.join("etc/mtab")).unwrap(),
            Path::new("/proc/self/mounts")
        );
        assert_eq!(
            fs::read_link(root.join("dangling")).unwrap(),
            Path::new("nowhere/at/all")
        );
        let bb = fs::metadata(root.join("bin/busybox")).unwrap();
        let ls = fs::metadata(root.join("bin/ls")).unwrap();
        assert_eq!((bb.ino(), bb.nlink()), (ls.ino(), 2));
        let null = fs::symlink_metadata(root.join("dev/null")).unwrap();
        assert!(null.file_type().is_char_device());
        assert_eq!(null.rdev(), libc::makedev(1, 3));
        assert_eq!(null.permissions().mode() & 0o777, 0o640);
        assert!(fs::symlink_metadata(root.join("run/pipe"))
            .unwrap()
            .file_type()
            .is_fifo());
    }

    #[test]
    fn a_hardlink_survives_the_whiteout_of_its_other_name() {
        let tar = Layer::new()
            .file("a", b"shared")
            .link(tar::EntryType::Link, "b", "a")
            .file(".wh.a", b"")
            .bytes();
        let (dir, _) = unpacked(&tar);
        let root = dir.path();
        assert_eq!(fs::read(root.join("b")).unwrap(), b"shared");
        assert!(fs::symlink_metadata(root.join("a"))
            .unwrap()
            .file_type()
            .is_char_device());
    }

    #[test]
    fn long_unicode_names_and_xattrs() {
        let long = format!("deep/{}/файл-名前-{}", "d".repeat(120), "x".repeat(90));
        let tar = Layer::new()
            .file(&long, b"long")
            .with_xattr("caps", "user.tinydocker", b"v1")
            .bytes();
        let (dir, _) = unpacked(&tar);
        let root = dir.path();
        assert_eq!(fs::read(root.join(&long)).unwrap(), b"long");
        let mut value = [0u8; 8];
        let path = cstr(root.join("caps").as_os_str().as_bytes());
        let key = cstr(b"user.tinydocker");
        // SAFETY: a NUL-terminated path and name, a buffer of the size passed.
        let n = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                key.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        assert_eq!(&value[..n as usize], b"v1");
    }

    #[test]
    fn a_hostile_layer_writes_nothing_outside() {
        let outside = tempfile::tempdir().unwrap();
        let out = outside.path().display().to_string();
        let tar = Layer::new()
            .raw_file("../../escaped", b"1")
            .raw_file("/abs/escaped", b"2")
            .link(tar::EntryType::Symlink, "evil", &out)
            .file("evil/through-symlink", b"3")
            .link(tar::EntryType::Symlink, "up", "../../../..")
            .file("up/through-relative", b"4")
            .link(
                tar::EntryType::Link,
                "stolen",
                &format!("../../..{out}/secret"),
            )
            .bytes();
        fs::write(outside.path().join("secret"), b"s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let result = unpack(&tar[..], dir.path());
        let root = dir.path();
        // Contained: `..` and `/` are cleaned away, symlinks resolve inside.
        assert_eq!(fs::read(root.join("escaped")).unwrap(), b"1");
        assert_eq!(fs::read(root.join("abs/escaped")).unwrap(), b"2");
        assert_eq!(
            fs::read(
                root.join(out.trim_start_matches('/'))
                    .join("through-symlink")
            )
            .unwrap(),
            b"3"
        );
        assert_eq!(fs::read(root.join("through-relative")).unwrap(), b"4");
        assert!(!outside.path().join("through-symlink").exists());
        // The hard link's target is looked for inside: not found there.
        assert!(result.is_err(), "{result:?}");
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 1);
    }

    #[test]
    fn gzip_zstd_and_truncation() {
        let tar = Layer::new().file("f", &[7u8; 10_000]).bytes();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::stream::encode_all(&tar[..], 3).unwrap();
        for (what, bytes) in [("gzip", &gz), ("zstd", &zst)] {
            let (dir, layer) = unpacked(bytes);
            assert_eq!(layer.diff_id, sha(&tar), "{what}: the diff id is the tar's");
            assert_eq!(fs::read(dir.path().join("f")).unwrap(), vec![7u8; 10_000]);
        }
        for cut in [tar.len() / 2, 700] {
            let dir = tempfile::tempdir().unwrap();
            let err = unpack(&tar[..cut], dir.path()).unwrap_err();
            assert!(matches!(err, UnpackError::Truncated), "cut at {cut}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let err = unpack(&gz[..gz.len() / 2], dir.path()).unwrap_err();
        assert!(
            matches!(err, UnpackError::Truncated | UnpackError::Read(_)),
            "{err}"
        );
    }
}
