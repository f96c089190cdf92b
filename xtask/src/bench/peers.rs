//! The runtimes under test, each with its own state under the bench's
//! scratch directory, and a sweep that removes every container it has
//! there (the cleanup, also after an interruption).
//!
//! - tinydocker: a private `--root`.
//! - runc and crun (and tinydocker-runtime, tinydocker's own OCI runtime,
//!   for the OCI cases): a private `--root` and OCI bundles made from
//!   `runc spec` (`crun spec`): the same busybox rootfs, the same namespaces as
//!   tinydocker (the spec's pid, net, ipc, uts and mount, plus cgroup), a
//!   cgroup under the bench's own parent, and no seccomp filter (the spec
//!   has none; tinydocker's default filter stays on).
//! - podman: private `--root`, `--runroot`, `--tmpdir` and network config
//!   directory, so the machine's podman storage is never touched; the
//!   busybox image is a `podman import` of the same rootfs tarball.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::measure::run_cleanup;

/// The first line of `NAME --version`, e.g. "runc version 1.1.5+ds1";
/// None when the program is missing or fails.
pub fn version(program: impl AsRef<std::ffi::OsStr>) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next()?.trim().to_string();
    // "runc version 1.1.5+ds1", "podman version 4.3.1", "crun version 1.8.1"
    Some(
        match first.split_whitespace().collect::<Vec<_>>().as_slice() {
            [_, "version", v, ..] => v.to_string(),
            _ => first,
        },
    )
}

#[derive(Clone)]
pub struct Tinydocker {
    pub bin: PathBuf,
    pub root: PathBuf,
}

impl Tinydocker {
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root")
            .arg(&self.root)
            .args(args)
            .env_remove("TINYDOCKER_ROOT");
        cmd
    }

    /// Remove every container of the root, then its networks (the default
    /// bridge, with its device, address and nft rules).
    pub fn sweep(&self) -> Result<()> {
        if !self.root.exists() {
            return Ok(());
        }
        let ids = run_cleanup(&mut self.cmd(&["ps", "-aq", "--no-trunc"]))?;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(&ids);
            run_cleanup(&mut self.cmd(&args))?;
        }
        // `network ls`: a header, then ID NAME DRIVER SCOPE; docker's
        // predefined ones are listed whether made or not, and only those
        // with a record are made.
        let list = run_cleanup(&mut self.cmd(&["network", "ls"]))?;
        for name in list
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|name| {
                self.root
                    .join("networks")
                    .join(format!("{name}.json"))
                    .exists()
            })
        {
            run_cleanup(&mut self.cmd(&["network", "rm", name]))?;
        }
        Ok(())
    }
}

/// runc, crun or tinydocker-runtime: the same command line, the same
/// bundles.
#[derive(Clone)]
pub struct Oci {
    pub name: &'static str,
    /// The program: the name (found on PATH), or tinydocker-runtime's path.
    pub program: PathBuf,
    pub version: String,
    pub root: PathBuf,
}

impl Oci {
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg("--root").arg(&self.root).args(args);
        cmd
    }

    /// Delete (with force) every container in the private root.
    pub fn sweep(&self) -> Result<()> {
        if !self.root.exists() {
            return Ok(());
        }
        let ids = run_cleanup(&mut self.cmd(&["list", "-q"]))?;
        let mut errors = Vec::new();
        for id in ids.split_whitespace() {
            if let Err(e) = run_cleanup(&mut self.cmd(&["delete", "-f", id])) {
                errors.push(format!("{e:#}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            bail!("{}", errors.join("; "))
        }
    }
}

/// What a bundle's process runs and under which limits.
pub struct BundleSpec<'a> {
    pub args: &'a [&'a str],
    /// `--cpus 1 --memory 256m --pids-limit 100`.
    pub limits: bool,
    /// Absolute cgroup path (below the hierarchy roots).
    pub cgroup: String,
}

/// Write `dir/config.json`: `template` (a `runc spec` default) adjusted to
/// `spec`, rooted at `rootfs`.
pub fn write_bundle(template: &Value, dir: &Path, rootfs: &Path, spec: &BundleSpec) -> Result<()> {
    let mut config = template.clone();
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(spec.args);
    config["root"]["path"] = json!(rootfs);
    let linux = &mut config["linux"];
    let namespaces = linux["namespaces"]
        .as_array_mut()
        .context("the spec has no linux.namespaces")?;
    if !namespaces.iter().any(|n| n["type"] == "cgroup") {
        namespaces.push(json!({ "type": "cgroup" }));
    }
    linux["cgroupsPath"] = json!(spec.cgroup);
    if spec.limits {
        let resources = &mut linux["resources"];
        resources["cpu"] = json!({ "quota": 100_000, "period": 100_000 });
        resources["memory"] = json!({ "limit": 256i64 << 20 });
        resources["pids"] = json!({ "limit": 100 });
    }
    fs::create_dir_all(dir)?;
    fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config)?)
        .with_context(|| format!("write {}/config.json", dir.display()))
}

/// The default spec of `program spec` (runc, crun, tinydocker-runtime), as
/// JSON.
pub fn default_spec(oci: &Oci, scratch: &Path) -> Result<Value> {
    let name = oci.name;
    let dir = scratch.join(format!("{name}-spec"));
    fs::create_dir_all(&dir)?;
    let out = Command::new(&oci.program)
        .arg("spec")
        .current_dir(&dir)
        .output()
        .with_context(|| format!("{name} spec"))?;
    if !out.status.success() {
        bail!(
            "{name} spec: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let spec = fs::read(dir.join("config.json"))?;
    fs::remove_dir_all(&dir)?;
    Ok(serde_json::from_slice(&spec)?)
}

#[derive(Clone)]
pub struct Podman {
    pub version: String,
    pub dir: PathBuf,
    /// `--runtime runc` where runc is installed: podman's default, crun,
    /// refuses hybrid cgroup hosts.
    pub runtime: Option<&'static str>,
    /// `--cgroup-parent`, below the bench's own cgroup parent.
    pub cgroup_parent: String,
}

/// The busybox image's name in podman's store.
pub const PODMAN_IMAGE: &str = "localhost/busybox:latest";

impl Podman {
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .arg("--network-config-dir")
            .arg(self.dir.join("networks"))
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "none"]);
        if let Some(runtime) = self.runtime {
            cmd.args(["--runtime", runtime]);
        }
        cmd.args(args);
        cmd
    }

    /// `podman run ARGS...` with the flags podman needs on this machine
    /// (its default rlimits are refused here) and the bench's cgroup parent,
    /// then `extra` (the run's own flags, the image and the command).
    pub fn run(&self, extra: &[&str]) -> Command {
        let mut args = vec![
            "run",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "--cgroup-parent",
            &self.cgroup_parent,
        ];
        args.extend(extra);
        self.cmd(&args)
    }

    /// Remove every container and image of the private store (the store
    /// itself goes with the scratch directory, after anything podman lost
    /// track of is killed with the bench's cgroups).
    pub fn sweep(&self) -> Result<()> {
        if !self.dir.exists() {
            return Ok(());
        }
        let mut errors = Vec::new();
        for args in [
            &["rm", "--all", "--force", "--time", "0"][..],
            &["rmi", "--all", "--force"][..],
        ] {
            if let Err(e) = run_cleanup(&mut self.cmd(args)) {
                errors.push(format!("{e:#}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            bail!("{}", errors.join("; "))
        }
    }
}

/// Directories podman writes outside its `--root` whatever the flags say:
/// the image blob-info cache (/var/lib/containers/cache) and netavark's
/// IPAM database (/run/containers/networks). Those the bench's podman
/// created are removed with it.
pub const PODMAN_HOST_DIRS: [&str; 2] = ["/var/lib/containers", "/run/containers"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_has_the_cgroup_namespace_limits_and_command() {
        let template = json!({
            "process": { "terminal": true, "args": ["sh"] },
            "root": { "path": "rootfs", "readonly": true },
            "linux": {
                "namespaces": [{ "type": "pid" }, { "type": "network" }],
                "resources": { "devices": [{ "allow": false, "access": "rwm" }] }
            }
        });
        let dir = std::env::temp_dir().join(format!("bench-bundle-test-{}", std::process::id()));
        let spec = BundleSpec {
            args: &["true"],
            limits: true,
            cgroup: "/tdbench-1/runc".into(),
        };
        write_bundle(&template, &dir, Path::new("/rootfs"), &spec).unwrap();
        let config: Value =
            serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(config["process"]["terminal"], json!(false));
        assert_eq!(config["process"]["args"], json!(["true"]));
        assert_eq!(config["root"]["path"], json!("/rootfs"));
        assert_eq!(
            config["linux"]["namespaces"][2],
            json!({ "type": "cgroup" })
        );
        assert_eq!(config["linux"]["cgroupsPath"], json!("/tdbench-1/runc"));
        let resources = &config["linux"]["resources"];
        assert_eq!(resources["memory"]["limit"], json!(268_435_456));
        assert_eq!(resources["cpu"]["quota"], json!(100_000));
        assert_eq!(resources["pids"]["limit"], json!(100));
        assert_eq!(resources["devices"][0]["allow"], json!(false));
    }
}
