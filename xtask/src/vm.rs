//! `cargo xtask vm-test`: tinydocker on real kernels, under QEMU, on each
//! cgroup layout a host can have (v2, v1, hybrid), under real stress.
//!
//! 1. Get a kernel: `--kernel PATH`, or Debian's package (see [`kernel`]).
//! 2. Build the static release `tinydocker`, the root integration tests
//!    (`tests/integration`) and the guest suite (`tests/vm`).
//! 3. Pack an initramfs ([`initramfs`]): busybox, tinydocker, the test
//!    binaries, `td-attack`, `ip`, `nft`, `stress-ng`, `stress`, their
//!    libraries, the modules, a busybox + stress-ng image, and `init.sh`.
//! 4. Boot it once per mode ([`qemu`]); the init mounts cgroups as the mode
//!    asks and runs the suite, which prints one line per test and a
//!    verdict. A boot without a verdict (panic, hang, crash) fails with its
//!    console shown.
//!
//! Everything it makes lives under `target/vm/`: the kernel cache, a run
//! directory removed at the end (`--keep` keeps it), and the console log
//! of each boot (`target/vm/logs/<mode>.log`).

mod initramfs;
mod kernel;
mod qemu;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::{cargo, workspace};
use initramfs::{host_program, shared_libraries, Tree};
use kernel::Kernel;
use qemu::{Accel, Boot};

const USAGE: &str = "usage: cargo xtask vm-test [--cgroup v2|v1|hybrid|all] [--accel auto|kvm|tcg]
                          [--kernel VMLINUZ [--modules DIR] | --kernel-package NAME]
                          [--integration [MODE=]all|none|FILTER,...|skip:FILTER,...]
                          [--timeout SECS] [--total-timeout SECS] [--memory MIB] [--append ARGS]
                          [--keep] [--verbose]

  --cgroup         the layouts to boot, one boot each (default: all = v2, v1, hybrid)
  --accel          auto (default): KVM when /dev/kvm answers a probe boot, else TCG
  --kernel         a bzImage; its modules from --modules DIR or lib/modules/<release> beside it
  --kernel-package a Debian kernel package (default: the newest linux-image-6.1.0-N-amd64)
  --integration    which root integration tests run in the guest (all modes, or MODE=...);
                   filters are libtest's (substrings of test names)
  --timeout        the time limit of one boot (default 900)
  --total-timeout  the time limit of all boots together (default 2400)
  --memory         the guest's memory (default 2048)
  --append         more kernel command line
  --keep           keep target/vm/run-PID (initramfs, staged binaries)
  --verbose        show the guest's whole console as it comes";

/// The cgroup layouts, in the order they boot.
const MODES: [&str; 3] = ["v2", "v1", "hybrid"];

/// What of the integration tests each mode runs by default: all of them
/// but the snapshots of output text (`snapshots::`: they do not depend on
/// the kernel, and the guest has no snapshot files to compare with).
/// Under TCG on the 2-CPU development machine they take about 200 s a
/// boot (network ~150 s and security ~95 s of test time, two at a time),
/// the whole three-mode run about 12.5 minutes; `--integration
/// MODE=skip:network::` trims a mode where that is too long.
/// (containerd, dockerd, the registry peers and docker's clients are not
/// in the guests: their tests, and the Engine API's, run on the host:
/// `api::`, `clients::` and every test named `..._the_service` in the
/// other modules.)
const DEFAULT_INTEGRATION: &str =
    "skip:snapshots::,containerd::,dockerd::,registry::,api::,clients::,the_service";

struct Options {
    modes: Vec<String>,
    accel: Option<Accel>,
    kernel: Option<PathBuf>,
    modules: Option<PathBuf>,
    package: Option<String>,
    /// Per mode: what of the integration tests runs.
    integration: Vec<(String, String)>,
    timeout: Duration,
    total_timeout: Duration,
    memory_mib: u32,
    append: String,
    keep: bool,
    verbose: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options {
            modes: MODES.iter().map(|m| m.to_string()).collect(),
            accel: None,
            kernel: None,
            modules: None,
            package: None,
            integration: MODES
                .iter()
                .map(|m| (m.to_string(), DEFAULT_INTEGRATION.to_string()))
                .collect(),
            timeout: Duration::from_secs(900),
            total_timeout: Duration::from_secs(2400),
            memory_mib: 2048,
            append: String::new(),
            keep: false,
            verbose: false,
        };
        let mut it = args.iter();
        let secs = |flag: &str, v: &str| -> Result<Duration> {
            v.parse::<u64>()
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| anyhow!("{flag} {v:?}: expected a number of seconds"))
        };
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            let mut value = || -> Result<String> {
                match &inline {
                    Some(v) => Ok(v.clone()),
                    None => it.next().cloned().ok_or_else(|| {
                        anyhow!("{flag} needs a value: see cargo xtask vm-test --help")
                    }),
                }
            };
            match flag {
                "--cgroup" => {
                    let v = value()?;
                    o.modes = match v.as_str() {
                        "all" => MODES.iter().map(|m| m.to_string()).collect(),
                        m if MODES.contains(&m) => vec![m.to_string()],
                        _ => bail!("--cgroup {v:?}: expected v2, v1, hybrid or all"),
                    };
                }
                "--accel" => {
                    let v = value()?;
                    o.accel = match v.as_str() {
                        "auto" => None,
                        "kvm" => Some(Accel::Kvm),
                        "tcg" => Some(Accel::Tcg),
                        _ => bail!("--accel {v:?}: expected auto, kvm or tcg"),
                    };
                }
                "--kernel" => o.kernel = Some(PathBuf::from(value()?)),
                "--modules" => o.modules = Some(PathBuf::from(value()?)),
                "--kernel-package" => o.package = Some(value()?),
                "--integration" => {
                    let v = value()?;
                    let (modes, spec) = match v.split_once('=') {
                        Some((m, spec)) if MODES.contains(&m) => {
                            (vec![m.to_string()], spec.to_string())
                        }
                        Some(_) => bail!(
                            "--integration {v:?}: expected MODE=SPEC with MODE v2, v1 or hybrid"
                        ),
                        None => (MODES.iter().map(|m| m.to_string()).collect(), v.clone()),
                    };
                    if spec.is_empty() || spec.contains(char::is_whitespace) {
                        bail!("--integration {v:?}: expected all, none, or filters separated by commas");
                    }
                    for m in modes {
                        o.integration.retain(|(mode, _)| *mode != m);
                        o.integration.push((m, spec.clone()));
                    }
                }
                "--timeout" => o.timeout = secs(flag, &value()?)?,
                "--total-timeout" => o.total_timeout = secs(flag, &value()?)?,
                "--memory" => {
                    let v = value()?;
                    o.memory_mib = v
                        .parse()
                        .ok()
                        .filter(|m| *m >= 512)
                        .ok_or_else(|| anyhow!("--memory {v:?}: expected MiB, at least 512"))?;
                }
                "--append" => o.append = value()?,
                "--keep" => o.keep = true,
                "--verbose" => o.verbose = true,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                _ => bail!("unknown argument {arg:?}: see cargo xtask vm-test --help"),
            }
        }
        if o.modules.is_some() && o.kernel.is_none() {
            bail!("--modules goes with --kernel");
        }
        if o.package.is_some() && o.kernel.is_some() {
            bail!("--kernel and --kernel-package exclude each other");
        }
        Ok(o)
    }

    fn integration(&self, mode: &str) -> &str {
        self.integration
            .iter()
            .find(|(m, _)| m == mode)
            .map_or(DEFAULT_INTEGRATION, |(_, s)| s.as_str())
    }
}

/// A directory removed when dropped (unless kept).
struct RunDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.keep {
            println!("vm-test: kept {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Run directories of earlier runs whose process is gone (an interrupted
/// run cannot clean up after itself).
fn remove_stale_runs(vm: &Path) {
    for e in fs::read_dir(vm).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("run-")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

pub fn vm_test(args: &[String]) -> Result<()> {
    let opts = Options::parse(args)?;
    let started = Instant::now();
    // Bad input first, before anything is fetched or built.
    let qemu = qemu::find_qemu()?;
    preflight()?;
    let vm = workspace().join("target/vm");
    fs::create_dir_all(&vm).with_context(|| format!("create {}", vm.display()))?;
    remove_stale_runs(&vm);
    let run = RunDir {
        path: vm.join(format!("run-{}", std::process::id())),
        keep: opts.keep,
    };
    fs::create_dir_all(&run.path)?;

    let kernel = match &opts.kernel {
        Some(path) => Kernel::from_path(path, opts.modules.as_deref(), &run.path)?,
        None => Kernel::debian(opts.package.as_deref(), &vm.join("kernel"))?,
    };
    let modules = kernel.modules(&run.path.join("modules"))?;
    println!(
        "vm-test: kernel {} ({}), {} modules: {}",
        kernel.release,
        if kernel.boot_image == kernel.bzimage {
            "bzImage".to_string()
        } else {
            "its vmlinux, booted through PVH".to_string()
        },
        modules.len(),
        modules
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );

    let t_build = Instant::now();
    let bins = build()?;
    let build_time = t_build.elapsed();

    let t_pack = Instant::now();
    let initrd = run.path.join("initramfs.cpio");
    let size = pack(&run.path, &bins, &modules)?.write_cpio(&initrd)?;
    println!(
        "vm-test: initramfs {} MiB, packed in {:.1} s (build {:.1} s)",
        size >> 20,
        t_pack.elapsed().as_secs_f64(),
        build_time.as_secs_f64()
    );

    let logs = vm.join("logs");
    fs::create_dir_all(&logs)?;
    let accel = match opts.accel {
        Some(a) => a,
        None => probe_accel(&qemu, &kernel, &initrd, &logs)?,
    };

    let boots_started = Instant::now();
    let mut reports = Vec::new();
    for mode in &opts.modes {
        let left = opts.total_timeout.saturating_sub(boots_started.elapsed());
        if left.is_zero() {
            reports.push(ModeReport::not_run(
                mode,
                "the whole run's time limit (--total-timeout) was up",
            ));
            continue;
        }
        let mut boot = Boot {
            qemu: &qemu,
            accel,
            kernel: &kernel.boot_image,
            initrd: &initrd,
            append: format!(
                "tdmode={mode} tdinteg={} {}",
                opts.integration(mode),
                opts.append
            ),
            memory_mib: opts.memory_mib,
            cpus: 2,
            timeout: opts.timeout.min(left),
            log: logs.join(format!("{mode}.log")),
        };
        let mut report = boot_mode(mode, &boot, opts.verbose)?;
        // The guest kernel's own hang is no verdict on tinydocker: that
        // boot is made again, once, and says so. (Debian's 6.1.192 under
        // TCG, in about one hybrid boot of three: both vCPUs spin in
        // ___slab_alloc, allocating maple-tree nodes for brk/mprotect, in
        // whatever process runs at the time.)
        if let Some(lockup) = report.kernel_lockup.take() {
            let left = opts.total_timeout.saturating_sub(boots_started.elapsed());
            println!("vm-test: {mode}: the guest kernel locked up: {lockup}");
            if !left.is_zero() {
                let first = boot.log.with_extension("lockup.log");
                let _ = fs::rename(&boot.log, &first);
                println!(
                    "vm-test: {mode}: booting once more (that boot's console: {})",
                    first.display()
                );
                boot.timeout = opts.timeout.min(left);
                report = boot_mode(mode, &boot, opts.verbose)?;
                report.kernel_lockup = None;
            }
        }
        reports.push(report);
    }

    println!();
    println!(
        "vm-test: timings ({} under {}):",
        kernel.release,
        accel.name()
    );
    for r in &reports {
        println!("  {}", r.timing());
    }
    println!(
        "  all boots {:.0} s; whole run {:.0} s (build {:.0} s)",
        boots_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64(),
        build_time.as_secs_f64()
    );
    let passed: usize = reports.iter().map(|r| r.passed).sum();
    let failed: usize = reports.iter().map(|r| r.failed).sum();
    for r in &reports {
        println!("  {}: {} passed, {} failed", r.mode, r.passed, r.failed);
    }
    println!("vm-test: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!(
            "vm-test: {failed} failed (console logs in {})",
            logs.display()
        );
    }
    Ok(())
}

/// The binaries the guest runs.
struct Binaries {
    tinydocker: PathBuf,
    integration: PathBuf,
    guest: PathBuf,
    td_attack: PathBuf,
}

/// Build the static release tinydocker and the test binaries; their paths
/// come from cargo's JSON messages.
fn build() -> Result<Binaries> {
    let tinydocker = crate::build(true)?;
    let out = cargo()
        .args([
            "test",
            "--quiet",
            "--no-run",
            "--message-format=json-render-diagnostics",
            "-p",
            "tinydocker-tests",
            "--test",
            "integration",
            "--test",
            "vm",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("start cargo test --no-run")?;
    if !out.status.success() {
        bail!("building the test binaries failed: {}", out.status);
    }
    let (mut integration, mut guest, mut td_attack) = (None, None, None);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(exe) = msg["executable"].as_str() else {
            continue;
        };
        let slot = match (
            msg["target"]["name"].as_str(),
            msg["profile"]["test"].as_bool(),
        ) {
            (Some("integration"), Some(true)) => &mut integration,
            (Some("vm"), Some(true)) => &mut guest,
            (Some("td-attack"), _) => &mut td_attack,
            _ => continue,
        };
        *slot = Some(PathBuf::from(exe));
    }
    let missing = |what: &str| anyhow!("cargo built no {what} (see its messages above)");
    Ok(Binaries {
        tinydocker,
        integration: integration.ok_or_else(|| missing("integration test binary"))?,
        guest: guest.ok_or_else(|| missing("vm suite binary"))?,
        td_attack: td_attack.ok_or_else(|| missing("td-attack"))?,
    })
}

/// A copy of `bin` without debug information in `dir` (the initramfs
/// lives in the guest's memory); `bin` itself when `strip` fails.
fn stripped(bin: &Path, dir: &Path) -> PathBuf {
    let dest = dir.join(bin.file_name().expect("a file name"));
    let ok = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&dest)
        .arg(bin)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        dest
    } else {
        bin.to_path_buf()
    }
}

/// `ldd` for the guest (libc-bin's is a bash script): the dynamic loader
/// lists what it would load, in ldd's format. The harness uses it to copy
/// a program's libraries into an image.
const LDD: &str = "#!/bin/sh
# ldd of the vm-test guest: the dynamic loader lists what it would load.
[ $# -gt 0 ] || { echo 'usage: ldd FILE...' >&2; exit 1; }
for f in \"$@\"; do
\tLD_TRACE_LOADED_OBJECTS=1 /lib64/ld-linux-x86-64.so.2 \"$f\" || exit 1
done
";

/// Host programs the guest needs, and their Debian packages.
const PROGRAMS: [(&str, &str); 4] = [
    ("ip", "iproute2"),
    ("nft", "nftables"),
    ("stress-ng", "stress-ng"),
    ("stress", "stress"),
];

fn host_tool(name: &str, package: &str) -> Result<PathBuf> {
    host_program(name).ok_or_else(|| anyhow!("{name} not found: apt-get install {package}"))
}

/// What the initramfs needs from the host is there.
fn preflight() -> Result<()> {
    for (name, package) in PROGRAMS {
        host_tool(name, package)?;
    }
    let busybox = Path::new("/bin/busybox");
    if !busybox.is_file() || !shared_libraries(busybox)?.is_empty() {
        bail!("/bin/busybox is missing or not static: apt-get install busybox-static");
    }
    Ok(())
}

/// What goes into the initramfs.
fn pack(run: &Path, bins: &Binaries, modules: &[kernel::Module]) -> Result<Tree> {
    let staged = run.join("staged");
    fs::create_dir_all(&staged)?;
    let mut t = Tree::default();
    t.root_skeleton("")?;
    for d in [
        "proc", "sys", "dev", "run", "var/lib", "var/tmp", "mnt", "newroot",
    ] {
        t.dir(d)?;
    }
    t.symlink("var/run", "../run")?;
    t.data("init", include_str!("vm/init.sh"), 0o755)?;
    t.data("etc/hostname", "tdvm\n", 0o644)?;
    t.data("etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n", 0o644)?;
    t.data(
        "etc/resolv.conf",
        "# the VM has no network device: no name server\n",
        0o644,
    )?;
    for f in ["etc/protocols", "etc/services"] {
        let host = Path::new("/").join(f);
        if host.is_file() {
            t.file(f, &host, Some(0o644))?;
        }
    }
    t.data("usr/bin/ldd", LDD, 0o755)?;
    for (name, package) in PROGRAMS {
        t.program("", &host_tool(name, package)?, None)?;
    }
    t.file("usr/bin/tinydocker", &bins.tinydocker, Some(0o755))?;
    t.file(
        "usr/bin/tinydocker-runtime",
        &crate::runtime_bin(&bins.tinydocker),
        Some(0o755),
    )?;
    // The integration tests name td-attack by the path cargo built it at;
    // init puts it back there when a tmpfs covers that path (a checkout
    // under /tmp).
    let td_attack = stripped(&bins.td_attack, &staged);
    t.file(&bins.td_attack, &td_attack, Some(0o755))?;
    t.file("vm/td-attack", &td_attack, Some(0o755))?;
    t.data(
        "vm/td-attack.path",
        format!("{}\n", bins.td_attack.display()),
        0o644,
    )?;
    for (dest, bin) in [
        ("vm/integration", &bins.integration),
        ("vm/guest", &bins.guest),
    ] {
        t.file(dest, &stripped(bin, &staged), Some(0o755))?;
    }
    for bin in [&bins.td_attack, &bins.integration, &bins.guest] {
        for lib in shared_libraries(bin)? {
            t.library("", &lib)?;
        }
    }
    // After the real programs: busybox's applets do not shadow them.
    t.busybox("")?;
    let mut list = String::new();
    for m in modules {
        t.file(format!("vm/modules/{}.ko", m.name), &m.file, Some(0o644))?;
        writeln!(list, "{}", m.name).expect("write to a String");
    }
    if !modules.is_empty() {
        t.data("vm/modules.list", list, 0o644)?;
    }
    // The container image: busybox and stress-ng.
    t.root_skeleton("vm/image")?;
    t.program("vm/image", &host_tool("stress-ng", "stress-ng")?, None)?;
    t.busybox("vm/image")?;
    Ok(t)
}

/// Boot with KVM when /dev/kvm opens and a probe boot answers within 20 s;
/// otherwise TCG.
fn probe_accel(qemu: &Path, kernel: &Kernel, initrd: &Path, logs: &Path) -> Result<Accel> {
    if !qemu::kvm_device_usable() {
        println!("vm-test: /dev/kvm is not usable: TCG");
        return Ok(Accel::Tcg);
    }
    let probe = Boot {
        qemu,
        accel: Accel::Kvm,
        kernel: &kernel.boot_image,
        initrd,
        append: "tdprobe".into(),
        memory_mib: 2048,
        cpus: 2,
        timeout: Duration::from_secs(20),
        log: logs.join("kvm-probe.log"),
    };
    let outcome = probe.run(|_| {})?;
    if outcome.lines.iter().any(|l| l.contains("TDVM-PROBE-OK")) {
        println!(
            "vm-test: KVM answered in {:.1} s: KVM",
            outcome.elapsed.as_secs_f64()
        );
        return Ok(Accel::Kvm);
    }
    let why = if outcome.timed_out {
        "did not answer within 20 s".to_string()
    } else {
        let last = outcome
            .lines
            .iter()
            .rev()
            .find(|l| l.starts_with("qemu"))
            .cloned()
            .unwrap_or_default();
        format!(
            "failed ({}{})",
            outcome.exit,
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        )
    };
    println!("vm-test: a KVM probe boot {why}: TCG");
    Ok(Accel::Tcg)
}

/// What one boot showed.
struct ModeReport {
    mode: String,
    passed: usize,
    failed: usize,
    boot_s: Option<f64>,
    suite_s: Option<f64>,
    integration_s: Option<f64>,
    total_s: f64,
    /// The guest kernel's soft-lockup report, when the boot ended in one.
    kernel_lockup: Option<String>,
}

impl ModeReport {
    fn not_run(mode: &str, why: &str) -> ModeReport {
        println!("  [{mode}] FAILED  (boot) not run: {why}");
        ModeReport {
            mode: mode.to_string(),
            passed: 0,
            failed: 1,
            boot_s: None,
            suite_s: None,
            integration_s: None,
            total_s: 0.0,
            kernel_lockup: None,
        }
    }

    fn timing(&self) -> String {
        let s = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0} s"));
        format!(
            "{:<6} boot to init {}, suite {}, integration tests {}, whole boot {:.0} s",
            self.mode,
            s(self.boot_s),
            s(self.suite_s),
            s(self.integration_s),
            self.total_s
        )
    }
}

/// The guest kernel's report of a soft lockup on the console (with
/// `softlockup_panic=1` its last words), if there is one.
fn kernel_lockup(console: &[String]) -> Option<String> {
    console.iter().find_map(|line| {
        let at = line.find("BUG: soft lockup")?;
        Some(line[at..].trim().to_string())
    })
}

/// One "TDVM-RESULT group name ok 1.2s | figures" line.
struct TestResult {
    group: String,
    name: String,
    ok: bool,
    took: Option<f64>,
    detail: String,
}

impl TestResult {
    fn parse(rest: &str) -> Option<TestResult> {
        let (head, detail) = rest.split_once(" | ").unwrap_or((rest, ""));
        let mut words = head.split_whitespace();
        let (group, name, word) = (words.next()?, words.next()?, words.next()?);
        let took = words
            .next()
            .and_then(|t| t.strip_suffix('s'))
            .and_then(|t| t.parse().ok());
        Some(TestResult {
            group: group.to_string(),
            name: name.to_string(),
            ok: word == "ok",
            took,
            detail: detail.trim().to_string(),
        })
    }

    /// The line for the user.
    fn show(&self, mode: &str) -> String {
        let mut line = format!(
            "  [{mode}] {:<6} {}/{}",
            if self.ok { "ok" } else { "FAILED" },
            self.group,
            self.name
        );
        if let Some(t) = self.took {
            let _ = write!(line, " ({t:.1} s)");
        }
        if !self.detail.is_empty() {
            let _ = write!(line, ": {}", self.detail);
        }
        line
    }
}

/// The integration tests' time by module ("network::foo" -> network):
/// tests, and the sum of their times.
fn by_module(results: &[TestResult]) -> String {
    let mut modules: Vec<(String, usize, f64)> = Vec::new();
    for r in results.iter().filter(|r| r.group == "integration") {
        let module = r.name.split("::").next().unwrap_or(&r.name).to_string();
        match modules.iter_mut().find(|(m, _, _)| *m == module) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += r.took.unwrap_or(0.0);
            }
            None => modules.push((module, 1, r.took.unwrap_or(0.0))),
        }
    }
    modules.sort_by(|a, b| b.2.total_cmp(&a.2));
    modules
        .iter()
        .map(|(m, n, t)| format!("{m} {t:.0} s ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The seconds in "TDVM-TIME what 12.3s".
fn seconds(rest: &str) -> Option<f64> {
    rest.split_whitespace()
        .nth(1)?
        .strip_suffix('s')?
        .parse()
        .ok()
}

fn boot_mode(mode: &str, boot: &Boot, verbose: bool) -> Result<ModeReport> {
    println!(
        "vm-test: booting {mode} ({}, {} MiB, {} CPUs, limit {} s)",
        boot.accel.name(),
        boot.memory_mib,
        boot.cpus,
        boot.timeout.as_secs()
    );
    let started = Instant::now();
    let mut report = ModeReport {
        mode: mode.to_string(),
        passed: 0,
        failed: 0,
        boot_s: None,
        suite_s: None,
        integration_s: None,
        total_s: 0.0,
        kernel_lockup: None,
    };
    let mut verdict: Option<(usize, usize)> = None;
    let mut results = Vec::new();
    let outcome = boot.run(|line| {
        if verbose {
            println!("    | {line}");
        }
        let Some(at) = line.find("TDVM-") else {
            return;
        };
        let tagged = &line[at..];
        if let Some(rest) = tagged.strip_prefix("TDVM-RESULT ") {
            if let Some(result) = TestResult::parse(rest) {
                if result.ok {
                    report.passed += 1;
                } else {
                    report.failed += 1;
                }
                println!("{}", result.show(mode));
                results.push(result);
            }
        } else if tagged.starts_with("TDVM-BOOTED") {
            report.boot_s = Some(started.elapsed().as_secs_f64());
            println!("  [{mode}] {tagged}");
        } else if let Some(rest) = tagged.strip_prefix("TDVM-TIME ") {
            match rest.split_whitespace().next() {
                Some("suite") => report.suite_s = seconds(rest),
                Some("integration") => report.integration_s = seconds(rest),
                _ => {}
            }
        } else if let Some(rest) = tagged.strip_prefix("TDVM-VERDICT: ") {
            // "<mode> N passed, M failed"
            let nums: Vec<usize> = rest
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect();
            if let [.., p, f] = nums[..] {
                verdict = Some((p, f));
            }
        } else if tagged.starts_with("TDVM-ERROR") {
            println!("  [{mode}] {tagged}");
        }
    })?;
    report.total_s = outcome.elapsed.as_secs_f64();
    if results.iter().any(|r| r.group == "integration") {
        println!(
            "  [{mode}] integration tests by module, the sum of their times (they run two at a time): {}",
            by_module(&results)
        );
    }
    let problem = match verdict {
        None if outcome.timed_out => Some(format!(
            "no verdict: the guest did not finish within {} s",
            boot.timeout.as_secs()
        )),
        None => Some(format!(
            "no verdict: the guest stopped first (QEMU {})",
            outcome.exit
        )),
        // Lines lost on the console are failures too.
        Some((p, f)) if f > report.failed || p != report.passed => Some(format!(
            "the verdict says {p} passed, {f} failed; the console showed {} and {}",
            report.passed, report.failed
        )),
        Some(_) => None,
    };
    if let Some(problem) = problem {
        report.failed += 1;
        println!("  [{mode}] FAILED (boot): {problem}");
        report.kernel_lockup = verdict
            .is_none()
            .then(|| kernel_lockup(&outcome.lines))
            .flatten();
    }
    if report.failed > 0 && !verbose {
        let tail = 150;
        println!(
            "  [{mode}] the console, last {tail} lines (all of it: {}):",
            boot.log.display()
        );
        for line in &outcome.lines[outcome.lines.len().saturating_sub(tail)..] {
            println!("    | {line}");
        }
    }
    println!(
        "vm-test: {mode}: {} passed, {} failed in {:.0} s",
        report.passed, report.failed, report.total_s
    );
    Ok(report)
}
