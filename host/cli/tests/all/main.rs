//! The `roster` binary and the daemon it runs, tested from outside: one test binary, a module
//! per concern.
//!
//! - `daemon`: `roster serve` as a separate process, driven through its API and command line;
//! - `daemon_backend`: the conformance suite on `roster://` (a store in another process);
//! - `failover`: daemons on a shared store, and clients that ride out the loss of one;
//! - `hostile`: generated malformed and out-of-order requests;
//! - `openapi`: the OpenAPI document and the daemon, held together;
//! - `common`: starting a daemon process for a test.

mod common;
mod daemon;
mod daemon_backend;
mod failover;
mod hostile;
mod openapi;
