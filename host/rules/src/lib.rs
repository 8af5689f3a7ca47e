//! Roster's membership rules, stated once: groups, their members and candidates, the sessions
//! that own them, expiry and its notices, leader election, named locks, and the event each
//! change commits with the next revision.
//!
//! Every backend that keeps the state itself applies these rules: the embedded engine
//! (`roster`'s `engine`, which adds locking, change notification and a reaper) and the file
//! driver (which adds file I/O, locking across processes and a change log). Drivers whose
//! store needs its own code for atomicity (etcd's transactions, Redis's Lua scripts) name,
//! at each step, the function here that they implement.
//!
//! The crate is pure and synchronous: no runtime, no clock. Time comes in as an argument
//! ([`Now`]), so the rules are tested without a clock and run on tokio's paused clock as on a
//! wall clock shared by several processes. The whole [`State`] serializes, for a store that
//! keeps it in a file.
//!
//! Each mutating method checks its preconditions first and changes nothing when one fails (a
//! failed join never touches the existing member, R8), then commits one event per change;
//! [`State::take_events`] hands the committed events to whoever records the history.

mod election;
mod group;
mod groups;
mod locks;
mod membership;
mod seq;
mod session;
mod state;
mod time;

#[cfg(test)]
mod tests;

pub use state::{GroupWithMembers, SessionKey, State};
pub use time::Now;
