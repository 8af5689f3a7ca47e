//! Empty: present so that the `[build-dependencies]` in `Cargo.toml` take part in feature
//! resolution (cargo ignores them in a crate without a build script).

fn main() {}
