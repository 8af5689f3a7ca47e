//! Network sessions: one started [`Coordinator`] per session, heartbeated by its client.
//!
//! Membership is ephemeral: a session's memberships and candidacies belong to it. Closing
//! the session leaves everything at once; a session that stops heartbeating expires in the
//! store after its TTL (its members leave with reason `expired`, as for any coordinator).
//! The expired session is kept one more TTL so its client's next heartbeat learns what it
//! lost (`session-expired`), then it is forgotten (`session-not-found`), so clients that
//! vanish leave nothing behind.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::error::ApiError;
use roster::{Coordinator, Heartbeat, WatchId};
use roster_types::ids::{GroupId, MemberId};

/// One open session.
pub(crate) struct SessionEntry {
    pub(crate) id: String,
    pub(crate) coordinator: Coordinator,
    pub(crate) ttl: Duration,
    /// The election watch standing for each group the session is a candidate in.
    candidacies: Mutex<HashMap<GroupId, WatchId>>,
    /// When the daemon first saw the session expired.
    expired_since: Mutex<Option<Instant>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl SessionEntry {
    /// Stand for election in `group`; standing again changes nothing.
    pub(crate) fn stand(&self, group: &str) -> Result<(), ApiError> {
        let mut candidacies = lock(&self.candidacies);
        if let Entry::Vacant(vacant) = candidacies.entry(GroupId::new(group)?) {
            vacant.insert(self.coordinator.watch_elected_as_leader(group, |_| {})?);
        }
        Ok(())
    }

    /// Withdraw from the election in `group`.
    pub(crate) fn withdraw(&self, group: &str) -> Result<(), ApiError> {
        let group_id = GroupId::new(group)?;
        let Some(id) = lock(&self.candidacies).remove(&group_id) else {
            return Err(roster_types::CoordinationError::WatchCallbackNotFound(group_id).into());
        };
        self.coordinator.unwatch_elected_as_leader(group, id)?;
        Ok(())
    }
}

/// Every open session, by id.
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Arc<SessionEntry>>>,
    limit: usize,
}

impl Sessions {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            map: Mutex::default(),
            limit,
        }
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.map).len()
    }

    /// Open a session for `member_id` on `template`'s store.
    pub(crate) async fn open(
        &self,
        template: &Coordinator,
        member_id: MemberId,
        ttl: Duration,
    ) -> Result<Arc<SessionEntry>, ApiError> {
        if self.len() >= self.limit {
            return Err(ApiError::TooManySessions(self.limit));
        }
        let coordinator = template.for_member(member_id, ttl);
        coordinator.start_with(Heartbeat::Manual).await?;
        let entry = Arc::new(SessionEntry {
            id: uuid::Uuid::new_v4().simple().to_string(),
            coordinator,
            ttl,
            candidacies: Mutex::default(),
            expired_since: Mutex::default(),
        });
        // Checked again where it counts: opens racing past the first check stop here.
        let admitted = {
            let mut map = lock(&self.map);
            let room = map.len() < self.limit;
            if room {
                map.insert(entry.id.clone(), Arc::clone(&entry));
            }
            room
        };
        if !admitted {
            stop(&entry).await;
            return Err(ApiError::TooManySessions(self.limit));
        }
        tracing::debug!(session = %entry.id, member = %entry.coordinator.member_id(), "session opened");
        Ok(entry)
    }

    pub(crate) fn get(&self, id: &str) -> Result<Arc<SessionEntry>, ApiError> {
        lock(&self.map)
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::SessionNotFound(id.to_owned()))
    }

    /// Close a session: its member leaves every group and gives up every candidacy.
    pub(crate) async fn close(&self, id: &str) -> Result<(), ApiError> {
        let entry = lock(&self.map)
            .remove(id)
            .ok_or_else(|| ApiError::SessionNotFound(id.to_owned()))?;
        stop(&entry).await;
        tracing::debug!(session = %id, "session closed");
        Ok(())
    }

    /// Forget sessions that have been expired for longer than their TTL.
    pub(crate) async fn sweep(&self, now: Instant) {
        let gone: Vec<Arc<SessionEntry>> = {
            let mut map = lock(&self.map);
            let mut gone = Vec::new();
            map.retain(|_, entry| {
                if !entry.coordinator.has_expired() {
                    *lock(&entry.expired_since) = None;
                    return true;
                }
                let since = *lock(&entry.expired_since).get_or_insert(now);
                if now.duration_since(since) < entry.ttl {
                    return true;
                }
                gone.push(Arc::clone(entry));
                false
            });
            gone
        };
        for entry in gone {
            tracing::debug!(session = %entry.id, "expired session forgotten");
            stop(&entry).await;
        }
    }

    /// Close every session (daemon shutdown).
    pub(crate) async fn close_all(&self) {
        let all: Vec<Arc<SessionEntry>> = lock(&self.map).drain().map(|(_, e)| e).collect();
        for entry in all {
            stop(&entry).await;
        }
    }
}

async fn stop(entry: &SessionEntry) {
    // Stopping twice (a close racing a sweep) is harmless: the second finds it stopped.
    let _ = entry.coordinator.stop().await;
}
