//! Builds every Rust guest of `plugins/rust/` for `wasm32-wasip2`, once per build, in one
//! target directory shared by every profile (`<target>/roster-guests`), and copies the
//! components into `$OUT_DIR/components`, named by package (`log-events.wasm`).
//!
//! The `wasm32-wasip2` target is added with rustup when missing, with a warning saying so:
//! only the binaries and the test suite depend on this crate (the `roster` library through its
//! `builtin-drivers` feature), so depending on the library alone never changes a toolchain.
//! When the guests cannot be built (no rustup, or the target cannot be added) the build goes
//! on with a warning, and [`missing`](crate) in the library says why.

#[path = "command.rs"]
mod command;

use std::path::{Path, PathBuf};
use std::process::Command;

use command::run;

/// The components of the guest workspace (package names); a component is
/// `<name with _>.wasm`.
const GUESTS: [&str; 11] = [
    "log-events",
    "tally",
    "audit-trail",
    "misbehave",
    "not-a-handler",
    "evil-import",
    "redis-driver",
    "evil-driver",
    "etcd-driver",
    "file-driver",
    "broken-driver",
];

/// The libraries of the guest workspace the components are built from: watched, not copied.
const LIBRARIES: [&str; 4] = ["driver-kit", "handler-kit", "redis-store", "etcd-store"];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .ancestors()
        .nth(2)
        .expect("host/guests is two levels below the workspace root")
        .to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    // The guests build `host/types` and `host/rules` too (path dependencies).
    for watched in [
        "wit",
        "plugins/rust/Cargo.toml",
        "plugins/rust/Cargo.lock",
        "host/types",
        "host/rules",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    for crate_dir in GUESTS.iter().chain(&LIBRARIES) {
        println!(
            "cargo:rerun-if-changed={}",
            root.join("plugins/rust").join(crate_dir).display()
        );
    }
    println!("cargo::rustc-check-cfg=cfg(roster_guests_built)");
    let components = out.join("components");
    let built = std::fs::create_dir_all(&components)
        .map_err(|e| format!("create {}: {e}", components.display()))
        .and_then(|()| build(&root, &shared_target_dir(&out)))
        .and_then(|release| {
            for guest in GUESTS {
                let from = release.join(format!("{}.wasm", guest.replace('-', "_")));
                let to = components.join(format!("{guest}.wasm"));
                std::fs::copy(&from, &to)
                    .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
            }
            Ok(())
        });
    println!("cargo:dir={}", components.display());
    println!("cargo:rustc-env=ROSTER_GUESTS_DIR={}", components.display());
    match built {
        Ok(()) => {
            println!("cargo:rustc-cfg=roster_guests_built");
            println!("cargo:rustc-env=ROSTER_GUESTS_MISSING=");
        }
        Err(reason) => {
            let reason = reason.replace(['\n', '\r'], " ");
            println!("cargo:warning=the Rust guest components cannot be built: {reason}");
            println!("cargo:rustc-env=ROSTER_GUESTS_MISSING={reason}");
            println!("cargo:missing={reason}");
        }
    }
}

/// `<target>/roster-guests`, from `OUT_DIR` (`<target>/<profile>/build/<package>/out`), so the
/// debug and release builds share one guest build; `OUT_DIR/guests` if it has another shape.
fn shared_target_dir(out: &Path) -> PathBuf {
    let mut up = out.ancestors();
    match (up.nth(2), up.nth(1)) {
        (Some(build), Some(target)) if build.file_name().is_some_and(|n| n == "build") => {
            target.join("roster-guests")
        }
        _ => out.join("guests"),
    }
}

/// Builds the guest workspace in release mode into `target_dir` and returns the directory
/// holding the components.
fn build(root: &Path, target_dir: &Path) -> Result<PathBuf, String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup not found: {e}"))?;
    if !String::from_utf8_lossy(&installed.stdout).contains("wasm32-wasip2") {
        println!(
            "cargo:warning=adding the wasm32-wasip2 target with rustup: Roster's drivers and \
             example plugins are built for it (plugins/setup-toolchains does this ahead)"
        );
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
        ])
        .arg("--manifest-path")
        .arg(root.join("plugins/rust/Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
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
