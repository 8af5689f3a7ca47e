//! A change-log entry as the stores that keep their own log (Redis's stream, etcd's event
//! keys) read it back: its parts by the host's enums, and the event they make. Each store
//! has its own stored form; what an entry of each kind must hold, and the event it becomes,
//! is stated here once.

use roster_types::{EventKind, LeadershipEnd, LeaveReason, LockMode, LockReleaseReason};
use serde::Serialize;

use crate::roster::coordination::types::{
    CapabilitiesUpdated, GroupCreated, GroupDeleted, LeaderElected, LeaderLost, LockAcquired,
    LockReleased, MemberJoined, MemberLeft, MembershipEvent,
};
use crate::vocab::by_name;

/// Why an entry's member left, its leadership ended or its hold on a lock ended; stored by
/// the name the host's enum serializes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Reason {
    /// A `member-left` entry's.
    Left(LeaveReason),
    /// A `leader-lost` entry's.
    Ended(LeadershipEnd),
    /// A `lock-released` entry's.
    Released(LockReleaseReason),
}

impl Reason {
    /// The reason `name` names in an entry of `kind`: the enums share some names
    /// (`expired`, ...), so the kind says which one it is. `None` for a name that enum does
    /// not have, or a kind without reasons.
    pub fn of(kind: EventKind, name: &str) -> Option<Self> {
        match kind {
            EventKind::MemberLeft => by_name(name).map(Self::Left),
            EventKind::LeaderLost => by_name(name).map(Self::Ended),
            EventKind::LockReleased => by_name(name).map(Self::Released),
            _ => None,
        }
    }
}

/// One change-log entry's parts. A group's entry names its group; a lock's names its lock
/// and the hold's mode, its fencing token in `term`.
#[derive(Debug)]
pub struct Entry {
    pub revision: u64,
    pub kind: EventKind,
    pub group: String,
    pub lock: String,
    pub member: String,
    pub capabilities: Vec<u8>,
    pub term: u64,
    pub mode: Option<LockMode>,
    pub reason: Option<Reason>,
}

impl Entry {
    /// The event the entry records, or what its kind needs and it lacks, in words.
    pub fn event(self) -> Result<MembershipEvent, String> {
        let Entry {
            revision,
            kind,
            group: group_id,
            lock,
            member: member_id,
            capabilities,
            term,
            mode,
            reason,
        } = self;
        let mode = || {
            mode.map(Into::into)
                .ok_or_else(|| "no lock mode".to_owned())
        };
        Ok(match kind {
            EventKind::GroupCreated => {
                MembershipEvent::GroupCreated(GroupCreated { revision, group_id })
            }
            EventKind::GroupDeleted => {
                MembershipEvent::GroupDeleted(GroupDeleted { revision, group_id })
            }
            EventKind::MemberJoined => MembershipEvent::MemberJoined(MemberJoined {
                revision,
                group_id,
                member_id,
                capabilities,
            }),
            EventKind::MemberLeft => MembershipEvent::MemberLeft(MemberLeft {
                revision,
                group_id,
                member_id,
                reason: match reason {
                    Some(Reason::Left(reason)) => reason.into(),
                    _ => return Err("no leave reason".to_owned()),
                },
            }),
            EventKind::CapabilitiesUpdated => {
                MembershipEvent::CapabilitiesUpdated(CapabilitiesUpdated {
                    revision,
                    group_id,
                    member_id,
                    capabilities,
                })
            }
            EventKind::LeaderElected => MembershipEvent::LeaderElected(LeaderElected {
                revision,
                group_id,
                member_id,
                term,
            }),
            EventKind::LeaderLost => MembershipEvent::LeaderLost(LeaderLost {
                revision,
                group_id,
                member_id,
                term,
                reason: match reason {
                    Some(Reason::Ended(end)) => end.into(),
                    _ => return Err("no leadership end".to_owned()),
                },
            }),
            EventKind::LockAcquired => MembershipEvent::LockAcquired(LockAcquired {
                revision,
                lock,
                member_id,
                mode: mode()?,
                token: term,
            }),
            EventKind::LockReleased => MembershipEvent::LockReleased(LockReleased {
                revision,
                lock,
                member_id,
                mode: mode()?,
                token: term,
                reason: match reason {
                    Some(Reason::Released(reason)) => reason.into(),
                    _ => return Err("no lock release reason".to_owned()),
                },
            }),
        })
    }
}
