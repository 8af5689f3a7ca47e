//! The value types a coordinator answers with: what is known about a member, a group at a
//! glance, a group's leader, a lock's holders and waiters.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::event::{FencingToken, LockMode, Revision, Term};
use crate::ids::{Capabilities, GroupId, LockName, MemberId};

/// What is known about one member of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// Its capabilities.
    pub capabilities: Capabilities,
    /// When it joined.
    pub joined_at: SystemTime,
    /// When its capabilities last changed (its join time if never).
    pub updated_at: SystemTime,
    /// Revision of its last change (join or capabilities update).
    pub revision: Revision,
    /// Time left before the member expires unless it heartbeats (zero once it has); its
    /// membership timeout minus this is the age of its last heartbeat.
    pub expires_in: Duration,
}

/// One group at a glance: what an overview of every group shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// The group.
    pub group_id: GroupId,
    /// How many members it has.
    pub members: usize,
    /// Its leader, if it has one.
    pub leader: Option<Leader>,
    /// Revision of its latest change (its creation if nothing changed since).
    pub last_change: Revision,
}

/// A group's current leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leader {
    /// The leading member.
    pub member_id: MemberId,
    /// Its fencing token.
    pub term: Term,
}

/// A group and (some of) its members, as a snapshot of the whole store lists them.
pub type GroupWithMembers = (GroupSummary, Vec<(MemberId, MemberInfo)>);

/// One holder of a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The holding member.
    pub member_id: MemberId,
    /// How it holds the lock.
    pub mode: LockMode,
    /// Its acquisition's fencing token (the revision it was acquired at).
    pub token: FencingToken,
}

/// One member waiting for a lock, in the order waiters are served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockWaiter {
    /// The waiting member.
    pub member_id: MemberId,
    /// How it wants the lock.
    pub mode: LockMode,
}

/// A lock at a glance: who holds it and who waits for it. A lock nobody holds or waits for
/// has no holders and no waiters (the store keeps nothing for it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The lock.
    pub lock: LockName,
    /// Its holders: one exclusive holder, or any number of shared ones.
    pub holders: Vec<LockHolder>,
    /// Its waiters, first served first.
    pub waiters: Vec<LockWaiter>,
}

/// The answer of an acquisition attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum LockAttempt {
    /// The session holds the lock, with this fencing token.
    Acquired {
        /// The acquisition's fencing token.
        token: FencingToken,
    },
    /// The session waits in the lock's queue (it asked to wait).
    Queued,
    /// The lock is held or has waiters ahead (the session asked not to wait).
    Busy,
}

/// Where a session stands with a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum LockStanding {
    /// It holds the lock.
    Holding {
        /// How it holds it.
        mode: LockMode,
        /// Its acquisition's fencing token.
        token: FencingToken,
    },
    /// It waits in the lock's queue.
    Waiting {
        /// How it wants the lock.
        mode: LockMode,
    },
    /// It neither holds nor waits for the lock.
    Neither,
}
