//! Running a build tool from a build script, shared by `host/guests/build.rs` and
//! `tests/build.rs` (each pulls it in with `#[path = ...] mod command;`).

use std::process::Command;

/// Runs `command`, turning a failure to start or a non-zero exit into its output.
pub fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{shown} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}
