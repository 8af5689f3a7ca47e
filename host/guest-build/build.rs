//! Embeds Go's runtime support package (`go.bytecodealliance.org/pkg`), which the Go bindings
//! import, from the source of the `wit-bindgen-go` crate (it ships the package in `src/pkg`).
//! Writing the package beside the bindings, with a `replace` directive, means a Go build needs
//! no module proxy.
//!
//! Cargo does not tell a build script where a dependency's source is, so it is looked up in
//! Cargo's registry cache (`$CARGO_HOME/registry/src/*/wit-bindgen-go-VERSION`), where cargo
//! put it to build this crate.

use std::path::{Path, PathBuf};

/// The `wit-bindgen-go` version `Cargo.toml` pins.
const GENERATOR: &str = "wit-bindgen-go-0.63.0";

fn main() {
    let package = find_package().unwrap_or_else(|searched| {
        panic!(
            "cannot find the source of {GENERATOR} (for its Go runtime package) in {searched}; \
             `cargo fetch` puts it there"
        )
    });
    println!("cargo:rerun-if-changed={}", package.display());
    let mut files = Vec::new();
    collect(&package, &package, &mut files);
    files.sort();
    let mut code =
        String::from("/// Go's runtime support package: (path in the module, contents).\n");
    code.push_str("pub(crate) const GO_PKG: &[(&str, &[u8])] = &[\n");
    for (relative, absolute) in files {
        code.push_str(&format!(
            "    ({relative:?}, include_bytes!({:?})),\n",
            absolute.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("go_pkg.rs"), code).expect("write go_pkg.rs");
}

/// The `src/pkg` directory of the generator's source, or the directory searched.
fn find_package() -> Result<PathBuf, String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let registry = home.join("registry/src");
    let entries = std::fs::read_dir(&registry).map_err(|_| registry.display().to_string())?;
    entries
        .filter_map(Result::ok)
        .map(|index| index.path().join(GENERATOR).join("src/pkg"))
        .find(|pkg| pkg.join("go.mod").is_file())
        .ok_or_else(|| registry.display().to_string())
}

/// The module's `go.mod` and its Go sources (`.go`, `.s`), not its documentation.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).expect("read the Go package") {
        let path = entry.expect("read the Go package").path();
        let relative = path
            .strip_prefix(root)
            .expect("inside the package")
            .to_string_lossy()
            .replace('\\', "/");
        if path.is_dir() {
            if relative != "docs" {
                collect(root, &path, files);
            }
        } else if relative == "go.mod" || relative.ends_with(".go") || relative.ends_with(".s") {
            files.push((relative, path));
        }
    }
}
