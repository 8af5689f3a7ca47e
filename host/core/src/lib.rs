//! Roster's core: the group state, its history and the members' liveness (the engine), the
//! coordinator that gives one member tooz's API on top of it, backend URLs, and the contract
//! of a store outside the process (the [`driver::Driver`] trait).
//!
//! It knows no particular store outside the process: the `roster` facade picks a driver
//! for a URL (a Wasm component from `roster-wasm`, or the daemon's client) and hands it to
//! [`Coordinator::on_driver_store`]. So the rules of membership and the route of a call can
//! be read here without the Wasm runtime or the network, and this crate compiles neither.
//!
//! Layout: `engine` holds the state (the rules of `roster-rules` for the embedded store, or
//! a mirror of a driver's store) with its history and wakes readers; `coordinator` is the
//! API, with one backend seam between the embedded store and a driver's; [`driver`] is the
//! contract and the mirror that follows a driver's changes.

pub mod backend_url;
mod coordinator;
pub mod driver;
mod engine;

pub use coordinator::{
    Blocking, Coordinator, GroupState, Heartbeat, HeartbeatStatus, Lock, Operation,
    OperationFuture, StoreState, WatchId,
};
pub use engine::stream::EventStream;
