//! The executor of a [`MountPlan`]: runs in the container's child process,
//! after `clone` and before `execve(2)`, inside the new mount namespace.
//!
//! [`PreparedPlan::new`] (in the parent) turns every path into a C string;
//! [`PreparedPlan::apply`] (in the child) then only makes system calls: no
//! allocation, no locks. Container paths are resolved with `openat2(2)` and
//! `RESOLVE_IN_ROOT`, and mounts target the resolved fd through
//! `/proc/self/fd/N`, so symlinks in the image stay inside the container.

use std::ffi::{CStr, CString};
use std::io;
use std::path::Path;

use crate::{Create, Error, MountPlan, NodeKind, Step};

/// Step `step` of the plan failed with `errno`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepFailure {
    pub step: u32,
    pub errno: i32,
}

/// A container path, split for component-by-component creation:
/// `dev/pts` -> prefixes `dev`, `dev/pts` and names `dev`, `pts`.
#[derive(Debug)]
struct RelPath {
    prefixes: Vec<CString>,
    names: Vec<CString>,
}

impl RelPath {
    fn new(container_path: &str) -> Result<Self, Error> {
        let mut prefixes = Vec::new();
        let mut names = Vec::new();
        let mut prefix = String::new();
        for comp in container_path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(comp);
            prefixes.push(cstring(&prefix)?);
            names.push(cstring(comp)?);
        }
        Ok(RelPath { prefixes, names })
    }

    fn full(&self) -> &CStr {
        self.prefixes.last().map_or(c".", |c| c.as_c_str())
    }

    fn parent(&self) -> &CStr {
        match self.prefixes.len() {
            0 | 1 => c".",
            n => self.prefixes[n - 2].as_c_str(),
        }
    }

    fn name(&self) -> &CStr {
        self.names.last().map_or(c".", |c| c.as_c_str())
    }
}

fn cstring(s: &str) -> Result<CString, Error> {
    CString::new(s).map_err(|_| Error::Io {
        path: s.into(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
    })
}

fn cpath(p: &Path) -> Result<CString, Error> {
    cstring(p.to_str().ok_or_else(|| Error::Io {
        path: p.into(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "path is not UTF-8"),
    })?)
}

#[derive(Debug)]
enum Prepared {
    MakePrivate,
    Scratch {
        target: CString,
        upper: CString,
        work: CString,
    },
    Overlay {
        target: CString,
        data: CString,
    },
    Mount {
        fstype: CString,
        source: CString,
        target: RelPath,
        flags: u64,
        data: Option<CString>,
    },
    Bind {
        source: CString,
        target: RelPath,
        create: Create,
        read_only: bool,
    },
    Mknod {
        path: RelPath,
        mode: u32,
        dev: libc::dev_t,
        owner: (u32, u32),
    },
    Mask {
        path: RelPath,
    },
    ReadOnlyPath {
        path: RelPath,
    },
    Symlink {
        link: RelPath,
        target: CString,
    },
    MkdirAll {
        path: RelPath,
    },
    WriteFile {
        path: CString,
        content: Vec<u8>,
    },
    PivotRoot,
    RemountRootReadOnly,
    Chdir {
        path: CString,
    },
}

/// A [`MountPlan`] ready to apply in the child.
#[derive(Debug)]
pub struct PreparedPlan {
    steps: Vec<Prepared>,
}

impl PreparedPlan {
    /// Convert every path of the plan into a C string (in the parent).
    pub fn new(plan: &MountPlan) -> Result<Self, Error> {
        let mut steps = Vec::with_capacity(plan.steps.len());
        for step in &plan.steps {
            steps.push(match step {
                Step::MakePrivate => Prepared::MakePrivate,
                Step::Scratch { target } => Prepared::Scratch {
                    target: cpath(target)?,
                    upper: cpath(&target.join("upper"))?,
                    work: cpath(&target.join("work"))?,
                },
                Step::Overlay {
                    target,
                    lower,
                    upper,
                    work,
                } => {
                    let lower: Vec<&str> = lower
                        .iter()
                        .map(|p| p.to_str().unwrap_or_default())
                        .collect();
                    let data = format!(
                        "lowerdir={},upperdir={},workdir={}",
                        lower.join(":"),
                        upper.display(),
                        work.display()
                    );
                    Prepared::Overlay {
                        target: cpath(target)?,
                        data: cstring(&data)?,
                    }
                }
                Step::Mount {
                    fstype,
                    source,
                    target,
                    flags,
                    data,
                } => Prepared::Mount {
                    fstype: cstring(fstype)?,
                    source: cstring(source)?,
                    target: RelPath::new(target)?,
                    flags: flags.0,
                    data: if data.is_empty() {
                        None
                    } else {
                        Some(cstring(data)?)
                    },
                },
                Step::Bind {
                    source,
                    target,
                    create,
                    read_only,
                } => Prepared::Bind {
                    source: cpath(source)?,
                    target: RelPath::new(target)?,
                    create: *create,
                    read_only: *read_only,
                },
                Step::Mknod {
                    path,
                    kind,
                    major,
                    minor,
                    mode,
                    uid,
                    gid,
                } => Prepared::Mknod {
                    owner: (*uid, *gid),
                    path: RelPath::new(path)?,
                    mode: *mode
                        | match kind {
                            NodeKind::Char => libc::S_IFCHR,
                            NodeKind::Block => libc::S_IFBLK,
                        },
                    dev: libc::makedev(*major, *minor),
                },
                Step::Mask { path } => Prepared::Mask {
                    path: RelPath::new(path)?,
                },
                Step::ReadOnlyPath { path } => Prepared::ReadOnlyPath {
                    path: RelPath::new(path)?,
                },
                Step::Symlink { link, target } => Prepared::Symlink {
                    link: RelPath::new(link)?,
                    target: cstring(target)?,
                },
                Step::MkdirAll { path } => Prepared::MkdirAll {
                    path: RelPath::new(path)?,
                },
                Step::WriteFile { path, content } => Prepared::WriteFile {
                    path: cpath(path)?,
                    content: content.as_bytes().to_vec(),
                },
                Step::PivotRoot => Prepared::PivotRoot,
                Step::RemountRootReadOnly => Prepared::RemountRootReadOnly,
                Step::Chdir { path } => Prepared::Chdir {
                    path: cstring(path)?,
                },
            });
        }
        Ok(PreparedPlan { steps })
    }

    /// Apply the plan (in the child, in its own mount namespace). Leaves the
    /// process in the new root, in the working directory, with umask 022.
    pub fn apply(&self) -> Result<(), StepFailure> {
        // Device nodes and mount points get exactly the modes asked for.
        // SAFETY: umask has no preconditions.
        unsafe { libc::umask(0) };
        let mut root = Fd(-1);
        // The parent directory of the last node or link made: /dev's entries
        // come in a row, so its fd is opened once, not once per entry.
        // Forgotten at every other step, since a mount may cover it.
        let mut parent: Option<(&CStr, Fd)> = None;
        for (i, step) in self.steps.iter().enumerate() {
            let fail = |errno: i32| StepFailure {
                step: i as u32,
                errno,
            };
            if !matches!(step, Prepared::Mknod { .. } | Prepared::Symlink { .. }) {
                parent = None;
            }
            match step {
                Prepared::MakePrivate => {
                    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
                        .map_err(fail)?
                }
                Prepared::Scratch {
                    target,
                    upper,
                    work,
                } => {
                    sys::mount(Some(c"tmpfs"), target, Some(c"tmpfs"), 0, Some(c"mode=755"))
                        .map_err(fail)?;
                    sys::mkdirat(libc::AT_FDCWD, upper, 0o755).map_err(fail)?;
                    sys::mkdirat(libc::AT_FDCWD, work, 0o755).map_err(fail)?;
                }
                Prepared::Overlay { target, data } => {
                    sys::mount(Some(c"overlay"), target, Some(c"overlay"), 0, Some(data))
                        .map_err(fail)?;
                    root = sys::open(libc::AT_FDCWD, target, libc::O_PATH | libc::O_DIRECTORY)
                        .map_err(fail)?;
                }
                Prepared::Mount {
                    fstype,
                    source,
                    target,
                    flags,
                    data,
                } => {
                    let fd = mkdir_all(&root, target).map_err(fail)?;
                    let path = FdPath::new(fd.0);
                    sys::mount(
                        Some(source),
                        path.as_cstr(),
                        Some(fstype),
                        *flags,
                        data.as_deref(),
                    )
                    .map_err(fail)?;
                }
                Prepared::Bind {
                    source,
                    target,
                    create,
                    read_only,
                } => {
                    let fd = match create {
                        Create::Dir => mkdir_all(&root, target).map_err(fail)?,
                        Create::File => create_file(&root, target).map_err(fail)?,
                    };
                    let path = FdPath::new(fd.0);
                    let bind = libc::MS_BIND | libc::MS_REC;
                    sys::mount(Some(source), path.as_cstr(), None, bind, None).map_err(fail)?;
                    if *read_only {
                        make_read_only(&root, target).map_err(fail)?;
                    }
                }
                Prepared::Mknod {
                    path,
                    mode,
                    dev,
                    owner,
                } => {
                    let dir = cached_parent(&mut parent, &root, path).map_err(fail)?;
                    match sys::mknodat(dir, path.name(), *mode, *dev) {
                        // A node given with --device over a file of the image.
                        Err(libc::EEXIST) => {
                            sys::unlinkat(dir, path.name()).map_err(fail)?;
                            sys::mknodat(dir, path.name(), *mode, *dev).map_err(fail)?;
                        }
                        other => other.map_err(fail)?,
                    }
                    if *owner != (0, 0) {
                        sys::chownat(dir, path.name(), owner.0, owner.1).map_err(fail)?;
                    }
                }
                Prepared::Mask { path } => mask(&root, path).map_err(fail)?,
                Prepared::ReadOnlyPath { path } => {
                    let fd = match open_in_root(&root, path.full(), libc::O_PATH | libc::O_NOFOLLOW)
                    {
                        Err(libc::ENOENT) => continue,
                        other => other.map_err(fail)?,
                    };
                    let at = FdPath::new(fd.0);
                    let bind = libc::MS_BIND | libc::MS_REC;
                    sys::mount(Some(at.as_cstr()), at.as_cstr(), None, bind, None).map_err(fail)?;
                    make_read_only(&root, path).map_err(fail)?;
                }
                Prepared::Symlink { link, target } => {
                    let dir = cached_parent(&mut parent, &root, link).map_err(fail)?;
                    sys::symlinkat(target, dir, link.name()).map_err(fail)?;
                }
                Prepared::MkdirAll { path } => {
                    mkdir_all(&root, path).map_err(fail)?;
                }
                Prepared::WriteFile { path, content } => {
                    sys::write_file(path, content).map_err(fail)?
                }
                Prepared::PivotRoot => sys::pivot_root(&root).map_err(fail)?,
                Prepared::RemountRootReadOnly => {
                    let kept = sys::mount_flags(c"/").map_err(fail)?;
                    let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | kept;
                    sys::mount(None, c"/", None, flags, None).map_err(fail)?
                }
                Prepared::Chdir { path } => sys::chdir(path).map_err(fail)?,
            }
        }
        // SAFETY: umask has no preconditions.
        unsafe { libc::umask(0o022) };
        Ok(())
    }
}

/// Make the mount at `target` read-only, all the way down: mounts under
/// it (from a recursive bind) must not stay writable.
fn make_read_only(root: &Fd, target: &RelPath) -> Result<(), i32> {
    // Open after the mount: an older fd names the covered mount point.
    let fd = open_in_root(root, target.full(), libc::O_PATH)?;
    match sys::set_read_only_recursive(&fd) {
        Ok(()) => Ok(()),
        // Kernels before 5.12: the top mount only.
        Err(libc::ENOSYS) => {
            let path = FdPath::new(fd.0);
            let kept = sys::mount_flags(path.as_cstr())?;
            let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | kept;
            sys::mount(None, path.as_cstr(), None, flags, None)
        }
        Err(errno) => Err(errno),
    }
}

/// Hide `path`: an empty read-only tmpfs over a directory, the container's
/// `/dev/null` over anything else. A missing path needs no hiding.
fn mask(root: &Fd, path: &RelPath) -> Result<(), i32> {
    let fd = match open_in_root(root, path.full(), libc::O_PATH | libc::O_NOFOLLOW) {
        Err(libc::ENOENT) => return Ok(()),
        other => other?,
    };
    // SAFETY: fstat writes into a valid, zeroed struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid fd and a valid pointer to a stat struct.
    if unsafe { libc::fstat(fd.0, &mut st) } != 0 {
        return Err(sys::errno());
    }
    let target = FdPath::new(fd.0);
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        sys::mount(
            Some(c"tmpfs"),
            target.as_cstr(),
            Some(c"tmpfs"),
            flags,
            Some(c"size=0,mode=755"),
        )
    } else {
        let null = open_in_root(root, c"dev/null", libc::O_PATH | libc::O_NOFOLLOW)?;
        let source = FdPath::new(null.0);
        sys::mount(
            Some(source.as_cstr()),
            target.as_cstr(),
            None,
            libc::MS_BIND,
            None,
        )
    }
}

/// An fd closed on drop (no allocation).
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        if self.0 >= 0 {
            // SAFETY: closes an fd this struct owns.
            unsafe { libc::close(self.0) };
        }
    }
}

/// "/proc/self/fd/N" in a stack buffer.
struct FdPath {
    buf: [u8; 32],
}

impl FdPath {
    fn new(fd: i32) -> Self {
        let mut buf = [0u8; 32];
        let prefix = b"/proc/self/fd/";
        buf[..prefix.len()].copy_from_slice(prefix);
        let mut digits = [0u8; 12];
        let mut n = fd.max(0) as u32;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buf[prefix.len() + i] = digits[len - 1 - i];
        }
        FdPath { buf }
    }

    fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.buf).expect("the buffer is NUL-terminated")
    }
}

fn open_in_root(root: &Fd, path: &CStr, flags: i32) -> Result<Fd, i32> {
    sys::openat2_in_root(root.0, path, flags, 0)
}

/// Create the directories `names[..]` one below the other inside the root,
/// each looked up through its prefix so symlinks resolve inside the root.
fn mkdir_components(root: &Fd, prefixes: &[CString], names: &[CString]) -> Result<(), i32> {
    for (k, name) in names.iter().enumerate() {
        let parent = match k {
            0 => None,
            _ => Some(open_in_root(
                root,
                &prefixes[k - 1],
                libc::O_PATH | libc::O_DIRECTORY,
            )?),
        };
        match sys::mkdirat(parent.as_ref().map_or(root.0, |p| p.0), name, 0o755) {
            Ok(()) | Err(libc::EEXIST) => {}
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// Create every directory of `path` inside the root; return an `O_PATH` fd
/// of the last one.
fn mkdir_all(root: &Fd, path: &RelPath) -> Result<Fd, i32> {
    mkdir_components(root, &path.prefixes, &path.names)?;
    open_in_root(root, path.full(), libc::O_PATH | libc::O_DIRECTORY)
}

/// The parent directory of `path`, from the cache when it holds that one.
fn cached_parent<'a>(
    cache: &mut Option<(&'a CStr, Fd)>,
    root: &Fd,
    path: &'a RelPath,
) -> Result<i32, i32> {
    let wanted = path.parent();
    match cache {
        Some((key, fd)) if *key == wanted => Ok(fd.0),
        _ => {
            let fd = open_parent(root, path)?;
            let raw = fd.0;
            *cache = Some((wanted, fd));
            Ok(raw)
        }
    }
}

/// Create the parent directories of `path`; return an `O_PATH` fd of the parent.
fn open_parent(root: &Fd, path: &RelPath) -> Result<Fd, i32> {
    let n = path.names.len().saturating_sub(1);
    mkdir_components(root, &path.prefixes[..n], &path.names[..n])?;
    open_in_root(root, path.parent(), libc::O_PATH | libc::O_DIRECTORY)
}

/// Create an empty file at `path` (and its parent directories) unless
/// something is there; return an `O_PATH` fd of it.
fn create_file(root: &Fd, path: &RelPath) -> Result<Fd, i32> {
    drop(open_parent(root, path)?);
    let created = sys::openat2_in_root(root.0, path.full(), libc::O_CREAT | libc::O_RDONLY, 0o644)?;
    drop(created);
    open_in_root(root, path.full(), libc::O_PATH)
}

/// Thin system call wrappers returning the errno.
mod sys {
    use super::Fd;
    use std::ffi::CStr;

    fn check(rc: i64) -> Result<i64, i32> {
        if rc < 0 {
            Err(tinydocker_errno())
        } else {
            Ok(rc)
        }
    }

    pub fn errno() -> i32 {
        tinydocker_errno()
    }

    fn tinydocker_errno() -> i32 {
        // SAFETY: __errno_location always returns a valid thread-local pointer.
        unsafe { *libc::__errno_location() }
    }

    fn ptr(s: Option<&CStr>) -> *const libc::c_char {
        s.map_or(std::ptr::null(), |s| s.as_ptr())
    }

    pub fn mount(
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: u64,
        data: Option<&CStr>,
    ) -> Result<(), i32> {
        // SAFETY: every pointer is NULL or a valid C string.
        let rc = unsafe {
            libc::mount(
                ptr(source),
                target.as_ptr(),
                ptr(fstype),
                flags,
                ptr(data).cast(),
            )
        };
        check(rc as i64).map(drop)
    }

    /// The per-mount flags (nosuid, nodev, noexec, ...) of the mount at
    /// `path`, as MS_* bits, so a read-only remount keeps them.
    pub fn mount_flags(path: &CStr) -> Result<u64, i32> {
        // SAFETY: statvfs writes into a zeroed struct of the right type.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: valid C string and output pointer.
        check(unsafe { libc::statvfs(path.as_ptr(), &mut st) } as i64)?;
        let mut flags = 0;
        for (st_bit, ms_bit) in [
            (libc::ST_NOSUID, libc::MS_NOSUID),
            (libc::ST_NODEV, libc::MS_NODEV),
            (libc::ST_NOEXEC, libc::MS_NOEXEC),
            (libc::ST_NOATIME, libc::MS_NOATIME),
            (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
            (libc::ST_RELATIME, libc::MS_RELATIME),
        ] {
            if st.f_flag & st_bit != 0 {
                flags |= ms_bit;
            }
        }
        Ok(flags)
    }

    pub fn open(dirfd: i32, path: &CStr, flags: i32) -> Result<Fd, i32> {
        // SAFETY: valid C string; the result is a new fd or -1.
        let fd = unsafe { libc::openat(dirfd, path.as_ptr(), flags | libc::O_CLOEXEC) };
        check(fd as i64).map(|fd| Fd(fd as i32))
    }

    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
    const RESOLVE_IN_ROOT: u64 = 0x10;

    /// Open `path` as if `root` were `/`: `..` and absolute symlinks stay
    /// inside it. Needs Linux 5.6 (ENOSYS before).
    pub fn openat2_in_root(root: i32, path: &CStr, flags: i32, mode: u32) -> Result<Fd, i32> {
        let how = OpenHow {
            flags: (flags | libc::O_CLOEXEC) as u64,
            mode: if flags & libc::O_CREAT != 0 {
                mode as u64
            } else {
                0
            },
            resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        // SAFETY: valid C string and a valid open_how of the given size.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root,
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        // No fallback to a plain openat on kernels without openat2 (before
        // 5.6): it would let symlinks in an image point mounts at the host.
        check(fd).map(|fd| Fd(fd as i32))
    }

    pub fn mkdirat(dirfd: i32, name: &CStr, mode: u32) -> Result<(), i32> {
        // SAFETY: valid C string.
        check(unsafe { libc::mkdirat(dirfd, name.as_ptr(), mode) } as i64).map(drop)
    }

    pub fn chownat(dirfd: i32, name: &CStr, uid: u32, gid: u32) -> Result<(), i32> {
        // SAFETY: a valid C string relative to a valid dirfd.
        let rc =
            unsafe { libc::fchownat(dirfd, name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) };
        check(rc as i64).map(drop)
    }

    pub fn unlinkat(dirfd: i32, name: &CStr) -> Result<(), i32> {
        // SAFETY: a valid C string relative to a valid dirfd.
        check(unsafe { libc::unlinkat(dirfd, name.as_ptr(), 0) } as i64).map(drop)
    }

    pub fn mknodat(dirfd: i32, name: &CStr, mode: u32, dev: libc::dev_t) -> Result<(), i32> {
        // SAFETY: valid C string.
        check(unsafe { libc::mknodat(dirfd, name.as_ptr(), mode, dev) } as i64).map(drop)
    }

    pub fn symlinkat(target: &CStr, dirfd: i32, name: &CStr) -> Result<(), i32> {
        // SAFETY: valid C strings.
        check(unsafe { libc::symlinkat(target.as_ptr(), dirfd, name.as_ptr()) } as i64).map(drop)
    }

    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const AT_RECURSIVE: u32 = 0x8000;

    /// Make the mount at `fd` and every mount below it read-only
    /// (`mount_setattr(2)` with `AT_RECURSIVE`, Linux 5.12+).
    pub fn set_read_only_recursive(fd: &Fd) -> Result<(), i32> {
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: an open fd, an empty C string with AT_EMPTY_PATH, and a valid
        // mount_attr of the size passed.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                fd.0,
                c"".as_ptr(),
                libc::AT_EMPTY_PATH as u32 | AT_RECURSIVE,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        check(rc).map(drop)
    }

    /// Create or truncate `path` (mode 0644) and write `content` to it.
    pub fn write_file(path: &CStr, content: &[u8]) -> Result<(), i32> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC;
        // SAFETY: a valid C string; the fd is closed below.
        let fd = check(unsafe { libc::open(path.as_ptr(), flags, 0o644) } as i64)? as i32;
        let fd = Fd(fd);
        let mut written = 0;
        while written < content.len() {
            // SAFETY: writes from within the bounds of `content` to an open fd.
            let n = unsafe {
                libc::write(
                    fd.0,
                    content[written..].as_ptr().cast(),
                    content.len() - written,
                )
            };
            written += check(n as i64)? as usize;
        }
        Ok(())
    }

    pub fn chdir(path: &CStr) -> Result<(), i32> {
        // SAFETY: valid C string.
        check(unsafe { libc::chdir(path.as_ptr()) } as i64).map(drop)
    }

    /// Make `root` the root of the mount namespace and detach the old root:
    /// `pivot_root(".", ".")` stacks the old root on top of the new one,
    /// and unmounting "." then takes it away (see pivot_root(2), NOTES).
    pub fn pivot_root(root: &Fd) -> Result<(), i32> {
        // SAFETY: fchdir on an open fd.
        check(unsafe { libc::fchdir(root.0) } as i64)?;
        // SAFETY: two valid C strings.
        check(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) })?;
        // SAFETY: valid C string.
        check(unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) } as i64)?;
        chdir(c"/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_paths_format() {
        assert_eq!(FdPath::new(7).as_cstr(), c"/proc/self/fd/7");
        assert_eq!(FdPath::new(1234).as_cstr(), c"/proc/self/fd/1234");
        assert_eq!(FdPath::new(0).as_cstr(), c"/proc/self/fd/0");
    }

    #[test]
    fn relative_paths_split() {
        let p = RelPath::new("/dev/pts").unwrap();
        assert_eq!(p.full(), c"dev/pts");
        assert_eq!(p.parent(), c"dev");
        assert_eq!(p.name(), c"pts");
        let root = RelPath::new("/").unwrap();
        assert_eq!(root.full(), c".");
    }

    #[test]
    fn every_step_prepares() {
        let spec = crate::RootfsSpec {
            layers: vec!["/l".into()],
            upper: "/u".into(),
            work: "/w".into(),
            merged: "/m".into(),
            scratch: Some("/s".into()),
            volumes: vec![],
            files: vec![],
            read_only: true,
            workdir: "/x".into(),
            devices: vec![crate::DeviceNode {
                path: "/dev/sda".into(),
                kind: crate::NodeKind::Block,
                major: 8,
                minor: 0,
                mode: 0o660,
                uid: 0,
                gid: 6,
            }],
            masked_paths: vec!["/proc/kcore".into()],
            readonly_paths: vec!["/proc/sys".into()],
            sys_writable: false,
        };
        let plan = crate::plan(&spec);
        assert_eq!(
            PreparedPlan::new(&plan).unwrap().steps.len(),
            plan.steps.len()
        );
    }
}
