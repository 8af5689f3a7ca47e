//! Sandboxed WebAssembly plugins.
//!
//! A [`PluginHost`] runs plugins in the process's one WebAssembly runtime (the crate's
//! `runtime` module: engine, epoch ticker, compiled-component cache, `logging`, which backend
//! drivers share); [`PluginHost::attach_handler`] runs a membership-event handler (world
//! `handler` in `wit/handler.wit`) against a coordinator's store. Plugins get nothing by
//! default: no files, network, environment or stdio, read-only coordinator calls, a memory
//! cap and a deadline per call. A plugin that traps, overruns or exhausts its memory loses
//! that call and is instantiated again; one that keeps failing is quarantined. Nothing a
//! plugin does can stop the host or delay another plugin.
//!
//! - `host`: the handler world's linkers, the cache choice ([`PluginHostOptions`]) and loading
//!   (the engine, epoch ticker, artifact cache, world checks and `logging` are the shared
//!   runtime's);
//! - `handler`: the per-handler task (delivery, faults, quarantine, resync, hot reload);
//! - `host_api`: what the handler's own imports do (coordinator, WASI);
//! - `limits`, `config`, `counters`: grants and limits, the TOML form, and the live counters
//!   behind the statistics (`roster_types::plugin_stats`).

mod config;
mod counters;
mod handler;
mod host;
mod host_api;
mod limits;

pub use crate::runtime::component::ComponentError;
pub use config::{GrantsConfig, HandlerConfig, LimitsConfig, PluginConfig, check_handlers};
pub use handler::{HandlerHandle, HandlerSpec, LoadInfo};
pub use host::{ComponentReport, PluginError, PluginHost, PluginHostOptions};
pub use host_api::CALL_TARGET;
pub use limits::{Grants, Limits};
pub use roster_types::plugin_stats::{
    FaultReason, PluginEvent, PluginEventKind, PluginState, PluginStats,
};
