//! The TAP (version 13) that runtime-tools' validation tests print, as
//! mndrix/tap-go writes it:
//!
//! ```text
//! TAP version 13
//! ok 1 - description
//! # a diagnostic line
//! not ok 2 - description
//!   ---
//!   { "error": "...", "reference": "..." }   (a JSON document, valid YAML)
//!   ...
//! ok 3 # SKIP why
//! not ok 4 # TODO description
//! 1..4
//! ```
//!
//! Oddities seen in the suite, all handled here:
//! - several streams in one output (`linux_cgroups_cpus` prints a second
//!   `TAP version 13` / `1..0` after its first stream): plans are summed;
//! - a stream with no assertion at all, only a YAML block with an `"error"`
//!   and `1..0` (`hooks`, `poststart`, ...: the test found the failure but
//!   reports it outside of any assertion): kept as an orphan error, which
//!   the caller turns into a failure;
//! - no output at all (`process_rlimits_fail`: it exits 0 silently when the
//!   runtime rightly refuses the config).

/// What one `ok` / `not ok` line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// `# SKIP` directive (on `ok` or `not ok`).
    Skip,
    /// `# TODO` directive (on `ok` or `not ok`).
    Todo,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    pub outcome: Outcome,
    pub number: Option<u64>,
    /// The text after the number (and its `-`); for a SKIP or TODO
    /// without one, the directive's own text (tap-go writes
    /// `not ok 4 # TODO description`).
    pub description: String,
    /// The `#` comment lines and the YAML block that follow it, verbatim.
    pub diagnostics: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tap {
    pub assertions: Vec<Assertion>,
    /// The sum of the plans of every stream; None when no plan line at all.
    pub plan: Option<u64>,
    /// How many `TAP version` headers (streams) there were.
    pub streams: usize,
    /// YAML blocks that follow no assertion of their stream (before the
    /// first, or after the plan): an `"error"` in one is a failure the
    /// test reported outside of any assertion; others are information
    /// (the output of runtimetest, say).
    pub orphans: Vec<Orphan>,
    /// `Bail out! reason`.
    pub bail_out: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Orphan {
    /// Its `"error"` value, if any.
    pub error: Option<String>,
    /// The block, verbatim.
    pub lines: Vec<String>,
}

impl Tap {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.assertions
            .iter()
            .filter(|a| a.outcome == outcome)
            .count()
    }

    pub fn failures(&self) -> impl Iterator<Item = &Assertion> {
        self.assertions
            .iter()
            .filter(|a| a.outcome == Outcome::Fail)
    }

    /// Orphan YAML blocks with an error: (its error, the block).
    pub fn orphan_errors(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.orphans
            .iter()
            .filter_map(|o| Some((o.error.as_deref()?, o.lines.as_slice())))
    }
}

/// Parse the stdout of one test binary.
pub fn parse(text: &str) -> Tap {
    let mut tap = Tap::default();
    // The assertion that YAML blocks and comments attach to: the last one
    // of the current stream.
    let mut current: Option<usize> = None;
    // Inside a YAML block: its lines so far.
    let mut yaml: Option<Vec<String>> = None;

    for line in text.lines() {
        if let Some(block) = yaml.as_mut() {
            // YAML lines are indented: an unindented line ends a block
            // that never got its `...` (and is a TAP line of its own).
            let inside = line.is_empty() || line.starts_with(char::is_whitespace);
            if inside {
                block.push(line.to_string());
            }
            if !inside || line.trim() == "..." {
                let block = yaml.take().unwrap_or_default();
                end_block(&mut tap, current, block);
            }
            if inside {
                continue;
            }
        }
        if line.starts_with(char::is_whitespace) {
            if line.trim() == "---" {
                yaml = Some(vec![line.to_string()]);
            } else if let Some(i) = current {
                tap.assertions[i].diagnostics.push(line.to_string());
            }
            continue;
        }
        if line.starts_with("TAP version") {
            tap.streams += 1;
            current = None;
        } else if let Some(rest) = line.strip_prefix("not ok") {
            if rest.is_empty() || rest.starts_with([' ', '\t']) {
                tap.assertions.push(assertion(false, rest));
                current = Some(tap.assertions.len() - 1);
            }
        } else if let Some(rest) = line.strip_prefix("ok") {
            if rest.is_empty() || rest.starts_with([' ', '\t']) {
                tap.assertions.push(assertion(true, rest));
                current = Some(tap.assertions.len() - 1);
            }
        } else if let Some(n) = plan(line) {
            tap.plan = Some(tap.plan.unwrap_or(0) + n);
            // A plan closes its stream's assertions (a trailing plan) or
            // precedes them (a leading one): either way, what follows a
            // plan belongs to no assertion until the next one.
            current = None;
        } else if line.starts_with('#') {
            if let Some(i) = current {
                tap.assertions[i].diagnostics.push(line.to_string());
            }
        } else if let Some(reason) = line.strip_prefix("Bail out!") {
            tap.bail_out = Some(reason.trim().to_string());
        }
    }
    // An unterminated YAML block (the test died while writing it).
    if let Some(block) = yaml {
        end_block(&mut tap, current, block);
    }
    tap
}

/// A YAML block belongs to the assertion before it, if its stream has one.
fn end_block(tap: &mut Tap, current: Option<usize>, block: Vec<String>) {
    match current {
        Some(i) => tap.assertions[i].diagnostics.extend(block),
        None => tap.orphans.push(Orphan {
            error: yaml_error(&block),
            lines: block,
        }),
    }
}

/// `1..N`, possibly followed by ` # SKIP reason`.
fn plan(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("1..")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = &rest[digits.len()..];
    if digits.is_empty() || !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    digits.parse().ok()
}

/// The part of an `ok`/`not ok` line after the keyword.
fn assertion(ok: bool, rest: &str) -> Assertion {
    let rest = rest.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let number = digits.parse().ok();
    let rest = rest[digits.len()..].trim_start();
    let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    let (description, directive) = match unescaped_hash(rest) {
        Some(i) => (rest[..i].trim(), Some(rest[i + 1..].trim())),
        None => (rest.trim(), None),
    };
    let mut outcome = if ok { Outcome::Pass } else { Outcome::Fail };
    let mut description = description.to_string();
    if let Some(directive) = directive {
        let lower = directive.to_ascii_lowercase();
        let kind = if lower.starts_with("skip") {
            Some(Outcome::Skip)
        } else if lower.starts_with("todo") {
            Some(Outcome::Todo)
        } else {
            None
        };
        match kind {
            Some(kind) => {
                outcome = kind;
                if description.is_empty() {
                    // "SKIP why" / "TODO text": the word, then the text.
                    let word_end = directive
                        .find(char::is_whitespace)
                        .unwrap_or(directive.len());
                    description = directive[word_end..].trim().to_string();
                }
            }
            // Not a directive: an ordinary '#' in the text.
            None => description = rest.trim().to_string(),
        }
    }
    Assertion {
        outcome,
        number,
        description: description.replace("\\#", "#"),
        diagnostics: Vec::new(),
    }
}

/// The byte index of the first '#' not escaped with a backslash.
fn unescaped_hash(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    (0..bytes.len()).find(|&i| bytes[i] == b'#' && (i == 0 || bytes[i - 1] != b'\\'))
}

/// The `"error"` of a YAML block (tap-go writes JSON).
fn yaml_error(block: &[String]) -> Option<String> {
    let body: Vec<&str> = block
        .iter()
        .map(|l| l.trim())
        .filter(|l| *l != "---" && *l != "...")
        .collect();
    let body = body.join("\n");
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&body) {
        if let Some(serde_json::Value::String(e)) = map.get("error") {
            return Some(e.clone());
        }
        return None;
    }
    // YAML proper: `error: text`.
    for line in body.lines() {
        if let Some(e) = line.strip_prefix("error:") {
            return Some(e.trim().trim_matches('"').to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_fail_skip_todo_and_diagnostics() {
        let tap = parse(
            "TAP version 13\n\
             ok 1 - find cpu cgroup\n\
             # expect: 1024, actual: 1024\n\
             not ok 2 - attempting to `delete` a container that is not `stopped` MUST generate an error\n  \
               ---\n  \
               {\n    \
                 \"reference\": \"https://example/runtime.md#delete\"\n  \
               }\n  \
               ...\n\
             ok 3 # SKIP linux.resources.blockIO not set\n\
             not ok 4 # TODO cpu mems\n\
             ok 5 - text with an escaped \\# hash\n\
             okay this is not a test line\n\
             1..5\n",
        );
        assert_eq!(tap.streams, 1);
        assert_eq!(tap.plan, Some(5));
        let outcomes: Vec<Outcome> = tap.assertions.iter().map(|a| a.outcome).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Pass,
                Outcome::Fail,
                Outcome::Skip,
                Outcome::Todo,
                Outcome::Pass
            ]
        );
        assert_eq!(
            tap.assertions[0].diagnostics,
            ["# expect: 1024, actual: 1024"]
        );
        let fail = &tap.assertions[1];
        assert_eq!(fail.number, Some(2));
        assert!(fail.description.starts_with("attempting to `delete`"));
        assert_eq!(fail.diagnostics.len(), 5);
        assert!(fail.diagnostics[2].contains("runtime.md#delete"));
        assert_eq!(
            tap.assertions[2].description,
            "linux.resources.blockIO not set"
        );
        assert_eq!(tap.assertions[3].description, "cpu mems");
        assert_eq!(tap.assertions[4].description, "text with an escaped # hash");
        assert!(tap.orphans.is_empty());
        assert_eq!(tap.failures().count(), 1);
        assert_eq!(tap.count(Outcome::Skip), 1);
    }

    #[test]
    fn two_streams_sum_their_plans() {
        // linux_cgroups_cpus: a full stream, then an empty second one.
        let tap = parse(
            "TAP version 13\n\
             ok 1 - find cpu cgroup\n\
             ok 2 - cpu mems is set correctly\n\
             # expect: 0, actual: 0\n\
             1..2\n\
             TAP version 13\n\
             ok 1 - again\n\
             1..1\n\
             TAP version 13\n\
             1..0\n",
        );
        assert_eq!(tap.streams, 3);
        assert_eq!(tap.plan, Some(3));
        assert_eq!(tap.count(Outcome::Pass), 3);
        assert_eq!(tap.assertions[2].number, Some(1));
        assert!(tap.orphans.is_empty());
    }

    #[test]
    fn empty_plan_with_an_error_block() {
        // hooks.t: the failure is only in a YAML block before `1..0`.
        let tap = parse(
            "TAP version 13\n  \
               ---\n  \
               {\n    \
                 \"error\": \"Hooks MUST be called in the listed order\\nRefer to: https://x/config.md#posix-platform-hooks\"\n  \
               }\n  \
               ...\n\
             1..0\n",
        );
        assert_eq!(tap.plan, Some(0));
        assert!(tap.assertions.is_empty());
        let errors: Vec<(&str, usize)> = tap.orphan_errors().map(|(e, l)| (e, l.len())).collect();
        assert_eq!(
            errors,
            [("Hooks MUST be called in the listed order\nRefer to: https://x/config.md#posix-platform-hooks", 5)]
        );
    }

    #[test]
    fn a_block_after_the_plan_is_an_orphan() {
        let tap = parse("TAP version 13\nok 1 - a\n1..1\n  ---\n  error: late\n  ...\n");
        assert_eq!(tap.orphan_errors().next().unwrap().0, "late");
        assert!(tap.assertions[0].diagnostics.is_empty());
        // hostname.t: runtimetest's output in a block before the first
        // assertion, no error: information only.
        let tap = parse(
            "TAP version 13\n  ---\n  {\n    \"stderr\": \"\",\n    \"stdout\": \"TAP version 13\\nok 1\"\n  }\n  ...\nok 1 - check hostname\n1..1\n",
        );
        assert_eq!(tap.orphans.len(), 1);
        assert_eq!(tap.orphans[0].error, None);
        assert_eq!(tap.orphan_errors().count(), 0);
        assert_eq!(tap.count(Outcome::Pass), 1);
    }

    #[test]
    fn no_output_and_no_plan() {
        let tap = parse("");
        assert_eq!(tap, Tap::default());
        assert_eq!(tap.plan, None);
        // A header and nothing else (a test that died early).
        let tap = parse("TAP version 13\nok 1 - a\n");
        assert_eq!(tap.plan, None);
        assert_eq!(tap.count(Outcome::Pass), 1);
    }

    #[test]
    fn plan_lines() {
        assert_eq!(plan("1..0"), Some(0));
        assert_eq!(plan("1..12 # SKIP not linux"), Some(12));
        assert_eq!(plan("1..x"), None);
        assert_eq!(plan("1..3x"), None);
        assert_eq!(plan("2..3"), None);
    }

    #[test]
    fn bail_out_and_unterminated_yaml() {
        let tap = parse("TAP version 13\nnot ok 1 - a\n  ---\n  {\"error\": \"x\"\nBail out! no");
        // The unindented line ends the block that never got its `...`.
        assert_eq!(tap.assertions[0].diagnostics.len(), 2);
        assert_eq!(tap.bail_out.as_deref(), Some("no"));
        let tap = parse("TAP version 13\n  ---\n  error: cut short");
        assert_eq!(tap.orphan_errors().next().unwrap().0, "cut short");
        let tap = parse("TAP version 13\nBail out! runtime missing\n");
        assert_eq!(tap.bail_out.as_deref(), Some("runtime missing"));
    }

    #[test]
    fn directive_words_and_plain_hashes() {
        let a = assertion(true, " 3 # skip");
        assert_eq!((a.outcome, a.description.as_str()), (Outcome::Skip, ""));
        let a = assertion(false, " 7 - issue #12 again");
        assert_eq!(a.outcome, Outcome::Fail);
        assert_eq!(a.description, "issue #12 again");
        let a = assertion(false, "");
        assert_eq!((a.outcome, a.number), (Outcome::Fail, None));
    }
}
