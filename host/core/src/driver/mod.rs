//! Backend drivers: what a store outside this process must provide for a [`Coordinator`]
//! to work on it exactly as it works on the embedded one.
//!
//! A [`Driver`] holds the authoritative state (groups, members with their liveness,
//! elections) and numbers every change with the next revision. The coordinator adds what
//! every backend shares: call order, read-your-writes, and a local mirror of the
//! store's recent history fed by [`Driver::changes`], from which watchers, `subscribe` and
//! handlers read. Because drivers push ordered changes with revisions rather than being
//! polled for state, nothing in between two looks at the store is missed, and a history
//! that is gone is said so (a resync) rather than skipped.
//!
//! The shape is the one a Wasm driver component exports (`roster-wasm` runs those); the
//! `roster` facade implements it natively for `roster://` (a `roster serve` daemon).
//!
//! [`Coordinator`]: crate::Coordinator

pub(crate) mod mirror;
mod recording;

pub use recording::{Recording, RecordingError};

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;

use roster_types::error::CoordinationError;
use roster_types::event::{Event, FencingToken, LockMode, Revision};
use roster_types::ids::{Capabilities, GroupId, MemberId};
use roster_types::{GroupSummary, Leader, LockAttempt, LockInfo, LockStanding, MemberInfo};

type Result<T> = std::result::Result<T, CoordinationError>;

/// A member's session in a driver's store, as the driver names it.
pub type SessionKey = String;

/// One answer of [`Driver::changes`].
#[derive(Clone, Debug, PartialEq)]
pub enum Changes {
    /// The changes right after the revision asked for, in order and contiguous (none when
    /// nothing changed within the wait), and the store's newest revision.
    Events {
        /// The changes.
        events: Vec<Event>,
        /// The store's newest revision.
        head: Revision,
        /// The store they were read from ([`StoreInfo::store_id`]; empty when it has none
        /// yet): the mirror takes changes only from the store it follows.
        store_id: String,
    },
    /// The changes from `requested` up to `oldest` are no longer kept.
    Resync {
        /// The first revision asked for.
        requested: Revision,
        /// The oldest revision the store still has.
        oldest: Revision,
        /// The store's newest revision.
        head: Revision,
    },
}

/// What a store knows about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    /// Tells this store apart from any other, including an earlier incarnation of it.
    pub store_id: String,
    /// The store's newest revision.
    pub head: Revision,
    /// Every group, at `head`.
    pub groups: Vec<GroupId>,
}

/// What a driver has done since it was made: the daemon's metrics report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Calls made to the store.
    pub calls: u64,
    /// Calls that ended in a fault of the driver (a trap, an overrun, bad data, a component
    /// that cannot be loaded; for `roster://`, a daemon that could not be reached), not in an
    /// answer of the store.
    pub errors: u64,
    /// Driver instances dropped after a fault, to be made again at the next call (for
    /// `roster://`: calls that went on through the next daemon).
    pub restarts: u64,
}

/// What a driver whose store keeps no locks answers to a lock call.
fn locks_not_kept() -> CoordinationError {
    CoordinationError::NotImplemented("locks".to_owned())
}

/// A backend store reached through a driver. Every call that changes the store returns the
/// revision the store had reached once the change was made, so the caller can wait for its
/// mirror to include it. Errors are the coordination errors the embedded backend returns for
/// the same condition, or [`CoordinationError::Connection`] when the store cannot be reached.
#[async_trait]
pub trait Driver: Send + Sync + std::fmt::Debug {
    /// The store's identity, newest revision and groups, read at one revision.
    async fn describe(&self) -> Result<StoreInfo>;
    /// The store's newest revision.
    async fn head(&self) -> Result<Revision>;
    /// Open a session for `member` that lives `ttl` without heartbeats.
    async fn open_session(&self, member: &MemberId, ttl: Duration) -> Result<SessionKey>;
    /// Close a session: its member leaves every group and gives up every candidacy.
    async fn close_session(&self, session: &str) -> Result<Revision>;
    /// Keep a session alive; returns the time before it would expire.
    async fn heartbeat(&self, session: &str) -> Result<Duration>;
    /// Create a group.
    async fn create_group(&self, group: &str) -> Result<Revision>;
    /// Delete an empty group.
    async fn delete_group(&self, group: &str) -> Result<Revision>;
    /// Every group, sorted.
    async fn groups(&self) -> Result<Vec<GroupId>>;
    /// Every group at a glance, sorted, read at the returned revision.
    async fn group_summaries(&self) -> Result<(Revision, Vec<GroupSummary>)>;
    /// Join `group` as the session's member (creating the group first when `create`).
    async fn join(
        &self,
        session: &str,
        group: &str,
        capabilities: Capabilities,
        create: bool,
    ) -> Result<Revision>;
    /// Leave `group`.
    async fn leave(&self, session: &str, group: &str) -> Result<Revision>;
    /// Replace the session member's capabilities in `group`.
    async fn update_capabilities(
        &self,
        session: &str,
        group: &str,
        capabilities: Capabilities,
    ) -> Result<Revision>;
    /// The ids of `group`'s members.
    async fn members(&self, group: &str) -> Result<Vec<MemberId>>;
    /// Every member of `group` with what is known about it.
    async fn members_info(&self, group: &str) -> Result<HashMap<MemberId, MemberInfo>>;
    /// One member of `group`.
    async fn member_info(&self, group: &str, member: &str) -> Result<MemberInfo>;
    /// The leader of `group`, if any.
    async fn leader(&self, group: &str) -> Result<Option<Leader>>;
    /// Stand for election in `group`.
    async fn stand(&self, session: &str, group: &str) -> Result<Revision>;
    /// Withdraw from the election in `group`.
    async fn withdraw(&self, session: &str, group: &str) -> Result<Revision>;
    /// Give up leadership of `group`; returns whether the member was the leader.
    async fn stand_down(&self, session: &str, group: &str) -> Result<(bool, Revision)>;
    /// The changes after `after`, at most `max`, waiting up to `wait` for the first.
    async fn changes(&self, after: Revision, max: usize, wait: Duration) -> Result<Changes>;
    /// Acquire `lock` in `mode` for the session, or queue for it when `wait`; the store's
    /// revision after the call.
    ///
    /// Locks are optional for a driver: one whose store does not keep them answers every
    /// lock call with [`CoordinationError::NotImplemented`], as these defaults do.
    async fn acquire_lock(
        &self,
        _session: &str,
        _lock: &str,
        _mode: LockMode,
        _wait: bool,
    ) -> Result<(LockAttempt, Revision)> {
        Err(locks_not_kept())
    }
    /// Release the session's hold on `lock` (its token), or give up its wait (`None`).
    async fn release_lock(
        &self,
        _session: &str,
        _lock: &str,
    ) -> Result<(Option<FencingToken>, Revision)> {
        Err(locks_not_kept())
    }
    /// Stop waiting for `lock`; the token if it was granted meanwhile (and is kept).
    async fn abandon_lock_wait(
        &self,
        _session: &str,
        _lock: &str,
    ) -> Result<(Option<FencingToken>, Revision)> {
        Err(locks_not_kept())
    }
    /// Break `lock` (the session asks): every hold ends; the tokens of the holds broken.
    async fn break_lock(
        &self,
        _session: &str,
        _lock: &str,
    ) -> Result<(Vec<FencingToken>, Revision)> {
        Err(locks_not_kept())
    }
    /// Where the session stands with `lock`.
    async fn lock_standing(&self, _session: &str, _lock: &str) -> Result<LockStanding> {
        Err(locks_not_kept())
    }
    /// Who holds and waits for `lock`.
    async fn lock_info(&self, _lock: &str) -> Result<LockInfo> {
        Err(locks_not_kept())
    }
    /// Every lock with a holder or a waiter, sorted by name.
    async fn locks(&self) -> Result<Vec<LockInfo>> {
        Err(locks_not_kept())
    }
    /// The driver's counters (none by default).
    fn stats(&self) -> DriverStats {
        DriverStats::default()
    }
}
