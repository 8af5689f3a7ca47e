//! Roster's own Rust guest components, from `plugins/rust/`, built once per build by this
//! crate's build script: the drivers built into the host (`redis`, `etcd`, `file`), the
//! monitor demo's handlers, and the components the test suite loads.
//!
//! The binaries and the test suite depend on this crate; the `roster` library only through its
//! `builtin-drivers` feature. When the guests could not be built (no rustup, or the
//! `wasm32-wasip2` target cannot be added) [`missing`] says why and nothing is found.

use std::path::{Path, PathBuf};

/// The directory holding the built components, `<package name>.wasm` each.
pub fn dir() -> &'static Path {
    Path::new(env!("ROSTER_GUESTS_DIR"))
}

/// Why the guests were not built, when they were not.
pub fn missing() -> Option<&'static str> {
    Some(env!("ROSTER_GUESTS_MISSING")).filter(|reason| !reason.is_empty())
}

/// The file of the component `name` (a guest's package name, such as `tally` or
/// `log-events`), or why there is none.
///
/// # Errors
/// The reason the guests were not built, or that no guest has that name.
pub fn component(name: &str) -> Result<PathBuf, String> {
    if let Some(reason) = missing() {
        return Err(reason.to_owned());
    }
    let path = dir().join(format!("{name}.wasm"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no guest component named {name} in {}",
            dir().display()
        ))
    }
}

/// The component of the built-in driver for backend `name` (`redis`, `etcd`, `file`), if the
/// guests were built.
pub fn builtin_driver(name: &str) -> Option<&'static [u8]> {
    #[cfg(roster_guests_built)]
    {
        macro_rules! built {
            ($file:literal) => {
                include_bytes!(concat!(env!("ROSTER_GUESTS_DIR"), "/", $file)).as_slice()
            };
        }
        match name {
            "redis" => Some(built!("redis-driver.wasm")),
            "etcd" => Some(built!("etcd-driver.wasm")),
            "file" => Some(built!("file-driver.wasm")),
            _ => None,
        }
    }
    #[cfg(not(roster_guests_built))]
    {
        let _ = name;
        None
    }
}
