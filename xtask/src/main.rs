//! `cargo xtask`: project tasks in Rust.
//!
//! - `cargo xtask demo`  build tinydocker, import a busybox image made from the
//!   host's busybox, and run a container.
//! - `cargo xtask test`  build the binary, then run every test of the workspace
//!   (unit tests and the root integration tests) against it.
//! - `cargo xtask bench [--case NAME]... [--runs N] [--fleet N] [--json FILE]`
//!   time tinydocker side by side with runc, crun and podman, pulls from a
//!   private registry included (see `bench/`).
//! - `cargo xtask vm-test [--cgroup v2|v1|hybrid|all] ...`  boot real kernels
//!   under QEMU, one per cgroup layout, and run the VM suite and the
//!   integration tests in each (see `vm.rs`).
//! - `cargo xtask oci-validation [--runtime PATH] [--test NAME]... [--json FILE] [--keep-going]`
//!   the OCI runtime-tools validation suite against tinydocker-runtime,
//!   failing on failures not in its expected list (see `oci_validation/`).

mod bench;
mod oci_validation;
mod rootfs;
mod vm;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

fn main() {
    if let Err(err) = real_main() {
        eprintln!("xtask: {err:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("vm-test") => vm::vm_test(&args[1..]),
        Some("oci-validation") => oci_validation::oci_validation(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <demo|test|bench|vm-test|oci-validation> [args]\n\n  demo                 build, import a busybox image, run a container\n  test [-- ARGS]       build the binary and run all tests (root integration tests included)\n  bench [--case NAME]... [--runs N] [--fleet N] [--json FILE]\n                       tinydocker side by side with runc, crun and podman: run, exec, a fleet, import, pulls\n  vm-test [--cgroup v2|v1|hybrid|all] [--accel auto|kvm|tcg] [--kernel VMLINUZ] ...\n                       the QEMU suite on cgroup v2, v1 and hybrid (--help for all flags)\n  oci-validation [--runtime PATH] [--test NAME]... [--json FILE] [--keep-going]\n                       the OCI runtime-tools validation suite against tinydocker-runtime; fails on failures not in its expected.txt");
            std::process::exit(2);
        }
    }
}

/// The workspace root (xtask's parent directory).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace());
    cmd
}

pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Build the tinydocker binary; return its path. The release binary is
/// linked statically (glibc's static libc): the dynamic loader costs about
/// 0.5 ms of every start here, a tenth of a whole `run`. Only the final link
/// needs the flag, so `cargo rustc` passes it to the binary alone (proc-macro
/// dependencies cannot be built with it), and libseccomp is linked from its
/// static archive.
///
/// It is a position-dependent executable (`relocation-model=static`), as
/// Debian's runc is: a static PIE relocates itself at every start (15,000
/// relocations, and each of the 68 pages they touch copied into the
/// process), which costs every `run` about 0.2 ms and every supervisor
/// 260 KiB of memory of its own (84 KiB left instead of 340). The stack,
/// heap and mappings are still placed at random; the program's own code
/// and data are not.
///
/// `tinydocker-runtime` (the OCI runtime) is built the same way beside it
/// ([`runtime_bin`]).
pub fn build(release: bool) -> Result<PathBuf> {
    if release {
        for package in ["tinydocker", "tinydocker-runtime"] {
            let mut cmd = cargo();
            cmd.args([
                "rustc",
                "--quiet",
                "--release",
                "-p",
                package,
                "--bin",
                package,
                "--",
            ])
            .args(["-C", "target-feature=+crt-static"])
            .args(["-C", "relocation-model=static"])
            // libseccomp's archive (libseccomp-dev), linked in as well.
            .env("LIBSECCOMP_LINK_TYPE", "static")
            .env("LIBSECCOMP_LIB_PATH", "/usr/lib/x86_64-linux-gnu");
            run(&mut cmd)?;
        }
    } else {
        run(cargo().args([
            "build",
            "--quiet",
            "-p",
            "tinydocker",
            "-p",
            "tinydocker-runtime",
        ]))?;
    }
    Ok(workspace()
        .join("target")
        .join(if release { "release" } else { "debug" })
        .join("tinydocker"))
}

/// The `tinydocker-runtime` built beside the `tinydocker` at `bin`.
pub fn runtime_bin(bin: &Path) -> PathBuf {
    bin.with_file_name("tinydocker-runtime")
}

fn demo(_args: &[String]) -> Result<()> {
    let bin = build(true)?;
    let rootfs = workspace().join("target/xtask/busybox-rootfs");
    rootfs::busybox(&rootfs)?;
    println!("$ tinydocker import {} busybox", rootfs.display());
    run(Command::new(&bin).arg("import").arg(&rootfs).arg("busybox"))?;
    let script = "echo \"hello from $(hostname), pid $$ in a new pid namespace\"; \
                  echo 'processes:'; ps; echo 'interfaces:'; ls /sys/class/net; \
                  echo 'root filesystem:'; ls /; echo 'cgroup (its own root, in a cgroup namespace):'; \
                  cat /proc/self/cgroup";
    println!("$ tinydocker run --rm --cpus 0.5 --memory 64m --pids-limit 20 busybox sh -c '...'");
    run(Command::new(&bin).args([
        "run",
        "--rm",
        "--cpus",
        "0.5",
        "--memory",
        "64m",
        "--pids-limit",
        "20",
        "busybox",
        "sh",
        "-c",
        script,
    ]))?;
    // The memory limit at work: the init allocates twice its limit.
    println!(
        "$ tinydocker run --rm --memory 64m busybox dd if=/dev/zero of=/dev/null bs=128M count=1"
    );
    let status = Command::new(&bin)
        .args([
            "run",
            "--rm",
            "--memory",
            "64m",
            "busybox",
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=128M",
            "count=1",
        ])
        .status()
        .context("start tinydocker")?;
    println!(
        "exit code {} (137: killed by the OOM killer, as the line above says)",
        status.code().unwrap_or(-1)
    );
    if status.code() != Some(137) {
        bail!("expected the OOM killer to end the container with 137");
    }
    Ok(())
}

fn test(args: &[String]) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the integration tests create namespaces and mounts: run as root");
    }
    let bin = build(false)?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace"])
        .env("TINYDOCKER_BIN", &bin)
        .env("TINYDOCKER_RUNTIME_BIN", runtime_bin(&bin));
    let extra: Vec<&String> = args.iter().skip_while(|a| *a == "--").collect();
    if !extra.is_empty() {
        cmd.arg("--").args(extra);
    }
    run(&mut cmd)
}
