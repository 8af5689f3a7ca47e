//! Logs go to a file, never to the screen the monitor draws on.
//!
//! The filter comes from `ROSTER_TUI_LOG`, else `RUST_LOG`, else [`DEFAULT_FILTER`]: info,
//! without the line per event that the demo's example plugins log.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The filter used when neither variable is set.
pub const DEFAULT_FILTER: &str = "info,roster::plugin::host_api=warn";

/// The default log file: `roster-tui.log` in the system's temporary directory.
pub fn default_path() -> PathBuf {
    std::env::temp_dir().join("roster-tui.log")
}

/// Send `tracing` output to `path` (appending). Keep the returned guard alive: dropping it
/// flushes the last lines.
///
/// # Errors
/// The file cannot be opened.
pub fn init(path: &Path) -> std::io::Result<WorkerGuard> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = std::env::var("ROSTER_TUI_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| DEFAULT_FILTER.to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(writer)
        .with_ansi(false)
        .init();
    Ok(guard)
}
