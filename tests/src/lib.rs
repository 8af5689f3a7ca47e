//! Roster's end-to-end suite's support: the guest plugins `build.rs` built, the servers the
//! tests start (`servers`, with the harnesses on them), certificates (`pki`) and the fault
//! soak (`soak`).
//!
//! The conformance suites and their harness, the multi-host scenarios and the host processes
//! they start (`probe`) are the crate `roster-conformance`, re-exported here: the same
//! behavioural tests, run against every backend with [`conformance_suite!`].

pub mod pki;
pub mod servers;
pub mod soak;

pub use roster_conformance::{
    Clock, Harness, conformance, conformance_suite, lock_conformance, multi_host, new_group, probe,
    wait_until,
};
pub use servers::ServerHarness;

/// Send the signal `name` (`STOP`, `CONT`, `KILL`) to the process `pid`.
///
/// # Panics
/// When `kill` cannot be run or fails.
pub fn signal(pid: &str, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), pid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Where `build.rs` put the guest plugins it built (`rust-log-events.wasm`, ...).
pub const PLUGIN_DIR: &str = env!("ROSTER_PLUGIN_DIR");

/// The path of a built plugin.
pub fn plugin(file: &str) -> std::path::PathBuf {
    std::path::Path::new(PLUGIN_DIR).join(file)
}

/// Whether `language`'s plugins were built on this machine; says why not on stderr. (A CI
/// build fails instead of skipping: `ROSTER_REQUIRE_LANGUAGES=all`.)
pub fn built(language: &str) -> bool {
    let skipped = env!("ROSTER_SKIPPED_LANGUAGES");
    let missing = skipped.split("; ").any(|entry| entry.starts_with(language));
    if missing {
        eprintln!("skipped: {language} plugins were not built on this machine: {skipped}");
    }
    !missing
}
