//! Live counters of one plugin, kept by its task and read by its handle: the source of the
//! [`PluginStats`] the host reports.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use crate::runtime::logging::LogSink;
use roster_types::plugin_stats::{PluginState, PluginStats};

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

/// A handler's log lines are counted (dropped ones) and kept (the latest) for its statistics
/// and [`HandlerHandle::logs`](super::HandlerHandle::logs).
impl LogSink for Counters {
    fn dropped(&self) {
        self.update(|s| s.logs_dropped += 1);
    }

    fn kept(&self, line: String) {
        self.record_log(line);
    }
}
