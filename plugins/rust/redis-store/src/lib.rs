//! Roster's Redis backend driver: groups, members, sessions and elections kept in Redis,
//! with the same rules as the embedded backend, for every host that names the same
//! `redis://HOST:PORT` and namespace.
//!
//! Each operation is one Lua script (`lua/`), so it is atomic however many hosts share the
//! server; the change history is a Redis stream. See README.md for the key layout.

mod conn;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod reply;
mod scripts;
mod store;
#[cfg(test)]
mod tests;

pub use driver_kit::{exports, roster};
/// The store: what the `redis-driver` component exports, and natively the same code without
/// the host.
pub use store::Store;

use roster::coordination::types::CoordinationError;

type Result<T> = std::result::Result<T, CoordinationError>;

/// Log a warning through the host (a line on stderr where there is no host: native tests).
pub(crate) fn log_warn(message: &str) {
    driver_kit::log_warn("redis-driver", message);
}
