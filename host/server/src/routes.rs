//! The HTTP endpoints: one small handler per coordination call, each a thin translation
//! between JSON and the [`Coordinator`](roster::Coordinator) API. `host/types/openapi.json`
//! documents them.
//!
//! Calls that need no member identity (group lifecycle, reads) run on the daemon's own
//! coordinator; calls that act for a member (join, leave, capabilities, elections) run on
//! that member's session.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::error::ApiError;
use super::sessions::Unknown;
use super::{Daemon, auth};
use roster_types::api;
use roster_types::ids::{GroupId, MemberId};

type Shared = State<Arc<Daemon>>;
type Reply<T> = Result<T, ApiError>;

/// Unwrap an extractor, turning its rejection into a JSON error.
fn take<T, R: Into<ApiError>>(extracted: Result<T, R>) -> Reply<T> {
    extracted.map_err(Into::into)
}

fn created() -> StatusCode {
    StatusCode::CREATED
}

fn done() -> StatusCode {
    StatusCode::NO_CONTENT
}

// ----- daemon -----

pub(super) async fn status(State(daemon): Shared) -> Reply<Json<api::Status>> {
    let c = &daemon.coordinator;
    let groups = c.get_groups().await?.len();
    Ok(Json(api::Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        backend: c.store_name().to_owned(),
        store_id: c.store_id().to_owned(),
        revision: c.head_revision(),
        oldest_revision: c.oldest_revision(),
        groups,
        sessions: daemon.sessions.len(),
        plugins: daemon.plugin_count(),
        membership_timeout_ms: api::millis(c.membership_timeout()),
        uptime_ms: api::millis(daemon.started.elapsed()),
    }))
}

pub(super) async fn healthz() -> Json<api::Health> {
    Json(api::Health {
        status: "up".to_owned(),
    })
}

pub(super) async fn readyz(State(daemon): Shared) -> Reply<Json<api::Ready>> {
    if daemon.is_shutting_down() {
        return Err(ApiError::ShuttingDown);
    }
    let store_revision = daemon.store_revision().await?;
    Ok(Json(api::Ready {
        store_revision,
        mirror_revision: daemon.coordinator.head_revision(),
    }))
}

pub(super) async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        roster_types::api::OPENAPI,
    )
}

pub(super) async fn plugins(State(daemon): Shared) -> Json<api::Plugins> {
    Json(daemon.plugin_report())
}

// ----- sessions -----

pub(super) async fn open_session(
    State(daemon): Shared,
    body: Result<Json<api::OpenSession>, JsonRejection>,
) -> Reply<impl IntoResponse> {
    let Json(request) = take(body)?;
    let ttl = match request.ttl_ms {
        None => daemon.coordinator.membership_timeout(),
        Some(ms) if (super::MIN_TTL_MS..=super::MAX_TTL_MS).contains(&ms) => {
            std::time::Duration::from_millis(ms)
        }
        Some(ms) => {
            return Err(ApiError::BadRequest(format!(
                "ttl_ms {ms} is out of range: expected {} to {}",
                super::MIN_TTL_MS,
                super::MAX_TTL_MS
            )));
        }
    };
    if daemon.is_shutting_down() {
        return Err(ApiError::ShuttingDown);
    }
    let entry = daemon
        .sessions
        .open(&daemon.coordinator, request.member_id, ttl)
        .await?;
    Ok((
        created(),
        Json(api::Session {
            session_id: entry.id.clone(),
            member_id: entry.coordinator.member_id().clone(),
            ttl_ms: api::millis(entry.ttl),
        }),
    ))
}

pub(super) async fn get_session(
    State(daemon): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Reply<Json<api::Session>> {
    let Path(id) = take(path)?;
    let entry = daemon.session(&id, Unknown::NotFound).await?;
    Ok(Json(api::Session {
        session_id: entry.id.clone(),
        member_id: entry.coordinator.member_id().clone(),
        ttl_ms: api::millis(entry.ttl),
    }))
}

pub(super) async fn heartbeat(
    State(daemon): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Reply<Json<api::Heartbeat>> {
    let Path(id) = take(path)?;
    let entry = daemon.session(&id, Unknown::Reopen).await?;
    let expires_in = entry.coordinator.heartbeat().await?;
    Ok(Json(api::Heartbeat {
        expires_in_ms: api::millis(expires_in),
    }))
}

pub(super) async fn close_session(
    State(daemon): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Reply<StatusCode> {
    let Path(id) = take(path)?;
    daemon.sessions.close(&id, &daemon.coordinator).await?;
    Ok(done())
}

pub(super) async fn join(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<api::Join>, JsonRejection>,
) -> Reply<StatusCode> {
    let Path((id, group)) = take(path)?;
    let Json(request) = take(body)?;
    let entry = daemon.session(&id, Unknown::Reopen).await?;
    let c = &entry.coordinator;
    if request.create_group {
        c.join_group_create_with(&group, request.capabilities)
            .await?;
    } else {
        c.join_group_with(&group, request.capabilities).await?;
    }
    Ok(created())
}

pub(super) async fn leave(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply<StatusCode> {
    let Path((id, group)) = take(path)?;
    let entry = daemon.session(&id, Unknown::Reopen).await?;
    entry.coordinator.leave_group(&group).await?;
    Ok(done())
}

pub(super) async fn update_capabilities(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<api::UpdateCapabilities>, JsonRejection>,
) -> Reply<StatusCode> {
    let Path((id, group)) = take(path)?;
    let Json(request) = take(body)?;
    let entry = daemon.session(&id, Unknown::Reopen).await?;
    entry
        .coordinator
        .update_capabilities(&group, request.capabilities)
        .await?;
    Ok(done())
}

pub(super) async fn stand(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply<StatusCode> {
    let Path((id, group)) = take(path)?;
    daemon.session(&id, Unknown::Reopen).await?.stand(&group)?;
    Ok(done())
}

pub(super) async fn withdraw(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply<StatusCode> {
    let Path((id, group)) = take(path)?;
    daemon
        .session(&id, Unknown::Reopen)
        .await?
        .withdraw(&group)?;
    Ok(done())
}

pub(super) async fn stand_down(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply<Json<api::StoodDown>> {
    let Path((id, group)) = take(path)?;
    let entry = daemon.session(&id, Unknown::Reopen).await?;
    let was_leader = entry.coordinator.stand_down_group_leader(&group).await?;
    Ok(Json(api::StoodDown { was_leader }))
}

// ----- groups -----

/// Query of `GET /v1/snapshot`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SnapshotQuery {
    /// Most members listed per group.
    max_members: Option<usize>,
}

/// Members listed per group in a snapshot when the query does not say.
const DEFAULT_SNAPSHOT_MEMBERS: usize = 10_000;
/// The most members per group a snapshot may be asked to list (the document's maximum).
const MAX_SNAPSHOT_MEMBERS: usize = 1_000_000;

/// The caller of a request (a daemon without tokens: anyone).
pub(super) type Caller = Option<Extension<Arc<auth::Caller>>>;

/// Whether `caller` reaches the group or lock `name` (see [`auth`]).
pub(super) fn reaches(caller: &Caller, name: &str) -> bool {
    caller
        .as_ref()
        .is_none_or(|Extension(caller)| caller.reaches(name))
}

pub(super) async fn snapshot(
    State(daemon): Shared,
    caller: Caller,
    query: Result<Query<SnapshotQuery>, QueryRejection>,
) -> Reply<Json<api::Snapshot>> {
    let Query(query) = take(query)?;
    let max_members = query.max_members.unwrap_or(DEFAULT_SNAPSHOT_MEMBERS);
    if max_members > MAX_SNAPSHOT_MEMBERS {
        return Err(ApiError::BadRequest(format!(
            "max_members {max_members} is out of range: at most {MAX_SNAPSHOT_MEMBERS}"
        )));
    }
    let (revision, groups) = daemon.coordinator.snapshot(max_members).await?;
    Ok(Json(api::Snapshot {
        store_id: daemon.coordinator.store_id().to_owned(),
        revision,
        groups: groups
            .into_iter()
            .filter(|(summary, _)| reaches(&caller, summary.group_id.as_str()))
            .map(|(summary, members)| api::GroupState {
                complete: members.len() == summary.members,
                group_id: summary.group_id,
                member_count: summary.members,
                leader: summary.leader,
                last_change: summary.last_change,
                members: members
                    .iter()
                    .map(|(id, info)| api::Member::new(id.clone(), info))
                    .collect(),
            })
            .collect(),
    }))
}

pub(super) async fn groups(State(daemon): Shared, caller: Caller) -> Reply<Json<api::Groups>> {
    let (revision, mut groups) = daemon.coordinator.get_group_summaries().await?;
    groups.retain(|group| reaches(&caller, group.group_id.as_str()));
    Ok(Json(api::Groups { revision, groups }))
}

pub(super) async fn create_group(
    State(daemon): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Reply<StatusCode> {
    let Path(group) = take(path)?;
    daemon.coordinator.create_group(&group).await?;
    Ok(created())
}

pub(super) async fn delete_group(
    State(daemon): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Reply<StatusCode> {
    let Path(group) = take(path)?;
    daemon.coordinator.delete_group(&group).await?;
    Ok(done())
}

pub(super) async fn members(
    State(daemon): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Reply<Json<api::Members>> {
    let Path(group) = take(path)?;
    let infos = daemon.coordinator.get_members_info(&group).await?;
    let mut members: Vec<api::Member> = infos
        .iter()
        .map(|(id, info)| api::Member::new(id.clone(), info))
        .collect();
    members.sort_unstable_by(|a, b| a.member_id.cmp(&b.member_id));
    Ok(Json(api::Members {
        group_id: GroupId::new(&group)?,
        members,
    }))
}

pub(super) async fn member(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply<Json<api::Member>> {
    let Path((group, member)) = take(path)?;
    let info = daemon.coordinator.get_member_info(&group, &member).await?;
    Ok(Json(api::Member::new(MemberId::new(&member)?, &info)))
}

pub(super) async fn leader(
    State(daemon): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Reply<Json<api::LeaderOf>> {
    let Path(group) = take(path)?;
    let leader = daemon.coordinator.get_leader(&group).await?;
    Ok(Json(api::LeaderOf {
        group_id: GroupId::new(&group)?,
        leader,
    }))
}

pub(super) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}
