//! A busybox root filesystem made from the host's static busybox
//! (package `busybox-static`).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Fill `dir` with busybox, a link per applet, and minimal /etc files.
pub fn busybox(dir: &Path) -> Result<()> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        bail!("/bin/busybox is missing: apt-get install busybox-static");
    }
    if dir.join("bin/busybox").exists() {
        return Ok(());
    }
    let staging = dir.with_extension("tmp");
    let _ = fs::remove_dir_all(&staging);
    for sub in ["bin", "etc", "root", "tmp", "var"] {
        fs::create_dir_all(staging.join(sub))?;
    }
    fs::set_permissions(staging.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::copy(busybox, staging.join("bin/busybox")).context("copy /bin/busybox")?;
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .context("busybox --list")?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            symlink("busybox", staging.join("bin").join(applet))?;
        }
    }
    fs::write(
        staging.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    fs::write(staging.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::rename(&staging, dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(())
}
