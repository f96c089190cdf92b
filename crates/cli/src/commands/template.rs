//! docker's `--format` templates, the part of Go's `text/template` that
//! commands' formats use: `{{ACTION}}`s between text, each filled by the
//! command (a field such as `.ID`, or `json .`), and `\t`, `\n` escapes.

use anyhow::Result;

/// `format` with each `{{ACTION}}` replaced by `fill_in(ACTION)` (trimmed).
pub fn fill(format: &str, fill_in: impl Fn(&str) -> Result<String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            anyhow::bail!("invalid --format {format:?}: unclosed {{{{");
        };
        out.push_str(&fill_in(rest[start + 2..start + end].trim())?);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out.replace("\\t", "\t").replace("\\n", "\n"))
}
