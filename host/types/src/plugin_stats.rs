//! What the host reports about each plugin: counters, latency percentiles, recent log lines,
//! and the fault, restart and quarantine events the monitor shows.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// Where a plugin stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum PluginState {
    /// Receiving events.
    Running,
    /// Faulted too often: receives nothing until `until`, then is instantiated again.
    Quarantined {
        /// When the quarantine ends.
        until: SystemTime,
    },
    /// Detached from the coordinator; it will not run again.
    Stopped,
}

/// Why a plugin call failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum FaultReason {
    /// The plugin trapped: a panic, `unreachable`, an out-of-bounds access, a stack overflow,
    /// or memory it could not grow. Carries wasmtime's message, on one line, naming a likely
    /// stack overflow where wasmtime reports only an out-of-bounds access.
    Trap(String),
    /// The call ran past the plugin's deadline.
    Deadline(Duration),
}

impl std::fmt::Display for FaultReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Trap(message) => write!(f, "trap: {message}"),
            Self::Deadline(limit) => write!(f, "call ran past its {limit:?} deadline"),
        }
    }
}

/// Something that happened to a plugin, for operators (the monitor shows these).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginEvent {
    /// The plugin's name.
    pub plugin: String,
    /// When it happened.
    pub at: SystemTime,
    /// What happened.
    pub kind: PluginEventKind,
}

/// The kinds of [`PluginEvent`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum PluginEventKind {
    /// A call failed; the plugin's store was discarded.
    Fault {
        /// Why.
        reason: FaultReason,
        /// First and last revision of the events the call delivered (the same revision
        /// twice for a call with one event).
        revisions: (u64, u64),
    },
    /// The plugin was instantiated again after a fault.
    Restarted,
    /// An event faulted twice on its own (after the batch it came in faulted) and was
    /// skipped, so the plugin can go on; the other events of its batch were delivered.
    EventSkipped {
        /// The skipped event's revision.
        revision: u64,
    },
    /// The plugin faulted too often and is paused.
    Quarantined {
        /// How long.
        duration: Duration,
    },
    /// The plugin fell behind (or was attached) and was given a snapshot instead of events.
    Resynced {
        /// The snapshot's revision.
        revision: u64,
    },
    /// The plugin's file changed and the new version was swapped in.
    Reloaded,
    /// The plugin's file changed but the new version could not be loaded; the old one runs on.
    ReloadFailed {
        /// Why.
        error: String,
    },
    /// The plugin was detached.
    Stopped,
}

/// A plugin's counters, as reported by the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginStats {
    /// The plugin's name.
    pub name: String,
    /// Where it stands.
    pub state: PluginState,
    /// Events handed to the plugin and accepted.
    pub events_delivered: u64,
    /// Calls made (batches and resyncs).
    pub calls: u64,
    /// Calls the plugin answered with an error.
    pub errors: u64,
    /// Calls that trapped.
    pub traps: u64,
    /// Calls that ran past the deadline.
    pub deadline_overruns: u64,
    /// Times the plugin was instantiated again after a fault.
    pub restarts: u64,
    /// Events skipped because they faulted twice on their own.
    pub events_skipped: u64,
    /// Snapshots given instead of events.
    pub resyncs: u64,
    /// Events waiting for the plugin.
    pub queue_depth: u64,
    /// The revision up to which the plugin has handled the history.
    pub handled_through: u64,
    /// Median call time over the last 1 024 calls.
    pub call_p50: Duration,
    /// 99th-percentile call time over the last 1 024 calls.
    pub call_p99: Duration,
    /// Log lines dropped by the rate limit.
    pub logs_dropped: u64,
    /// Whether the running version's compiled code came from the compiled-component cache
    /// (rather than from compiling the file).
    pub loaded_from_cache: bool,
    /// How long the running version took to load: read, check, compile or fetch from the
    /// cache, link.
    pub load_time: Duration,
}
