//! The fault soak: host processes doing a random, seeded workload on one store while faults
//! are injected at random (kills, pauses, network partitions, server restarts), each host
//! recording what it did and read ([`record`]), and a checker that judges the whole history
//! against Roster's promises ([`check`]). [`run`] puts them together; `cargo bench -p
//! roster-tests --bench soak` runs one.

pub mod check;
pub mod host;
pub mod network;
pub mod record;
pub mod run;
