//! Processes of a container: its init's child side (`init`), by pidfd
//! (`pidfd`), and signals by name (`signal`).

pub(crate) mod init;
pub mod pidfd;
pub mod signal;
