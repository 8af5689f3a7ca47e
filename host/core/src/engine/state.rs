//! One store's state as the engine holds it: the membership rules (`roster-rules`) on
//! sessions this process numbers, or, for the mirror of a store that lives elsewhere, the
//! groups that store reported ([`Mirrored`]); and the bounded history either one's changes go
//! into.
//!
//! The rules keep no clock: this wrapper converts tokio's [`Instant`] (which the reaper
//! sleeps on and tests pause) into milliseconds from the state's epoch for deadlines, and
//! reads the wall clock for join and update times. Every change the rules commit is moved into
//! the history before the call returns, so the history's head is always the rules' head.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::history::History;
use super::mirrored::{Mirrored, MirroredGroup};
use roster_rules::Now;
use roster_types::error::CoordinationError;
use roster_types::event::{Event, FencingToken, LockMode, Revision};
use roster_types::ids::{Capabilities, GroupId, MemberId};
use roster_types::{GroupSummary, Leader, LockAttempt, LockInfo, LockStanding, MemberInfo};

pub(crate) use roster_rules::GroupWithMembers;

/// Identifies one started coordinator within a store (0 is never one).
pub(crate) type SessionId = u64;

type Result<T> = std::result::Result<T, CoordinationError>;

/// The rules over this process's sessions.
type Rules = roster_rules::State<SessionId>;

/// Who keeps a store's groups.
#[derive(Debug)]
enum Groups {
    /// The embedded backend: the rules make every change.
    Own(Rules),
    /// The mirror of a driver's store: changes made there, recorded here.
    Mirrored(Mirrored),
}

/// The whole state of one store, and its history.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) history: History,
    groups: Groups,
    /// Origin of the rules' clock.
    epoch: Instant,
    next_session: SessionId,
}

/// The answer to a change asked of a mirror: it only records the store's own changes.
fn mirrored() -> CoordinationError {
    CoordinationError::NotImplemented("a change made on the mirror of another store".into())
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl State {
    /// The state of an embedded store.
    pub(crate) fn new(history_size: usize, max_capabilities: usize) -> Self {
        Self {
            history: History::new(history_size),
            groups: Groups::Own(Rules::new(max_capabilities)),
            epoch: Instant::now(),
            next_session: 1,
        }
    }

    /// The state of a mirror of a store that lives elsewhere.
    pub(crate) fn mirroring(history_size: usize) -> Self {
        Self {
            history: History::new(history_size),
            groups: Groups::Mirrored(Mirrored::default()),
            epoch: Instant::now(),
            next_session: 1,
        }
    }

    fn millis(&self, time: Instant) -> u64 {
        u64::try_from(time.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// `time` as the rules read it.
    fn now(&self, time: Instant) -> Now {
        Now {
            clock_ms: self.millis(time),
            unix_ms: unix_ms(SystemTime::now()),
        }
    }

    /// Run a change on the rules and record the events it committed.
    fn change<T>(&mut self, change: impl FnOnce(&mut Rules) -> Result<T>) -> Result<T> {
        let Groups::Own(rules) = &mut self.groups else {
            return Err(mirrored());
        };
        let result = change(rules);
        for event in rules.take_events() {
            self.history.push(event);
        }
        result
    }

    // ----- sessions and liveness -----

    /// Open a session for a started coordinator.
    pub(crate) fn open_session(
        &mut self,
        member_id: MemberId,
        timeout: Duration,
        now: Instant,
    ) -> Result<SessionId> {
        let id = self.next_session;
        let now = self.now(now);
        self.change(|rules| {
            rules.open_session(id, member_id, timeout, now);
            Ok(())
        })?;
        self.next_session += 1;
        Ok(id)
    }

    /// Close a session: leave every group and give up every candidacy (R7).
    pub(crate) fn close_session(&mut self, session: SessionId) {
        let _ = self.change(|rules| {
            rules.close_session(&session);
            Ok(())
        });
    }

    /// Refresh a session's liveness (see [`roster_rules::State::heartbeat`]).
    pub(crate) fn heartbeat(&mut self, session: SessionId, now: Instant) -> Result<Duration> {
        let now = self.now(now);
        self.change(|rules| rules.heartbeat(&session, now))
    }

    /// Whether `session` has expired and not heartbeat since.
    pub(crate) fn session_expired(&self, session: SessionId) -> bool {
        match &self.groups {
            Groups::Own(rules) => rules.session_expired(&session),
            Groups::Mirrored(_) => false,
        }
    }

    /// Expire every session whose deadline has passed. Returns how many expired.
    pub(crate) fn expire_due(&mut self, now: Instant) -> usize {
        // Every call starts here and almost always finds nothing due: it need not read the
        // wall clock then.
        let clock_ms = self.millis(now);
        let due = matches!(&self.groups, Groups::Own(rules)
            if rules.next_deadline().is_some_and(|deadline| deadline <= clock_ms));
        if !due {
            return 0;
        }
        let now = self.now(now);
        self.change(|rules| Ok(rules.expire_due(now))).unwrap_or(0)
    }

    /// The earliest deadline of a live session.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match &self.groups {
            Groups::Own(rules) => rules
                .next_deadline()
                .map(|deadline| self.epoch + Duration::from_millis(deadline)),
            Groups::Mirrored(_) => None,
        }
    }

    // ----- groups -----

    pub(crate) fn create_group(&mut self, group: &str) -> Result<()> {
        self.change(|rules| rules.create_group(group))
    }

    pub(crate) fn delete_group(&mut self, group: &str) -> Result<()> {
        self.change(|rules| rules.delete_group(group))
    }

    /// Every group id, sorted.
    pub(crate) fn groups(&self) -> Vec<GroupId> {
        match &self.groups {
            Groups::Own(rules) => rules.groups(),
            Groups::Mirrored(mirrored) => mirrored.groups(),
        }
    }

    /// Every group with its members (at most `max_members` of each, in id order), sorted by
    /// id: the whole state at one revision.
    pub(crate) fn snapshot(&self, now: Instant, max_members: usize) -> Vec<GroupWithMembers> {
        match &self.groups {
            Groups::Own(rules) => rules.snapshot(self.now(now), max_members),
            Groups::Mirrored(mirrored) => mirrored.snapshot(max_members),
        }
    }

    /// Every group at a glance, sorted by id.
    pub(crate) fn group_summaries(&self) -> Vec<GroupSummary> {
        match &self.groups {
            Groups::Own(rules) => rules.group_summaries(),
            Groups::Mirrored(mirrored) => mirrored.group_summaries(),
        }
    }

    pub(crate) fn group_exists(&self, group: &str) -> Result<GroupId> {
        match &self.groups {
            Groups::Own(rules) => rules.group_exists(group),
            Groups::Mirrored(mirrored) => mirrored.group_exists(group),
        }
    }

    // ----- membership -----

    /// Join `group` as the session's member, creating the group first when `create`.
    pub(crate) fn join(
        &mut self,
        session: SessionId,
        group: &str,
        capabilities: Capabilities,
        create: bool,
        now: Instant,
    ) -> Result<()> {
        let now = self.now(now);
        self.change(|rules| rules.join(&session, group, capabilities, create, now))
    }

    /// Leave `group` as the session's member.
    pub(crate) fn leave(&mut self, session: SessionId, group: &str) -> Result<()> {
        self.change(|rules| rules.leave(&session, group))
    }

    /// Members of a group, in no particular order.
    pub(crate) fn members(&self, group: &str) -> Result<Vec<MemberId>> {
        match &self.groups {
            Groups::Own(rules) => rules.members(group),
            Groups::Mirrored(mirrored) => mirrored.members(group),
        }
    }

    /// Members with their capabilities, in no particular order.
    pub(crate) fn members_with_capabilities(
        &self,
        group: &str,
    ) -> Result<Vec<(MemberId, Capabilities)>> {
        match &self.groups {
            Groups::Own(rules) => rules.members_with_capabilities(group),
            Groups::Mirrored(mirrored) => mirrored.members_with_capabilities(group),
        }
    }

    pub(crate) fn member_info(
        &self,
        group: &str,
        member: &str,
        now: Instant,
    ) -> Result<MemberInfo> {
        match &self.groups {
            Groups::Own(rules) => rules.member_info(group, member, self.now(now)),
            Groups::Mirrored(mirrored) => mirrored.member_info(group, member),
        }
    }

    /// Every member of a group with what is known about it, in no particular order.
    pub(crate) fn members_info(
        &self,
        group: &str,
        now: Instant,
    ) -> Result<Vec<(MemberId, MemberInfo)>> {
        match &self.groups {
            Groups::Own(rules) => rules.members_info(group, self.now(now)),
            Groups::Mirrored(mirrored) => mirrored.members_info(group),
        }
    }

    pub(crate) fn update_capabilities(
        &mut self,
        session: SessionId,
        group: &str,
        capabilities: Capabilities,
    ) -> Result<()> {
        let now = self.now(Instant::now());
        self.change(|rules| rules.update_capabilities(&session, group, capabilities, now))
    }

    // ----- leader election -----

    /// Make the session a candidate in `group` (no-op if it already is).
    pub(crate) fn stand_for_election(
        &mut self,
        session: SessionId,
        group: &str,
        now: Instant,
    ) -> Result<()> {
        let now = self.now(now);
        self.change(|rules| rules.stand_for_election(&session, group, now))
    }

    /// Stop being a candidate in `group`; a leader resigns and the next candidate is elected.
    pub(crate) fn withdraw(&mut self, session: SessionId, group: &GroupId) {
        let _ = self.change(|rules| {
            rules.withdraw(&session, group.as_str());
            Ok(())
        });
    }

    /// Give up leadership of `group` if this session holds it; returns whether it did.
    pub(crate) fn stand_down(&mut self, session: SessionId, group: &str) -> Result<bool> {
        self.change(|rules| rules.stand_down(&session, group))
    }

    pub(crate) fn leader(&self, group: &str) -> Result<Option<Leader>> {
        match &self.groups {
            Groups::Own(rules) => rules.leader(group),
            Groups::Mirrored(mirrored) => mirrored.leader(group),
        }
    }

    // ----- locks -----

    /// Acquire `lock` for the session, or queue for it when `wait` (see the rules).
    pub(crate) fn acquire_lock(
        &mut self,
        session: SessionId,
        lock: &str,
        mode: LockMode,
        wait: bool,
        now: Instant,
    ) -> Result<LockAttempt> {
        let now = self.now(now);
        self.change(|rules| rules.acquire_lock(&session, lock, mode, wait, now))
    }

    /// Release the session's hold on `lock` or give up its wait.
    pub(crate) fn release_lock(
        &mut self,
        session: SessionId,
        lock: &str,
    ) -> Result<Option<FencingToken>> {
        self.change(|rules| rules.release_lock(&session, lock))
    }

    /// Stop waiting for `lock`, keeping it if it was granted meanwhile.
    pub(crate) fn abandon_lock_wait(
        &mut self,
        session: SessionId,
        lock: &str,
    ) -> Result<Option<FencingToken>> {
        self.change(|rules| rules.abandon_lock_wait(&session, lock))
    }

    /// Break `lock`: every hold ends; the tokens of the holds broken.
    pub(crate) fn break_lock(&mut self, lock: &str) -> Result<Vec<FencingToken>> {
        self.change(|rules| rules.break_lock(lock))
    }

    /// Where the session stands with `lock`.
    pub(crate) fn lock_standing(&self, session: SessionId, lock: &str) -> Result<LockStanding> {
        match &self.groups {
            Groups::Own(rules) => Ok(rules.lock_standing(&session, lock)),
            Groups::Mirrored(_) => Err(mirrored()),
        }
    }

    /// Who holds and waits for `lock`.
    pub(crate) fn lock_info(&self, lock: &str) -> Result<LockInfo> {
        match &self.groups {
            Groups::Own(rules) => rules.lock_info(lock),
            Groups::Mirrored(_) => Err(mirrored()),
        }
    }

    /// Every lock with a holder or a waiter.
    pub(crate) fn locks(&self) -> Result<Vec<LockInfo>> {
        match &self.groups {
            Groups::Own(rules) => Ok(rules.locks()),
            Groups::Mirrored(_) => Err(mirrored()),
        }
    }

    // ----- mirroring a store that lives elsewhere -----

    /// Record a change another store made (see `crate::driver::mirror`): append it to the
    /// history and keep the mirrored groups in step. Only a mirror's state records changes
    /// made elsewhere; an embedded store's ignores them.
    pub(crate) fn mirror(&mut self, event: Event) {
        if let Groups::Mirrored(mirrored) = &mut self.groups {
            mirrored.apply(&event, unix_ms(SystemTime::now()));
            self.history.push(event);
        }
    }

    /// Start a mirror over at revision `head` with `groups` (their members and leaders as
    /// read from the store): history before it is gone. `replaced` when the store is not the
    /// one mirrored so far, so its revisions start a new history generation.
    pub(crate) fn reset_mirror(
        &mut self,
        head: Revision,
        groups: Vec<MirroredGroup>,
        replaced: bool,
    ) {
        if let Groups::Mirrored(mirrored) = &mut self.groups {
            mirrored.reset(head, groups);
            self.history.reset(head, replaced);
        }
    }
}
