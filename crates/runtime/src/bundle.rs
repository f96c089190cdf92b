//! A bundle's `config.json` read into the engine's terms: the spec (its
//! root made absolute, a cgroup path when it names none) and the engine's
//! configuration of a container known by the caller's id.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use sha2::{Digest, Sha256};
use tinydocker_engine::{ContainerConfig, Rootfs};

/// Where containers without a `linux.cgroupsPath` get their cgroup: in
/// tinydocker's own tree, whose levels the engine removes with the last
/// container in them.
pub const CGROUP_PARENT: &str = "tinydocker/runtime";

/// The engine's id of the container the caller calls `id`: the sha256 of
/// its name, so the engine finds it by its directory without a search
/// (and no other container's id prefix can match it).
pub fn engine_id(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// runc's rule for container ids.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if !ok {
        bail!("invalid container id {id:?}: it must match [a-zA-Z0-9_+.-]+");
    }
    Ok(())
}

/// The spec of `bundle/config.json`, checked and made whole for the engine.
pub fn load(bundle: &Path, id: &str) -> Result<Spec> {
    let path = bundle.join("config.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let mut spec: Spec = serde_json::from_str(&text)
        .with_context(|| format!("{}: malformed runtime spec", path.display()))?;
    check_version(spec.version())?;
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .ok_or_else(|| anyhow::anyhow!("{}: the spec has no root", path.display()))?;
    let root = if root.is_absolute() {
        root
    } else {
        bundle.join(root)
    };
    if !root.is_dir() {
        bail!("root filesystem {} does not exist", root.display());
    }
    if let Some(r) = spec.root_mut() {
        r.set_path(root);
    }
    let linux = spec.linux_mut().get_or_insert_with(Default::default);
    if linux
        .cgroups_path()
        .as_ref()
        .is_none_or(|p| p.as_os_str().is_empty())
    {
        linux.set_cgroups_path(Some(PathBuf::from(format!("/{CGROUP_PARENT}/{id}"))));
    }
    Ok(spec)
}

/// Runtime spec versions 1.0 to 1.2 (any patch level or pre-release).
fn check_version(version: &str) -> Result<()> {
    let mut parts = version.split(['.', '-', '+']);
    let (major, minor) = (parts.next(), parts.next());
    match (major, minor.and_then(|m| m.parse::<u32>().ok())) {
        (Some("1"), Some(0..=2)) => Ok(()),
        _ => bail!("unsupported ociVersion {version:?}: tinydocker-runtime supports 1.0 to 1.2"),
    }
}

/// The engine's configuration of the container `id` of `bundle`.
pub fn config(bundle: &Path, id: &str) -> ContainerConfig {
    ContainerConfig {
        id: engine_id(id),
        name: id.to_string(),
        image: String::new(),
        image_id: String::new(),
        rootfs: Rootfs::Path,
        created: 0,
        bridge: None,
        extra_networks: Vec::new(),
        etc_files: None,
        restart: Default::default(),
        auto_remove: false,
        // The caller's stdin, as it is.
        interactive: true,
        init: false,
        log: Default::default(),
        origin: Default::default(),
        bundle: Some(bundle.to_path_buf()),
        meta: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for ok in ["1.0.0", "1.0.2-dev", "1.1.0", "1.2.0", "1.2.1+x"] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for bad in ["", "0.5.0", "1.3.0", "2.0.0", "1", "x.y"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids() {
        assert!(check_id("abc-1_2+3.4").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "ü"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(engine_id("x").len(), 64);
        assert_ne!(engine_id("x"), engine_id("y"));
    }

    #[test]
    fn bundle_is_read_and_made_whole() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let write = |text: &str| std::fs::write(dir.path().join("config.json"), text).unwrap();
        write(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/"}}"#,
        );
        let spec = load(dir.path(), "c1").unwrap();
        assert_eq!(
            spec.root().as_ref().unwrap().path(),
            &dir.path().join("rootfs")
        );
        assert_eq!(
            spec.linux().as_ref().unwrap().cgroups_path().as_deref(),
            Some(Path::new("/tinydocker/runtime/c1"))
        );
        write("{\"ociVersion\": \"1.0.2\",\n  \"root\": }");
        let err = format!("{:#}", load(dir.path(), "c1").unwrap_err());
        assert!(err.contains("line 2 column"), "{err}");
        write(r#"{"ociVersion":"3.0.0","root":{"path":"rootfs"}}"#);
        let err = format!("{:#}", load(dir.path(), "c1").unwrap_err());
        assert!(err.contains("unsupported ociVersion"), "{err}");
        write(r#"{"ociVersion":"1.0.0","root":{"path":"nope"}}"#);
        let err = format!("{:#}", load(dir.path(), "c1").unwrap_err());
        assert!(err.contains("does not exist"), "{err}");
    }
}
