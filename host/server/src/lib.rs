//! `roster serve`: the host as a daemon, reachable over HTTP with JSON bodies (crate
//! `roster-server`, above the `roster` library and used by the `roster` program).
//!
//! The daemon serves one store of any kind (`memory://`, `redis://`, `etcd3+http://`,
//! `file://`, another daemon's `roster://`) through a coordinator of its own for calls that
//! need no member identity (group lifecycle, reads, the event stream), one coordinator per
//! network session (see `sessions`), and the handler plugins its configuration names. On a
//! store outside the process, sessions live in the store, so several daemons serve the same
//! groups, members, revisions and events, and a client goes on with its session through
//! any of them. The API is described by `host/types/openapi.json` (served at
//! `/v1/openapi.json`); [`roster_types::api`] holds its bodies.
//!
//! Shutdown is graceful: the listener stops accepting, event streams end, every session of
//! an embedded store is closed (its members leave, so watchers and plugins see left events)
//! while those of a store outside the process are handed over (they stay in the store, and
//! their clients go on through another daemon), plugins drain the last events, and the
//! daemon's own coordinator stops.

pub mod auth;
mod changes;
mod error;
mod events;
mod linger;
mod locks;
mod metrics;
mod plugins;
mod routes;
mod sessions;
pub mod tls;

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post, put};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use roster::backend_url::BackendUrl;
use roster::plugin::{
    HandlerConfig, HandlerHandle, PluginConfig, PluginError, PluginEvent, PluginHost,
    PluginHostOptions,
};
use roster::{Coordinator, get_coordinator};
use roster_types::error::CoordinationError;
use sessions::Sessions;

pub use auth::{Role, TokenConfig, token_hash};
pub use tls::TlsConfig;

/// Shortest session TTL accepted.
pub const MIN_TTL_MS: u64 = 100;
/// Longest session TTL accepted (one day).
pub const MAX_TTL_MS: u64 = 86_400_000;
/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The request body limit for a store taking capabilities of up to `max_capabilities`
/// bytes: [`MAX_BODY_BYTES`], or more when capabilities at their limit could need more as
/// JSON text (up to six bytes per byte, `\u0007`), so that it is the capability limit that
/// refuses them, with its own error, and not the transport.
pub fn body_limit(max_capabilities: usize) -> usize {
    MAX_BODY_BYTES.max(max_capabilities.saturating_mul(6).saturating_add(64 * 1024))
}
/// How long plugins get at shutdown to handle the last changes.
const DRAIN_PATIENCE: Duration = Duration::from_secs(5);
/// How long `/readyz` and a metrics scrape wait for the store to say its revision.
const STORE_PATIENCE: Duration = Duration::from_secs(2);
/// How often expired sessions are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The daemon's configuration file (TOML). Every key is optional; unknown keys are errors.
///
/// ```toml
/// listen = "127.0.0.1:7878"       # the API's address (localhost by default)
/// backend = "memory://roster"     # the store to serve: memory://, redis://, etcd3+http://, file://
/// membership_timeout = 30         # seconds: default session TTL
/// history = 65536                 # events kept for resuming streams
/// max_sessions = 100000
/// cache_dir = "/var/cache/roster" # compiled plugins (default: the user's cache directory)
///
/// [tls]                           # serve HTTPS (see `tls::TlsConfig`)
/// cert = "server.pem"
/// key = "server.key"
///
/// [[tokens]]                      # bearer tokens with roles (see `auth::TokenConfig`)
/// name = "ops"
/// role = "admin"
/// sha256 = "…"
///
/// [[handlers]]                    # event handler plugins, as in `roster::plugin::config`
/// name = "log"
/// path = "plugins/log-events.wasm"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Backend URL.
    #[serde(default = "default_backend")]
    pub backend: String,
    /// Membership timeout in seconds (the default session TTL); the backend URL's own
    /// `timeout` option otherwise.
    pub membership_timeout: Option<f64>,
    /// Events of history kept; the backend URL's `history` option otherwise.
    pub history: Option<usize>,
    /// Most sessions open at once.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// Handler plugins to attach.
    #[serde(default)]
    pub handlers: Vec<HandlerConfig>,
    /// Where compiled plugins are cached (relative to the configuration file); the user's
    /// cache directory ([`PluginHostOptions::default_cache_dir`]) otherwise.
    pub cache_dir: Option<PathBuf>,
    /// TLS: the API is served over HTTPS when present.
    pub tls: Option<TlsConfig>,
    /// Bearer tokens; when there are none, every caller may do everything.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Compile plugins at every start and cache nothing (`roster serve --no-cache`).
    #[serde(skip)]
    pub no_cache: bool,
    /// Listen beyond localhost without TLS or without tokens (`roster serve --insecure`).
    #[serde(skip)]
    pub insecure: bool,
    /// Directory that relative plugin paths start from (the configuration file's).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7878))
}

fn default_backend() -> String {
    "memory://roster".to_owned()
}

fn default_max_sessions() -> usize {
    100_000
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            backend: default_backend(),
            membership_timeout: None,
            history: None,
            max_sessions: default_max_sessions(),
            handlers: Vec::new(),
            cache_dir: None,
            tls: None,
            tokens: Vec::new(),
            no_cache: false,
            insecure: false,
            base_dir: PathBuf::from("."),
        }
    }
}

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is not valid TOML of the expected shape, or a value is unusable.
    #[error("invalid configuration{}: {message}", path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    Config {
        /// The file, when the problem is in one.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
    /// The backend URL is invalid or the store cannot be opened.
    #[error("backend: {0}")]
    Backend(#[from] CoordinationError),
    /// A plugin could not be loaded.
    #[error("plugin: {0}")]
    Plugin(#[from] PluginError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server: {0}")]
    Serve(std::io::Error),
    /// The listen address reaches beyond this machine and the API would go unprotected.
    #[error(
        "refusing to listen on {address} without {missing}: anyone who reaches it could read and change every group. \
         Configure {how} in the configuration file (see `roster serve --help`), listen on 127.0.0.1, \
         or pass --insecure to accept the risk"
    )]
    Insecure {
        /// The address.
        address: SocketAddr,
        /// What is missing: "TLS", "tokens" or both.
        missing: String,
        /// Where to configure it.
        how: String,
    },
}

impl ServeConfig {
    /// Read a configuration file; relative plugin paths are resolved against its directory.
    ///
    /// # Errors
    /// [`ServeError::ReadConfig`] or [`ServeError::Config`].
    pub fn load(path: &Path) -> Result<Self, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServeError::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_owned);
        Self::from_toml(&text, base_dir).map_err(|error| match error {
            ServeError::Config { message, .. } => ServeError::Config {
                path: Some(path.to_owned()),
                message,
            },
            other => other,
        })
    }

    /// Read a configuration from its text; relative paths in it are resolved against
    /// `base_dir`.
    ///
    /// # Errors
    /// [`ServeError::Config`].
    pub fn from_toml(text: &str, base_dir: PathBuf) -> Result<Self, ServeError> {
        let config_error = |message: String| ServeError::Config {
            path: None,
            message,
        };
        let mut config: Self = toml::from_str(text).map_err(|e| config_error(e.to_string()))?;
        roster::plugin::check_handlers(&config.handlers).map_err(|e| match e {
            PluginError::Config(message) => config_error(message),
            other => config_error(other.to_string()),
        })?;
        config.base_dir = base_dir;
        Ok(config)
    }

    /// How the daemon's plugin host caches compiled plugins: in `cache_dir`, else in the
    /// user's cache directory, unless `no_cache`.
    pub fn plugin_host_options(&self) -> PluginHostOptions {
        if self.no_cache {
            PluginHostOptions::no_cache()
        } else if let Some(dir) = &self.cache_dir {
            PluginHostOptions::cache_in(self.base_dir.join(dir))
        } else {
            PluginHostOptions::user_cache()
        }
    }

    /// The backend URL with the configured timeout and history size applied.
    ///
    /// # Errors
    /// [`ServeError::Config`] when a value is out of range or set both here and in the URL.
    pub fn backend_url(&self) -> Result<String, ServeError> {
        let config_error = |message: String| ServeError::Config {
            path: None,
            message,
        };
        BackendUrl::parse(&self.backend)?;
        let mut url = url::Url::parse(&self.backend).map_err(|e| config_error(e.to_string()))?;
        let present: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let mut add = |name: &str, value: String| {
            if present.iter().any(|k| k == name) {
                return Err(config_error(format!(
                    "{name} is set both in the configuration and in the backend URL"
                )));
            }
            url.query_pairs_mut().append_pair(name, &value);
            Ok(())
        };
        if let Some(seconds) = self.membership_timeout {
            if !(seconds.is_finite() && seconds >= MIN_TTL_MS as f64 / 1000.0) {
                return Err(config_error(format!(
                    "membership_timeout {seconds} must be at least {} seconds",
                    MIN_TTL_MS as f64 / 1000.0
                )));
            }
            add("timeout", seconds.to_string())?;
        }
        if let Some(history) = self.history {
            add("history", history.to_string())?;
        }
        let url = url.to_string();
        BackendUrl::parse(&url)?;
        Ok(url)
    }
}

/// How many plugin events the daemon keeps for `GET /v1/plugins`.
const PLUGIN_EVENTS_KEPT: usize = 256;

/// The latest plugin events, and how many there have been.
#[derive(Default)]
struct PluginLog {
    recent: VecDeque<PluginEvent>,
    total: u64,
}

/// State shared by every request.
pub(crate) struct Daemon {
    coordinator: Coordinator,
    tokens: auth::Tokens,
    metrics: metrics::Metrics,
    /// The store's revision when the daemon started serving it.
    first_revision: u64,
    /// Largest request body accepted ([`body_limit`]).
    body_limit: usize,
    sessions: Sessions,
    plugins: Mutex<Vec<HandlerHandle>>,
    /// Runs the plugins, those configured and those attached at run time.
    plugin_host: PluginHost,
    /// Components attached at run time.
    uploads: plugins::Uploads,
    plugin_log: Arc<Mutex<PluginLog>>,
    started: std::time::Instant,
    shutdown: watch::Sender<bool>,
}

impl Daemon {
    fn plugin_count(&self) -> usize {
        self.plugins.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn plugin_report(&self) -> roster_types::api::Plugins {
        let plugins = self
            .plugins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(HandlerHandle::stats)
            .collect();
        let log = self.plugin_log.lock().unwrap_or_else(|p| p.into_inner());
        roster_types::api::Plugins {
            plugins,
            recent_events: log.recent.iter().cloned().collect(),
            events_total: log.total,
        }
    }

    /// The session `id` (see [`Sessions::find`]); a daemon shutting down takes none over.
    async fn session(
        &self,
        id: &str,
        unknown: sessions::Unknown,
    ) -> Result<Arc<sessions::SessionEntry>, error::ApiError> {
        if self.is_shutting_down() {
            return self.sessions.get(id).ok_or(error::ApiError::ShuttingDown);
        }
        self.sessions.find(id, &self.coordinator, unknown).await
    }

    /// The store's newest revision, as the store says it within [`STORE_PATIENCE`]: what
    /// `/readyz` and each metrics scrape ask.
    async fn store_revision(&self) -> Result<u64, error::ApiError> {
        tokio::time::timeout(STORE_PATIENCE, self.coordinator.store_revision())
            .await
            .map_err(|_| {
                error::ApiError::StoreUnavailable(format!("no answer within {STORE_PATIENCE:?}"))
            })?
            .map_err(|e| error::ApiError::StoreUnavailable(e.to_string()))
    }

    /// Changes the store made since the daemon started serving it, up to `head`.
    fn changes_since_start(&self, head: u64) -> u64 {
        head.saturating_sub(self.first_revision)
    }

    fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Completes once shutdown has begun.
    fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static + use<> {
        let mut receiver = self.shutdown.subscribe();
        async move {
            let _ = receiver.wait_for(|stopping| *stopping).await;
        }
    }
}

/// Where connections come from.
enum Listener {
    Plain(TcpListener),
    Tls(tls::TlsListener),
}

/// A daemon bound to its address, ready to serve.
pub struct Server {
    daemon: Arc<Daemon>,
    listener: Listener,
    local_addr: SocketAddr,
    /// Keeps the latest plugin events for the API, while plugins run.
    recorder: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Open the backend, attach the configured plugins and bind the listen address.
    ///
    /// # Errors
    /// See [`ServeError`].
    pub async fn bind(config: ServeConfig) -> Result<Self, ServeError> {
        let url = config.backend_url()?;
        let config_error = |message: String| ServeError::Config {
            path: None,
            message,
        };
        let tokens = auth::Tokens::load(&config.tokens, &config.base_dir).map_err(config_error)?;
        let tls = config
            .tls
            .as_ref()
            .map(|tls| tls.server_config(&config.base_dir))
            .transpose()
            .map_err(config_error)?;
        check_exposure(&config, tls.is_some(), tokens.required())?;
        // Unique among the daemons sharing a store.
        let member = format!(
            "roster-daemon-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let coordinator = get_coordinator(&url, &member)?;
        coordinator.start().await?;
        // Clients of another daemon of the store, or of this one before a restart, resume
        // from revisions older than this daemon's start.
        coordinator.fill_history().await?;
        let plugin_log = Arc::new(Mutex::new(PluginLog::default()));
        let options = config.plugin_host_options();
        if !config.handlers.is_empty() && options.cache_dir.is_none() && !config.no_cache {
            tracing::warn!(
                "no cache directory (set cache_dir, XDG_CACHE_HOME or HOME): plugins are compiled at every start"
            );
        }
        let plugin_host = PluginHost::new(options)?;
        let recorder = Some(tokio::spawn(record(
            plugin_host.events(),
            Arc::clone(&plugin_log),
        )));
        let plugins = PluginConfig {
            handlers: config.handlers,
        };
        let handles = plugin_host
            .attach_config(&coordinator, &plugins, &config.base_dir)
            .await?;
        let uploads = plugins::Uploads::new().map_err(ServeError::Serve)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    address: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(ServeError::Serve)?;
        let listener = match tls {
            Some(tls) => {
                Listener::Tls(tls::TlsListener::new(listener, tls).map_err(ServeError::Serve)?)
            }
            None => Listener::Plain(listener),
        };
        let (shutdown, _) = watch::channel(false);
        let daemon = Arc::new(Daemon {
            body_limit: body_limit(coordinator.backend_url().max_capabilities),
            first_revision: coordinator.head_revision(),
            tokens,
            metrics: metrics::Metrics::new(),
            coordinator,
            sessions: Sessions::new(config.max_sessions),
            plugins: Mutex::new(handles),
            plugin_host,
            uploads,
            plugin_log,
            started: std::time::Instant::now(),
            shutdown,
        });
        Ok(Self {
            daemon,
            listener,
            local_addr,
            recorder,
        })
    }

    /// The address the API listens on (the actual port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The daemon's own coordinator (for embedding the daemon in a larger program).
    pub fn coordinator(&self) -> &Coordinator {
        &self.daemon.coordinator
    }

    /// Serve until `shutdown` completes, then shut down gracefully (see the module docs).
    ///
    /// # Errors
    /// [`ServeError::Serve`] when the listener fails.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let daemon = Arc::clone(&self.daemon);
        let sweeper = tokio::spawn(sweep(Arc::downgrade(&daemon)));
        let router = router(Arc::clone(&daemon));
        tracing::info!(address = %self.local_addr, backend = %daemon.coordinator.store_name(), "serving");
        let signal = {
            let daemon = Arc::clone(&daemon);
            async move {
                shutdown.await;
                tracing::info!("shutting down");
                daemon.shutdown.send_replace(true);
            }
        };
        let served = match self.listener {
            Listener::Plain(listener) => {
                axum::serve(listener, router)
                    .with_graceful_shutdown(signal)
                    .await
            }
            Listener::Tls(listener) => {
                axum::serve(listener, router)
                    .with_graceful_shutdown(signal)
                    .await
            }
        };
        sweeper.abort();
        daemon.shutdown.send_replace(true);
        let handed_over = daemon.sessions.close_all().await;
        if handed_over > 0 {
            tracing::info!(
                sessions = handed_over,
                "sessions handed over: they stay in the store for another daemon to take over"
            );
        }
        let head = daemon.coordinator.head_revision();
        let handles: Vec<HandlerHandle> =
            std::mem::take(&mut *daemon.plugins.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in handles {
            let name = handle.stats().name;
            if !handle.drain(head, DRAIN_PATIENCE).await {
                tracing::warn!(plugin = %name, "plugin did not catch up before shutdown");
            }
        }
        if let Some(recorder) = self.recorder {
            recorder.abort();
        }
        let _ = daemon.coordinator.stop().await;
        tracing::info!("stopped");
        served.map_err(ServeError::Serve)
    }
}

/// The API's routes.
pub(crate) fn router(daemon: Arc<Daemon>) -> Router {
    use routes as r;
    Router::new()
        .route("/healthz", get(r::healthz))
        .route("/readyz", get(r::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/status", get(r::status))
        .route("/v1/openapi.json", get(r::openapi))
        .route("/v1/plugins", get(r::plugins))
        .route(
            "/v1/plugins/{name}",
            put(plugins::attach)
                .layer(DefaultBodyLimit::max(plugins::MAX_COMPONENT_BYTES))
                .delete(plugins::detach),
        )
        .route("/v1/sessions", post(r::open_session))
        .route(
            "/v1/sessions/{session}",
            get(r::get_session).delete(r::close_session),
        )
        .route("/v1/sessions/{session}/heartbeat", post(r::heartbeat))
        .route(
            "/v1/sessions/{session}/groups/{group}",
            put(r::join).delete(r::leave),
        )
        .route(
            "/v1/sessions/{session}/groups/{group}/capabilities",
            put(r::update_capabilities),
        )
        .route(
            "/v1/sessions/{session}/elections/{group}",
            put(r::stand).delete(r::withdraw),
        )
        .route(
            "/v1/sessions/{session}/elections/{group}/stand-down",
            post(r::stand_down),
        )
        .route(
            "/v1/sessions/{session}/locks/{lock}",
            get(locks::standing)
                .post(locks::acquire)
                .delete(locks::release),
        )
        .route(
            "/v1/sessions/{session}/locks/{lock}/wait",
            post(locks::wait),
        )
        .route(
            "/v1/sessions/{session}/locks/{lock}/abandon",
            post(locks::abandon),
        )
        .route(
            "/v1/sessions/{session}/locks/{lock}/break",
            post(locks::break_lock),
        )
        .route("/v1/locks", get(locks::list))
        .route("/v1/locks/{lock}", get(locks::info))
        .route("/v1/snapshot", get(r::snapshot))
        .route("/v1/groups", get(r::groups))
        .route(
            "/v1/groups/{group}",
            put(r::create_group).delete(r::delete_group),
        )
        .route("/v1/groups/{group}/members", get(r::members))
        .route("/v1/groups/{group}/members/{member}", get(r::member))
        .route("/v1/groups/{group}/leader", get(r::leader))
        .route("/v1/events", get(events::events))
        .route("/v1/changes", get(changes::changes))
        .fallback(r::not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(daemon.body_limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&daemon),
            auth::authorize,
        ))
        .layer(axum::middleware::from_fn_with_state(
            daemon.body_limit,
            linger::linger,
        ))
        .layer(axum::middleware::map_response_with_state(
            Arc::clone(&daemon),
            stamp_revision,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&daemon),
            metrics::observe,
        ))
        .with_state(daemon)
}

/// Refuse to serve beyond localhost without TLS and tokens, unless told to (then warn).
fn check_exposure(config: &ServeConfig, tls: bool, tokens: bool) -> Result<(), ServeError> {
    if config.listen.ip().is_loopback() || (tls && tokens) {
        return Ok(());
    }
    let (missing, how) = match (tls, tokens) {
        (false, false) => ("TLS and tokens", "[tls] and [[tokens]]"),
        (false, true) => ("TLS", "[tls]"),
        _ => ("tokens", "[[tokens]]"),
    };
    if config.insecure {
        tracing::warn!(
            address = %config.listen,
            "--insecure: listening beyond localhost without {missing}; anyone who reaches this address can read and change every group"
        );
        return Ok(());
    }
    Err(ServeError::Insecure {
        address: config.listen,
        missing: missing.to_owned(),
        how: how.to_owned(),
    })
}

/// Name the store and its revision on every answer: a client that has made a change knows
/// the revision its own view must reach to include it (read-your-writes over a change
/// feed), and of which store.
async fn stamp_revision(
    State(daemon): State<Arc<Daemon>>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    let head = daemon.coordinator.head_revision();
    let headers = response.headers_mut();
    headers.insert(
        roster_types::api::REVISION_HEADER,
        axum::http::HeaderValue::from(head),
    );
    match axum::http::HeaderValue::from_str(&daemon.coordinator.store_id()) {
        Ok(store) => {
            headers.insert(roster_types::api::STORE_HEADER, store);
        }
        Err(error) => tracing::warn!(%error, "the store id cannot be a header value"),
    }
    response
}

async fn method_not_allowed(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> (
    axum::http::StatusCode,
    axum::Json<roster_types::api::ErrorBody>,
) {
    (
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(roster_types::api::ErrorBody {
            error: roster_types::api::ErrorDetail {
                code: "method-not-allowed".into(),
                message: format!("{method} is not allowed on {}", uri.path()),
                detail: None,
            },
        }),
    )
}

/// Keep the latest plugin events, and count them all (those a slow recorder missed too).
async fn record(
    mut events: tokio::sync::broadcast::Receiver<PluginEvent>,
    log: Arc<Mutex<PluginLog>>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let event = events.recv().await;
        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Ok(event) => {
                if log.recent.len() == PLUGIN_EVENTS_KEPT {
                    log.recent.pop_front();
                }
                log.recent.push_back(event);
                log.total += 1;
            }
            Err(RecvError::Lagged(missed)) => log.total += missed,
            Err(RecvError::Closed) => return,
        }
    }
}

/// Forget sessions long expired, once a second, for as long as the daemon lives.
async fn sweep(daemon: std::sync::Weak<Daemon>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(daemon) = daemon.upgrade() else {
            return;
        };
        let forgotten = daemon.sessions.sweep(tokio::time::Instant::now()).await;
        daemon.metrics.sessions_expired.inc_by(forgotten as u64);
    }
}

#[cfg(test)]
mod roster_driver_tests;

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn a_daemon_configuration_refuses_the_handler_limits_a_plugin_configuration_refuses() {
        for key in ["memory_mib", "deadline_ms", "queue_events", "batch_events"] {
            let text = format!(
                "[[handlers]]\nname = \"h\"\npath = \"h.wasm\"\n[handlers.limits]\n{key} = 0\n"
            );
            assert!(PluginConfig::from_toml(&text).is_err(), "{key}");
            let error = ServeConfig::from_toml(&text, PathBuf::from("."))
                .expect_err(key)
                .to_string();
            assert!(
                error.contains(&format!("limits.{key} must be above 0")),
                "{error}"
            );
        }
        let fine =
            "[[handlers]]\nname = \"h\"\npath = \"h.wasm\"\n[handlers.limits]\nmemory_mib = 8\n";
        let config = ServeConfig::from_toml(fine, PathBuf::from("/etc/roster")).unwrap();
        assert_eq!(config.base_dir, Path::new("/etc/roster"));
    }
}
