//! `--demo`: an embedded Roster host with generated traffic, standing in for a daemon.
//!
//! The first connection starts everything in this process: a `memory://` store, a
//! [`workload`] of members that join, leave, expire, update their capabilities and take
//! turns leading, and a few example Wasm handlers ([`plugins`]), one of which misbehaves.
//! The monitor then reads that store exactly as it would read a daemon: a snapshot, the
//! event stream from a revision on, a fresh snapshot and plugin statistics once a second.

mod plugins;
mod workload;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use roster::plugin::{HandlerHandle, PluginEvent, PluginHost, PluginHostOptions};
use roster::{CoordinationError, Coordinator, EventStream, Revision};
use tokio::sync::broadcast;

use super::{Feed, GroupSnapshot, MemberSnapshot, Snapshot, Source, SourceError, Update};

/// How the demo is set up.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Name of the embedded store (several demos in one process stay apart).
    pub store: String,
    /// Membership timeout of the generated members: how long an expiring one lingers.
    pub timeout: Duration,
    /// Directory holding the example handler components, if they were built.
    pub plugin_dir: Option<PathBuf>,
    /// Seed of the workload's pseudo-random choices (the same seed, the same story).
    pub seed: u64,
    /// Pause between two workload steps.
    pub step: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            store: "demo".to_owned(),
            timeout: Duration::from_secs(5),
            plugin_dir: None,
            seed: 0x5eed,
            step: Duration::from_millis(300),
        }
    }
}

/// The directory of the demo's example handlers as this build made them (`roster-guests`), or
/// `None`, with a warning in the log, when they could not be built.
pub fn built_plugin_dir() -> Option<PathBuf> {
    match roster_guests::missing() {
        None => Some(roster_guests::dir().to_path_buf()),
        Some(reason) => {
            tracing::warn!("the demo runs without plugins: {reason}");
            None
        }
    }
}

/// The embedded demo host as a [`Source`].
#[derive(Debug)]
pub struct DemoSource {
    options: DemoOptions,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    monitor: Coordinator,
    plugins: Option<PluginHost>,
    handles: Arc<Mutex<Vec<HandlerHandle>>>,
    notices: Arc<Mutex<Vec<String>>>,
}

impl DemoSource {
    /// A demo that starts on the first [`Source::connect`].
    pub fn new(options: DemoOptions) -> Self {
        Self {
            options,
            running: None,
        }
    }

    fn url(&self) -> String {
        format!(
            "memory://{}?timeout={}",
            self.options.store,
            self.options.timeout.as_secs().max(1)
        )
    }

    async fn start(&mut self) -> Result<&Running, SourceError> {
        if self.running.is_none() {
            let url = self.url();
            let failed = |e: CoordinationError| SourceError::Connection(e.to_string());
            let monitor = roster::get_coordinator(&url, "roster-tui").map_err(failed)?;
            monitor.start().await.map_err(failed)?;
            for group in workload::GROUPS {
                match monitor.create_group(group).await {
                    Ok(()) | Err(CoordinationError::GroupAlreadyExist(_)) => {}
                    Err(e) => return Err(failed(e)),
                }
            }
            let notices = Arc::new(Mutex::new(Vec::new()));
            let handles = Arc::new(Mutex::new(Vec::new()));
            let plugins = match PluginHost::new(PluginHostOptions {
                cache_dir: PluginHostOptions::default_cache_dir(),
            }) {
                Ok(host) => {
                    plugins::attach_in_background(
                        monitor.clone(),
                        host.clone(),
                        self.options.plugin_dir.clone(),
                        Arc::clone(&handles),
                        Arc::clone(&notices),
                    );
                    Some(host)
                }
                Err(e) => {
                    lock(&notices).push(format!("no plugins: {e}"));
                    None
                }
            };
            tokio::spawn(workload::run(
                url,
                self.options.seed,
                self.options.step,
                self.options.timeout,
            ));
            self.running = Some(Running {
                monitor,
                plugins,
                handles,
                notices,
            });
        }
        Ok(self.running.as_ref().expect("started above"))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Source for DemoSource {
    fn describe(&self) -> String {
        format!("memory://{} (demo)", self.options.store)
    }

    async fn connect(&mut self, from: Option<Revision>) -> Result<Feed, SourceError> {
        let timeout = self.options.timeout;
        let running = self.start().await?;
        // The demo's store is new: a first connection reads its whole history.
        let from = from.unwrap_or(1);
        let events = running
            .monitor
            .subscribe(Some(from))
            .map_err(|e| SourceError::Connection(e.to_string()))?;
        let mut every_second = tokio::time::interval(Duration::from_secs(1));
        every_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let state = FeedState {
            monitor: running.monitor.clone(),
            events,
            every_second,
            plugin_events: running.plugins.as_ref().map(PluginHost::events),
            handles: Arc::clone(&running.handles),
            notices: Arc::clone(&running.notices),
            timeout,
        };
        Ok(futures_util::stream::unfold(state, FeedState::next)
            .flat_map(futures_util::stream::iter)
            .boxed())
    }
}

/// One connection's reading position and timers.
struct FeedState {
    monitor: Coordinator,
    events: EventStream,
    every_second: tokio::time::Interval,
    plugin_events: Option<broadcast::Receiver<PluginEvent>>,
    handles: Arc<Mutex<Vec<HandlerHandle>>>,
    notices: Arc<Mutex<Vec<String>>>,
    timeout: Duration,
}

type Batch = Vec<Result<Update, SourceError>>;

impl FeedState {
    /// The next updates: an event, a history gap, a plugin event, or (once a second, and
    /// first of all) a snapshot with the plugins' statistics and any notices.
    async fn next(mut self) -> Option<(Batch, Self)> {
        let batch = tokio::select! {
            _ = self.every_second.tick() => self.periodic().await,
            event = self.events.next() => match event? {
                Ok(event) => vec![Ok(Update::Event { event, at: SystemTime::now() })],
                Err(CoordinationError::HistoryLost { oldest, .. }) => {
                    vec![Ok(Update::HistoryLost { oldest })]
                }
                Err(e) => vec![Err(SourceError::Protocol(e.to_string()))],
            },
            plugin_event = recv(&mut self.plugin_events) => vec![Ok(Update::PluginEvent(plugin_event))],
        };
        Some((batch, self))
    }

    async fn periodic(&mut self) -> Batch {
        let mut batch = Vec::new();
        batch.extend(lock(&self.notices).drain(..).map(|n| Ok(Update::Notice(n))));
        batch.push(snapshot(&self.monitor, self.timeout).await);
        let stats = lock(&self.handles)
            .iter()
            .map(HandlerHandle::stats)
            .collect();
        batch.push(Ok(Update::Plugins(stats)));
        batch
    }
}

/// The next plugin event, skipping over any the receiver lagged behind on; never resolves
/// when there is no plugin host.
async fn recv(receiver: &mut Option<broadcast::Receiver<PluginEvent>>) -> PluginEvent {
    let Some(receiver) = receiver else {
        return std::future::pending().await;
    };
    loop {
        match receiver.recv().await {
            Ok(event) => return event,
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// Every group with its leader, last change and members, and every lock in use, as of the
/// summaries' revision (members and locks are read just after, so they may reflect a few
/// later events too).
async fn snapshot(monitor: &Coordinator, timeout: Duration) -> Result<Update, SourceError> {
    let protocol = |e: CoordinationError| SourceError::Protocol(e.to_string());
    let (revision, summaries) = monitor.get_group_summaries().await.map_err(protocol)?;
    let now = SystemTime::now();
    let mut groups = Vec::with_capacity(summaries.len());
    for summary in summaries {
        // A group deleted since the summaries is left out; its deletion event follows.
        let Ok(members) = monitor.get_members_info(summary.group_id.as_str()).await else {
            continue;
        };
        let members: Vec<MemberSnapshot> = members
            .into_iter()
            .map(|(id, info)| MemberSnapshot {
                id,
                capabilities: info.capabilities,
                joined_at: info.joined_at,
                last_heartbeat: Some(now - timeout.saturating_sub(info.expires_in)),
                expires_at: Some(now + info.expires_in),
            })
            .collect();
        groups.push(GroupSnapshot {
            id: summary.group_id,
            member_count: members.len(),
            leader: summary.leader,
            last_change: Some(summary.last_change),
            members: Some(members),
        });
    }
    let locks = monitor.get_locks().await.map_err(protocol)?;
    Ok(Update::Snapshot(Snapshot {
        revision,
        groups,
        locks,
    }))
}
