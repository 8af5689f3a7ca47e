//! Builds the example handler components `--demo` attaches (`log-events`, `tally` and the
//! misbehaving `misbehave`) into `$OUT_DIR/demo-plugins`, with the same recipe as the
//! end-to-end suite (`plugins/rust/build_guests.rs`).
//!
//! The monitor finds them through `ROSTER_TUI_DEMO_PLUGINS`. When they cannot be built (no
//! rustup, no network to add the target) the build goes on with a warning and the demo runs
//! without plugins, saying so on screen.

#[path = "../plugins/rust/build_guests.rs"]
mod build_guests;

/// The demo's handlers, by package name (their library names use `_`).
const DEMO_GUESTS: [&str; 3] = ["log-events", "tally", "misbehave"];

fn main() {
    let (root, out) = build_guests::root_and_out();
    build_guests::rerun_if_guests_change(&root, &DEMO_GUESTS);
    let dir = out.join("demo-plugins");
    let built = std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            build_guests::build_rust_guests(&root, &out.join("rust-guests"), &DEMO_GUESTS)
        })
        .and_then(|release| {
            for guest in DEMO_GUESTS {
                let from = release.join(format!("{}.wasm", guest.replace('-', "_")));
                let to = dir.join(format!("{guest}.wasm"));
                std::fs::copy(&from, &to)
                    .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
            }
            Ok(())
        });
    match built {
        Ok(()) => println!("cargo:rustc-env=ROSTER_TUI_DEMO_PLUGINS={}", dir.display()),
        Err(reason) => {
            println!("cargo:warning=the demo runs without plugins: {reason}");
            println!("cargo:rustc-env=ROSTER_TUI_DEMO_PLUGINS=");
        }
    }
}
