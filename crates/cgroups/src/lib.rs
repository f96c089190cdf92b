//! Linux control groups (`cgroups(7)`).
//!
//! The host's layout is one of three: unified (cgroup v2 only), legacy
//! (v1 controller hierarchies only) or hybrid (v1 controllers plus a v2
//! mount without controllers, as systemd sets up in "hybrid" mode). Hybrid
//! hosts are driven through v1.
//!
//! ```no_run
//! use tinydocker_cgroups::Layout;
//!
//! let layout = Layout::detect()?;
//! println!("{layout:?}");
//! # Ok::<(), tinydocker_cgroups::Error>(())
//! ```

mod layout;

pub use layout::{Layout, Mount};

use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("read {path}")]
    ReadMounts {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no cgroup filesystem is mounted (looked in {0})")]
    NoCgroups(PathBuf),
}
