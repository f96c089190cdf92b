//! v2 `hugetlb` controller: the v1 limits under another name
//! (`hugetlb.<size>.max`); see the kernel's `cgroup-v2.rst`, "HugeTLB".

use std::path::Path;

use crate::common::{read_optional, Controller, Write};
use crate::v1::hugetlb::{plan, write_limits};
use crate::{Error, Resources};

pub(crate) struct Hugetlb;

/// The end of the v2 limit files' names.
const MAX: &str = ".max";

impl Controller for Hugetlb {
    const NAME: &'static str = "hugetlb";

    fn plan(res: &Resources) -> Vec<Write> {
        plan(res, MAX)
    }

    /// Without the controller (the parent does not pass it down) no
    /// size has a file: say so rather than blame the page size.
    fn apply(dir: &Path, res: &Resources) -> Result<(), Error> {
        let writes = Self::plan(res);
        write_limits(dir, &writes, MAX).map_err(|err| {
            let Error::NoHugePageSize { .. } = err else {
                return err;
            };
            let controllers = dir.join("cgroup.controllers");
            let enabled = read_optional(&controllers)
                .ok()
                .flatten()
                .is_some_and(|text| text.split_whitespace().any(|c| c == Self::NAME));
            if enabled {
                return err;
            }
            Error::NoController {
                controller: Self::NAME.to_string(),
                file: writes.first().map(|w| w.file.clone()).unwrap_or_default(),
                path: dir.to_path_buf(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HugepageLimit;

    #[test]
    fn a_missing_controller_is_not_a_missing_size() {
        let dir = tempfile::tempdir().unwrap();
        let res = Resources {
            hugepage_limits: vec![HugepageLimit {
                page_size: "2MB".into(),
                limit: 2 << 20,
            }],
            ..Resources::default()
        };
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        let err = Hugetlb::apply(dir.path(), &res).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the hugetlb cgroup controller is not available in {} (needed for hugetlb.2MB.max)",
                dir.path().display()
            )
        );
        std::fs::write(dir.path().join("cgroup.controllers"), "memory hugetlb\n").unwrap();
        std::fs::write(dir.path().join("hugetlb.1GB.max"), "max\n").unwrap();
        let err = Hugetlb::apply(dir.path(), &res).unwrap_err();
        assert!(
            matches!(&err, Error::NoHugePageSize { size, available, .. } if size == "2MB" && available == "1GB"),
            "{err:?}"
        );
        std::fs::write(dir.path().join("hugetlb.2MB.max"), "max\n").unwrap();
        Hugetlb::apply(dir.path(), &res).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("hugetlb.2MB.max")).unwrap(),
            "2097152"
        );
    }
}
