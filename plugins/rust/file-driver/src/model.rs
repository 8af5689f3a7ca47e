//! The store's state file as documents, and one operation on it: the driver world's calls as
//! the shared rules (`roster-rules`) state them, over the state read from the directory at one
//! instant.
//!
//! The rules keep groups, members, sessions, elections and locks, and commit one event per
//! change; what is left here is the edge between them and the driver world: a session key
//! names its member and TTL (so a session the store forgot comes back when it is used again),
//! ids arrive as strings and leave validated, and answers and errors leave in the world's
//! types.

use std::time::Duration;

use driver_kit::parse_session;
use roster_rules::Now;
use roster_types::ids::{Capabilities, MemberId};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::exports::roster::coordination::backend::{GroupSummary, LockAttempt, LockStanding};
use crate::roster::coordination::types::{
    CoordinationError as E, Leader, LockInfo, LockMode, MemberInfo,
};

/// The state file's format; a file of another format is not read.
pub const FORMAT: u32 = 2;

/// An expired session is kept this long (or one TTL, if longer) so that its next heartbeat
/// can say what it lost; then it is forgotten. A session key names its member and TTL, so a
/// forgotten session comes back (expired, with nothing to report) if it is used again.
pub const GRACE_MS: u64 = 3_600_000;

/// The state file's second line: groups, members and sessions, as the rules keep them, with
/// the session keys this driver hands out.
pub type Body = roster_rules::State<String>;

/// The state file's first line: all a change-feed poll reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub v: u32,
    /// The store id, made when the state was first written.
    pub id: String,
    /// Revision of the newest change (0 before any).
    pub head: u64,
    /// Oldest revision the change log still has (`head + 1` when it has none).
    pub oldest: u64,
    /// Earliest deadline of a live session (Unix ms); 0 when no session is live.
    pub deadline: u64,
    /// The change log's current segment, up to its committed end.
    pub log: LogPos,
    /// Length of the second line (the body) with its newline, in bytes.
    pub len: u64,
}

/// Where the change log's current (last) segment ends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPos {
    /// Revision of the segment's first event (its file name); 0 before any event.
    pub first: u64,
    /// Events in it.
    pub count: u64,
    /// Its committed length in bytes: anything after is a crashed writer's and is cut off.
    pub bytes: u64,
}

fn unknown_session(session: &str) -> E {
    E::Connection(format!(
        "file store: {session:?} is not a session this driver opened"
    ))
}

/// `u64` milliseconds as a duration.
fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// One operation on the state, at one instant.
pub struct Model {
    pub header: Header,
    pub body: Body,
    /// The one instant of the whole operation (the wall clock, which every process of the
    /// machine shares, for deadlines as for times).
    pub now: Now,
}

impl Model {
    pub fn new(header: Header, body: Body, now_ms: u64) -> Self {
        Self {
            header,
            body,
            now: Now::unix(now_ms),
        }
    }

    /// Revision of the newest change, including this operation's.
    pub fn head(&self) -> u64 {
        self.body.head()
    }

    /// Whether a live session's deadline has come (per the header, as written).
    pub fn due(&self) -> bool {
        self.header.deadline != 0 && self.header.deadline <= self.now.clock_ms
    }

    /// The earliest deadline of a live session, 0 for none.
    pub fn deadline(&self) -> u64 {
        self.body.next_deadline().unwrap_or(0)
    }

    /// The session a key names, brought back if the store forgot it (closed, or expired long
    /// ago): it comes back expired with nothing to report (`State::recall_session`).
    fn recall(&mut self, key: &str) -> Result<String> {
        let key = key.to_owned();
        if !self.body.has_session(&key) {
            let (member, ttl) = parse_session(&key).ok_or_else(|| unknown_session(&key))?;
            let member = MemberId::new(member)?;
            self.body
                .recall_session(key.clone(), member, ms(ttl), self.now);
        }
        Ok(key)
    }

    // ----- sessions and liveness -----

    /// `State::expire_due`, then `State::forget_expired` for sessions past their grace.
    pub fn expire_due(&mut self) {
        self.body.expire_due(self.now);
        self.body.forget_expired(self.now, GRACE_MS);
    }

    /// `State::open_session`, under the key the driver made.
    pub fn open_session(&mut self, key: &str) -> Result<String> {
        let (member, ttl) = parse_session(key).ok_or_else(|| unknown_session(key))?;
        let member = MemberId::new(member)?;
        self.body
            .open_session(key.to_owned(), member, ms(ttl), self.now);
        Ok(key.to_owned())
    }

    /// `State::close_session`. A session already forgotten is closed already.
    pub fn close_session(&mut self, key: &str) -> Result<u64> {
        self.body.close_session(&key.to_owned());
        Ok(self.head())
    }

    /// `State::heartbeat`: the TTL, in milliseconds.
    pub fn heartbeat(&mut self, key: &str) -> Result<u64> {
        let key = self.recall(key)?;
        let timeout = self.body.heartbeat(&key, self.now)?;
        Ok(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
    }

    // ----- groups -----

    /// `State::create_group`
    pub fn create_group(&mut self, group: &str) -> Result<u64> {
        self.body.create_group(group)?;
        Ok(self.head())
    }

    /// `State::delete_group`
    pub fn delete_group(&mut self, group: &str) -> Result<u64> {
        self.body.delete_group(group)?;
        Ok(self.head())
    }

    /// `State::groups`: every group, sorted.
    pub fn groups(&self) -> Vec<String> {
        self.body.groups().into_iter().map(String::from).collect()
    }

    /// `State::group_summaries`, with the head they were read at.
    pub fn group_summaries(&self) -> (u64, Vec<GroupSummary>) {
        let summaries = self
            .body
            .group_summaries()
            .into_iter()
            .map(GroupSummary::from)
            .collect();
        (self.head(), summaries)
    }

    // ----- membership -----

    /// `State::join`, creating the group first when asked.
    pub fn join(
        &mut self,
        key: &str,
        group: &str,
        capabilities: &[u8],
        create: bool,
    ) -> Result<u64> {
        let key = self.recall(key)?;
        let capabilities = Capabilities::from(capabilities.to_vec());
        self.body
            .join(&key, group, capabilities, create, self.now)?;
        Ok(self.head())
    }

    /// `State::leave`
    pub fn leave(&mut self, key: &str, group: &str) -> Result<u64> {
        let key = self.recall(key)?;
        self.body.leave(&key, group)?;
        Ok(self.head())
    }

    /// `State::update_capabilities`
    pub fn update_capabilities(
        &mut self,
        key: &str,
        group: &str,
        capabilities: &[u8],
    ) -> Result<u64> {
        let key = self.recall(key)?;
        let capabilities = Capabilities::from(capabilities.to_vec());
        self.body
            .update_capabilities(&key, group, capabilities, self.now)?;
        Ok(self.head())
    }

    /// `State::members_info`
    pub fn members_info(&self, group: &str) -> Result<Vec<(String, MemberInfo)>> {
        Ok(self
            .body
            .members_info(group, self.now)?
            .into_iter()
            .map(|(id, info)| (id.into(), info.into()))
            .collect())
    }

    /// `State::member_info`
    pub fn member_info(&self, group: &str, member: &str) -> Result<MemberInfo> {
        Ok(self.body.member_info(group, member, self.now)?.into())
    }

    // ----- leader election -----

    /// `State::leader`
    pub fn leader(&self, group: &str) -> Result<Option<Leader>> {
        Ok(self.body.leader(group)?.map(Leader::from))
    }

    /// `State::stand_for_election`
    pub fn stand(&mut self, key: &str, group: &str) -> Result<u64> {
        let key = self.recall(key)?;
        self.body.stand_for_election(&key, group, self.now)?;
        Ok(self.head())
    }

    /// `State::withdraw`: not being a candidate (or a missing group) is not an error.
    pub fn withdraw(&mut self, key: &str, group: &str) -> Result<u64> {
        self.body.withdraw(&key.to_owned(), group);
        Ok(self.head())
    }

    /// `State::stand_down`: whether it was the leader.
    pub fn stand_down(&mut self, key: &str, group: &str) -> Result<(bool, u64)> {
        let was_leader = self.body.stand_down(&key.to_owned(), group)?;
        Ok((was_leader, self.head()))
    }

    // ----- locks -----

    /// `State::acquire_lock`
    pub fn acquire_lock(
        &mut self,
        key: &str,
        lock: &str,
        mode: LockMode,
        wait: bool,
    ) -> Result<(LockAttempt, u64)> {
        let key = self.recall(key)?;
        let attempt = self
            .body
            .acquire_lock(&key, lock, mode.into(), wait, self.now)?;
        Ok((attempt.into(), self.head()))
    }

    /// `State::release_lock`
    pub fn release_lock(&mut self, key: &str, lock: &str) -> Result<(Option<u64>, u64)> {
        let token = self.body.release_lock(&key.to_owned(), lock)?;
        Ok((token, self.head()))
    }

    /// `State::abandon_lock_wait`
    pub fn abandon_lock_wait(&mut self, key: &str, lock: &str) -> Result<(Option<u64>, u64)> {
        let token = self.body.abandon_lock_wait(&key.to_owned(), lock)?;
        Ok((token, self.head()))
    }

    /// `State::break_lock`
    pub fn break_lock(&mut self, lock: &str) -> Result<(Vec<u64>, u64)> {
        let tokens = self.body.break_lock(lock)?;
        Ok((tokens, self.head()))
    }

    /// `State::lock_standing`
    pub fn lock_standing(&self, key: &str, lock: &str) -> Result<LockStanding> {
        roster_types::ids::LockName::check(lock)?;
        Ok(self.body.lock_standing(&key.to_owned(), lock).into())
    }

    /// `State::lock_info`
    pub fn lock_info(&self, lock: &str) -> Result<LockInfo> {
        Ok(self.body.lock_info(lock)?.into())
    }

    /// `State::locks`
    pub fn locks(&self) -> Vec<LockInfo> {
        self.body.locks().into_iter().map(Into::into).collect()
    }
}
