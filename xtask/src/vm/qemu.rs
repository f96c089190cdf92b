//! Booting the guest under QEMU and reading its serial console.
//!
//! The console is the guest's only channel: the kernel's messages and the
//! suite's `TDVM-*` lines come through `-nographic`'s serial on QEMU's
//! stdout, read line by line as they come. A boot ends when QEMU exits
//! (the guest powers off, or reboots after a panic: `-no-reboot` makes that
//! an exit too) or when its time is up, then QEMU is killed.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

/// Which accelerator QEMU uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    fn args(self) -> [&'static str; 4] {
        match self {
            Accel::Kvm => ["-accel", "kvm", "-cpu", "host"],
            // The baseline x86-64 CPU: glibc then takes its SSE2 paths,
            // which TCG runs faster than the AVX ones `-cpu max` offers.
            Accel::Tcg => ["-accel", "tcg", "-cpu", "qemu64"],
        }
    }
}

/// One boot.
pub struct Boot<'a> {
    pub qemu: &'a Path,
    pub accel: Accel,
    pub kernel: &'a Path,
    pub initrd: &'a Path,
    /// The kernel command line after the console settings.
    pub append: String,
    pub memory_mib: u32,
    pub cpus: u32,
    pub timeout: Duration,
    /// Where the whole console output goes.
    pub log: PathBuf,
}

/// How a boot ended.
pub struct Outcome {
    /// Every console line, in order.
    pub lines: Vec<String>,
    /// QEMU's own exit, or why there was none.
    pub exit: String,
    pub timed_out: bool,
    pub elapsed: Duration,
}

/// The QEMU binary on PATH.
pub fn find_qemu() -> Result<PathBuf> {
    crate::vm::initramfs::host_program("qemu-system-x86_64")
        .ok_or_else(|| anyhow!("qemu-system-x86_64 not found: apt-get install qemu-system-x86"))
}

/// Whether /dev/kvm can be opened for reading and writing.
pub fn kvm_device_usable() -> bool {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// Kill QEMU (our own child, by its handle) and reap it, giving up after
/// a few seconds if the kernel does not let it go; whether it is gone.
fn kill(child: &mut Child) -> (String, bool) {
    let _ = child.kill();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (format!("killed ({status})"), true),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => return ("killed, but it did not exit within 10 s".into(), false),
            Err(e) => return (format!("killed, wait failed: {e}"), false),
        }
    }
}

impl Boot<'_> {
    fn command(&self) -> Command {
        let mut cmd = Command::new(self.qemu);
        cmd.args(self.accel.args())
            .args(["-m", &self.memory_mib.to_string()])
            .args(["-smp", &self.cpus.to_string()])
            // No network device: the guest reaches nothing outside itself.
            .args(["-nographic", "-no-reboot", "-nic", "none"])
            .arg("-kernel")
            .arg(self.kernel)
            .arg("-initrd")
            .arg(self.initrd)
            .arg("-append")
            .arg(format!(
                // panic=-1: reboot at once on a panic, which -no-reboot
                // turns into QEMU's exit; softlockup_panic=1: a kernel
                // soft lockup is such a panic, not a wait for the time
                // limit. loglevel=3: only emergencies on the console (the
                // suite shows dmesg on failure).
                "console=ttyS0 panic=-1 oops=panic softlockup_panic=1 loglevel=3 {}",
                self.append
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Boot and read the console until QEMU exits or the time is up;
    /// `on_line` sees each line as it comes.
    pub fn run(&self, mut on_line: impl FnMut(&str)) -> Result<Outcome> {
        let started = Instant::now();
        let mut cmd = self.command();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("start {}", self.qemu.display()))?;
        let mut log = fs::File::create(&self.log)
            .with_context(|| format!("create {}", self.log.display()))?;
        writeln!(log, "$ {cmd:?}")?;
        let (tx, rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("stdout pipe");
        let tx_out = tx.clone();
        let reader = std::thread::spawn(move || {
            // Raw bytes: the console is not always UTF-8 (the firmware's
            // escape sequences), and lines end in "\r\n".
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.trim_end_matches(['\n', '\r']).replace('\r', "");
                        if tx_out.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let mut stderr = child.stderr.take().expect("stderr pipe");
        let err_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            for line in text.lines() {
                let _ = tx.send(format!("qemu: {line}"));
            }
        });
        let deadline = started + self.timeout;
        let mut lines = Vec::new();
        let mut timed_out = false;
        loop {
            let now = Instant::now();
            if now >= deadline {
                timed_out = true;
                break;
            }
            match rx.recv_timeout((deadline - now).min(Duration::from_millis(500))) {
                Ok(line) => {
                    writeln!(log, "{line}")?;
                    on_line(&line);
                    lines.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let (exit, gone) = if timed_out {
            kill(&mut child)
        } else {
            match child.wait() {
                Ok(status) => (status.to_string(), true),
                Err(e) => (format!("wait failed: {e}"), false),
            }
        };
        // The readers end with QEMU's pipes; a QEMU that would not die
        // keeps them open, and its readers are left behind.
        if gone {
            let _ = reader.join();
            let _ = err_reader.join();
        }
        // Lines that came while QEMU was being killed.
        for line in rx.try_iter() {
            writeln!(log, "{line}")?;
            lines.push(line);
        }
        writeln!(log, "# QEMU: {exit}")?;
        Ok(Outcome {
            lines,
            exit,
            timed_out,
            elapsed: started.elapsed(),
        })
    }
}
