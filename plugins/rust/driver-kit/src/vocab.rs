//! The host's vocabulary (`roster-types`) in the driver world's types, and by the names a
//! change log gives it.
//!
//! A driver that keeps its own state with the shared rules (`roster-rules`) gets events,
//! errors and records in the host's types; a driver that reads a change log names event
//! kinds, leave reasons and leadership ends with the host's enums. Both hand the host the
//! WIT types this module converts to, one exhaustive `match` per type, so a case added to
//! either side fails to compile until it is converted.

use std::time::{SystemTime, UNIX_EPOCH};

use roster_types::{
    CoordinationError, Event, IdKind, LeadershipEnd, LeaveReason, LockMode, LockReleaseReason,
    UrlProblem,
};
use serde::Deserialize;
use serde::de::value::{Error as NameError, StrDeserializer};

/// The value of the host's vocabulary that serializes as `name` (`left`, `stood-down`,
/// `member-joined`, ...: a `LeaveReason`, `LeadershipEnd` or `EventKind`), `None` for any other
/// name. Change logs store reasons and kinds by these names.
pub fn by_name<'a, T: Deserialize<'a>>(name: &'a str) -> Option<T> {
    T::deserialize(StrDeserializer::<NameError>::new(name)).ok()
}

use crate::exports::roster::coordination::backend::{
    GroupSummary, LockAttempt, LockHold, LockStanding,
};
use crate::roster::coordination::types as w;

impl From<LeaveReason> for w::LeaveReason {
    fn from(reason: LeaveReason) -> Self {
        match reason {
            LeaveReason::Left => Self::Left,
            LeaveReason::Expired => Self::Expired,
            LeaveReason::SessionLost => Self::SessionLost,
            LeaveReason::GroupDeleted => Self::GroupDeleted,
        }
    }
}

impl From<LeadershipEnd> for w::LeadershipEnd {
    fn from(end: LeadershipEnd) -> Self {
        match end {
            LeadershipEnd::StoodDown => Self::StoodDown,
            LeadershipEnd::Resigned => Self::Resigned,
            LeadershipEnd::Expired => Self::Expired,
            LeadershipEnd::SessionLost => Self::SessionLost,
            LeadershipEnd::GroupDeleted => Self::GroupDeleted,
        }
    }
}

impl From<LockMode> for w::LockMode {
    fn from(mode: LockMode) -> Self {
        match mode {
            LockMode::Exclusive => Self::Exclusive,
            LockMode::Shared => Self::Shared,
        }
    }
}

impl From<LockReleaseReason> for w::LockReleaseReason {
    fn from(reason: LockReleaseReason) -> Self {
        match reason {
            LockReleaseReason::Released => Self::Released,
            LockReleaseReason::Expired => Self::Expired,
            LockReleaseReason::SessionClosed => Self::SessionClosed,
            LockReleaseReason::SessionLost => Self::SessionLost,
            LockReleaseReason::Broken => Self::Broken,
        }
    }
}

impl From<w::LockMode> for LockMode {
    fn from(mode: w::LockMode) -> Self {
        match mode {
            w::LockMode::Exclusive => Self::Exclusive,
            w::LockMode::Shared => Self::Shared,
        }
    }
}

impl From<roster_types::LockInfo> for w::LockInfo {
    fn from(info: roster_types::LockInfo) -> Self {
        Self {
            lock: info.lock.into(),
            holders: info
                .holders
                .into_iter()
                .map(|h| w::LockHolder {
                    member_id: h.member_id.into(),
                    mode: h.mode.into(),
                    token: h.token,
                })
                .collect(),
            waiters: info
                .waiters
                .into_iter()
                .map(|waiter| w::LockWaiter {
                    member_id: waiter.member_id.into(),
                    mode: waiter.mode.into(),
                })
                .collect(),
        }
    }
}

impl From<roster_types::LockAttempt> for LockAttempt {
    fn from(attempt: roster_types::LockAttempt) -> Self {
        match attempt {
            roster_types::LockAttempt::Acquired { token } => Self::Acquired(token),
            roster_types::LockAttempt::Queued => Self::Queued,
            roster_types::LockAttempt::Busy => Self::Busy,
        }
    }
}

impl From<roster_types::LockStanding> for LockStanding {
    fn from(standing: roster_types::LockStanding) -> Self {
        match standing {
            roster_types::LockStanding::Holding { mode, token } => Self::Holding(LockHold {
                mode: mode.into(),
                token,
            }),
            roster_types::LockStanding::Waiting { mode } => Self::Waiting(mode.into()),
            roster_types::LockStanding::Neither => Self::Neither,
        }
    }
}

impl From<Event> for w::MembershipEvent {
    fn from(event: Event) -> Self {
        match event {
            Event::GroupCreated(e) => Self::GroupCreated(w::GroupCreated {
                revision: e.revision,
                group_id: e.group_id.into(),
            }),
            Event::GroupDeleted(e) => Self::GroupDeleted(w::GroupDeleted {
                revision: e.revision,
                group_id: e.group_id.into(),
            }),
            Event::MemberJoined(e) => Self::MemberJoined(w::MemberJoined {
                revision: e.revision,
                group_id: e.group_id.into(),
                member_id: e.member_id.into(),
                capabilities: e.capabilities.as_bytes().to_vec(),
            }),
            Event::MemberLeft(e) => Self::MemberLeft(w::MemberLeft {
                revision: e.revision,
                group_id: e.group_id.into(),
                member_id: e.member_id.into(),
                reason: e.reason.into(),
            }),
            Event::CapabilitiesUpdated(e) => Self::CapabilitiesUpdated(w::CapabilitiesUpdated {
                revision: e.revision,
                group_id: e.group_id.into(),
                member_id: e.member_id.into(),
                capabilities: e.capabilities.as_bytes().to_vec(),
            }),
            Event::LeaderElected(e) => Self::LeaderElected(w::LeaderElected {
                revision: e.revision,
                group_id: e.group_id.into(),
                member_id: e.member_id.into(),
                term: e.term,
            }),
            Event::LeaderLost(e) => Self::LeaderLost(w::LeaderLost {
                revision: e.revision,
                group_id: e.group_id.into(),
                member_id: e.member_id.into(),
                term: e.term,
                reason: e.reason.into(),
            }),
            Event::LockAcquired(e) => Self::LockAcquired(w::LockAcquired {
                revision: e.revision,
                lock: e.lock.into(),
                member_id: e.member_id.into(),
                mode: e.mode.into(),
                token: e.token,
            }),
            Event::LockReleased(e) => Self::LockReleased(w::LockReleased {
                revision: e.revision,
                lock: e.lock.into(),
                member_id: e.member_id.into(),
                mode: e.mode.into(),
                token: e.token,
                reason: e.reason.into(),
            }),
        }
    }
}

fn member_ref(group_id: roster_types::GroupId, member_id: roster_types::MemberId) -> w::MemberRef {
    w::MemberRef {
        group_id: group_id.into(),
        member_id: member_id.into(),
    }
}

impl From<IdKind> for w::IdKind {
    fn from(kind: IdKind) -> Self {
        match kind {
            IdKind::Group => Self::Group,
            IdKind::Member => Self::Member,
            IdKind::Lock => Self::Lock,
        }
    }
}

impl From<UrlProblem> for w::UrlProblem {
    fn from(problem: UrlProblem) -> Self {
        match problem {
            UrlProblem::Malformed(message) => Self::Malformed(message),
            UrlProblem::UnknownScheme { scheme, known } => {
                Self::UnknownScheme(w::UnknownScheme { scheme, known })
            }
            UrlProblem::UnknownOption { name, known } => {
                Self::UnknownOption(w::UnknownOption { name, known })
            }
            UrlProblem::InvalidOptionValue {
                name,
                value,
                expected,
            } => Self::InvalidOptionValue(w::InvalidOptionValue {
                name,
                value,
                expected,
            }),
            UrlProblem::DuplicateOption(name) => Self::DuplicateOption(name),
            UrlProblem::UnexpectedComponent(part) => Self::UnexpectedComponent(part),
            UrlProblem::ConflictingOption {
                name,
                in_force,
                asked,
            } => Self::ConflictingOption(w::ConflictingOption {
                name,
                in_force,
                asked,
            }),
        }
    }
}

impl From<CoordinationError> for w::CoordinationError {
    fn from(error: CoordinationError) -> Self {
        use CoordinationError as E;
        match error {
            E::GroupNotCreated(g) => Self::GroupNotCreated(g.into()),
            E::GroupAlreadyExist(g) => Self::GroupAlreadyExist(g.into()),
            E::MemberAlreadyExist {
                group_id,
                member_id,
            } => Self::MemberAlreadyExist(member_ref(group_id, member_id)),
            E::MemberNotJoined {
                group_id,
                member_id,
            } => Self::MemberNotJoined(member_ref(group_id, member_id)),
            E::GroupNotEmpty(g) => Self::GroupNotEmpty(g.into()),
            E::WatchCallbackNotFound(g) => Self::WatchCallbackNotFound(g.into()),
            E::OperationTimedOut(limit) => {
                Self::OperationTimedOut(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX))
            }
            E::NotImplemented(operation) => Self::NotImplemented(operation),
            E::MemberExpired {
                group_id,
                member_id,
            } => Self::MemberExpired(member_ref(group_id, member_id)),
            E::SessionExpired {
                member_id,
                lost_groups,
                lost_candidacies,
            } => Self::SessionExpired(w::SessionExpired {
                member_id: member_id.into(),
                lost_groups: lost_groups.into_iter().map(Into::into).collect(),
                lost_candidacies: lost_candidacies.into_iter().map(Into::into).collect(),
            }),
            E::NotStarted => Self::NotStarted,
            E::AlreadyStarted => Self::AlreadyStarted,
            E::Connection(message) => Self::Connection(message),
            E::InvalidId {
                kind,
                value,
                reason,
            } => Self::InvalidId(w::InvalidId {
                kind: kind.into(),
                value,
                reason,
            }),
            E::CapabilitiesTooLarge { size, limit } => {
                Self::CapabilitiesTooLarge(w::CapabilitiesTooLarge { size, limit })
            }
            E::InvalidUrl { url, problem } => Self::InvalidUrl(w::InvalidUrl {
                url,
                problem: problem.into(),
            }),
            E::HistoryLost { requested, oldest } => {
                Self::HistoryLost(w::HistoryLost { requested, oldest })
            }
            E::NotPermitted(operation) => Self::NotPermitted(operation),
            E::LockNotHeld(name) => Self::LockNotHeld(name.into()),
        }
    }
}

/// `time` in Unix milliseconds (0 before the epoch).
fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl From<roster_types::MemberInfo> for w::MemberInfo {
    fn from(info: roster_types::MemberInfo) -> Self {
        Self {
            capabilities: info.capabilities.as_bytes().to_vec(),
            joined_at_ms: unix_ms(info.joined_at),
            updated_at_ms: unix_ms(info.updated_at),
            revision: info.revision,
            expires_in_ms: u64::try_from(info.expires_in.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl From<roster_types::Leader> for w::Leader {
    fn from(leader: roster_types::Leader) -> Self {
        Self {
            member_id: leader.member_id.into(),
            term: leader.term,
        }
    }
}

impl From<roster_types::GroupSummary> for GroupSummary {
    fn from(summary: roster_types::GroupSummary) -> Self {
        Self {
            group_id: summary.group_id.into(),
            members: summary.members as u64,
            leader: summary.leader.map(Into::into),
            last_change: summary.last_change,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use roster_types::{EventKind, GroupId, MemberId, MemberLeft};

    use super::*;

    #[test]
    fn the_vocabulary_is_read_by_the_names_it_serializes_with() {
        assert_eq!(by_name("session-lost"), Some(LeaveReason::SessionLost));
        assert_eq!(by_name::<LeaveReason>("stood-down"), None);
        assert_eq!(by_name("stood-down"), Some(LeadershipEnd::StoodDown));
        assert_eq!(by_name::<LeadershipEnd>("left"), None);
        assert_eq!(by_name("leader-lost"), Some(EventKind::LeaderLost));
        assert_eq!(by_name::<EventKind>("Left"), None);
    }

    #[test]
    fn events_keep_their_fields_and_reasons() {
        let left = Event::MemberLeft(MemberLeft {
            revision: 7,
            group_id: GroupId::new("g").unwrap(),
            member_id: MemberId::new("m").unwrap(),
            reason: LeaveReason::Expired,
        });
        let w::MembershipEvent::MemberLeft(converted) = w::MembershipEvent::from(left) else {
            panic!("a member-left event");
        };
        assert_eq!(
            (
                converted.revision,
                converted.group_id.as_str(),
                converted.member_id.as_str()
            ),
            (7, "g", "m")
        );
        assert_eq!(converted.reason, w::LeaveReason::Expired);
    }

    #[test]
    fn errors_keep_their_case_and_details() {
        let error = CoordinationError::SessionExpired {
            member_id: MemberId::new("m").unwrap(),
            lost_groups: vec![GroupId::new("a").unwrap()],
            lost_candidacies: vec![],
        };
        let w::CoordinationError::SessionExpired(notice) = error.into() else {
            panic!("a session-expired error");
        };
        assert_eq!(notice.lost_groups, ["a"]);
        assert!(matches!(
            CoordinationError::OperationTimedOut(Duration::from_millis(1500)).into(),
            w::CoordinationError::OperationTimedOut(1500)
        ));
    }

    #[test]
    fn member_info_is_in_unix_milliseconds() {
        let info = roster_types::MemberInfo {
            capabilities: "c".into(),
            joined_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            updated_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_456),
            revision: 3,
            expires_in: Duration::from_millis(9_999),
        };
        let converted = w::MemberInfo::from(info);
        assert_eq!(
            (
                converted.joined_at_ms,
                converted.updated_at_ms,
                converted.expires_in_ms
            ),
            (1_700_000_000_123, 1_700_000_000_456, 9_999)
        );
    }
}
