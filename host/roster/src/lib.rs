//! Roster: group membership and leader election with the API of OpenStack's tooz, on a host
//! that runs backend drivers and event handlers as sandboxed WebAssembly components.
//!
//! This crate is the host library. [`get_coordinator`] picks a backend by URL (the embedded
//! `memory://` store, alias `zake://`) and returns a [`Coordinator`] for one member:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), roster::CoordinationError> {
//! use roster::{Capabilities, Heartbeat, get_coordinator};
//!
//! let coordinator = get_coordinator("memory://docs", "host-1")?;
//! coordinator.start().await?;
//! coordinator.create_group("workers").await?;
//! coordinator.join_group_with("workers", Capabilities::json(&[1, 2]).unwrap()).await?;
//! assert_eq!(coordinator.get_members("workers").await?, ["host-1"]);
//! coordinator.stop().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Where tooz is ambiguous or weak, Roster decides (R1-R12 in the README): every change has a
//! revision and watchers see every change in order; errors are the same on every backend;
//! leadership has a fencing term; an expired member is told so; `stop` leaves at once.
//!
//! Layout: this crate is the facade. It wires the backends together ([`get_coordinator`]
//! picks the store a URL names and the driver it needs) and re-exports the public API of the
//! crates below it, so a program depends on `roster` alone:
//! - `roster-types`: the vocabulary ([`ids`], [`error`], [`event`], the value types and the
//!   network API's bodies in [`api`]);
//! - `roster-core`: the engine (group state, history, liveness), the [`Coordinator`],
//!   [`backend_url`] and the [`driver`] contract;
//! - `roster-wasm`: the one WebAssembly runtime, running [`plugin`]s (sandboxed event
//!   handlers) and driver components, and [`wit`], which ties the Rust types to `wit/`;
//! - `roster-client` ([`client`]): the client of the daemon, which is `roster-server`.
//!   The `roster://` driver ([`driver::daemon`]) is written here on top of it.

pub use roster_client as client;
pub use roster_types::{api, error, event, ids};

pub use roster_core::backend_url;
pub use roster_wasm::{plugin, wit};

mod connect;
pub mod driver;
pub mod offline;

pub use connect::get_coordinator;
pub use roster_core::{
    Blocking, Coordinator, EventStream, GroupState, Heartbeat, HeartbeatStatus, Lock, Operation,
    OperationFuture, StoreState, WatchId,
};
pub use roster_types::{
    Capabilities, CapabilitiesUpdated, CoordinationError, Event, EventKind, FencingToken,
    GroupCreated, GroupDeleted, GroupId, GroupSummary, IdKind, Leader, LeaderElected, LeaderLost,
    LeadershipEnd, LeaveReason, LockAcquired, LockAttempt, LockHolder, LockInfo, LockMode,
    LockName, LockReleaseReason, LockReleased, LockStanding, LockWaiter, MemberId, MemberInfo,
    MemberJoined, MemberLeft, Result, Revision, Term, UrlProblem,
};
pub use roster_wasm::check_driver;
