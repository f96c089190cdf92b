//! CPU and memory-node lists in the kernel's list format ("0-2,5"), as
//! cpuset files and `/sys/devices/system/{cpu,node}/online` hold them
//! (cpuset(7)).

use std::path::Path;

use crate::common::{read_file, read_optional};
use crate::Error;

/// Larger than any kernel's NR_CPUS or MAX_NUMNODES: a bound that keeps a
/// typo like "0-4000000000" from allocating gigabytes.
const MAX_ID: u32 = 1 << 16;

/// Parse a list such as "0-2,5" into sorted, distinct ids (`[0, 1, 2, 5]`).
/// An empty list (an unset cpuset file) is empty.
///
/// ```
/// assert_eq!(tinydocker_cgroups::parse_cpu_list("0-2,5")?, [0, 1, 2, 5]);
/// assert!(tinydocker_cgroups::parse_cpu_list("2-").is_err());
/// # Ok::<(), tinydocker_cgroups::Error>(())
/// ```
pub fn parse_cpu_list(list: &str) -> Result<Vec<u32>, Error> {
    let bad = |reason| Error::CpuList {
        list: list.to_string(),
        reason,
    };
    let trimmed = list.trim();
    let mut ids = Vec::new();
    if trimmed.is_empty() {
        return Ok(ids);
    }
    let id = |s: &str| -> Result<u32, Error> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("expected a number"));
        }
        let n: u32 = s.parse().map_err(|_| bad("number out of range"))?;
        if n >= MAX_ID {
            return Err(bad("number out of range"));
        }
        Ok(n)
    };
    for part in trimmed.split(',') {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (id(lo)?, id(hi)?);
                if lo > hi {
                    return Err(bad("range end before its start"));
                }
                ids.extend(lo..=hi);
            }
            None => ids.push(id(part)?),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The CPUs online on this host.
pub fn online_cpus() -> Result<Vec<u32>, Error> {
    let path = Path::new("/sys/devices/system/cpu/online");
    parse_cpu_list(&read_file(path)?)
}

/// The memory nodes online on this host; `[0]` on kernels without NUMA
/// support, where the file is missing.
pub fn online_mems() -> Result<Vec<u32>, Error> {
    let path = Path::new("/sys/devices/system/node/online");
    match read_optional(path)? {
        Some(text) => parse_cpu_list(&text),
        None => Ok(vec![0]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_cpu_list("0-2,5").unwrap(), [0, 1, 2, 5]);
        assert_eq!(parse_cpu_list("3\n").unwrap(), [3]);
        assert_eq!(parse_cpu_list("").unwrap(), Vec::<u32>::new());
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<u32>::new());
        assert_eq!(parse_cpu_list("4,0-1,1").unwrap(), [0, 1, 4]);
        for bad in [
            "a",
            "1-",
            "-1",
            "3-1",
            "1,,2",
            ",",
            "1 2",
            "0-99999999999",
            "+1",
        ] {
            assert!(
                matches!(parse_cpu_list(bad), Err(Error::CpuList { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn host_lists() {
        let cpus = online_cpus().unwrap();
        assert!(!cpus.is_empty());
        assert!(!online_mems().unwrap().is_empty());
    }
}
