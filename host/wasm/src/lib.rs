//! Roster's WebAssembly runtime: sandboxed components of the WIT contract in `wit/`, in both
//! of its worlds. Event handlers ([`plugin`]) receive a coordinator's membership events and
//! may call it back within their grants; backend drivers ([`driver`]) implement
//! `roster-core`'s driver contract for a store outside the process (Redis, etcd, a
//! directory).
//!
//! Both run on one runtime (`runtime`): one wasmtime engine configuration, one epoch ticker
//! for deadlines, one cache of compiled components and one `logging` host implementation.
//! [`wit`] ties the Rust types to the WIT contract. A plugin's fault (a trap, an overrun, bad
//! data) is contained and reported; it never takes the host down.

pub mod driver;
pub mod plugin;
mod runtime;
pub mod wit;

pub use driver::{DRIVER_DIR_VARIABLE, DriverSpec, WasmDriver, check_driver};
