//! Builds the guest plugins the end-to-end tests load, in every language this machine can
//! build, into `$OUT_DIR/plugins`.
//!
//! Tests find them through `ROSTER_PLUGIN_DIR`; languages whose toolchain is missing are listed
//! in `ROSTER_SKIPPED_LANGUAGES` (the tests say so when they skip). Set
//! `ROSTER_REQUIRE_LANGUAGES=all` (as CI does) to make a missing toolchain a build error.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust guest crates, by library name.
const RUST_GUESTS: [&str; 5] = [
    "log_events",
    "audit_trail",
    "misbehave",
    "not_a_handler",
    "evil_import",
];

struct Build {
    root: PathBuf,
    out: PathBuf,
    plugins: PathBuf,
}

type Outcome = Result<(), String>;

/// Builds one language's plugins, or says why it cannot.
type Builder = fn(&Build) -> Outcome;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let plugins = out.join("plugins");
    std::fs::create_dir_all(&plugins).expect("create the plugin output directory");
    let build = Build { root, out, plugins };

    for watched in ["wit", "plugins/rust/Cargo.toml", "plugins/rust/Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            build.root.join(watched).display()
        );
    }
    for krate in RUST_GUESTS {
        println!(
            "cargo:rerun-if-changed={}",
            build
                .root
                .join("plugins/rust")
                .join(krate.replace('_', "-"))
                .display()
        );
    }
    println!("cargo:rerun-if-env-changed=ROSTER_REQUIRE_LANGUAGES");

    let languages: [(&str, Builder); 1] = [("rust", build_rust)];
    let required = std::env::var("ROSTER_REQUIRE_LANGUAGES").unwrap_or_default();
    let mut skipped = Vec::new();
    for (language, build_language) in languages {
        if let Err(reason) = build_language(&build) {
            let must = required == "all" || required.split(',').any(|l| l.trim() == language);
            assert!(
                !must,
                "{language} plugins are required but cannot be built: {reason}"
            );
            println!("cargo:warning=skipping {language} plugins: {reason}");
            skipped.push(format!("{language} ({reason})"));
        }
    }
    println!(
        "cargo:rustc-env=ROSTER_PLUGIN_DIR={}",
        build.plugins.display()
    );
    println!(
        "cargo:rustc-env=ROSTER_SKIPPED_LANGUAGES={}",
        skipped.join("; ")
    );
}

fn run(command: &mut Command) -> Outcome {
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

fn copy(from: &Path, to: &Path) -> Outcome {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))
}

/// Rust guests: components straight from `rustc` for `wasm32-wasip2`, which is added to the
/// toolchain first when missing.
fn build_rust(build: &Build) -> Outcome {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup not found: {e}"))?;
    if !String::from_utf8_lossy(&installed.stdout).contains("wasm32-wasip2") {
        run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = build.out.join("rust-guests");
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
        .arg(build.root.join("plugins/rust/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
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
    for krate in RUST_GUESTS {
        let built = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{krate}.wasm"));
        copy(
            &built,
            &build
                .plugins
                .join(format!("rust-{}.wasm", krate.replace('_', "-"))),
        )?;
    }
    Ok(())
}
