//! Running a handler offline (`roster plugin run`): recorded events replayed to it through
//! the host's own handler runtime, so a plugin author sees what it logs, calls and faults on
//! without a cluster.
//!
//! The events come from a file of JSON lines (what `roster watch` and the monitor's headless
//! mode print), from a running daemon's history, or from a generated workload. They are served
//! by a [`Recording`] store a batch at a time; the handler is attached to a coordinator on it
//! exactly as a host attaches it to its store (same sandbox, grants, limits, fault handling
//! and redelivery), so its reads are answered from the state the events made so far.
//! What it logs and which calls it made are `tracing` events (the plugin's logs, and
//! [`CALL_TARGET`](crate::plugin::CALL_TARGET)), which the caller prints.

use std::sync::Arc;

use futures_util::StreamExt;
use std::time::{Duration, Instant};

use roster_client::{Client, ClientError, StreamItem};
use roster_core::Coordinator;
use roster_core::driver::{Recording, RecordingError};
use roster_types::error::CoordinationError;
use roster_types::event::{Event, LockMode, Revision};
use roster_types::ids::MemberId;
use roster_types::plugin_stats::{PluginEvent, PluginEventKind, PluginStats};
use roster_wasm::plugin::{HandlerSpec, LoadInfo, PluginError, PluginHost};

/// Why an offline run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// A line of an events file is not an event.
    #[error("line {line}: not an event ({message})")]
    BadLine {
        /// The line's number, from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The events file cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The events cannot be replayed.
    #[error(transparent)]
    Recording(#[from] RecordingError),
    /// The plugin cannot be loaded or attached.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The store replaying the events refused to start.
    #[error("the replay store: {0}")]
    Store(#[from] CoordinationError),
    /// The daemon the events were to come from could not be read.
    #[error("reading the daemon's history: {0}")]
    Daemon(#[from] ClientError),
}

/// The events of `text`, one JSON object per line, as `roster watch` prints them. Blank lines
/// are skipped, and so are the lines saying the watch was resynced (the gap they mark shows in
/// the revisions).
///
/// # Errors
/// [`OfflineError::BadLine`] for a line that is neither.
pub fn parse_events(text: &str) -> Result<Vec<Event>, OfflineError> {
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |message: String| OfflineError::BadLine {
            line: index + 1,
            message,
        };
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if value.get("kind").and_then(serde_json::Value::as_str) == Some("resync") {
            continue;
        }
        events.push(serde_json::from_value(value).map_err(|e| bad(e.to_string()))?);
    }
    Ok(events)
}

/// Every event a daemon keeps from revision `from` (its oldest kept when `None`) up to its
/// newest when asked.
///
/// # Errors
/// The daemon cannot be reached or answers with an error.
pub async fn daemon_events(
    client: &Client,
    from: Option<Revision>,
) -> Result<Vec<Event>, OfflineError> {
    let head = client.status().await?.revision;
    let mut events = Vec::new();
    if head == 0 || from.is_some_and(|from| from > head) {
        return Ok(events);
    }
    let mut stream = client
        .events_in(None, Some(from.unwrap_or(1)), None)
        .await?;
    while let Some(item) = stream.next().await {
        match item? {
            StreamItem::Event(event) => {
                let revision = event.revision();
                events.push(event);
                if revision >= head {
                    break;
                }
            }
            // The daemon no longer keeps the start: it goes on from its oldest.
            StreamItem::Resync(_) => {}
        }
    }
    Ok(events)
}

/// A workload of about `count` events, the same for the same `seed`: members of a few groups
/// join with capabilities, update them, stand for election, leave; leaders stand down; locks
/// are taken and released. Made by the embedded store's own rules.
///
/// # Errors
/// Only if the embedded store refuses a call the workload makes (a bug).
pub async fn generated_events(seed: u64, count: usize) -> Result<Vec<Event>, OfflineError> {
    const GROUPS: [&str; 3] = ["web", "workers", "jobs"];
    const MEMBERS: usize = 6;
    let url = format!("memory://generated-{}", uuid::Uuid::new_v4());
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut members = Vec::with_capacity(MEMBERS);
    for index in 0..MEMBERS {
        let member = crate::get_coordinator(&url, format!("member-{}", index + 1).as_str())?;
        member.start().await?;
        members.push(member);
    }
    for group in GROUPS {
        members[0].create_group(group).await?;
    }
    let head = || members[0].head_revision() as usize;
    while head() < count {
        let member = &members[rng.usize(..MEMBERS)];
        let group = GROUPS[rng.usize(..GROUPS.len())];
        let joined = member
            .get_members(group)
            .await?
            .contains(member.member_id());
        let load = format!("{{\"load\": {}}}", rng.u8(..100));
        // Refusals (a lock already taken, a leader that is not this member) are part of a
        // workload; only what the store changes becomes an event.
        let _ = match (joined, rng.u8(..8)) {
            (false, _) => member.join_group_with(group, load.into_bytes()).await,
            (true, 0..=1) => member.update_capabilities(group, load.into_bytes()).await,
            (true, 2) => member.watch_elected_as_leader(group, |_| {}).map(drop),
            (true, 3) => member.stand_down_group_leader(group).await.map(drop),
            (true, 4) => {
                let mode = if rng.bool() {
                    LockMode::Exclusive
                } else {
                    LockMode::Shared
                };
                member.acquire_lock(group, mode, false).await.map(drop)
            }
            (true, 5) => member.release_lock(group).await.map(drop),
            (true, _) => member.leave_group(group).await,
        };
    }
    let mut events = Vec::new();
    let (read, _) = members[0].read_history(1, count, &mut events);
    read?;
    for member in members {
        member.stop().await?;
    }
    Ok(events)
}

/// One part of the recording as the handler took it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Its first event's revision.
    pub first: Revision,
    /// Its last event's revision.
    pub last: Revision,
    /// How many events it holds.
    pub events: usize,
    /// From its release until the handler had handled it.
    pub took: Duration,
}

/// How an offline run went.
#[derive(Clone, Debug)]
pub struct Report {
    /// How the component was loaded.
    pub load: LoadInfo,
    /// The handler's counters at the end.
    pub stats: PluginStats,
    /// What happened to the plugin: faults, skipped events, quarantines, in order.
    pub incidents: Vec<PluginEvent>,
}

impl Report {
    /// Whether the plugin faulted (trapped, overran its deadline or memory, or had an event
    /// skipped) at any point.
    pub fn faulted(&self) -> bool {
        self.incidents.iter().any(|e| {
            matches!(
                e.kind,
                PluginEventKind::Fault { .. } | PluginEventKind::EventSkipped { .. }
            )
        })
    }
}

/// Replay `events` to the handler `spec` names, `batch` events at a time (at most the
/// handler's own batch limit), calling `on_batch` when the handler has handled each and
/// `on_incident` for each fault or other incident as it is seen.
///
/// # Errors
/// The events cannot be replayed, or the plugin cannot be loaded.
pub async fn run(
    host: &PluginHost,
    spec: HandlerSpec,
    events: Vec<Event>,
    mut on_batch: impl FnMut(&Batch),
    mut on_incident: impl FnMut(&PluginEvent),
) -> Result<Report, OfflineError> {
    let batch = spec.limits.batch_events.max(1);
    let recording = Arc::new(Recording::new("recording", events)?);
    let member = MemberId::new("plugin-run")?;
    let coordinator = Coordinator::on_recording(Arc::clone(&recording), member);
    coordinator.start().await?;
    let mut incidents_rx = host.events();
    let handle = host.attach_handler(&coordinator, spec).await?;
    let mut incidents = Vec::new();
    let before = recording.events()[0].revision() - 1;
    let mut take_incidents = |incidents: &mut Vec<PluginEvent>| {
        while let Ok(incident) = incidents_rx.try_recv() {
            if incident_matters(&incident, before) {
                on_incident(&incident);
                incidents.push(incident);
            }
        }
    };
    // A part ends at a gap in the revisions too: what comes after a gap is a resync for the
    // handler, which must have taken what came before.
    let parts = recording
        .events()
        .chunk_by(|a, b| b.revision() == a.revision() + 1)
        .flat_map(|run| run.chunks(batch));
    let mut handled = before;
    for part in parts {
        let (first, last) = (part[0].revision(), part[part.len() - 1].revision());
        if first > handled + 1 {
            // The handler resyncs at the gap before it is given what follows.
            recording.release_through(first - 1);
            handle.wait_handled(first - 1).await;
        }
        handled = last;
        let start = Instant::now();
        recording.release_through(last);
        handle.wait_handled(last).await;
        let took = start.elapsed();
        take_incidents(&mut incidents);
        on_batch(&Batch {
            first,
            last,
            events: part.len(),
            took,
        });
    }
    let stats = handle.stats();
    let load = handle.load;
    handle.detach().await;
    take_incidents(&mut incidents);
    coordinator.stop().await?;
    Ok(Report {
        load,
        stats,
        incidents,
    })
}

/// The snapshot a handler starts from (the state `before` the recording) and the detach at
/// the end are the runner's own doing; the rest is what happened to the plugin.
fn incident_matters(event: &PluginEvent, before: Revision) -> bool {
    !matches!(event.kind, PluginEventKind::Stopped)
        && event.kind != (PluginEventKind::Resynced { revision: before })
}
