//! The plugin host: one wasmtime engine for every plugin, its epoch ticker, the linkers of the
//! `handler` world (with WASI only for components that import it), and loading.
//!
//! Loading checks a file against the world before compiling it (see [`super::component`]),
//! so a file of the wrong kind costs milliseconds, not a compile; and it writes a compiled
//! component to the cache only once the component has passed every check, including
//! linking, so the cache never holds a rejected file.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::component::{self, ComponentError, World};
use super::host_api::PluginData;
use crate::wit::bindings::{Handler, HandlerPre};
use roster_types::plugin_stats::PluginEvent;

/// How often the epoch advances; a running plugin yields to other tasks at every tick.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a plugin could not be loaded or run. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin file could not be read (it does not exist, is a directory, is not
    /// readable).
    #[error("cannot read plugin {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a component of the plugin's world: not WebAssembly, a core module,
    /// malformed, of another world, or not linkable (see [`ComponentError`]).
    #[error("{}: {problem}", path.display())]
    Rejected {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: ComponentError,
    },
    /// A granted directory does not exist or cannot be opened.
    #[error("cannot grant directory {}: {message}", path.display())]
    Grant {
        /// The directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The plugin configuration is invalid.
    #[error("invalid plugin configuration: {0}")]
    Config(String),
    /// The host's wasmtime engine could not be set up, or the cache directory created.
    #[error("cannot set up the plugin engine: {0}")]
    Engine(String),
}

/// Where compiled plugins are cached.
///
/// There is no `Default`: a program says whether it caches. Programs that load plugins
/// ([`PluginHostOptions::user_cache`]: the daemon, `roster plugin check`, the monitor's
/// demo) cache in the user's cache directory unless told otherwise, so a JavaScript or
/// Python handler compiles once (seconds) and then loads in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginHostOptions {
    /// Directory for compiled components; `None` compiles at every load.
    pub cache_dir: Option<PathBuf>,
}

impl PluginHostOptions {
    /// Cache in the user's cache directory ([`PluginHostOptions::default_cache_dir`]), or
    /// compile at every load when there is none (neither `XDG_CACHE_HOME` nor `HOME` set).
    pub fn user_cache() -> Self {
        Self {
            cache_dir: Self::default_cache_dir(),
        }
    }

    /// Cache in `dir`.
    pub fn cache_in(dir: impl Into<PathBuf>) -> Self {
        Self {
            cache_dir: Some(dir.into()),
        }
    }

    /// Compile at every load and write nothing.
    pub fn no_cache() -> Self {
        Self { cache_dir: None }
    }

    /// The user's cache directory for compiled components: `$XDG_CACHE_HOME/roster/components`,
    /// else `$HOME/.cache/roster/components` (an empty variable counts as unset).
    pub fn default_cache_dir() -> Option<PathBuf> {
        let set = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        let base = set("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
        Some(base.join("roster").join("components"))
    }
}

/// A loaded component, checked against the handler world and linked, ready to instantiate.
pub(crate) struct Loaded {
    pub(crate) pre: HandlerPre<PluginData>,
    /// True when the compiled component came from the cache.
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

impl ComponentReport {
    /// The names of `component`'s imports and exports.
    pub(crate) fn of(engine: &Engine, component: &Component) -> Self {
        let shape = component::shape_of(engine, component);
        Self {
            imports: shape.imports,
            exports: shape.exports.into_iter().map(|(name, _)| name).collect(),
        }
    }
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

    /// The directory compiled components are cached in, if any.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.cache_dir.as_deref()
    }

    /// Fault, restart, quarantine, resync and reload events of every plugin of this host.
    pub fn events(&self) -> broadcast::Receiver<PluginEvent> {
        self.inner.events.subscribe()
    }

    /// Validate a component against the handler world, as [`PluginHost::attach_handler`]
    /// loads it (caching it when it passes), and list its imports and exports.
    ///
    /// # Errors
    /// [`PluginError::Read`], or [`PluginError::Rejected`] with the first problem found.
    pub fn check(&self, path: &Path) -> Result<ComponentReport, PluginError> {
        let loaded = self.inner.load(path)?;
        let component = loaded.pre.instance_pre().component();
        Ok(ComponentReport::of(&self.inner.engine, component))
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
    fn linker_for(&self, component: &Component) -> &Linker<PluginData> {
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

    /// Read a handler component, check it, compile it (or fetch it from the cache) and link
    /// it. A compiled component is cached only once it is linked.
    pub(crate) fn load(&self, path: &Path) -> Result<Loaded, PluginError> {
        let start = Instant::now();
        let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
            path: path.to_owned(),
            source,
        })?;
        let rejected = |problem: ComponentError| PluginError::Rejected {
            path: path.to_owned(),
            problem,
        };
        let artifact = self
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.cwasm", self.cache_key(&bytes))));
        let (component, cached) = match artifact.as_deref().and_then(|a| self.cached(a)) {
            Some(component) => (component, true),
            None => {
                World::HANDLER.check(&bytes).map_err(rejected)?;
                let component = Component::new(&self.engine, &bytes)
                    .map_err(|e| rejected(component::compile_error(&e)))?;
                (component, false)
            }
        };
        // A cached component passed these when it was cached; they are cheap, and the rules
        // may have changed since.
        World::HANDLER
            .admit(&component::shape_of(&self.engine, &component))
            .map_err(rejected)?;
        let link = |e: wasmtime::Error| rejected(component::link_error(&e));
        let pre = self
            .linker_for(&component)
            .instantiate_pre(&component)
            .map_err(link)?;
        let pre = HandlerPre::new(pre).map_err(link)?;
        if let (Some(artifact), false) = (artifact, cached) {
            self.store_in_cache(&artifact, &component);
        }
        Ok(Loaded {
            pre,
            cached,
            took: start.elapsed(),
        })
    }

    /// The compiled component cached at `artifact`, if there is a usable one.
    fn cached(&self, artifact: &Path) -> Option<Component> {
        if !artifact.exists() {
            return None;
        }
        // SAFETY: `deserialize_file` trusts its input to be wasmtime's own output. The
        // artifact was written by `serialize` in `store_in_cache` into the host's cache
        // directory, under a name that hashes both the component's bytes and the engine's
        // compatibility settings; a file another wasmtime version wrote fails cleanly with an
        // error.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(&self.engine, artifact) };
        match loaded {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(artifact = %artifact.display(), %error, "discarding unusable cached artifact");
                let _ = std::fs::remove_file(artifact);
                None
            }
        }
    }

    /// Write `component` to the cache at `artifact` (through a temporary file, so a reader
    /// never sees half an artifact). Failing to cache is logged, not an error.
    fn store_in_cache(&self, artifact: &Path, component: &Component) {
        match component.serialize() {
            Ok(serialized) => {
                let tmp = artifact.with_extension(format!("tmp{}", std::process::id()));
                let written =
                    std::fs::write(&tmp, serialized).and_then(|()| std::fs::rename(&tmp, artifact));
                if let Err(error) = written {
                    tracing::warn!(artifact = %artifact.display(), %error, "cannot cache compiled plugin");
                    let _ = std::fs::remove_file(&tmp);
                }
            }
            Err(error) => tracing::warn!(%error, "cannot serialize compiled plugin"),
        }
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
}
