//! The plugin host: one wasmtime engine for every plugin, its epoch ticker, the linkers of the
//! `handler` world (with WASI only for components that import it), and loading (with a precompiled-artifact cache and validation against the
//! world before anything runs).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::host_api::PluginData;
use super::stats::PluginEvent;
use crate::wit::bindings::Handler;

/// How often the epoch advances; a running plugin yields to other tasks at every tick.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The interface a handler must export, and the functions it must have.
pub(crate) const EVENTS_EXPORT: &str = "roster:coordination/events@0.1.0";
const EVENTS_FUNCTIONS: [&str; 2] = ["on-events", "on-resync"];

/// Imports a plugin may have: Roster's own interfaces and the WASI interfaces whose access
/// the plugin's WASI context controls (files only in a granted directory, no sockets, no
/// environment, no stdio unless granted).
const ALLOWED_IMPORTS: [&str; 9] = [
    "roster:coordination/types@0.1.",
    "roster:coordination/coordinator@0.1.",
    "roster:coordination/logging@0.1.",
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

/// Why a plugin could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin file could not be read.
    #[error("cannot read plugin {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid WebAssembly component.
    #[error("{path} is not a valid component: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// wasmtime's message.
        message: String,
    },
    /// The component lacks an export the world requires.
    #[error("{path} does not export {export}, which the handler world requires")]
    MissingExport {
        /// The file.
        path: PathBuf,
        /// The missing export (`interface#function` for a function).
        export: String,
    },
    /// The component imports something plugins are not given.
    #[error("{path} imports {import}, which plugins are not given")]
    UnexpectedImport {
        /// The file.
        path: PathBuf,
        /// The import's name.
        import: String,
    },
    /// The component's imports could not be satisfied (for example an incompatible version).
    #[error("{path} cannot be linked: {message}")]
    Link {
        /// The file.
        path: PathBuf,
        /// wasmtime's message.
        message: String,
    },
    /// A granted directory does not exist or cannot be opened.
    #[error("cannot grant directory {path}: {message}")]
    Grant {
        /// The directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The plugin configuration is invalid.
    #[error("invalid plugin configuration: {0}")]
    Config(String),
    /// The host's wasmtime engine could not be set up.
    #[error("cannot set up the plugin engine: {0}")]
    Engine(String),
}

/// Where and how plugins are compiled.
#[derive(Clone, Debug, Default)]
pub struct PluginHostOptions {
    /// Directory for precompiled artifacts; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
}

impl PluginHostOptions {
    /// The default cache directory: `$XDG_CACHE_HOME/roster/components`, else
    /// `$HOME/.cache/roster/components`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("roster").join("components"))
    }
}

/// A loaded, validated component, ready to be pre-instantiated.
pub(crate) struct Loaded {
    pub(crate) component: Component,
    /// True when the artifact came from the cache.
    pub(crate) cached: bool,
    /// How long loading took.
    pub(crate) took: Duration,
}

/// What [`PluginHost::check`] found in a component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentReport {
    /// Every import, by name.
    pub imports: Vec<String>,
    /// Every export, by name.
    pub exports: Vec<String>,
}

/// Runs plugins: owns the engine (shared by all plugins), the linkers and the cache.
#[derive(Clone)]
pub struct PluginHost {
    pub(crate) inner: Arc<HostInner>,
}

pub(crate) struct HostInner {
    pub(crate) engine: Engine,
    /// Roster's interfaces only, for components that import no WASI (C, JavaScript and
    /// Python built as in `plugins/`): nothing of WASI is even linked for them.
    bare_linker: Linker<PluginData>,
    /// Roster's interfaces and WASI, whose access each plugin's deny-all context limits, for
    /// languages whose runtime always imports WASI (Rust's standard library, Go).
    wasi_linker: Linker<PluginData>,
    cache_dir: Option<PathBuf>,
    pub(crate) events: broadcast::Sender<PluginEvent>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("cache_dir", &self.inner.cache_dir)
            .finish_non_exhaustive()
    }
}

impl PluginHost {
    /// Set up the engine, start its epoch ticker and build the handler linker.
    ///
    /// # Errors
    /// [`PluginError::Engine`] if wasmtime rejects the configuration or the cache directory
    /// cannot be created.
    pub fn new(options: PluginHostOptions) -> Result<Self, PluginError> {
        let engine_error = |e: wasmtime::Error| PluginError::Engine(format!("{e:#}"));
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.concurrency_support(false);
        let engine = Engine::new(&config).map_err(engine_error)?;
        let mut bare_linker = Linker::new(&engine);
        Handler::add_to_linker::<PluginData, HasSelf<PluginData>>(&mut bare_linker, |data| data)
            .map_err(engine_error)?;
        let mut wasi_linker = bare_linker.clone();
        wasmtime_wasi::p2::add_to_linker_async(&mut wasi_linker).map_err(engine_error)?;
        if let Some(dir) = &options.cache_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                PluginError::Engine(format!("cache directory {}: {e}", dir.display()))
            })?;
        }
        spawn_epoch_ticker(&engine);
        let (events, _) = broadcast::channel(1024);
        Ok(Self {
            inner: Arc::new(HostInner {
                engine,
                bare_linker,
                wasi_linker,
                cache_dir: options.cache_dir,
                events,
            }),
        })
    }

    /// Fault, restart, quarantine, resync and reload events of every plugin of this host.
    pub fn events(&self) -> broadcast::Receiver<PluginEvent> {
        self.inner.events.subscribe()
    }

    /// Validate a component against the handler world and list its imports and exports.
    ///
    /// # Errors
    /// The first problem found (see [`PluginError`]).
    pub fn check(&self, path: &Path) -> Result<ComponentReport, PluginError> {
        let loaded = self.inner.load(path)?;
        let ty = loaded.component.component_type();
        let engine = &self.inner.engine;
        Ok(ComponentReport {
            imports: ty
                .imports(engine)
                .map(|(name, _)| name.to_owned())
                .collect(),
            exports: ty
                .exports(engine)
                .map(|(name, _)| name.to_owned())
                .collect(),
        })
    }
}

fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("roster-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawn the epoch ticker thread");
}

impl HostInner {
    /// The linker for `component`: WASI is linked only for components that import it.
    pub(crate) fn linker_for(&self, component: &Component) -> &Linker<PluginData> {
        let imports_wasi = component
            .component_type()
            .imports(&self.engine)
            .any(|(name, _)| name.starts_with("wasi:"));
        if imports_wasi {
            &self.wasi_linker
        } else {
            &self.bare_linker
        }
    }

    /// Read, compile (or fetch from the cache) and validate a handler component.
    pub(crate) fn load(&self, path: &Path) -> Result<Loaded, PluginError> {
        let start = Instant::now();
        let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
            path: path.to_owned(),
            source,
        })?;
        let (component, cached) = self.compile(path, &bytes)?;
        self.validate(path, &component)?;
        Ok(Loaded {
            component,
            cached,
            took: start.elapsed(),
        })
    }

    fn compile(&self, path: &Path, bytes: &[u8]) -> Result<(Component, bool), PluginError> {
        let invalid = |e: wasmtime::Error| PluginError::Invalid {
            path: path.to_owned(),
            message: format!("{e:#}"),
        };
        let Some(dir) = &self.cache_dir else {
            return Component::new(&self.engine, bytes)
                .map(|c| (c, false))
                .map_err(invalid);
        };
        let artifact = dir.join(format!("{}.cwasm", self.cache_key(bytes)));
        if artifact.exists() {
            // SAFETY: `deserialize_file` trusts its input to be wasmtime's own output. The
            // artifact was written by `serialize` below into the host's cache directory, under
            // a name that hashes both the component's bytes and the engine's compatibility
            // settings; a file another wasmtime version wrote fails cleanly with an error.
            #[allow(unsafe_code)]
            let loaded = unsafe { Component::deserialize_file(&self.engine, &artifact) };
            match loaded {
                Ok(component) => return Ok((component, true)),
                Err(error) => {
                    tracing::warn!(artifact = %artifact.display(), %error, "discarding unusable cached artifact");
                    let _ = std::fs::remove_file(&artifact);
                }
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(invalid)?;
        match component.serialize() {
            Ok(serialized) => {
                let tmp = artifact.with_extension(format!("tmp{}", std::process::id()));
                let written = std::fs::write(&tmp, serialized)
                    .and_then(|()| std::fs::rename(&tmp, &artifact));
                if let Err(error) = written {
                    tracing::warn!(artifact = %artifact.display(), %error, "cannot cache compiled plugin");
                    let _ = std::fs::remove_file(&tmp);
                }
            }
            Err(error) => tracing::warn!(%error, "cannot serialize compiled plugin"),
        }
        Ok((component, false))
    }

    fn cache_key(&self, bytes: &[u8]) -> String {
        let digest = Sha256::digest(bytes);
        let mut hasher = DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{hex}-{:016x}", hasher.finish())
    }

    fn validate(&self, path: &Path, component: &Component) -> Result<(), PluginError> {
        let ty = component.component_type();
        for (name, _) in ty.imports(&self.engine) {
            if !ALLOWED_IMPORTS
                .iter()
                .any(|prefix| name.starts_with(prefix))
            {
                return Err(PluginError::UnexpectedImport {
                    path: path.to_owned(),
                    import: name.to_owned(),
                });
            }
        }
        let missing = |export: String| PluginError::MissingExport {
            path: path.to_owned(),
            export,
        };
        let events = ty
            .exports(&self.engine)
            .find(|(name, _)| {
                name.strip_prefix("roster:coordination/events@0.1.")
                    .is_some()
            })
            .ok_or_else(|| missing(EVENTS_EXPORT.to_owned()))?;
        let ComponentItem::ComponentInstance(instance) = events.1.ty else {
            return Err(missing(EVENTS_EXPORT.to_owned()));
        };
        for function in EVENTS_FUNCTIONS {
            let found = instance.exports(&self.engine).any(|(name, item)| {
                name == function && matches!(item.ty, ComponentItem::ComponentFunc(_))
            });
            if !found {
                return Err(missing(format!("{EVENTS_EXPORT}#{function}")));
            }
        }
        Ok(())
    }
}
