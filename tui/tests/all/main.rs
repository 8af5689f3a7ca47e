//! The monitor's tests: one test binary, a module per concern.
//!
//! - `screens`: snapshots of every pane and overlay, and the styles that carry meaning;
//! - `scenarios`: scripted updates and keys, checked as the operator would see them;
//! - `remote`: the `--connect` source against a real daemon in this process;
//! - `headless`, `smoke`: the real binary, without a terminal and under a pseudo-terminal;
//! - `common`: a fixed clock and a small deterministic cluster.

mod common;
mod headless;
mod remote;
mod scenarios;
mod screens;
mod smoke;
