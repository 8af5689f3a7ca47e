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
//! Layout: the vocabulary ([`ids`], [`error`], [`event`], the value types and the network
//! API's bodies in [`api`]) comes from `roster-types`, re-exported here; `engine` holds group
//! state, history and liveness; `coordinator` is the tooz API on top; `runtime` is the one
//! WebAssembly runtime (engine, epoch ticker, compiled-component cache, `logging`) that
//! [`plugin`] (sandboxed Wasm event handlers) and the backend drivers share; [`driver`] is the
//! contract of a store outside the process (`roster://` and Wasm drivers implement it);
//! [`wit`] ties the Rust types to the WIT contract in `wit/`; [`client`] (`roster-client`) is
//! the client of the daemon, which is `roster-server`.

pub use roster_client as client;
pub use roster_types::{api, error, event, ids};

pub mod backend_url;
mod coordinator;
pub mod driver;
mod engine;
pub mod plugin;
mod runtime;
pub mod wit;

pub use coordinator::{
    Coordinator, Heartbeat, HeartbeatStatus, Operation, OperationFuture, WatchId, get_coordinator,
};
pub use driver::wasm::check_driver;
pub use engine::stream::EventStream;
pub use roster_types::{
    Capabilities, CapabilitiesUpdated, CoordinationError, Event, EventKind, GroupCreated,
    GroupDeleted, GroupId, GroupSummary, IdKind, Leader, LeaderElected, LeaderLost, LeadershipEnd,
    LeaveReason, MemberId, MemberInfo, MemberJoined, MemberLeft, Result, Revision, Term,
    UrlProblem,
};
