//! The busybox root filesystem for demos and benchmarks, made once under
//! `target/xtask/` by the same builder the integration tests use.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Make `dir` a busybox rootfs unless it already is one.
pub fn busybox(dir: &Path) -> Result<()> {
    if dir.join("bin/busybox").exists() {
        return Ok(());
    }
    if !Path::new("/bin/busybox").exists() {
        bail!("/bin/busybox is missing: apt-get install busybox-static");
    }
    // Build beside the target and rename, so an interrupted build is never
    // taken for a finished one.
    let staging = dir.with_extension("tmp");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging)?;
    tinydocker_tests::make_busybox_rootfs(&staging);
    fs::rename(&staging, dir).with_context(|| format!("create {}", dir.display()))
}
