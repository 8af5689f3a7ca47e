//! The handler runtime: one task per handler plugin, owning its store, pushing it events in
//! revision order.
//!
//! The task reads the store's history from its own position, so a slow or failing handler
//! delays nobody: coordination calls and other handlers never wait for it. Its queue is the
//! distance between its position and the head; beyond `queue_events` (or when the history
//! it needs is gone) it is given a snapshot to resync from instead of silently missing events.
//!
//! A trap or a deadline overrun fails that call: the store is discarded and the plugin is
//! instantiated again from its pre-instantiated form. The batch is then delivered again one
//! event at a time, so that a poison event (one the plugin faults on every time) costs only
//! itself: an event that faults twice on its own is skipped and reported by revision, and the
//! events after it go on in a batch. A plugin that faults repeatedly is quarantined with a
//! growing backoff. Every fault is a [`PluginEvent`].

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use wasmtime::Store;

use super::counters::Counters;
use super::host::{HostInner, Loaded, PluginError, PluginHost};
use super::host_api::PluginData;
use super::limits::{Grants, Limits};
use crate::runtime::component::describe_trap;
use crate::wit::bindings::exports::roster::coordination::events as guest;
use crate::wit::bindings::{Handler, HandlerPre};
use crate::wit::wit_types as w;
use roster_core::Coordinator;
use roster_types::event::{Event, EventKind, Revision};
use roster_types::ids::GroupId;
use roster_types::plugin_stats::{
    FaultReason, PluginEvent, PluginEventKind, PluginState, PluginStats,
};

/// Faults within this window count towards quarantine.
const FAULT_WINDOW: Duration = Duration::from_secs(10);
/// Faults within the window that send a plugin to quarantine.
const FAULTS_BEFORE_QUARANTINE: usize = 3;
const FIRST_QUARANTINE: Duration = Duration::from_secs(1);
const LONGEST_QUARANTINE: Duration = Duration::from_secs(60);
/// How often the plugin file is checked for a new version.
const RELOAD_POLL: Duration = Duration::from_millis(250);

/// A handler to attach: which component, which events, with what grants and limits.
#[derive(Clone, Debug)]
pub struct HandlerSpec {
    /// Name in logs, events and statistics.
    pub name: String,
    /// The component file.
    pub path: PathBuf,
    /// Groups whose events it receives; empty for every group.
    pub groups: Vec<GroupId>,
    /// Kinds of events it receives; empty for every kind.
    pub kinds: Vec<EventKind>,
    /// What it may do beyond the sandbox.
    pub grants: Grants,
    /// How much it may use.
    pub limits: Limits,
    /// Swap in a new version when the file changes.
    pub hot_reload: bool,
}

impl HandlerSpec {
    /// A handler for every event, with no grants and default limits.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
            groups: Vec::new(),
            kinds: Vec::new(),
            grants: Grants::default(),
            limits: Limits::default(),
            hot_reload: false,
        }
    }

    fn wants(&self, event: &Event) -> bool {
        (self.groups.is_empty() || event.group_id().is_some_and(|g| self.groups.contains(g)))
            && (self.kinds.is_empty() || self.kinds.contains(&event.kind()))
    }

    fn watches(&self, group: &GroupId) -> bool {
        self.groups.is_empty() || self.groups.contains(group)
    }
}

/// A running handler; dropping it leaves the handler running, [`HandlerHandle::detach`]
/// stops it.
#[derive(Debug)]
pub struct HandlerHandle {
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// How the component was loaded at attach time.
    pub load: LoadInfo,
}

/// How a component was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadInfo {
    /// Whether the compiled artifact came from the cache.
    pub cached: bool,
    /// Time to load (read, compile or fetch, validate, pre-instantiate).
    pub took: Duration,
}

impl HandlerHandle {
    /// The handler's counters.
    pub fn stats(&self) -> PluginStats {
        self.counters.snapshot()
    }

    /// Events delivered so far: [`PluginStats::events_delivered`] without computing the
    /// latency percentiles, for tight polling.
    pub fn events_delivered(&self) -> u64 {
        self.counters.update(|s| s.events_delivered)
    }

    /// The handler's most recent log lines (`level: message`), oldest first.
    pub fn logs(&self) -> Vec<String> {
        self.counters.logs()
    }

    /// Wait until the handler has handled every change through `revision` (delivered it,
    /// or skipped it as not its concern): the handler's call that took it has returned.
    pub async fn wait_handled(&self, revision: Revision) {
        self.counters.wait_handled(revision).await;
    }

    /// Let the handler catch up to revision `until` (at most for `patience`), then detach
    /// it: how a host shutting down lets its plugins see the last changes. Returns whether
    /// it caught up.
    pub async fn drain(self, until: Revision, patience: Duration) -> bool {
        let caught_up = tokio::time::timeout(patience, self.wait_handled(until))
            .await
            .is_ok();
        self.detach().await;
        caught_up
    }

    /// Stop the handler: it finishes the call in progress, if any, and receives nothing more.
    pub async fn detach(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl PluginHost {
    /// Load `spec`'s component, validate it against the handler world and start delivering
    /// it events from `coordinator`'s store, beginning with a snapshot of the groups it
    /// watches.
    ///
    /// # Errors
    /// The component cannot be read, is not a valid component, lacks the `events` export,
    /// imports something plugins are not given, or cannot be linked; or a granted directory
    /// cannot be opened.
    pub async fn attach_handler(
        &self,
        coordinator: &Coordinator,
        spec: HandlerSpec,
    ) -> Result<HandlerHandle, PluginError> {
        let start = Instant::now();
        let host = Arc::clone(&self.inner);
        let loaded = load(&host, &spec.path).await?;
        let took = start.elapsed().max(loaded.took);
        log_load(&spec.name, &spec.path, loaded.cached, took);
        let counters = Arc::new(Counters::new(&spec.name));
        counters.update(|s| {
            s.loaded_from_cache = loaded.cached;
            s.load_time = took;
        });
        // Fail now, not in the task, if a granted directory cannot be opened.
        PluginData::new(
            spec.name.as_str().into(),
            coordinator.clone(),
            &spec.grants,
            &spec.limits,
            Arc::clone(&counters),
        )
        .map_err(|e| PluginError::Grant {
            path: spec.grants.directory.clone().unwrap_or_default(),
            message: format!("{e:#}"),
        })?;
        let (stop, stopped) = watch::channel(false);
        let modified = modified(&spec.path);
        // The handler starts from the state as it is now, whenever its task gets to run.
        let (generation, initial) = snapshot(coordinator, &spec);
        let actor = Actor {
            host,
            coordinator: coordinator.clone(),
            name: spec.name.as_str().into(),
            counters: Arc::clone(&counters),
            pre: loaded.pre,
            instance: None,
            restart_pending: false,
            next: initial.revision + 1,
            generation,
            needs_resync: true,
            pending_snapshot: Some(initial),
            faults: VecDeque::new(),
            quarantine: FIRST_QUARANTINE,
            modified,
            stopped,
            spec,
        };
        let task = tokio::spawn(actor.run());
        Ok(HandlerHandle {
            counters,
            stop,
            task,
            load: LoadInfo {
                cached: loaded.cached,
                took,
            },
        })
    }
}

impl PluginHost {
    /// Attach every handler of a configuration file to `coordinator`; `base` is the file's
    /// directory, against which its paths are resolved.
    ///
    /// # Errors
    /// The first handler that cannot be attached; those attached before it are detached.
    pub async fn attach_config(
        &self,
        coordinator: &Coordinator,
        config: &super::PluginConfig,
        base: &std::path::Path,
    ) -> Result<Vec<HandlerHandle>, PluginError> {
        let mut handles = Vec::new();
        for spec in config.handler_specs(base) {
            match self.attach_handler(coordinator, spec).await {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    for handle in handles {
                        handle.detach().await;
                    }
                    return Err(error);
                }
            }
        }
        Ok(handles)
    }
}

/// Load a handler component on a blocking thread (compiling takes a while).
async fn load(host: &Arc<HostInner>, path: &std::path::Path) -> Result<Loaded, PluginError> {
    let host = Arc::clone(host);
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || host.load(&path))
        .await
        .map_err(|e| PluginError::Engine(format!("loader task failed: {e}")))?
}

/// Say how a plugin was loaded: operators see whether the cache is doing its job.
fn log_load(name: &str, path: &std::path::Path, cached: bool, took: Duration) {
    let from = if cached { "the cache" } else { "a compile" };
    tracing::info!(plugin = %name, path = %path.display(), cached, ?took, "plugin loaded from {from}");
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// What became of one call into the plugin.
enum Outcome {
    Ok,
    /// The plugin returned an error (already counted and logged); the call itself completed.
    Refused,
    Fault(FaultReason),
}

struct Actor {
    host: Arc<HostInner>,
    coordinator: Coordinator,
    name: Arc<str>,
    counters: Arc<Counters>,
    spec: HandlerSpec,
    pre: HandlerPre<PluginData>,
    instance: Option<(Store<PluginData>, Handler)>,
    /// The last call faulted: the next instantiation is a restart.
    restart_pending: bool,
    /// The next revision the plugin needs.
    next: Revision,
    /// The history generation `next` belongs to: a replaced store means a resync.
    generation: u64,
    needs_resync: bool,
    /// The snapshot taken when the handler was attached (in history `generation`),
    /// delivered first.
    pending_snapshot: Option<guest::Resync>,
    faults: VecDeque<Instant>,
    quarantine: Duration,
    modified: Option<SystemTime>,
    stopped: watch::Receiver<bool>,
}

impl Actor {
    fn emit(&self, kind: PluginEventKind) {
        match &kind {
            PluginEventKind::Fault { reason, revisions } => {
                tracing::warn!(plugin = %self.name, %reason, ?revisions, "plugin fault");
            }
            PluginEventKind::EventSkipped { revision } => {
                tracing::warn!(plugin = %self.name, revision, "event skipped: it faulted twice on its own");
            }
            other => tracing::info!(plugin = %self.name, event = ?other, "plugin event"),
        }
        let _ = self.host.events.send(PluginEvent {
            plugin: self.name.to_string(),
            at: SystemTime::now(),
            kind,
        });
    }

    async fn run(mut self) {
        let mut reload_tick = tokio::time::interval(RELOAD_POLL);
        reload_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopped = self.stopped.clone();
        loop {
            if self.stopping() {
                break;
            }
            // Listen before looking, so a change between the look and the wait is not missed.
            let coordinator = self.coordinator.clone();
            let changed = coordinator.history_changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.step().await {
                continue;
            }
            tokio::select! {
                () = changed => {}
                _ = stopped.changed() => {}
                _ = reload_tick.tick(), if self.spec.hot_reload => self.reload_if_changed().await,
            }
        }
        self.counters.update(|s| s.state = PluginState::Stopped);
        self.emit(PluginEventKind::Stopped);
    }

    /// Deliver what is due. Returns false when there is nothing to do until the store changes.
    async fn step(&mut self) -> bool {
        let mut raw = Vec::new();
        let (result, head) = self.coordinator.read_history_in(
            self.generation,
            self.next,
            self.spec.limits.batch_events,
            &mut raw,
        );
        let behind = head.saturating_sub(self.next.saturating_sub(1));
        self.counters.update(|s| s.queue_depth = behind);
        if self.needs_resync || result.is_err() || behind > self.spec.limits.queue_events as u64 {
            return self.resync().await;
        }
        let Some(last) = raw.last().map(Event::revision) else {
            return false;
        };
        let (revisions, events): (Vec<Revision>, Vec<w::MembershipEvent>) = raw
            .iter()
            .filter(|e| self.spec.wants(e))
            .map(|e| (e.revision(), w::MembershipEvent::from(e)))
            .unzip();
        if self.deliver(&revisions, &events).await {
            self.advance_to(last + 1);
        }
        true
    }

    /// Deliver `events` (with their `revisions`) in order. A call that faults is not repeated
    /// as it was: its events go again one at a time until one faults twice on its own, which
    /// is skipped and reported; the events after it go on as a batch. Returns false when the
    /// plugin was detached part-way (everything before `self.next` is handled).
    async fn deliver(&mut self, revisions: &[Revision], events: &[w::MembershipEvent]) -> bool {
        /// How the events from `start` on are being delivered.
        enum Mode {
            /// All in one call.
            Batch,
            /// One per call, since a batch faulted; `faulted` when the event at `start`
            /// already faulted once on its own.
            Single { faulted: bool },
        }
        let mut start = 0;
        let mut mode = Mode::Batch;
        while start < events.len() {
            let end = match mode {
                Mode::Batch => events.len(),
                Mode::Single { .. } => start + 1,
            };
            let outcome = self.call(Call::Events(&events[start..end])).await;
            let span = (revisions[start], revisions[end - 1]);
            match (outcome, &mode) {
                (Outcome::Ok, _) => {
                    self.counters
                        .update(|s| s.events_delivered += (end - start) as u64);
                }
                (Outcome::Refused, _) => {}
                (Outcome::Fault(reason), Mode::Single { faulted: true }) => {
                    // The same event again: one failure, counted once towards quarantine.
                    self.fault(reason, span, false);
                    self.counters.update(|s| s.events_skipped += 1);
                    self.emit(PluginEventKind::EventSkipped { revision: span.0 });
                    mode = Mode::Batch;
                }
                (Outcome::Fault(reason), _) => {
                    self.fault(reason, span, true);
                    // A single event's call is that event's first attempt.
                    mode = Mode::Single {
                        faulted: end - start == 1,
                    };
                    self.quarantine_if_due().await;
                    if self.stopping() {
                        self.advance_to(revisions[start]);
                        return false;
                    }
                    continue;
                }
            }
            start = end;
            if let Mode::Single { faulted } = &mut mode {
                *faulted = false;
            }
            if start < events.len() {
                self.advance_to(span.1 + 1);
                if self.stopping() {
                    return false;
                }
            }
        }
        true
    }

    /// Everything before `next` is handled (delivered, filtered out, skipped or covered by a
    /// snapshot).
    fn advance_to(&mut self, next: Revision) {
        self.next = next;
        self.counters.handled_through(next - 1);
    }

    async fn resync(&mut self) -> bool {
        let snapshot = match self.pending_snapshot.take() {
            Some(snapshot) => snapshot,
            None => {
                let (generation, snapshot) = snapshot(&self.coordinator, &self.spec);
                self.generation = generation;
                snapshot
            }
        };
        let revision = snapshot.revision;
        loop {
            match self.call(Call::Resync(&snapshot)).await {
                Outcome::Ok | Outcome::Refused => break,
                Outcome::Fault(reason) => {
                    self.fault(reason, (revision, revision), true);
                    self.quarantine_if_due().await;
                    if self.stopping() {
                        return true;
                    }
                }
            }
        }
        self.counters.update(|s| s.resyncs += 1);
        self.emit(PluginEventKind::Resynced { revision });
        self.needs_resync = false;
        self.advance_to(revision + 1);
        true
    }

    /// Record a fault of the call that delivered `revisions`; `counts` when it counts towards
    /// quarantine (a retry of the event that just faulted does not count again).
    fn fault(&mut self, reason: FaultReason, revisions: (Revision, Revision), counts: bool) {
        self.instance = None;
        self.restart_pending = true;
        self.counters.update(|s| match reason {
            FaultReason::Trap(_) => s.traps += 1,
            FaultReason::Deadline(_) => s.deadline_overruns += 1,
        });
        self.emit(PluginEventKind::Fault { reason, revisions });
        if !counts {
            return;
        }
        let now = Instant::now();
        self.faults.push_back(now);
        while self
            .faults
            .front()
            .is_some_and(|t| now.duration_since(*t) > FAULT_WINDOW)
        {
            self.faults.pop_front();
        }
    }

    fn stopping(&self) -> bool {
        *self.stopped.borrow()
    }

    /// If the plugin faulted too often, wait out a quarantine (or until it is detached).
    async fn quarantine_if_due(&mut self) {
        if self.faults.len() < FAULTS_BEFORE_QUARANTINE {
            return;
        }
        let duration = self.quarantine;
        self.quarantine = (self.quarantine * 2).min(LONGEST_QUARANTINE);
        self.faults.clear();
        self.counters.update(|s| {
            s.state = PluginState::Quarantined {
                until: SystemTime::now() + duration,
            }
        });
        self.emit(PluginEventKind::Quarantined { duration });
        let mut stopped = self.stopped.clone();
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            _ = stopped.wait_for(|stop| *stop) => {}
        }
        self.counters.update(|s| s.state = PluginState::Running);
    }

    async fn instance(&mut self) -> Result<&mut (Store<PluginData>, Handler), FaultReason> {
        if self.instance.is_none() {
            let data = PluginData::new(
                Arc::clone(&self.name),
                self.coordinator.clone(),
                &self.spec.grants,
                &self.spec.limits,
                Arc::clone(&self.counters),
            )
            .map_err(|e| FaultReason::Trap(format!("cannot set up the sandbox: {e:#}")))?;
            let mut store =
                crate::runtime::new_store(&self.host.engine, data, |data| &mut data.limits);
            store.set_hostcall_fuel(self.spec.limits.hostcall_bytes);
            let deadline = self.spec.limits.call_deadline;
            let handler = match tokio::time::timeout(
                deadline,
                self.pre.instantiate_async(&mut store),
            )
            .await
            {
                Ok(Ok(handler)) => handler,
                Ok(Err(trap)) => return Err(FaultReason::Trap(describe_trap(&trap))),
                Err(_) => return Err(FaultReason::Deadline(deadline)),
            };
            if std::mem::take(&mut self.restart_pending) {
                self.counters.update(|s| s.restarts += 1);
                self.emit(PluginEventKind::Restarted);
            }
            self.instance = Some((store, handler));
        }
        Ok(self.instance.as_mut().expect("instantiated above"))
    }

    async fn call(&mut self, call: Call<'_>) -> Outcome {
        let deadline = self.spec.limits.call_deadline;
        let started = Instant::now();
        let (store, handler) = match self.instance().await {
            Ok(instance) => instance,
            Err(reason) => return Outcome::Fault(reason),
        };
        let events = handler.roster_coordination_events();
        let result = match call {
            Call::Events(batch) => {
                tokio::time::timeout(deadline, events.call_on_events(&mut *store, batch)).await
            }
            Call::Resync(snapshot) => {
                tokio::time::timeout(deadline, events.call_on_resync(&mut *store, snapshot)).await
            }
        };
        self.counters.record_call(started.elapsed());
        match result {
            Ok(Ok(Ok(()))) => {
                self.quarantine = FIRST_QUARANTINE;
                Outcome::Ok
            }
            Ok(Ok(Err(message))) => {
                tracing::warn!(plugin = %self.name, %message, "handler returned an error");
                self.counters.update(|s| s.errors += 1);
                Outcome::Refused
            }
            Ok(Err(trap)) => Outcome::Fault(FaultReason::Trap(describe_trap(&trap))),
            Err(_) => Outcome::Fault(FaultReason::Deadline(deadline)),
        }
    }

    async fn reload_if_changed(&mut self) {
        let now = modified(&self.spec.path);
        if now.is_none() || now == self.modified {
            return;
        }
        self.modified = now;
        match load(&self.host, &self.spec.path).await {
            Ok(loaded) => {
                log_load(&self.name, &self.spec.path, loaded.cached, loaded.took);
                self.counters.update(|s| {
                    s.loaded_from_cache = loaded.cached;
                    s.load_time = loaded.took;
                });
                self.pre = loaded.pre;
                self.instance = None;
                self.emit(PluginEventKind::Reloaded);
            }
            Err(error) => self.emit(PluginEventKind::ReloadFailed {
                error: error.to_string(),
            }),
        }
    }
}

/// The state `spec` selects, and the history generation it was read in.
fn snapshot(coordinator: &Coordinator, spec: &HandlerSpec) -> (u64, guest::Resync) {
    let state = coordinator.read_state(|group| spec.watches(group));
    let groups = state
        .groups
        .into_iter()
        .map(|g| guest::GroupSnapshot {
            members: g
                .members
                .into_iter()
                .map(|(m, c)| (String::from(m), Vec::from(c)))
                .collect(),
            leader: g.leader.as_ref().map(w::Leader::from),
            group_id: g.group.into(),
        })
        .collect();
    let snapshot = guest::Resync {
        revision: state.revision,
        groups,
    };
    (state.generation, snapshot)
}

enum Call<'a> {
    Events(&'a [w::MembershipEvent]),
    Resync(&'a guest::Resync),
}
