//! Plugins from a TOML file, for `roster serve` and the monitor's demo.
//!
//! ```toml
//! [[handlers]]
//! name = "audit"
//! path = "audit.wasm"                      # relative to the configuration file
//! groups = ["workers"]                     # omit for every group
//! events = ["member-joined", "member-left"] # omit for every kind
//! hot_reload = true
//!
//! [handlers.grants]
//! directory = "audit-trail"                # seen by the plugin as /data
//! mutate = false
//!
//! [handlers.limits]
//! memory_mib = 32
//! deadline_ms = 250
//! ```
//!
//! Unknown keys are errors, so a misspelt grant is never silently ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::handler::HandlerSpec;
use super::host::PluginError;
use super::limits::{Grants, Limits};
use roster_types::event::EventKind;
use roster_types::ids::GroupId;

/// The plugin section of a configuration file.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// Event handlers to attach.
    #[serde(default)]
    pub handlers: Vec<HandlerConfig>,
}

/// One `[[handlers]]` entry.
/// Serialized (as `roster plugin attach` prints it), absent and default values are left out.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HandlerConfig {
    /// Name in logs, events and statistics.
    pub name: String,
    /// The component file, relative to the configuration file.
    pub path: PathBuf,
    /// Groups to receive events of; every group when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupId>,
    /// Event kinds to receive; every kind when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventKind>,
    /// Swap in new versions of the file as it changes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hot_reload: bool,
    /// Grants beyond the sandbox.
    #[serde(default, skip_serializing_if = "is_default")]
    pub grants: GrantsConfig,
    /// Limits, where the defaults do not suit.
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: LimitsConfig,
}

/// `[handlers.grants]`.
#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrantsConfig {
    /// A directory the plugin may read and write, relative to the configuration file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<PathBuf>,
    /// Whether mutating coordinator calls are allowed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mutate: bool,
}

/// `[handlers.limits]`; each absent key keeps its default.
#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest linear memory in MiB (default 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<usize>,
    /// Per-call deadline in milliseconds (default 250).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// Events the plugin may fall behind before a resync (default 10 000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_events: Option<usize>,
    /// Events per call (default 1 024).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_events: Option<usize>,
    /// Log lines per second (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_lines_per_second: Option<u32>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl LimitsConfig {
    /// Each limit by its key, with its value when given: how the command line and the
    /// daemon's attach call name them too.
    pub fn keys(&self) -> [(&'static str, Option<u64>); 5] {
        [
            ("memory_mib", self.memory_mib.map(|v| v as u64)),
            ("deadline_ms", self.deadline_ms),
            ("queue_events", self.queue_events.map(|v| v as u64)),
            ("batch_events", self.batch_events.map(|v| v as u64)),
            (
                "log_lines_per_second",
                self.log_lines_per_second.map(u64::from),
            ),
        ]
    }
}

/// Check what TOML alone does not: every limit a handler names is above zero. The daemon's
/// configuration, which holds `[[handlers]]` entries too, checks them with this.
///
/// # Errors
/// [`PluginError::Config`] naming the handler and the limit.
pub fn check_handlers(handlers: &[HandlerConfig]) -> Result<(), PluginError> {
    for handler in handlers {
        // Every limit but the log rate, which may be 0 (no log lines).
        let positive = handler.limits.keys();
        let positive = positive
            .iter()
            .filter(|(key, _)| *key != "log_lines_per_second");
        if let Some((key, _)) = positive.clone().find(|(_, v)| *v == Some(0)) {
            return Err(PluginError::Config(format!(
                "handler {:?}: limits.{key} must be above 0",
                handler.name
            )));
        }
    }
    Ok(())
}

impl PluginConfig {
    /// Parse a configuration file's text.
    ///
    /// # Errors
    /// [`PluginError::Config`] naming the problem (TOML syntax, unknown key, bad value).
    pub fn from_toml(text: &str) -> Result<Self, PluginError> {
        let config: Self = toml::from_str(text).map_err(|e| PluginError::Config(e.to_string()))?;
        check_handlers(&config.handlers)?;
        Ok(config)
    }

    /// Handler specifications, with paths resolved against `base` (the configuration file's
    /// directory).
    pub fn handler_specs(&self, base: &Path) -> Vec<HandlerSpec> {
        self.handlers
            .iter()
            .map(|h| {
                let defaults = Limits::default();
                HandlerSpec {
                    name: h.name.clone(),
                    path: base.join(&h.path),
                    groups: h.groups.clone(),
                    kinds: h.events.clone(),
                    grants: Grants {
                        directory: h.grants.directory.as_ref().map(|d| base.join(d)),
                        mutate: h.grants.mutate,
                    },
                    limits: Limits {
                        memory_bytes: h
                            .limits
                            .memory_mib
                            .map_or(defaults.memory_bytes, |m| m << 20),
                        call_deadline: h
                            .limits
                            .deadline_ms
                            .map_or(defaults.call_deadline, Duration::from_millis),
                        queue_events: h.limits.queue_events.unwrap_or(defaults.queue_events),
                        batch_events: h.limits.batch_events.unwrap_or(defaults.batch_events),
                        log_lines_per_second: h
                            .limits
                            .log_lines_per_second
                            .unwrap_or(defaults.log_lines_per_second),
                        ..defaults
                    },
                    hot_reload: h.hot_reload,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_handler_entry_is_read_with_paths_resolved() {
        let config = PluginConfig::from_toml(
            r#"
            [[handlers]]
            name = "audit"
            path = "audit.wasm"
            groups = ["workers"]
            events = ["member-joined", "member-left"]
            hot_reload = true
            [handlers.grants]
            directory = "trail"
            mutate = true
            [handlers.limits]
            memory_mib = 8
            deadline_ms = 100
            "#,
        )
        .unwrap();
        let spec = &config.handler_specs(Path::new("/etc/roster"))[0];
        assert_eq!(spec.path, Path::new("/etc/roster/audit.wasm"));
        assert_eq!(spec.groups, [GroupId::new("workers").unwrap()]);
        assert_eq!(spec.kinds, [EventKind::MemberJoined, EventKind::MemberLeft]);
        assert_eq!(
            spec.grants.directory.as_deref(),
            Some(Path::new("/etc/roster/trail"))
        );
        assert!(spec.grants.mutate && spec.hot_reload);
        assert_eq!(spec.limits.memory_bytes, 8 << 20);
        assert_eq!(spec.limits.call_deadline, Duration::from_millis(100));
        assert_eq!(spec.limits.batch_events, Limits::default().batch_events);
    }

    #[test]
    fn minimal_entry_gets_no_grants_and_default_limits() {
        let config =
            PluginConfig::from_toml("[[handlers]]\nname = \"log\"\npath = \"log.wasm\"\n").unwrap();
        let spec = &config.handler_specs(Path::new("."))[0];
        assert_eq!(spec.grants, Grants::default());
        assert_eq!(spec.limits, Limits::default());
        assert!(spec.groups.is_empty() && spec.kinds.is_empty());
    }

    #[test]
    fn misspelt_keys_and_bad_values_are_errors() {
        for (text, needle) in [
            (
                "[[handlers]]\nname = \"x\"\npath = \"x.wasm\"\n[handlers.grants]\nmutatee = true\n",
                "mutatee",
            ),
            (
                "[[handlers]]\nname = \"x\"\npath = \"x.wasm\"\nevents = [\"member-joint\"]\n",
                "member-joint",
            ),
            (
                "[[handlers]]\nname = \"x\"\npath = \"x.wasm\"\ngroups = [\"\"]\n",
                "empty",
            ),
            (
                "[[handlers]]\nname = \"x\"\npath = \"x.wasm\"\n[handlers.limits]\ndeadline_ms = 0\n",
                "deadline_ms",
            ),
            ("[[handlers]]\nname = \"x\"\n", "path"),
        ] {
            let err = PluginConfig::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
