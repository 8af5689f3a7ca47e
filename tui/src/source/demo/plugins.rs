//! The demo's example handlers: `log-events` and `tally` behave; `misbehave` traps on every
//! event of the `trap` group, so the plugins pane has faults, restarts and quarantines to show.
//!
//! They are attached from a background task, so the monitor draws at once even when the
//! components are compiled for the first time; a component that is missing or fails to load
//! becomes a notice on screen instead of an error.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use roster::Coordinator;
use roster::plugin::{HandlerHandle, HandlerSpec, PluginHost};

/// The handlers, by name; each is `<name>.wasm` in the plugin directory.
pub const HANDLERS: [&str; 3] = ["log-events", "tally", "misbehave"];

/// Attach every handler of `dir` to `monitor`'s store, one after the other, adding each
/// handle to `handles` as soon as it runs and each failure to `notices`.
pub fn attach_in_background(
    monitor: Coordinator,
    host: PluginHost,
    dir: Option<PathBuf>,
    handles: Arc<Mutex<Vec<HandlerHandle>>>,
    notices: Arc<Mutex<Vec<String>>>,
) {
    let notice = move |text: String| {
        tracing::warn!("{text}");
        notices.lock().unwrap_or_else(|p| p.into_inner()).push(text);
    };
    tokio::spawn(async move {
        let Some(dir) = dir else {
            notice("demo plugins were not built; the plugins pane stays empty".into());
            return;
        };
        for name in HANDLERS {
            let path = dir.join(format!("{name}.wasm"));
            match host
                .attach_handler(&monitor, HandlerSpec::new(name, &path))
                .await
            {
                Ok(handle) => {
                    tracing::info!(name, cached = handle.load.cached, took = ?handle.load.took, "plugin attached");
                    handles
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(handle);
                }
                Err(e) => notice(format!("plugin {name}: {e}")),
            }
        }
    });
}
