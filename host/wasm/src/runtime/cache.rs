//! Loading a component, for either world: checked, compiled (or read from the cache of
//! compiled artifacts), checked again, linked, and cached.
//!
//! Compiling is most of a load: tens of milliseconds for a small Rust guest, seconds for a
//! JavaScript or Python interpreter. So a file is first checked against its world without
//! compiling anything ([`World::check`]), and a compiled component is kept on disk, named by
//! a hash of the file's bytes and of the engine's compatibility settings, so the next load
//! of the same file (by this process or another) only maps it in. A component is written to
//! the cache only once it has passed every check, linking included, so the cache never holds
//! a refused file; a cached artifact that cannot be used is discarded and compiled anew.
//!
//! Handlers and drivers share the cache: one engine, one compatibility hash, one directory.
//! Where the cache is is the caller's choice ([`crate::plugin::PluginHostOptions`]); without
//! one ([`ArtifactCache::none`]) a component is compiled at every load and nothing is written.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::component::{self, ComponentError, World};

/// A directory of compiled components, or none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArtifactCache {
    dir: Option<PathBuf>,
}

/// A component loaded by [`ArtifactCache::load`]: linked (`pre`), and whether the compiled
/// form came from the cache.
pub(crate) struct Linked<P> {
    /// What linking made of it (a pre-instantiated component of its world).
    pub(crate) pre: P,
    /// True when the compiled component came from the cache.
    pub(crate) cached: bool,
}

impl ArtifactCache {
    /// No cache: compile at every load, write nothing.
    pub(crate) fn none() -> Self {
        Self { dir: None }
    }

    /// The cache in `dir`, created if missing.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub(crate) fn open(dir: Option<PathBuf>) -> std::io::Result<Self> {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Self { dir })
    }

    /// The directory compiled components are kept in, if any.
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Load the component `bytes` for `world`: check it against the world before compiling
    /// it, compile it (or fetch it from the cache), admit it again by its compiled shape, and
    /// `link` it; a newly compiled component is cached only once linked.
    ///
    /// # Errors
    /// The first problem found, in one line.
    pub(crate) fn load<P>(
        &self,
        engine: &Engine,
        world: &World,
        bytes: &[u8],
        link: impl FnOnce(&Component) -> Result<P, ComponentError>,
    ) -> Result<Linked<P>, ComponentError> {
        let artifact = self
            .dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.cwasm", cache_key(engine, bytes))));
        let (component, cached) = match artifact.as_deref().and_then(|a| cached(engine, a)) {
            Some(component) => (component, true),
            None => {
                world.check(bytes)?;
                let component =
                    Component::new(engine, bytes).map_err(|e| component::compile_error(&e))?;
                (component, false)
            }
        };
        // A cached component passed this when it was cached; it is cheap, and the rules may
        // have changed since.
        world.admit(&component::shape_of(engine, &component))?;
        let pre = link(&component)?;
        if let (Some(artifact), false) = (artifact, cached) {
            store_in_cache(&artifact, &component);
        }
        Ok(Linked { pre, cached })
    }
}

/// The compiled component cached at `artifact`, if there is a usable one.
fn cached(engine: &Engine, artifact: &Path) -> Option<Component> {
    if !artifact.exists() {
        return None;
    }
    // SAFETY: `deserialize_file` trusts its input to be wasmtime's own output. The artifact
    // was written by `serialize` in `store_in_cache` into the cache directory, under a name
    // that hashes both the component's bytes and the engine's compatibility settings; a file
    // another wasmtime version wrote fails cleanly with an error.
    #[allow(unsafe_code)]
    let loaded = unsafe { Component::deserialize_file(engine, artifact) };
    match loaded {
        Ok(component) => Some(component),
        Err(error) => {
            tracing::warn!(artifact = %artifact.display(), %error, "discarding unusable cached artifact");
            let _ = std::fs::remove_file(artifact);
            None
        }
    }
}

/// Write `component` to the cache at `artifact` (through a temporary file, so a reader never
/// sees half an artifact). Failing to cache is logged, not an error.
fn store_in_cache(artifact: &Path, component: &Component) {
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

/// The artifact's name: the component's SHA-256 and the engine's compatibility hash.
fn cache_key(engine: &Engine, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{:016x}", hasher.finish())
}
