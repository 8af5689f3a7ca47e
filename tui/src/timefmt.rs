//! Compact time text for table cells: ages ("4s", "3m07s", "2h05m", "3d04h") and UTC clock
//! times ("14:03:27.120"), without a calendar dependency.

use std::time::{Duration, SystemTime};

/// How timestamps are shown; `t` cycles through them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeFormat {
    /// Age relative to now ("12s").
    #[default]
    Relative,
    /// UTC time of day with milliseconds ("14:03:27.120").
    Absolute,
}

impl TimeFormat {
    /// The other format.
    pub fn toggled(self) -> Self {
        match self {
            Self::Relative => Self::Absolute,
            Self::Absolute => Self::Relative,
        }
    }

    /// `at` in this format, ages measured up to `now`.
    pub fn show(self, at: SystemTime, now: SystemTime) -> String {
        match self {
            Self::Relative => age(now.duration_since(at).unwrap_or_default()),
            Self::Absolute => clock_time(at),
        }
    }

    /// Name for the header.
    pub fn name(self) -> &'static str {
        match self {
            Self::Relative => "age",
            Self::Absolute => "utc",
        }
    }
}

/// A duration in at most two units: "0s", "59s", "3m07s", "2h05m", "3d04h".
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m{:02}s", s / 60, s % 60),
        3_600..86_400 => format!("{}h{:02}m", s / 3_600, s / 60 % 60),
        _ => format!("{}d{:02}h", s / 86_400, s / 3_600 % 24),
    }
}

/// The UTC time of day of `at`, "HH:MM:SS.mmm".
pub fn clock_time(at: SystemTime) -> String {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let s = since.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3_600 % 24,
        s / 60 % 60,
        s % 60,
        since.subsec_millis()
    )
}

/// Seconds since the Unix epoch, with milliseconds, for exports ("1700000000.120").
pub fn unix_seconds(at: SystemTime) -> String {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:03}", since.as_secs(), since.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_use_at_most_two_units() {
        assert_eq!(age(Duration::from_millis(999)), "0s");
        assert_eq!(age(Duration::from_secs(59)), "59s");
        assert_eq!(age(Duration::from_secs(187)), "3m07s");
        assert_eq!(age(Duration::from_secs(7_500)), "2h05m");
        assert_eq!(age(Duration::from_secs(3 * 86_400 + 4 * 3_600)), "3d04h");
    }

    #[test]
    fn clock_times_are_utc_with_milliseconds() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_120);
        assert_eq!(clock_time(at), "22:13:20.120");
        assert_eq!(unix_seconds(at), "1700000000.120");
    }

    #[test]
    fn relative_times_never_go_negative() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        let later = now + Duration::from_secs(5);
        assert_eq!(TimeFormat::Relative.show(later, now), "0s");
        assert_eq!(TimeFormat::Relative.toggled(), TimeFormat::Absolute);
    }
}
