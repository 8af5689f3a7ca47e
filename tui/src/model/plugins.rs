//! Plugin health: the latest statistics of each plugin and its recent events (faults,
//! restarts, quarantines), newest last.

use std::collections::VecDeque;

use roster::plugin::{PluginEvent, PluginEventKind, PluginState, PluginStats};

/// Plugin events kept for the detail view.
const RECENT: usize = 64;

/// How healthy a plugin looks, for colour and sorting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// Running without a fault.
    Healthy,
    /// Running, but it has faulted or failed calls.
    Degraded,
    /// Quarantined or stopped.
    Down,
}

impl Health {
    /// Health of a plugin with these statistics.
    pub fn of(stats: &PluginStats) -> Self {
        match stats.state {
            PluginState::Quarantined { .. } | PluginState::Stopped => Self::Down,
            PluginState::Running if stats.traps + stats.deadline_overruns + stats.errors > 0 => {
                Self::Degraded
            }
            PluginState::Running => Self::Healthy,
        }
    }
}

/// The state of a plugin as a word.
pub fn state_name(state: &PluginState) -> &'static str {
    match state {
        PluginState::Running => "running",
        PluginState::Quarantined { .. } => "quarantined",
        PluginState::Stopped => "stopped",
    }
}

/// A plugin event in words.
pub fn describe(event: &PluginEventKind) -> String {
    match event {
        PluginEventKind::Fault { reason, revisions } => {
            format!("fault at {}..{}: {reason}", revisions.0, revisions.1)
        }
        PluginEventKind::Restarted => "restarted".to_owned(),
        PluginEventKind::EventSkipped { revision } => format!("skipped {revision}"),
        PluginEventKind::Quarantined { duration } => format!("quarantined for {duration:?}"),
        PluginEventKind::Resynced { revision } => format!("resynced at {revision}"),
        PluginEventKind::Reloaded => "reloaded".to_owned(),
        PluginEventKind::ReloadFailed { error } => format!("reload failed: {error}"),
        PluginEventKind::Stopped => "stopped".to_owned(),
    }
}

/// Every plugin's statistics and recent events.
#[derive(Clone, Debug, Default)]
pub struct Plugins {
    /// Latest statistics, in the order the source reports them.
    pub stats: Vec<PluginStats>,
    /// Recent plugin events, oldest first.
    pub recent: VecDeque<PluginEvent>,
}

impl Plugins {
    /// Record a plugin event.
    pub fn push_event(&mut self, event: PluginEvent) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(event);
    }

    /// The newest event of plugin `name`.
    pub fn last_event(&self, name: &str) -> Option<&PluginEvent> {
        self.recent.iter().rev().find(|e| e.plugin == name)
    }
}
