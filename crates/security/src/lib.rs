//! Container hardening, decided in the parent and applied by the child
//! between `clone` and `execve(2)`:
//!
//! - [`caps`]: the capability sets (`capabilities(7)`): docker's flag
//!   names, podman's default set, and the allocation-free child side that
//!   drops the bounding set, switches user and sets the other sets;
//! - [`seccomp`]: docker's seccomp profile format, a default profile with
//!   the semantics of docker's, compiled by libseccomp to a BPF program
//!   (cached on disk) that the child loads with one system call;
//! - [`user`]: `--user` resolved against the image's `/etc/passwd` and
//!   `/etc/group`.

/// The README's example, compiled as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod caps;
pub mod seccomp;
mod sys;
pub mod user;
