//! No code: this crate only asks for features, so that every build of the workspace compiles
//! each third-party crate once. `Cargo.toml` says why and how to keep it current.
