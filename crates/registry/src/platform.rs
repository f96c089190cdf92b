//! Platforms (`os/arch[/variant]`) and the choice of one manifest from an
//! image index or manifest list, as docker chooses.

use std::fmt;

use oci_client::manifest::ImageIndexEntry;

/// `os/architecture[/variant]`, in Go's (and OCI's) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of this host.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        let variant = (architecture == "arm64").then(|| "v8".to_string());
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant,
        }
    }

    /// `--platform`'s value.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let bad = || {
            format!("invalid platform {text:?}: expected os/arch[/variant], such as linux/amd64")
        };
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_lowercase(),
                architecture: arch.to_lowercase(),
                variant: parts
                    .get(2)
                    .filter(|v| !v.is_empty())
                    .map(|v| v.to_lowercase()),
            }),
            _ => Err(bad()),
        }
    }

    fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        if self.os != os || self.architecture != architecture {
            return false;
        }
        match (&self.variant, variant) {
            (Some(want), Some(have)) => want == have,
            // arm64 without a variant is v8.
            (Some(want), None) => self.architecture == "arm64" && want == "v8",
            (None, _) => true,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The digest of the entry of an index for `want`; attestation entries
/// (`unknown/unknown`) never match. The error is docker's message.
pub fn choose(entries: &[ImageIndexEntry], want: &Platform) -> Result<String, String> {
    entries
        .iter()
        .find(|e| {
            e.platform.as_ref().is_some_and(|p| {
                p.os != "unknown" && want.matches(&p.os, &p.architecture, p.variant.as_deref())
            })
        })
        .map(|e| e.digest.clone())
        .ok_or_else(|| format!("no matching manifest for {want} in the manifest list entries"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_client::manifest::Platform as EntryPlatform;

    fn entry(digest: &str, os: &str, arch: &str, variant: Option<&str>) -> ImageIndexEntry {
        ImageIndexEntry {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: digest.into(),
            size: 1,
            platform: Some(EntryPlatform {
                architecture: arch.into(),
                os: os.into(),
                os_version: None,
                os_features: None,
                variant: variant.map(String::from),
                features: None,
            }),
            annotations: None,
        }
    }

    #[test]
    fn the_hosts_entry_whatever_its_place_and_never_an_attestation() {
        let index = [
            entry("sha256:att", "unknown", "unknown", None),
            entry("sha256:arm", "linux", "arm64", Some("v8")),
            entry("sha256:amd", "linux", "amd64", None),
        ];
        let amd64 = Platform::parse("linux/amd64").unwrap();
        assert_eq!(choose(&index, &amd64).unwrap(), "sha256:amd");
        let arm64 = Platform::parse("linux/arm64").unwrap();
        assert_eq!(choose(&index, &arm64).unwrap(), "sha256:arm");
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(
            choose(&index, &v7).unwrap_err(),
            "no matching manifest for linux/arm/v7 in the manifest list entries"
        );
        let arm64_v8 = Platform::parse("linux/arm64/v8").unwrap();
        let no_variant = [entry("sha256:a", "linux", "arm64", None)];
        assert_eq!(choose(&no_variant, &arm64_v8).unwrap(), "sha256:a");
    }

    #[test]
    fn platform_flags() {
        assert_eq!(
            Platform::parse("linux/arm/v7").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//").is_err());
        assert_eq!(Platform::host().os, "linux");
    }
}
