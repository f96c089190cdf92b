//! How tinydocker speaks to a registry, as docker does:
//!
//! - HTTPS, verified against the system's roots (Debian's bundle, plus
//!   the roots built into the TLS library) and the CAs of docker's
//!   `certs.d/HOST[:PORT]/*.crt`;
//! - for an *insecure* registry (127.0.0.0/8, `::1`, `localhost`, and
//!   those listed in tinydocker's config, by `HOST[:PORT]` or CIDR):
//!   HTTPS first, unverified, and plain HTTP if HTTPS fails.
//!
//! tinydocker's config is JSON, `$TINYDOCKER_CONFIG` or
//! `/etc/tinydocker/config.json`, with docker's daemon.json keys:
//! `{"insecure-registries": ["10.0.0.0/8", "reg.local:5000"],
//!   "certs-dir": "/etc/docker/certs.d"}`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::Client;

/// docker's directory of per-registry certificates.
pub const DEFAULT_CERTS_DIR: &str = "/etc/docker/certs.d";
/// tinydocker's config, unless `$TINYDOCKER_CONFIG` names another.
pub const DEFAULT_CONFIG: &str = "/etc/tinydocker/config.json";
/// Debian's bundle of the system's trusted roots.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The registry side of tinydocker's config.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// `HOST[:PORT]` or an IPv4 CIDR, insecure besides the loopback ones.
    pub insecure: Vec<String>,
    /// docker's `certs.d`; `None`: [`DEFAULT_CERTS_DIR`].
    pub certs_dir: Option<PathBuf>,
}

/// How one registry is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Https { verify: bool },
    Http,
}

impl Transport {
    /// tinydocker's config (`$TINYDOCKER_CONFIG`, else
    /// [`DEFAULT_CONFIG`]); none at all is the default.
    pub fn from_config() -> Result<Transport, String> {
        let path = std::env::var_os("TINYDOCKER_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
        Transport::read(&path)
    }

    /// The config at `path`; a missing file is the default.
    pub fn read(path: &Path) -> Result<Transport, String> {
        let data = match std::fs::read(path) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Transport::default()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let value: serde_json::Value =
            serde_json::from_slice(&data).map_err(|e| format!("{}: {e}", path.display()))?;
        let insecure = match &value["insecure-registries"] {
            serde_json::Value::Null => Vec::new(),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str().map(String::from).ok_or_else(|| {
                        format!("{}: insecure-registries: not a string: {i}", path.display())
                    })
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(format!(
                    "{}: insecure-registries: not a list: {other}",
                    path.display()
                ))
            }
        };
        let certs_dir = value["certs-dir"].as_str().map(PathBuf::from);
        Ok(Transport {
            insecure,
            certs_dir,
        })
    }

    /// Whether docker would call `registry` (`HOST[:PORT]`) insecure.
    pub fn is_insecure(&self, registry: &str) -> bool {
        let host = registry
            .rsplit_once(':')
            .filter(|(h, port)| !h.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(registry, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip = host.parse::<IpAddr>().ok();
        host == "localhost"
            || ip.is_some_and(|ip| ip.is_loopback())
            || self
                .insecure
                .iter()
                .any(|i| i == registry || i == host || ip.is_some_and(|ip| in_cidr(ip, i)))
    }

    /// HTTPS, or for an insecure registry whichever answers first of
    /// unverified HTTPS and plain HTTP (HTTPS tried first, as docker).
    pub(crate) async fn scheme(&self, registry: &str) -> Scheme {
        if !self.is_insecure(registry) {
            return Scheme::Https { verify: true };
        }
        let probe = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build();
        let Ok(probe) = probe else {
            return Scheme::Http;
        };
        match probe.get(format!("https://{registry}/v2/")).send().await {
            Ok(_) => Scheme::Https { verify: false },
            Err(_) => Scheme::Http,
        }
    }

    /// The extra roots for verifying `registry`: the system's bundle and
    /// `certs.d/REGISTRY/*.crt`.
    pub(crate) fn roots(&self, registry: &str) -> Vec<Certificate> {
        let mut roots = Vec::new();
        if let Ok(bundle) = std::fs::read(SYSTEM_ROOTS) {
            roots.extend(pem_blocks(&bundle));
        }
        let dir = self
            .certs_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CERTS_DIR))
            .join(registry);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "crt"))
                .collect();
            files.sort();
            for file in files {
                if let Ok(data) = std::fs::read(&file) {
                    roots.extend(pem_blocks(&data));
                }
            }
        }
        roots
    }

    /// An oci-client for `registry`.
    pub(crate) async fn client(&self, registry: &str, concurrency: usize) -> Client {
        let scheme = self.scheme(registry).await;
        let (protocol, verify) = match scheme {
            Scheme::Http => (
                ClientProtocol::HttpsExcept(vec![registry.to_string()]),
                true,
            ),
            Scheme::Https { verify } => (ClientProtocol::Https, verify),
        };
        Client::new(ClientConfig {
            protocol,
            accept_invalid_certificates: !verify,
            extra_root_certificates: if scheme == (Scheme::Https { verify: true }) {
                self.roots(registry)
            } else {
                Vec::new()
            },
            platform_resolver: None,
            max_concurrent_download: concurrency.max(1),
            max_concurrent_upload: concurrency.max(1),
            ..Default::default()
        })
    }

    /// A reqwest client for `registry` and its base URL
    /// (`SCHEME://REGISTRY`), for the calls oci-client has no word for.
    pub(crate) async fn http(&self, registry: &str) -> Result<(reqwest::Client, String), String> {
        let scheme = self.scheme(registry).await;
        let mut builder = reqwest::Client::builder();
        let base = match scheme {
            Scheme::Http => format!("http://{registry}"),
            Scheme::Https { verify: false } => {
                builder = builder.danger_accept_invalid_certs(true);
                format!("https://{registry}")
            }
            Scheme::Https { verify: true } => {
                for root in self.roots(registry) {
                    if let Ok(cert) = reqwest::Certificate::from_pem(&root.data) {
                        builder = builder.add_root_certificate(cert);
                    }
                }
                format!("https://{registry}")
            }
        };
        Ok((builder.build().map_err(|e| e.to_string())?, base))
    }
}

/// Whether `ip` is in `cidr` (IPv4 `A.B.C.D/N`).
fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let (IpAddr::V4(ip), Some((net, bits))) = (ip, cidr.split_once('/')) else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<Ipv4Addr>(), bits.parse::<u32>()) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(ip) & mask == u32::from(net) & mask
}

/// Each certificate of a PEM file.
fn pem_blocks(data: &[u8]) -> Vec<Certificate> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let block = &rest[start..start + len + END.len()];
        out.push(Certificate {
            encoding: CertificateEncoding::Pem,
            data: format!("{block}\n").into_bytes(),
        });
        rest = &rest[start + len + END.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_as_docker_decides_it() {
        let t = Transport::default();
        assert!(t.is_insecure("127.0.0.1:5000"));
        assert!(t.is_insecure("127.3.2.1"));
        assert!(t.is_insecure("localhost:5000"));
        assert!(t.is_insecure("[::1]:5000"));
        assert!(!t.is_insecure("registry.example.com"));
        assert!(!t.is_insecure("10.0.0.1:5000"));
        let t = Transport {
            insecure: vec![
                "10.0.0.1:5000".into(),
                "192.168.0.0/16".into(),
                "reg".into(),
            ],
            certs_dir: None,
        };
        assert!(t.is_insecure("10.0.0.1:5000"));
        assert!(!t.is_insecure("10.0.0.1:5001"));
        assert!(t.is_insecure("192.168.7.9:443"));
        assert!(!t.is_insecure("192.169.0.1"));
        assert!(t.is_insecure("reg:5000"));
    }

    #[test]
    fn the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        assert!(Transport::read(&path).unwrap().insecure.is_empty());
        std::fs::write(
            &path,
            r#"{"insecure-registries": ["10.0.0.0/8"], "certs-dir": "/tmp/certs"}"#,
        )
        .unwrap();
        let t = Transport::read(&path).unwrap();
        assert_eq!(t.insecure, ["10.0.0.0/8"]);
        assert_eq!(t.certs_dir.as_deref(), Some(Path::new("/tmp/certs")));
        std::fs::write(&path, r#"{"insecure-registries": "x"}"#).unwrap();
        assert!(Transport::read(&path).is_err());
    }

    #[test]
    fn pem_bundles_split_into_certificates() {
        let two = b"junk\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n";
        let blocks = pem_blocks(two);
        assert_eq!(blocks.len(), 2);
        assert!(String::from_utf8_lossy(&blocks[1].data).contains("BBB"));
    }
}
