//! The engine's error: one variant per kind of failure a caller may want
//! to tell apart (no such container, a name in use, the command not found,
//! ...), the library crates' own errors, and the step that failed around
//! any of them ([`Error::Context`]), so a log line names the step.

use std::io;
use std::path::PathBuf;

/// How a container's command (or an `exec`'s) failed to start, when it
/// did: docker's exit codes tell these apart (127 and 126).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecFailure {
    /// The executable does not exist (ENOENT): docker's 127.
    NotFound,
    /// It exists but cannot be executed (EACCES, ENOEXEC, a bad working
    /// directory, ...): docker's 126.
    CannotExecute,
}

/// What went wrong. Texts follow docker's where docker has one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No container has that name, id or id prefix.
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// More than one container's id starts with the prefix.
    #[error("multiple containers ({count}) match the prefix \"{prefix}\": use more of the id or the name")]
    AmbiguousPrefix {
        /// The prefix asked for.
        prefix: String,
        /// How many ids start with it.
        count: usize,
    },
    /// Another container holds the name.
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{holder}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse {
        /// The name.
        name: String,
        /// The id of the container that holds it.
        holder: String,
    },
    /// The container is not in the state the operation needs (not
    /// running, already running, being started, ...): the text says which.
    #[error("{0}")]
    State(String),
    /// Input the engine refuses: a spec or configuration it cannot run,
    /// a bad name or signal. Nothing was made.
    #[error("{0}")]
    Invalid(String),
    /// The command (or an `exec`'s) did not start.
    #[error("{message}")]
    Exec {
        /// Not found, or not executable.
        failure: ExecFailure,
        /// docker's text for it.
        message: String,
    },
    /// A step of the container's setup failed in its init, before the
    /// command ran: "mount proc on /proc: permission denied".
    #[error("{0}")]
    Setup(String),
    /// A failure a detached container's supervisor reported, as it said
    /// it (the text), with how the command failed when it was that.
    #[error("{message}")]
    Reported {
        /// How the command failed, when that is what failed.
        exec: Option<ExecFailure>,
        /// The supervisor's one line.
        message: String,
    },
    /// A file system call on a path failed.
    #[error("{op} {}", path.display())]
    Io {
        /// What was done: "read", "create", ...
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// Another system call failed.
    #[error("{op}")]
    Sys {
        /// What was done.
        op: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The cgroup manager failed.
    #[error(transparent)]
    Cgroups(#[from] tinydocker_cgroups::Error),
    /// The image store or the mount plan failed.
    #[error(transparent)]
    Fs(#[from] tinydocker_fs::Error),
    /// An image reference does not parse.
    #[error(transparent)]
    Reference(#[from] tinydocker_fs::ReferenceError),
    /// Addresses, ports or firewall rules failed.
    #[error(transparent)]
    Net(#[from] tinydocker_net::Error),
    /// A netlink request failed.
    #[error(transparent)]
    Netlink(#[from] tinydocker_net::NetlinkError),
    /// Cloning or supervising a process failed.
    #[error(transparent)]
    Ns(#[from] tinydocker_ns::Error),
    /// A seccomp filter could not be made.
    #[error(transparent)]
    Seccomp(#[from] tinydocker_security::seccomp::Error),
    /// A user or group is not in the image.
    #[error(transparent)]
    User(#[from] tinydocker_security::user::Error),
    /// A record does not parse.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The step that failed, around why.
    #[error("{context}")]
    Context {
        /// The step.
        context: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// The error a `Context` wraps, all the way down.
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.root(),
            other => other,
        }
    }

    /// How the command failed to start, when that is what this is.
    pub fn exec_failure(&self) -> Option<ExecFailure> {
        match self.root() {
            Error::Exec { failure, .. } => Some(*failure),
            Error::Reported { exec, .. } => *exec,
            _ => None,
        }
    }

    /// The whole chain on one line, "step: cause: cause", as a log line
    /// or a report shows it.
    pub fn one_line(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text.replace('\n', " ")
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn sys(op: impl Into<String>, source: impl Into<io::Error>) -> Error {
        Error::Sys {
            op: op.into(),
            source: source.into(),
        }
    }
}

/// `invalid!("...{x}...")`: an [`Error::Invalid`] with a formatted text.
macro_rules! invalid {
    ($($arg:tt)*) => { $crate::error::Error::Invalid(format!($($arg)*)) };
}
pub(crate) use invalid;

/// `.context("step")` on any result whose error becomes an [`Error`].
pub trait Context<T> {
    /// Name the step that failed.
    fn context(self, context: impl Into<String>) -> Result<T, Error>;
    /// Name the step that failed, computed only on failure.
    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T, Error>;
}

impl<T, E: Into<Error>> Context<T> for Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T, Error> {
        self.map_err(|e| Error::Context {
            context: context.into(),
            source: Box::new(e.into()),
        })
    }

    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T, Error> {
        self.map_err(|e| Error::Context {
            context: context().into(),
            source: Box::new(e.into()),
        })
    }
}

/// An I/O error's text as Go prints it: "no such file or directory",
/// without Rust's capital letter and " (os error N)" (docker's messages
/// quote Go's).
pub fn io_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The text of an errno, as [`io_text`].
pub fn errno_text(errno: i32) -> String {
    io_text(&io::Error::from_raw_os_error(errno))
}

/// The engine's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_shows_each_step_once() {
        let inner: Result<(), Error> = Err(Error::io(
            "read",
            "/x",
            io::Error::from_raw_os_error(libc::ENOENT),
        ));
        let err = inner.context("load the record").unwrap_err();
        assert_eq!(
            err.one_line(),
            "load the record: read /x: No such file or directory (os error 2)"
        );
        assert_eq!(errno_text(libc::ENOENT), "no such file or directory");
        let exec = Error::Exec {
            failure: ExecFailure::NotFound,
            message: "nope".into(),
        };
        let wrapped: Result<(), Error> = Err(exec);
        let wrapped = wrapped.context("start").unwrap_err();
        assert_eq!(wrapped.exec_failure(), Some(ExecFailure::NotFound));
    }
}
