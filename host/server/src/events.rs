//! `GET /v1/events`: the change history as Server-Sent Events, resumable without gaps or
//! duplicates.
//!
//! Each event carries its revision as the SSE `id`, so a reconnecting client (browsers do it
//! by themselves) sends `Last-Event-ID` and continues with the next revision. A start older
//! than the history the daemon keeps produces one `resync` message naming the gap, after
//! which the stream goes on from the oldest kept revision: the client reloads its view
//! (`GET /v1/groups`) and carries on, knowing exactly what it missed. The stream reads the
//! store's history as it goes and holds no copy of it, so a slow reader costs nothing but
//! its own lag.
//!
//! A revision is only meaningful in its store, and a restarted daemon serves a new one whose
//! revisions start over, so `Last-Event-ID: 3` alone would resume the new store at 4,
//! silently skipping what it made before. The answer names its store (the `roster-store`
//! header, and every `resync`); a reader that names the store it last saw (`store`, kept in
//! the URL a browser reconnects to) and finds another gets a `resync` naming the store there
//! is now, then that store's history from the oldest revision kept.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};

use super::Daemon;
use super::error::ApiError;
use roster_types::api;
use roster_types::error::CoordinationError;
use roster_types::event::Revision;
use roster_types::ids::GroupId;

/// How often an idle stream sends a comment, so proxies and clients see it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

pub(super) async fn events(
    State(daemon): State<Arc<Daemon>>,
    headers: HeaderMap,
    query: Result<Query<api::EventsQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let Query(query) = query?;
    let group = query.group.as_deref().map(GroupId::new).transpose()?;
    let from = match last_event_id(&headers)? {
        Some(last) => Some(last.saturating_add(1)),
        None => query.from,
    };
    let store_id = daemon.coordinator.store_id();
    let replaced = query.store.as_ref().is_some_and(|named| *named != store_id);
    if let Some(from) = from
        && !replaced
        && from > daemon.coordinator.head_revision() + 1
    {
        // A reader that came from another daemon of the same store may have seen revisions
        // this daemon's copy of the store has yet to bring.
        daemon.coordinator.wait_for_revision(from - 1).await;
    }
    let head = daemon.coordinator.head_revision();
    let (from, first) = if replaced {
        // Whatever the reader had is of a store that is gone: it starts over here.
        let oldest = daemon.coordinator.oldest_revision();
        let resync = api::Resync {
            requested: from.unwrap_or(head + 1),
            oldest,
            store: store_id.clone(),
        };
        (Some(oldest), resync_message(&resync))
    } else {
        if let Some(from) = from
            && from > head + 1
        {
            return Err(ApiError::BadRequest(format!(
                "revision {from} is in the future: the newest is {head}"
            )));
        }
        (from, None)
    };
    let reader = super::metrics::Reader::count(&daemon.metrics);
    let stream = daemon
        .coordinator
        .subscribe(from)?
        .filter_map(move |item| {
            // Counted as a reader for as long as the stream lives.
            let _reader = &reader;
            let group = group.clone();
            let store_id = store_id.clone();
            async move {
                match item {
                    Ok(event) => {
                        if group.is_some() && event.group_id() != group.as_ref() {
                            return None;
                        }
                        let data = serde_json::to_string(&event).ok()?;
                        Some(Ok(SseEvent::default()
                            .id(event.revision().to_string())
                            .data(data)))
                    }
                    Err(CoordinationError::HistoryLost { requested, oldest }) => {
                        resync_message(&api::Resync {
                            requested,
                            oldest,
                            store: store_id,
                        })
                        .map(Ok)
                    }
                    Err(other) => {
                        tracing::warn!(error = %other, "event stream failed");
                        None
                    }
                }
            }
        })
        .take_until(daemon.shutdown_signal());
    let stream = futures_util::stream::iter(first.map(Ok)).chain(stream);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The stream's `resync` message.
fn resync_message(resync: &api::Resync) -> Option<SseEvent> {
    let data = serde_json::to_string(resync).ok()?;
    Some(SseEvent::default().event("resync").data(data))
}

/// The `Last-Event-ID` header as a revision, when present.
fn last_event_id(headers: &HeaderMap) -> Result<Option<Revision>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Last-Event-ID {value:?} is not a revision (a whole number)"
            ))
        })
}
