//! Published ports, docker's `-p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]`:
//! connections to HOSTPORT on the host (on HOSTIP only, when given) are
//! forwarded to CONTAINERPORT in the container, by DNAT (see [`crate::nft`]).
//!
//! ```
//! use tinydocker_net::{PortMapping, Proto};
//!
//! let p: PortMapping = "127.0.0.1:8080:80/udp".parse().unwrap();
//! assert_eq!((p.host_port, p.container_port, p.proto), (8080, 80, Proto::Udp));
//! assert_eq!(p.to_string(), "80/udp -> 127.0.0.1:8080");
//! ```

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// A transport protocol a port can be published for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One `-p`: `host_ip` `None` means every address of the host (docker's
/// 0.0.0.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl PortMapping {
    /// The host address the mapping is limited to; `None` for all of them
    /// (an explicit 0.0.0.0 included).
    pub(crate) fn bound_ip(&self) -> Option<Ipv4Addr> {
        self.host_ip.filter(|ip| !ip.is_unspecified())
    }

    /// Whether both mappings want the same host port: same protocol and
    /// port, on the same address or with either on every address.
    pub fn conflicts(&self, other: &PortMapping) -> bool {
        self.proto == other.proto
            && self.host_port == other.host_port
            && match (self.bound_ip(), other.bound_ip()) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// A port number, 1 to 65535; `what` names it in the reason.
fn parse_port(text: &str, what: &str) -> Result<u16, String> {
    if text.is_empty() {
        return Err(format!("the {what} is missing"));
    }
    if text.contains('-') && text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(format!("{what} {text:?}: port ranges are not supported"));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} {text:?} is not a number"));
    }
    match text.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        _ => Err(format!(
            "{what} {text} is out of range: ports are 1 to 65535"
        )),
    }
}

impl FromStr for PortMapping {
    type Err = Error;

    fn from_str(text: &str) -> Result<PortMapping, Error> {
        let bad = |why: String| Error::Port {
            text: text.to_string(),
            why,
        };
        let (spec, proto) = match text.rsplit_once('/') {
            None => (text, Proto::Tcp),
            Some((spec, p)) => match p.to_ascii_lowercase().as_str() {
                "tcp" => (spec, Proto::Tcp),
                "udp" => (spec, Proto::Udp),
                "" => return Err(bad("the protocol after '/' is missing".to_string())),
                _ => return Err(bad(format!("unknown protocol {p:?}: expected tcp or udp"))),
            },
        };
        if spec.starts_with('[') || spec.matches(':').count() > 2 {
            return Err(bad(
                "expected [HOSTIP:]HOSTPORT:CONTAINERPORT (IPv6 host addresses are not supported)"
                    .to_string(),
            ));
        }
        let parts: Vec<&str> = spec.split(':').collect();
        let (host_ip, host_port, container_port) = match parts[..] {
            [ip, host, container] => (Some(ip), host, container),
            [host, container] => (None, host, container),
            _ => {
                return Err(bad(
                    "expected [HOSTIP:]HOSTPORT:CONTAINERPORT (a host port is required)"
                        .to_string(),
                ))
            }
        };
        let host_ip = match host_ip {
            // ":8080:80" is docker's spelling of every address, as 0.0.0.0 is.
            None | Some("") => None,
            Some(ip) => {
                let ip: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| bad(format!("host address {ip:?} is not an IPv4 address")))?;
                Some(ip).filter(|ip| !ip.is_unspecified())
            }
        };
        Ok(PortMapping {
            host_ip,
            host_port: parse_port(host_port, "host port").map_err(bad)?,
            container_port: parse_port(container_port, "container port").map_err(bad)?,
            proto,
        })
    }
}

/// `docker port`'s format: `80/tcp -> 0.0.0.0:8080`.
impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = self.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        write!(
            f,
            "{}/{} -> {}:{}",
            self.container_port, self.proto, ip, self.host_port
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PortMapping {
        s.parse().unwrap()
    }

    #[test]
    fn parses_docker_forms() {
        let cases = [
            ("8080:80", None, 8080, 80, Proto::Tcp),
            ("8080:80/tcp", None, 8080, 80, Proto::Tcp),
            ("53:5353/udp", None, 53, 5353, Proto::Udp),
            ("5353:53/UDP", None, 5353, 53, Proto::Udp),
            ("65535:1", None, 65535, 1, Proto::Tcp),
            (
                "127.0.0.1:8080:80",
                Some(Ipv4Addr::LOCALHOST),
                8080,
                80,
                Proto::Tcp,
            ),
            (
                "192.168.1.2:53:53/udp",
                Some(Ipv4Addr::new(192, 168, 1, 2)),
                53,
                53,
                Proto::Udp,
            ),
            ("0.0.0.0:8080:80", None, 8080, 80, Proto::Tcp),
            (":8080:80", None, 8080, 80, Proto::Tcp),
        ];
        for (text, host_ip, host_port, container_port, proto) in cases {
            assert_eq!(
                p(text),
                PortMapping {
                    host_ip,
                    host_port,
                    container_port,
                    proto
                },
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_bad_text_with_a_reason() {
        let cases = [
            (
                "80",
                "expected [HOSTIP:]HOSTPORT:CONTAINERPORT (a host port is required)",
            ),
            (
                "",
                "expected [HOSTIP:]HOSTPORT:CONTAINERPORT (a host port is required)",
            ),
            (
                "80/tcp",
                "expected [HOSTIP:]HOSTPORT:CONTAINERPORT (a host port is required)",
            ),
            (":80", "the host port is missing"),
            ("8080:", "the container port is missing"),
            ("1.2.3.4::80", "the host port is missing"),
            ("0:80", "host port 0 is out of range: ports are 1 to 65535"),
            (
                "8080:0",
                "container port 0 is out of range: ports are 1 to 65535",
            ),
            (
                "65536:80",
                "host port 65536 is out of range: ports are 1 to 65535",
            ),
            (
                "8080:99999999999",
                "container port 99999999999 is out of range: ports are 1 to 65535",
            ),
            ("http:80", "host port \"http\" is not a number"),
            ("+80:80", "host port \"+80\" is not a number"),
            ("80:8o", "container port \"8o\" is not a number"),
            (
                "8080-8081:80-81",
                "host port \"8080-8081\": port ranges are not supported",
            ),
            (
                "8080:80/sctp",
                "unknown protocol \"sctp\": expected tcp or udp",
            ),
            ("8080:80/", "the protocol after '/' is missing"),
            (
                "8080:80/tcp/udp",
                "container port \"80/tcp\" is not a number",
            ),
            (
                "localhost:8080:80",
                "host address \"localhost\" is not an IPv4 address",
            ),
            (
                "1.2.3:8080:80",
                "host address \"1.2.3\" is not an IPv4 address",
            ),
            (
                "[::1]:8080:80",
                "expected [HOSTIP:]HOSTPORT:CONTAINERPORT (IPv6 host addresses are not supported)",
            ),
            (
                "::1:8080:80",
                "expected [HOSTIP:]HOSTPORT:CONTAINERPORT (IPv6 host addresses are not supported)",
            ),
        ];
        for (text, why) in cases {
            let err = text.parse::<PortMapping>().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid port mapping {text:?}: {why}"),
                "{text}"
            );
        }
    }

    #[test]
    fn displays_like_docker_port() {
        assert_eq!(p("8080:80").to_string(), "80/tcp -> 0.0.0.0:8080");
        assert_eq!(
            p("127.0.0.1:5353:53/udp").to_string(),
            "53/udp -> 127.0.0.1:5353"
        );
        assert_eq!(Proto::Udp.to_string(), "udp");
    }

    #[test]
    fn conflicts() {
        let any = p("8080:80");
        assert!(any.conflicts(&p("8080:81")));
        assert!(any.conflicts(&p("127.0.0.1:8080:80")));
        assert!(p("127.0.0.1:8080:80").conflicts(&any));
        assert!(p("127.0.0.1:8080:80").conflicts(&p("127.0.0.1:8080:90")));
        assert!(!p("127.0.0.1:8080:80").conflicts(&p("127.0.0.2:8080:80")));
        assert!(!any.conflicts(&p("8080:80/udp")));
        assert!(!any.conflicts(&p("8081:80")));
        // An explicit 0.0.0.0 is every address too.
        let explicit = PortMapping {
            host_ip: Some(Ipv4Addr::UNSPECIFIED),
            ..p("127.0.0.1:8080:80")
        };
        assert!(explicit.conflicts(&p("127.0.0.1:8080:80")));
    }

    #[test]
    fn serde_shape() {
        let json = serde_json::to_string(&p("127.0.0.1:5353:53/udp")).unwrap();
        assert_eq!(
            json,
            r#"{"host_ip":"127.0.0.1","host_port":5353,"container_port":53,"proto":"udp"}"#
        );
        assert_eq!(
            serde_json::from_str::<PortMapping>(&json).unwrap(),
            p("127.0.0.1:5353:53/udp")
        );
    }
}
