//! `roster plugin attach` and `roster plugin detach`: handlers managed on a running daemon.
//! The component is sent to the daemon (so it may run elsewhere); a granted directory is a
//! path on the daemon's machine. What is attached this way lasts until the daemon stops:
//! `attach` prints the `[[handlers]]` entry that attaches it at every start.

use std::path::Path;

use serde::Serialize;

use crate::handler_flags::HandlerFlags;
use roster::client::{Client, ClientError};
use roster::plugin::{HandlerConfig, PluginConfig, PluginStats};

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
    let mut config = flags.config(file).map_err(usage)?;
    let entry = config.handlers.remove(0);
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

/// The `[[handlers]]` entry for `entry`, its paths made absolute.
fn toml_entry(mut entry: HandlerConfig, file: &Path) -> String {
    fn absolute(path: &Path) -> std::path::PathBuf {
        std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
    }
    entry.path = absolute(file);
    entry.grants.directory = entry.grants.directory.as_deref().map(absolute);
    let config = PluginConfig {
        handlers: vec![entry],
    };
    toml::to_string(&config).unwrap_or_default()
}
