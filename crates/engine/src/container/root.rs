//! A container's filesystem from the host, for `cp` and `export`: a
//! descriptor of its root, to read and write paths under with
//! `openat2(RESOLVE_IN_ROOT)` (see `tinydocker_fs::copy`), so no symlink
//! of the container leads out to the host's files.
//!
//! - A running container's is its init's root (`/proc/PID/root`): its
//!   mount namespace, volumes and bind mounts as its processes see them —
//!   or, for an export, a detached copy of that root mount alone
//!   (`open_tree(2)` from inside its mount namespace), without them.
//! - A stopped (or created, never started) one's is its overlay of image
//!   layers and writable layer, mounted in a private mount namespace of a
//!   short-lived thread (`unshare(2)`): when the thread ends the
//!   namespace goes, and the mount with it once the descriptor is closed.
//!   Nothing is mounted where the host (or a crash) could leave it.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::Mode;

use crate::config::Rootfs;
use crate::error::{Error, Result};
use crate::proc::pid_start_time;
use crate::process::pidfd::Process;
use crate::store::{Container, Observed};
use crate::Engine;

/// Which view of a container's filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootView {
    /// As its processes see it while it runs, volumes and bind mounts
    /// included (`docker cp`).
    Mounted,
    /// Its root filesystem alone, image layers and writable layer
    /// (`docker export`).
    Layers,
}

/// A descriptor (`O_PATH`) of the root of `container`'s filesystem.
pub(crate) fn open_root(engine: &Engine, container: &Container, view: RootView) -> Result<OwnedFd> {
    if let Some(init) = running_init(container) {
        return match view {
            RootView::Mounted => proc_root(container),
            RootView::Layers => on_own_thread(move || clone_root(&init)),
        };
    }
    match &container.config.rootfs {
        Rootfs::Path => {
            let path = container
                .spec()?
                .root()
                .as_ref()
                .map(|r| r.path().clone())
                .unwrap_or_default();
            open_dir(&path)
        }
        Rootfs::Layers(layers) => {
            // Under its lock, so it does not start meanwhile: its overlay
            // is mounted once, here, before it is let go.
            let Some(_lock) = container.lock()? else {
                return Err(Error::NoSuchContainer(container.config.name.clone()));
            };
            let now = engine.store.find(container.id())?;
            if running_init(&now).is_some() {
                return open_root(engine, &now, view);
            }
            let dir = engine.store.container_dir(container.id());
            let data = overlay_data(layers, &dir.join("upper"), &dir.join("work"));
            let target = engine.store.mountpoint();
            on_own_thread(move || mount_overlay(&data, &target))
        }
    }
}

/// The uid and gid a container's processes run as: its spec's, which
/// `--user` and the image's User were resolved into (`cp -a`, docker's
/// `copyUIDGID`).
pub fn process_user(container: &Container) -> Result<(u32, u32)> {
    Ok(container
        .spec()?
        .process()
        .as_ref()
        .map_or((0, 0), |p| (p.user().uid(), p.user().gid())))
}

/// The pidfd of a running container's init.
fn running_init(container: &Container) -> Option<Process> {
    matches!(container.observe(), Observed::Running { .. })
        .then(|| Process::open(container.state.pid, container.state.pid_start))
        .flatten()
}

/// `/proc/PID/root` of the container's init, checked to be its after it
/// was opened (a pid reused meanwhile would have another start time).
fn proc_root(container: &Container) -> Result<OwnedFd> {
    let (pid, start) = (container.state.pid, container.state.pid_start);
    let fd = open_dir(Path::new(&format!("/proc/{pid}/root")))?;
    if pid_start_time(pid) != Some(start) {
        return Err(Error::State(format!(
            "container {} is not running",
            container.config.name
        )));
    }
    Ok(fd)
}

fn open_dir(path: &Path) -> Result<OwnedFd> {
    open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("open", path, e.into()))
}

/// Run `f` on a thread of its own, whose namespaces it may change: they
/// end with the thread, the process's others untouched.
fn on_own_thread(f: impl FnOnce() -> Result<OwnedFd> + Send + 'static) -> Result<OwnedFd> {
    std::thread::spawn(f)
        .join()
        .unwrap_or_else(|_| Err(Error::State("opening the container's root panicked".into())))
}

/// From inside the init's mount namespace, a detached copy of its root
/// mount (not the mounts on it). The thread must have its own filesystem
/// context first: `setns(2)` refuses a shared one.
fn clone_root(init: &Process) -> Result<OwnedFd> {
    use std::os::fd::AsFd;
    unshare(CloneFlags::CLONE_FS).map_err(|e| Error::io("unshare", "/", e.into()))?;
    tinydocker_ns::child::setns(init.as_fd().as_raw_fd(), libc::CLONE_NEWNS).map_err(|e| {
        Error::io(
            "enter the mount namespace of",
            "the container",
            std::io::Error::from_raw_os_error(e),
        )
    })?;
    crate::sys::clone_mount(c"/").map_err(|e| Error::io("open_tree", "/", e))
}

/// overlayfs's options for the layers (bottom first) under `upper`.
fn overlay_data(layers: &[PathBuf], upper: &Path, work: &Path) -> CString {
    let mut data = b"lowerdir=".to_vec();
    for (i, layer) in layers.iter().rev().enumerate() {
        if i > 0 {
            data.push(b':');
        }
        data.extend_from_slice(layer.as_os_str().as_bytes());
    }
    for (key, dir) in [(",upperdir=", upper), (",workdir=", work)] {
        data.extend_from_slice(key.as_bytes());
        data.extend_from_slice(dir.as_os_str().as_bytes());
    }
    CString::new(data).unwrap_or_default()
}

/// In a new private mount namespace (this thread's only), the overlay on
/// `target`, opened.
fn mount_overlay(data: &CString, target: &Path) -> Result<OwnedFd> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| Error::io("unshare", "/", e.into()))?;
    // Nothing mounted here may reach the host's namespace.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| Error::io("make private", "/", e.into()))?;
    std::fs::create_dir_all(target).map_err(|e| Error::io("create", target, e))?;
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_c_str()),
    )
    .map_err(|e| Error::io("mount the container's overlay on", target, e.into()))?;
    open_dir(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_lists_the_top_layer_first() {
        let layers = [PathBuf::from("/l/bottom"), PathBuf::from("/l/top")];
        let data = overlay_data(&layers, Path::new("/c/upper"), Path::new("/c/work"));
        assert_eq!(
            data.to_str().unwrap(),
            "lowerdir=/l/top:/l/bottom,upperdir=/c/upper,workdir=/c/work"
        );
    }
}
