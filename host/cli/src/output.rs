//! How results are printed: aligned tables for people, JSON for scripts, and errors on
//! stderr (as JSON too with `--json`, so a script gets the error code).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use comfy_table::{Table, presets};
use roster::api;
use serde::Serialize;

/// Print `value` as JSON, or as the table `table` makes of it.
pub fn print<T: Serialize>(json: bool, value: &T, table: impl FnOnce(&T) -> Table) {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("roster: cannot print the result as JSON: {error}"),
        }
    } else {
        println!("{}", table(value));
    }
}

/// A borderless table with `header`.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_header(header.to_vec());
    table
}

/// Report an error on stderr.
pub fn error(json: bool, code: &str, message: &str) {
    if json {
        let body = api::ErrorBody {
            error: api::ErrorDetail {
                code: code.to_owned(),
                message: message.to_owned(),
                detail: None,
            },
        };
        eprintln!("{}", serde_json::to_string(&body).unwrap_or_default());
    } else {
        eprintln!("roster: {message}");
    }
}

/// Capabilities for a table cell: the text, or a byte count when they are not text.
pub fn capabilities(caps: &roster::Capabilities) -> String {
    match std::str::from_utf8(caps.as_bytes()) {
        Ok("") => "-".to_owned(),
        Ok(text) => text.to_owned(),
        Err(_) => format!("<{} bytes>", caps.len()),
    }
}

/// How long ago a Unix-milliseconds time was, roughly (`4s`, `3m12s`, `2h5m`, `3d`).
pub fn age(unix_ms: u64) -> String {
    let then = UNIX_EPOCH + Duration::from_millis(unix_ms);
    let elapsed = SystemTime::now()
        .duration_since(then)
        .unwrap_or(Duration::ZERO);
    duration(elapsed)
}

/// A duration, roughly.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{}.{}s", s, d.subsec_millis() / 100),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_roughly() {
        assert_eq!(duration(Duration::from_millis(4_250)), "4.2s");
        assert_eq!(duration(Duration::from_secs(192)), "3m12s");
        assert_eq!(duration(Duration::from_secs(7_500)), "2h5m");
        assert_eq!(duration(Duration::from_secs(3 * 86_400 + 5)), "3d");
    }

    #[test]
    fn capabilities_cells_show_text_or_size() {
        assert_eq!(capabilities(&"".into()), "-");
        assert_eq!(capabilities(&r#"{"w":1}"#.into()), r#"{"w":1}"#);
        assert_eq!(capabilities(&(&[0xff_u8, 0][..]).into()), "<2 bytes>");
    }
}
