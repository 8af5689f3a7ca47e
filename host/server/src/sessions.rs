//! Network sessions: one started [`Coordinator`] per session, heartbeated by its client.
//!
//! Membership is ephemeral: a session's memberships and candidacies belong to it. Closing
//! the session leaves everything at once; a session that stops heartbeating expires in the
//! store after its TTL (its members leave with reason `expired`, as for any coordinator).
//!
//! A session's id is a [`Token`]: it names the member, the TTL and the session's key in the
//! store, so a daemon can go on with a session it has never seen. On a driver's store
//! (Redis, etcd, a directory, another daemon) the session lives in the store, and any daemon
//! serving that store takes it over at the client's next call ([`Coordinator::resume`]):
//! a client whose daemon is gone goes on through another one, and a restarted daemon loses
//! nothing. Such a daemon only forgets a session it has not heard of for two TTLs (the
//! client went elsewhere, or the store expired it), and at shutdown it hands its sessions
//! over rather than closing them.
//!
//! On the embedded store (`memory://`) sessions live in this process. An expired one is kept
//! one more TTL so its client's next heartbeat learns what it lost (`session-expired`), then
//! forgotten (`session-not-found`, as for a closed one). A session of another store (the one
//! a restarted daemon had before: the key names its store) is reopened under the same id and
//! answered `session-expired` once, with nothing to report: the client learns that its
//! member is gone and establishes it again, as it does when a driver's store comes back
//! without its data.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::error::ApiError;
use roster::{Coordinator, Heartbeat, WatchId};
use roster_types::CoordinationError;
use roster_types::ids::{GroupId, MemberId};

/// What a session id says: `{ttl_ms}.{member length in bytes}.{member}.{key}`. The member
/// is given with its length, since a member id may contain dots.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) ttl: Duration,
    pub(crate) member: MemberId,
    /// The session's key in the store.
    pub(crate) key: String,
}

impl Token {
    pub(crate) fn format(member: &MemberId, ttl: Duration, key: &str) -> String {
        format!(
            "{}.{}.{member}.{key}",
            ttl.as_millis(),
            member.as_str().len()
        )
    }

    /// The token `id` is; `None` for anything else.
    pub(crate) fn parse(id: &str) -> Option<Self> {
        let (ttl, rest) = id.split_once('.')?;
        let (length, rest) = rest.split_once('.')?;
        let length: usize = length.parse().ok()?;
        let member = rest.get(..length)?;
        let key = rest.get(length..)?.strip_prefix('.')?;
        let ttl: u64 = ttl.parse().ok()?;
        let ttl = Duration::from_millis(ttl);
        let ttl_range = super::MIN_TTL_MS..=super::MAX_TTL_MS;
        if key.is_empty() || !ttl_range.contains(&(ttl.as_millis() as u64)) {
            return None;
        }
        Some(Self {
            ttl,
            member: MemberId::new(member).ok()?,
            key: key.to_owned(),
        })
    }
}

/// One open session.
pub(crate) struct SessionEntry {
    pub(crate) id: String,
    pub(crate) coordinator: Coordinator,
    pub(crate) ttl: Duration,
    /// The election watch standing for each group the session is a candidate in.
    candidacies: Mutex<HashMap<GroupId, WatchId>>,
    /// When the daemon first saw the session expired.
    expired_since: Mutex<Option<Instant>>,
    /// When a request last named the session.
    last_seen: Mutex<Instant>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl SessionEntry {
    fn new(id: String, coordinator: Coordinator, ttl: Duration) -> Arc<Self> {
        Arc::new(Self {
            id,
            coordinator,
            ttl,
            candidacies: Mutex::default(),
            expired_since: Mutex::default(),
            last_seen: Mutex::new(Instant::now()),
        })
    }

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
            return Err(CoordinationError::WatchCallbackNotFound(group_id).into());
        };
        self.coordinator.unwatch_elected_as_leader(group, id)?;
        Ok(())
    }

    /// Whether the session lives in this process's embedded store.
    fn is_embedded(&self) -> bool {
        self.coordinator.is_embedded()
    }
}

/// What becomes of a session id the daemon does not have, on the embedded store (on a
/// driver's store the session is taken over from the store in either case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unknown {
    /// `session-not-found`: for reading or closing it.
    NotFound,
    /// Reopened, and answered `session-expired` once: for using it.
    Reopen,
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
        let key = coordinator.session_key().unwrap_or_else(|| {
            // The store's id in the key tells a session this store closed or forgot from
            // one of a store it replaced.
            let random = uuid::Uuid::new_v4().simple();
            format!("{random}@{}", template.store_id())
        });
        let id = Token::format(coordinator.member_id(), ttl, &key);
        let entry = SessionEntry::new(id, coordinator, ttl);
        if let Err(refused) = self.admit(&entry) {
            stop(&entry).await;
            return Err(refused);
        }
        tracing::debug!(session = %entry.id, member = %entry.coordinator.member_id(), "session opened");
        Ok(entry)
    }

    /// Add `entry` to the map, if there is room (checked again where it counts: opens racing
    /// past the first check stop here).
    fn admit(&self, entry: &Arc<SessionEntry>) -> Result<(), ApiError> {
        let mut map = lock(&self.map);
        if map.len() >= self.limit {
            return Err(ApiError::TooManySessions(self.limit));
        }
        map.insert(entry.id.clone(), Arc::clone(entry));
        Ok(())
    }

    /// The session `id`, if this daemon has it.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<SessionEntry>> {
        let entry = lock(&self.map).get(id).cloned()?;
        *lock(&entry.last_seen) = Instant::now();
        Some(entry)
    }

    /// The session `id`: one this daemon has, else one it takes over from the store, or
    /// (on the embedded store) as `unknown` says.
    pub(crate) async fn find(
        &self,
        id: &str,
        template: &Coordinator,
        unknown: Unknown,
    ) -> Result<Arc<SessionEntry>, ApiError> {
        if let Some(entry) = self.get(id) {
            return Ok(entry);
        }
        let not_found = || ApiError::SessionNotFound(id.to_owned());
        let token = Token::parse(id).ok_or_else(not_found)?;
        if template.is_embedded()
            && (unknown == Unknown::NotFound
                || token.key.rsplit_once('@').map(|(_, store)| store)
                    == Some(template.store_id().as_str()))
        {
            return Err(not_found());
        }
        if self.len() >= self.limit {
            return Err(ApiError::TooManySessions(self.limit));
        }
        let coordinator = template.for_member(token.member.clone(), token.ttl);
        if template.is_embedded() {
            coordinator.start_with(Heartbeat::Manual).await?;
        } else {
            coordinator.resume(token.key, Heartbeat::Manual).await?;
        }
        let entry = SessionEntry::new(id.to_owned(), coordinator, token.ttl);
        let entry = {
            let mut map = lock(&self.map);
            match map.entry(id.to_owned()) {
                // Another request took it over first: that one is the session.
                Entry::Occupied(taken) => Err((Arc::clone(taken.get()), entry)),
                Entry::Vacant(vacant) => Ok(Arc::clone(vacant.insert(entry))),
            }
        };
        match entry {
            Err((taken, ours)) => {
                if ours.is_embedded() {
                    stop(&ours).await;
                }
                Ok(taken)
            }
            Ok(entry) if entry.is_embedded() => {
                tracing::debug!(session = %id, "unknown session reopened");
                Err(CoordinationError::SessionExpired {
                    member_id: token.member,
                    lost_groups: Vec::new(),
                    lost_candidacies: Vec::new(),
                }
                .into())
            }
            Ok(entry) => {
                tracing::debug!(session = %id, "session taken over from the store");
                Ok(entry)
            }
        }
    }

    /// Close a session: its member leaves every group and gives up every candidacy.
    pub(crate) async fn close(&self, id: &str, template: &Coordinator) -> Result<(), ApiError> {
        self.find(id, template, Unknown::NotFound).await?;
        let entry = lock(&self.map)
            .remove(id)
            .ok_or_else(|| ApiError::SessionNotFound(id.to_owned()))?;
        stop(&entry).await;
        tracing::debug!(session = %id, "session closed");
        Ok(())
    }

    /// Forget sessions that have been expired for longer than their TTL (embedded store),
    /// or not heard of for two TTLs (a driver's store: they are left to the store). Returns
    /// how many were forgotten.
    pub(crate) async fn sweep(&self, now: Instant) -> usize {
        let mut forgotten = 0;
        let gone: Vec<Arc<SessionEntry>> = {
            let mut map = lock(&self.map);
            let mut gone = Vec::new();
            map.retain(|_, entry| {
                if !entry.is_embedded() {
                    let idle = now.saturating_duration_since(*lock(&entry.last_seen));
                    let keep = idle < entry.ttl * 2;
                    forgotten += usize::from(!keep);
                    return keep;
                }
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
        forgotten += gone.len();
        for entry in gone {
            tracing::debug!(session = %entry.id, "expired session forgotten");
            stop(&entry).await;
        }
        forgotten
    }

    /// At shutdown: close every session of the embedded store (its members leave), and hand
    /// those of a driver's store over (they stay in the store, for another daemon to take
    /// over). Returns how many were handed over.
    pub(crate) async fn close_all(&self) -> usize {
        let all: Vec<Arc<SessionEntry>> = lock(&self.map).drain().map(|(_, e)| e).collect();
        let mut handed_over = 0;
        for entry in all {
            if entry.is_embedded() {
                stop(&entry).await;
            } else {
                handed_over += 1;
            }
        }
        handed_over
    }
}

async fn stop(entry: &SessionEntry) {
    // Stopping twice (a close racing a sweep) is harmless: the second finds it stopped.
    let _ = entry.coordinator.stop().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_member_ttl_and_key_and_read_back() {
        for member in ["w1", "a.b.c", "x y", "é"] {
            let member = MemberId::new(member).unwrap();
            let ttl = Duration::from_millis(1500);
            let id = Token::format(&member, ttl, "k.e.y");
            assert_eq!(
                Token::parse(&id),
                Some(Token {
                    ttl,
                    member,
                    key: "k.e.y".into()
                })
            );
        }
    }

    #[test]
    fn anything_else_is_no_token() {
        for id in [
            "",
            "abc",
            "1500.2.w1",
            "1500.2.w1.",
            "1500.3.w1.k",
            "1500.9.w1.k",
            "x.2.w1.k",
            "1500.x.w1.k",
            "1.2.w1.k",
            "1500.0..k",
            "1500.2.w\u{7}.k",
        ] {
            assert_eq!(Token::parse(id), None, "{id:?}");
        }
    }
}
