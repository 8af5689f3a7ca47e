//! Roster's vocabulary, shared by every other crate: what the host, its client, its server and
//! its plugins say to each other.
//!
//! [`ids`] validates group and member ids and capabilities; [`error`] names every failure a
//! coordination call can have (tooz's exceptions, made exact); [`event`] is the change
//! vocabulary with revisions and fencing terms; [`members`] holds the value types calls answer
//! with; [`api`] the network API's JSON bodies and headers, and [`plugin_stats`] what the host
//! reports about each plugin.
//!
//! No runtime lives here: no tokio, no wasmtime, no HTTP. A program that only speaks to a
//! daemon (`roster-client`) compiles this and nothing heavier.

pub mod api;
pub mod error;
pub mod event;
pub mod ids;
pub mod members;
pub mod plugin_stats;

pub use error::{CoordinationError, IdKind, Result, UrlProblem};
pub use event::{
    CapabilitiesUpdated, Event, EventKind, FencingToken, GroupCreated, GroupDeleted, LeaderElected,
    LeaderLost, LeadershipEnd, LeaveReason, LockAcquired, LockMode, LockReleaseReason,
    LockReleased, MemberJoined, MemberLeft, Revision, Term,
};
pub use ids::{Capabilities, GroupId, GroupName, LockName, MemberId};
pub use members::{
    GroupSummary, GroupWithMembers, Leader, LockAttempt, LockHolder, LockInfo, LockStanding,
    LockWaiter, MemberInfo,
};
