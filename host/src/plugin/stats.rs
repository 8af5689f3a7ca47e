//! What the host reports about each plugin: counters, latency percentiles, recent log lines,
//! and the fault, restart and quarantine events the monitor shows.

use std::collections::VecDeque;
use std::sync::Mutex;
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

const LATENCY_WINDOW: usize = 1_024;
const LOG_LINES_KEPT: usize = 200;

/// Live counters of one plugin, shared between its task and its handle.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) inner: Mutex<CountersInner>,
    /// [`PluginStats::handled_through`], for those waiting for it to reach a revision.
    handled: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug)]
pub(crate) struct CountersInner {
    pub(crate) stats: PluginStats,
    latencies: VecDeque<Duration>,
    logs: VecDeque<String>,
}

impl Counters {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            inner: Mutex::new(CountersInner {
                stats: PluginStats {
                    name: name.to_owned(),
                    state: PluginState::Running,
                    events_delivered: 0,
                    calls: 0,
                    errors: 0,
                    traps: 0,
                    deadline_overruns: 0,
                    restarts: 0,
                    events_skipped: 0,
                    resyncs: 0,
                    queue_depth: 0,
                    handled_through: 0,
                    call_p50: Duration::ZERO,
                    call_p99: Duration::ZERO,
                    logs_dropped: 0,
                    loaded_from_cache: false,
                    load_time: Duration::ZERO,
                },
                latencies: VecDeque::with_capacity(LATENCY_WINDOW),
                logs: VecDeque::with_capacity(LOG_LINES_KEPT),
            }),
            handled: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Record that the plugin has handled everything through `revision`.
    pub(crate) fn handled_through(&self, revision: u64) {
        self.update(|s| s.handled_through = revision);
        self.handled.send_replace(revision);
    }

    /// Wait until the plugin has handled everything through `revision`.
    pub(crate) async fn wait_handled(&self, revision: u64) {
        let mut handled = self.handled.subscribe();
        // The sender lives as long as `self`, so this cannot fail while borrowed.
        let _ = handled.wait_for(|through| *through >= revision).await;
    }

    pub(crate) fn update<T>(&self, f: impl FnOnce(&mut PluginStats) -> T) -> T {
        f(&mut self.lock().stats)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CountersInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn record_call(&self, took: Duration) {
        let mut inner = self.lock();
        inner.stats.calls += 1;
        if inner.latencies.len() == LATENCY_WINDOW {
            inner.latencies.pop_front();
        }
        inner.latencies.push_back(took);
    }

    pub(crate) fn record_log(&self, line: String) {
        let mut inner = self.lock();
        if inner.logs.len() == LOG_LINES_KEPT {
            inner.logs.pop_front();
        }
        inner.logs.push_back(line);
    }

    pub(crate) fn snapshot(&self) -> PluginStats {
        let inner = self.lock();
        let mut stats = inner.stats.clone();
        let mut sorted: Vec<Duration> = inner.latencies.iter().copied().collect();
        sorted.sort_unstable();
        let at = |q: f64| {
            sorted
                .get(((sorted.len().saturating_sub(1)) as f64 * q).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        stats.call_p50 = at(0.5);
        stats.call_p99 = at(0.99);
        stats
    }

    pub(crate) fn logs(&self) -> Vec<String> {
        self.lock().logs.iter().cloned().collect()
    }
}
