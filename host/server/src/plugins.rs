//! Handler plugins managed while the daemon runs: `GET /v1/plugins` lists them,
//! `PUT /v1/plugins/{name}` attaches a component sent as the request body (or replaces the
//! plugin of that name), `DELETE /v1/plugins/{name}` detaches one.
//!
//! An attach names the same things as a `[[handlers]]` entry of the configuration, as query
//! parameters (`group` and `event` repeated, `mutate`, `directory`, and the limits by their
//! keys), checked by the same rules. Each plugin reads the store's history from its own
//! position, so attaching, replacing or detaching one neither delays nor repeats events for
//! the others; a replacement starts from a snapshot of the groups it watches. What is attached
//! at run time lasts until the daemon stops: a restart attaches what the configuration names
//! (and `roster plugin attach` prints the entry that keeps it).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;

use super::Daemon;
use super::error::ApiError;
use roster::plugin::{GrantsConfig, HandlerConfig, LimitsConfig, PluginConfig, PluginError};
use roster_types::ids::GroupId;
use roster_types::plugin_stats::PluginStats;

/// Largest component accepted (interpreted guests, CPython or SpiderMonkey inside, weigh tens
/// of MiB).
pub(crate) const MAX_COMPONENT_BYTES: usize = 64 << 20;

/// Where components attached at run time are kept while the daemon runs.
#[derive(Debug)]
pub(crate) struct Uploads {
    dir: tempfile::TempDir,
}

impl Uploads {
    pub(crate) fn new() -> std::io::Result<Self> {
        Ok(Self {
            dir: tempfile::Builder::new()
                .prefix("roster-plugins-")
                .tempdir()?,
        })
    }

    /// Keep `bytes` as the component of a new attachment of `name`.
    fn keep(&self, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let file = format!(
            "{}-{}.wasm",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            uuid::Uuid::new_v4().simple()
        );
        let path = self.dir.path().join(file);
        std::fs::write(&path, bytes)?;
        Ok(path)
    }
}

/// The `[[handlers]]` entry an attach request's query makes, for the component at `path`.
fn entry(name: &str, query: Option<&str>, path: PathBuf) -> Result<HandlerConfig, ApiError> {
    let bad = |message: String| ApiError::BadRequest(message);
    let number = |key: &str, value: &str| {
        value
            .parse::<u64>()
            .map_err(|_| bad(format!("{key} must be a whole number, not {value:?}")))
    };
    let mut entry = HandlerConfig {
        name: name.to_owned(),
        path,
        groups: Vec::new(),
        events: Vec::new(),
        hot_reload: false,
        grants: GrantsConfig::default(),
        limits: LimitsConfig::default(),
    };
    let pairs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes());
    for (key, value) in pairs {
        let limits = &mut entry.limits;
        match key.as_ref() {
            "group" => entry.groups.push(GroupId::new(value.as_ref())?),
            "event" => entry.events.push(
                serde_json::from_value(serde_json::Value::String(value.to_string()))
                    .map_err(|_| bad(format!("not an event kind: {value:?}")))?,
            ),
            "mutate" => {
                entry.grants.mutate = match value.as_ref() {
                    "true" => true,
                    "false" => false,
                    other => return Err(bad(format!("mutate is true or false, not {other:?}"))),
                }
            }
            "directory" => entry.grants.directory = Some(PathBuf::from(value.as_ref())),
            "memory_mib" => limits.memory_mib = Some(number(&key, &value)? as usize),
            "deadline_ms" => limits.deadline_ms = Some(number(&key, &value)?),
            "queue_events" => limits.queue_events = Some(number(&key, &value)? as usize),
            "batch_events" => limits.batch_events = Some(number(&key, &value)? as usize),
            "log_lines_per_second" => {
                limits.log_lines_per_second = Some(
                    u32::try_from(number(&key, &value)?)
                        .map_err(|_| bad(format!("log_lines_per_second is too large: {value}")))?,
                );
            }
            other => return Err(bad(format!("unknown parameter {other:?}"))),
        }
    }
    if entry
        .grants
        .directory
        .as_ref()
        .is_some_and(|d| !d.is_absolute())
    {
        return Err(bad(
            "directory must be an absolute path on the daemon's machine".to_owned(),
        ));
    }
    roster::plugin::check_handlers(std::slice::from_ref(&entry)).map_err(|e| bad(e.to_string()))?;
    Ok(entry)
}

/// `PUT /v1/plugins/{name}`: attach the component in the body, replacing a plugin of that
/// name once the new one is running (the old one goes on if the new one cannot be loaded).
pub(super) async fn attach(
    State(daemon): State<Arc<Daemon>>,
    name: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<PluginStats>), ApiError> {
    let Path(name) = name?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!(
            "a component is at most {MAX_COMPONENT_BYTES} bytes"
        )),
        _ => ApiError::BadRequest(rejection.body_text()),
    })?;
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "a plugin name is 1 to 128 characters, none of them control characters".to_owned(),
        ));
    }
    if body.is_empty() {
        return Err(ApiError::BadRequest(
            "the request body is the component (a .wasm file)".to_owned(),
        ));
    }
    // Checked before the component is kept anywhere.
    let mut entry = entry(&name, query.as_deref(), PathBuf::new())?;
    let path = daemon
        .uploads
        .keep(&name, &body)
        .map_err(|e| ApiError::Internal(format!("cannot keep the component: {e}")))?;
    entry.path.clone_from(&path);
    let config = PluginConfig {
        handlers: vec![entry],
    };
    let spec = config
        .handler_specs(std::path::Path::new("/"))
        .pop()
        .ok_or_else(|| ApiError::Internal("no handler specification".to_owned()))?;
    let handle = match daemon
        .plugin_host
        .attach_handler(&daemon.coordinator, spec)
        .await
    {
        Ok(handle) => handle,
        Err(error) => {
            let _ = std::fs::remove_file(&path);
            return Err(match error {
                PluginError::Engine(message) => ApiError::Internal(message),
                other => ApiError::InvalidPlugin(other.to_string()),
            });
        }
    };
    let stats = handle.stats();
    let replaced = {
        let mut plugins = daemon.plugins.lock().unwrap_or_else(|p| p.into_inner());
        let old = plugins
            .iter()
            .position(|p| p.stats().name == name)
            .map(|at| plugins.remove(at));
        plugins.push(handle);
        old
    };
    let status = match replaced {
        Some(old) => {
            old.detach().await;
            tracing::info!(plugin = %name, "plugin replaced");
            StatusCode::OK
        }
        None => {
            tracing::info!(plugin = %name, "plugin attached");
            StatusCode::CREATED
        }
    };
    Ok((status, Json(stats)))
}

/// `DELETE /v1/plugins/{name}`: detach a plugin (it finishes the call in progress).
pub(super) async fn detach(
    State(daemon): State<Arc<Daemon>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(name) = name?;
    let handle = {
        let mut plugins = daemon.plugins.lock().unwrap_or_else(|p| p.into_inner());
        plugins
            .iter()
            .position(|p| p.stats().name == name)
            .map(|at| plugins.remove(at))
    };
    let handle = handle.ok_or_else(|| ApiError::PluginNotFound(name.clone()))?;
    handle.detach().await;
    tracing::info!(plugin = %name, "plugin detached");
    Ok(StatusCode::NO_CONTENT)
}
