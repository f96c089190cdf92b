//! An image of the store as a registry or an archive holds it: its config
//! (as it came, or written afresh for an import), its layers' archives,
//! and a manifest naming them.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tinydocker_fs::{Blob, Image, ImageStore};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// An image ready to leave the store.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The config's bytes; their digest is the image id of the copy.
    pub config: Vec<u8>,
    pub config_digest: String,
    /// The layers' archives, bottom first.
    pub layers: Vec<Blob>,
    /// The digests of the uncompressed layers, bottom first.
    pub diff_ids: Vec<String>,
}

impl Exported {
    /// The image of `store` as it leaves it. A layer whose archive the
    /// store does not keep (an image from before it kept them) is an
    /// error that says what to do.
    pub fn of(store: &ImageStore, image: &Image) -> Result<Exported, String> {
        if image.blobs.len() != image.layers.len()
            || image.blobs.iter().any(|b| !store.has_blob(&b.digest))
        {
            return Err(format!(
                "image {}: the store does not keep its layers' archives (it came before tinydocker kept them): pull or import it again",
                image.short_id()
            ));
        }
        let config = match &image.config_blob {
            Some(digest) => {
                let path = store.blob_path(digest);
                std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => written_config(image),
        };
        let config_digest = format!("sha256:{:x}", Sha256::digest(&config));
        Ok(Exported {
            config,
            config_digest,
            layers: image.blobs.clone(),
            diff_ids: image.layers.clone(),
        })
    }

    /// Whether every layer has a docker media type: the manifest is then
    /// docker's schema 2, as the image came; else an OCI one.
    pub fn docker_form(&self) -> bool {
        !self.layers.is_empty()
            && self
                .layers
                .iter()
                .all(|l| l.media_type.starts_with("application/vnd.docker."))
    }

    /// The manifest's bytes and media type.
    pub fn manifest(&self) -> (Vec<u8>, &'static str) {
        let docker = self.docker_form();
        let (kind, config_type) = if docker {
            (DOCKER_MANIFEST, DOCKER_CONFIG)
        } else {
            (OCI_MANIFEST, OCI_CONFIG)
        };
        let layers: Vec<Value> = self
            .layers
            .iter()
            .map(|l| {
                let media_type = if docker {
                    l.media_type.clone()
                } else {
                    oci_layer_type(&l.media_type)
                };
                json!({ "mediaType": media_type, "size": l.size, "digest": l.digest })
            })
            .collect();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": kind,
            "config": {
                "mediaType": config_type,
                "size": self.config.len(),
                "digest": self.config_digest,
            },
            "layers": layers,
        });
        (
            serde_json::to_vec_pretty(&manifest).expect("a manifest serialises"),
            kind,
        )
    }
}

/// A layer's OCI media type for its (OCI or docker) one.
pub fn oci_layer_type(media_type: &str) -> String {
    match media_type {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            "application/vnd.oci.image.layer.v1.tar+gzip".into()
        }
        "application/vnd.docker.image.rootfs.diff.tar.zstd" => {
            "application/vnd.oci.image.layer.v1.tar+zstd".into()
        }
        "application/vnd.docker.image.rootfs.diff.tar" => {
            "application/vnd.oci.image.layer.v1.tar".into()
        }
        other => other.to_string(),
    }
}

/// A config for an image that has none as it came (an import), from what
/// the store knows of it: the same bytes each time.
fn written_config(image: &Image) -> Vec<u8> {
    let c = &image.config;
    let mut config = serde_json::Map::new();
    let mut put = |key: &str, value: Value, empty: bool| {
        if !empty {
            config.insert(key.to_string(), value);
        }
    };
    put("User", json!(c.user), c.user.is_empty());
    let set = |items: &[String]| -> BTreeMap<String, Value> {
        items.iter().map(|p| (p.clone(), json!({}))).collect()
    };
    put(
        "ExposedPorts",
        json!(set(&c.exposed_ports)),
        c.exposed_ports.is_empty(),
    );
    put("Env", json!(c.env), c.env.is_empty());
    put("Entrypoint", json!(c.entrypoint), c.entrypoint.is_empty());
    put("Cmd", json!(c.cmd), c.cmd.is_empty());
    put("Volumes", json!(set(&c.volumes)), c.volumes.is_empty());
    put("WorkingDir", json!(c.working_dir), c.working_dir.is_empty());
    put("Labels", json!(c.labels), c.labels.is_empty());
    put("StopSignal", json!(c.stop_signal), c.stop_signal.is_empty());
    let created = rfc3339(image.created);
    let value = json!({
        "architecture": crate::Platform::host().architecture,
        "os": "linux",
        "created": created,
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": image.layers },
        "history": [{ "created": created, "created_by": "tinydocker import" }],
    });
    serde_json::to_vec(&value).expect("a config serialises")
}

/// Seconds since the epoch as RFC 3339 in UTC.
pub fn rfc3339(secs: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0), 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn docker_layer_types_have_oci_twins() {
        assert_eq!(
            oci_layer_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(
            oci_layer_type("application/vnd.oci.image.layer.v1.tar+zstd"),
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
    }
}
