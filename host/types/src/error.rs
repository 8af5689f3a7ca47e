//! The one error type of the coordination API.
//!
//! Variants follow tooz's exceptions by name (`GroupNotCreated`, `MemberNotJoined`, ...) so a
//! tooz user recognises them, plus Roster's own conditions: expiry that the member is told
//! about (R6), invalid input (R10) and history that is no longer kept. Each variant is one
//! condition; the WIT `coordination-error` variant mirrors it case for case.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::Revision;
use crate::ids::{GroupId, LockName, MemberId};

/// Which kind of identifier failed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdKind {
    /// A group id.
    Group,
    /// A member id.
    Member,
    /// A lock's name.
    Lock,
}

impl std::fmt::Display for IdKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Group => "group id",
            Self::Member => "member id",
            Self::Lock => "lock name",
        })
    }
}

/// Why a backend URL was rejected by `roster::get_coordinator`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "problem", content = "detail", rename_all = "kebab-case")]
pub enum UrlProblem {
    /// The text does not parse as a URL; carries the parser's message.
    #[error("it is not a URL ({0})")]
    Malformed(String),
    /// The scheme names no backend this build knows.
    #[error("unknown backend scheme {scheme:?}; known schemes: {}", known.join(", "))]
    UnknownScheme {
        /// The scheme given.
        scheme: String,
        /// Every scheme that is known.
        known: Vec<String>,
    },
    /// A query option the backend does not read.
    #[error("unknown option {name:?}; known options: {}", known.join(", "))]
    UnknownOption {
        /// The option given.
        name: String,
        /// The options the backend reads.
        known: Vec<String>,
    },
    /// A known option whose value cannot be used.
    #[error("option {name}={value:?} is invalid: expected {expected}")]
    InvalidOptionValue {
        /// The option.
        name: String,
        /// The value given.
        value: String,
        /// What the option accepts.
        expected: String,
    },
    /// The same option appears more than once.
    #[error("option {0:?} is given more than once")]
    DuplicateOption(String),
    /// A URL part the backend has no use for, such as a port or user info on `memory://`.
    #[error("the backend does not use the URL's {0}")]
    UnexpectedComponent(String),
    /// A store-wide option (`history`, `max_capabilities`, `driver`) whose value differs from
    /// the one in force: the first coordinator of the process to name the store set it.
    #[error(
        "option {name} of this store is {in_force:?} (set by the first coordinator to name it), not {asked:?}"
    )]
    ConflictingOption {
        /// The option.
        name: String,
        /// Its value in force for the store.
        in_force: String,
        /// The value this URL asks for.
        asked: String,
    },
}

/// Every way a coordination call can fail.
///
/// Serialized (by the network API) as `{"code": "group-not-created", "detail": ...}`: the
/// variant's name in kebab-case and its fields.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", content = "detail", rename_all = "kebab-case")]
pub enum CoordinationError {
    /// The group does not exist. Returned by every call naming a missing group, including
    /// `leave_group` and capability calls (R1).
    #[error("group {0:?} does not exist")]
    GroupNotCreated(GroupId),
    /// `create_group` of a group that already exists.
    #[error("group {0:?} already exists")]
    GroupAlreadyExist(GroupId),
    /// `join_group` with a member id that is already in the group (also when another
    /// coordinator holds that member id). A failed join changes nothing (R8).
    #[error("member {member_id:?} is already in group {group_id:?}")]
    MemberAlreadyExist {
        /// The group.
        group_id: GroupId,
        /// The member id already present.
        member_id: MemberId,
    },
    /// The group exists but the member is not in it.
    #[error("member {member_id:?} is not in group {group_id:?}")]
    MemberNotJoined {
        /// The group.
        group_id: GroupId,
        /// The member that is not in it.
        member_id: MemberId,
    },
    /// `delete_group` of a group that still has members.
    #[error("group {0:?} still has members")]
    GroupNotEmpty(GroupId),
    /// `unwatch_*` with a watch id that is not registered for that group and kind.
    #[error("no such watch callback on group {0:?}")]
    WatchCallbackNotFound(GroupId),
    /// An operation did not finish within the timeout given to `roster::Operation::get`.
    #[error("operation timed out after {0:?}")]
    OperationTimedOut(Duration),
    /// The backend does not offer this operation; carries the operation's name.
    #[error("{0} is not implemented by this backend")]
    NotImplemented(String),
    /// The caller's membership of this group was removed because its session expired (R6).
    /// Reported once per lost group, by the next call that needs that membership.
    #[error("member {member_id:?} expired from group {group_id:?}")]
    MemberExpired {
        /// The group the member was removed from.
        group_id: GroupId,
        /// The expired member (the caller).
        member_id: MemberId,
    },
    /// The caller stopped heartbeating past its membership timeout: its memberships and
    /// candidacies are gone (R6). Returned once, by the first call after the expiry that
    /// needs a live session (`heartbeat`, `join_group`, `join_group_create`,
    /// `watch_elected_as_leader`), which fails and reopens the session so the caller can
    /// join again. A coordinator stands again at once in every group it still holds an
    /// election callback for (R5).
    #[error(
        "session of member {member_id:?} expired; groups lost: {lost_groups:?}; candidacies lost: {lost_candidacies:?}"
    )]
    SessionExpired {
        /// The expired member (the caller).
        member_id: MemberId,
        /// Every group it was removed from, sorted (whatever `MemberExpired` said since).
        lost_groups: Vec<GroupId>,
        /// Every group whose election it was a candidate in (or led), sorted.
        lost_candidacies: Vec<GroupId>,
    },
    /// A call on a coordinator that has not been started, or has been stopped.
    #[error("the coordinator is not started")]
    NotStarted,
    /// `start` on a coordinator that is already started.
    #[error("the coordinator is already started")]
    AlreadyStarted,
    /// The backend could not be reached or failed; carries its message (R12).
    #[error("backend connection failed: {0}")]
    Connection(String),
    /// An id is empty, longer than 255 bytes, or contains a control character (R10).
    #[error("invalid {kind} {value:?}: {reason}")]
    InvalidId {
        /// Group or member.
        kind: IdKind,
        /// The rejected value, control characters escaped.
        value: String,
        /// The rule it broke.
        reason: String,
    },
    /// Capabilities larger than the backend's limit (64 KiB by default) (R10).
    #[error("capabilities of {size} bytes exceed the limit of {limit} bytes")]
    CapabilitiesTooLarge {
        /// Size given.
        size: u64,
        /// Limit in force.
        limit: u64,
    },
    /// `roster::get_coordinator` was given a URL it cannot use.
    #[error("invalid backend URL {url:?}: {problem}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        problem: UrlProblem,
    },
    /// A reader asked for history older than what the backend keeps: events between
    /// `requested` and `oldest` are gone, so the reader must resync from a snapshot
    /// (`get_members` and friends) and continue from the head.
    #[error("history from revision {requested} is gone (oldest kept: {oldest}); resync")]
    HistoryLost {
        /// First revision the reader needed.
        requested: Revision,
        /// Oldest revision still kept.
        oldest: Revision,
    },
    /// `release` of a lock the caller neither holds nor waits for (tooz's `release` answers
    /// `False` here; Roster says which lock).
    #[error("lock {0:?} is neither held nor awaited by the caller")]
    LockNotHeld(LockName),
    /// A plugin called an operation its grants do not allow; carries the operation's name.
    /// Mutating coordinator calls need the `mutate` grant.
    #[error("{0} is not permitted: the plugin's grants do not allow it")]
    NotPermitted(String),
}

/// Result of a coordination call.
pub type Result<T, E = CoordinationError> = std::result::Result<T, E>;

impl CoordinationError {
    /// `GroupNotCreated` for `group`, or why `group` is not a group id at all: what a store
    /// answers for a group it does not have.
    pub fn group_not_created(group: &str) -> Self {
        match GroupId::new(group) {
            Ok(id) => Self::GroupNotCreated(id),
            Err(invalid) => invalid,
        }
    }

    /// `MemberNotJoined` for `member` in `group_id`, or why `member` is not a member id at
    /// all: what a store answers for a member not in a group.
    pub fn member_not_joined(group_id: &GroupId, member: &str) -> Self {
        match MemberId::new(member) {
            Ok(member_id) => Self::MemberNotJoined {
                group_id: group_id.clone(),
                member_id,
            },
            Err(invalid) => invalid,
        }
    }

    /// The condition's stable name, as the network API and the command line report it
    /// (`group-not-created`, `member-already-exist`, ...).
    pub fn code(&self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => match map.get("code") {
                Some(serde_json::Value::String(code)) => code.clone(),
                _ => "unknown".to_owned(),
            },
            _ => "unknown".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip_through_json_with_a_stable_code() {
        let group = GroupId::new("g").unwrap();
        let errors = [
            CoordinationError::GroupNotCreated(group.clone()),
            CoordinationError::SessionExpired {
                member_id: MemberId::new("m").unwrap(),
                lost_groups: vec![group.clone()],
                lost_candidacies: vec![group],
            },
            CoordinationError::NotStarted,
            CoordinationError::OperationTimedOut(Duration::from_millis(1500)),
            CoordinationError::HistoryLost {
                requested: 3,
                oldest: 9,
            },
            CoordinationError::InvalidUrl {
                url: "x".into(),
                problem: UrlProblem::DuplicateOption("timeout".into()),
            },
        ];
        for error in errors {
            let json = serde_json::to_string(&error).unwrap();
            assert_eq!(
                serde_json::from_str::<CoordinationError>(&json).unwrap(),
                error
            );
        }
        let json = serde_json::to_value(CoordinationError::HistoryLost {
            requested: 3,
            oldest: 9,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "history-lost", "detail": {"requested": 3, "oldest": 9}})
        );
        assert_eq!(CoordinationError::NotStarted.code(), "not-started");
    }
}
