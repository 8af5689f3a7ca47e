//! Roster's end-to-end suite: one test binary, a module per backend or concern.
//!
//! - `memory`, `memory_real_time`, `redis`, `etcd`, `file`: the conformance suite
//!   ([`roster_tests::conformance`]) on each backend, plus what only that backend has;
//! - `handlers`: membership-event handlers as sandboxed Wasm components in every language;
//! - `driver_sandbox`: a backend driver reaches exactly what its URL grants;
//! - `driver_faults`: a driver's trap, deadline overrun and bad data are told apart;
//! - `multi_host`: members in separate processes sharing one store.
//!
//! The conformance suite on `roster://` runs with the `roster` binary's tests
//! (`host/cli/tests/all`), the only ones that can start that binary.

mod driver_faults;
mod driver_sandbox;
mod etcd;
mod file;
mod handlers;
mod memory;
mod memory_real_time;
mod multi_host;
mod redis;
