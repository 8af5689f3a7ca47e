//! Sandboxed WebAssembly plugins.
//!
//! A [`PluginHost`] owns one wasmtime engine for every plugin; [`PluginHost::attach_handler`]
//! runs a membership-event handler (world `handler` in `wit/handler.wit`) against a
//! coordinator's store. Plugins get nothing by default: no files, network, environment or
//! stdio, read-only coordinator calls, a memory cap and a deadline per call. A plugin that
//! traps, overruns or exhausts its memory loses that call and is instantiated again; one that
//! keeps failing is quarantined. Nothing a plugin does can stop the host or delay another
//! plugin.
//!
//! - `runtime`: the engine, epoch ticker, linker, loading and the compiled-component cache;
//! - `component`: checking a file against its world before compiling it, and one-line
//!   messages for bad components and traps (shared with the driver runtime);
//! - `handler`: the per-handler task (delivery, faults, quarantine, resync, hot reload);
//! - `host_api`: what the plugin's imports do (coordinator, logging, WASI);
//! - `limits`, `config`, `counters`: grants and limits, the TOML form, and the live counters
//!   behind the statistics (`roster_types::plugin_stats`).

mod component;
mod config;
mod counters;
mod handler;
mod host_api;
mod limits;
mod runtime;

pub use component::ComponentError;
pub(crate) use component::{World, compile_error, describe_trap, link_error};
pub use config::{GrantsConfig, HandlerConfig, LimitsConfig, PluginConfig};
pub use handler::{HandlerHandle, HandlerSpec, LoadInfo};
pub use limits::{Grants, Limits};
pub use roster_types::plugin_stats::{
    FaultReason, PluginEvent, PluginEventKind, PluginState, PluginStats,
};
pub use runtime::{ComponentReport, PluginError, PluginHost, PluginHostOptions};
