//! The one WebAssembly runtime that every guest component runs in: membership-event handlers
//! ([`crate::plugin`]) and backend drivers ([`crate::driver`]).
//!
//! Handlers and drivers differ in their world (what they export and what the host gives them)
//! and in what a fault costs, but not in how a component is run: both are checked before they
//! are compiled, sandboxed with a memory cap and a deadline per call, interrupted at every
//! epoch tick, and log through the same import. So that is written once, here, and both sides
//! use it; what is left in `plugin/` and `driver/` is only what their world needs.
//!
//! - `engine`: the process's wasmtime engine (one configuration for both worlds), the one
//!   thread that advances its epoch, and how a store is set up to yield at every tick. One
//!   engine also means one compatibility hash, so the cache below serves both worlds.
//! - `cache`: loading a component: checked against its world before compiling, compiled or
//!   read from the on-disk cache of compiled artifacts, checked again, linked, and only then
//!   cached, so the cache never holds a refused file.
//! - `component`: the world checks that need no compiling, and one-line messages for bad
//!   components and for traps.
//! - `logging`: the `logging` import (`wit/coordination.wit`), one implementation for both
//!   worlds, linked into each world's linker with the shared `types` interface.

pub(crate) mod cache;
pub(crate) mod component;
pub(crate) mod engine;
pub(crate) mod logging;

pub(crate) use cache::ArtifactCache;
pub(crate) use engine::{EngineError, engine, new_store};
