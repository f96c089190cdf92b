//! IP address management: which container holds which address of a network.
//!
//! One network's allocations live in `<dir>/<network>.ipam.json`. Every
//! change happens under an exclusive `flock(2)` of `<dir>/<network>.ipam.lock`
//! — taken on a fresh open file each time, so threads of one process
//! serialise as well as processes — and is written atomically (temp file,
//! `rename(2)`), so a reader never sees half a file and a crash of the
//! writer never loses the old one. No `fsync(2)`: it is on the path of every
//! `run` and costs milliseconds, and allocations do not need to outlive a
//! power loss (after a reboot no container runs, and stale entries are
//! reclaimed like any other).
//!
//! Leaks are reclaimed rather than prevented: each allocation records its
//! holder, the process that made it (pid and start time, `proc(5)`
//! `/proc/<pid>/stat` field 22 — a bare pid could be reused). An allocation
//! is taken back when its owner is gone (the caller's `alive` says so) *and*
//! its holder has exited: a run killed half-way leaks nothing for long, and
//! a run that has allocated but not yet recorded its container is left
//! alone.
//!
//! ```no_run
//! use std::path::Path;
//! use tinydocker_net::{Ipam, Ipv4Net};
//!
//! let subnet: Ipv4Net = "10.88.0.0/16".parse().unwrap();
//! let ipam = Ipam::new(Path::new("/var/lib/tinydocker/networks"), "bridge");
//! let ip = ipam
//!     .allocate(subnet, subnet.first_host(), "0123abcd", None, |_owner| true)
//!     .unwrap();
//! assert_eq!(ip.to_string(), "10.88.0.2");
//! ipam.release("0123abcd").unwrap();
//! ```

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::{Error, Ipv4Net};

/// One address handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub ip: Ipv4Addr,
    /// Who uses the address: a container id.
    pub owner: String,
    /// The process that allocated it, and that process's start time (clock
    /// ticks after boot), which together name it even if the pid is reused.
    pub holder_pid: i32,
    pub holder_start: u64,
}

impl Allocation {
    /// Whether the process that allocated the address still runs (a start
    /// in progress, or the runtime of a running container).
    pub fn held(&self) -> bool {
        process_start(self.holder_pid) == Some(self.holder_start)
    }
}

/// The file's content. An object rather than a bare list, so that fields
/// can be added later.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Book {
    allocations: Vec<Allocation>,
}

/// The allocations of one network.
#[derive(Debug, Clone)]
pub struct Ipam {
    dir: PathBuf,
    file: PathBuf,
    lock: PathBuf,
    tmp: PathBuf,
}

/// The start time of a process (`/proc/<pid>/stat` field 22), or None if
/// there is no such process.
fn process_start(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: skip past the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    // Field 3 is the first after the name.
    rest.split(' ').nth(22 - 3)?.parse().ok()
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Ipam {
    pub fn new(dir: &Path, network: &str) -> Ipam {
        Ipam {
            dir: dir.to_path_buf(),
            file: dir.join(format!("{network}.ipam.json")),
            lock: dir.join(format!("{network}.ipam.lock")),
            tmp: dir.join(format!(".{network}.ipam.json.tmp")),
        }
    }

    /// Allocate an address of `subnet` for `owner` (a container id):
    /// `requested` if given and free, else the lowest free address. Never
    /// the network address, the broadcast address or `gateway`.
    ///
    /// First, every allocation whose owner `alive` says is gone and whose
    /// holder process has exited is reclaimed. `alive` runs under the
    /// network's IPAM lock: it must not call this `Ipam`.
    ///
    /// Errors: `SubnetFull`, `OutsideSubnet`, `Reserved` and `AddressInUse`
    /// (also when `owner` already holds an address: then it is that one).
    pub fn allocate(
        &self,
        subnet: Ipv4Net,
        gateway: Ipv4Addr,
        owner: &str,
        requested: Option<Ipv4Addr>,
        alive: impl Fn(&str) -> bool,
    ) -> Result<Ipv4Addr, Error> {
        let me = std::process::id() as i32;
        let my_start = process_start(me).ok_or_else(|| Error::Io {
            path: PathBuf::from("/proc/self/stat"),
            source: io::Error::new(io::ErrorKind::NotFound, "no start time for this process"),
        })?;
        let _lock = self.lock()?;
        let mut allocations = self.read()?;
        // The holder first: reading /proc is cheap, `alive` may not be.
        allocations.retain(|a| a.held() || alive(&a.owner));
        if let Some(mine) = allocations.iter().find(|a| a.owner == owner) {
            return Err(Error::AddressInUse {
                ip: mine.ip,
                owner: owner.to_string(),
            });
        }
        let ip = choose(subnet, gateway, &allocations, requested)?;
        allocations.push(Allocation {
            ip,
            owner: owner.to_string(),
            holder_pid: me,
            holder_start: my_start,
        });
        allocations.sort_by_key(|a| a.ip);
        self.write(allocations)?;
        Ok(ip)
    }

    /// Drop every allocation of `owner`. Nothing to do (no file, no such
    /// owner) is fine.
    pub fn release(&self, owner: &str) -> Result<(), Error> {
        // No file, no allocation: and taking the lock would create one.
        if !self.file.exists() {
            return Ok(());
        }
        let _lock = self.lock()?;
        let mut allocations = self.read()?;
        let before = allocations.len();
        allocations.retain(|a| a.owner != owner);
        if allocations.len() != before {
            self.write(allocations)?;
        }
        Ok(())
    }

    /// The allocations, by address. No lock needed: the file is replaced
    /// atomically.
    pub fn allocations(&self) -> Result<Vec<Allocation>, Error> {
        self.read()
    }

    /// Delete the network's IPAM files (`network rm`). Missing files are
    /// fine.
    pub fn remove(&self) -> Result<(), Error> {
        for path in [&self.file, &self.tmp, &self.lock] {
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(path)(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Take the network's lock; released when the returned lock is dropped.
    fn lock(&self) -> Result<Flock<File>, Error> {
        let open = || {
            File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&self.lock)
        };
        let mut file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
                open()
            }
            other => other,
        }
        .map_err(io_err(&self.lock))?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusive) {
                Ok(lock) => return Ok(lock),
                Err((unlocked, Errno::EINTR)) => file = unlocked,
                Err((_, errno)) => {
                    return Err(Error::Lock {
                        path: self.lock.clone(),
                        source: errno.into(),
                    })
                }
            }
        }
    }

    fn read(&self) -> Result<Vec<Allocation>, Error> {
        let data = match fs::read(&self.file) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.file)(e)),
        };
        let book: Book = serde_json::from_slice(&data).map_err(|source| Error::BadRecord {
            path: self.file.clone(),
            source,
        })?;
        Ok(book.allocations)
    }

    /// Replace the file; the caller holds the lock, so one temp name will do.
    fn write(&self, allocations: Vec<Allocation>) -> Result<(), Error> {
        let data = serde_json::to_vec_pretty(&Book { allocations }).expect("allocations serialise");
        let result = File::create(&self.tmp)
            .and_then(|mut f| f.write_all(&data))
            .map_err(io_err(&self.tmp))
            .and_then(|()| fs::rename(&self.tmp, &self.file).map_err(io_err(&self.file)));
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        result
    }
}

/// The address to hand out, given what is taken.
fn choose(
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    taken: &[Allocation],
    requested: Option<Ipv4Addr>,
) -> Result<Ipv4Addr, Error> {
    if let Some(ip) = requested {
        if !subnet.contains(ip) {
            return Err(Error::OutsideSubnet {
                ip,
                subnet: subnet.to_string(),
            });
        }
        let reserved = if ip == gateway {
            Some("the network's gateway")
        } else if ip == subnet.network() {
            Some("the network address")
        } else if ip == subnet.broadcast() {
            Some("the broadcast address")
        } else {
            None
        };
        if let Some(what) = reserved {
            return Err(Error::Reserved { ip, what });
        }
        return match taken.iter().find(|a| a.ip == ip) {
            Some(a) => Err(Error::AddressInUse {
                ip,
                owner: a.owner.clone(),
            }),
            None => Ok(ip),
        };
    }
    let taken: HashSet<Ipv4Addr> = taken.iter().map(|a| a.ip).collect();
    // Between the network and the broadcast address, both excluded (a /31 or
    // /32 has nothing there).
    let (first, last) = (u32::from(subnet.network()), u32::from(subnet.broadcast()));
    (first.saturating_add(1)..last)
        .map(Ipv4Addr::from)
        .find(|ip| *ip != gateway && !taken.contains(ip))
        .ok_or_else(|| Error::SubnetFull {
            subnet: subnet.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// An Ipam in a fresh temp dir, with the /29 10.0.0.0/29 and gateway 10.0.0.1:
    /// hosts .2 to .6.
    fn setup() -> (tempfile::TempDir, Ipam, Ipv4Net, Ipv4Addr) {
        let dir = tempfile::tempdir().unwrap();
        let ipam = Ipam::new(dir.path(), "test");
        (dir, ipam, net("10.0.0.0/29"), ip("10.0.0.1"))
    }

    fn all_alive(_: &str) -> bool {
        true
    }

    #[test]
    fn lowest_free_first_and_never_reserved_addresses() {
        let (_dir, ipam, subnet, gw) = setup();
        let got: Vec<Ipv4Addr> = (0..5)
            .map(|i| {
                ipam.allocate(subnet, gw, &format!("c{i}"), None, all_alive)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            got,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"].map(ip)
        );
        let err = ipam
            .allocate(subnet, gw, "c5", None, all_alive)
            .unwrap_err();
        assert!(matches!(err, Error::SubnetFull { .. }), "{err:?}");
        assert_eq!(err.to_string(), "no free address left in 10.0.0.0/29");

        // A gateway elsewhere than the first host frees .1 and takes its own.
        let (_dir, ipam, subnet, _) = setup();
        let gw = ip("10.0.0.3");
        let got: Vec<Ipv4Addr> = (0..5)
            .map(|i| {
                ipam.allocate(subnet, gw, &format!("c{i}"), None, all_alive)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            got,
            ["10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"].map(ip)
        );
    }

    #[test]
    fn requested_addresses() {
        let (_dir, ipam, subnet, gw) = setup();
        assert_eq!(
            ipam.allocate(subnet, gw, "a", Some(ip("10.0.0.5")), all_alive)
                .unwrap(),
            ip("10.0.0.5")
        );
        // The next automatic pick is still the lowest.
        assert_eq!(
            ipam.allocate(subnet, gw, "b", None, all_alive).unwrap(),
            ip("10.0.0.2")
        );
        let cases = [
            ("10.0.0.5", "address 10.0.0.5 is already in use (by a)"),
            (
                "10.0.0.8",
                "address 10.0.0.8 is outside the network's subnet 10.0.0.0/29",
            ),
            (
                "10.0.0.1",
                "address 10.0.0.1 is reserved (the network's gateway)",
            ),
            (
                "10.0.0.0",
                "address 10.0.0.0 is reserved (the network address)",
            ),
            (
                "10.0.0.7",
                "address 10.0.0.7 is reserved (the broadcast address)",
            ),
        ];
        for (want, message) in cases {
            let err = ipam
                .allocate(subnet, gw, "c", Some(ip(want)), all_alive)
                .unwrap_err();
            assert_eq!(err.to_string(), message);
        }
        assert!(matches!(
            ipam.allocate(subnet, gw, "c", Some(ip("10.0.0.5")), all_alive),
            Err(Error::AddressInUse { owner, .. }) if owner == "a"
        ));
        // Nothing was recorded for the failed attempts.
        assert_eq!(ipam.allocations().unwrap().len(), 2);
    }

    #[test]
    fn an_owner_gets_one_address() {
        let (_dir, ipam, subnet, gw) = setup();
        let first = ipam.allocate(subnet, gw, "a", None, all_alive).unwrap();
        let err = ipam.allocate(subnet, gw, "a", None, all_alive).unwrap_err();
        assert!(
            matches!(&err, Error::AddressInUse { ip, owner } if *ip == first && owner == "a"),
            "{err:?}"
        );
    }

    #[test]
    fn release_frees_the_address() {
        let (dir, ipam, subnet, gw) = setup();
        for owner in ["a", "b", "c"] {
            ipam.allocate(subnet, gw, owner, None, all_alive).unwrap();
        }
        ipam.release("b").unwrap();
        ipam.release("b").unwrap();
        ipam.release("nobody").unwrap();
        let owners: Vec<(Ipv4Addr, String)> = ipam
            .allocations()
            .unwrap()
            .into_iter()
            .map(|a| (a.ip, a.owner))
            .collect();
        assert_eq!(
            owners,
            [
                (ip("10.0.0.2"), "a".to_string()),
                (ip("10.0.0.4"), "c".to_string())
            ]
        );
        assert_eq!(
            ipam.allocate(subnet, gw, "d", None, all_alive).unwrap(),
            ip("10.0.0.3")
        );
        // Only the data file and the lock: no temp file left.
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["test.ipam.json", "test.ipam.lock"]);
    }

    #[test]
    fn the_file_records_the_holder() {
        let (_dir, ipam, subnet, gw) = setup();
        ipam.allocate(subnet, gw, "a", None, all_alive).unwrap();
        let me = std::process::id() as i32;
        assert_eq!(
            ipam.allocations().unwrap(),
            [Allocation {
                ip: ip("10.0.0.2"),
                owner: "a".to_string(),
                holder_pid: me,
                holder_start: process_start(me).unwrap(),
            }]
        );
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(&ipam.file).unwrap()).unwrap();
        assert_eq!(json["allocations"][0]["ip"], "10.0.0.2");
    }

    #[test]
    fn missing_files_are_empty_and_removal_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let ipam = Ipam::new(&dir.path().join("not-yet"), "n");
        assert_eq!(ipam.allocations().unwrap(), []);
        ipam.release("a").unwrap();
        ipam.remove().unwrap();
        assert!(!dir.path().join("not-yet").exists());
        // The first allocation creates the directory.
        ipam.allocate(net("10.1.0.0/24"), ip("10.1.0.1"), "a", None, all_alive)
            .unwrap();
        ipam.remove().unwrap();
        ipam.remove().unwrap();
        assert_eq!(fs::read_dir(dir.path().join("not-yet")).unwrap().count(), 0);
    }

    #[test]
    fn a_corrupt_file_is_named() {
        let (_dir, ipam, subnet, gw) = setup();
        fs::write(&ipam.file, b"{not json").unwrap();
        let err = ipam.allocate(subnet, gw, "a", None, all_alive).unwrap_err();
        assert!(matches!(err, Error::BadRecord { .. }), "{err:?}");
        assert!(err.to_string().ends_with(
            "test.ipam.json is corrupt (remove it to start the network's allocations afresh)"
        ));
    }

    #[test]
    fn reclaims_only_when_owner_and_holder_are_both_gone() {
        let (_dir, ipam, subnet, gw) = setup();
        let me = std::process::id() as i32;
        let my_start = process_start(me).unwrap();
        let entry = |last: u8, owner: &str, holder_pid: i32, holder_start: u64| Allocation {
            ip: Ipv4Addr::new(10, 0, 0, last),
            owner: owner.to_string(),
            holder_pid,
            holder_start,
        };
        let book = Book {
            allocations: vec![
                // Owner gone, holder never existed (beyond any pid_max): reclaimed.
                entry(2, "dead-1", i32::MAX, 1),
                // Owner gone, holder's pid now names another process: reclaimed.
                entry(3, "dead-2", me, my_start + 1),
                // Owner gone but the holder (this process) still runs: kept,
                // it may not have recorded its container yet.
                entry(4, "dead-3", me, my_start),
                // Owner alive, holder gone: kept.
                entry(5, "alive", i32::MAX, 1),
            ],
        };
        fs::write(&ipam.file, serde_json::to_vec(&book).unwrap()).unwrap();
        let alive = |owner: &str| owner == "alive";
        let got: Vec<Ipv4Addr> = ["n1", "n2", "n3"]
            .iter()
            .map(|o| ipam.allocate(subnet, gw, o, None, alive).unwrap())
            .collect();
        assert_eq!(got, ["10.0.0.2", "10.0.0.3", "10.0.0.6"].map(ip));
        let owners: Vec<String> = ipam
            .allocations()
            .unwrap()
            .into_iter()
            .map(|a| a.owner)
            .collect();
        assert_eq!(owners, ["n1", "n2", "dead-3", "alive", "n3"]);
    }

    #[test]
    fn concurrent_allocations_are_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let subnet = net("10.2.0.0/24");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let ipam = Ipam::new(dir.path(), "busy");
                std::thread::spawn(move || {
                    ipam.allocate(subnet, ip("10.2.0.1"), &format!("c{i}"), None, all_alive)
                        .unwrap()
                })
            })
            .collect();
        let mut got: Vec<Ipv4Addr> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        got.sort();
        let want: Vec<Ipv4Addr> = (2..10).map(|n| Ipv4Addr::new(10, 2, 0, n)).collect();
        assert_eq!(got, want);
        assert_eq!(
            Ipam::new(dir.path(), "busy").allocations().unwrap().len(),
            8
        );
    }

    #[test]
    fn tiny_subnets_have_no_hosts() {
        for subnet in ["10.3.0.0/31", "10.3.0.0/32"] {
            let subnet = net(subnet);
            assert!(matches!(
                choose(subnet, subnet.first_host(), &[], None),
                Err(Error::SubnetFull { .. })
            ));
        }
        let subnet = net("10.3.0.0/30");
        assert_eq!(
            choose(subnet, subnet.first_host(), &[], None).unwrap(),
            ip("10.3.0.2")
        );
    }
}
