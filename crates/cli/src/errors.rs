//! Exit codes, as docker uses them: 125 when tinydocker itself fails,
//! 126 when the command cannot be executed, 127 when it is not found.

/// tinydocker's own failures and bad input.
pub const USAGE: i32 = 125;
/// The container's command exists but cannot be executed.
pub const CANNOT_EXECUTE: i32 = 126;
/// The container's command was not found.
pub const NOT_FOUND: i32 = 127;

/// An error that ends the process with a specific exit code.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// The exit code for an error: its own when it carries one, else 125.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    err.downcast_ref::<Exit>().map_or(USAGE, |e| e.code)
}

/// The whole error chain on one line: "outer: inner: cause".
pub fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}").replace('\n', " ")
}

/// An I/O error's text as Go prints it: "no such file or directory",
/// without Rust's capital letter and " (os error N)".
pub fn io_text(err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
