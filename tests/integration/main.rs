//! Root integration tests: drive the built `tinydocker` binary against the
//! real kernel. Each test has its own state root ([`TestRoot`]) and names,
//! so they run in parallel; each cleans up after itself even when it fails.
//!
//! Run as root: `cargo build -p tinydocker && cargo test -p tinydocker-tests`.
//!
//! [`TestRoot`]: tinydocker_tests::TestRoot

mod api;
mod attach;
mod bad_input;
mod cgroups;
mod clients;
mod config;
mod containerd;
mod control;
mod copy;
mod crash;
mod create;
mod detached;
mod dns;
mod dockerd;
mod events;
mod exec;
mod filesystem;
mod flags;
mod image;
mod isolation;
mod lifecycle;
mod logs;
mod network;
mod pause;
mod registry;
mod restart;
mod runtime;
mod security;
mod signals;
mod snapshots;
mod system;
mod tty;
mod volumes;
