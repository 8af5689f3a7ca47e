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

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;

use super::Daemon;
use super::error::ApiError;
use crate::api;
use crate::error::CoordinationError;
use crate::event::Revision;
use crate::ids::GroupId;

/// Query of `GET /v1/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventsQuery {
    /// First revision to send; the next change when absent.
    from: Option<Revision>,
    /// Only this group's events.
    group: Option<String>,
}

/// How often an idle stream sends a comment, so proxies and clients see it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

pub(super) async fn events(
    State(daemon): State<Arc<Daemon>>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let Query(query) = query?;
    let group = query.group.as_deref().map(GroupId::new).transpose()?;
    let from = match last_event_id(&headers)? {
        Some(last) => Some(last.saturating_add(1)),
        None => query.from,
    };
    let head = daemon.coordinator.head_revision();
    if let Some(from) = from
        && from > head + 1
    {
        return Err(ApiError::BadRequest(format!(
            "revision {from} is in the future: the newest is {head}"
        )));
    }
    let stream = daemon
        .coordinator
        .subscribe(from)?
        .filter_map(move |item| {
            let group = group.clone();
            async move {
                match item {
                    Ok(event) => {
                        if group.as_ref().is_some_and(|g| g != event.group_id()) {
                            return None;
                        }
                        let data = serde_json::to_string(&event).ok()?;
                        Some(Ok(SseEvent::default()
                            .id(event.revision().to_string())
                            .data(data)))
                    }
                    Err(CoordinationError::HistoryLost { requested, oldest }) => {
                        let data =
                            serde_json::to_string(&api::Resync { requested, oldest }).ok()?;
                        Some(Ok(SseEvent::default().event("resync").data(data)))
                    }
                    Err(other) => {
                        tracing::warn!(error = %other, "event stream failed");
                        None
                    }
                }
            }
        })
        .take_until(daemon.shutdown_signal());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
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
