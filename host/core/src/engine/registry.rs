//! Process-wide stores of the embedded backend, by name.
//!
//! Like zake's shared fake storage, every coordinator in the process that names the same
//! `memory://NAME` (or `zake://NAME`) sees the same groups. A store lives as long as the
//! process; the first coordinator to name it sets its history size and capability limit, and
//! a later one that names another value for either is refused (`InvalidUrl`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::Engine;
use crate::backend_url::BackendUrl;
use roster_types::error::CoordinationError;

/// Each store with the URL that created it (its options are the store's).
static STORES: OnceLock<Mutex<HashMap<String, Opened>>> = OnceLock::new();

/// A store, and the URL that created it.
type Opened = (Arc<Engine>, BackendUrl);

/// The store `url` names, created on first use.
///
/// # Errors
/// `InvalidUrl` when `url` names a store-wide option with another value than the store's.
pub(crate) fn store_for(url: &BackendUrl) -> Result<Arc<Engine>, CoordinationError> {
    let stores = STORES.get_or_init(Mutex::default);
    let mut stores = stores.lock().unwrap_or_else(|p| p.into_inner());
    let (engine, opened) = stores.entry(url.store.clone()).or_insert_with(|| {
        (
            Engine::new(url.history_size, url.max_capabilities),
            url.clone(),
        )
    });
    url.agrees_with(opened)?;
    Ok(Arc::clone(engine))
}
