//! Roster's etcd backend driver: groups, members, sessions and elections kept in etcd v3,
//! with the same rules as the embedded backend, for every host that names the same
//! `etcd3+http://HOST:PORT` and namespace.
//!
//! etcd is reached through its v3 JSON gateway over HTTP/1.1. Each operation works on one
//! revision of the store (for a writer, usually what its previous transaction left, with no
//! read at all) and commits its writes in one etcd transaction that checks nothing it used
//! has changed since (else it runs again on what the failed commit read back), so it is
//! atomic however many hosts share the cluster. The change history is one key per
//! revision; `changes` takes new ones from a watch. See README.md for the design and the
//! key layout.

mod etcd;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod http;
mod keys;
mod model;
mod store;
#[cfg(test)]
mod tests;
mod tx;

pub use driver_kit::{exports, roster};
/// The store: what the `etcd-driver` component exports, and natively the same code without
/// the host.
pub use store::Store;

use roster::coordination::types::CoordinationError;

type Result<T> = std::result::Result<T, CoordinationError>;

/// Log a warning through the host (a line on stderr where there is no host: native tests).
pub(crate) fn log_warn(message: &str) {
    driver_kit::log_warn("etcd-driver", message);
}
