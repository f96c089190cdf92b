//! Durations and sizes the way docker prints them.

pub use tinydocker_engine::rfc3339;

/// "Less than a second", "5 seconds", "About a minute", "3 hours", ...
pub fn duration(secs: u64) -> String {
    let (mins, hours) = (secs / 60, secs / 3600);
    match secs {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        _ if mins == 1 => "About a minute".into(),
        _ if mins < 60 => format!("{mins} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// Seconds between an event (ns since the epoch) and now.
pub fn since(nanos: u128) -> u64 {
    let now = tinydocker_engine::now_nanos();
    (now.saturating_sub(nanos) / 1_000_000_000) as u64
}

/// Decimal sizes with three significant digits: "4.26MB", "512B", "1.2GB".
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let digits: String = {
        // Three significant digits, trailing zeros dropped.
        let precision = if value >= 100.0 {
            0
        } else if value >= 10.0 {
            1
        } else {
            2
        };
        let t = format!("{value:.precision$}");
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t
        }
    };
    format!("{digits}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_times() {
        use tinydocker_engine::rfc3339;
        assert_eq!(rfc3339(0), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339(1), "1970-01-01T00:00:00.000000001Z");
        // 2026-11-28T19:52:00Z
        assert_eq!(
            rfc3339(1_795_895_520_000_000_000),
            "2026-11-28T19:52:00.000000000Z"
        );
        // 2000-02-29T12:00:00.5Z (a leap day)
        assert_eq!(
            rfc3339(951_825_600_500_000_000),
            "2000-02-29T12:00:00.500000000Z"
        );
    }

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(0), "Less than a second");
        assert_eq!(duration(5), "5 seconds");
        assert_eq!(duration(65), "About a minute");
        assert_eq!(duration(180), "3 minutes");
        assert_eq!(duration(3700), "About an hour");
        assert_eq!(duration(3 * 3600), "3 hours");
        assert_eq!(duration(3 * 86400), "3 days");
    }

    #[test]
    fn sizes() {
        assert_eq!(size(512), "512B");
        assert_eq!(size(4_260_000), "4.26MB");
        assert_eq!(size(1_200_000_000), "1.2GB");
        assert_eq!(size(12_345), "12.3kB");
    }
}
