//! Builds the Rust guest components of `plugins/rust/` for `wasm32-wasip2`, from a build
//! script.
//!
//! Shared by every build script that needs guests (the end-to-end suite's and the monitor's
//! demo), pulled in with `#[path = "../plugins/rust/build_guests.rs"] mod build_guests;` so
//! the recipe exists once: the nested `cargo build` runs with the outer build's
//! host-specific settings removed, and the target is added with rustup when missing.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the parent of the building crate's directory) and the build's
/// `OUT_DIR`.
pub fn root_and_out() -> (PathBuf, PathBuf) {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .parent()
        .expect("the crate is inside the workspace")
        .to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    (root, out)
}

/// Has cargo run the build script again when the WIT contract, the guest workspace's
/// manifest or lock file, or one of the `guests` (package names) changes.
pub fn rerun_if_guests_change(root: &Path, guests: &[&str]) {
    for watched in ["wit", "plugins/rust/Cargo.toml", "plugins/rust/Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    for guest in guests {
        let dir = root.join("plugins/rust").join(guest.replace('_', "-"));
        println!("cargo:rerun-if-changed={}", dir.display());
    }
}

/// The outcome of one build step: the error says what failed, in words.
pub type Outcome = Result<(), String>;

/// Runs `command`, turning a failure to start or a non-zero exit into its output.
pub fn run(command: &mut Command) -> Outcome {
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

/// Builds the guests of the workspace `root/plugins/rust` in release mode into `target_dir`
/// (every member when `packages` is empty, else only those packages) and returns the
/// directory holding the `<library name>.wasm` files.
pub fn build_rust_guests(
    root: &Path,
    target_dir: &Path,
    packages: &[&str],
) -> Result<PathBuf, String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup not found: {e}"))?;
    if !String::from_utf8_lossy(&installed.stdout).contains("wasm32-wasip2") {
        run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(root.join("plugins/rust/Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    for package in packages {
        command.args(["--package", package]);
    }
    // The outer build's settings are for the host, not for guests.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(var);
    }
    run(&mut command)?;
    Ok(target_dir.join("wasm32-wasip2/release"))
}
