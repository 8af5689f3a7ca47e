//! `roster plugin attach` and `roster plugin detach`: handlers managed on a running daemon.
//! The component is sent to the daemon (so it may run elsewhere); a granted directory is a
//! path on the daemon's machine. What is attached this way lasts until the daemon stops:
//! `attach` prints the `[[handlers]]` entry that attaches it at every start.

use std::path::Path;

use serde::Serialize;

use crate::handler_flags::HandlerFlags;
use roster::client::{Client, ClientError};
use roster::plugin::{HandlerConfig, PluginStats};

/// What `attach` reports.
#[derive(Serialize)]
struct Attached {
    name: String,
    replaced: bool,
    stats: PluginStats,
    /// The configuration entry that attaches it at every start.
    config: String,
}

/// Attach `file` as the flags say.
pub async fn attach(
    client: &Client,
    json: bool,
    file: &Path,
    flags: &HandlerFlags,
) -> Result<(), ClientError> {
    let usage = |message: String| ClientError::Refused {
        status: 400,
        code: "usage".to_owned(),
        message,
    };
    let config = flags.config(file).map_err(usage)?;
    let entry = &config.handlers[0];
    let component =
        std::fs::read(file).map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    let query = flags
        .query()
        .map_err(|e| usage(format!("the granted directory: {e}")))?;
    let (replaced, stats) = client
        .attach_plugin(&entry.name, &component, &query)
        .await?;
    let attached = Attached {
        name: entry.name.clone(),
        replaced,
        stats,
        config: toml_entry(entry, file),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&attached).unwrap_or_default()
        );
        return Ok(());
    }
    let verb = if attached.replaced {
        "replaced"
    } else {
        "attached"
    };
    let cached = if attached.stats.loaded_from_cache {
        " (from the cache)"
    } else {
        ""
    };
    println!(
        "plugin {} {verb}; loaded in {:.0} ms{cached}",
        attached.name,
        attached.stats.load_time.as_secs_f64() * 1e3,
    );
    println!(
        "it runs until the daemon stops; to attach it at every start, add to the daemon's \
         configuration:\n\n{}",
        attached.config
    );
    Ok(())
}

/// Detach the plugin `name`.
pub async fn detach(client: &Client, json: bool, name: &str) -> Result<(), ClientError> {
    client.detach_plugin(name).await?;
    if json {
        println!("{}", serde_json::json!({"name": name, "detached": true}));
    } else {
        println!("plugin {name} detached");
    }
    Ok(())
}

/// The `[[handlers]]` entry for `entry` (its component at `file`, made absolute).
fn toml_entry(entry: &HandlerConfig, file: &Path) -> String {
    let quote = |text: &str| serde_json::to_string(text).unwrap_or_default();
    let path = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
    let mut lines = vec![
        "[[handlers]]".to_owned(),
        format!("name = {}", quote(&entry.name)),
        format!("path = {}", quote(&path.display().to_string())),
    ];
    let list = |items: Vec<String>| {
        let quoted: Vec<String> = items.iter().map(|i| quote(i)).collect();
        format!("[{}]", quoted.join(", "))
    };
    if !entry.groups.is_empty() {
        lines.push(format!(
            "groups = {}",
            list(entry.groups.iter().map(ToString::to_string).collect())
        ));
    }
    if !entry.events.is_empty() {
        let kinds = entry
            .events
            .iter()
            .map(|k| {
                serde_json::to_value(k)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect();
        lines.push(format!("events = {}", list(kinds)));
    }
    let grants = &entry.grants;
    if grants.mutate || grants.directory.is_some() {
        lines.push(String::new());
        lines.push("[handlers.grants]".to_owned());
        if let Some(dir) = &grants.directory {
            let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            lines.push(format!("directory = {}", quote(&dir.display().to_string())));
        }
        if grants.mutate {
            lines.push("mutate = true".to_owned());
        }
    }
    let set = entry.limits.keys();
    if set.iter().any(|(_, v)| v.is_some()) {
        lines.push(String::new());
        lines.push("[handlers.limits]".to_owned());
        for (key, value) in set {
            if let Some(value) = value {
                lines.push(format!("{key} = {value}"));
            }
        }
    }
    lines.join("\n") + "\n"
}
