//! `GET /v1/changes`: the change history in bounded batches, for clients that poll with a
//! deadline rather than hold a stream open.
//!
//! This is the call a backend driver makes (see [`roster::driver`]): "the changes after
//! revision R, at most N of them, waiting up to W for the first one". It answers at once when
//! there is something to say, so a client that always has one call outstanding learns of a
//! change as soon as a stream reader would, and revision order is all it ever sees. A start
//! older than the history kept is answered with a `resync` naming the gap, never by skipping it.
//!
//! Revisions mean something only within one store, and a restarted daemon serves a new one
//! whose revisions start over: after it, "the changes after 3" would be the new store's 4
//! and 5, silently skipping its 1 to 3, or "revision 3 is in the future". So every answer
//! names its store, the client names the store its `after` is of (`store`), and a store that
//! is not the one named is answered with a `resync` naming the store there is now, whatever
//! the revision; the client never has to guess from the numbers.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};

use super::Daemon;
use super::error::ApiError;
use roster_types::api;
use roster_types::error::CoordinationError;

/// Most events one answer carries.
pub const MAX_CHANGES: usize = 10_000;
/// Events per answer when the query names no `max`.
pub const DEFAULT_CHANGES: usize = 1_000;
/// Longest wait a query may ask for, in milliseconds.
pub const MAX_WAIT_MS: u64 = 60_000;

pub(super) async fn changes(
    State(daemon): State<Arc<Daemon>>,
    query: Result<Query<api::ChangesQuery>, QueryRejection>,
) -> Result<Json<api::Changes>, ApiError> {
    let Query(query) = query?;
    let _reader = super::metrics::Reader::count(&daemon.metrics);
    let max = query.max.unwrap_or(DEFAULT_CHANGES);
    if !(1..=MAX_CHANGES).contains(&max) {
        return Err(ApiError::BadRequest(format!(
            "max {max} is out of range: from 1 to {MAX_CHANGES}"
        )));
    }
    let wait_ms = query.wait_ms.unwrap_or(0);
    if wait_ms > MAX_WAIT_MS {
        return Err(ApiError::BadRequest(format!(
            "wait_ms {wait_ms} is too long: at most {MAX_WAIT_MS}"
        )));
    }
    let coordinator = &daemon.coordinator;
    let store_id = coordinator.store_id();
    if let Some(named) = &query.store
        && *named != store_id
    {
        // Nothing the client has is of this store: it starts over here, from the oldest
        // revision kept, after reloading the state.
        let (oldest, head) = coordinator.history_window();
        return Ok(Json(api::Changes {
            store: store_id.clone(),
            head,
            events: Vec::new(),
            resync: Some(api::Resync {
                requested: query.after.saturating_add(1),
                oldest,
                store: store_id,
            }),
        }));
    }
    // A client that came from another daemon of the same store may have seen revisions
    // this daemon's copy of the store has yet to bring.
    if query.after > coordinator.history_window().1 {
        coordinator.wait_for_revision(query.after).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    let mut shutdown = std::pin::pin!(daemon.shutdown_signal());
    loop {
        let changed = coordinator.history_changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let mut events = Vec::new();
        let (read, head) =
            coordinator.read_history(query.after.saturating_add(1), max, &mut events);
        if query.after > head {
            return Err(ApiError::BadRequest(format!(
                "revision {} is in the future: the newest is {head}",
                query.after
            )));
        }
        match read {
            Err(CoordinationError::HistoryLost { requested, oldest }) => {
                return Ok(Json(api::Changes {
                    store: store_id.clone(),
                    head,
                    events: Vec::new(),
                    resync: Some(api::Resync {
                        requested,
                        oldest,
                        store: store_id,
                    }),
                }));
            }
            Err(other) => return Err(other.into()),
            Ok(()) => {}
        }
        if !events.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(Json(api::Changes {
                store: store_id,
                head,
                events,
                resync: None,
            }));
        }
        tokio::select! {
            () = changed => {}
            () = tokio::time::sleep_until(deadline) => {}
            () = &mut shutdown => {
                return Ok(Json(api::Changes { store: store_id, head, events, resync: None }));
            }
        }
    }
}
