//! The build steps Roster performs itself for guests written in C and Go, so that building one
//! needs nothing beyond the language's compiler: bindings generated from the WIT (wit-bindgen's
//! C and Go generators, used as libraries), Go's runtime support package written beside the Go
//! bindings (the Go module proxy need not be reachable), and the compiled core module made into
//! a component, with the WASI preview 1 adapter when the module imports WASI (Go's runtime
//! always does; C without stdio does not).
//!
//! `roster plugin build` and the end-to-end suite's build of the C and Go examples both use
//! these steps, so what an author builds and what CI builds are made the same way:
//!
//! 1. [`c_bindings`] or [`go_bindings`] into the project,
//! 2. the compiler, as [`c_compile`] or [`go_compile`] sets it up,
//! 3. [`componentize`] of the module it wrote.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use wit_bindgen_core::wit_parser::{Resolve, WorldId};
use wit_bindgen_core::{Files, WorldGenerator};

include!(concat!(env!("OUT_DIR"), "/go_pkg.rs"));

/// Where [`go_bindings`] puts Go's runtime support package, inside the Go module (a directory
/// starting with a dot, which `go build ./...` does not treat as a package of the module).
pub const GO_PKG_DIR: &str = ".go-pkg";

/// Why a build step failed.
#[derive(Debug, thiserror::Error)]
pub enum GuestBuildError {
    /// The WIT directory cannot be read or parsed, or has no such world.
    #[error("the WIT in {dir}: {message}")]
    Wit {
        /// The WIT directory given.
        dir: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The bindings generator refused the world.
    #[error("generating {language} bindings: {message}")]
    Bindings {
        /// "C" or "Go".
        language: &'static str,
        /// The generator's message.
        message: String,
    },
    /// The compiled module cannot be made into a component (it does not implement the
    /// world's exports, or imports something the world and WASI do not have).
    #[error("making a component of the compiled module: {0}")]
    Component(String),
    /// Writing the generated files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory being written.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

/// The world `world` of the WIT package in `wit`.
fn world(wit: &Path, world: &str) -> Result<(Resolve, WorldId), GuestBuildError> {
    let wit_error = |e: &dyn std::fmt::Display| GuestBuildError::Wit {
        dir: wit.to_owned(),
        message: format!("{e:#}"),
    };
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_path(wit).map_err(|e| wit_error(&e))?;
    let id = resolve
        .select_world(&[package], Some(world))
        .map_err(|e| wit_error(&e))?;
    Ok((resolve, id))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), GuestBuildError> {
    let io = |source| GuestBuildError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, bytes).map_err(io)
}

fn generate(
    language: &'static str,
    mut generator: Box<dyn WorldGenerator>,
    wit: &Path,
    world_name: &str,
) -> Result<Files, GuestBuildError> {
    let (mut resolve, id) = world(wit, world_name)?;
    let mut files = Files::default();
    generator
        .generate(&mut resolve, id, &mut files)
        .map_err(|e| GuestBuildError::Bindings {
            language,
            message: format!("{e:#}"),
        })?;
    Ok(files)
}

/// Write the C bindings of `world` into `out`: `WORLD.h`, `WORLD.c` and
/// `WORLD_component_type.o` (the world's type, linked into the module).
///
/// # Errors
/// The WIT cannot be read, the generator refuses it, or a file cannot be written.
pub fn c_bindings(wit: &Path, world: &str, out: &Path) -> Result<(), GuestBuildError> {
    let files = generate("C", wit_bindgen_c::Opts::default().build(), wit, world)?;
    for (name, bytes) in files.iter() {
        write(&out.join(name), bytes)?;
    }
    Ok(())
}

/// The clang command that compiles `sources` with the C bindings of `world` in `bindings`
/// into the core module `core`: a WASI reactor (no `main`) against wasi-libc, warnings as
/// errors, stripped.
pub fn c_compile(
    clang: impl AsRef<OsStr>,
    bindings: &Path,
    world: &str,
    sources: &[PathBuf],
    core: &Path,
) -> Command {
    let mut command = Command::new(clang);
    command
        .args([
            "--target=wasm32-wasi",
            "-mexec-model=reactor",
            "-O2",
            "-Wall",
            "-Werror",
            "-I",
        ])
        .arg(bindings)
        .arg("-o")
        .arg(core)
        .args(sources)
        .arg(bindings.join(format!("{world}.c")))
        .arg(bindings.join(format!("{world}_component_type.o")))
        .arg("-Wl,--strip-all");
    command
}

/// Write the Go bindings of `world` into the Go module directory `module`: `go.mod` (module
/// `wit_component`, with Go's runtime support package replaced by the copy written into
/// [`GO_PKG_DIR`]), `wit_exports.go` (package `main`) and one package per interface. The
/// package of each exported interface, `export_NAMESPACE_PACKAGE_INTERFACE/`, is the author's:
/// it is never written, and the build fails until it implements the interface's functions.
///
/// # Errors
/// The WIT cannot be read, the generator refuses it, or a file cannot be written.
pub fn go_bindings(wit: &Path, world: &str, module: &Path) -> Result<(), GuestBuildError> {
    let options = wit_bindgen_go::Opts {
        format: wit_bindgen_go::Format::False,
        quiet: true,
        ..Default::default()
    };
    let files = generate("Go", options.build(), wit, world)?;
    for (name, bytes) in files.iter() {
        if name == "go.mod" {
            let mut text = String::from_utf8_lossy(bytes).into_owned();
            text.push_str(&format!(
                "\nreplace go.bytecodealliance.org/pkg => ./{GO_PKG_DIR}\n"
            ));
            write(&module.join(name), text.as_bytes())?;
        } else {
            write(&module.join(name), bytes)?;
        }
    }
    for (name, bytes) in GO_PKG {
        write(&module.join(GO_PKG_DIR).join(name), bytes)?;
    }
    Ok(())
}

/// The `go build` command that compiles the Go module `module` (its bindings written by
/// [`go_bindings`]) into the core module `core`: `GOOS=wasip1 GOARCH=wasm`, built as a
/// library (`-buildmode=c-shared`), with no module proxy and no toolchain download.
pub fn go_compile(go: impl AsRef<OsStr>, module: &Path, core: &Path) -> Command {
    let mut command = Command::new(go);
    command
        .current_dir(module)
        .envs([
            ("GOOS", "wasip1"),
            ("GOARCH", "wasm"),
            ("GOFLAGS", "-mod=mod"),
            ("GOPROXY", "off"),
            ("GOTOOLCHAIN", "local"),
            ("GOWORK", "off"),
        ])
        // The bindings reach into the runtime's allocator, which the linker otherwise refuses.
        .args([
            "build",
            "-buildmode=c-shared",
            "-ldflags=-s -checklinkname=0",
            "-o",
        ])
        .arg(core)
        .arg(".");
    command
}

/// Make the core module `core`, built against `world` of the WIT in `wit`, into a component:
/// the world's type is embedded (again, if the module already carries it), and WASI preview 1
/// imports, if any, are adapted to WASI 0.2 by the reactor adapter.
///
/// # Errors
/// The WIT cannot be read, or the module does not fit the world.
pub fn componentize(core: &[u8], wit: &Path, world_name: &str) -> Result<Vec<u8>, GuestBuildError> {
    let (resolve, id) = world(wit, world_name)?;
    let component = |e: &dyn std::fmt::Display| GuestBuildError::Component(format!("{e:#}"));
    let mut module = core.to_vec();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        id,
        wit_component::StringEncoding::UTF8,
        false,
    )
    .map_err(|e| component(&e))?;
    wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| {
            encoder.adapter(
                "wasi_snapshot_preview1",
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| component(&e))
}
