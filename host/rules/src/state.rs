//! The whole state of one store, the revision counter and the events it commits; sessions and
//! their liveness (open, heartbeat, expiry and its notice, close).
//!
//! The rules of groups, membership and elections are in their own modules, as further
//! `impl` blocks of [`State`].

use std::collections::{BTreeSet, HashMap};

/// The rules' hash maps. Keys are ids a client chooses, so the hasher is seeded per process
/// (foldhash's, as hashbrown's own default); on the short ids Roster keys by it costs about a
/// quarter of SipHash, and a call looks up several maps.
pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::fmt;
use std::hash::Hash;
use std::time::Duration;

use roster_types::error::CoordinationError;
use roster_types::event::{Event, LeadershipEnd, LeaveReason, LockReleaseReason, Revision};
use roster_types::ids::{DEFAULT_MAX_CAPABILITIES, GroupId, LockName, MemberId};
use serde::{Deserialize, Serialize};

use crate::group::Group;
use crate::locks::Lock;
use crate::session::{Session, Tie};
use crate::time::Now;

pub(crate) type Result<T> = std::result::Result<T, CoordinationError>;

pub use roster_types::GroupWithMembers;

/// What names a session in a store: the embedded engine numbers its sessions, a driver's
/// store names them by the key it handed out.
pub trait SessionKey: Clone + Eq + Hash + Ord + fmt::Debug {}

impl<K: Clone + Eq + Hash + Ord + fmt::Debug> SessionKey for K {}

fn default_max_capabilities() -> usize {
    DEFAULT_MAX_CAPABILITIES
}

/// The whole state of one store: groups, their members and candidates, the sessions that own
/// them (named by `K`), and the revision of the newest change.
///
/// Serializes whole (maps in key order, so an unchanged state writes the same bytes); the
/// capability limit is the store's configuration, not state, and the committed events are
/// handed out rather than kept.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize + Ord",
    deserialize = "K: Deserialize<'de> + SessionKey"
))]
pub struct State<K> {
    /// Revision of the newest change (0 before any).
    pub(crate) head: Revision,
    #[serde(with = "crate::seq::sorted_map")]
    pub(crate) groups: Map<GroupId, Group<K>>,
    #[serde(with = "crate::seq::sorted_map")]
    pub(crate) sessions: Map<K, Session>,
    /// Locks with a holder or a waiter.
    #[serde(with = "crate::seq::sorted_map", default = "Map::default")]
    pub(crate) locks: Map<LockName, Lock<K>>,
    /// The locks each session holds or waits for (only sessions with one), kept beside the
    /// sessions so a session record stays small for the many members that hold no lock.
    #[serde(with = "crate::seq::sorted_map", default = "Map::default")]
    pub(crate) session_locks: Map<K, Vec<LockName>>,
    /// Live sessions by deadline, so expiry finds the due ones without a scan.
    pub(crate) deadlines: BTreeSet<(u64, K)>,
    #[serde(skip, default = "default_max_capabilities")]
    pub(crate) max_capabilities: usize,
    /// Events committed and not yet taken.
    #[serde(skip)]
    pub(crate) events: Vec<Event>,
}

/// The error of a call naming a session the store does not have: its coordinator is not
/// started, or was stopped.
pub(crate) fn unknown_session() -> CoordinationError {
    CoordinationError::NotStarted
}

impl<K: SessionKey> State<K> {
    /// An empty store taking capabilities of at most `max_capabilities` bytes.
    pub fn new(max_capabilities: usize) -> Self {
        Self {
            head: 0,
            groups: Map::default(),
            sessions: Map::default(),
            locks: Map::default(),
            session_locks: Map::default(),
            deadlines: BTreeSet::new(),
            max_capabilities,
            events: Vec::new(),
        }
    }

    /// Set the capability limit (a deserialized state has the default, 64 KiB).
    pub fn set_max_capabilities(&mut self, max_capabilities: usize) {
        self.max_capabilities = max_capabilities;
    }

    /// Revision of the newest change (0 before any).
    pub fn head(&self) -> Revision {
        self.head
    }

    /// The events committed since they were last taken, in revision order.
    pub fn take_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    /// The revision the next change will get.
    pub(crate) fn next_revision(&self) -> Revision {
        self.head + 1
    }

    /// Commit one change: the next revision, the group's latest change, one event.
    pub(crate) fn commit(&mut self, make: impl FnOnce(Revision) -> Event) -> Revision {
        let revision = self.next_revision();
        let event = make(revision);
        if let Some(group) = event.group_id().and_then(|g| self.groups.get_mut(g)) {
            group.last_change = revision;
        }
        self.head = revision;
        self.events.push(event);
        revision
    }

    pub(crate) fn group(&self, group: &str) -> Result<&Group<K>> {
        self.groups
            .get(group)
            .ok_or_else(|| CoordinationError::group_not_created(group))
    }

    pub(crate) fn group_mut(&mut self, group: &str) -> Result<&mut Group<K>> {
        self.groups
            .get_mut(group)
            .ok_or_else(|| CoordinationError::group_not_created(group))
    }

    pub(crate) fn session(&self, key: &K) -> Result<&Session> {
        self.sessions.get(key).ok_or_else(unknown_session)
    }

    pub(crate) fn session_mut(&mut self, key: &K) -> Result<&mut Session> {
        self.sessions.get_mut(key).ok_or_else(unknown_session)
    }

    // ----- sessions and liveness -----

    /// Open a session for a started coordinator of `member_id`, live for `timeout` (at least
    /// 1 ms, at most `u32::MAX` ms) from `now`. A session already open under `key` is closed
    /// first.
    pub fn open_session(&mut self, key: K, member_id: MemberId, timeout: Duration, now: Now) {
        if self.sessions.contains_key(&key) {
            self.close_session(&key);
        }
        self.sessions
            .insert(key.clone(), Session::new(member_id, timeout_ms(timeout)));
        self.renew(&key, now);
    }

    /// Whether the store has a session under `key`, live or expired.
    pub fn has_session(&self, key: &K) -> bool {
        self.sessions.contains_key(key)
    }

    /// Bring back a session the store [forgot](State::forget_expired) and that is used
    /// again: it comes back expired, with nothing to report, so the call that needs it live
    /// reopens it with an empty expiry notice. Nothing happens when the store has it.
    pub fn recall_session(&mut self, key: K, member_id: MemberId, timeout: Duration, now: Now) {
        self.sessions.entry(key).or_insert_with(|| {
            let mut session = Session::new(member_id, timeout_ms(timeout));
            session.at_ms = now.clock_ms;
            session
        });
    }

    /// Close a session: leave every group and give up every candidacy (R7). Closing a
    /// session the store does not have does nothing.
    pub fn close_session(&mut self, key: &K) {
        self.drop_session_state(key, LeaveReason::Left, LeadershipEnd::Resigned);
        if let Some(s) = self.sessions.remove(key)
            && s.live
        {
            self.deadlines.remove(&(s.at_ms, key.clone()));
        }
    }

    /// End a session's memberships, candidacies and locks: candidacies first, then
    /// memberships, then locks (holds released, waits dropped). An
    /// expiry also remembers each lost group (by its creation revision, so a recreated group
    /// of the same name is told apart) and the whole loss, for the expiry notice.
    pub(crate) fn drop_session_state(&mut self, key: &K, leave: LeaveReason, end: LeadershipEnd) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let groups = std::mem::take(&mut s.groups);
        let candidacies = s.take_candidacies();
        let member_id = s.member_id.clone();
        for group in &candidacies {
            self.withdraw_candidate(key, group.as_str(), end);
        }
        for group in &groups {
            self.remove_member(&member_id, group, leave);
        }
        self.drop_session_locks(
            key,
            match leave {
                LeaveReason::Expired => LockReleaseReason::Expired,
                LeaveReason::SessionLost => LockReleaseReason::SessionLost,
                LeaveReason::Left | LeaveReason::GroupDeleted => LockReleaseReason::SessionClosed,
            },
        );
        if leave == LeaveReason::Expired {
            let mut lost: Vec<(GroupId, Tie)> = Vec::new();
            for g in groups {
                if let Some(group) = self.groups.get(&g) {
                    lost.push((g.clone(), Tie::Lost(group.created)));
                }
                lost.push((g, Tie::ExpiredMember));
            }
            lost.extend(candidacies.into_iter().map(|g| (g, Tie::ExpiredCandidacy)));
            if let Some(s) = self.sessions.get_mut(key) {
                s.ties.extend(lost);
            }
        }
    }

    /// A new deadline for a session, one timeout from `now`.
    fn renew(&mut self, key: &K, now: Now) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let deadline = now.clock_ms.saturating_add(u64::from(s.timeout_ms));
        if s.live {
            self.deadlines.remove(&(s.at_ms, key.clone()));
        }
        s.at_ms = deadline;
        s.live = true;
        self.deadlines.insert((deadline, key.clone()));
    }

    /// Refresh a session's liveness; returns its timeout. When it had expired, reopen it and
    /// report what it lost (R6); the caller may then join again.
    ///
    /// # Errors
    /// `SessionExpired` once after expiry; `NotStarted` for a session the store does not have.
    pub fn heartbeat(&mut self, key: &K, now: Now) -> Result<Duration> {
        self.expire_due(now);
        self.reopen_if_expired(key, now)?;
        self.renew(key, now);
        Ok(Duration::from_millis(self.session(key)?.timeout_ms.into()))
    }

    /// The rule of every call that needs a live session (heartbeat, join, stand for
    /// election; R6): on a session that expired, reopen it and fail with the expiry notice,
    /// so an expired member always learns it expired, once, before it holds anything again.
    pub(crate) fn reopen_if_expired(&mut self, key: &K, now: Now) -> Result<()> {
        let s = self.session_mut(key)?;
        if s.live {
            return Ok(());
        }
        let notice = s.take_expiry_notice();
        self.renew(key, now);
        Err(notice)
    }

    /// Whether the session under `key` has expired and not heartbeat since.
    pub fn session_expired(&self, key: &K) -> bool {
        self.sessions.get(key).is_some_and(|s| !s.live)
    }

    /// Expire every session whose deadline has come, in deadline order: its candidacies end
    /// (`LeaderLost{expired}`, the next candidate elected), then its member leaves every
    /// group (`MemberLeft{expired}`). Returns how many expired.
    pub fn expire_due(&mut self, now: Now) -> usize {
        let mut expired = 0;
        while self
            .deadlines
            .first()
            .is_some_and(|(deadline, _)| *deadline <= now.clock_ms)
        {
            let Some((_, key)) = self.deadlines.pop_first() else {
                break;
            };
            if let Some(s) = self.sessions.get_mut(&key) {
                s.live = false;
                s.at_ms = now.clock_ms;
            }
            self.drop_session_state(&key, LeaveReason::Expired, LeadershipEnd::Expired);
            expired += 1;
        }
        expired
    }

    /// The earliest deadline of a live session, on the store's clock.
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.first().map(|(deadline, _)| *deadline)
    }

    /// Forget every session that expired more than `grace_ms` (or its own timeout, if
    /// longer) ago: a store that cannot keep expired sessions for ever keeps each long
    /// enough for its next call to hear what it lost. Returns how many were forgotten.
    pub fn forget_expired(&mut self, now: Now, grace_ms: u64) -> usize {
        let before = self.sessions.len();
        self.sessions.retain(|_, s| {
            s.live
                || s.at_ms
                    .saturating_add(grace_ms.max(u64::from(s.timeout_ms)))
                    > now.clock_ms
        });
        before - self.sessions.len()
    }
}

/// A timeout in whole milliseconds, within 1 ms and `u32::MAX` ms.
fn timeout_ms(timeout: Duration) -> u32 {
    u32::try_from(timeout.as_millis())
        .unwrap_or(u32::MAX)
        .max(1)
}
