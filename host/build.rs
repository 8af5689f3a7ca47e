//! Builds the driver components built into the host (`redis`, `etcd3+http` and `file`
//! backends) from `plugins/rust/`, with the same recipe as the end-to-end suite
//! (`plugins/rust/build_guests.rs`), into `$OUT_DIR/drivers`.
//!
//! When they cannot be built (no rustup, or the `wasm32-wasip2` target cannot be added) the
//! host builds without them, with a warning; it then finds drivers only where a URL or
//! `ROSTER_DRIVER_DIR` says, and its error for a missing driver gives the reason.

#[path = "../plugins/rust/build_guests.rs"]
mod build_guests;

/// The built-in drivers, by package name (their components are `<name>_driver.wasm`).
const DRIVERS: [&str; 3] = ["redis-driver", "etcd-driver", "file-driver"];

fn main() {
    let (root, out) = build_guests::root_and_out();
    build_guests::rerun_if_guests_change(&root, &DRIVERS);
    println!("cargo::rustc-check-cfg=cfg(roster_builtin_drivers)");
    let dir = out.join("drivers");
    let built = std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| build_guests::build_rust_guests(&root, &out.join("rust-guests"), &DRIVERS))
        .and_then(|release| {
            for driver in DRIVERS {
                let file = format!("{}.wasm", driver.replace('-', "_"));
                let (from, to) = (release.join(&file), dir.join(&file));
                std::fs::copy(&from, &to)
                    .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
            }
            Ok(())
        });
    match built {
        Ok(()) => {
            println!("cargo:rustc-cfg=roster_builtin_drivers");
            println!("cargo:rustc-env=ROSTER_BUILTIN_DRIVERS={}", dir.display());
        }
        Err(reason) => {
            let reason = reason.replace(['\n', '\r'], " ");
            println!("cargo:warning=the host is built without its drivers: {reason}");
            println!("cargo:rustc-env=ROSTER_BUILTIN_DRIVERS_MISSING={reason}");
        }
    }
}
