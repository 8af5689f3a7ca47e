//! Process-wide stores of the embedded backend, by name.
//!
//! Like zake's shared fake storage, every coordinator in the process that names the same
//! `memory://NAME` (or `zake://NAME`) sees the same groups. A store lives as long as the
//! process; the first coordinator to name it sets its history size and capability limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::Engine;
use crate::backend_url::BackendUrl;

static STORES: OnceLock<Mutex<HashMap<String, Arc<Engine>>>> = OnceLock::new();

/// The store `url` names, created on first use.
pub(crate) fn store_for(url: &BackendUrl) -> Arc<Engine> {
    let stores = STORES.get_or_init(Mutex::default);
    let mut stores = stores.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(
        stores
            .entry(url.store.clone())
            .or_insert_with(|| Engine::new(url.history_size, url.max_capabilities)),
    )
}
