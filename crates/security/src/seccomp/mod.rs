//! seccomp (`seccomp(2)`, `seccomp_rule_add(3)`): a classic BPF program the
//! kernel runs on every system call of the container, which allows it,
//! fails it with an errno, or kills the caller. It outlives `execve(2)` and
//! is inherited by every child, so the container cannot undo it.
//!
//! The steps, in the parent: a docker-format [`Profile`] (the
//! [default](Profile::docker_default) or `--security-opt seccomp=FILE`),
//! [`resolve`]d for the container's capabilities and this host, then
//! [`compile`]d by libseccomp (cached on disk) to a [`Filter`]; in the
//! child, [`Filter::load`], one system call.
//!
//! Loading needs `no_new_privs` (`prctl(PR_SET_NO_NEW_PRIVS)`) or
//! `CAP_SYS_ADMIN`; the filter denies calls the runtime itself may still
//! need (`mount`, `setns`, ...), so load it last before `execve`.

mod cache;
mod compile;
mod default;
mod filter;
mod profile;
mod resolve;

use std::io;
use std::path::PathBuf;

use thiserror::Error;

pub use cache::cache_file;
pub use compile::{compile, compile_keyed, libseccomp_version, unknown_syscalls};
pub use default::resolve_default;
pub use filter::{Filter, MAX_INSTRUCTIONS};
pub use profile::{
    ActionName, Arch, ArchMap, ArgRule, CmpOp, Conditions, FilterFlag, KernelVersion, Profile,
    SyscallRule, EPERM, MAX_ERRNO,
};
pub use resolve::{resolve, resolve_for, resolve_owned, Action, Host, Resolved, Rule};

#[derive(Debug, Error)]
pub enum Error {
    #[error("seccomp profile: line {line} column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("seccomp profile: unknown action {0:?}")]
    UnknownAction(String),
    #[error("seccomp profile: unknown comparison operator {0:?}")]
    UnknownOp(String),
    #[error("seccomp profile: unknown architecture {0:?}")]
    UnknownArch(String),
    #[error("seccomp profile: unknown flag {0:?}")]
    UnknownFlag(String),
    #[error("seccomp profile: {0} is not supported by tinydocker")]
    Unsupported(&'static str),
    /// Entries are counted from 1.
    #[error("seccomp profile: syscall entry {0} names no syscall")]
    NoNames(usize),
    #[error("seccomp profile: syscall entry {0} sets both \"name\" and \"names\"; use \"names\"")]
    NameAndNames(usize),
    #[error(
        "seccomp profile: syscall entry {entry}: argument index {index} is out of range (0 to 5)"
    )]
    ArgIndex { entry: usize, index: u64 },
    #[error("seccomp profile: errno {0} is out of range (0 to 4095)")]
    ErrnoRange(u64),
    #[error("seccomp profile: minimum kernel {0:?}: expected \"<kernel>.<major>\" like \"4.8\"")]
    MinKernel(String),
    #[error("seccomp profile: both \"architectures\" and \"archMap\" are set; use one")]
    ArchitecturesAndArchMap,
    #[error("seccomp: libseccomp does not know this machine's architecture")]
    NativeArch,
    #[error("seccomp: read the kernel release")]
    Uname(#[source] io::Error),
    #[error("seccomp: kernel release {0:?}: expected a version like 6.1.0")]
    KernelRelease(String),
    #[error("seccomp: libseccomp could not {step}")]
    Libseccomp {
        step: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("seccomp: read the program libseccomp exported")]
    Export(#[source] io::Error),
    #[error("seccomp: the filter has {0} instructions, over the kernel's limit of 4096; shorten the profile")]
    TooLong(usize),
    #[error("seccomp: a {0}-byte program is not a whole number of BPF instructions")]
    Program(usize),
    #[error("seccomp cache: {path} {why}: whoever can write it chooses every container's filter; remove it or make it root's, mode 0700 (directory) or 0600 (file)")]
    Untrusted { path: PathBuf, why: String },
    #[error("seccomp cache: {op} {path}")]
    Cache {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Error {
    fn from_json(e: serde_json::Error) -> Error {
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
        Error::Json {
            line,
            column,
            message,
        }
    }
}
