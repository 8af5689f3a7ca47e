//! [`get_coordinator`]: a backend URL to a coordinator, with the driver its scheme needs.
//!
//! The one place that knows every kind of store: the embedded one (`roster-core`), a daemon
//! (its client, [`DaemonDriver`]) and a Wasm driver component (`roster-wasm`).

use std::sync::Arc;

use roster_core::Coordinator;
use roster_core::backend_url::{BackendKind, BackendUrl};
use roster_core::driver::Driver;
use roster_types::error::Result;
use roster_types::ids::MemberId;
use roster_wasm::{DriverSpec, WasmDriver};

use crate::driver::daemon::DaemonDriver;

/// Create a coordinator for `member_id` on the backend `url` names (tooz's
/// `get_coordinator`). The coordinator is not started.
///
/// # Errors
/// [`CoordinationError::InvalidUrl`] for a malformed URL, an unknown scheme (the message lists
/// the known ones), an unknown or repeated option, a bad option value, or a store-wide option
/// that differs from the one the process's store of that name has;
/// [`CoordinationError::InvalidId`] for an invalid member id.
///
/// [`CoordinationError::InvalidUrl`]: roster_types::CoordinationError::InvalidUrl
/// [`CoordinationError::InvalidId`]: roster_types::CoordinationError::InvalidId
pub fn get_coordinator(url: &str, member_id: &str) -> Result<Coordinator> {
    let url = BackendUrl::parse(url)?;
    let member_id = MemberId::new(member_id)?;
    // A store elsewhere is reached through a driver, made only if the process has no mirror
    // of that store yet.
    match url.kind.clone() {
        BackendKind::Embedded => Coordinator::on_embedded_store(url, member_id),
        BackendKind::Daemon { address, security } => {
            let ttl = url.membership_timeout;
            Coordinator::on_driver_store(url, member_id, || {
                Ok(
                    Arc::new(DaemonDriver::with_security(&address, ttl, &security)?)
                        as Arc<dyn Driver>,
                )
            })
        }
        BackendKind::Driver {
            name,
            endpoint,
            component,
            options,
        } => {
            let call_limit = DriverSpec::call_limit_for(url.membership_timeout);
            Coordinator::on_driver_store(url, member_id, || {
                Ok(Arc::new(WasmDriver::new(DriverSpec {
                    name,
                    component,
                    endpoint,
                    options,
                    call_limit,
                })) as Arc<dyn Driver>)
            })
        }
    }
}
