//! The flags that say how a handler is attached (`roster plugin run` and `roster plugin
//! attach`): the keys of a `[[handlers]]` entry of the daemon's configuration, checked by the
//! same rules.

use std::path::{Path, PathBuf};

use clap::Args;

use roster::event::EventKind;
use roster::ids::GroupId;
use roster::plugin::{GrantsConfig, HandlerConfig, LimitsConfig, PluginConfig};

/// How a handler is attached: its name, which events it gets, its grants and limits. The same
/// keys as a `[[handlers]]` entry of the daemon's configuration, checked by the same rules.
#[derive(Debug, Args)]
pub struct HandlerFlags {
    /// The handler's name in logs and statistics (default: the file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// Only this group's events (repeat for several; every group by default).
    #[arg(long = "group", value_name = "GROUP", value_parser = group_id)]
    pub groups: Vec<GroupId>,
    /// Only events of this kind, e.g. member-joined (repeat for several; every kind by default).
    #[arg(long = "event", value_name = "KIND", value_parser = event_kind)]
    pub kinds: Vec<EventKind>,
    /// Grant the changing coordinator calls (join, leave, create groups, locks, ...).
    #[arg(long)]
    pub mutate: bool,
    /// Grant this directory, seen by the plugin as /data.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Largest linear memory in MiB (default 32).
    #[arg(long, value_name = "MIB")]
    pub memory_mib: Option<usize>,
    /// Longest a call may run, in milliseconds (default 250).
    #[arg(long, value_name = "MS")]
    pub deadline_ms: Option<u64>,
    /// Events the plugin may fall behind before it is resynced (default 10 000).
    #[arg(long, value_name = "N")]
    pub queue_events: Option<usize>,
    /// Most events per call (default 1 024).
    #[arg(long, value_name = "N")]
    pub batch_events: Option<usize>,
    /// Most log lines per second (default 100).
    #[arg(long, value_name = "N")]
    pub log_lines_per_second: Option<u32>,
}

/// The flag of a `[[handlers]]` key.
fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

fn group_id(text: &str) -> Result<GroupId, String> {
    GroupId::new(text).map_err(|e| e.to_string())
}

fn event_kind(text: &str) -> Result<EventKind, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("not an event kind: {text} (e.g. member-joined, leader-elected)"))
}

impl HandlerFlags {
    /// The configuration entry these flags make for `file`, checked as the daemon checks its
    /// own.
    pub fn config(&self, file: &Path) -> Result<PluginConfig, String> {
        let name = self.name.clone().unwrap_or_else(|| {
            file.file_stem()
                .map_or_else(|| "plugin".to_owned(), |s| s.to_string_lossy().into_owned())
        });
        let entry = HandlerConfig {
            name,
            path: file.to_owned(),
            groups: self.groups.clone(),
            events: self.kinds.clone(),
            hot_reload: false,
            grants: GrantsConfig {
                directory: self.dir.clone(),
                mutate: self.mutate,
            },
            limits: self.limits(),
        };
        roster::plugin::check_handlers(std::slice::from_ref(&entry)).map_err(|e| {
            // Said as the flag the limit was given by.
            let mut message = e.to_string();
            for (key, _) in entry.limits.keys() {
                message = message.replace(&format!("limits.{key}"), &flag(key));
            }
            message
        })?;
        Ok(PluginConfig {
            handlers: vec![entry],
        })
    }

    /// The limits given.
    fn limits(&self) -> LimitsConfig {
        LimitsConfig {
            memory_mib: self.memory_mib,
            deadline_ms: self.deadline_ms,
            queue_events: self.queue_events,
            batch_events: self.batch_events,
            log_lines_per_second: self.log_lines_per_second,
        }
    }

    /// The flags as the daemon's attach call takes them (`[[handlers]]` keys as query
    /// parameters), with a granted directory made absolute.
    pub fn query(&self) -> std::io::Result<Vec<(&'static str, String)>> {
        let mut query = Vec::new();
        for group in &self.groups {
            query.push(("group", group.to_string()));
        }
        for kind in &self.kinds {
            let kind = serde_json::to_value(kind).unwrap_or_default();
            query.push(("event", kind.as_str().unwrap_or_default().to_owned()));
        }
        if self.mutate {
            query.push(("mutate", "true".to_owned()));
        }
        if let Some(dir) = &self.dir {
            query.push(("directory", std::path::absolute(dir)?.display().to_string()));
        }
        for (key, value) in self.limits().keys() {
            if let Some(value) = value {
                query.push((key, value.to_string()));
            }
        }
        Ok(query)
    }
}
