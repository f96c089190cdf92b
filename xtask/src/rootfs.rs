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

/// `out`: a tarball of the busybox rootfs `dir` (made with busybox tar),
/// unless it exists already.
pub fn tarball(dir: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        return Ok(());
    }
    busybox(dir)?;
    pack(dir, out)
}

/// `out`: a tarball of a busybox rootfs plus `extra_bytes` of random bytes
/// in `/random.bin` (a big image for import timings), unless it exists
/// already. Made once: it stays under `target/xtask/`.
pub fn big_tarball(out: &Path, extra_bytes: u64) -> Result<()> {
    if out.exists() {
        return Ok(());
    }
    let staging = out.with_extension("dir.tmp");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging)?;
    tinydocker_tests::make_busybox_rootfs(&staging);
    let mut random = fs::File::open("/dev/urandom").context("open /dev/urandom")?;
    let mut file = fs::File::create(staging.join("random.bin"))?;
    std::io::copy(
        &mut std::io::Read::take(&mut random, extra_bytes),
        &mut file,
    )
    .context("write random bytes")?;
    drop(file);
    let result = pack(&staging, out);
    let _ = fs::remove_dir_all(&staging);
    result
}

/// `busybox tar -cf OUT -C DIR .`, through a temporary name.
fn pack(dir: &Path, out: &Path) -> Result<()> {
    let tmp = out.with_extension("tar.tmp");
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent)?;
    }
    crate::run(
        std::process::Command::new("/bin/busybox")
            .args(["tar", "-cf"])
            .arg(&tmp)
            .arg("-C")
            .arg(dir)
            .arg("."),
    )?;
    fs::rename(&tmp, out).with_context(|| format!("create {}", out.display()))
}
