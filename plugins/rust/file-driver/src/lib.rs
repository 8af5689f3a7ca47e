//! Roster's file backend driver: groups, members, sessions and elections kept in a directory
//! that the processes of one machine share (`file:///DIR`), with the embedded backend's rules
//! (the `roster-rules` crate, which both run).
//!
//! The store is one JSON state file, replaced whole (written beside it, then renamed) under a
//! lock file, plus a change log in segment files. See README.md for the layout, the locking
//! and the change feed.

mod files;
mod model;
mod store;
#[cfg(test)]
mod tests;

pub use driver_kit::{exports, roster};
pub(crate) use driver_kit::{now_ms, random, random_hex};

use roster::coordination::types::CoordinationError;

type Result<T> = std::result::Result<T, CoordinationError>;

/// Log a warning through the host (a line on stderr where there is no host: native tests).
pub(crate) fn log_warn(message: &str) {
    driver_kit::log_warn("file-driver", message);
}

driver_kit::export_driver!(store::Store);
