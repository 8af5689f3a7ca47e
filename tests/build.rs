//! Gathers the guest plugins the end-to-end tests load, in every language this machine can
//! build, into `$OUT_DIR/plugins`: the Rust ones as `roster-guests` built them, C,
//! JavaScript, Python and Go built here.
//!
//! Tests find them through `ROSTER_PLUGIN_DIR`; languages whose toolchain is missing are listed
//! in `ROSTER_SKIPPED_LANGUAGES` (the tests say so when they skip). Set
//! `ROSTER_REQUIRE_LANGUAGES=all` (as CI does) to make a missing toolchain a build error.

#[path = "../host/guests/command.rs"]
mod command;

use std::path::{Path, PathBuf};
use std::process::Command;

use command::run;

/// The outcome of one build step: the error says what failed, in words.
type Outcome = Result<(), String>;

/// The Rust guest crates, by library name.
const RUST_GUESTS: [&str; 11] = [
    "log_events",
    "tally",
    "audit_trail",
    "misbehave",
    "not_a_handler",
    "evil_import",
    "redis_driver",
    "evil_driver",
    "etcd_driver",
    "file_driver",
    "broken_driver",
];

struct Build {
    root: PathBuf,
    /// Where `roster-guests` put the Rust guests' components.
    rust_guests: PathBuf,
    out: PathBuf,
    plugins: PathBuf,
}

/// Builds one language's plugins, or says why it cannot.
type Builder = fn(&Build) -> Outcome;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .parent()
        .expect("the crate is inside the workspace")
        .to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let plugins = out.join("plugins");
    std::fs::create_dir_all(&plugins).expect("create the plugin output directory");
    let rust_guests = PathBuf::from(
        std::env::var("DEP_ROSTER_GUESTS_DIR").expect("roster-guests names its directory"),
    );
    let build = Build {
        root,
        rust_guests,
        out,
        plugins,
    };
    for watched in [
        "plugins/js/hash-ring.js",
        "plugins/js/build.mjs",
        "plugins/js/package-lock.json",
        "plugins/js/node_modules/.package-lock.json",
        "plugins/python/quorum.py",
        "plugins/python/.venv/bin/componentize-py",
        "plugins/c/logger.c",
        "plugins/go/export_roster_coordination_events",
        "plugins/go/.venv/bin/go",
        "wit",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            build.root.join(watched).display()
        );
    }
    println!("cargo:rerun-if-env-changed=ROSTER_REQUIRE_LANGUAGES");

    let languages: [(&str, Builder); 5] = [
        ("rust", build_rust),
        ("c", build_c),
        ("go", build_go),
        ("js", build_js),
        ("python", build_python),
    ];
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

fn copy(from: &Path, to: &Path) -> Outcome {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))
}

/// Rust guests: the components `roster-guests` built (it says why when it could not).
fn build_rust(build: &Build) -> Outcome {
    if let Ok(reason) = std::env::var("DEP_ROSTER_GUESTS_MISSING") {
        return Err(reason);
    }
    for krate in RUST_GUESTS {
        copy(
            &build
                .rust_guests
                .join(format!("{}.wasm", krate.replace('_', "-"))),
            &build
                .plugins
                .join(format!("rust-{}.wasm", krate.replace('_', "-"))),
        )?;
    }
    Ok(())
}

/// JavaScript guests: componentize-js (installed by `plugins/setup-toolchains`), with every
/// optional WASI feature disabled.
fn build_js(build: &Build) -> Outcome {
    let js = build.root.join("plugins/js");
    if !js
        .join("node_modules/@bytecodealliance/componentize-js")
        .exists()
    {
        return Err("componentize-js is not installed (run plugins/setup-toolchains)".into());
    }
    run(Command::new("node")
        .arg(js.join("build.mjs"))
        .arg(&build.plugins))
}

/// Python guests: componentize-py (installed by `plugins/setup-toolchains`), with WASI
/// stubbed out.
fn build_python(build: &Build) -> Outcome {
    let python = build.root.join("plugins/python");
    let tool = python.join(".venv/bin/componentize-py");
    if !tool.exists() {
        return Err("componentize-py is not installed (run plugins/setup-toolchains)".into());
    }
    run(Command::new(tool)
        .current_dir(&python)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args([
            "-d",
            "../../wit",
            "-w",
            "roster:coordination/handler",
            "componentize",
            "--stub-wasi",
            "quorum",
            "-o",
        ])
        .arg(build.plugins.join("python-quorum.wasm")))
}

/// C guests: bindings and component made by `roster-guest-build` (as `roster plugin build`
/// makes them), compiled by clang for `wasm32-wasi` against wasi-libc.
fn build_c(build: &Build) -> Outcome {
    let wit = build.root.join("wit");
    let bindings = build.out.join("c-bindings");
    roster_guest_build::c_bindings(&wit, "handler", &bindings).map_err(|e| e.to_string())?;
    let core = build.out.join("c-logger-core.wasm");
    run(&mut roster_guest_build::c_compile(
        "clang",
        &bindings,
        "handler",
        &[build.root.join("plugins/c/logger.c")],
        &core,
    ))
    .map_err(|e| format!("clang with wasi-libc cannot build it: {e}"))?;
    componentize(&core, &wit, &build.plugins.join("c-logger.wasm"))
}

/// Go guests: the example's package copied into a Go module made by `roster-guest-build`
/// (bindings and Go's runtime package), built by the Go toolchain `plugins/setup-toolchains`
/// installs (`plugins/go/.venv`, else `go` on the path).
fn build_go(build: &Build) -> Outcome {
    let wit = build.root.join("wit");
    let installed = build.root.join("plugins/go/.venv/bin/go");
    let go = if installed.exists() {
        installed
    } else {
        PathBuf::from("go")
    };
    let module = build.out.join("go-counts");
    roster_guest_build::go_bindings(&wit, "handler", &module).map_err(|e| e.to_string())?;
    let package = "export_roster_coordination_events";
    let source = build.root.join("plugins/go").join(package);
    std::fs::create_dir_all(module.join(package)).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(&source).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "go") {
            copy(&path, &module.join(package).join(path.file_name().unwrap()))?;
        }
    }
    let core = build.out.join("go-counts-core.wasm");
    run(&mut roster_guest_build::go_compile(&go, &module, &core)).map_err(|e| {
        format!("the Go toolchain (plugins/setup-toolchains installs Go 1.27 from PyPI) cannot build it: {e}")
    })?;
    componentize(&core, &wit, &build.plugins.join("go-counts.wasm"))
}

/// Make the core module `core` into the component `component` (the handler world).
fn componentize(core: &Path, wit: &Path, component: &Path) -> Outcome {
    let module = std::fs::read(core).map_err(|e| e.to_string())?;
    let bytes =
        roster_guest_build::componentize(&module, wit, "handler").map_err(|e| e.to_string())?;
    std::fs::write(component, bytes).map_err(|e| e.to_string())
}
