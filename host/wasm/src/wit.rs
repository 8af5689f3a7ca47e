//! The WIT contract in `wit/`, as Rust, and the conversions to and from the host's own types.
//!
//! `bindgen!` generates the WIT types from `wit/coordination.wit`. Every conversion below is an
//! exhaustive `match` in both directions, so a case added, removed or renamed on one side and
//! not the other stops the build: the host's types and the contract cannot drift apart.
//! Conversions from WIT validate ids, because a guest can send anything.

use std::time::{Duration, UNIX_EPOCH};

/// Generated from `wit/` (world `handler`, which holds every interface of the package);
/// the WIT comments are the documentation.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "roster:coordination/handler",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq, Eq],
    });
}

/// Generated from `wit/driver.wit` (world `driver`): its `backend` export. `bindgen!` makes
/// one world at a time; the interfaces the two worlds share (`types`, `logging`) are the
/// handler bindings', so there is one Rust type for each WIT type.
#[allow(missing_docs)]
pub(crate) mod driver_bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "roster:coordination/driver",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "roster:coordination/types": super::bindings::roster::coordination::types,
            "roster:coordination/logging": super::bindings::roster::coordination::logging,
        },
    });
}

pub use bindings::roster::coordination::types as wit_types;
use wit_types as w;

use roster_types::error::{CoordinationError, IdKind, UrlProblem};
use roster_types::event::{
    CapabilitiesUpdated, Event, GroupCreated, GroupDeleted, LeaderElected, LeaderLost,
    LeadershipEnd, LeaveReason, LockAcquired, LockMode, LockReleaseReason, LockReleased,
    MemberJoined, MemberLeft,
};
use roster_types::ids::{Capabilities, GroupId, LockName, MemberId};
use roster_types::{Leader, LockInfo, MemberInfo};

type Result<T> = std::result::Result<T, CoordinationError>;

fn group(id: String) -> Result<GroupId> {
    GroupId::new(id)
}

fn member(id: String) -> Result<MemberId> {
    MemberId::new(id)
}

fn lock_name(name: String) -> Result<LockName> {
    LockName::new(name)
}

fn millis(time: std::time::SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl From<LeaveReason> for w::LeaveReason {
    fn from(value: LeaveReason) -> Self {
        match value {
            LeaveReason::Left => Self::Left,
            LeaveReason::Expired => Self::Expired,
            LeaveReason::SessionLost => Self::SessionLost,
            LeaveReason::GroupDeleted => Self::GroupDeleted,
        }
    }
}

impl From<w::LeaveReason> for LeaveReason {
    fn from(value: w::LeaveReason) -> Self {
        match value {
            w::LeaveReason::Left => Self::Left,
            w::LeaveReason::Expired => Self::Expired,
            w::LeaveReason::SessionLost => Self::SessionLost,
            w::LeaveReason::GroupDeleted => Self::GroupDeleted,
        }
    }
}

impl From<LeadershipEnd> for w::LeadershipEnd {
    fn from(value: LeadershipEnd) -> Self {
        match value {
            LeadershipEnd::StoodDown => Self::StoodDown,
            LeadershipEnd::Resigned => Self::Resigned,
            LeadershipEnd::Expired => Self::Expired,
            LeadershipEnd::SessionLost => Self::SessionLost,
            LeadershipEnd::GroupDeleted => Self::GroupDeleted,
        }
    }
}

impl From<w::LeadershipEnd> for LeadershipEnd {
    fn from(value: w::LeadershipEnd) -> Self {
        match value {
            w::LeadershipEnd::StoodDown => Self::StoodDown,
            w::LeadershipEnd::Resigned => Self::Resigned,
            w::LeadershipEnd::Expired => Self::Expired,
            w::LeadershipEnd::SessionLost => Self::SessionLost,
            w::LeadershipEnd::GroupDeleted => Self::GroupDeleted,
        }
    }
}

impl From<LockMode> for w::LockMode {
    fn from(value: LockMode) -> Self {
        match value {
            LockMode::Exclusive => Self::Exclusive,
            LockMode::Shared => Self::Shared,
        }
    }
}

impl From<w::LockMode> for LockMode {
    fn from(value: w::LockMode) -> Self {
        match value {
            w::LockMode::Exclusive => Self::Exclusive,
            w::LockMode::Shared => Self::Shared,
        }
    }
}

impl From<LockReleaseReason> for w::LockReleaseReason {
    fn from(value: LockReleaseReason) -> Self {
        match value {
            LockReleaseReason::Released => Self::Released,
            LockReleaseReason::Expired => Self::Expired,
            LockReleaseReason::SessionClosed => Self::SessionClosed,
            LockReleaseReason::SessionLost => Self::SessionLost,
            LockReleaseReason::Broken => Self::Broken,
        }
    }
}

impl From<w::LockReleaseReason> for LockReleaseReason {
    fn from(value: w::LockReleaseReason) -> Self {
        match value {
            w::LockReleaseReason::Released => Self::Released,
            w::LockReleaseReason::Expired => Self::Expired,
            w::LockReleaseReason::SessionClosed => Self::SessionClosed,
            w::LockReleaseReason::SessionLost => Self::SessionLost,
            w::LockReleaseReason::Broken => Self::Broken,
        }
    }
}

impl From<&LockInfo> for w::LockInfo {
    fn from(info: &LockInfo) -> Self {
        Self {
            lock: info.lock.to_string(),
            holders: info
                .holders
                .iter()
                .map(|h| w::LockHolder {
                    member_id: h.member_id.to_string(),
                    mode: h.mode.into(),
                    token: h.token,
                })
                .collect(),
            waiters: info
                .waiters
                .iter()
                .map(|waiter| w::LockWaiter {
                    member_id: waiter.member_id.to_string(),
                    mode: waiter.mode.into(),
                })
                .collect(),
        }
    }
}

impl TryFrom<w::LockInfo> for LockInfo {
    /// The guest sent an invalid lock name or member id.
    type Error = CoordinationError;

    fn try_from(info: w::LockInfo) -> Result<Self> {
        Ok(Self {
            lock: lock_name(info.lock)?,
            holders: info
                .holders
                .into_iter()
                .map(|h| {
                    Ok(roster_types::LockHolder {
                        member_id: member(h.member_id)?,
                        mode: h.mode.into(),
                        token: h.token,
                    })
                })
                .collect::<Result<_>>()?,
            waiters: info
                .waiters
                .into_iter()
                .map(|waiter| {
                    Ok(roster_types::LockWaiter {
                        member_id: member(waiter.member_id)?,
                        mode: waiter.mode.into(),
                    })
                })
                .collect::<Result<_>>()?,
        })
    }
}

impl From<&Event> for w::MembershipEvent {
    /// Copies the ids and capabilities straight out of the borrowed event.
    fn from(event: &Event) -> Self {
        match event {
            Event::GroupCreated(e) => Self::GroupCreated(w::GroupCreated {
                revision: e.revision,
                group_id: e.group_id.to_string(),
            }),
            Event::GroupDeleted(e) => Self::GroupDeleted(w::GroupDeleted {
                revision: e.revision,
                group_id: e.group_id.to_string(),
            }),
            Event::MemberJoined(e) => Self::MemberJoined(w::MemberJoined {
                revision: e.revision,
                group_id: e.group_id.to_string(),
                member_id: e.member_id.to_string(),
                capabilities: e.capabilities.as_bytes().to_vec(),
            }),
            Event::MemberLeft(e) => Self::MemberLeft(w::MemberLeft {
                revision: e.revision,
                group_id: e.group_id.to_string(),
                member_id: e.member_id.to_string(),
                reason: e.reason.into(),
            }),
            Event::CapabilitiesUpdated(e) => Self::CapabilitiesUpdated(w::CapabilitiesUpdated {
                revision: e.revision,
                group_id: e.group_id.to_string(),
                member_id: e.member_id.to_string(),
                capabilities: e.capabilities.as_bytes().to_vec(),
            }),
            Event::LeaderElected(e) => Self::LeaderElected(w::LeaderElected {
                revision: e.revision,
                group_id: e.group_id.to_string(),
                member_id: e.member_id.to_string(),
                term: e.term,
            }),
            Event::LeaderLost(e) => Self::LeaderLost(w::LeaderLost {
                revision: e.revision,
                group_id: e.group_id.to_string(),
                member_id: e.member_id.to_string(),
                term: e.term,
                reason: e.reason.into(),
            }),
            Event::LockAcquired(e) => Self::LockAcquired(w::LockAcquired {
                revision: e.revision,
                lock: e.lock.to_string(),
                member_id: e.member_id.to_string(),
                mode: e.mode.into(),
                token: e.token,
            }),
            Event::LockReleased(e) => Self::LockReleased(w::LockReleased {
                revision: e.revision,
                lock: e.lock.to_string(),
                member_id: e.member_id.to_string(),
                mode: e.mode.into(),
                token: e.token,
                reason: e.reason.into(),
            }),
        }
    }
}

impl TryFrom<w::MembershipEvent> for Event {
    type Error = CoordinationError;

    fn try_from(event: w::MembershipEvent) -> Result<Self> {
        Ok(match event {
            w::MembershipEvent::GroupCreated(e) => Self::GroupCreated(GroupCreated {
                revision: e.revision,
                group_id: group(e.group_id)?,
            }),
            w::MembershipEvent::GroupDeleted(e) => Self::GroupDeleted(GroupDeleted {
                revision: e.revision,
                group_id: group(e.group_id)?,
            }),
            w::MembershipEvent::MemberJoined(e) => Self::MemberJoined(MemberJoined {
                revision: e.revision,
                group_id: group(e.group_id)?,
                member_id: member(e.member_id)?,
                capabilities: e.capabilities.into(),
            }),
            w::MembershipEvent::MemberLeft(e) => Self::MemberLeft(MemberLeft {
                revision: e.revision,
                group_id: group(e.group_id)?,
                member_id: member(e.member_id)?,
                reason: e.reason.into(),
            }),
            w::MembershipEvent::CapabilitiesUpdated(e) => {
                Self::CapabilitiesUpdated(CapabilitiesUpdated {
                    revision: e.revision,
                    group_id: group(e.group_id)?,
                    member_id: member(e.member_id)?,
                    capabilities: e.capabilities.into(),
                })
            }
            w::MembershipEvent::LeaderElected(e) => Self::LeaderElected(LeaderElected {
                revision: e.revision,
                group_id: group(e.group_id)?,
                member_id: member(e.member_id)?,
                term: e.term,
            }),
            w::MembershipEvent::LeaderLost(e) => Self::LeaderLost(LeaderLost {
                revision: e.revision,
                group_id: group(e.group_id)?,
                member_id: member(e.member_id)?,
                term: e.term,
                reason: e.reason.into(),
            }),
            w::MembershipEvent::LockAcquired(e) => Self::LockAcquired(LockAcquired {
                revision: e.revision,
                lock: lock_name(e.lock)?,
                member_id: member(e.member_id)?,
                mode: e.mode.into(),
                token: e.token,
            }),
            w::MembershipEvent::LockReleased(e) => Self::LockReleased(LockReleased {
                revision: e.revision,
                lock: lock_name(e.lock)?,
                member_id: member(e.member_id)?,
                mode: e.mode.into(),
                token: e.token,
                reason: e.reason.into(),
            }),
        })
    }
}

impl From<&MemberInfo> for w::MemberInfo {
    fn from(info: &MemberInfo) -> Self {
        Self {
            capabilities: info.capabilities.clone().into(),
            joined_at_ms: millis(info.joined_at),
            updated_at_ms: millis(info.updated_at),
            revision: info.revision,
            expires_in_ms: u64::try_from(info.expires_in.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl From<w::MemberInfo> for MemberInfo {
    fn from(info: w::MemberInfo) -> Self {
        Self {
            capabilities: Capabilities::from(info.capabilities),
            joined_at: UNIX_EPOCH + Duration::from_millis(info.joined_at_ms),
            updated_at: UNIX_EPOCH + Duration::from_millis(info.updated_at_ms),
            revision: info.revision,
            expires_in: Duration::from_millis(info.expires_in_ms),
        }
    }
}

impl From<&Leader> for w::Leader {
    fn from(leader: &Leader) -> Self {
        Self {
            member_id: leader.member_id.clone().into(),
            term: leader.term,
        }
    }
}

impl TryFrom<w::Leader> for Leader {
    type Error = CoordinationError;

    fn try_from(leader: w::Leader) -> Result<Self> {
        Ok(Self {
            member_id: member(leader.member_id)?,
            term: leader.term,
        })
    }
}

fn member_ref(group_id: GroupId, member_id: MemberId) -> w::MemberRef {
    w::MemberRef {
        group_id: group_id.into(),
        member_id: member_id.into(),
    }
}

impl From<UrlProblem> for w::UrlProblem {
    fn from(problem: UrlProblem) -> Self {
        match problem {
            UrlProblem::Malformed(m) => Self::Malformed(m),
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

impl From<w::UrlProblem> for UrlProblem {
    fn from(problem: w::UrlProblem) -> Self {
        match problem {
            w::UrlProblem::Malformed(m) => Self::Malformed(m),
            w::UrlProblem::UnknownScheme(u) => Self::UnknownScheme {
                scheme: u.scheme,
                known: u.known,
            },
            w::UrlProblem::UnknownOption(u) => Self::UnknownOption {
                name: u.name,
                known: u.known,
            },
            w::UrlProblem::InvalidOptionValue(v) => Self::InvalidOptionValue {
                name: v.name,
                value: v.value,
                expected: v.expected,
            },
            w::UrlProblem::DuplicateOption(name) => Self::DuplicateOption(name),
            w::UrlProblem::UnexpectedComponent(part) => Self::UnexpectedComponent(part),
            w::UrlProblem::ConflictingOption(c) => Self::ConflictingOption {
                name: c.name,
                in_force: c.in_force,
                asked: c.asked,
            },
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
            E::NotImplemented(op) => Self::NotImplemented(op),
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
                kind: match kind {
                    IdKind::Group => w::IdKind::Group,
                    IdKind::Member => w::IdKind::Member,
                    IdKind::Lock => w::IdKind::Lock,
                },
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
            E::NotPermitted(op) => Self::NotPermitted(op),
            E::LockNotHeld(name) => Self::LockNotHeld(name.into()),
        }
    }
}

impl TryFrom<w::CoordinationError> for CoordinationError {
    /// The error a guest sent contained an invalid id.
    type Error = CoordinationError;

    fn try_from(error: w::CoordinationError) -> Result<Self> {
        use w::CoordinationError as W;
        Ok(match error {
            W::GroupNotCreated(g) => Self::GroupNotCreated(group(g)?),
            W::GroupAlreadyExist(g) => Self::GroupAlreadyExist(group(g)?),
            W::MemberAlreadyExist(r) => Self::MemberAlreadyExist {
                group_id: group(r.group_id)?,
                member_id: member(r.member_id)?,
            },
            W::MemberNotJoined(r) => Self::MemberNotJoined {
                group_id: group(r.group_id)?,
                member_id: member(r.member_id)?,
            },
            W::GroupNotEmpty(g) => Self::GroupNotEmpty(group(g)?),
            W::WatchCallbackNotFound(g) => Self::WatchCallbackNotFound(group(g)?),
            W::OperationTimedOut(ms) => Self::OperationTimedOut(Duration::from_millis(ms)),
            W::NotImplemented(op) => Self::NotImplemented(op),
            W::MemberExpired(r) => Self::MemberExpired {
                group_id: group(r.group_id)?,
                member_id: member(r.member_id)?,
            },
            W::SessionExpired(s) => Self::SessionExpired {
                member_id: member(s.member_id)?,
                lost_groups: s
                    .lost_groups
                    .into_iter()
                    .map(group)
                    .collect::<Result<_>>()?,
                lost_candidacies: s
                    .lost_candidacies
                    .into_iter()
                    .map(group)
                    .collect::<Result<_>>()?,
            },
            W::NotStarted => Self::NotStarted,
            W::AlreadyStarted => Self::AlreadyStarted,
            W::Connection(message) => Self::Connection(message),
            W::InvalidId(i) => Self::InvalidId {
                kind: match i.kind {
                    w::IdKind::Group => IdKind::Group,
                    w::IdKind::Member => IdKind::Member,
                    w::IdKind::Lock => IdKind::Lock,
                },
                value: i.value,
                reason: i.reason,
            },
            W::CapabilitiesTooLarge(c) => Self::CapabilitiesTooLarge {
                size: c.size,
                limit: c.limit,
            },
            W::InvalidUrl(u) => Self::InvalidUrl {
                url: u.url,
                problem: u.problem.into(),
            },
            W::HistoryLost(h) => Self::HistoryLost {
                requested: h.requested,
                oldest: h.oldest,
            },
            W::NotPermitted(op) => Self::NotPermitted(op),
            W::LockNotHeld(name) => Self::LockNotHeld(lock_name(name)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> GroupId {
        GroupId::new(s).unwrap()
    }

    fn m(s: &str) -> MemberId {
        MemberId::new(s).unwrap()
    }

    fn every_event() -> Vec<Event> {
        vec![
            Event::GroupCreated(GroupCreated {
                revision: 1,
                group_id: g("a"),
            }),
            Event::GroupDeleted(GroupDeleted {
                revision: 2,
                group_id: g("a"),
            }),
            Event::MemberJoined(MemberJoined {
                revision: 3,
                group_id: g("a"),
                member_id: m("x"),
                capabilities: "{}".into(),
            }),
            Event::MemberLeft(MemberLeft {
                revision: 4,
                group_id: g("a"),
                member_id: m("x"),
                reason: LeaveReason::Expired,
            }),
            Event::CapabilitiesUpdated(CapabilitiesUpdated {
                revision: 5,
                group_id: g("a"),
                member_id: m("x"),
                capabilities: Capabilities::none(),
            }),
            Event::LeaderElected(LeaderElected {
                revision: 6,
                group_id: g("a"),
                member_id: m("x"),
                term: 6,
            }),
            Event::LeaderLost(LeaderLost {
                revision: 7,
                group_id: g("a"),
                member_id: m("x"),
                term: 6,
                reason: LeadershipEnd::StoodDown,
            }),
            Event::LockAcquired(LockAcquired {
                revision: 8,
                lock: LockName::new("l").unwrap(),
                member_id: m("x"),
                mode: LockMode::Shared,
                token: 8,
            }),
            Event::LockReleased(LockReleased {
                revision: 9,
                lock: LockName::new("l").unwrap(),
                member_id: m("x"),
                mode: LockMode::Shared,
                token: 8,
                reason: LockReleaseReason::Expired,
            }),
        ]
    }

    fn every_error() -> Vec<CoordinationError> {
        use CoordinationError as E;
        vec![
            E::GroupNotCreated(g("a")),
            E::GroupAlreadyExist(g("a")),
            E::MemberAlreadyExist {
                group_id: g("a"),
                member_id: m("x"),
            },
            E::MemberNotJoined {
                group_id: g("a"),
                member_id: m("x"),
            },
            E::GroupNotEmpty(g("a")),
            E::WatchCallbackNotFound(g("a")),
            E::OperationTimedOut(Duration::from_millis(250)),
            E::NotImplemented("get-member-info".into()),
            E::MemberExpired {
                group_id: g("a"),
                member_id: m("x"),
            },
            E::SessionExpired {
                member_id: m("x"),
                lost_groups: vec![g("a"), g("b")],
                lost_candidacies: vec![g("b")],
            },
            E::NotStarted,
            E::AlreadyStarted,
            E::Connection("refused".into()),
            E::InvalidId {
                kind: IdKind::Member,
                value: "".into(),
                reason: "must not be empty".into(),
            },
            E::CapabilitiesTooLarge { size: 9, limit: 8 },
            E::InvalidUrl {
                url: "x://".into(),
                problem: UrlProblem::UnknownScheme {
                    scheme: "x".into(),
                    known: vec!["memory".into()],
                },
            },
            E::HistoryLost {
                requested: 1,
                oldest: 5,
            },
            E::NotPermitted("join-group".into()),
            E::LockNotHeld(LockName::new("l").unwrap()),
            E::InvalidId {
                kind: IdKind::Lock,
                value: "".into(),
                reason: "must not be empty".into(),
            },
        ]
    }

    #[test]
    fn every_event_round_trips_through_wit() {
        for event in every_event() {
            let wit = w::MembershipEvent::from(&event);
            assert_eq!(Event::try_from(wit).unwrap(), event);
        }
    }

    #[test]
    fn every_error_round_trips_through_wit() {
        for error in every_error() {
            let wit = w::CoordinationError::from(error.clone());
            assert_eq!(CoordinationError::try_from(wit).unwrap(), error);
        }
    }

    #[test]
    fn every_url_problem_round_trips_through_wit() {
        let problems = [
            UrlProblem::Malformed("m".into()),
            UrlProblem::UnknownScheme {
                scheme: "s".into(),
                known: vec!["memory".into()],
            },
            UrlProblem::UnknownOption {
                name: "n".into(),
                known: vec!["timeout".into()],
            },
            UrlProblem::InvalidOptionValue {
                name: "timeout".into(),
                value: "-1".into(),
                expected: "seconds".into(),
            },
            UrlProblem::DuplicateOption("timeout".into()),
            UrlProblem::UnexpectedComponent("port".into()),
            UrlProblem::ConflictingOption {
                name: "history".into(),
                in_force: "10".into(),
                asked: "20".into(),
            },
        ];
        for problem in problems {
            assert_eq!(
                UrlProblem::from(w::UrlProblem::from(problem.clone())),
                problem
            );
        }
    }

    #[test]
    fn records_round_trip_through_wit() {
        let info = MemberInfo {
            capabilities: "c".into(),
            joined_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            updated_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_456),
            revision: 42,
            expires_in: Duration::from_millis(29_250),
        };
        assert_eq!(MemberInfo::from(w::MemberInfo::from(&info)), info);
        let leader = Leader {
            member_id: m("x"),
            term: 9,
        };
        assert_eq!(Leader::try_from(w::Leader::from(&leader)).unwrap(), leader);
    }

    #[test]
    fn ids_from_a_guest_are_validated() {
        let bad = w::MembershipEvent::GroupCreated(w::GroupCreated {
            revision: 1,
            group_id: "tab\there".into(),
        });
        assert!(matches!(
            Event::try_from(bad),
            Err(CoordinationError::InvalidId {
                kind: IdKind::Group,
                ..
            })
        ));
    }
}
