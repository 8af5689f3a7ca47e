//! The lock endpoints: acquire (or queue, and wait a while in the daemon), wait again,
//! abandon a wait, release, break, where a session stands, and who holds what.
//!
//! A wait happens in the daemon for at most [`api::MAX_LOCK_WAIT_MS`] per request; a
//! client that wants to wait longer asks again, keeping its place in the lock's queue, so
//! no HTTP request outlives a proxy's patience and no waiter loses its turn between two.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};

use super::Daemon;
use super::error::ApiError;
use super::routes::{Caller, reaches};
use super::sessions::Unknown;
use roster_types::api;
use roster_types::{LockAttempt, LockInfo, LockStanding};

type Shared = State<Arc<Daemon>>;
type Reply<T> = Result<T, ApiError>;

/// How long a request asks the daemon to wait, within the limit.
fn patience(wait_ms: u64) -> Reply<Duration> {
    if wait_ms > api::MAX_LOCK_WAIT_MS {
        return Err(ApiError::BadRequest(format!(
            "wait_ms {wait_ms} is over the limit of {} ms: ask again to wait longer",
            api::MAX_LOCK_WAIT_MS
        )));
    }
    Ok(Duration::from_millis(wait_ms))
}

/// Wait up to `patience` for the session's grant: `Acquired`, or still `Queued`.
async fn wait_a_while(
    coordinator: &roster::Coordinator,
    lock: &str,
    patience: Duration,
) -> Reply<LockAttempt> {
    Ok(
        match coordinator.wait_for_lock(lock, Some(patience)).await? {
            Some(token) => LockAttempt::Acquired { token },
            None => LockAttempt::Queued,
        },
    )
}

pub(super) async fn acquire(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<api::AcquireLock>, JsonRejection>,
) -> Reply<Json<LockAttempt>> {
    let Path((id, lock)) = path?;
    let Json(request) = body?;
    let patience = patience(request.wait_ms)?;
    let entry = daemon.session(&id, Unknown::Reopen).await?;
    let c = &entry.coordinator;
    let attempt = c.acquire_lock(&lock, request.mode, request.wait).await?;
    if attempt == LockAttempt::Queued && !patience.is_zero() {
        return wait_a_while(c, &lock, patience).await.map(Json);
    }
    Ok(Json(attempt))
}

pub(super) async fn wait(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<api::WaitForLock>, JsonRejection>,
) -> Reply<Json<LockAttempt>> {
    let Path((id, lock)) = path?;
    let Json(request) = body?;
    let patience = patience(request.wait_ms)?;
    let entry = daemon.session(&id, Unknown::Reopen).await?;
    wait_a_while(&entry.coordinator, &lock, patience)
        .await
        .map(Json)
}

pub(super) async fn abandon(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply<Json<api::LockToken>> {
    let Path((id, lock)) = path?;
    let entry = daemon.session(&id, Unknown::Reopen).await?;
    let token = entry.coordinator.abandon_lock_wait(&lock).await?;
    Ok(Json(api::LockToken { token }))
}

pub(super) async fn release(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply<Json<api::LockToken>> {
    let Path((id, lock)) = path?;
    let entry = daemon.session(&id, Unknown::Reopen).await?;
    let token = entry.coordinator.release_lock(&lock).await?;
    Ok(Json(api::LockToken { token }))
}

pub(super) async fn break_lock(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply<Json<api::BrokenLock>> {
    let Path((id, lock)) = path?;
    let entry = daemon.session(&id, Unknown::Reopen).await?;
    let tokens = entry.coordinator.break_lock(&lock).await?;
    Ok(Json(api::BrokenLock { tokens }))
}

pub(super) async fn standing(
    State(daemon): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply<Json<LockStanding>> {
    let Path((id, lock)) = path?;
    let entry = daemon.session(&id, Unknown::Reopen).await?;
    Ok(Json(entry.coordinator.lock_standing(&lock).await?))
}

pub(super) async fn info(
    State(daemon): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Reply<Json<LockInfo>> {
    let Path(lock) = path?;
    Ok(Json(daemon.coordinator.get_lock_info(&lock).await?))
}

pub(super) async fn list(State(daemon): Shared, caller: Caller) -> Reply<Json<api::Locks>> {
    let mut locks = daemon.coordinator.get_locks().await?;
    locks.retain(|l| reaches(&caller, l.lock.as_str()));
    Ok(Json(api::Locks { locks }))
}
