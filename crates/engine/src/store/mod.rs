//! The container store under the state root.
//!
//! ```text
//! containers/<id>/container.json  spec, configuration and state (record.rs)
//! containers/<id>/waiters       flock(2)ed shared by each `wait` while it waits
//! containers/<id>/{upper,work}  writable layer and overlay work directory
//!                               (a `--rm` container has none: its writable
//!                               layer is a tmpfs in its own mount namespace)
//! containers/<id>/container.log its output, when it ran detached
//! names/<name>                  the id that holds a name (a symbolic link)
//! rootfs/                       where every container mounts its root, each
//!                               in its own mount namespace (so they never clash)
//! scratch/                      likewise, where `--rm` containers mount their tmpfs
//! containers.lock               flock(2) held while a name is taken or freed
//! ```
//!
//! A container is made under a `.making-PID-START-ID` directory that says
//! who makes it, and renamed into place once its record is whole; what a
//! making cut short left is swept by the next listing once its maker is
//! gone.

mod legacy;
pub(crate) mod lock;
mod names;
mod record;
mod watch;

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tinydocker_cgroups::{AnyManager, Layout, Manager};
use tinydocker_fs::ImageStore;

use crate::config::ContainerConfig;
use crate::error::{Error, Result};
use crate::proc::{pid_start_time, this_process};

pub(crate) use lock::HostLock;
pub use lock::{lock_file, Lock};
pub use names::{generate_name, new_id, validate_name};
pub(crate) use record::{write_first_record, StoredSpec, RECORD};
pub use record::{Container, Observed, State, Status};
pub use watch::{deadline, readable, Watch};

/// The parent of container cgroups unless the spec names another.
pub const DEFAULT_CGROUP_PARENT: &str = "tinydocker";

/// Remove a container's cgroup, then every level of tinydocker's own tree
/// above it (`tinydocker/...`) that no other container uses, so the last
/// container out leaves nothing in cgroupfs. A parent outside that tree is
/// the user's and stays.
pub(crate) fn remove_cgroup(cgroup: &AnyManager) -> Result<(), tinydocker_cgroups::Error> {
    cgroup.remove()?;
    let mut level = cgroup.parent();
    while let Some(parent) = level {
        if !parent.path().starts_with(DEFAULT_CGROUP_PARENT) || !parent.remove_if_empty() {
            break;
        }
        level = parent.parent();
    }
    Ok(())
}

/// The id a name file holds: a symbolic link to the id (a regular file
/// holding it in roots made before).
fn read_name(path: &Path) -> Option<String> {
    match fs::read_link(path) {
        Ok(target) => target.to_str().map(String::from),
        Err(_) => fs::read_to_string(path).ok().map(|s| s.trim().to_string()),
    }
}

/// The prefix of a container directory being made: `.making-PID-START-ID`.
const MAKING: &str = ".making-";
/// In a directory being made: the container's cgroup, when not the default.
const MAKING_CGROUP: &str = "cgroup";

/// Whether the maker named in a `.making-PID-START-ID` directory is gone.
fn maker_gone(maker: &str) -> bool {
    let mut parts = maker.splitn(3, '-');
    let (Some(pid), Some(start)) = (parts.next(), parts.next()) else {
        return false;
    };
    match (pid.parse::<i32>(), start.parse::<u64>()) {
        (Ok(pid), Ok(start)) => pid_start_time(pid) != Some(start),
        _ => false,
    }
}

/// The state root: images, containers, networks.
#[derive(Debug, Clone)]
pub struct Store {
    pub path: PathBuf,
}

impl Store {
    pub fn new(path: PathBuf) -> Self {
        Store { path }
    }

    pub fn images(&self) -> Result<ImageStore> {
        Ok(ImageStore::open(self.path.join("images"))?)
    }

    fn containers_dir(&self) -> PathBuf {
        self.path.join("containers")
    }

    /// The directory of the container with this id.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    fn names_dir(&self) -> PathBuf {
        self.path.join("names")
    }

    /// The mount point of container roots. Mounts happen in each container's
    /// private mount namespace, so one empty directory serves them all.
    pub fn mountpoint(&self) -> PathBuf {
        self.path.join("rootfs")
    }

    /// Where a `--rm` container mounts the tmpfs that holds its writable
    /// layer, in its own mount namespace (shared, like [`Self::mountpoint`]).
    pub fn scratch(&self) -> PathBuf {
        self.path.join("scratch")
    }

    fn lock(&self) -> Result<Lock> {
        fs::create_dir_all(&self.path)
            .map_err(|e| Error::io("create state root", &self.path, e))?;
        lock_file(&self.path.join("containers.lock"))
    }

    /// Start making a container: its directory under a name that says who
    /// makes it (`.making-PID-START-ID`), before anything else of it exists
    /// (its cgroup, its init). A making cut short, even by SIGKILL, is
    /// swept once its maker is gone (see `list`): the directory, the cgroup
    /// (`cgroup` names it when it is not the default `tinydocker/ID`), and
    /// the name. With `layer_on_disk` its writable layer's directories
    /// (`upper`, `work`) are made in it. Returns the directory, where the
    /// container is set up, for [`Store::create`].
    pub fn begin(&self, id: &str, cgroup: &str, layer_on_disk: bool) -> Result<PathBuf> {
        let (me, start) = this_process();
        let making = self
            .containers_dir()
            .join(format!("{MAKING}{me}-{start}-{id}"));
        let failed = |e| Error::io("create container directory", &making, e);
        fs::create_dir_all(&making).map_err(failed)?;
        let made = (|| -> io::Result<()> {
            if cgroup != format!("{DEFAULT_CGROUP_PARENT}/{id}") {
                fs::write(making.join(MAKING_CGROUP), cgroup)?;
            }
            fs::create_dir_all(self.mountpoint())?;
            fs::create_dir_all(self.scratch())?;
            // A --rm container's writable layer is a tmpfs of its own.
            if layer_on_disk {
                fs::create_dir(making.join("upper"))?;
                fs::create_dir(making.join("work"))?;
            }
            Ok(())
        })();
        if let Err(e) = made {
            let _ = fs::remove_dir_all(&making);
            return Err(failed(e));
        }
        Ok(making)
    }

    /// Undo [`Store::begin`] after a failure before [`Store::create`].
    pub fn abandon(&self, making: &Path) {
        let _ = fs::remove_dir_all(making);
    }

    /// Create a container in the directory [`Store::begin`] made: take its
    /// name, write its record, and rename the directory into place; return
    /// its directory. On any failure nothing of it is left but the making
    /// directory (for the caller's next attempt or [`Store::abandon`]).
    pub fn create(
        &self,
        spec: &mut StoredSpec,
        config: &ContainerConfig,
        state: &State,
        making: &Path,
    ) -> Result<PathBuf> {
        // An OCI bundle's container is known by its id, a hash of its
        // name: its directory's rename is what makes the name its own.
        if config.bundle.is_some() {
            let dir = self.container_dir(&config.id);
            write_first_record(making, spec, config, state)?;
            return match fs::rename(making, &dir) {
                Ok(()) => Ok(dir),
                Err(e) => {
                    let _ = fs::remove_file(making.join(RECORD));
                    Err(match e.raw_os_error() {
                        Some(libc::EEXIST | libc::ENOTEMPTY) => Error::NameInUse {
                            name: config.name.clone(),
                            holder: config.id.clone(),
                        },
                        _ => Error::io("create container directory", &dir, e),
                    })
                }
            };
        }
        let _lock = self.lock()?;
        let name_file = self.names_dir().join(&config.name);
        if let Some(holder) = read_name(&name_file) {
            if self
                .containers_dir()
                .join(holder.trim())
                .join(RECORD)
                .exists()
            {
                return Err(Error::NameInUse {
                    name: config.name.clone(),
                    holder: holder.trim().to_string(),
                });
            }
        }
        let dir = self.container_dir(&config.id);
        let names = self.names_dir();
        fs::create_dir_all(&names).map_err(|e| Error::io("create", &names, e))?;
        write_first_record(making, spec, config, state)?;
        // The name names an id whose record does not exist yet: still
        // free, until the rename below. A symbolic link is made whole or
        // not at all (a temporary file to rename could be left by a kill);
        // a stale one (its holder's record is gone) is replaced.
        let name_error = |e| Error::io("take the name", &name_file, e);
        match fs::remove_file(&name_file) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(name_error(e)),
            _ => {}
        }
        std::os::unix::fs::symlink(&config.id, &name_file).map_err(name_error)?;
        // Renamed into place whole: until then no directory looks like a
        // container.
        if let Err(e) = fs::rename(making, &dir) {
            let _ = fs::remove_file(&name_file);
            let _ = fs::remove_file(making.join(RECORD));
            return Err(Error::io("create container directory", &dir, e));
        }
        Ok(dir)
    }

    /// Remove what a making cut short left (its maker is gone): its cgroup
    /// (whatever is left in it is killed first), the name it had taken,
    /// and the directory.
    fn sweep_unfinished(&self, making: &Path, id: &str) {
        // The file is written before the cgroup is made: one cut short
        // (empty, or part of the path) names no cgroup of this container,
        // and nothing is removed by it.
        let from_file = || match fs::read_to_string(making.join(MAKING_CGROUP)) {
            Ok(path) => path,
            Err(_) => format!("{DEFAULT_CGROUP_PARENT}/{id}"),
        };
        let cgroup = match Container::load(making) {
            Ok(c) => {
                let name_file = self.names_dir().join(&c.config.name);
                if read_name(&name_file).is_some_and(|holder| holder == c.config.id) {
                    let _ = fs::remove_file(&name_file);
                }
                c.cgroup_path().unwrap_or_else(|_| from_file())
            }
            Err(_) => from_file(),
        };
        let ours = cgroup
            .strip_suffix(id)
            .is_some_and(|parent| parent.ends_with('/') && parent.len() > 1);
        if !ours {
            let _ = fs::remove_dir_all(making);
            return;
        }
        if let Ok(layout) = Layout::detect() {
            if remove_cgroup(&AnyManager::new(&layout, &cgroup)).is_err() {
                // Not gone: leave the directory, to try again next time.
                return;
            }
        }
        let _ = fs::remove_dir_all(making);
    }

    /// Every container with a readable record, newest first.
    pub fn list(&self) -> Result<Vec<Container>> {
        self.list_map(Some)
    }

    /// Every container's record as it is, sweeping nothing: for readers
    /// beside the engine's commands (the embedded DNS server's thread).
    pub(crate) fn records(&self) -> Vec<Container> {
        let Ok(entries) = fs::read_dir(self.containers_dir()) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with(MAKING))
            .filter_map(|e| Container::load(&e.path()).ok())
            .collect()
    }

    /// Every container, newest first, each handed to `f` as it is read
    /// and dropped after: only what `f` keeps of it (`Some`) is held, not
    /// every record at once.
    pub fn list_map<T>(&self, mut f: impl FnMut(Container) -> Option<T>) -> Result<Vec<T>> {
        let dir = self.containers_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read", &dir, e)),
        };
        let mut all = Vec::new();
        for entry in entries.flatten() {
            if let Some(maker) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(MAKING))
            {
                if maker_gone(maker) {
                    let id = maker.rsplit('-').next().unwrap_or_default();
                    self.sweep_unfinished(&entry.path(), id);
                }
                continue;
            }
            // A directory without a record is a creation cut short: not a container.
            if let Ok(c) = Container::load(&entry.path()) {
                let created = c.config.created;
                if let Some(kept) = f(c) {
                    all.push((created, kept));
                }
            }
        }
        all.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
        Ok(all.into_iter().map(|(_, kept)| kept).collect())
    }

    /// Find a container by full id, name or unique id prefix (in that
    /// order, as docker looks).
    pub fn find(&self, key: &str) -> Result<Container> {
        if key.is_empty() {
            return Err(Error::NoSuchContainer(key.to_string()));
        }
        let hex = key.bytes().all(|b| b.is_ascii_hexdigit());
        // A whole id names one directory: read first, and no listing (an
        // OCI runtime's every call comes this way, with any number of
        // containers).
        let whole_id = hex && key.len() == 64;
        if whole_id {
            if let Ok(c) = Container::load(&self.containers_dir().join(key)) {
                return Ok(c);
            }
        }
        if let Some(id) = read_name(&self.names_dir().join(key)) {
            if let Ok(c) = Container::load(&self.containers_dir().join(id.trim())) {
                return Ok(c);
            }
        }
        if hex && !whole_id {
            // A container's directory is named by its id: only those whose
            // name starts with the key are read.
            let dir = self.containers_dir();
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(Error::NoSuchContainer(key.to_string()))
                }
                Err(e) => return Err(Error::io("read", &dir, e)),
            };
            let mut matches: Vec<Container> = entries
                .flatten()
                .filter(|e| e.file_name().as_bytes().starts_with(key.as_bytes()))
                .filter_map(|e| Container::load(&e.path()).ok())
                .filter(|c| c.config.id.starts_with(key))
                .collect();
            match matches.len() {
                0 => {}
                1 => return Ok(matches.remove(0)),
                count => {
                    return Err(Error::AmbiguousPrefix {
                        prefix: key.to_string(),
                        count,
                    })
                }
            }
        }
        Err(Error::NoSuchContainer(key.to_string()))
    }

    /// Give a container a new name (`rename`): the new name is taken
    /// first (refused when a container holds it), then the record says
    /// it, then the old name is freed. The caller holds the container's
    /// [`Container::lock`] and has read it under that lock.
    pub fn rename(&self, container: &mut Container, new: &str) -> Result<()> {
        names::validate_name(new)?;
        let _lock = self.lock()?;
        let names = self.names_dir();
        let new_file = names.join(new);
        if let Some(holder) = read_name(&new_file) {
            let holder = holder.trim().to_string();
            if self.containers_dir().join(&holder).join(RECORD).exists() {
                return Err(Error::NameInUse {
                    name: new.to_string(),
                    holder,
                });
            }
            fs::remove_file(&new_file).map_err(|e| Error::io("remove", &new_file, e))?;
        }
        fs::create_dir_all(&names).map_err(|e| Error::io("create", &names, e))?;
        std::os::unix::fs::symlink(&container.config.id, &new_file)
            .map_err(|e| Error::io("take the name", &new_file, e))?;
        let old = std::mem::replace(&mut container.config.name, new.to_string());
        let state = container.state.clone();
        if let Err(e) = container.save_state_locked(state) {
            container.config.name = old;
            let _ = fs::remove_file(&new_file);
            return Err(e);
        }
        let old_file = names.join(&old);
        if read_name(&old_file).is_some_and(|id| id == container.config.id) {
            let _ = fs::remove_file(&old_file);
        }
        Ok(())
    }

    /// Remove a container's files and free its name. The caller holds the
    /// container's [`Container::lock`].
    pub fn remove(&self, container: &Container) -> Result<()> {
        let _lock = self.lock()?;
        let name_file = self.names_dir().join(&container.config.name);
        if read_name(&name_file).is_some_and(|id| id == container.config.id) {
            fs::remove_file(&name_file).map_err(|e| Error::io("remove", &name_file, e))?;
        }
        let failed = |e| Error::io("remove", &container.dir, e);
        // The record first: from then on the directory is no container.
        match fs::remove_file(container.dir.join(RECORD)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(e)),
        }
        // A `wait` that found the record just before it went may add its
        // waiters file meanwhile: the directory is then not empty once.
        let mut tries = 0;
        loop {
            tries += 1;
            match fs::remove_dir_all(&container.dir) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) && tries < 3 => {}
                Err(e) => return Err(failed(e)),
            }
        }
    }

    /// The images containers use: (image id, container id).
    pub fn images_in_use(&self) -> Result<Vec<(String, String)>> {
        self.list_map(|c| Some((c.config.image_id, c.config.id)))
    }
}

/// A shared hold on the image store ([`crate::Engine::hold_images`]): no
/// image is removed while it is held. A `run` holds it from resolving its
/// image until its container's record names the image, which `rmi` then
/// sees.
/// Once the run makes volumes, it holds them too: no volume is removed
/// while it is held.
pub struct ImageHold {
    images: Option<tinydocker_fs::StoreLock>,
    /// A shared flock of the volumes' lock, once volumes are made.
    volumes: Option<fs::File>,
}

impl ImageHold {
    pub(crate) fn take(store: &Store) -> Result<ImageHold> {
        Ok(ImageHold {
            images: store.images()?.hold()?,
            volumes: None,
        })
    }

    /// Hold the volumes too (from now until the hold is dropped).
    pub(crate) fn hold_volumes(&mut self, volumes: &crate::volume::Volumes) -> Result<()> {
        if self.volumes.is_none() {
            self.volumes = Some(volumes.hold()?);
        }
        Ok(())
    }

    /// Close this process's copy, leaving the hold to a process forked
    /// while it was held.
    pub(crate) fn leave_to_forks(mut self) {
        if let Some(lock) = self.images.take() {
            lock.leave_to_forks();
        }
        // Closed, not unlocked: the lock belongs to the forked copy.
        drop(self.volumes.take());
    }
}

impl Drop for ImageHold {
    fn drop(&mut self) {
        if let Some(file) = self.volumes.take() {
            let _ = file.unlock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of a container with this id (the upgraded fixture's).
    fn record_at(store: &Store, id: &str) {
        let old: legacy::Record = serde_json::from_str(include_str!("legacy-web.json")).unwrap();
        let (spec, mut config, state) = old.upgrade(Path::new("/s/rootfs")).unwrap();
        config.id = id.to_string();
        config.name = format!("c{}", &id[..6]);
        let dir = store.containers_dir().join(id);
        fs::create_dir_all(&dir).unwrap();
        record::write_record(&dir, &mut StoredSpec::new(spec), &config, &state).unwrap();
    }

    #[test]
    fn find_by_id_or_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let (a, b) = (
            format!("abc1{}", "0".repeat(60)),
            format!("abc2{}", "0".repeat(60)),
        );
        record_at(&store, &a);
        record_at(&store, &b);
        // A directory that is no container (a creation cut short).
        fs::create_dir_all(
            store
                .containers_dir()
                .join(format!("abc3{}", "0".repeat(60))),
        )
        .unwrap();
        assert_eq!(store.find(&a).unwrap().config.id, a);
        assert_eq!(store.find("abc2").unwrap().config.id, b);
        assert!(matches!(
            store.find("abc"),
            Err(Error::AmbiguousPrefix { count: 2, .. })
        ));
        assert!(matches!(store.find("abc3"), Err(Error::NoSuchContainer(_))));
        assert!(matches!(store.find("ff"), Err(Error::NoSuchContainer(_))));
    }

    /// The pids limit of a container's spec, as read back.
    fn pids_limit(store: &Store, id: &str) -> Option<i64> {
        let c = store.find(id).unwrap();
        let spec = c.spec().unwrap();
        Some(
            spec.linux()
                .as_ref()?
                .resources()
                .as_ref()?
                .pids()
                .as_ref()?
                .limit(),
        )
    }

    #[test]
    fn saving_a_state_keeps_the_limits_on_disk_and_a_spec_changed_here() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let id = format!("abc1{}", "0".repeat(60));
        record_at(&store, &id);
        let (mut unchanged, mut changed) = (store.find(&id).unwrap(), store.find(&id).unwrap());
        // Another process sets new limits (as `update` does).
        let mut other = store.find(&id).unwrap();
        let mut resources = oci_spec::runtime::LinuxResources::default();
        resources.set_pids(Some(
            oci_spec::runtime::LinuxPidsBuilder::default()
                .limit(7)
                .build()
                .unwrap(),
        ));
        other
            .spec_mut()
            .unwrap()
            .linux_mut()
            .as_mut()
            .unwrap()
            .set_resources(Some(resources));
        other.save_state_locked(other.state.clone()).unwrap();
        // One that read the record before saves a state: the limits stay.
        unchanged.save_state(unchanged.state.clone()).unwrap();
        assert_eq!(pids_limit(&store, &id), Some(7));
        // One that changed its spec meanwhile keeps its change, and the limits.
        changed
            .spec_mut()
            .unwrap()
            .set_hostname(Some("changed".into()));
        changed.save_state(changed.state.clone()).unwrap();
        assert_eq!(pids_limit(&store, &id), Some(7));
        let back = store.find(&id).unwrap();
        assert_eq!(back.spec().unwrap().hostname().as_deref(), Some("changed"));
    }
}
