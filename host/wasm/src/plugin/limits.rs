//! What a plugin may do and how much it may use.
//!
//! Everything is denied unless granted: no filesystem, network, environment or inherited
//! stdio, and only read calls to the coordinator. Limits keep a runaway plugin from taking the
//! host with it: memory, a deadline per call, the bytes copied across host calls, resource
//! table entries, and log lines per second.

use std::path::PathBuf;
use std::time::Duration;

/// What a plugin is allowed beyond the sandbox's defaults. Nothing by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// A host directory the plugin may read and write, seen inside the plugin as
    /// [`Grants::GUEST_DIRECTORY`].
    pub directory: Option<PathBuf>,
    /// Whether the plugin may call mutating coordinator functions (create and delete groups,
    /// join, leave, update capabilities, stand down). Read calls are always allowed.
    pub mutate: bool,
}

impl Grants {
    /// Where a granted directory appears inside the plugin.
    pub const GUEST_DIRECTORY: &'static str = "/data";
}

/// Resource limits of one plugin. The defaults suit an event handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory, in bytes (default 32 MiB).
    pub memory_bytes: usize,
    /// Longest a single call may run (default 250 ms).
    pub call_deadline: Duration,
    /// Most bytes copied between host and plugin in one call (default 16 MiB).
    pub hostcall_bytes: usize,
    /// Most entries in the plugin's resource table (default 1 000).
    pub table_entries: usize,
    /// Most log lines per second; further lines in that second are counted and dropped
    /// (default 100).
    pub log_lines_per_second: u32,
    /// Longest log line kept, in bytes; longer lines are cut (default 4 KiB).
    pub log_line_bytes: usize,
    /// Most events the plugin may fall behind before it is told to resync from a snapshot
    /// instead (default 10 000).
    pub queue_events: usize,
    /// Most events handed over in one call (default 1 024).
    pub batch_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 32 << 20,
            call_deadline: Duration::from_millis(250),
            hostcall_bytes: 16 << 20,
            table_entries: 1_000,
            log_lines_per_second: 100,
            log_line_bytes: 4 << 10,
            queue_events: 10_000,
            batch_events: 1_024,
        }
    }
}
