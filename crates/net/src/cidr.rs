//! IPv4 subnets in CIDR notation (`10.88.0.0/16`, RFC 4632): a network
//! address whose top `prefix` bits name the network and whose remaining host
//! bits are zero. A network's first address is the network itself, its last
//! the broadcast address; the hosts are in between.
//!
//! ```
//! use tinydocker_net::Ipv4Net;
//!
//! let net: Ipv4Net = "10.88.0.0/16".parse().unwrap();
//! assert_eq!(net.first_host().to_string(), "10.88.0.1");
//! assert_eq!(net.broadcast().to_string(), "10.88.255.255");
//! assert!("10.88.0.1/16".parse::<Ipv4Net>().is_err()); // host bits set
//! ```

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// An IPv4 subnet: a network address and a prefix length, host bits zero.
/// Serialised as its text, `"10.88.0.0/16"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    network: u32,
    prefix: u8,
}

/// The netmask of a prefix length (`/0` has none: shifting a u32 by 32 overflows).
fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p)),
    }
}

impl Ipv4Net {
    /// The subnet `addr/prefix`. `prefix` is at most 32 and `addr` has no
    /// bit set beyond it.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Ipv4Net, Error> {
        let text = format!("{addr}/{prefix}");
        if prefix > 32 {
            return Err(Error::Cidr {
                text,
                why: "the prefix length must be a number from 0 to 32".to_string(),
            });
        }
        let bits = u32::from(addr);
        if bits & !mask(prefix) != 0 {
            let network = Ipv4Addr::from(bits & mask(prefix));
            return Err(Error::Cidr {
                text,
                why: format!("host bits are set; did you mean {network}/{prefix}?"),
            });
        }
        Ok(Ipv4Net {
            network: bits,
            prefix,
        })
    }

    /// The network address, the subnet's first.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The broadcast address, the subnet's last.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network | !mask(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.network
    }

    /// Whether the two subnets share an address (one then contains the other).
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }

    /// The network address + 1: the first host, the default gateway. (For a
    /// /32 this is outside the subnet, which has no host addresses.)
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network.wrapping_add(1))
    }

    /// The number of addresses, network and broadcast included.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }
}

impl FromStr for Ipv4Net {
    type Err = Error;

    fn from_str(text: &str) -> Result<Ipv4Net, Error> {
        let bad = |why: String| Error::Cidr {
            text: text.to_string(),
            why,
        };
        let (addr, prefix) = text.split_once('/').ok_or_else(|| {
            bad("expected an address and a prefix length, like 10.88.0.0/16".to_string())
        })?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| bad(format!("{addr:?} is not an IPv4 address")))?;
        // u8's parser takes "+16"; only plain digits are a prefix length.
        let prefix = Some(prefix)
            .filter(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u8>().ok())
            .filter(|&p| p <= 32)
            .ok_or_else(|| bad("the prefix length must be a number from 0 to 32".to_string()))?;
        // Same checks as new(), but the message quotes the user's text.
        Ipv4Net::new(addr, prefix).map_err(|e| match e {
            Error::Cidr { why, .. } => bad(why),
            e => e,
        })
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

impl Serialize for Ipv4Net {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Net {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ipv4Net, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        for s in [
            "10.88.0.0/16",
            "0.0.0.0/0",
            "192.168.1.7/32",
            "172.16.0.0/12",
            "10.0.0.0/8",
        ] {
            assert_eq!(net(s).to_string(), s);
        }
        let n = net("10.88.0.0/16");
        assert_eq!(n.network(), Ipv4Addr::new(10, 88, 0, 0));
        assert_eq!(n.prefix(), 16);
        assert_eq!(n.broadcast(), Ipv4Addr::new(10, 88, 255, 255));
        assert_eq!(n.first_host(), Ipv4Addr::new(10, 88, 0, 1));
        assert_eq!(n.size(), 65536);
        assert_eq!(net("0.0.0.0/0").size(), 1 << 32);
        assert_eq!(net("0.0.0.0/0").broadcast(), Ipv4Addr::BROADCAST);
        assert_eq!(net("10.1.2.3/32").size(), 1);
        assert_eq!(net("10.1.2.3/32").broadcast(), Ipv4Addr::new(10, 1, 2, 3));
    }

    #[test]
    fn rejects_bad_text_with_a_reason() {
        let cases = [
            (
                "10.88.0.1/16",
                "host bits are set; did you mean 10.88.0.0/16?",
            ),
            ("10.88.0.0/8", "host bits are set; did you mean 10.0.0.0/8?"),
            (
                "10.88.0.0",
                "expected an address and a prefix length, like 10.88.0.0/16",
            ),
            (
                "",
                "expected an address and a prefix length, like 10.88.0.0/16",
            ),
            (
                "10.88.0.0/33",
                "the prefix length must be a number from 0 to 32",
            ),
            (
                "10.88.0.0/",
                "the prefix length must be a number from 0 to 32",
            ),
            (
                "10.88.0.0/+16",
                "the prefix length must be a number from 0 to 32",
            ),
            (
                "10.88.0.0/-1",
                "the prefix length must be a number from 0 to 32",
            ),
            (
                "10.88.0.0/016",
                "the prefix length must be a number from 0 to 32",
            ),
            (
                "10.88.0.0/16/1",
                "the prefix length must be a number from 0 to 32",
            ),
            ("10.88.0/16", "\"10.88.0\" is not an IPv4 address"),
            ("10.88.0.256/16", "\"10.88.0.256\" is not an IPv4 address"),
            ("010.88.0.0/16", "\"010.88.0.0\" is not an IPv4 address"),
            ("fd00::/64", "\"fd00::\" is not an IPv4 address"),
            (" 10.88.0.0/16", "\" 10.88.0.0\" is not an IPv4 address"),
        ];
        for (text, why) in cases {
            let err = text.parse::<Ipv4Net>().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid subnet {text:?}: {why}"),
                "{text}"
            );
        }
    }

    #[test]
    fn new_checks_like_parse() {
        assert_eq!(
            Ipv4Net::new(Ipv4Addr::new(10, 88, 0, 0), 16).unwrap(),
            net("10.88.0.0/16")
        );
        assert!(Ipv4Net::new(Ipv4Addr::new(10, 88, 0, 0), 33).is_err());
        let err = Ipv4Net::new(Ipv4Addr::new(10, 88, 0, 1), 16).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid subnet \"10.88.0.1/16\": host bits are set; did you mean 10.88.0.0/16?"
        );
    }

    #[test]
    fn contains_and_overlaps() {
        let n = net("10.88.0.0/16");
        assert!(n.contains(Ipv4Addr::new(10, 88, 0, 0)));
        assert!(n.contains(Ipv4Addr::new(10, 88, 255, 255)));
        assert!(!n.contains(Ipv4Addr::new(10, 89, 0, 0)));
        assert!(!n.contains(Ipv4Addr::new(10, 87, 255, 255)));
        assert!(net("0.0.0.0/0").contains(Ipv4Addr::new(1, 2, 3, 4)));

        assert!(n.overlaps(&net("10.0.0.0/8")));
        assert!(net("10.0.0.0/8").overlaps(&n));
        assert!(n.overlaps(&net("10.88.7.0/24")));
        assert!(n.overlaps(&n));
        assert!(!n.overlaps(&net("10.89.0.0/16")));
        assert!(!net("192.168.0.0/25").overlaps(&net("192.168.0.128/25")));
    }

    #[test]
    fn serde_as_a_string() {
        let n = net("10.88.0.0/16");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"10.88.0.0/16\"");
        assert_eq!(
            serde_json::from_str::<Ipv4Net>("\"10.88.0.0/16\"").unwrap(),
            n
        );
        let err = serde_json::from_str::<Ipv4Net>("\"10.88.0.1/16\"").unwrap_err();
        assert!(
            err.to_string().contains("did you mean 10.88.0.0/16?"),
            "{err}"
        );
    }
}
