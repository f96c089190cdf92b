//! Signals by name or number, as `kill -s` and `stop -s` take them.

use nix::sys::signal::Signal;

use crate::error::{invalid, Result};

/// A signal by name (`KILL`, `SIGKILL`, any case) or number (1-64).
///
/// ```
/// assert_eq!(tinydocker_engine::parse_signal("sigterm")?, 15);
/// assert_eq!(tinydocker_engine::parse_signal("9")?, 9);
/// # Ok::<(), tinydocker_engine::Error>(())
/// ```
pub fn parse_signal(text: &str) -> Result<i32> {
    let bad = || {
        invalid!("invalid signal: {text} (expected a name such as TERM or a number from 1 to 64)")
    };
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    // nix knows the signals by their C names, SIGPOLL as SIGIO.
    Signal::iterator()
        .find(|s| s.as_str().strip_prefix("SIG") == Some(name))
        .map(|s| s as i32)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("PWR").unwrap(), libc::SIGPWR);
        assert_eq!(parse_signal("io").unwrap(), libc::SIGIO);
        assert_eq!(parse_signal("STKFLT").unwrap(), libc::SIGSTKFLT);
        for bad in ["", "0", "65", "-1", "NOPE", "SIG"] {
            assert!(parse_signal(bad).is_err(), "{bad:?}");
        }
    }
}
