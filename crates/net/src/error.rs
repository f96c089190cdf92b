//! Errors of this crate: one variant per step that can fail, naming the
//! object it was working on. (Each module adds the variants it needs.)

use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid subnet {text:?}: {why}")]
    Cidr { text: String, why: String },
    #[error("invalid port mapping {text:?}: {why}")]
    Port { text: String, why: String },
    #[error("no free address left in {subnet}")]
    SubnetFull { subnet: String },
    #[error("address {ip} is outside the network's subnet {subnet}")]
    OutsideSubnet { ip: Ipv4Addr, subnet: String },
    #[error("address {ip} is already in use (by {owner})")]
    AddressInUse { ip: Ipv4Addr, owner: String },
    #[error("address {ip} is reserved ({what})")]
    Reserved { ip: Ipv4Addr, what: &'static str },
    /// Taking the IPAM lock (`flock(2)` of `<network>.ipam.lock`).
    #[error("lock {path}")]
    Lock {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An IPAM file that is not the JSON this crate writes.
    #[error("{path} is corrupt (remove it to start the network's allocations afresh)")]
    BadRecord {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// `nft` could not be started or fed its script.
    #[error("run `nft -f -` (is nftables installed?)")]
    NftSpawn {
        #[source]
        source: io::Error,
    },
    /// `nft -f -` rejected a script; `script_head` is its first line, which
    /// says what the script was for.
    #[error("nft rejected {script_head:?}: {stderr}")]
    Nft { script_head: String, stderr: String },
}
