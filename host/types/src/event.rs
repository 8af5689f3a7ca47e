//! Membership events: every change to a backend's state, each with its revision.
//!
//! tooz only reports joins, leaves and elections, and only as snapshot diffs (a join and leave
//! between two polls is never seen). Roster records every change, transient ones included,
//! with the revision that orders it (R2), and reports group lifecycle, capability updates and
//! leadership loss too (R3).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{Capabilities, GroupId, LockName, MemberId};

/// Position of a change in a backend's history. Revision 0 is the empty initial state; every
/// change takes the next number.
pub type Revision = u64;

/// A leadership's fencing token: the revision at which it was won. Terms only grow, across
/// groups and across a group being deleted and created again.
pub type Term = u64;

/// A lock's fencing token: the revision at which a holder acquired it. Tokens only grow, so a
/// resource guarded by the lock can refuse a holder whose token is older than one it has seen.
pub type FencingToken = u64;

/// How a lock is held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockMode {
    /// One holder at a time, and no shared holder beside it.
    #[default]
    Exclusive,
    /// Any number of shared (reader) holders together, and no exclusive one.
    Shared,
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Exclusive => "exclusive",
            Self::Shared => "shared",
        })
    }
}

/// Why a lock holder no longer holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockReleaseReason {
    /// The holder released it.
    Released,
    /// The holder stopped heartbeating for longer than the membership timeout.
    Expired,
    /// The holder's coordinator stopped (its session was closed).
    SessionClosed,
    /// The holder's backend session ended for good (drivers report this).
    SessionLost,
    /// Another member broke the lock (tooz's `break_`): every hold ended at once.
    Broken,
}

/// Why a member is no longer in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaveReason {
    /// The member called `leave_group`, or its coordinator stopped.
    Left,
    /// The member stopped heartbeating for longer than the membership timeout.
    Expired,
    /// The member's backend session ended for good (drivers report this).
    SessionLost,
    /// The group was removed from under the member (drivers whose store allows it).
    GroupDeleted,
}

/// Why a leadership ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeadershipEnd {
    /// The leader called `stand_down_group_leader`.
    StoodDown,
    /// The leader withdrew its candidacy (its last election watch was removed) or stopped.
    Resigned,
    /// The leader stopped heartbeating for longer than the membership timeout.
    Expired,
    /// The leader's backend session ended for good (drivers report this).
    SessionLost,
    /// The group was deleted.
    GroupDeleted,
}

/// A group came into existence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCreated {
    /// Revision of the change.
    pub revision: Revision,
    /// The new group.
    pub group_id: GroupId,
}

/// A group was deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDeleted {
    /// Revision of the change.
    pub revision: Revision,
    /// The deleted group.
    pub group_id: GroupId,
}

/// A member joined a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberJoined {
    /// Revision of the change.
    pub revision: Revision,
    /// The group joined.
    pub group_id: GroupId,
    /// The member that joined.
    pub member_id: MemberId,
    /// Its capabilities at join time.
    pub capabilities: Capabilities,
}

/// A member left a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLeft {
    /// Revision of the change.
    pub revision: Revision,
    /// The group left.
    pub group_id: GroupId,
    /// The member that left.
    pub member_id: MemberId,
    /// Why it left.
    pub reason: LeaveReason,
}

/// A member replaced its capabilities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilitiesUpdated {
    /// Revision of the change.
    pub revision: Revision,
    /// The group.
    pub group_id: GroupId,
    /// The member.
    pub member_id: MemberId,
    /// Its new capabilities.
    pub capabilities: Capabilities,
}

/// A candidate became the group's leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderElected {
    /// Revision of the change.
    pub revision: Revision,
    /// The group.
    pub group_id: GroupId,
    /// The new leader.
    pub member_id: MemberId,
    /// The leadership's fencing token (equal to `revision`).
    pub term: Term,
}

/// A leadership ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderLost {
    /// Revision of the change.
    pub revision: Revision,
    /// The group.
    pub group_id: GroupId,
    /// The former leader.
    pub member_id: MemberId,
    /// The term that ended.
    pub term: Term,
    /// Why it ended.
    pub reason: LeadershipEnd,
}

/// A member's session acquired a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockAcquired {
    /// Revision of the change.
    pub revision: Revision,
    /// The lock.
    pub lock: LockName,
    /// The member now holding it.
    pub member_id: MemberId,
    /// How it holds it.
    pub mode: LockMode,
    /// The acquisition's fencing token (equal to `revision`).
    pub token: FencingToken,
}

/// A holder no longer holds a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockReleased {
    /// Revision of the change.
    pub revision: Revision,
    /// The lock.
    pub lock: LockName,
    /// The former holder.
    pub member_id: MemberId,
    /// How it held it.
    pub mode: LockMode,
    /// The fencing token of the acquisition that ended.
    pub token: FencingToken,
    /// Why it ended.
    pub reason: LockReleaseReason,
}

/// One change to membership state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    /// See [`GroupCreated`].
    GroupCreated(GroupCreated),
    /// See [`GroupDeleted`].
    GroupDeleted(GroupDeleted),
    /// See [`MemberJoined`].
    MemberJoined(MemberJoined),
    /// See [`MemberLeft`].
    MemberLeft(MemberLeft),
    /// See [`CapabilitiesUpdated`].
    CapabilitiesUpdated(CapabilitiesUpdated),
    /// See [`LeaderElected`].
    LeaderElected(LeaderElected),
    /// See [`LeaderLost`].
    LeaderLost(LeaderLost),
    /// See [`LockAcquired`].
    LockAcquired(LockAcquired),
    /// See [`LockReleased`].
    LockReleased(LockReleased),
}

/// The kind of an [`Event`], for filtering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// [`Event::GroupCreated`]
    GroupCreated,
    /// [`Event::GroupDeleted`]
    GroupDeleted,
    /// [`Event::MemberJoined`]
    MemberJoined,
    /// [`Event::MemberLeft`]
    MemberLeft,
    /// [`Event::CapabilitiesUpdated`]
    CapabilitiesUpdated,
    /// [`Event::LeaderElected`]
    LeaderElected,
    /// [`Event::LeaderLost`]
    LeaderLost,
    /// [`Event::LockAcquired`]
    LockAcquired,
    /// [`Event::LockReleased`]
    LockReleased,
}

impl Event {
    /// The revision that orders this change.
    pub fn revision(&self) -> Revision {
        match self {
            Self::GroupCreated(e) => e.revision,
            Self::GroupDeleted(e) => e.revision,
            Self::MemberJoined(e) => e.revision,
            Self::MemberLeft(e) => e.revision,
            Self::CapabilitiesUpdated(e) => e.revision,
            Self::LeaderElected(e) => e.revision,
            Self::LeaderLost(e) => e.revision,
            Self::LockAcquired(e) => e.revision,
            Self::LockReleased(e) => e.revision,
        }
    }

    /// The group the change belongs to; `None` for a lock's change, which belongs to the
    /// lock ([`Event::lock`]).
    pub fn group_id(&self) -> Option<&GroupId> {
        match self {
            Self::GroupCreated(e) => Some(&e.group_id),
            Self::GroupDeleted(e) => Some(&e.group_id),
            Self::MemberJoined(e) => Some(&e.group_id),
            Self::MemberLeft(e) => Some(&e.group_id),
            Self::CapabilitiesUpdated(e) => Some(&e.group_id),
            Self::LeaderElected(e) => Some(&e.group_id),
            Self::LeaderLost(e) => Some(&e.group_id),
            Self::LockAcquired(_) | Self::LockReleased(_) => None,
        }
    }

    /// The lock the change belongs to, for a lock's change.
    pub fn lock(&self) -> Option<&LockName> {
        match self {
            Self::LockAcquired(e) => Some(&e.lock),
            Self::LockReleased(e) => Some(&e.lock),
            _ => None,
        }
    }

    /// The name of what the change belongs to: its group, or its lock.
    pub fn subject(&self) -> &str {
        match self {
            Self::LockAcquired(e) => e.lock.as_str(),
            Self::LockReleased(e) => e.lock.as_str(),
            Self::GroupCreated(e) => e.group_id.as_str(),
            Self::GroupDeleted(e) => e.group_id.as_str(),
            Self::MemberJoined(e) => e.group_id.as_str(),
            Self::MemberLeft(e) => e.group_id.as_str(),
            Self::CapabilitiesUpdated(e) => e.group_id.as_str(),
            Self::LeaderElected(e) => e.group_id.as_str(),
            Self::LeaderLost(e) => e.group_id.as_str(),
        }
    }

    /// The member the change is about, if it is about one.
    pub fn member_id(&self) -> Option<&MemberId> {
        match self {
            Self::GroupCreated(_) | Self::GroupDeleted(_) => None,
            Self::MemberJoined(e) => Some(&e.member_id),
            Self::MemberLeft(e) => Some(&e.member_id),
            Self::CapabilitiesUpdated(e) => Some(&e.member_id),
            Self::LeaderElected(e) => Some(&e.member_id),
            Self::LeaderLost(e) => Some(&e.member_id),
            Self::LockAcquired(e) => Some(&e.member_id),
            Self::LockReleased(e) => Some(&e.member_id),
        }
    }

    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::GroupCreated(_) => EventKind::GroupCreated,
            Self::GroupDeleted(_) => EventKind::GroupDeleted,
            Self::MemberJoined(_) => EventKind::MemberJoined,
            Self::MemberLeft(_) => EventKind::MemberLeft,
            Self::CapabilitiesUpdated(_) => EventKind::CapabilitiesUpdated,
            Self::LeaderElected(_) => EventKind::LeaderElected,
            Self::LeaderLost(_) => EventKind::LeaderLost,
            Self::LockAcquired(_) => EventKind::LockAcquired,
            Self::LockReleased(_) => EventKind::LockReleased,
        }
    }
}

/// One line per event, in the spirit of tooz's `<MemberJoinedGroup: group G: +member M>`.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} ", self.revision())?;
        match self {
            Self::GroupCreated(e) => write!(f, "group {} created", e.group_id),
            Self::GroupDeleted(e) => write!(f, "group {} deleted", e.group_id),
            Self::MemberJoined(e) => write!(f, "group {}: +member {}", e.group_id, e.member_id),
            Self::MemberLeft(e) => {
                write!(
                    f,
                    "group {}: -member {} ({:?})",
                    e.group_id, e.member_id, e.reason
                )
            }
            Self::CapabilitiesUpdated(e) => {
                write!(
                    f,
                    "group {}: member {} updated capabilities",
                    e.group_id, e.member_id
                )
            }
            Self::LeaderElected(e) => {
                write!(
                    f,
                    "group {}: {} elected leader (term {})",
                    e.group_id, e.member_id, e.term
                )
            }
            Self::LeaderLost(e) => write!(
                f,
                "group {}: {} lost leadership (term {}, {:?})",
                e.group_id, e.member_id, e.term, e.reason
            ),
            Self::LockAcquired(e) => write!(
                f,
                "lock {}: {} acquired ({}, token {})",
                e.lock, e.member_id, e.mode, e.token
            ),
            Self::LockReleased(e) => write!(
                f,
                "lock {}: {} released ({}, token {}, {:?})",
                e.lock, e.member_id, e.mode, e.token, e.reason
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_like_toozs_event_repr_with_the_revision() {
        let joined = Event::MemberJoined(MemberJoined {
            revision: 7,
            group_id: GroupId::new("g").unwrap(),
            member_id: MemberId::new("m").unwrap(),
            capabilities: Capabilities::none(),
        });
        assert_eq!(joined.to_string(), "#7 group g: +member m");
        let left = Event::MemberLeft(MemberLeft {
            revision: 8,
            group_id: GroupId::new("g").unwrap(),
            member_id: MemberId::new("m").unwrap(),
            reason: LeaveReason::Expired,
        });
        assert_eq!(left.to_string(), "#8 group g: -member m (Expired)");
        assert_eq!(left.member_id().map(MemberId::as_str), Some("m"));
        assert_eq!(left.kind(), EventKind::MemberLeft);
    }

    #[test]
    fn events_serialize_with_their_kind() {
        let created = Event::GroupCreated(GroupCreated {
            revision: 1,
            group_id: GroupId::new("g").unwrap(),
        });
        let json = serde_json::to_value(&created).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "group-created", "revision": 1, "group_id": "g"})
        );
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), created);
    }
}
