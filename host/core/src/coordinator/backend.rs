//! The seam between a [`Coordinator`](super::Coordinator) and its store.
//!
//! A coordinator works the same way on every backend: it checks that it is started and that
//! the ids are valid, then hands the call to its [`Backend`]. Two implement it:
//!
//! - [`Embedded`](super::embedded::Embedded): the store is in this process; a call runs the
//!   rule on the engine's state under its lock and has taken effect when it returns.
//! - [`Driven`](super::driven::Driven): the store is behind a driver (a Wasm component or
//!   `roster://`); a call is queued, so the coordinator's calls take effect in call order,
//!   and the process's mirror of the store catches up with it.
//!
//! Each public method of the coordinator is one call on this trait, so the route of a call
//! reads from the method to the implementation without a branch in between.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::BoxFuture;
use roster_types::error::Result;
use roster_types::event::{FencingToken, LockMode, Revision};
use roster_types::ids::{Capabilities, GroupId, GroupName, LockName, MemberId};
use roster_types::{GroupSummary, Leader, LockAttempt, LockInfo, LockStanding, MemberInfo};

use super::Operation;
use crate::driver::SessionKey;
use crate::engine::State;
use crate::engine::stream::EventStream;

/// What a coordinator asks of its store. Ids are validated and the coordinator is started
/// before any call but `start` reaches it. Group names come borrowed ([`GroupName`]): the
/// embedded store looks them up where they are, and only a driver's queue, whose calls outlive
/// the caller's borrow, owns them.
pub(super) trait Backend: Send + Sync + std::fmt::Debug {
    /// Whether a session is open (between `start` and `stop`).
    fn is_started(&self) -> bool;

    /// Open a session for `member` living `timeout` without a heartbeat, and stand for
    /// election again in `elections` (groups deleted meanwhile are skipped).
    fn start<'a>(
        &'a self,
        member: &'a MemberId,
        timeout: Duration,
        elections: &'a [GroupId],
    ) -> BoxFuture<'a, Result<()>>;

    /// Go on with the session `key` that another coordinator opened in this store for
    /// `member` (a daemon taking over the client of another daemon on the same store). Nothing
    /// changes in the store: it answers for the session at the next call, `SessionExpired`
    /// if it is gone.
    ///
    /// # Errors
    /// `NotImplemented` on the embedded store, whose sessions live in one process.
    fn resume<'a>(&'a self, member: &'a MemberId, key: SessionKey) -> BoxFuture<'a, Result<()>>;

    /// The session's key in a driver's store: what [`Backend::resume`] takes (`None` on the
    /// embedded store, and when not started).
    fn session_key(&self) -> Option<SessionKey>;

    /// Leave every group, withdraw every candidacy and close the session (R7).
    fn stop(&self) -> BoxFuture<'_, Result<()>>;

    /// Refresh the session; the time before it would expire. After an expiry: the notice
    /// once (R6), the session reopened and standing again where callbacks are held (R5).
    fn heartbeat(&self) -> BoxFuture<'_, Result<Duration>>;

    /// Whether the session has expired and not heartbeat since (a driver's store says so at
    /// the next call instead, so there this is always false).
    fn has_expired(&self) -> bool;

    /// Create an empty group.
    fn create_group(&self, group: GroupName<'_>) -> Operation<()>;

    /// Delete an empty group.
    fn delete_group(&self, group: GroupName<'_>) -> Operation<()>;

    /// Every group, sorted by id.
    fn groups(&self) -> Operation<Vec<GroupId>>;

    /// Every group at a glance, read at one revision.
    fn group_summaries(&self) -> Operation<(Revision, Vec<GroupSummary>)>;

    /// Join `group` (creating it first when `create`), after any expiry notice waiting for a
    /// join (R6).
    fn join(&self, group: GroupName<'_>, capabilities: Capabilities, create: bool)
    -> Operation<()>;

    /// Leave `group`.
    fn leave(&self, group: GroupName<'_>) -> Operation<()>;

    /// The members of `group`.
    fn members(&self, group: GroupName<'_>) -> Operation<Vec<MemberId>>;

    /// What is known about `member` in `group`.
    fn member_info(&self, group: GroupName<'_>, member: MemberId) -> Operation<MemberInfo>;

    /// What is known about every member of `group`.
    fn members_info(&self, group: GroupName<'_>) -> Operation<HashMap<MemberId, MemberInfo>>;

    /// Replace this member's capabilities in `group`.
    fn update_capabilities(
        &self,
        group: GroupName<'_>,
        capabilities: Capabilities,
    ) -> Operation<()>;

    /// The leader of `group`, if any.
    fn leader(&self, group: GroupName<'_>) -> Operation<Option<Leader>>;

    /// Give up leadership of `group`; whether this member held it.
    fn stand_down(&self, group: GroupName<'_>) -> Operation<bool>;

    /// Stand for election in `group` (an election callback is being registered). On a
    /// session that had expired, stand there and wherever a callback is held, and keep the
    /// notice for the next heartbeat or join (R5, R6). On a driver's store the stand is
    /// queued and its failures reach no one: the callback registers all the same.
    ///
    /// # Errors
    /// What the embedded store answers at once (the group was checked to exist before).
    fn stand(&self, group: GroupId) -> Result<()>;

    /// Withdraw from the election in `group` (its last election callback is gone).
    fn withdraw(&self, group: GroupId);

    /// Acquire `lock` in `mode`, or queue for it when `wait`, after any expiry notice
    /// waiting for a call that needs a live session (R6).
    fn acquire_lock(&self, lock: LockName, mode: LockMode, wait: bool) -> Operation<LockAttempt>;

    /// Release the session's hold on `lock`, or give up its wait; the released hold's token.
    fn release_lock(&self, lock: LockName) -> Operation<Option<FencingToken>>;

    /// Stop waiting for `lock`, keeping it (and returning its token) if it was granted.
    fn abandon_lock_wait(&self, lock: LockName) -> Operation<Option<FencingToken>>;

    /// Break `lock`: every hold ends at once; the tokens of the holds broken.
    fn break_lock(&self, lock: LockName) -> Operation<Vec<FencingToken>>;

    /// Where the session stands with `lock`.
    fn lock_standing(&self, lock: LockName) -> Operation<LockStanding>;

    /// Who holds and waits for `lock`.
    fn lock_info(&self, lock: LockName) -> Operation<LockInfo>;

    /// Every lock with a holder or a waiter, sorted by name.
    fn locks(&self) -> Operation<Vec<LockInfo>>;

    /// The newest revision known to be in the store as of `state` (the engine's, or the
    /// mirror's for a driver's store, where a call may have returned a newer one first).
    fn known_head(&self, state: &State) -> Revision;

    /// A stream of every change after the calls this coordinator made so far.
    fn subscribe_from_now(&self) -> EventStream;

    /// Wait until every call made so far has taken effect and the engine (or mirror) holds
    /// every change the store had made by then.
    fn settle(&self) -> BoxFuture<'_, Result<()>>;

    /// Identifies the store (empty for a driver's store not yet reached).
    fn store_id(&self) -> String;
}
