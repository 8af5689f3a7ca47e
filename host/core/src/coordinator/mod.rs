//! [`Coordinator`]: tooz's coordination API for one member.
//!
//! A coordinator acts for one member id against one backend store. Between `start` and `stop`
//! it holds a session in the store: its memberships and candidacies belong to that session,
//! live as long as it heartbeats, and go when it stops (R7) or expires (R6). So do the
//! locks it holds ([`Lock`]).

mod backend;
mod call_queue;
mod driven;
mod embedded;
mod heartbeat;
mod locks;
mod operation;
mod watchers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use heartbeat::{Heartbeat, HeartbeatStatus};
pub use locks::{Blocking, Lock};
pub use operation::{Operation, OperationFuture};
pub use watchers::WatchId;
use watchers::{Callback, WatchKind, Watchers, boxed_async};

use backend::Backend;
use driven::Driven;
use embedded::Embedded;

use crate::backend_url::BackendUrl;
use crate::driver::mirror::Mirror;
use crate::driver::{Driver, SessionKey};
use crate::engine::stream::EventStream;
use crate::engine::{Engine, GroupSummary, Leader, MemberInfo, registry};
use roster_types::GroupWithMembers;
use roster_types::error::{CoordinationError, Result};
use roster_types::event::{Event, LeaderElected, MemberJoined, MemberLeft, Revision};
use roster_types::ids::{Capabilities, GroupId, GroupName, MemberId};

impl Coordinator {
    /// A coordinator for `member_id` on the process's embedded store `url` names (a
    /// `memory://` URL), made on first use. The coordinator is not started.
    ///
    /// # Errors
    /// [`CoordinationError::InvalidUrl`] when the store exists with another store-wide option
    /// than `url` names.
    pub fn on_embedded_store(url: BackendUrl, member_id: MemberId) -> Result<Self> {
        let engine = registry::store_for(&url)?;
        Ok(Self::embedded(url, engine, member_id))
    }

    /// A coordinator for `member_id` on a store outside the process that `url` names, reached
    /// through the process's mirror of that store. The driver comes from `connect`, called
    /// only if the process has no mirror of the store yet: coordinators of one store share
    /// one driver. The coordinator is not started.
    ///
    /// # Errors
    /// What `connect` returns; [`CoordinationError::InvalidUrl`] when the mirror exists with
    /// another store-wide option than `url` names.
    pub fn on_driver_store(
        url: BackendUrl,
        member_id: MemberId,
        connect: impl FnOnce() -> Result<Arc<dyn Driver>>,
    ) -> Result<Self> {
        let mirror = Mirror::shared(&url, || Ok(Mirror::new(connect()?, url.history_size)))?;
        Ok(Self::driven(url, mirror, member_id))
    }

    /// A coordinator for `member_id` on a store replaying `recording`, with a mirror of its
    /// own (a recording is nobody else's store). The coordinator is not started.
    pub fn on_recording(recording: Arc<crate::driver::Recording>, member_id: MemberId) -> Self {
        let mut url =
            BackendUrl::parse("memory://recording").expect("a fixed memory:// URL is valid");
        url.kind = crate::backend_url::BackendKind::Driver {
            name: "recording".to_owned(),
            endpoint: crate::backend_url::Endpoint::Address(String::new()),
            component: None,
            options: Vec::new(),
        };
        url.store = format!("recording:{}", uuid::Uuid::new_v4());
        let mirror = Mirror::new(recording, url.history_size);
        Self::driven(url, mirror, member_id)
    }

    /// A coordinator on the embedded store `engine`.
    fn embedded(url: BackendUrl, engine: Arc<Engine>, member_id: MemberId) -> Self {
        let (watchers, notice) = (Arc::default(), Notice::default());
        let backend = Embedded::new(
            Arc::clone(&engine),
            Arc::clone(&watchers),
            Arc::clone(&notice),
        );
        let backend = Box::new(backend);
        Self::new(url, engine, backend, None, watchers, notice, member_id)
    }

    /// A coordinator on a driver's store, of which `mirror` is the process's copy.
    fn driven(url: BackendUrl, mirror: Arc<Mirror>, member_id: MemberId) -> Self {
        let (watchers, notice) = (Arc::default(), Notice::default());
        let engine = Arc::clone(&mirror.engine);
        let backend = Box::new(Driven::new(Arc::clone(&mirror), Arc::clone(&notice)));
        Self::new(
            url,
            engine,
            backend,
            Some(mirror),
            watchers,
            notice,
            member_id,
        )
    }

    fn new(
        url: BackendUrl,
        engine: Arc<Engine>,
        backend: Box<dyn Backend>,
        mirror: Option<Arc<Mirror>>,
        watchers: Arc<Mutex<Watchers>>,
        notice: Notice,
        member_id: MemberId,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                member_id,
                url,
                engine,
                backend,
                mirror,
                lifecycle: tokio::sync::Mutex::new(()),
                heart: Mutex::new(None),
                heartbeat_status: Arc::new(Mutex::new(HeartbeatStatus::default())),
                watchers,
                dispatching: tokio::sync::Mutex::new(()),
                notice,
                lock_gates: locks::Gates::default(),
            }),
        }
    }

    /// A new (not started) coordinator for `member_id` on the same store, with its own
    /// session and membership timeout (how the daemon gives each network session its TTL).
    /// On a driver's store it shares this process's mirror and driver.
    pub fn for_member(&self, member_id: MemberId, membership_timeout: Duration) -> Self {
        let mut url = self.inner.url.clone();
        url.membership_timeout = membership_timeout;
        match &self.inner.mirror {
            Some(mirror) => Self::driven(url, Arc::clone(mirror), member_id),
            None => Self::embedded(url, Arc::clone(&self.inner.engine), member_id),
        }
    }

    /// Whether the store lives in this process (the embedded backend).
    pub fn is_embedded(&self) -> bool {
        self.inner.mirror.is_none()
    }

    /// Whether this coordinator's session has expired (its memberships are gone) and has
    /// not heartbeat since. False when not started.
    pub fn has_expired(&self) -> bool {
        self.inner.backend.has_expired()
    }

    /// The oldest revision the store's history still holds.
    pub fn oldest_revision(&self) -> Revision {
        self.inner.engine.read(|state| state.history.oldest())
    }

    /// The oldest revision the history this coordinator reads still holds and the newest,
    /// read together: the store's own on the embedded backend, its mirror's on a driver's.
    pub fn history_window(&self) -> (Revision, Revision) {
        self.inner
            .engine
            .read(|state| (state.history.oldest(), state.history.head()))
    }

    /// The changes from revision `from` on, at most `max`, appended to `out`, and the
    /// newest revision, read together from the history this coordinator reads (see
    /// [`Coordinator::history_window`]). Needs no session: it reads what every coordinator
    /// of the store sees.
    ///
    /// # Errors
    /// [`CoordinationError::HistoryLost`] when changes from `from` on are no longer kept
    /// (nothing is appended then).
    pub fn read_history(
        &self,
        from: Revision,
        max: usize,
        out: &mut Vec<Event>,
    ) -> (Result<()>, Revision) {
        self.inner.engine.read(|state| {
            let head = state.history.head();
            (state.history.read_from(from, max, out), head)
        })
    }

    /// Completes at the next change to that history (call `enable` on the pinned future
    /// before reading, so a change in between is not missed).
    pub fn history_changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.engine.changed()
    }

    /// [`Coordinator::read_history`] for a reader positioned in a history `generation` (see
    /// [`StoreState::generation`]): `HistoryLost` when the history has been replaced since.
    ///
    /// # Errors
    /// [`CoordinationError::HistoryLost`] as for [`Coordinator::read_history`], and when
    /// `generation` is no longer the current one.
    pub fn read_history_in(
        &self,
        generation: u64,
        from: Revision,
        max: usize,
        out: &mut Vec<Event>,
    ) -> (Result<()>, Revision) {
        self.inner.engine.read(|state| {
            let head = state.history.head();
            (state.history.read_in(generation, from, max, out), head)
        })
    }

    /// The groups `include` selects, with their members, capabilities and leaders, read at
    /// one revision of the history this coordinator reads: where a reader of the history
    /// starts, or starts over after `HistoryLost`. Needs no session.
    pub fn read_state(&self, include: impl Fn(&GroupId) -> bool) -> StoreState {
        self.inner.engine.read(|state| StoreState {
            generation: state.history.generation(),
            revision: state.history.head(),
            groups: state
                .groups()
                .into_iter()
                .filter(|group| include(group))
                .map(|group| GroupState {
                    members: state
                        .members_with_capabilities(group.as_str())
                        .unwrap_or_default(),
                    leader: state.leader(group.as_str()).ok().flatten(),
                    group,
                })
                .collect(),
        })
    }

    /// Identifies the store: a store of the same name made anew (a restarted process) has
    /// another id, and its revisions start over. For a store behind a driver, empty until the
    /// coordinator first started.
    pub fn store_id(&self) -> String {
        self.inner.backend.store_id()
    }

    /// Every group with its members (at most `max_members` of each, in id order), read at
    /// one revision (returned too).
    pub fn snapshot(&self, max_members: usize) -> Operation<(Revision, Vec<GroupWithMembers>)> {
        Operation::ready(self.started().map(|()| {
            self.inner.engine.read(|state| {
                let groups = state.snapshot(tokio::time::Instant::now(), max_members);
                (state.history.head(), groups)
            })
        }))
    }

    /// The backend URL this coordinator was made from.
    pub fn backend_url(&self) -> &BackendUrl {
        &self.inner.url
    }

    /// The store's name (the backend URL without its options).
    pub fn store_name(&self) -> &str {
        &self.inner.url.store
    }
}

/// What [`Coordinator::read_state`] read.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreState {
    /// Which history the revision belongs to. It changes when the history a coordinator
    /// reads is replaced (a driver's store that lost its data, a daemon that restarted), so
    /// a reader that carries it into [`Coordinator::read_history_in`] learns of the loss.
    pub generation: u64,
    /// The revision the state was read at.
    pub revision: Revision,
    /// The groups asked for, in id order.
    pub groups: Vec<GroupState>,
}

/// One group in a [`StoreState`].
#[derive(Clone, Debug, PartialEq)]
pub struct GroupState {
    /// The group.
    pub group: GroupId,
    /// Its members with their capabilities.
    pub members: Vec<(MemberId, Capabilities)>,
    /// Its leader, if any.
    pub leader: Option<Leader>,
}

/// Group membership, capabilities, watchers and leader election for one member.
///
/// Cheap to clone: clones share the member, its session and its callbacks. Dropping every
/// clone without `stop` is what a crash looks like to the store: the background heartbeat
/// ends with the last clone, and the member's groups and candidacies go when its membership
/// timeout passes, with `expired` as the reason.
#[derive(Clone)]
pub struct Coordinator {
    inner: Arc<Inner>,
}

struct Inner {
    member_id: MemberId,
    url: BackendUrl,
    /// The store itself (embedded backend), or the mirror of its history (a driver's store):
    /// what watchers, streams and snapshots read.
    engine: Arc<Engine>,
    /// Where calls go: the embedded store, or a driver's store through the call queue.
    backend: Box<dyn Backend>,
    /// The process's mirror of a driver's store (none for the embedded backend): what a
    /// coordinator for another member of the same store shares.
    mirror: Option<Arc<Mirror>>,
    /// Serialises `start` and `stop`.
    lifecycle: tokio::sync::Mutex<()>,
    heart: Mutex<Option<tokio::task::JoinHandle<()>>>,
    heartbeat_status: Arc<Mutex<HeartbeatStatus>>,
    /// The callbacks (shared with the backend, which stands again where election callbacks
    /// are held, R5).
    watchers: Arc<Mutex<Watchers>>,
    /// Serialises `run_watchers`, so each event reaches each callback once and in order
    /// (held while asynchronous callbacks are awaited).
    dispatching: tokio::sync::Mutex<()>,
    /// An expiry notice (R6) that the call which met it could not return:
    /// `watch_elected_as_leader` registers its callback and stands whatever the session's
    /// state (on a driver's store it returns before the store answers), so it leaves the
    /// notice here for the next `heartbeat` or join to return.
    notice: Notice,
    /// One gate per lock name, so the tasks sharing this coordinator take turns.
    lock_gates: locks::Gates,
}

/// Where an undelivered expiry notice waits (see `Inner::notice`).
pub(crate) type Notice = Arc<Mutex<Option<CoordinationError>>>;

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("member_id", &self.inner.member_id)
            .field("store", &self.inner.url.store)
            .field("started", &self.is_started())
            .finish()
    }
}

/// `WatchCallbackNotFound` for `group`, or `InvalidId` when `group` is not a valid id.
fn watch_not_found(group: &str) -> CoordinationError {
    match GroupId::new(group) {
        Ok(group) => CoordinationError::WatchCallbackNotFound(group),
        Err(invalid) => invalid,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Coordinator {
    /// The newest revision known to be in the store as of `state`: the history's head or,
    /// on a driver's store, a newer one a change returned before the feed brought it.
    fn known_head(&self, state: &crate::engine::State) -> Revision {
        self.inner.backend.known_head(state)
    }

    /// The history generation of `state` and the known head: where a watcher registered
    /// now starts.
    fn history_position(&self, state: &crate::engine::State) -> (u64, Revision) {
        (state.history.generation(), self.known_head(state))
    }
}

impl Coordinator {
    /// The member this coordinator acts for.
    pub fn member_id(&self) -> &MemberId {
        &self.inner.member_id
    }

    /// The membership timeout: how long this member lives without a heartbeat.
    pub fn membership_timeout(&self) -> Duration {
        self.inner.url.membership_timeout
    }

    /// Whether the coordinator is started (tooz's `is_started`).
    pub fn is_started(&self) -> bool {
        self.inner.backend.is_started()
    }

    fn started(&self) -> Result<()> {
        if self.is_started() {
            Ok(())
        } else {
            Err(CoordinationError::NotStarted)
        }
    }

    /// Hand a call to the backend once the checks every backend makes first have passed:
    /// started, then valid ids (`args`).
    fn call<V, T: Send + 'static>(
        &self,
        args: Result<V>,
        call: impl FnOnce(&dyn Backend, V) -> Operation<T>,
    ) -> Operation<T> {
        match self.started().and(args) {
            Ok(args) => call(self.inner.backend.as_ref(), args),
            Err(error) => Operation::ready(Err(error)),
        }
    }

    /// Open a session in the store and keep it alive with a background heartbeat until
    /// `stop` (tooz's `start()`, whose `start_heart` Roster turns on by default). The same as
    /// `start_with(Heartbeat::Background)`.
    ///
    /// # Errors
    /// [`CoordinationError::AlreadyStarted`] if it is started.
    pub async fn start(&self) -> Result<()> {
        self.start_with(Heartbeat::Background).await
    }

    /// Open a session in the store (tooz's `start(start_heart=...)`). With
    /// [`Heartbeat::Background`] a task heartbeats every half membership timeout until
    /// `stop`; with [`Heartbeat::Manual`] the caller calls `heartbeat()`. Callbacks
    /// registered with `watch_elected_as_leader` before a `stop` stand for election again.
    ///
    /// # Errors
    /// [`CoordinationError::AlreadyStarted`] if it is started.
    pub async fn start_with(&self, heartbeat: Heartbeat) -> Result<()> {
        let _guard = self.inner.lifecycle.lock().await;
        if self.is_started() {
            return Err(CoordinationError::AlreadyStarted);
        }
        let elections = lock(&self.inner.watchers).election_groups();
        // A notice is about the session it was met in; a new session starts without one.
        lock(&self.inner.notice).take();
        self.inner
            .backend
            .start(&self.inner.member_id, self.membership_timeout(), &elections)
            .await?;
        self.keep_alive(heartbeat);
        tracing::debug!(member = %self.inner.member_id, store = %self.inner.url.store, "started");
        Ok(())
    }

    /// Go on with a session of this store that another coordinator opened for the same
    /// member, given its [`Coordinator::session_key`]: how a daemon takes over the client of
    /// another daemon serving the same store. Nothing changes in the store; it answers for
    /// the session at the next call (`SessionExpired` if it is gone). The member's groups,
    /// capabilities and the elections it leads are read from the process's copy of the
    /// store, to be established again should the store be replaced.
    ///
    /// # Errors
    /// [`CoordinationError::AlreadyStarted`] if it is started; `NotImplemented` on the
    /// embedded store, whose sessions live in one process; the driver's when the store
    /// cannot be read.
    pub async fn resume(&self, key: SessionKey, heartbeat: Heartbeat) -> Result<()> {
        let _guard = self.inner.lifecycle.lock().await;
        if self.is_started() {
            return Err(CoordinationError::AlreadyStarted);
        }
        lock(&self.inner.notice).take();
        self.inner
            .backend
            .resume(&self.inner.member_id, key)
            .await?;
        self.keep_alive(heartbeat);
        tracing::debug!(member = %self.inner.member_id, store = %self.inner.url.store, "resumed");
        Ok(())
    }

    /// The key of this coordinator's session in a driver's store, for
    /// [`Coordinator::resume`]; `None` on the embedded store and when not started.
    pub fn session_key(&self) -> Option<SessionKey> {
        self.inner.backend.session_key()
    }

    /// On a driver's store, fill the history this coordinator reads (the process's copy of
    /// the store, which starts at the store's head) with the changes the store made before,
    /// as far back as both keep: what a daemon does when it starts, so that clients resuming
    /// from older revisions, through it or from another daemon of the store, go on without a
    /// resync. Nothing to do on the embedded store.
    ///
    /// # Errors
    /// `NotStarted` before `start`; the driver's when the store cannot be read.
    pub async fn fill_history(&self) -> Result<()> {
        self.started()?;
        match &self.inner.mirror {
            Some(mirror) => mirror.fill_history(self.inner.url.history_size).await,
            None => Ok(()),
        }
    }

    /// The store's newest revision, asked of the store itself: a driver's store answers over
    /// its connection, so this fails when the store cannot be reached (what a readiness probe
    /// wants to know), and the difference from [`Coordinator::head_revision`] is how far this
    /// process's copy of the store is behind it. The embedded store is this process.
    ///
    /// # Errors
    /// The driver's, when the store does not answer.
    pub async fn store_revision(&self) -> Result<Revision> {
        match &self.inner.mirror {
            Some(mirror) => mirror.driver().head().await,
            None => Ok(self.head_revision()),
        }
    }

    /// The counters of the driver this coordinator's store is reached through (`None` on the
    /// embedded store).
    pub fn driver_stats(&self) -> Option<crate::driver::DriverStats> {
        self.inner
            .mirror
            .as_ref()
            .map(|mirror| mirror.driver().stats())
    }

    /// Wait until the history this coordinator reads holds `revision` (a driver's store's
    /// mirror may be behind the store), at most a few seconds; returns whether it does.
    pub async fn wait_for_revision(&self, revision: Revision) -> bool {
        match &self.inner.mirror {
            Some(mirror) => mirror.catch_up(revision).await,
            None => self.inner.engine.read(|state| state.history.head()) >= revision,
        }
    }

    /// Start the background heartbeat when `heartbeat` asks for it.
    fn keep_alive(&self, heartbeat: Heartbeat) {
        if heartbeat == Heartbeat::Background {
            let task = heartbeat::spawn(Arc::downgrade(&self.inner), self.membership_timeout());
            *lock(&self.inner.heart) = Some(task);
        }
    }

    /// Leave every group, give up every candidacy and close the session (tooz's `stop`),
    /// before returning (R7). Registered callbacks are kept for a later `start`.
    ///
    /// # Errors
    /// [`CoordinationError::NotStarted`] if it is not started.
    pub async fn stop(&self) -> Result<()> {
        let _guard = self.inner.lifecycle.lock().await;
        self.started()?;
        if let Some(heart) = lock(&self.inner.heart).take() {
            heart.abort();
        }
        self.inner.backend.stop().await?;
        tracing::debug!(member = %self.inner.member_id, "stopped");
        Ok(())
    }

    /// Refresh this member's liveness; returns the time before it would expire (tooz's
    /// `heartbeat`). The background task calls this for you.
    ///
    /// Heartbeats do not queue behind the coordinator's other calls on a driver's store.
    ///
    /// # Errors
    /// [`CoordinationError::SessionExpired`] once after the member expired (listing the groups
    /// and candidacies it lost), unless a join told it first; the session is live again
    /// afterwards, standing again wherever an election callback is held (R5, R6).
    /// `NotStarted` before `start`.
    pub async fn heartbeat(&self) -> Result<Duration> {
        self.started()?;
        let beat = self.inner.backend.heartbeat().await;
        let notice = lock(&self.inner.notice).take();
        match (beat, notice) {
            (Ok(_), Some(notice)) => Err(notice),
            (beat, _) => beat,
        }
    }

    /// What the background heartbeat task has done so far (R11).
    pub fn heartbeat_status(&self) -> HeartbeatStatus {
        lock(&self.inner.heartbeat_status).clone()
    }

    /// Create an empty group.
    ///
    /// Fails with `GroupAlreadyExist`, or `InvalidId`.
    pub fn create_group(&self, group: &str) -> Operation<()> {
        self.call(GroupName::new(group), |backend, g| backend.create_group(g))
    }

    /// Delete an empty group; leadership in it ends.
    ///
    /// Fails with `GroupNotCreated` or `GroupNotEmpty`.
    pub fn delete_group(&self, group: &str) -> Operation<()> {
        self.call(GroupName::new(group), |backend, g| backend.delete_group(g))
    }

    /// Every group, sorted by id (only real groups, R9).
    pub fn get_groups(&self) -> Operation<Vec<GroupId>> {
        self.call(Ok(()), |backend, ()| backend.groups())
    }

    /// Every group with its member count, leader and latest change, sorted by id, read at
    /// one revision (returned too).
    pub fn get_group_summaries(&self) -> Operation<(Revision, Vec<GroupSummary>)> {
        self.call(Ok(()), |backend, ()| backend.group_summaries())
    }

    /// Join `group` without capabilities (tooz's `join_group(group)`).
    ///
    /// Fails with `GroupNotCreated`, `MemberAlreadyExist` (changing nothing, R8), or
    /// `SessionExpired` once after the member expired (R6).
    pub fn join_group(&self, group: &str) -> Operation<()> {
        self.join_group_with(group, Capabilities::none())
    }

    /// Join `group` with `capabilities` (tooz's `join_group(group, capabilities)`).
    ///
    /// Fails with `GroupNotCreated`, `MemberAlreadyExist` (changing nothing, R8),
    /// `CapabilitiesTooLarge`, or `SessionExpired` once after the member expired (R6).
    pub fn join_group_with(
        &self,
        group: &str,
        capabilities: impl Into<Capabilities>,
    ) -> Operation<()> {
        let capabilities = capabilities.into();
        self.call(GroupName::new(group), |backend, g| {
            backend.join(g, capabilities, false)
        })
    }

    /// Join `group` without capabilities, creating it first if it does not exist (tooz's
    /// `join_group_create(group)`).
    ///
    /// # Errors
    /// As [`Coordinator::join_group_create_with`].
    pub async fn join_group_create(&self, group: &str) -> Result<()> {
        self.join_group_create_with(group, Capabilities::none())
            .await
    }

    /// Join `group` with `capabilities`, creating it first if it does not exist (tooz's
    /// `join_group_create`).
    ///
    /// # Errors
    /// `MemberAlreadyExist`, `CapabilitiesTooLarge`, `InvalidId`, or `SessionExpired` once
    /// after the member expired (R6; the group is not created then).
    pub async fn join_group_create_with(
        &self,
        group: &str,
        capabilities: impl Into<Capabilities>,
    ) -> Result<()> {
        let capabilities = capabilities.into();
        self.call(GroupName::new(group), |backend, g| {
            backend.join(g, capabilities, true)
        })
        .await
    }

    /// Leave `group`.
    ///
    /// Fails with `GroupNotCreated` when the group does not exist, `MemberNotJoined` when
    /// this member is not in it (R1), or `MemberExpired` once if it was removed by expiry.
    pub fn leave_group(&self, group: &str) -> Operation<()> {
        self.call(GroupName::new(group), |backend, g| backend.leave(g))
    }

    /// The members of `group`, in no particular order.
    ///
    /// On a driver's store this reads the store's head, waits until the process's mirror has
    /// every change up to it, and lists the members from the mirror: as current as a read at
    /// the store, without moving the whole member list (ten thousand members in about a
    /// millisecond, where the store's own listing takes from several to hundreds). If the
    /// mirror cannot catch up (its feed is behind), the store lists them.
    pub fn get_members(&self, group: &str) -> Operation<Vec<MemberId>> {
        self.call(GroupName::new(group), |backend, g| backend.members(g))
    }

    /// The capabilities `member` joined `group` with (or last updated to).
    ///
    /// Fails with `GroupNotCreated` or `MemberNotJoined` (R1).
    pub fn get_member_capabilities(&self, group: &str, member: &str) -> Operation<Capabilities> {
        self.call(
            GroupName::new(group).and_then(|g| Ok((g, MemberId::new(member)?))),
            |backend, (g, m)| backend.member_info(g, m).map(|info| info.capabilities),
        )
    }

    /// Every member of `group` with its capabilities.
    pub fn get_members_with_capabilities(
        &self,
        group: &str,
    ) -> Operation<HashMap<MemberId, Capabilities>> {
        self.call(GroupName::new(group), |backend, g| {
            backend.members_info(g).map(|members| {
                members
                    .into_iter()
                    .map(|(member, info)| (member, info.capabilities))
                    .collect()
            })
        })
    }

    /// Capabilities, join and update times, and revision of `member` in `group`.
    pub fn get_member_info(&self, group: &str, member: &str) -> Operation<MemberInfo> {
        self.call(
            GroupName::new(group).and_then(|g| Ok((g, MemberId::new(member)?))),
            |backend, (g, m)| backend.member_info(g, m),
        )
    }

    /// [`Coordinator::get_member_info`] for every member of `group` at once.
    ///
    /// Fails with `GroupNotCreated`.
    pub fn get_members_info(&self, group: &str) -> Operation<HashMap<MemberId, MemberInfo>> {
        self.call(GroupName::new(group), |backend, g| backend.members_info(g))
    }

    /// Replace this member's capabilities in `group`; watchers see a
    /// [`Event::CapabilitiesUpdated`] (R8).
    pub fn update_capabilities(
        &self,
        group: &str,
        capabilities: impl Into<Capabilities>,
    ) -> Operation<()> {
        let capabilities = capabilities.into();
        self.call(GroupName::new(group), |backend, g| {
            backend.update_capabilities(g, capabilities)
        })
    }

    /// The leader of `group` and its term, if it has one.
    pub fn get_leader(&self, group: &str) -> Operation<Option<Leader>> {
        self.call(GroupName::new(group), |backend, g| backend.leader(g))
    }

    /// Give up leadership of `group` if this member holds it: it goes to the back of the
    /// candidates and the next one is elected (this member again if it is alone). Returns
    /// whether it was the leader.
    pub fn stand_down_group_leader(&self, group: &str) -> Operation<bool> {
        self.call(GroupName::new(group), |backend, g| backend.stand_down(g))
    }

    /// The newest revision of the store this coordinator knows of: every change it made
    /// is at or before it.
    pub fn head_revision(&self) -> Revision {
        self.inner.engine.read(|state| self.known_head(state))
    }

    /// Every change from revision `from` on, as an async stream that waits for new changes
    /// at the head. Yields [`CoordinationError::HistoryLost`] when `from` is older than what
    /// the store keeps.
    ///
    /// With `from` `None`, the stream starts after every change this coordinator knew of when
    /// called and after the changes its own earlier calls make (on a driver's store some may
    /// still be queued; it then starts after the last of them): a change another coordinator
    /// makes once this returns is in it, unless one of those queued calls takes effect later.
    ///
    /// # Errors
    /// `NotStarted` before `start`.
    pub fn subscribe(&self, from: Option<Revision>) -> Result<EventStream> {
        self.started()?;
        Ok(match from {
            None => self.inner.backend.subscribe_from_now(),
            Some(from) => EventStream::new(Arc::clone(&self.inner.engine), from),
        })
    }

    fn watch(&self, group: &str, from: Option<Revision>, callback: Callback) -> Result<WatchId> {
        self.started()?;
        let (group_id, (generation, head)) = self.inner.engine.read(|state| {
            Ok::<_, CoordinationError>((state.group_exists(group)?, self.history_position(state)))
        })?;
        let seen = from.map_or(head, |from| from.saturating_sub(1).min(head));
        Ok(lock(&self.inner.watchers).add(group_id, (generation, seen), callback))
    }

    fn unwatch(&self, group: &str, kind: WatchKind, id: WatchId) -> Result<()> {
        if lock(&self.inner.watchers).remove(group, kind, id) {
            return Ok(());
        }
        Err(watch_not_found(group))
    }

    /// Call `callback` from `run_watchers` for every member that joins `group` from now on.
    ///
    /// # Errors
    /// `GroupNotCreated` (nothing is registered), `NotStarted`.
    pub fn watch_join_group(
        &self,
        group: &str,
        callback: impl FnMut(&MemberJoined) + Send + 'static,
    ) -> Result<WatchId> {
        self.watch(group, None, Callback::Join(Box::new(callback)))
    }

    /// [`Coordinator::watch_join_group`] with an asynchronous callback: it is handed this
    /// coordinator and the event, and `run_watchers` awaits the future it returns before
    /// offering anything to the next callback, so it can await coordination calls:
    ///
    /// ```no_run
    /// # async fn example(coordinator: roster_core::Coordinator) -> roster_types::Result<()> {
    /// coordinator.watch_join_group_async("workers", |c, event| async move {
    ///     let members = c.get_members(event.group_id.as_str()).await.unwrap_or_default();
    ///     println!("{} joined; {} members now", event.member_id, members.len());
    /// })?;
    /// # Ok(()) }
    /// ```
    ///
    /// Removed with [`Coordinator::unwatch_join_group`]. A callback must not call
    /// `run_watchers` itself (it would wait for itself).
    ///
    /// # Errors
    /// `GroupNotCreated` (nothing is registered), `NotStarted`.
    pub fn watch_join_group_async<F, Fut>(&self, group: &str, callback: F) -> Result<WatchId>
    where
        F: FnMut(Coordinator, MemberJoined) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.watch(group, None, Callback::AsyncJoin(boxed_async(callback)))
    }

    /// Remove a join callback.
    ///
    /// # Errors
    /// `WatchCallbackNotFound` if `id` is not a join callback of `group`.
    pub fn unwatch_join_group(&self, group: &str, id: WatchId) -> Result<()> {
        self.unwatch(group, WatchKind::Join, id)
    }

    /// Call `callback` from `run_watchers` for every member that leaves `group` from now on,
    /// whatever the reason (left, expired, ...).
    ///
    /// # Errors
    /// `GroupNotCreated` (nothing is registered), `NotStarted`.
    pub fn watch_leave_group(
        &self,
        group: &str,
        callback: impl FnMut(&MemberLeft) + Send + 'static,
    ) -> Result<WatchId> {
        self.watch(group, None, Callback::Leave(Box::new(callback)))
    }

    /// [`Coordinator::watch_leave_group`] with an asynchronous callback (see
    /// [`Coordinator::watch_join_group_async`]); removed with `unwatch_leave_group`.
    ///
    /// # Errors
    /// `GroupNotCreated` (nothing is registered), `NotStarted`.
    pub fn watch_leave_group_async<F, Fut>(&self, group: &str, callback: F) -> Result<WatchId>
    where
        F: FnMut(Coordinator, MemberLeft) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.watch(group, None, Callback::AsyncLeave(boxed_async(callback)))
    }

    /// Remove a leave callback.
    ///
    /// # Errors
    /// `WatchCallbackNotFound` if `id` is not a leave callback of `group`.
    pub fn unwatch_leave_group(&self, group: &str, id: WatchId) -> Result<()> {
        self.unwatch(group, WatchKind::Leave, id)
    }

    /// Call `callback` from `run_watchers` for every change to `group` (every
    /// [`Event`] kind) after revision `from - 1`, or from now on when `from` is `None`.
    /// Starting from an older revision replays history, joins of present members included.
    ///
    /// # Errors
    /// `GroupNotCreated` (nothing is registered), `NotStarted`.
    pub fn watch_group(
        &self,
        group: &str,
        from: Option<Revision>,
        callback: impl FnMut(&Event) + Send + 'static,
    ) -> Result<WatchId> {
        self.watch(group, from, Callback::Any(Box::new(callback)))
    }

    /// [`Coordinator::watch_group`] with an asynchronous callback (see
    /// [`Coordinator::watch_join_group_async`]); removed with `unwatch_group`.
    ///
    /// # Errors
    /// `GroupNotCreated` (nothing is registered), `NotStarted`.
    pub fn watch_group_async<F, Fut>(
        &self,
        group: &str,
        from: Option<Revision>,
        callback: F,
    ) -> Result<WatchId>
    where
        F: FnMut(Coordinator, Event) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.watch(group, from, Callback::AsyncAny(boxed_async(callback)))
    }

    /// Remove a `watch_group` callback.
    ///
    /// # Errors
    /// `WatchCallbackNotFound` if `id` is not such a callback of `group`.
    pub fn unwatch_group(&self, group: &str, id: WatchId) -> Result<()> {
        self.unwatch(group, WatchKind::Any, id)
    }

    /// Stand for election in `group` and call `callback` from `run_watchers` each time this
    /// member is elected. Having at least one such callback is being a candidate; the first
    /// candidate is elected at once, the others in the order they stood (R5).
    ///
    /// On a session that had expired it registers and stands all the same (reopening the
    /// session, and standing again wherever a callback is held); the expiry notice is then
    /// returned by the next `heartbeat` or join (R6).
    ///
    /// # Errors
    /// `GroupNotCreated` (no implicit creation; nothing is registered), `NotStarted`.
    pub fn watch_elected_as_leader(
        &self,
        group: &str,
        callback: impl FnMut(&LeaderElected) + Send + 'static,
    ) -> Result<WatchId> {
        self.watch_elected(group, Callback::Elected(Box::new(callback)))
    }

    /// [`Coordinator::watch_elected_as_leader`] with an asynchronous callback (see
    /// [`Coordinator::watch_join_group_async`]): stands for election the same way; removed
    /// with `unwatch_elected_as_leader`.
    ///
    /// # Errors
    /// `GroupNotCreated` (no implicit creation; nothing is registered), `NotStarted`.
    pub fn watch_elected_as_leader_async<F, Fut>(&self, group: &str, callback: F) -> Result<WatchId>
    where
        F: FnMut(Coordinator, LeaderElected) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.watch_elected(group, Callback::AsyncElected(boxed_async(callback)))
    }

    /// Register an election callback and stand for election in `group`.
    fn watch_elected(&self, group: &str, callback: Callback) -> Result<WatchId> {
        self.started()?;
        let (group_id, head) = self.inner.engine.read(|state| {
            Ok::<_, CoordinationError>((state.group_exists(group)?, self.history_position(state)))
        })?;
        self.inner.backend.stand(group_id.clone())?;
        Ok(lock(&self.inner.watchers).add(group_id, head, callback))
    }

    /// Remove an election callback. Removing the last one withdraws the candidacy: a
    /// leader resigns and the next candidate is elected.
    ///
    /// # Errors
    /// `WatchCallbackNotFound` if `id` is not an election callback of `group`.
    pub fn unwatch_elected_as_leader(&self, group: &str, id: WatchId) -> Result<()> {
        let mut watchers = lock(&self.inner.watchers);
        if !watchers.remove(group, WatchKind::Elected, id) {
            return Err(watch_not_found(group));
        }
        if watchers.count(group, WatchKind::Elected) == 0
            && self.is_started()
            && let Ok(group_id) = GroupId::new(group)
        {
            self.inner.backend.withdraw(group_id);
        }
        Ok(())
    }

    /// How many callbacks watch `group` for joins, leaves, elections and every change, in
    /// that order.
    pub fn watch_counts(&self, group: &str) -> [usize; 4] {
        let watchers = lock(&self.inner.watchers);
        [
            WatchKind::Join,
            WatchKind::Leave,
            WatchKind::Elected,
            WatchKind::Any,
        ]
        .map(|kind| watchers.count(group, kind))
    }

    /// Hand every change since the last run to the callbacks that listen to it, in revision
    /// order (tooz's `run_watchers`, R2/R4). Returns the events delivered, one per callback
    /// call.
    ///
    /// # Errors
    /// `HistoryLost` when callbacks fell so far behind that the store dropped events they had
    /// not seen. Everything still kept has been delivered by then; only the changes between
    /// `requested` and `oldest` are missing, so resync with `get_members` and carry on.
    /// `NotStarted` before `start`.
    pub async fn run_watchers(&self) -> Result<Vec<Event>> {
        self.started()?;
        self.inner.backend.settle().await?;
        let _serial = self.inner.dispatching.lock().await;
        let mut delivered = Vec::new();
        let mut lost = None;
        loop {
            let (dispatch, generation, from) = {
                let watchers = lock(&self.inner.watchers);
                let Some((generation, from)) = watchers.oldest_unseen() else {
                    break;
                };
                (watchers.dispatch(), generation, from)
            };
            let mut events = Vec::new();
            let (read, generation) = self.inner.engine.read(|state| {
                let read = state
                    .history
                    .read_in(generation, from, 1024, &mut events)
                    .map(|()| state.history.head());
                (read, state.history.generation())
            });
            let head = match read {
                Ok(head) => head,
                Err(CoordinationError::HistoryLost { oldest, .. }) => {
                    let mut watchers = lock(&self.inner.watchers);
                    // Callbacks of a replaced store's history start over in the new one's.
                    let requested = watchers.rebase(generation, oldest).unwrap_or(from);
                    watchers.mark_seen(oldest - 1);
                    lost = Some(CoordinationError::HistoryLost { requested, oldest });
                    continue;
                }
                Err(other) => return Err(other),
            };
            let Some(last) = events.last().map(Event::revision) else {
                break;
            };
            delivered.extend(dispatch.run(&events, self).await);
            lock(&self.inner.watchers).mark_seen(last);
            if last >= head {
                break;
            }
        }
        match lost {
            Some(error) => Err(error),
            None => Ok(delivered),
        }
    }
}
