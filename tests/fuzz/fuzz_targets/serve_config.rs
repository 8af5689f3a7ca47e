//! The daemon's TOML configuration (`roster serve --config`) and a plugin configuration:
//! any text is read or refused with a message, never a panic, and what is read yields its
//! backend URL (or a refusal) and its handlers' specifications.
#![no_main]

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use roster::plugin::PluginConfig;
use roster_server::ServeConfig;

fuzz_target!(|text: &str| {
    if let Ok(config) = ServeConfig::from_toml(text, PathBuf::from("/etc/roster")) {
        let _ = config.backend_url();
        let _ = config.plugin_host_options();
        let plugins = PluginConfig {
            handlers: config.handlers,
        };
        let _ = plugins.handler_specs(Path::new("/etc/roster"));
    }
    if let Ok(plugins) = PluginConfig::from_toml(text) {
        let _ = plugins.handler_specs(Path::new("/etc/roster"));
    }
});
