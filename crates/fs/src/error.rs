use std::io;
use std::path::PathBuf;

/// An image name that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format: image name is empty")]
    Empty,
    #[error("invalid reference format: {0:?} (expected NAME[:TAG] with a lowercase name such as busybox:latest)")]
    Malformed(String),
    #[error("invalid reference format: tag {0:?} (expected letters, digits, '_', '.', '-', at most 128)")]
    BadTag(String),
}

/// Errors of the image store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("import source {0}: no such file or directory")]
    SourceMissing(PathBuf),
    #[error("import {path}: not a tar archive (plain or gzip)")]
    NotATarball {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("import {0}: the archive is truncated")]
    Truncated(PathBuf),
    #[error("import {0}: the archive holds no files")]
    EmptyArchive(PathBuf),
    #[error("read image record {path}")]
    BadRecord {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("image reference {0:?} matches more than one image id")]
    AmbiguousImage(String),
    #[error(transparent)]
    Layer(#[from] crate::layer::UnpackError),
    #[error("layer {expected}: its content has digest {actual}")]
    LayerMismatch { expected: String, actual: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
