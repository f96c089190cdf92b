//! Exit codes, as docker uses them: 125 when tinydocker itself fails,
//! 126 when the command cannot be executed, 127 when it is not found.

use tinydocker_engine::ExecFailure;

/// tinydocker's own failures and bad input.
pub const USAGE: i32 = 125;
/// The container's command exists but cannot be executed.
pub const CANNOT_EXECUTE: i32 = 126;
/// The container's command was not found.
pub const NOT_FOUND: i32 = 127;

/// The exit code for an error: 127 or 126 when the command did not start,
/// else 125.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    let failure = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<tinydocker_engine::Error>())
        .and_then(tinydocker_engine::Error::exec_failure);
    match failure {
        Some(ExecFailure::NotFound) => NOT_FOUND,
        Some(ExecFailure::CannotExecute) => CANNOT_EXECUTE,
        None => USAGE,
    }
}

/// The whole error chain on one line: "outer: inner: cause".
pub fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}").replace('\n', " ")
}
