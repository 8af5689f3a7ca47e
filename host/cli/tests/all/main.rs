//! The `roster` binary and the daemon it runs, tested from outside: one test binary, a module
//! per concern.
//!
//! - `daemon`: `roster serve` as a separate process, driven through its API and command line;
//! - `daemon_backend`: the conformance suite on `roster://` (a store in another process);
//! - `exposure`: tokens and roles, group-prefix limits, TLS, the refusal to listen unprotected;
//! - `failover`: daemons on a shared store, and clients that ride out the loss of one;
//! - `hostile`: generated malformed and out-of-order requests;
//! - `locks`: `roster locks` and `roster lock NAME -- COMMAND`;
//! - `metrics`: `/metrics`, `/healthz` and `/readyz`;
//! - `openapi`: the OpenAPI document and the daemon, held together;
//! - `plugin_conformance`: `roster plugin conformance`, drivers certified from the command line;
//! - `plugin_new`: `roster plugin new` and `build`, in every language, then run and attach;
//! - `plugin_run`: `roster plugin run`, a handler run offline;
//! - `common`: starting a daemon process for a test.

mod common;
mod daemon;
mod daemon_backend;
mod exposure;
mod failover;
mod hostile;
mod locks;
mod metrics;
mod openapi;
mod plugin_conformance;
mod plugin_new;
mod plugin_run;
