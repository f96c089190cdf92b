//! The errors of this crate: one variant per step that can fail, each naming
//! the file, directory or process it was working on.

use std::io;
use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mount table could not be read.
    #[error("read {path}")]
    ReadMounts {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The mount table lists no cgroup filesystem.
    #[error("no cgroup filesystem is mounted (looked in {0})")]
    NoCgroups(PathBuf),
    /// A control file could not be read.
    #[error("read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A control file could not be written.
    #[error("write {value:?} to {path}")]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: io::Error,
    },
    /// A control file holds something this crate does not understand.
    #[error("parse {path}: unexpected {text:?}")]
    Parse { path: PathBuf, text: String },
    /// A CPU or memory-node list such as `0-2,5` is malformed.
    #[error("cpu list {list:?}: {reason} (expected a list like 0-2,5)")]
    CpuList { list: String, reason: &'static str },
    /// A combination of resource limits the kernel would refuse or
    /// misinterpret.
    #[error("invalid resources: {reason}")]
    InvalidResources { reason: String },
    /// A limit needs a v1 controller whose hierarchy is not mounted.
    #[error("the {controller} cgroup controller is not mounted (needed for {file})")]
    NoHierarchy { controller: String, file: String },
    /// A limit needs a v2 controller the cgroup's parent does not pass
    /// down (not in its `cgroup.controllers`).
    #[error("the {controller} cgroup controller is not available in {path} (needed for {file})")]
    NoController {
        controller: String,
        file: String,
        path: PathBuf,
    },
    /// A huge page size the kernel does not have: the hugetlb controller
    /// has a file per size it supports, and none for this one.
    #[error("huge page size {size}: the kernel has no such size (it has {available}; no {path})")]
    NoHugePageSize {
        size: String,
        available: String,
        path: PathBuf,
    },
    /// The manager's path is the hierarchy's root: killing or removing it
    /// would hit the whole machine.
    #[error("refusing to {action} the root cgroup")]
    RootCgroup { action: &'static str },
    /// The cgroup does not exist (in any hierarchy).
    #[error("cgroup {path} does not exist")]
    NotFound { path: PathBuf },
    /// A cgroup directory could not be created.
    #[error("create {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A cgroup directory could not be removed.
    #[error("remove {path}")]
    RemoveDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A cgroup directory could not be opened.
    #[error("open {path}")]
    OpenDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `pidfd_open(2)` failed for a process of the cgroup.
    #[error("open a pidfd for process {pid}")]
    PidfdOpen {
        pid: i32,
        #[source]
        source: io::Error,
    },
    /// A process of the cgroup could not be sent SIGKILL.
    #[error("send SIGKILL to process {pid}")]
    Kill {
        pid: i32,
        #[source]
        source: io::Error,
    },
    /// Waiting (inotify, poll) for a cgroup or its processes failed.
    #[error("wait for {what} of {path}")]
    Wait {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    /// The kernel did not report the expected state in time (processes
    /// stuck in uninterruptible sleep, for instance).
    #[error("timed out after {secs}s waiting for {what} of {path}")]
    Timeout {
        path: PathBuf,
        what: &'static str,
        secs: u64,
    },
    /// The v1 freezer did not reach FROZEN.
    #[error("freeze {path}: the state stayed {state:?}")]
    Freeze { path: PathBuf, state: String },
    /// A device rule the kernel would refuse or misread.
    #[error("device rule {rule:?}: {reason}")]
    InvalidDeviceRule { rule: String, reason: &'static str },
    /// `bpf(BPF_PROG_LOAD)` refused the v2 device program for a reason
    /// other than the host lacking support (those give
    /// [`DeviceControl::Unavailable`](crate::DeviceControl::Unavailable)).
    #[error("load the eBPF device program for {path}")]
    LoadDeviceProgram {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `bpf(BPF_PROG_ATTACH)` of the v2 device program to the cgroup failed.
    #[error("attach the eBPF device program to {path}")]
    AttachDeviceProgram {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Processes kept appearing in the cgroup after every round of kills.
    #[error("processes remain in {path} after {rounds} rounds of SIGKILL")]
    NotEmpty { path: PathBuf, rounds: u32 },
}

impl Error {
    /// The `io::Error` underneath, if any (for callers matching on errno).
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::ReadMounts { source, .. }
            | Error::Read { source, .. }
            | Error::Write { source, .. }
            | Error::CreateDir { source, .. }
            | Error::RemoveDir { source, .. }
            | Error::OpenDir { source, .. }
            | Error::PidfdOpen { source, .. }
            | Error::Kill { source, .. }
            | Error::Wait { source, .. }
            | Error::LoadDeviceProgram { source, .. }
            | Error::AttachDeviceProgram { source, .. } => Some(source),
            _ => None,
        }
    }
}
