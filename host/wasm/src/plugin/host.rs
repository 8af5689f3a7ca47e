//! The plugin host: the handler world's linkers (with WASI only for components that import
//! it), the cache choice, and loading a handler.
//!
//! The engine, its epoch ticker, the artifact cache and the `logging` import are the runtime
//! drivers share ([`crate::runtime`]); what is here is the handler world's part. Loading
//! checks a file against the world before compiling it, so a file of the wrong kind costs
//! milliseconds, not a compile; and it writes a compiled component to the cache only once the
//! component has passed every check, including linking, so the cache never holds a rejected
//! file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

use super::host_api::PluginData;
use crate::runtime::component::{self, ComponentError, World};
use crate::runtime::{ArtifactCache, logging};
use crate::wit::bindings::HandlerPre;
use crate::wit::bindings::roster::coordination::coordinator;
use roster_types::plugin_stats::PluginEvent;

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

/// Where compiled plugins (handlers, and drivers checked with [`PluginHost::check_driver`])
/// are cached.
///
/// There is no `Default`: a program says whether it caches. Programs that load plugins
/// ([`PluginHostOptions::user_cache`]: the daemon, `roster plugin check`, the monitor's
/// demo) cache in the user's cache directory unless told otherwise, so a JavaScript or
/// Python handler compiles once (seconds) and then loads in milliseconds. A driver that a
/// coordinator runs (`get_coordinator("redis://...")`) is given no options: it is compiled
/// once per process and kept in memory, and nothing is written to disk.
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

/// Runs plugins: owns the handler world's linkers and the cache choice; the engine is the
/// process's (the `runtime` module), shared by every plugin and driver.
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
    pub(crate) cache: ArtifactCache,
    pub(crate) events: broadcast::Sender<PluginEvent>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("cache_dir", &self.inner.cache.dir())
            .finish_non_exhaustive()
    }
}

impl PluginHost {
    /// Set up the runtime (the process's engine and epoch ticker, on first use), build the
    /// handler linkers and open the cache directory.
    ///
    /// # Errors
    /// [`PluginError::Engine`] if wasmtime rejects the configuration, the epoch ticker cannot
    /// be started or the cache directory cannot be created.
    pub fn new(options: PluginHostOptions) -> Result<Self, PluginError> {
        let engine_error = |e: wasmtime::Error| PluginError::Engine(format!("{e:#}"));
        let engine = crate::runtime::engine()
            .map_err(|e| PluginError::Engine(e.to_string()))?
            .clone();
        let mut bare_linker = Linker::new(&engine);
        logging::add_to_linker(&mut bare_linker, |data: &mut PluginData| &mut data.log)
            .map_err(engine_error)?;
        coordinator::add_to_linker::<PluginData, HasSelf<PluginData>>(&mut bare_linker, |data| {
            data
        })
        .map_err(engine_error)?;
        let mut wasi_linker = bare_linker.clone();
        wasmtime_wasi::p2::add_to_linker_async(&mut wasi_linker).map_err(engine_error)?;
        let cache = ArtifactCache::open(options.cache_dir.clone()).map_err(|e| {
            let dir = options.cache_dir.unwrap_or_default();
            PluginError::Engine(format!("cache directory {}: {e}", dir.display()))
        })?;
        let (events, _) = broadcast::channel(1024);
        Ok(Self {
            inner: Arc::new(HostInner {
                engine,
                bare_linker,
                wasi_linker,
                cache,
                events,
            }),
        })
    }

    /// The directory compiled components are cached in, if any.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.cache.dir()
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
        let linked = self
            .cache
            .load(&self.engine, &World::HANDLER, &bytes, |component| {
                let link = |e: wasmtime::Error| component::link_error(&e);
                let pre = self
                    .linker_for(component)
                    .instantiate_pre(component)
                    .map_err(link)?;
                HandlerPre::new(pre).map_err(link)
            })
            .map_err(|problem| PluginError::Rejected {
                path: path.to_owned(),
                problem,
            })?;
        Ok(Loaded {
            pre: linked.pre,
            cached: linked.cached,
            took: start.elapsed(),
        })
    }
}
