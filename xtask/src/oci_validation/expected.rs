//! The list of known failures, `expected.txt` beside this file:
//!
//! ```text
//! # comment
//! TEST: text prefix  # reason
//! ```
//!
//! An entry covers every failure of TEST whose description starts with
//! the text (case-sensitive; the longest matching prefix wins, for its
//! reason); a text ending in `$` must match the whole description
//! (`[leftover cgroup] testdir$` is not `[leftover cgroup] testdir/x`).
//! Failures are the `not ok` assertions (their description) and
//! the verdicts on the whole test binary, written in brackets:
//!
//! - `[exit N]`, `[killed by signal N]`, `[timeout after 60s]`: the binary
//!   did not exit 0 (usually the runtime refused the config and the test
//!   gave up: `util.Fatal`);
//! - `[no plan]`, `[plan mismatch] N of M`: it exited 0 with broken TAP;
//! - `[error] first line`: an error reported outside of any assertion (a
//!   YAML block with no `ok`/`not ok` before it: hooks, poststart, ...);
//! - `[bail out] reason`;
//! - `[leftover container]`, `[leftover cgroup] PATH`, `[leftover mount]
//!   PATH`, `[leftover bundle dir]`, `[leftover tmp file] NAME`: what the
//!   test left behind (removed by the command).
//!
//! The reason is everything after the first ` # ` and must not be empty
//! (TAP descriptions cannot hold a ` # `: it would start a directive).
//! A reason that starts with `flaky:` marks a failure that comes and goes:
//! when it does not happen, the entry is not reported as now passing.

use std::collections::BTreeSet;

use anyhow::{bail, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub test: String,
    pub prefix: String,
    pub reason: String,
    /// 1-based line in the file.
    pub line: usize,
}

/// Parse the list; `tests` are the known test names (typos are errors).
pub fn parse(text: &str, tests: &BTreeSet<String>) -> Result<Vec<Entry>> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let n = i + 1;
        let Some((test, rest)) = line.split_once(':') else {
            errors.push(format!("line {n}: expected `TEST: text prefix  # reason`"));
            continue;
        };
        let test = test.trim();
        let Some((prefix, reason)) = rest.split_once(" # ") else {
            errors.push(format!("line {n}: no ` # reason` at the end"));
            continue;
        };
        let (prefix, reason) = (prefix.trim(), reason.trim());
        if prefix.is_empty() || reason.is_empty() {
            errors.push(format!("line {n}: empty text prefix or reason"));
            continue;
        }
        if !tests.contains(test) {
            errors.push(format!("line {n}: no validation test named {test:?}"));
            continue;
        }
        if let Some(dup) = entries
            .iter()
            .find(|e| e.test == test && e.prefix == prefix)
        {
            errors.push(format!("line {n}: same entry as line {}", dup.line));
            continue;
        }
        entries.push(Entry {
            test: test.to_string(),
            prefix: prefix.to_string(),
            reason: reason.to_string(),
            line: n,
        });
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    Ok(entries)
}

impl Entry {
    /// A failure that only happens sometimes (the reason says `flaky:`).
    pub fn flaky(&self) -> bool {
        self.reason.starts_with("flaky:")
    }

    pub fn covers(&self, description: &str) -> bool {
        match self.prefix.strip_suffix('$') {
            Some(whole) => description == whole,
            None => description.starts_with(&self.prefix),
        }
    }
}

/// The index of the entry that covers `description`, a failure of `test`.
pub fn find(entries: &[Entry], test: &str, description: &str) -> Option<usize> {
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.test == test && e.covers(description))
        .max_by_key(|(_, e)| e.prefix.len())
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tests() -> BTreeSet<String> {
        ["delete", "hooks", "linux_uid_mappings"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn entries_and_matching() {
        let text = "# known failures\n\
                    \n\
                    delete: attempting to `delete` a container  # not stopped: delete must fail\n\
                    delete: attempting to `delete` a container that is not `stopped` MUST have no effect  # same cause\n\
                    hooks: [error] Hooks MUST  # test bug: see config.md#posix-platform-hooks # and more\n\
                    linux_uid_mappings: [exit 1]  # user namespaces not supported yet\n";
        let entries = parse(text, &tests()).unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].line, 3);
        // The reason starts after the first " # ".
        assert_eq!(entries[2].prefix, "[error] Hooks MUST");
        assert_eq!(
            entries[2].reason,
            "test bug: see config.md#posix-platform-hooks # and more"
        );
        let more = "attempting to `delete` a container that is not `stopped` MUST have no effect on the container";
        assert_eq!(find(&entries, "delete", more), Some(1), "longest prefix");
        let error =
            "attempting to `delete` a container that is not `stopped` MUST generate an error";
        assert_eq!(find(&entries, "delete", error), Some(0));
        assert_eq!(find(&entries, "hooks", error), None);
        assert_eq!(find(&entries, "linux_uid_mappings", "[exit 1]"), Some(3));
        assert_eq!(find(&entries, "linux_uid_mappings", "[exit 2]"), None);
    }

    #[test]
    fn flaky_entries() {
        let entries = parse(
            "hooks: [error] x  # flaky: races\nhooks: [exit 1]  # not flaky: said so\n",
            &tests(),
        )
        .unwrap();
        assert!(entries[0].flaky());
        assert!(!entries[1].flaky());
    }

    #[test]
    fn a_dollar_matches_the_whole_description() {
        let entries = parse(
            "delete: [leftover cgroup] testdir$  # a parent\n\
             delete: [leftover cgroup] testdir/cgrouptest$  # another\n",
            &tests(),
        )
        .unwrap();
        assert_eq!(
            find(&entries, "delete", "[leftover cgroup] testdir"),
            Some(0)
        );
        assert_eq!(
            find(&entries, "delete", "[leftover cgroup] testdir/cgrouptest"),
            Some(1)
        );
        assert_eq!(
            find(
                &entries,
                "delete",
                "[leftover cgroup] testdir/cgrouptest/container"
            ),
            None
        );
    }

    #[test]
    fn mistakes_are_errors() {
        let err = parse(
            "delete: no reason\n\
             nosuchtest: x  # y\n\
             delete: # reason only\n\
             no colon here\n\
             hooks: a  # r\n\
             hooks: a  # again\n",
            &tests(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 1: no ` # reason`"), "{err}");
        assert!(
            err.contains("line 2: no validation test named \"nosuchtest\""),
            "{err}"
        );
        assert!(err.contains("line 3: empty text prefix"), "{err}");
        assert!(err.contains("line 4: expected"), "{err}");
        assert!(err.contains("line 6: same entry as line 5"), "{err}");
    }
}
