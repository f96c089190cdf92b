//! Cases 9-11: pulls from a private registry on 127.0.0.1 — Debian's
//! `docker-registry`, started by the bench through the tests' harness
//! (`tinydocker_tests::registry`) and stopped by its teardown — of two
//! images made by umoci and pushed by skopeo once per run, never by
//! tinydocker's own code:
//!
//! - big: five layers of 20 MB of file content each, 100 MB in all
//!   (uncompressed): in each, three 4 MB files of seeded pseudo-random
//!   bytes, which gzip cannot shrink, and eight 1 MB files of seeded random
//!   words, which it does; about 70 MB compressed.
//! - small files: one layer of the first 15,000 regular files of at most
//!   32 KiB of the host's /usr/share, then /usr/lib, in directory order,
//!   with their directories (a debootstrap would need the network).
//!
//! A cold pull goes into an empty store: a fresh state root for each run
//! (tinydocker's `--root`; podman's `--root`, `--runroot` and `--tmpdir`,
//! with its default driver, overlay), set up by an untimed `images` first,
//! so the creation of the store is not timed, and removed (untimed) after.

use std::fs;
use std::io::{BufRead, Seek};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::cases::{alternate_rounds, report_rounds, rows, Contender};
use super::measure::{measure, short_error, Stats, Tree};
use super::peers::{Podman, Tinydocker};
use super::report::{CaseReport, Outcome, Row};
use super::signals::is_interrupted;
use super::{teardown, Bench, Case};

/// The registry the bench started.
pub struct Served {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its access log, a line per request.
    pub access_log: PathBuf,
}

/// An image pushed to the registry.
pub struct Image {
    /// `127.0.0.1:PORT/tdbench/NAME:latest`.
    pub reference: String,
    pub layers: usize,
    /// Regular files, and the bytes of their content (what is unpacked).
    pub files: u64,
    pub bytes: u64,
    /// The layers' blobs (gzip), as pulled.
    pub compressed: u64,
}

impl Image {
    fn describe(&self) -> String {
        format!(
            "{} layer{}, {} files, {:.1} MB unpacked, {:.1} MB compressed",
            self.layers,
            if self.layers == 1 { "" } else { "s" },
            self.files,
            self.bytes as f64 / 1e6,
            self.compressed as f64 / 1e6
        )
    }
}

pub struct Images {
    pub big: Image,
    pub small: Image,
    pub access_log: PathBuf,
}

/// Why the pull cases cannot run here, if a tool is missing.
pub fn missing_tools() -> Option<String> {
    let missing: Vec<&str> = ["docker-registry", "skopeo", "umoci"]
        .into_iter()
        .filter(|tool| super::peers::version(tool).is_none())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "not run: the registry and the test images need {} (apt-get install {})",
            missing.join(", "),
            missing.join(" ")
        )
    })
}

/// Run `cmd` to success; its stderr in the error.
fn run_tool(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("start {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// SplitMix64: seeded, fast, and good enough that gzip finds nothing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

const WORDS: [&str; 32] = [
    "container",
    "image",
    "layer",
    "registry",
    "manifest",
    "digest",
    "runtime",
    "namespace",
    "cgroup",
    "mount",
    "overlay",
    "process",
    "signal",
    "network",
    "bridge",
    "volume",
    "tar",
    "gzip",
    "blob",
    "config",
    "platform",
    "kernel",
    "memory",
    "limit",
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "with",
];

/// `size` bytes: pseudo-random (`text` false) or random words.
fn content(rng: &mut Rng, size: usize, text: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 16);
    if text {
        while out.len() < size {
            let r = rng.next();
            out.extend_from_slice(WORDS[(r & 31) as usize].as_bytes());
            out.push(if r >> 60 == 0 { b'\n' } else { b' ' });
        }
    } else {
        while out.len() < size {
            out.extend_from_slice(&rng.next().to_le_bytes());
        }
    }
    out.truncate(size);
    out
}

/// The sizes of the layers of `LAYOUT:img` (its manifest's `layers`).
fn layer_sizes(layout: &Path) -> Result<Vec<u64>> {
    let blob = |digest: &str| -> Result<Value> {
        let hex = digest
            .strip_prefix("sha256:")
            .context("not a sha256 digest")?;
        let path = layout.join("blobs/sha256").join(hex);
        Ok(serde_json::from_slice(
            &fs::read(&path).with_context(|| format!("read {}", path.display()))?,
        )?)
    };
    let index: Value = serde_json::from_slice(&fs::read(layout.join("index.json"))?)?;
    let digest = index["manifests"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == "img")
        })
        .and_then(|d| d["digest"].as_str())
        .context("no image img in the layout's index")?;
    let manifest = blob(digest)?;
    manifest["layers"]
        .as_array()
        .context("a manifest without layers")?
        .iter()
        .map(|l| l["size"].as_u64().context("a layer without a size"))
        .collect()
}

/// A new OCI layout at `layout` with an empty image `img`.
fn new_layout(layout: &Path) -> Result<String> {
    run_tool(
        Command::new("umoci")
            .arg("init")
            .arg("--layout")
            .arg(layout),
    )?;
    let image = format!("{}:img", layout.display());
    run_tool(Command::new("umoci").args(["new", "--image", &image]))?;
    Ok(image)
}

/// `umoci raw add-layer` of the tar `tar` (made by GNU tar) to `image`.
fn add_layer(image: &str, tar: &Path) -> Result<()> {
    run_tool(
        Command::new("umoci")
            .args(["raw", "add-layer", "--image", image])
            .arg(tar),
    )
}

fn push(served: &Served, layout: &Path, name: &str) -> Result<String> {
    let reference = format!("{}/tdbench/{name}:latest", served.addr);
    run_tool(
        Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false", "--format", "oci"])
            .arg(format!("oci:{}:img", layout.display()))
            .arg(format!("docker://{reference}")),
    )?;
    Ok(reference)
}

/// The big image: five layers of three 4 MB random files and eight 1 MB
/// files of words.
fn big(served: &Served, dir: &Path) -> Result<Image> {
    let layout = dir.join("big-layout");
    let image = new_layout(&layout)?;
    let mut rng = Rng(0x7d0c_4e2b_1a5f_9e31);
    let (mut files, mut bytes) = (0, 0);
    for layer in 0..5 {
        let staging = dir.join(format!("big-{layer}"));
        let data = staging.join(format!("data/layer{layer}"));
        fs::create_dir_all(&data)?;
        for (i, (size, text)) in [(4_000_000, false); 3]
            .into_iter()
            .chain([(1_000_000, true); 8])
            .enumerate()
        {
            let name = if text { "txt" } else { "bin" };
            fs::write(
                data.join(format!("{i:02}.{name}")),
                content(&mut rng, size, text),
            )?;
            files += 1;
            bytes += size as u64;
        }
        let tar = dir.join(format!("big-{layer}.tar"));
        run_tool(
            Command::new("tar")
                .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
                .arg(&tar)
                .arg("-C")
                .arg(&staging)
                .arg("."),
        )?;
        fs::remove_dir_all(&staging)?;
        add_layer(&image, &tar)?;
        fs::remove_file(&tar)?;
    }
    let reference = push(served, &layout, "big")?;
    let sizes = layer_sizes(&layout)?;
    fs::remove_dir_all(&layout)?;
    Ok(Image {
        reference,
        layers: sizes.len(),
        files,
        bytes,
        compressed: sizes.iter().sum(),
    })
}

/// Up to `max` regular files of at most `limit` bytes below `dir`, in
/// directory order (names sorted), with the directories leading to them,
/// relative to /: (paths, files, bytes).
fn small_files(dirs: &[&str], max: u64, limit: u64) -> (Vec<String>, u64, u64) {
    fn walk(dir: &Path, max: u64, limit: u64, out: &mut (Vec<String>, u64, u64)) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if out.1 >= max {
                return;
            }
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let rel = path
                .strip_prefix("/")
                .unwrap_or(&path)
                .display()
                .to_string();
            // A name tar would mangle (a newline) is left out.
            if rel.contains('\n') {
                continue;
            }
            if meta.is_dir() {
                let before = out.0.len();
                out.0.push(rel);
                walk(&path, max, limit, out);
                // A directory with nothing taken below it stays out.
                if out.0.len() == before + 1 {
                    out.0.pop();
                }
            } else if meta.is_file() && meta.len() <= limit && fs::File::open(&path).is_ok() {
                out.0.push(rel);
                out.1 += 1;
                out.2 += meta.len();
            }
        }
    }
    let mut out = (Vec::new(), 0, 0);
    for dir in dirs {
        out.0.push(dir.trim_start_matches('/').to_string());
        walk(Path::new(dir), max, limit, &mut out);
    }
    out
}

/// The small-files image: one layer of the host's small files.
fn small(served: &Served, dir: &Path) -> Result<Image> {
    let layout = dir.join("small-layout");
    let image = new_layout(&layout)?;
    let (paths, files, bytes) = small_files(&["/usr/share", "/usr/lib"], 15_000, 32 << 10);
    let list = dir.join("small.list");
    fs::write(&list, paths.join("\n") + "\n")?;
    let tar = dir.join("small.tar");
    run_tool(
        Command::new("tar")
            .args([
                "--numeric-owner",
                "--owner=0",
                "--group=0",
                "--no-recursion",
            ])
            .arg("-cf")
            .arg(&tar)
            .args(["-C", "/", "-T"])
            .arg(&list),
    )?;
    add_layer(&image, &tar)?;
    fs::remove_file(&tar)?;
    let reference = push(served, &layout, "small")?;
    let sizes = layer_sizes(&layout)?;
    fs::remove_dir_all(&layout)?;
    Ok(Image {
        reference,
        layers: sizes.len(),
        files,
        bytes,
        compressed: sizes.iter().sum(),
    })
}

/// Make both images and push them to the bench's registry.
pub fn build_images(bench: &Bench, served: &Served) -> Result<Images> {
    let start = Instant::now();
    let dir = bench.scratch.join("pull-images");
    fs::create_dir_all(&dir)?;
    let big = big(served, &dir).context("the big test image (umoci, skopeo)")?;
    let small = small(served, &dir).context("the small-files test image (umoci, skopeo)")?;
    teardown::remove_tree(&dir)?;
    println!(
        "pull images, made by umoci and pushed by skopeo to the registry on {} in {:.1} s:\n  {}: {}\n  {}: {}",
        served.addr,
        start.elapsed().as_secs_f64(),
        big.reference,
        big.describe(),
        small.reference,
        small.describe(),
    );
    Ok(Images {
        big,
        small,
        access_log: served.access_log.clone(),
    })
}

/// A report with one row saying why the case did not run.
pub fn not_run(case: Case, why: &str) -> CaseReport {
    CaseReport {
        name: case.name(),
        number: case.number(),
        title: "pulls from a private registry".into(),
        rows: vec![Row {
            step: None,
            runtime: "tinydocker",
            label: "tinydocker".into(),
            command: String::new(),
            outcome: Outcome::Missing(why.into()),
        }],
        notes: Vec::new(),
        extra: Value::Null,
    }
}

/// What the last run wrote goes to the disk before the next is timed.
fn quiet_disk() {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
}

/// Remove the cold pulls' state roots, once the case is over. Not after
/// each run: on ext4 without a journal, the allocation of an inode skips
/// those freed in the last 30 s or so, one inode table block look-up each
/// (`recently_deleted`), and the files of a removed store made the next
/// run's 15,000 files several times slower to create.
fn remove_roots(bench: &Bench) -> Result<()> {
    teardown::remove_tree(&bench.scratch.join("pull"))?;
    teardown::remove_tree(&bench.scratch.join("pd"))
}

/// A fresh state root for run `i`: `images` (untimed, it sets the store
/// up), a sync, then `pull` (timed); the roots go at the end of the case.
fn cold_tinydocker<'a>(bench: &'a Bench, image: &'a Image, tag: &'a str) -> Contender<'a> {
    Contender::sequence(
        "tinydocker",
        "tinydocker",
        format!(
            "tinydocker pull {}   (a fresh --root each run)",
            image.reference
        ),
        move |i| {
            let td = Tinydocker {
                bin: bench.td.bin.clone(),
                root: bench.scratch.join(format!("pull/{tag}-tinydocker-{i}")),
            };
            fs::create_dir_all(&td.root)?;
            measure(&mut td.cmd(&["images"]), Tree::Whole, &bench.meter)?;
            quiet_disk();
            measure(
                &mut td.cmd(&["pull", &image.reference]),
                Tree::Whole,
                &bench.meter,
            )
        },
    )
}

/// Podman with its own store (root, runroot, tmpdir) in `dir`: a short
/// path, podman refuses a runroot of more than 50 characters.
fn podman_at(podman: &Podman, dir: PathBuf) -> Podman {
    Podman {
        dir,
        ..podman.clone()
    }
}

fn cold_podman<'a>(
    bench: &'a Bench,
    podman: &'a Podman,
    image: &'a Image,
    tag: &'a str,
) -> Contender<'a> {
    Contender::sequence(
        "podman",
        format!("podman {}", podman.version),
        format!(
            "podman pull --tls-verify=false {}   (a fresh --root, --runroot and --tmpdir each run; overlay driver)",
            image.reference
        ),
        move |i| {
            let p = podman_at(
                podman,
                bench.scratch.join(format!("pd/{tag}{i}")),
            );
            measure(&mut p.cmd(&["images"]), Tree::Whole, &bench.meter)?;
            quiet_disk();
            measure(
                &mut p.cmd(&["pull", "--tls-verify=false", &image.reference]),
                Tree::Whole,
                &bench.meter,
            )
        },
    )
}

/// tinydocker, and podman when installed, pulling `image` cold.
fn cold_pair<'a>(bench: &'a Bench, image: &'a Image, tag: &'a str) -> Vec<Contender<'a>> {
    let mut contenders = vec![cold_tinydocker(bench, image, tag)];
    if let Some(podman) = &bench.podman {
        contenders.push(cold_podman(bench, podman, image, tag));
    }
    contenders
}

/// Case 9: cold pulls of the big image.
pub fn pull_cold(bench: &Bench, images: &Images) -> Result<CaseReport> {
    let rounds = bench.pull_rounds();
    let mut contenders = cold_pair(bench, &images.big, "cold");
    alternate_rounds(&mut contenders, bench, rounds)?;
    remove_roots(bench)?;
    let mut report = report_rounds(
        Case::PullCold,
        format!(
            "cold pull from a registry on 127.0.0.1 into an empty store: {}",
            images.big.describe()
        ),
        &contenders,
        bench,
        rounds,
    );
    report.notes.push(
        "wall time of the pull command alone; each store is set up by an untimed `images` and the disk synced before, and all are removed at the end".into(),
    );
    Ok(report)
}

/// The requests in the access log after `offset`: (count, manifest
/// requests, version checks (`/v2/`, the API's ping, which also says how to
/// authenticate), one line of "GET manifest x1, ...").
fn requests_since(log: &Path, offset: u64) -> Result<(usize, usize, usize, String)> {
    // The registry writes its line once the response is out: a moment for
    // the last ones.
    std::thread::sleep(Duration::from_millis(100));
    let mut file = fs::File::open(log).with_context(|| format!("open {}", log.display()))?;
    file.seek(std::io::SeekFrom::Start(offset))?;
    let mut kinds: Vec<(String, usize)> = Vec::new();
    let mut manifests = 0;
    let mut pings = 0;
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        // 127.0.0.1 - - [date] "GET /v2/NAME/manifests/TAG HTTP/1.1" 200 ...
        let Some(request) = line.split('"').nth(1) else {
            continue;
        };
        let mut words = request.split_whitespace();
        let (Some(method), Some(path)) = (words.next(), words.next()) else {
            continue;
        };
        let what = if path == "/v2/" {
            pings += 1;
            "/v2/"
        } else if path.contains("/manifests/") {
            manifests += 1;
            "manifest"
        } else if path.contains("/blobs/") {
            "blob"
        } else {
            "other"
        };
        let kind = format!("{method} {what}");
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    let total = kinds.iter().map(|(_, n)| n).sum();
    let list = kinds
        .iter()
        .map(|(k, n)| format!("{k} x{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    Ok((total, manifests, pings, list))
}

/// The requests one run of `cmd` makes to the registry.
fn requests_of(cmd: &mut Command, bench: &Bench, log: &Path) -> Result<Value> {
    let offset = fs::metadata(log)?.len();
    measure(cmd, Tree::Whole, &bench.meter)?;
    let (total, manifests, pings, list) = requests_since(log, offset)?;
    Ok(json!({ "requests": total, "manifest_requests": manifests, "pings": pings, "list": list }))
}

/// Case 10: a pull of the big image, already in the store.
pub fn pull_warm(bench: &Bench, images: &Images) -> Result<CaseReport> {
    let image = &images.big;
    let reference = image.reference.as_str();
    let meter = &bench.meter;
    let td = Tinydocker {
        bin: bench.td.bin.clone(),
        root: bench.scratch.join("pull/warm-tinydocker"),
    };
    fs::create_dir_all(&td.root)?;
    measure(&mut td.cmd(&["pull", reference]), Tree::Whole, meter)
        .context("tinydocker pull (the first, untimed)")?;
    let podman = bench
        .podman
        .as_ref()
        .map(|p| podman_at(p, bench.scratch.join("pd/warm")));
    let td_ref = &td;
    let mut contenders = vec![Contender::new(
        "tinydocker",
        "tinydocker",
        format!("tinydocker pull {reference}   (the image is in the store)"),
        move |_| td_ref.cmd(&["pull", reference]),
    )];
    if let Some(p) = &podman {
        let label = format!("podman {}", p.version);
        let command =
            format!("podman pull --tls-verify=false {reference}   (the image is in the store)");
        match measure(
            &mut p.cmd(&["pull", "--tls-verify=false", reference]),
            Tree::Whole,
            meter,
        ) {
            Ok(_) => contenders.push(Contender::new("podman", label, command, move |_| {
                p.cmd(&["pull", "--tls-verify=false", reference])
            })),
            Err(e) if is_interrupted(&e) => return Err(e),
            Err(e) => contenders.push(Contender::failed("podman", label, command, short_error(&e))),
        }
    }
    let rounds = (bench.opts.warmup, bench.opts.runs);
    alternate_rounds(&mut contenders, bench, rounds)?;
    // One more run of each, untimed, with the registry's log read after.
    let mut requests = serde_json::Map::new();
    requests.insert(
        "tinydocker".into(),
        requests_of(&mut td.cmd(&["pull", reference]), bench, &images.access_log)?,
    );
    if let Some(p) = podman.as_ref().filter(|_| {
        contenders
            .iter()
            .any(|c| c.runtime == "podman" && c.failed.is_none())
    }) {
        match requests_of(
            &mut p.cmd(&["pull", "--tls-verify=false", reference]),
            bench,
            &images.access_log,
        ) {
            Ok(v) => {
                requests.insert("podman".into(), v);
            }
            Err(e) if is_interrupted(&e) => return Err(e),
            Err(_) => {}
        }
    }
    let mut report = report_rounds(
        Case::PullWarm,
        "pull of the case 9 image, already in the store".into(),
        &contenders,
        bench,
        rounds,
    );
    for (who, r) in &requests {
        report.notes.push(format!(
            "requests to the registry of one more {who} pull (its access log): {} ({})",
            r["requests"],
            r["list"].as_str().unwrap_or_default()
        ));
    }
    report.extra = json!({ "requests": requests });
    drop(contenders);
    teardown::remove_tree(&td.root)?;
    if let Some(p) = &podman {
        teardown::remove_tree(&p.dir)?;
    }
    Ok(report)
}

/// MB of file content per second of the median wall time.
fn throughput(image: &Image, stats: &Stats) -> String {
    let secs = stats.median_ms / 1e3;
    let mut text = format!("{:.0} MB/s", image.bytes as f64 / 1e6 / secs);
    if image.files >= 1000 {
        text.push_str(&format!(", {:.0} files/s", image.files as f64 / secs));
    }
    text
}

/// Case 11: unpack throughput, from cold pulls: the small-files image
/// here, the big one from case 9's runs when it ran (else here).
pub fn unpack(bench: &Bench, images: &Images, earlier: &[CaseReport]) -> Result<CaseReport> {
    let rounds = bench.pull_rounds();
    let mut contenders = cold_pair(bench, &images.small, "small");
    let split = contenders.len();
    let cold = earlier.iter().find(|r| r.name == Case::PullCold.name());
    if cold.is_none() {
        contenders.extend(cold_pair(bench, &images.big, "big"));
    }
    alternate_rounds(&mut contenders, bench, rounds)?;
    remove_roots(bench)?;
    let small_step = format!("small files ({})", images.small.describe());
    let big_step = format!("big ({})", images.big.describe());
    let mut table = Vec::new();
    for mut row in rows(&contenders[..split], Vec::new()) {
        row.step = Some(small_step.clone());
        table.push(row);
    }
    match cold {
        Some(report) => {
            for row in report.rows.iter().filter(|r| r.stats().is_some()) {
                table.push(Row {
                    step: Some(format!("{big_step}, case 9's runs")),
                    runtime: row.runtime,
                    label: row.label.clone(),
                    command: row.command.clone(),
                    outcome: match &row.outcome {
                        Outcome::Measured { stats, ratio } => Outcome::Measured {
                            stats: stats.clone(),
                            ratio: *ratio,
                        },
                        _ => unreachable!("filtered on stats"),
                    },
                });
            }
        }
        None => {
            for mut row in rows(&contenders[split..], Vec::new()) {
                row.step = Some(big_step.clone());
                table.push(row);
            }
        }
    }
    let mut extra = Vec::new();
    for row in &mut table {
        let image = match row.step.as_deref() {
            Some(s) if s.starts_with("small") => &images.small,
            _ => &images.big,
        };
        if let Some(stats) = row.stats() {
            let figure = throughput(image, stats);
            extra.push(json!({
                "image": if std::ptr::eq(image, &images.small) { "small" } else { "big" },
                "runtime": row.runtime,
                "mb_per_s": super::measure::round3(image.bytes as f64 / 1e3 / stats.median_ms),
                "files_per_s": super::measure::round3(image.files as f64 * 1e3 / stats.median_ms),
            }));
            row.label = format!("{}: {figure}", row.label);
        }
    }
    table.extend(bench.missing_rows(Case::Unpack));
    let mut notes = vec![
        format!(
            "{} runs each, alternating, after {} warm-up round{}; x tinydocker: median of the pairwise ratios",
            rounds.1,
            rounds.0,
            if rounds.0 == 1 { "" } else { "s" }
        ),
        "MB/s: the image's file content (unpacked bytes) over the median wall time of a cold pull (download over loopback, digest checks and unpack together: they overlap, a layer is unpacked as it arrives)".into(),
    ];
    for c in &contenders {
        notes.push(format!("{}: {}", c.label, c.command));
    }
    Ok(CaseReport {
        name: Case::Unpack.name(),
        number: Case::Unpack.number(),
        title: "unpack throughput, from cold pulls".into(),
        rows: table,
        notes,
        extra: json!({ "throughput": extra }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_content_does_not_compress_and_words_do() {
        let mut rng = Rng(1);
        let random = content(&mut rng, 1 << 16, false);
        let words = content(&mut rng, 1 << 16, true);
        assert_eq!((random.len(), words.len()), (1 << 16, 1 << 16));
        assert!(words.iter().all(|b| b.is_ascii()));
        // The same seed, the same bytes.
        assert_eq!(content(&mut Rng(1), 64, false), random[..64]);
    }

    #[test]
    fn small_files_take_directories_with_them() {
        let (paths, files, _) = small_files(&["/usr/share"], 5, 32 << 10);
        assert_eq!(files, 5);
        assert_eq!(paths[0], "usr/share");
        assert!(paths.len() > 5);
    }
}
