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
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, AT_FDCWD};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, mkdirat, mknodat, umask, Mode, SFlag};
use nix::unistd::{chdir, fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

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
    BindRoot {
        source: CString,
        target: CString,
    },
    Mount {
        fstype: CString,
        source: CString,
        target: RelPath,
        flags: MsFlags,
        data: Option<CString>,
    },
    Bind {
        source: CString,
        target: RelPath,
        create: Create,
        recursive: bool,
        flags: MsFlags,
        read_only: bool,
    },
    Propagation {
        target: RelPath,
        flags: MsFlags,
    },
    Mknod {
        path: RelPath,
        kind: SFlag,
        mode: Mode,
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
    RootPropagation {
        flags: MsFlags,
    },
    RemountRootReadOnly,
    Chdir {
        path: CString,
        /// Its ancestors and itself, shortest first: made (0755, root's)
        /// when the directory is missing, as docker and runc make it.
        prefixes: Vec<CString>,
    },
}

/// `/a/b/c` → `/a`, `/a/b`, `/a/b/c`.
fn path_prefixes(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = String::new();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        at.push('/');
        at.push_str(part);
        out.push(at.clone());
    }
    out
}

/// A [`MountPlan`] ready to apply in the child.
#[derive(Debug)]
pub struct PreparedPlan {
    steps: Vec<Prepared>,
}

fn ms(flags: crate::MountFlags) -> MsFlags {
    MsFlags::from_bits_retain(flags.0)
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
                Step::BindRoot { source, target } => Prepared::BindRoot {
                    source: cpath(source)?,
                    target: cpath(target)?,
                },
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
                    flags: ms(*flags),
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
                    recursive,
                    flags,
                    read_only,
                } => Prepared::Bind {
                    source: cpath(source)?,
                    target: RelPath::new(target)?,
                    create: *create,
                    recursive: *recursive,
                    flags: ms(*flags),
                    read_only: *read_only,
                },
                Step::Propagation { target, flags } => Prepared::Propagation {
                    target: RelPath::new(target)?,
                    flags: ms(*flags),
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
                    kind: match kind {
                        NodeKind::Char => SFlag::S_IFCHR,
                        NodeKind::Block => SFlag::S_IFBLK,
                        NodeKind::Fifo => SFlag::S_IFIFO,
                    },
                    mode: Mode::from_bits_truncate(*mode),
                    dev: nix::sys::stat::makedev((*major).into(), (*minor).into()),
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
                Step::RootPropagation { flags } => Prepared::RootPropagation { flags: ms(*flags) },
                Step::RemountRootReadOnly => Prepared::RemountRootReadOnly,
                Step::Chdir { path } => Prepared::Chdir {
                    path: cstring(path)?,
                    prefixes: path_prefixes(path)
                        .iter()
                        .map(|p| cstring(p))
                        .collect::<Result<_, _>>()?,
                },
            });
        }
        Ok(PreparedPlan { steps })
    }

    /// Apply the plan (in the child, in its own mount namespace). Leaves the
    /// process in the new root, in the working directory, with umask 022.
    /// `before_pivot` runs once every mount is in place and the old root is
    /// still reachable (where a runtime's `createContainer` hooks run).
    pub fn apply(&self, mut before_pivot: impl FnMut()) -> Result<(), StepFailure> {
        // Device nodes and mount points get exactly the modes asked for.
        umask(Mode::empty());
        let mut root: Option<OwnedFd> = None;
        // The parent directory of the last node or link made: /dev's entries
        // come in a row, so its fd is opened once, not once per entry.
        // Forgotten at every other step, since a mount may cover it.
        let mut parent: Option<(&CStr, OwnedFd)> = None;
        for (i, step) in self.steps.iter().enumerate() {
            let fail = |errno: Errno| StepFailure {
                step: i as u32,
                errno: errno as i32,
            };
            if !matches!(step, Prepared::Mknod { .. } | Prepared::Symlink { .. }) {
                parent = None;
            }
            // Every container path resolves in the root mounted first.
            let root_fd = || root.as_ref().map_or(AT_FDCWD, |r| r.as_fd());
            match step {
                Prepared::MakePrivate => mount(
                    None::<&CStr>,
                    c"/",
                    None::<&CStr>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&CStr>,
                )
                .map_err(fail)?,
                Prepared::Scratch {
                    target,
                    upper,
                    work,
                } => {
                    mount(
                        Some(c"tmpfs"),
                        target.as_c_str(),
                        Some(c"tmpfs"),
                        MsFlags::empty(),
                        Some(c"mode=755"),
                    )
                    .map_err(fail)?;
                    let dir = Mode::from_bits_truncate(0o755);
                    mkdirat(AT_FDCWD, upper.as_c_str(), dir).map_err(fail)?;
                    mkdirat(AT_FDCWD, work.as_c_str(), dir).map_err(fail)?;
                }
                Prepared::Overlay { target, data } => {
                    mount(
                        Some(c"overlay"),
                        target.as_c_str(),
                        Some(c"overlay"),
                        MsFlags::empty(),
                        Some(data.as_c_str()),
                    )
                    .map_err(fail)?;
                    root = Some(open_dir(target).map_err(fail)?);
                }
                Prepared::BindRoot { source, target } => {
                    let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
                    mount(
                        Some(source.as_c_str()),
                        target.as_c_str(),
                        None::<&CStr>,
                        bind,
                        None::<&CStr>,
                    )
                    .map_err(fail)?;
                    root = Some(open_dir(target).map_err(fail)?);
                }
                Prepared::Mount {
                    fstype,
                    source,
                    target,
                    flags,
                    data,
                } => {
                    let fd = mkdir_all(root_fd(), target).map_err(fail)?;
                    mount(
                        Some(source.as_c_str()),
                        FdPath::new(&fd).as_cstr(),
                        Some(fstype.as_c_str()),
                        *flags,
                        data.as_deref(),
                    )
                    .map_err(fail)?;
                }
                Prepared::Bind {
                    source,
                    target,
                    create,
                    recursive,
                    flags,
                    read_only,
                } => {
                    let fd = match create {
                        Create::Dir => mkdir_all(root_fd(), target).map_err(fail)?,
                        Create::File => create_file(root_fd(), target).map_err(fail)?,
                    };
                    let mut bind = MsFlags::MS_BIND;
                    if *recursive {
                        bind |= MsFlags::MS_REC;
                    }
                    mount(
                        Some(source.as_c_str()),
                        FdPath::new(&fd).as_cstr(),
                        None::<&CStr>,
                        bind,
                        None::<&CStr>,
                    )
                    .map_err(fail)?;
                    // A bind ignores every other flag: they take a remount.
                    if !flags.is_empty() {
                        let at =
                            open_in_root(root_fd(), target.full(), OFlag::O_PATH).map_err(fail)?;
                        let path = FdPath::new(&at);
                        let kept = mount_flags(path.as_cstr()).map_err(fail)?;
                        let remount = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | kept | *flags;
                        mount(
                            None::<&CStr>,
                            path.as_cstr(),
                            None::<&CStr>,
                            remount,
                            None::<&CStr>,
                        )
                        .map_err(fail)?;
                    }
                    if *read_only {
                        make_read_only(root_fd(), target).map_err(fail)?;
                    }
                }
                Prepared::Propagation { target, flags } => {
                    let at = open_in_root(root_fd(), target.full(), OFlag::O_PATH).map_err(fail)?;
                    mount(
                        None::<&CStr>,
                        FdPath::new(&at).as_cstr(),
                        None::<&CStr>,
                        *flags,
                        None::<&CStr>,
                    )
                    .map_err(fail)?;
                }
                Prepared::Mknod {
                    path,
                    kind,
                    mode,
                    dev,
                    owner,
                } => {
                    let dir = cached_parent(&mut parent, root_fd(), path).map_err(fail)?;
                    match mknodat(dir, path.name(), *kind, *mode, *dev) {
                        // A node of the spec's over a file of the image.
                        Err(Errno::EEXIST) => {
                            unlinkat(dir, path.name(), UnlinkatFlags::NoRemoveDir).map_err(fail)?;
                            mknodat(dir, path.name(), *kind, *mode, *dev).map_err(fail)?;
                        }
                        other => other.map_err(fail)?,
                    }
                    if *owner != (0, 0) {
                        fchownat(
                            dir,
                            path.name(),
                            Some(Uid::from_raw(owner.0)),
                            Some(Gid::from_raw(owner.1)),
                            AtFlags::AT_SYMLINK_NOFOLLOW,
                        )
                        .map_err(fail)?;
                    }
                }
                Prepared::Mask { path } => mask(root_fd(), path).map_err(fail)?,
                Prepared::ReadOnlyPath { path } => {
                    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW;
                    let fd = match open_in_root(root_fd(), path.full(), flags) {
                        Err(Errno::ENOENT) => continue,
                        other => other.map_err(fail)?,
                    };
                    let at = FdPath::new(&fd);
                    mount(
                        Some(at.as_cstr()),
                        at.as_cstr(),
                        None::<&CStr>,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        None::<&CStr>,
                    )
                    .map_err(fail)?;
                    make_read_only(root_fd(), path).map_err(fail)?;
                }
                Prepared::Symlink { link, target } => {
                    let dir = cached_parent(&mut parent, root_fd(), link).map_err(fail)?;
                    symlinkat(target.as_c_str(), dir, link.name()).map_err(fail)?;
                }
                Prepared::MkdirAll { path } => {
                    mkdir_all(root_fd(), path).map_err(fail)?;
                }
                Prepared::WriteFile { path, content } => write_file(path, content).map_err(fail)?,
                Prepared::PivotRoot => {
                    before_pivot();
                    let root = root.as_ref().ok_or(StepFailure {
                        step: i as u32,
                        errno: libc::EINVAL,
                    })?;
                    pivot_into(root.as_fd()).map_err(fail)?
                }
                Prepared::RootPropagation { flags } => {
                    mount(None::<&CStr>, c"/", None::<&CStr>, *flags, None::<&CStr>)
                        .map_err(fail)?
                }
                Prepared::RemountRootReadOnly => {
                    let kept = mount_flags(c"/").map_err(fail)?;
                    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept;
                    mount(None::<&CStr>, c"/", None::<&CStr>, flags, None::<&CStr>).map_err(fail)?
                }
                Prepared::Chdir { path, prefixes } => match chdir(path.as_c_str()) {
                    Err(nix::errno::Errno::ENOENT) => {
                        for p in prefixes {
                            match nix::unistd::mkdir(p.as_c_str(), Mode::from_bits_truncate(0o755))
                            {
                                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                                Err(e) => return Err(fail(e)),
                            }
                        }
                        chdir(path.as_c_str()).map_err(fail)?
                    }
                    done => done.map_err(fail)?,
                },
            }
        }
        umask(Mode::from_bits_truncate(0o022));
        Ok(())
    }
}

/// The per-mount flags (nosuid, nodev, noexec, ...) of the mount at
/// `path`, as `MS_*` bits, so a remount keeps them.
fn mount_flags(path: &CStr) -> Result<MsFlags, Errno> {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let st = statvfs(path)?;
    let mut flags = MsFlags::empty();
    for (st_bit, ms_bit) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
    ] {
        if st.flags().contains(st_bit) {
            flags |= ms_bit;
        }
    }
    Ok(flags)
}

/// Make the mount at `target` read-only, all the way down: mounts under
/// it (from a recursive bind) must not stay writable.
fn make_read_only(root: BorrowedFd<'_>, target: &RelPath) -> Result<(), Errno> {
    // Open after the mount: an older fd names the covered mount point.
    let fd = open_in_root(root, target.full(), OFlag::O_PATH)?;
    match sys::set_read_only_recursive(fd.as_fd()) {
        Ok(()) => Ok(()),
        // Kernels before 5.12: the top mount only.
        Err(Errno::ENOSYS) => {
            let path = FdPath::new(&fd);
            let kept = mount_flags(path.as_cstr())?;
            let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept;
            mount(
                None::<&CStr>,
                path.as_cstr(),
                None::<&CStr>,
                flags,
                None::<&CStr>,
            )
        }
        Err(errno) => Err(errno),
    }
}

/// Hide `path`: an empty read-only tmpfs over a directory, the container's
/// `/dev/null` over anything else. A missing path needs no hiding.
fn mask(root: BorrowedFd<'_>, path: &RelPath) -> Result<(), Errno> {
    let fd = match open_in_root(root, path.full(), OFlag::O_PATH | OFlag::O_NOFOLLOW) {
        Err(Errno::ENOENT) => return Ok(()),
        other => other?,
    };
    let st = fstat(&fd)?;
    let target = FdPath::new(&fd);
    if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR {
        let flags =
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(
            Some(c"tmpfs"),
            target.as_cstr(),
            Some(c"tmpfs"),
            flags,
            Some(c"size=0,mode=755"),
        )
    } else {
        let null = open_in_root(root, c"dev/null", OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
        let source = FdPath::new(&null);
        mount(
            Some(source.as_cstr()),
            target.as_cstr(),
            None::<&CStr>,
            MsFlags::MS_BIND,
            None::<&CStr>,
        )
    }
}

/// "/proc/self/fd/N" in a stack buffer.
struct FdPath {
    buf: [u8; 32],
}

impl FdPath {
    fn new(fd: &impl AsRawFd) -> Self {
        let mut buf = [0u8; 32];
        let prefix = b"/proc/self/fd/";
        buf[..prefix.len()].copy_from_slice(prefix);
        let mut digits = [0u8; 12];
        let mut n = fd.as_raw_fd().max(0) as u32;
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

/// Open a directory by its host path (the root just mounted).
fn open_dir(path: &CStr) -> Result<OwnedFd, Errno> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Open `path` as if `root` were `/`: `..` and absolute symlinks stay
/// inside it. Needs Linux 5.6: no fallback to a plain openat on kernels
/// without openat2, which would let symlinks in an image point mounts at
/// the host.
fn open_in_root(root: BorrowedFd<'_>, path: &CStr, flags: OFlag) -> Result<OwnedFd, Errno> {
    open_in_root_mode(root, path, flags, Mode::empty())
}

fn open_in_root_mode(
    root: BorrowedFd<'_>,
    path: &CStr,
    flags: OFlag,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    use nix::fcntl::{openat2, OpenHow, ResolveFlag};
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .mode(if flags.contains(OFlag::O_CREAT) {
            mode
        } else {
            Mode::empty()
        })
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(root, path, how)
}

/// Create the directories `names[..]` one below the other inside the root,
/// each looked up through its prefix so symlinks resolve inside the root.
fn mkdir_components(
    root: BorrowedFd<'_>,
    prefixes: &[CString],
    names: &[CString],
) -> Result<(), Errno> {
    for (k, name) in names.iter().enumerate() {
        let parent = match k {
            0 => None,
            _ => Some(open_in_root(
                root,
                &prefixes[k - 1],
                OFlag::O_PATH | OFlag::O_DIRECTORY,
            )?),
        };
        let at = parent.as_ref().map_or(root, |p| p.as_fd());
        match mkdirat(at, name.as_c_str(), Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// Create every directory of `path` inside the root; return an `O_PATH` fd
/// of the last one.
fn mkdir_all(root: BorrowedFd<'_>, path: &RelPath) -> Result<OwnedFd, Errno> {
    mkdir_components(root, &path.prefixes, &path.names)?;
    open_in_root(root, path.full(), OFlag::O_PATH | OFlag::O_DIRECTORY)
}

/// The parent directory of `path`, from the cache when it holds that one.
fn cached_parent<'a, 'c>(
    cache: &'c mut Option<(&'a CStr, OwnedFd)>,
    root: BorrowedFd<'_>,
    path: &'a RelPath,
) -> Result<BorrowedFd<'c>, Errno> {
    let wanted = path.parent();
    if !matches!(cache, Some((key, _)) if *key == wanted) {
        *cache = Some((wanted, open_parent(root, path)?));
    }
    Ok(cache
        .as_ref()
        .map(|(_, fd)| fd.as_fd())
        .expect("just filled"))
}

/// Create the parent directories of `path`; return an `O_PATH` fd of the parent.
fn open_parent(root: BorrowedFd<'_>, path: &RelPath) -> Result<OwnedFd, Errno> {
    let n = path.names.len().saturating_sub(1);
    mkdir_components(root, &path.prefixes[..n], &path.names[..n])?;
    open_in_root(root, path.parent(), OFlag::O_PATH | OFlag::O_DIRECTORY)
}

/// Create an empty file at `path` (and its parent directories) unless
/// something is there; return an `O_PATH` fd of it.
fn create_file(root: BorrowedFd<'_>, path: &RelPath) -> Result<OwnedFd, Errno> {
    drop(open_parent(root, path)?);
    let created = open_in_root_mode(
        root,
        path.full(),
        OFlag::O_CREAT | OFlag::O_RDONLY,
        Mode::from_bits_truncate(0o644),
    )?;
    drop(created);
    open_in_root(root, path.full(), OFlag::O_PATH)
}

/// Create or truncate `path` (mode 0644) and write `content` to it.
fn write_file(path: &CStr, content: &[u8]) -> Result<(), Errno> {
    let fd = nix::fcntl::open(
        path,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )?;
    let mut written = 0;
    while written < content.len() {
        written += nix::unistd::write(&fd, &content[written..])?;
    }
    Ok(())
}

/// Make `root` the root of the mount namespace and detach the old root:
/// `pivot_root(".", ".")` stacks the old root on top of the new one, and
/// unmounting "." then takes it away (see pivot_root(2), NOTES).
fn pivot_into(root: BorrowedFd<'_>) -> Result<(), Errno> {
    nix::unistd::fchdir(root)?;
    nix::unistd::pivot_root(c".", c".")?;
    nix::mount::umount2(c".", nix::mount::MntFlags::MNT_DETACH)?;
    chdir(c"/")
}

/// The one system call nix has no wrapper for.
mod sys {
    use std::os::fd::{AsRawFd, BorrowedFd};

    use nix::errno::Errno;

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
    pub fn set_read_only_recursive(fd: BorrowedFd<'_>) -> Result<(), Errno> {
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
                fd.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH as u32 | AT_RECURSIVE,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        Errno::result(rc).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_paths_format() {
        let fd = |n: i32| FdPath::new(&n);
        assert_eq!(fd(7).as_cstr(), c"/proc/self/fd/7");
        assert_eq!(fd(1234).as_cstr(), c"/proc/self/fd/1234");
        assert_eq!(fd(0).as_cstr(), c"/proc/self/fd/0");
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
            root: crate::RootSource::Overlay {
                layers: vec!["/l".into()],
                upper: "/u".into(),
                work: "/w".into(),
                scratch: Some("/s".into()),
            },
            merged: "/m".into(),
            mounts: crate::plan::tests::standard_mounts(false),
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
            root_propagation: crate::MountFlags(libc::MS_REC | libc::MS_SLAVE),
            bind_devices: false,
        };
        let plan = crate::plan(&spec);
        assert_eq!(
            PreparedPlan::new(&plan).unwrap().steps.len(),
            plan.steps.len()
        );
    }
}
