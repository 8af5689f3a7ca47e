//! The value types a coordinator answers with: what is known about a member, a group at a
//! glance, a group's leader.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::event::{Revision, Term};
use crate::ids::MemberId;
use crate::ids::{Capabilities, GroupId};

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
