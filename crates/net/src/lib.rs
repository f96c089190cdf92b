//! Container networking (`network_namespaces(7)`, `rtnetlink(7)`, `nft(8)`).
//!
//! - [`loopback_up`]: bring `lo` up inside a fresh namespace (allocation-free,
//!   for a child before exec).
//! - [`Ipv4Net`]: IPv4 subnets (`10.88.0.0/16`).
//! - [`PortMapping`]: published ports, `-p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]`.
//! - [`Ipam`]: address allocation per network, persisted and locked.
//! - [`nft`]: the nftables rules for a network and its published ports, as text
//!   for one `nft -f -` run.
//! - [`Netlink`]: bridges and veth endpoints over rtnetlink.
//! - [`sysctl`]: IPv4 forwarding and `route_localnet`.

mod cidr;
mod error;
mod ipam;
mod loopback;
mod netlink;
pub mod nft;
mod ports;
mod sys;
pub mod sysctl;

pub use cidr::Ipv4Net;
pub use error::Error;
pub use ipam::{Allocation, Ipam};
pub use loopback::loopback_up;
pub use netlink::{Endpoint, Netlink, NetlinkError};
pub use ports::{PortMapping, Proto};
