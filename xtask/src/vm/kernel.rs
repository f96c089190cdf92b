//! The guest kernel and its modules.
//!
//! By default a Debian kernel package (`linux-image-6.1.0-N-amd64`, the
//! newest apt knows), fetched with `apt-get download` and unpacked with
//! `dpkg -x` into a cache under `target/vm/kernel/`; or a kernel the user
//! passes, with its modules from `--modules` or found next to it.
//!
//! The modules the runtime needs are put in load order from the kernel's
//! `modules.dep`, or, where there is none (a Debian package leaves it to
//! `depmod` at install time), from the `depends=` field of each module's
//! `.modinfo` section (`modinfo(8)`). Compressed modules are decompressed
//! here, so the guest's busybox `insmod` loads them as they are.
//!
//! A bzImage decompresses itself, which takes seconds under TCG; when its
//! payload is an ELF `vmlinux` with a PVH entry note, QEMU boots that
//! directly instead (its decompression happens once, here).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

/// Modules tinydocker and the tests need, with why. Their dependencies
/// come along from the module metadata.
pub const WANTED: &[(&str, &str)] = &[
    ("overlay", "the containers' root filesystems"),
    ("veth", "container network endpoints"),
    ("bridge", "bridge networks"),
    ("nf_tables", "the `ip tinydocker` table"),
    ("nft_chain_nat", "its nat base chains"),
    ("nft_nat", "dnat of published ports"),
    ("nft_masq", "masquerade of outbound traffic"),
    ("nft_ct", "`ct status dnat` of the hairpin rule"),
    ("nft_fib_ipv4", "`fib daddr type local`"),
    ("loop", "a block device for the security tests"),
    ("dummy", "the guest's eth0, as a host has one"),
];

/// A kernel to boot, and the modules to load into it.
pub struct Kernel {
    /// What QEMU's `-kernel` gets: the extracted vmlinux when it has a PVH
    /// entry, else the bzImage.
    pub boot_image: PathBuf,
    /// The bzImage as fetched or passed.
    pub bzimage: PathBuf,
    /// The kernel release (`uname -r`), from the bzImage header.
    pub release: String,
    /// `lib/modules/<release>`, when there is one.
    pub modules_dir: Option<PathBuf>,
}

/// A module file to pack, in load order.
pub struct Module {
    pub name: String,
    /// The module as a plain ELF file (decompressed if it was not).
    pub file: PathBuf,
}

impl Kernel {
    /// The kernel at `path` (a bzImage); modules from `modules` or from
    /// `lib/modules/<release>` beside it. `scratch` takes the extracted
    /// vmlinux.
    pub fn from_path(path: &Path, modules: Option<&Path>, scratch: &Path) -> Result<Kernel> {
        if !path.is_file() {
            bail!(
                "kernel {} does not exist: pass the path of a vmlinuz (bzImage) with --kernel, or leave --kernel out to use Debian's package",
                path.display()
            );
        }
        let release = bzimage_release(path)?;
        let modules_dir = match modules {
            Some(dir) => {
                let dir = if dir.join("kernel").is_dir() || dir.join("modules.dep").is_file() {
                    dir.to_path_buf()
                } else {
                    dir.join("lib/modules").join(&release)
                };
                if !dir.is_dir() {
                    bail!(
                        "--modules {}: no modules there for kernel {release}: pass lib/modules/{release} (or a root directory holding it)",
                        dir.display()
                    );
                }
                Some(dir)
            }
            None => {
                let parent = path.parent().unwrap_or(Path::new("."));
                let candidates = [
                    parent.join("lib/modules").join(&release),
                    parent.join("../lib/modules").join(&release),
                    parent.join("../usr/lib/modules").join(&release),
                    PathBuf::from("/lib/modules").join(&release),
                ];
                candidates.into_iter().find(|d| d.is_dir())
            }
        };
        let boot_image = pvh_image(path, scratch)?;
        Ok(Kernel {
            boot_image: boot_image.unwrap_or_else(|| path.to_path_buf()),
            bzimage: path.to_path_buf(),
            release,
            modules_dir,
        })
    }

    /// Debian's kernel package `package` (or the newest
    /// `linux-image-6.1.0-N-amd64[-unsigned]` apt knows), unpacked under
    /// `cache` unless it already is.
    pub fn debian(package: Option<&str>, cache: &Path) -> Result<Kernel> {
        let package = match package {
            Some(p) => p.to_string(),
            None => newest_package()?,
        };
        let dir = cache.join(&package);
        if !dir.join(".complete").is_file() {
            unpack_package(&package, cache, &dir)?;
        }
        let boot = dir.join("boot");
        let vmlinuz = fs::read_dir(&boot)
            .with_context(|| format!("read {}", boot.display()))?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
            })
            .ok_or_else(|| anyhow!("package {package} holds no boot/vmlinuz-*"))?;
        let release = bzimage_release(&vmlinuz)?;
        let modules_dir = [dir.join("lib/modules"), dir.join("usr/lib/modules")]
            .into_iter()
            .map(|d| d.join(&release))
            .find(|d| d.is_dir());
        // The extracted vmlinux is cached with the package.
        let boot_image = match dir.join("vmlinux") {
            cached if cached.is_file() => Some(cached),
            _ => pvh_image(&vmlinuz, &dir)?,
        };
        Ok(Kernel {
            boot_image: boot_image.unwrap_or_else(|| vmlinuz.clone()),
            bzimage: vmlinuz,
            release,
            modules_dir,
        })
    }

    /// The modules of [`WANTED`] and their dependencies, dependencies
    /// first, decompressed into `out` where needed. Built-in ones are left
    /// out. Without a modules directory: none, and a note that the kernel
    /// must have them built in.
    pub fn modules(&self, out: &Path) -> Result<Vec<Module>> {
        let Some(dir) = &self.modules_dir else {
            println!(
                "vm-test: no modules found for kernel {} (pass --modules DIR); assuming overlay, veth, bridge and nf_tables are built in",
                self.release
            );
            return Ok(Vec::new());
        };
        let builtin = builtin_modules(dir);
        let index = ModuleIndex::new(dir)?;
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        for (name, why) in WANTED {
            let name = normalize(name);
            if builtin.contains(&name) {
                continue;
            }
            if !index.paths.contains_key(&name) {
                bail!(
                    "kernel {}: module {name} ({why}) is neither built in nor in {}",
                    self.release,
                    dir.display()
                );
            }
            index.visit(&name, &builtin, &mut seen, &mut order, 0)?;
        }
        fs::create_dir_all(out)?;
        let mut modules = Vec::new();
        for name in order {
            let path = &index.paths[&name];
            let file = match decompressor(path) {
                None => path.clone(),
                Some(_) => {
                    let dest = out.join(format!("{name}.ko"));
                    fs::write(&dest, read_module(path)?)
                        .with_context(|| format!("write {}", dest.display()))?;
                    dest
                }
            };
            modules.push(Module { name, file });
        }
        Ok(modules)
    }
}

/// Module names use `_` where file names may use `-`.
fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// The module name of a file `.../nf_tables.ko[.xz|.zst|.gz]`.
fn module_name(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_string_lossy().into_owned();
    let stem = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .find_map(|ext| file.strip_suffix(ext))?;
    Some(normalize(stem))
}

/// Names listed in `modules.builtin`.
fn builtin_modules(dir: &Path) -> BTreeSet<String> {
    fs::read_to_string(dir.join("modules.builtin"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| module_name(Path::new(l.trim())))
        .collect()
}

/// Where each module is, and what it depends on.
struct ModuleIndex {
    paths: BTreeMap<String, PathBuf>,
    /// From modules.dep, when there is one; otherwise read from each
    /// module's .modinfo on demand.
    deps: Option<BTreeMap<String, Vec<String>>>,
}

impl ModuleIndex {
    fn new(dir: &Path) -> Result<ModuleIndex> {
        let mut paths = BTreeMap::new();
        let dep_file = dir.join("modules.dep");
        if let Ok(text) = fs::read_to_string(&dep_file) {
            // "kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko"
            let mut deps = BTreeMap::new();
            for line in text.lines() {
                let Some((module, rest)) = line.split_once(':') else {
                    continue;
                };
                let Some(name) = module_name(Path::new(module)) else {
                    continue;
                };
                let list = rest
                    .split_whitespace()
                    .filter_map(|d| module_name(Path::new(d)))
                    .collect();
                paths.insert(name.clone(), dir.join(module));
                deps.insert(name, list);
            }
            return Ok(ModuleIndex {
                paths,
                deps: Some(deps),
            });
        }
        let mut stack = vec![dir.join("kernel")];
        while let Some(d) = stack.pop() {
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(path);
                } else if let Some(name) = module_name(&path) {
                    paths.insert(name, path);
                }
            }
        }
        if paths.is_empty() {
            bail!("no modules under {}", dir.display());
        }
        Ok(ModuleIndex { paths, deps: None })
    }

    /// What `name` needs loaded first: its `depends` (from modules.dep or
    /// its .modinfo) and its `softdep` "pre:" modules (crypto algorithms a
    /// library asks for by name at init: libcrc32c's crc32c).
    fn depends(&self, name: &str) -> Result<Vec<String>> {
        let path = &self.paths[name];
        let info = read_module(path)
            .and_then(|elf| modinfo(&elf))
            .with_context(|| format!("read .modinfo of {}", path.display()))?;
        let mut deps: Vec<String> = match &self.deps {
            Some(deps) => deps.get(name).cloned().unwrap_or_default(),
            None => info
                .iter()
                .filter_map(|kv| kv.strip_prefix("depends="))
                .flat_map(|v| v.split(','))
                .filter(|d| !d.is_empty())
                .map(normalize)
                .collect(),
        };
        for soft in info.iter().filter_map(|kv| kv.strip_prefix("softdep=")) {
            // "pre: crc32c post: foo"
            let pre = soft
                .split_once("pre:")
                .map(|(_, rest)| rest.split("post:").next().unwrap_or(""))
                .unwrap_or("");
            for alias in pre.split_whitespace() {
                match self.resolve(alias) {
                    Some(module) => deps.push(module),
                    None => println!(
                        "vm-test: {name} would like {alias} loaded first; no module provides it"
                    ),
                }
            }
        }
        Ok(deps)
    }

    /// The module called `alias`, or providing it (`alias=` in its
    /// .modinfo; the generic implementation of a crypto algorithm first).
    /// Only modules whose names contain the alias are read.
    fn resolve(&self, alias: &str) -> Option<String> {
        let alias = normalize(alias);
        if self.paths.contains_key(&alias) {
            return Some(alias);
        }
        let mut providers: Vec<&String> = self
            .paths
            .iter()
            .filter(|(name, _)| name.contains(&alias))
            .filter(|(_, path)| {
                read_module(path)
                    .and_then(|elf| modinfo(&elf))
                    .is_ok_and(|info| {
                        info.iter().any(|kv| {
                            kv.strip_prefix("alias=")
                                .is_some_and(|a| normalize(a) == alias)
                        })
                    })
            })
            .map(|(name, _)| name)
            .collect();
        providers.sort_by_key(|name| !name.ends_with("_generic"));
        providers.first().map(|n| n.to_string())
    }

    /// Depth-first: a module's dependencies go before it.
    fn visit(
        &self,
        name: &str,
        builtin: &BTreeSet<String>,
        seen: &mut BTreeSet<String>,
        order: &mut Vec<String>,
        depth: usize,
    ) -> Result<()> {
        if depth > 64 {
            bail!("module dependencies of {name} loop");
        }
        if builtin.contains(name) || !seen.insert(name.to_string()) {
            return Ok(());
        }
        if !self.paths.contains_key(name) {
            bail!("module {name} is needed but not found");
        }
        for dep in self.depends(name)? {
            self.visit(&dep, builtin, seen, order, depth + 1)?;
        }
        order.push(name.to_string());
        Ok(())
    }
}

/// The external decompressor for a compressed module, by its extension.
fn decompressor(path: &Path) -> Option<(&'static str, &'static str)> {
    let name = path.to_string_lossy();
    if name.ends_with(".xz") {
        Some(("xz", "xz-utils"))
    } else if name.ends_with(".zst") {
        Some(("zstd", "zstd"))
    } else if name.ends_with(".gz") {
        Some(("gzip", "gzip"))
    } else {
        None
    }
}

/// A module's bytes, decompressed.
fn read_module(path: &Path) -> Result<Vec<u8>> {
    let data = fs::read(path).with_context(|| format!("read {}", path.display()))?;
    match decompressor(path) {
        None => Ok(data),
        Some((tool, package)) => decompress(tool, package, &data)
            .with_context(|| format!("decompress {}", path.display())),
    }
}

/// `tool -dc` of `data`.
fn decompress(tool: &str, package: &str, data: &[u8]) -> Result<Vec<u8>> {
    let mut child = Command::new(tool)
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow!("run {tool} ({e}): apt-get install {package}"))?;
    let mut stdin = child.stdin.take().expect("stdin pipe");
    let input = data.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output()?;
    let _ = writer.join();
    if out.stdout.is_empty() {
        bail!(
            "{tool} -dc failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

// ---------------------------------------------------------------------------
// ELF and bzImage reading

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The `key=value` strings of a module's `.modinfo` section (ELF64,
/// little-endian).
fn modinfo(elf: &[u8]) -> Result<Vec<String>> {
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) {
        bail!("not an ELF64 file");
    }
    let bad = || anyhow!("truncated ELF file");
    let shoff = u64_at(elf, 0x28).ok_or_else(bad)? as usize;
    let shentsize = u16_at(elf, 0x3a).ok_or_else(bad)? as usize;
    let shnum = u16_at(elf, 0x3c).ok_or_else(bad)? as usize;
    let shstrndx = u16_at(elf, 0x3e).ok_or_else(bad)? as usize;
    let section = |i: usize| -> Option<(u32, usize, usize)> {
        let h = shoff + i * shentsize;
        Some((
            u32_at(elf, h)?,
            u64_at(elf, h + 24)? as usize,
            u64_at(elf, h + 32)? as usize,
        ))
    };
    let (_, stroff, strsize) = section(shstrndx).ok_or_else(bad)?;
    let names = elf.get(stroff..stroff + strsize).ok_or_else(bad)?;
    for i in 0..shnum {
        let (name, off, size) = section(i).ok_or_else(bad)?;
        let name = names.get(name as usize..).unwrap_or_default();
        if name.starts_with(b".modinfo\0") {
            let data = elf.get(off..off + size).ok_or_else(bad)?;
            return Ok(data
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect());
        }
    }
    bail!("no .modinfo section")
}

/// The release a bzImage was built as: the first word of its version
/// string (the setup header's `kernel_version`, see the kernel's
/// Documentation/arch/x86/boot.rst).
pub fn bzimage_release(path: &Path) -> Result<String> {
    let mut head = vec![0u8; 64 * 1024];
    let n = {
        use std::io::Read;
        let mut f = fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
        f.read(&mut head)?
    };
    head.truncate(n);
    let not_bzimage = || {
        anyhow!(
            "{} is not a bzImage (no Linux boot header): pass a vmlinuz with --kernel",
            path.display()
        )
    };
    if head.get(0x202..0x206) != Some(b"HdrS") {
        return Err(not_bzimage());
    }
    let at = 0x200 + u16_at(&head, 0x20e).ok_or_else(not_bzimage)? as usize;
    let text = head.get(at..).ok_or_else(not_bzimage)?;
    let end = text.iter().position(|b| *b == 0).unwrap_or(text.len());
    let version = String::from_utf8_lossy(&text[..end]);
    version
        .split_whitespace()
        .next()
        .map(str::to_string)
        .ok_or_else(not_bzimage)
}

/// Decompress the bzImage's payload into `dir/vmlinux` when it is an ELF
/// image with a PVH entry (an `XEN_ELFNOTE_PHYS32_ENTRY` note), which QEMU
/// boots without the in-guest decompression; `None` otherwise.
fn pvh_image(bzimage: &Path, dir: &Path) -> Result<Option<PathBuf>> {
    let image = fs::read(bzimage).with_context(|| format!("read {}", bzimage.display()))?;
    let Some(payload) = bzimage_payload(&image) else {
        return Ok(None);
    };
    let (tool, package) = match payload {
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => ("xz", "xz-utils"),
        [0x1f, 0x8b, ..] => ("gzip", "gzip"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => ("zstd", "zstd"),
        _ => return Ok(None),
    };
    let Ok(elf) = decompress(tool, package, payload) else {
        return Ok(None);
    };
    if !has_pvh_note(&elf) {
        return Ok(None);
    }
    fs::create_dir_all(dir)?;
    let dest = dir.join("vmlinux");
    let tmp = dir.join("vmlinux.tmp");
    fs::write(&tmp, &elf).with_context(|| format!("write {}", tmp.display()))?;
    fs::rename(&tmp, &dest)?;
    Ok(Some(dest))
}

/// The compressed kernel inside a bzImage (`payload_offset`,
/// `payload_length`, from protocol 2.08 on).
fn bzimage_payload(image: &[u8]) -> Option<&[u8]> {
    if image.get(0x202..0x206) != Some(b"HdrS") || u16_at(image, 0x206)? < 0x208 {
        return None;
    }
    let setup_sects = match *image.get(0x1f1)? {
        0 => 4,
        n => n as usize,
    };
    let start = (setup_sects + 1) * 512 + u32_at(image, 0x248)? as usize;
    let len = u32_at(image, 0x24c)? as usize;
    image.get(start..start + len)
}

/// Whether an ELF64 image has a Xen note of type 18 (PHYS32_ENTRY) in a
/// PT_NOTE segment.
fn has_pvh_note(elf: &[u8]) -> bool {
    let check = || -> Option<bool> {
        if elf.get(..4)? != b"\x7fELF" || *elf.get(4)? != 2 {
            return Some(false);
        }
        let phoff = u64_at(elf, 0x20)? as usize;
        let phentsize = u16_at(elf, 0x36)? as usize;
        let phnum = u16_at(elf, 0x38)? as usize;
        for i in 0..phnum {
            let h = phoff + i * phentsize;
            if u32_at(elf, h)? != 4 {
                continue; // not PT_NOTE
            }
            let off = u64_at(elf, h + 8)? as usize;
            let size = u64_at(elf, h + 32)? as usize;
            let notes = elf.get(off..off + size)?;
            let mut at = 0;
            while at + 12 <= notes.len() {
                let namesz = u32_at(notes, at)? as usize;
                let descsz = u32_at(notes, at + 4)? as usize;
                let kind = u32_at(notes, at + 8)?;
                let name = notes.get(at + 12..at + 12 + namesz)?;
                if kind == 18 && name.starts_with(b"Xen") {
                    return Some(true);
                }
                at += 12 + namesz.next_multiple_of(4) + descsz.next_multiple_of(4);
            }
        }
        Some(false)
    };
    check().unwrap_or(false)
}

// ---------------------------------------------------------------------------
// Debian's package

/// The newest `linux-image-6.1.0-N-amd64` apt knows: the unsigned package
/// when both exist (the same kernel without the EFI signature).
fn newest_package() -> Result<String> {
    let out = Command::new("apt-cache")
        .args([
            "search",
            "--names-only",
            r"^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$",
        ])
        .output()
        .map_err(|e| anyhow!("run apt-cache ({e}): pass a kernel with --kernel PATH"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let best = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|name| {
            let abi = name
                .strip_prefix("linux-image-6.1.0-")?
                .split('-')
                .next()?
                .parse::<u32>()
                .ok()?;
            Some((abi, name.ends_with("-unsigned"), name.to_string()))
        })
        .max();
    match best {
        Some((_, _, name)) => Ok(name),
        None => bail!(
            "apt knows no linux-image-6.1.0-*-amd64 package: run apt-get update (Debian 12 sources), or pass a kernel with --kernel PATH"
        ),
    }
}

/// `apt-get download PACKAGE` and `dpkg -x` it into `dest`.
fn unpack_package(package: &str, cache: &Path, dest: &Path) -> Result<()> {
    let work = cache.join(format!("download-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
    let result = (|| -> Result<()> {
        println!("vm-test: apt-get download {package}");
        let out = Command::new("apt-get")
            .args(["download", package])
            .current_dir(&work)
            .output()
            .map_err(|e| anyhow!("run apt-get ({e}): pass a kernel with --kernel PATH"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rfind(|l| l.starts_with("E:"))
                .or_else(|| err.lines().last())
                .unwrap_or("");
            bail!("apt-get download {package} failed ({last}): run apt-get update, or pass a kernel with --kernel PATH");
        }
        let deb = fs::read_dir(&work)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .ok_or_else(|| anyhow!("apt-get download {package} left no .deb"))?;
        let tree = work.join("tree");
        let status = Command::new("dpkg")
            .arg("-x")
            .arg(&deb)
            .arg(&tree)
            .status()
            .map_err(|e| anyhow!("run dpkg ({e}): pass a kernel with --kernel PATH"))?;
        if !status.success() {
            bail!("dpkg -x {} failed: {status}", deb.display());
        }
        fs::write(tree.join(".complete"), format!("{package}\n"))?;
        let _ = fs::remove_dir_all(dest);
        fs::rename(&tree, dest).with_context(|| format!("create {}", dest.display()))?;
        // One kernel cached at a time: the packages of older runs go.
        for e in fs::read_dir(cache).into_iter().flatten().flatten() {
            let name = e.file_name();
            if e.path() != dest && name.to_string_lossy().starts_with("linux-image-") {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&work);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        assert_eq!(
            module_name(Path::new("kernel/net/nf_tables.ko.xz")).as_deref(),
            Some("nf_tables")
        );
        assert_eq!(
            module_name(Path::new("/x/nft-chain-nat.ko")).as_deref(),
            Some("nft_chain_nat")
        );
        assert_eq!(module_name(Path::new("modules.dep")), None);
    }

    #[test]
    fn modinfo_of_a_minimal_elf() {
        // An ELF64 header, then sections: null, .shstrtab, .modinfo.
        let names = b"\0.shstrtab\0.modinfo\0";
        let info = b"license=GPL\0depends=stp,llc\0";
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        let names_at = elf.len();
        elf.extend_from_slice(names);
        let info_at = elf.len();
        elf.extend_from_slice(info);
        let shoff = elf.len();
        let mut sh = |name: u32, off: usize, size: usize| {
            let mut h = vec![0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[24..32].copy_from_slice(&(off as u64).to_le_bytes());
            h[32..40].copy_from_slice(&(size as u64).to_le_bytes());
            elf.extend_from_slice(&h);
        };
        sh(0, 0, 0);
        sh(1, names_at, names.len());
        sh(11, info_at, info.len());
        elf[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        elf[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(
            modinfo(&elf).unwrap(),
            vec!["license=GPL".to_string(), "depends=stp,llc".to_string()]
        );
    }
}
