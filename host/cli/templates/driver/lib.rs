//! {{name}}: a Roster backend driver. As written by `roster plugin new --world driver`, it is
//! Roster's own file driver: groups, members, sessions, elections and locks kept in one
//! directory (`file:///DIR`), with Roster's membership rules (`roster-rules`) run on the state
//! kept there. Change the store (`store.rs` for the calls, `files.rs` for how state and the
//! change log are kept, `model.rs` for what is kept) and keep it passing
//! `roster plugin conformance`.

mod files;
mod model;
mod store;

pub use driver_kit::{exports, roster};
pub(crate) use driver_kit::{now_ms, random, random_hex};

use roster::coordination::types::CoordinationError;

type Result<T> = std::result::Result<T, CoordinationError>;

/// Log a warning through the host.
pub(crate) fn log_warn(message: &str) {
    driver_kit::log_warn("{{name}}", message);
}

driver_kit::export_driver!(store::Store);
