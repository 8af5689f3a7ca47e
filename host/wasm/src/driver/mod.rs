//! Backend drivers as sandboxed Wasm components (world `driver`, `wit/driver.wit`).
//!
//! A driver reaches exactly what its backend URL names and nothing else: TCP connections to
//! the one address of `redis://HOST:PORT` (resolved here, since a sandboxed guest gets no
//! name lookup), or the one directory of `file:///DIR`. Every other socket, file, variable
//! and argument is denied.
//!
//! Each [`WasmDriver`] runs instances of its component, each in a store of its own, called
//! one call at a time, each with its own connection: up to [`CALL_LANES`] for the calls of
//! the process's coordinators (a call goes to the instance with the fewest calls waiting, so
//! one alone always finds the first; each coordinator sends its calls one after another, so
//! they keep their order), and one that polls the change feed, so a poll waiting at the store
//! never holds up a call (a poll that does not wait is a call like the others). A call runs
//! in its caller's own task once its instance is free: no hand-off to another task and back,
//! which on a store a round trip away would cost as much as the Wasm call itself.
//! Instances are made on first use, on the caller's async runtime. A call that traps or overruns its deadline poisons its
//! store; the instance is dropped and made anew from the pre-instantiated component for the
//! next call, which reconnects. The failed call reports
//! [`CoordinationError::Connection`], whose message says which `DriverFault` it was (the
//! log names it in its `fault` field); the host goes on.
//!
//! Drivers run in the runtime handlers run in (`runtime`): the same engine, epoch
//! ticker, `logging` import and loading, so a component is checked against the driver world
//! before it is compiled, by the same rules and with the same one-line messages as handlers,
//! and a file that is not a driver is refused without the cost of compiling it. A driver
//! that a coordinator runs (`get_coordinator("redis://...")`) is compiled once per process and
//! kept in memory, with no cache on disk, since no [`PluginHostOptions`] names one;
//! [`PluginHost::check_driver`] uses its host's cache.
//!
//! [`PluginHostOptions`]: crate::plugin::PluginHostOptions
//! [`PluginHost::check_driver`]: crate::plugin::PluginHost::check_driver

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

mod builtin;
mod fault;

use crate::plugin::{ComponentReport, PluginError, PluginHost};
use crate::runtime::cache::Linked;
use crate::runtime::component::{self, ComponentError, World};
use crate::runtime::logging::{self, GuestLog};
use crate::runtime::{ArtifactCache, EngineError};
use crate::wit::driver_bindings::exports::roster::coordination::backend as b;
use crate::wit::driver_bindings::{Driver as DriverInstance, DriverPre};
use crate::wit::wit_types as w;
use fault::DriverFault;
use roster_core::backend_url::Endpoint;
use roster_core::driver::{Changes, Driver, DriverStats, SessionKey, StoreInfo};
use roster_types::error::CoordinationError;
use roster_types::event::{Event, FencingToken, LockMode, Revision};
use roster_types::ids::{Capabilities, GroupId, MemberId};
use roster_types::{GroupSummary, Leader, LockAttempt, LockInfo, LockStanding, MemberInfo};

type Result<T> = std::result::Result<T, CoordinationError>;

/// What a call into the driver came to: the driver's own answer (`Ok`, which may be an
/// error it returned), or a fault of the driver.
type Answer<T> = std::result::Result<Result<T>, DriverFault>;

/// The longest any call but a feed poll may take inside the driver; a store's membership
/// timeout, when shorter, is its limit (a store that does not answer within the time a member
/// would expire in is reported unreachable).
const CALL_LIMIT: Duration = Duration::from_secs(30);
/// The shortest call limit, however short the membership timeout.
const MIN_CALL_LIMIT: Duration = Duration::from_millis(500);
/// Memory one driver instance may use.
const MEMORY_LIMIT: usize = 64 << 20;
/// Name of the granted directory inside the sandbox.
pub(crate) const GUEST_DIRECTORY: &str = "store";

/// What a driver may reach: the grant its endpoint makes, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reach {
    /// TCP connections to these addresses (one host:port, resolved).
    Address(Vec<SocketAddr>),
    /// This directory, read-write, seen by the guest as [`GUEST_DIRECTORY`].
    Directory(PathBuf),
}

/// Which component to run, where its store is and what it is told at `open`.
#[derive(Clone, Debug)]
pub struct DriverSpec {
    /// The backend's name (`redis`, `file`, ...): the component is `<name>_driver.wasm`
    /// unless `component` names one.
    pub name: String,
    /// The component file, when the URL names one (`?driver=PATH`).
    pub component: Option<PathBuf>,
    /// Where the store is: the one address or directory the driver may reach.
    pub endpoint: Endpoint,
    /// The URL's options for the driver (`open` also gets `address` or `directory`).
    pub options: Vec<(String, String)>,
    /// How long a call may take (see [`DriverSpec::call_limit_for`]).
    pub call_limit: Duration,
}

impl DriverSpec {
    /// The call limit for a store whose members expire after `membership_timeout`: that
    /// timeout, within half a second and thirty seconds (a store that does not answer within
    /// the time a member would expire in is reported unreachable).
    pub fn call_limit_for(membership_timeout: Duration) -> Duration {
        membership_timeout.clamp(MIN_CALL_LIMIT, CALL_LIMIT)
    }
}

/// Environment variable naming the directory drivers are looked for in.
pub const DRIVER_DIR_VARIABLE: &str = "ROSTER_DRIVER_DIR";

/// Where a driver's component comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Source {
    /// A file: named by the URL, or found in the plugin directory.
    File(PathBuf),
    /// Compiled into the host (see [`super::builtin`]), for the backend of this name.
    BuiltIn(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::BuiltIn(name) => write!(f, "built-in {name} driver"),
        }
    }
}

impl DriverSpec {
    /// The component to run: the URL's `driver`, else `<name>_driver.wasm` in
    /// `$ROSTER_DRIVER_DIR`, else in `drivers/` next to the running program, else the
    /// built-in one.
    fn source(&self) -> std::result::Result<Source, DriverFault> {
        if let Some(path) = &self.component {
            return Ok(Source::File(path.clone()));
        }
        let file = format!("{}_driver.wasm", self.name);
        let mut looked = Vec::new();
        let dirs = std::env::var_os(DRIVER_DIR_VARIABLE)
            .map(PathBuf::from)
            .into_iter()
            .chain(
                std::env::current_exe()
                    .ok()
                    .and_then(|exe| exe.parent().map(|dir| dir.join("drivers"))),
            );
        for dir in dirs {
            let path = dir.join(&file);
            if path.is_file() {
                return Ok(Source::File(path));
            }
            looked.push(path.display().to_string());
        }
        if builtin::component(&self.name).is_some() {
            return Ok(Source::BuiltIn(self.name.clone()));
        }
        let built_in = match builtin::missing_because() {
            Some(reason) => format!("this build has no built-in drivers ({reason})"),
            None => format!("no driver for {} is built in", self.name),
        };
        Err(DriverFault::Load(format!(
            "no {} driver component: looked for {}, and {built_in}; name one with \
             ?driver=PATH or set {DRIVER_DIR_VARIABLE}",
            self.name,
            looked.join(", ")
        )))
    }

    /// The grant and the options `open` gets, the address resolved to IP addresses.
    async fn resolve(&self) -> std::result::Result<(Reach, Vec<(String, String)>), DriverFault> {
        let mut options = self.options.clone();
        let reach = match &self.endpoint {
            Endpoint::Address(address) => {
                let resolved: Vec<SocketAddr> = tokio::net::lookup_host(address.as_str())
                    .await
                    .map_err(|e| DriverFault::Setup(format!("cannot resolve {address}: {e}")))?
                    .collect();
                let first = resolved.first().ok_or_else(|| {
                    DriverFault::Setup(format!("{address} resolves to no address"))
                })?;
                options.push(("address".into(), first.to_string()));
                Reach::Address(resolved)
            }
            Endpoint::Directory(dir) => {
                options.push(("directory".into(), GUEST_DIRECTORY.into()));
                Reach::Directory(dir.clone())
            }
        };
        Ok((reach, options))
    }
}

/// The driver world's linker: the imports every world shares (`types`, `logging`) and WASI,
/// whose access each instance's context limits to its grant.
fn linker(engine: &Engine) -> std::result::Result<Linker<DriverData>, EngineError> {
    let mut linker = Linker::new(engine);
    let linked = logging::add_to_linker(&mut linker, |data: &mut DriverData| &mut data.log)
        .and_then(|()| wasmtime_wasi::p2::add_to_linker_async(&mut linker));
    linked.map_err(|e| EngineError::Linker(format!("{e:#}")))?;
    Ok(linker)
}

/// Check `bytes` against the driver world, compile them (or fetch them from `cache`) and
/// link them with `linker`.
fn compile(
    engine: &Engine,
    linker: &Linker<DriverData>,
    cache: &ArtifactCache,
    bytes: &[u8],
) -> std::result::Result<Linked<DriverPre<DriverData>>, ComponentError> {
    cache.load(engine, &World::DRIVER, bytes, |component| {
        let link = |e: wasmtime::Error| component::link_error(&e);
        let pre = linker.instantiate_pre(component).map_err(link)?;
        DriverPre::new(pre).map_err(link)
    })
}

/// The driver components this process runs, each compiled once, by where it came from.
static LOADED: LazyLock<Mutex<HashMap<Source, DriverPre<DriverData>>>> =
    LazyLock::new(Mutex::default);

/// The pre-instantiated component from `source`, compiled once per process. No
/// [`PluginHostOptions`](crate::plugin::PluginHostOptions) name a cache here, so nothing is
/// cached on disk: the library's default for drivers.
fn load(
    engine: &Engine,
    source: &Source,
) -> std::result::Result<DriverPre<DriverData>, DriverFault> {
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(pre) = loaded.get(source) {
        return Ok(pre.clone());
    }
    let bytes: std::borrow::Cow<'static, [u8]> = match source {
        Source::File(path) => std::fs::read(path)
            .map_err(|e| DriverFault::Load(format!("cannot read driver {}: {e}", path.display())))?
            .into(),
        Source::BuiltIn(name) => builtin::component(name)
            .ok_or_else(|| DriverFault::Load(format!("no built-in {name} driver")))?
            .into(),
    };
    let linker = linker(engine).map_err(|e| DriverFault::Setup(e.to_string()))?;
    let pre = compile(engine, &linker, &ArtifactCache::none(), &bytes)
        .map_err(|problem| DriverFault::Load(format!("driver {source}: {problem}")))?
        .pre;
    loaded.insert(source.clone(), pre.clone());
    Ok(pre)
}

/// Check the driver component at `path` as the host would load it, compiling it or fetching
/// it from `cache` (and caching it once it passed): a component of the driver world (checked
/// before compiling) that links with what drivers are given. Returns its imports and exports.
fn check(path: &Path, cache: &ArtifactCache) -> std::result::Result<ComponentReport, PluginError> {
    let engine_error = |e: EngineError| PluginError::Engine(e.to_string());
    let engine = crate::runtime::engine().map_err(engine_error)?;
    let linker = linker(engine).map_err(engine_error)?;
    let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
        path: path.to_owned(),
        source,
    })?;
    let linked =
        compile(engine, &linker, cache, &bytes).map_err(|problem| PluginError::Rejected {
            path: path.to_owned(),
            problem,
        })?;
    Ok(ComponentReport::of(
        engine,
        linked.pre.instance_pre().component(),
    ))
}

impl PluginHost {
    /// Validate a component against the driver world, as a coordinator loads a driver, and
    /// list its imports and exports. Compiled with this host's cache choice: a valid driver
    /// is cached like a handler, so checking with [`PluginHostOptions::user_cache`] caches it
    /// in the user's cache directory and [`PluginHostOptions::no_cache`] writes nothing.
    ///
    /// # Errors
    /// [`PluginError::Read`], or [`PluginError::Rejected`] with the first problem found.
    ///
    /// [`PluginHostOptions::user_cache`]: crate::plugin::PluginHostOptions::user_cache
    /// [`PluginHostOptions::no_cache`]: crate::plugin::PluginHostOptions::no_cache
    pub fn check_driver(&self, path: &Path) -> std::result::Result<ComponentReport, PluginError> {
        check(path, &self.inner.cache)
    }
}

/// Check the driver component at `path` as the host would load it: a component of the
/// driver world (checked before compiling), that links with what drivers are given (the
/// logging import and WASI). Returns its imports and exports, by name. Nothing is cached (as
/// for the drivers a coordinator runs); [`PluginHost::check_driver`] uses its host's cache.
///
/// # Errors
/// [`PluginError::Read`], or [`PluginError::Rejected`] saying what is wrong with it, in one
/// line; [`PluginError::Engine`] when the runtime cannot be set up.
///
/// [`PluginHost::check_driver`]: crate::plugin::PluginHost::check_driver
pub fn check_driver(path: &Path) -> std::result::Result<ComponentReport, PluginError> {
    check(path, &ArtifactCache::none())
}

/// The data of one driver instance's store.
struct DriverData {
    log: GuestLog,
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl DriverData {
    fn new(name: &str, reach: &Reach) -> std::result::Result<Self, DriverFault> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.allow_udp(false).allow_ip_name_lookup(false);
        match reach {
            Reach::Address(allowed) => {
                let allowed = Arc::new(allowed.clone());
                wasi.allow_tcp(true).socket_addr_check(move |addr, usage| {
                    let permitted = match usage {
                        SocketAddrUse::TcpConnect => allowed.contains(&addr),
                        // `connect` first binds implicitly to the wildcard address.
                        SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                        _ => false,
                    };
                    Box::pin(async move { permitted })
                });
            }
            Reach::Directory(dir) => {
                wasi.allow_tcp(false);
                wasi.preopened_dir(dir, GUEST_DIRECTORY, FsPerms::ReadWrite)
                    .map_err(|e| {
                        DriverFault::Setup(format!(
                            "cannot open the store directory {}: {e:#}",
                            dir.display()
                        ))
                    })?;
            }
        }
        Ok(Self {
            log: GuestLog::driver(name.into()),
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(MEMORY_LIMIT)
                .trap_on_grow_failure(true)
                .build(),
        })
    }
}

impl WasiView for DriverData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// One instance of the driver, made (and `open`ed) on first use and after a fault.
struct Slot {
    spec: Arc<DriverSpec>,
    instance: Option<(Store<DriverData>, DriverInstance)>,
    /// The async runtime the instance was made on: its connections are that runtime's.
    runtime: Option<tokio::runtime::Id>,
    counters: Arc<Counters>,
}

/// What every lane of one driver has done, for [`Driver::stats`].
#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    errors: AtomicU64,
    restarts: AtomicU64,
}

type Reply<T> = wasmtime::Result<std::result::Result<T, w::CoordinationError>>;

impl Slot {
    fn trap(&self, error: &wasmtime::Error) -> DriverFault {
        DriverFault::Trap {
            driver: self.spec.name.clone(),
            trap: component::describe_trap(error),
        }
    }

    fn overran(&self, limit: Duration) -> DriverFault {
        DriverFault::Deadline {
            driver: self.spec.name.clone(),
            limit,
        }
    }

    /// The instance, made and opened if there is none. `open`'s own error is the driver's
    /// answer (`Ok(Err(..))`), not a fault: no instance is kept, and the next call tries again.
    ///
    /// An instance made on another async runtime is made anew on the caller's: its
    /// connections answer only while the runtime they were made on runs.
    async fn ready(&mut self) -> Answer<(&mut Store<DriverData>, &DriverInstance)> {
        let here = tokio::runtime::Handle::current().id();
        if self.runtime != Some(here) && self.instance.take().is_some() {
            tracing::debug!(driver = %self.spec.name, "driver instance made again on another async runtime");
        }
        let instance = match self.instance.take() {
            Some(instance) => instance,
            None => match self.open().await? {
                Ok(instance) => {
                    self.runtime = Some(here);
                    instance
                }
                Err(refused) => return Ok(Err(refused)),
            },
        };
        let (store, driver) = self.instance.insert(instance);
        Ok(Ok((store, driver)))
    }

    /// A new instance in a new store, instantiated and opened.
    async fn open(&mut self) -> Answer<(Store<DriverData>, DriverInstance)> {
        let engine = crate::runtime::engine().map_err(|e| DriverFault::Setup(e.to_string()))?;
        let pre = load(engine, &self.spec.source()?)?;
        let (reach, options) = self.spec.resolve().await?;
        let data = DriverData::new(&self.spec.name, &reach)?;
        let mut store = crate::runtime::new_store(engine, data, |data| &mut data.limits);
        let limit = self.spec.call_limit;
        let driver = tokio::time::timeout(limit, pre.instantiate_async(&mut store))
            .await
            .map_err(|_| self.overran(limit))?
            .map_err(|e| self.trap(&e))?;
        let opened = tokio::time::timeout(
            limit,
            driver
                .roster_coordination_backend()
                .call_open(&mut store, &options),
        )
        .await
        .map_err(|_| self.overran(limit))?
        .map_err(|e| self.trap(&e))?;
        if let Err(refused) = opened {
            let refused = self.answer(refused)?;
            tracing::warn!(driver = %self.spec.name, error = %refused, "driver could not open its store");
            return Ok(Err(refused));
        }
        Ok(Ok((store, driver)))
    }

    /// The coordination error the driver returned, or a fault if it is not a valid one.
    fn answer(
        &self,
        error: w::CoordinationError,
    ) -> std::result::Result<CoordinationError, DriverFault> {
        CoordinationError::try_from(error).map_err(|invalid| DriverFault::BadData {
            driver: self.spec.name.clone(),
            what: "error",
            problem: invalid.to_string(),
        })
    }
}

/// Log a fault of `driver`, with its kind in the field `fault`, and turn it into the
/// coordination error the caller sees.
fn report(driver: &str, fault: DriverFault) -> CoordinationError {
    let kind = fault.kind();
    if fault.poisons_instance() {
        tracing::warn!(driver, fault = kind, error = %fault, "driver instance dropped");
    } else {
        tracing::warn!(driver, fault = kind, error = %fault, "driver call failed");
    }
    fault.into()
}

/// Most instances serving coordinators' calls at once, each with its own connection.
pub const CALL_LANES: usize = 4;

/// One instance and the calls waiting for it, each run in its caller's own task.
struct Lane {
    /// The instance, held by one call at a time (waiters served in arrival order).
    slot: tokio::sync::Mutex<Slot>,
    /// Calls waiting for the instance or running in it.
    pending: AtomicUsize,
}

/// Counts a call as pending for as long as its caller awaits it.
struct Pending<'a>(&'a AtomicUsize);

impl<'a> Pending<'a> {
    fn count(pending: &'a AtomicUsize) -> Self {
        pending.fetch_add(1, Ordering::Relaxed);
        Self(pending)
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The instance held by a running call. A call whose future is dropped before it ends
/// (its caller gave up) may have left the guest half-way through a request on its
/// connection: the instance goes with it, and the next call makes it anew.
struct Running<'a> {
    slot: tokio::sync::MutexGuard<'a, Slot>,
    finished: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.finished && self.slot.instance.take().is_some() {
            tracing::debug!(driver = %self.slot.spec.name, "driver call abandoned; instance dropped");
        }
    }
}

/// The lanes for coordinators' calls.
struct Lanes(Vec<Lane>);

impl Lanes {
    fn new(spec: &Arc<DriverSpec>, counters: &Arc<Counters>) -> Self {
        Self(
            (0..CALL_LANES)
                .map(|_| Lane::new(Arc::clone(spec), Arc::clone(counters)))
                .collect(),
        )
    }

    /// The lane with the fewest calls waiting (the first of those).
    fn pick(&self) -> &Lane {
        self.0
            .iter()
            .min_by_key(|lane| lane.pending.load(Ordering::Relaxed))
            .unwrap_or(&self.0[0])
    }
}

impl Lane {
    fn new(spec: Arc<DriverSpec>, counters: Arc<Counters>) -> Self {
        Self {
            slot: tokio::sync::Mutex::new(Slot {
                spec,
                instance: None,
                runtime: None,
                counters,
            }),
            pending: AtomicUsize::new(0),
        }
    }

    /// Run one export call with a deadline, in the caller's task once the instance is
    /// free; a trap or an overrun drops the instance.
    async fn call<T, F>(&self, limit: Duration, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(
                &'a b::Guest,
                &'a mut Store<DriverData>,
            ) -> Pin<Box<dyn Future<Output = Reply<T>> + Send + 'a>>
            + Send
            + 'static,
    {
        let _pending = Pending::count(&self.pending);
        let mut running = Running {
            slot: self.slot.lock().await,
            finished: false,
        };
        let slot = &mut *running.slot;
        let answer: Answer<T> = match slot.ready().await {
            Err(fault) => Err(fault),
            Ok(Err(refused)) => Ok(Err(refused)),
            Ok(Ok((store, driver))) => {
                let guest = driver.roster_coordination_backend();
                match tokio::time::timeout(limit, call(guest, store)).await {
                    Ok(Ok(Ok(value))) => Ok(Ok(value)),
                    Ok(Ok(Err(error))) => slot.answer(error).map(Err),
                    Ok(Err(trap)) => Err(slot.trap(&trap)),
                    Err(_) => Err(slot.overran(limit)),
                }
            }
        };
        slot.counters.calls.fetch_add(1, Ordering::Relaxed);
        let result = answer.unwrap_or_else(|fault| {
            slot.counters.errors.fetch_add(1, Ordering::Relaxed);
            if fault.poisons_instance() && slot.instance.take().is_some() {
                slot.counters.restarts.fetch_add(1, Ordering::Relaxed);
            }
            Err(report(&slot.spec.name, fault))
        });
        running.finished = true;
        result
    }
}

/// A backend reached through a driver component.
pub struct WasmDriver {
    spec: Arc<DriverSpec>,
    calls: Lanes,
    feed: Lane,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for WasmDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmDriver")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl WasmDriver {
    /// The driver `spec` names. Nothing is loaded or connected yet: the component is found
    /// and compiled, and the store reached, by the first call (whose error says what failed).
    pub fn new(spec: DriverSpec) -> Self {
        let spec = Arc::new(spec);
        let counters = Arc::default();
        Self {
            calls: Lanes::new(&spec, &counters),
            feed: Lane::new(Arc::clone(&spec), Arc::clone(&counters)),
            spec,
            counters,
        }
    }

    /// The driver returned a `what` the host rejects (`error` says why): a fault, reported.
    fn invalid(&self, what: &'static str, error: &CoordinationError) -> CoordinationError {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        report(
            &self.spec.name,
            DriverFault::BadData {
                driver: self.spec.name.clone(),
                what,
                problem: error.to_string(),
            },
        )
    }

    fn valid_group_id(&self, id: String) -> Result<GroupId> {
        GroupId::new(id).map_err(|e| self.invalid("group id", &e))
    }

    fn valid_group_ids(&self, ids: Vec<String>) -> Result<Vec<GroupId>> {
        ids.into_iter().map(|id| self.valid_group_id(id)).collect()
    }

    fn valid_member_id(&self, id: String) -> Result<MemberId> {
        MemberId::new(id).map_err(|e| self.invalid("member id", &e))
    }

    fn valid_leader(&self, leader: Option<w::Leader>) -> Result<Option<Leader>> {
        leader
            .map(Leader::try_from)
            .transpose()
            .map_err(|e| self.invalid("leader", &e))
    }

    fn valid_events(&self, events: Vec<w::MembershipEvent>) -> Result<Vec<Event>> {
        events
            .into_iter()
            .map(|e| Event::try_from(e).map_err(|e| self.invalid("event", &e)))
            .collect()
    }
}

/// Bind `$args` by value and make the boxed call future `$body` over `guest` and `store`.
macro_rules! call {
    ($lane:expr, $limit:expr, |$guest:ident, $store:ident| $body:expr) => {
        $lane
            .call(
                $limit,
                move |$guest: &b::Guest, $store: &mut Store<DriverData>| {
                    Box::pin(async move { $body.await })
                },
            )
            .await
    };
}

#[async_trait]
impl Driver for WasmDriver {
    async fn describe(&self) -> Result<StoreInfo> {
        let info = call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_describe(s))?;
        Ok(StoreInfo {
            store_id: info.store_id,
            head: info.head,
            groups: self.valid_group_ids(info.groups)?,
        })
    }

    async fn head(&self) -> Result<Revision> {
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_head(s))
    }

    async fn open_session(&self, member: &MemberId, ttl: Duration) -> Result<SessionKey> {
        let member = member.to_string();
        let ttl = roster_types::api::millis(ttl);
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_open_session(s, &member, ttl))
    }

    async fn close_session(&self, session: &str) -> Result<Revision> {
        let session = session.to_owned();
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_close_session(s, &session))
    }

    async fn heartbeat(&self, session: &str) -> Result<Duration> {
        let session = session.to_owned();
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_heartbeat(s, &session))
        .map(Duration::from_millis)
    }

    async fn create_group(&self, group: &str) -> Result<Revision> {
        let group = group.to_owned();
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_create_group(s, &group))
    }

    async fn delete_group(&self, group: &str) -> Result<Revision> {
        let group = group.to_owned();
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_delete_group(s, &group))
    }

    async fn groups(&self) -> Result<Vec<GroupId>> {
        self.valid_group_ids(call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_groups(s))?)
    }

    async fn group_summaries(&self) -> Result<(Revision, Vec<GroupSummary>)> {
        let (revision, summaries) = call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_group_summaries(s))?;
        let summaries = summaries
            .into_iter()
            .map(|summary| {
                Ok(GroupSummary {
                    group_id: self.valid_group_id(summary.group_id)?,
                    members: usize::try_from(summary.members).unwrap_or(usize::MAX),
                    leader: self.valid_leader(summary.leader)?,
                    last_change: summary.last_change,
                })
            })
            .collect::<Result<_>>()?;
        Ok((revision, summaries))
    }

    async fn join(
        &self,
        session: &str,
        group: &str,
        capabilities: Capabilities,
        create: bool,
    ) -> Result<Revision> {
        let (session, group) = (session.to_owned(), group.to_owned());
        let capabilities = Vec::from(capabilities);
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g.call_join(
            s,
            &session,
            &group,
            &capabilities,
            create
        ))
    }

    async fn leave(&self, session: &str, group: &str) -> Result<Revision> {
        let (session, group) = (session.to_owned(), group.to_owned());
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_leave(s, &session, &group))
    }

    async fn update_capabilities(
        &self,
        session: &str,
        group: &str,
        capabilities: Capabilities,
    ) -> Result<Revision> {
        let (session, group) = (session.to_owned(), group.to_owned());
        let capabilities = Vec::from(capabilities);
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_update_capabilities(s, &session, &group, &capabilities))
    }

    async fn members(&self, group: &str) -> Result<Vec<MemberId>> {
        let group = group.to_owned();
        let members = call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_get_members(s, &group))?;
        members
            .into_iter()
            .map(|member| self.valid_member_id(member))
            .collect()
    }

    async fn members_info(&self, group: &str) -> Result<HashMap<MemberId, MemberInfo>> {
        let group = group.to_owned();
        let members = call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_get_members_info(s, &group))?;
        members
            .into_iter()
            .map(|(member, info)| {
                let member = self.valid_member_id(member)?;
                Ok((member, MemberInfo::from(info)))
            })
            .collect()
    }

    async fn member_info(&self, group: &str, member: &str) -> Result<MemberInfo> {
        let (group, member) = (group.to_owned(), member.to_owned());
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_get_member_info(s, &group, &member))
        .map(MemberInfo::from)
    }

    async fn leader(&self, group: &str) -> Result<Option<Leader>> {
        let group = group.to_owned();
        self.valid_leader(call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_get_leader(s, &group))?)
    }

    async fn stand(&self, session: &str, group: &str) -> Result<Revision> {
        let (session, group) = (session.to_owned(), group.to_owned());
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_stand(s, &session, &group))
    }

    async fn withdraw(&self, session: &str, group: &str) -> Result<Revision> {
        let (session, group) = (session.to_owned(), group.to_owned());
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_withdraw(s, &session, &group))
    }

    async fn stand_down(&self, session: &str, group: &str) -> Result<(bool, Revision)> {
        let (session, group) = (session.to_owned(), group.to_owned());
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_stand_down(s, &session, &group))
    }

    async fn acquire_lock(
        &self,
        session: &str,
        lock: &str,
        mode: LockMode,
        wait: bool,
    ) -> Result<(LockAttempt, Revision)> {
        let (session, lock) = (session.to_owned(), lock.to_owned());
        let mode = w::LockMode::from(mode);
        let (attempt, revision) = call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_acquire_lock(s, &session, &lock, mode, wait))?;
        let attempt = match attempt {
            b::LockAttempt::Acquired(token) => LockAttempt::Acquired { token },
            b::LockAttempt::Queued => LockAttempt::Queued,
            b::LockAttempt::Busy => LockAttempt::Busy,
        };
        Ok((attempt, revision))
    }

    async fn release_lock(
        &self,
        session: &str,
        lock: &str,
    ) -> Result<(Option<FencingToken>, Revision)> {
        let (session, lock) = (session.to_owned(), lock.to_owned());
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_release_lock(s, &session, &lock))
    }

    async fn abandon_lock_wait(
        &self,
        session: &str,
        lock: &str,
    ) -> Result<(Option<FencingToken>, Revision)> {
        let (session, lock) = (session.to_owned(), lock.to_owned());
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_abandon_lock_wait(s, &session, &lock))
    }

    async fn break_lock(&self, session: &str, lock: &str) -> Result<(Vec<FencingToken>, Revision)> {
        let (session, lock) = (session.to_owned(), lock.to_owned());
        call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_break_lock(s, &session, &lock))
    }

    async fn lock_standing(&self, session: &str, lock: &str) -> Result<LockStanding> {
        let (session, lock) = (session.to_owned(), lock.to_owned());
        let standing = call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_get_lock_standing(s, &session, &lock))?;
        Ok(match standing {
            b::LockStanding::Holding(hold) => LockStanding::Holding {
                mode: hold.mode.into(),
                token: hold.token,
            },
            b::LockStanding::Waiting(mode) => LockStanding::Waiting { mode: mode.into() },
            b::LockStanding::Neither => LockStanding::Neither,
        })
    }

    async fn lock_info(&self, lock: &str) -> Result<LockInfo> {
        let lock = lock.to_owned();
        let info = call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_get_lock(s, &lock))?;
        LockInfo::try_from(info).map_err(|e| self.invalid("lock", &e))
    }

    async fn locks(&self) -> Result<Vec<LockInfo>> {
        let locks = call!(self.calls.pick(), self.spec.call_limit, |g, s| g
            .call_get_locks(s))?;
        locks
            .into_iter()
            .map(|info| LockInfo::try_from(info).map_err(|e| self.invalid("lock", &e)))
            .collect()
    }

    async fn changes(&self, after: Revision, max: usize, wait: Duration) -> Result<Changes> {
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        let wait_ms = roster_types::api::millis(wait);
        // A poll that may wait has an instance of its own; one that answers at once (a
        // history being filled in) is a call like any other.
        let lane = if wait.is_zero() {
            self.calls.pick()
        } else {
            &self.feed
        };
        let answer = call!(lane, wait + self.spec.call_limit, |g, s| g
            .call_changes(s, after, max, wait_ms))?;
        Ok(match answer {
            b::Feed::Events(batch) => Changes::Events {
                events: self.valid_events(batch.events)?,
                head: batch.head,
                store_id: batch.store_id,
            },
            b::Feed::Resync(gap) => Changes::Resync {
                requested: gap.requested,
                oldest: gap.oldest,
                head: gap.head,
            },
        })
    }

    fn stats(&self) -> DriverStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        DriverStats {
            calls: read(&self.counters.calls),
            errors: read(&self.counters.errors),
            restarts: read(&self.counters.restarts),
        }
    }
}
