//! v1 `hugetlb` controller: a limit on the huge pages of each size the
//! cgroup's tasks may use (`hugetlb.<size>.limit_in_bytes`, sizes named as
//! the kernel names them: `2MB`, `1GB`); see the kernel's
//! `cgroup-v1/hugetlb.rst`.

use std::io;
use std::path::Path;

use crate::common::{write_io, Controller, Write};
use crate::{Error, Resources};

pub(crate) struct Hugetlb;

/// The end of the v1 limit files' names.
const LIMIT: &str = ".limit_in_bytes";

impl Controller for Hugetlb {
    const NAME: &'static str = "hugetlb";

    fn plan(res: &Resources) -> Vec<Write> {
        plan(res, LIMIT)
    }

    fn apply(dir: &Path, res: &Resources) -> Result<(), Error> {
        write_limits(dir, &Self::plan(res), LIMIT)
    }
}

/// The limit writes, `hugetlb.<size><suffix>` each (v1 and v2 differ in
/// the suffix only).
pub(crate) fn plan(res: &Resources, suffix: &str) -> Vec<Write> {
    res.hugepage_limits
        .iter()
        .map(|l| {
            Write::new(
                Hugetlb::NAME,
                &format!("hugetlb.{}{suffix}", l.page_size),
                l.limit.to_string(),
            )
        })
        .collect()
}

/// Do `writes` in `dir`. The controller has a file per page size the
/// kernel supports: a missing one, in a directory where the controller is,
/// is a size this kernel lacks, and the error names it and those it has.
/// Where the kernel (5.7+) also limits reservations
/// (`hugetlb.<size>.rsvd<suffix>`), the same limit goes there, as the
/// runtime spec asks ("if supported") and runc does.
pub(crate) fn write_limits(dir: &Path, writes: &[Write], suffix: &str) -> Result<(), Error> {
    for w in writes {
        let path = dir.join(&w.file);
        match write_io(&path, &w.value) {
            Ok(()) => {
                let reserved = w
                    .file
                    .strip_suffix(suffix)
                    .map(|stem| dir.join(format!("{stem}.rsvd{suffix}")));
                if let Some(reserved) = reserved.filter(|p| p.exists()) {
                    write_io(&reserved, &w.value).map_err(|source| Error::Write {
                        path: reserved,
                        value: w.value.clone(),
                        source,
                    })?;
                }
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let size = w
                    .file
                    .strip_prefix("hugetlb.")
                    .and_then(|f| f.strip_suffix(suffix))
                    .unwrap_or(&w.file);
                return Err(Error::NoHugePageSize {
                    size: size.to_string(),
                    available: page_sizes(dir, suffix).join(", "),
                    path,
                });
            }
            Err(source) => {
                return Err(Error::Write {
                    path,
                    value: w.value.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// The page sizes `dir` has limit files for, smallest first ("none" when
/// it has none).
fn page_sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let mut sizes: Vec<(u64, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let size = name.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            // "2MB.rsvd" is the reservation limit of the same size.
            (!size.contains('.')).then(|| (size_bytes(size), size.to_string()))
        })
        .collect();
    sizes.sort();
    if sizes.is_empty() {
        return vec!["none".to_string()];
    }
    sizes.into_iter().map(|(_, s)| s).collect()
}

/// "2MB" in bytes, to sort by (0 for what does not parse).
fn size_bytes(size: &str) -> u64 {
    [("KB", 10), ("MB", 20), ("GB", 30)]
        .iter()
        .find_map(|(unit, shift)| {
            let n: u64 = size.strip_suffix(unit)?.parse().ok()?;
            Some(n << shift)
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HugepageLimit;

    fn limits(sizes: &[&str]) -> Resources {
        Resources {
            hugepage_limits: sizes
                .iter()
                .map(|s| HugepageLimit {
                    page_size: s.to_string(),
                    limit: 4 << 20,
                })
                .collect(),
            ..Resources::default()
        }
    }

    #[test]
    fn a_size_the_kernel_lacks_is_named() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "hugetlb.2MB.limit_in_bytes",
            "hugetlb.1GB.limit_in_bytes",
            "hugetlb.2MB.rsvd.limit_in_bytes",
            "hugetlb.2MB.usage_in_bytes",
        ] {
            std::fs::write(dir.path().join(file), "9223372036854771712\n").unwrap();
        }
        Hugetlb::apply(dir.path(), &limits(&["2MB"])).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(read("hugetlb.2MB.limit_in_bytes"), "4194304");
        // The reservation limit too, where the kernel has one; 1GB has none.
        assert_eq!(read("hugetlb.2MB.rsvd.limit_in_bytes"), "4194304");
        Hugetlb::apply(dir.path(), &limits(&["1GB"])).unwrap();
        assert_eq!(read("hugetlb.1GB.limit_in_bytes"), "4194304");
        assert!(!dir.path().join("hugetlb.1GB.rsvd.limit_in_bytes").exists());

        let err = Hugetlb::apply(dir.path(), &limits(&["1GB", "64KB"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "huge page size 64KB: the kernel has no such size (it has 2MB, 1GB; no {})",
                dir.path().join("hugetlb.64KB.limit_in_bytes").display()
            )
        );
        // Never created.
        assert!(!dir.path().join("hugetlb.64KB.limit_in_bytes").exists());
        assert_eq!(page_sizes(&dir.path().join("missing"), LIMIT), ["none"]);
    }
}
