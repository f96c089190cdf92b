//! Container images and root filesystems.
//!
//! - [`ImageStore`]: a content-addressed store of unpacked image layers and
//!   image records, with named references (`busybox:latest`).
//! - [`plan`]: turns a container's filesystem request (layers, volumes,
//!   read-only root) into a [`MountPlan`], plain data.
//! - [`PreparedPlan`]: the plan as C strings, applied in the container's
//!   child process before exec: overlay root, `/proc`, `/sys`, `/dev`,
//!   volumes, then `pivot_root(2)`.
//!
//! ```no_run
//! use tinydocker_fs::{ImageStore, Reference};
//!
//! let store = ImageStore::open("/var/lib/tinydocker/images")?;
//! let reference: Reference = "busybox:latest".parse()?;
//! let image = store.import(std::path::Path::new("rootfs.tar.gz"), &reference)?;
//! println!("{} has {} layer(s)", image.id, image.layers.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod apply;
mod atomic;
mod blob;
pub mod copy;
mod error;
pub mod layer;
mod plan;
mod reference;
mod store;

pub use apply::{PreparedPlan, StepFailure};
pub use atomic::write_atomic;
pub use blob::{Blob, BlobWriter};
pub use error::{Error, ReferenceError};
pub use plan::{
    plan, Create, DeviceNode, MountFlags, MountPlan, MountSource, MountSpec, NodeKind,
    ProvidedFile, RootSource, RootfsSpec, Step, MASKED_PATHS, READONLY_PATHS,
};
pub use reference::Reference;
pub use store::{
    Image, ImageConfig, ImageStore, Lock as StoreLock, NewImage, Removed, StagedLayer,
};
