//! `--connect ADDR`: a running `roster serve` daemon, through `roster::client::Client`.
//!
//! Each connection checks the daemon's status, sends a snapshot (every group with its
//! members, read by the daemon at one revision; groups of more than [`MEMBERS_PER_SNAPSHOT`]
//! members are kept current from events alone; and every lock in use, with its waiters),
//! then streams events from the requested revision, with a fresh snapshot and plugin
//! statistics every [`REFRESH`]. A `resync` from
//! the daemon (the monitor fell behind its history) becomes [`Update::HistoryLost`] followed
//! at once by a snapshot. A daemon with another store id than before, or whose head is behind
//! the revision asked for, is running a new store (a restart on `memory://`): the connection
//! then begins with [`Update::Restarted`] and reads the new store from its first snapshot.
//! The daemon sends no event times, so events are stamped when they arrive. Plugin events
//! come with the statistics: each refresh passes on those the daemon counted since the last.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures_util::{Stream, StreamExt};
use roster::client::{Client, ClientError, Credentials, StreamItem};
use roster::{GroupId, Revision};

use super::{Feed, GroupSnapshot, MemberSnapshot, Snapshot, Source, SourceError, Update};

/// Members fetched per group per snapshot, at most.
pub const MEMBERS_PER_SNAPSHOT: usize = 10_000;
/// How often group summaries, members and plugin statistics are read again.
pub const REFRESH: Duration = Duration::from_secs(2);

/// A daemon as a [`Source`].
#[derive(Clone, Debug)]
pub struct RemoteSource {
    client: Client,
    /// The store seen on the last connection.
    store_id: Option<String>,
    /// How many of the daemon's plugin events have been passed on.
    plugin_events_seen: Arc<AtomicU64>,
}

impl RemoteSource {
    /// A source for the daemon at `address` (`host:port` or `http://host:port`).
    ///
    /// # Errors
    /// The address is not valid.
    pub fn new(address: &str) -> Result<Self, SourceError> {
        Self::with_credentials(address, &Credentials::default())
    }

    /// A source for the daemon at `address` (also `https://host:port`), showing it
    /// `credentials` (a token, a CA, a client certificate).
    ///
    /// # Errors
    /// The address is not valid, or a credentials file cannot be read or used.
    pub fn with_credentials(address: &str, credentials: &Credentials) -> Result<Self, SourceError> {
        let client = Client::with_credentials(address, credentials).map_err(source_error)?;
        Ok(Self {
            client,
            store_id: None,
            plugin_events_seen: Arc::default(),
        })
    }
}

fn source_error(error: ClientError) -> SourceError {
    match error {
        ClientError::Unreachable { .. } => SourceError::Connection(error.to_string()),
        _ => SourceError::Protocol(error.to_string()),
    }
}

/// Every group and its members, as the daemon read them at the revision returned, and every
/// lock in use.
async fn snapshot(client: &Client, timeout: Duration) -> Result<Update, SourceError> {
    let snapshot = client
        .snapshot(Some(MEMBERS_PER_SNAPSHOT))
        .await
        .map_err(source_error)?;
    let now = SystemTime::now();
    let groups = snapshot
        .groups
        .into_iter()
        .map(|group| GroupSnapshot {
            members: group.complete.then(|| {
                group
                    .members
                    .into_iter()
                    .map(|m| {
                        let info = m.info();
                        MemberSnapshot {
                            id: m.member_id,
                            capabilities: info.capabilities,
                            joined_at: info.joined_at,
                            last_heartbeat: Some(now - timeout.saturating_sub(info.expires_in)),
                            expires_at: Some(now + info.expires_in),
                        }
                    })
                    .collect()
            }),
            id: group.group_id,
            member_count: group.member_count,
            leader: group.leader,
            last_change: Some(group.last_change),
        })
        .collect();
    // Read after the groups: it may reflect a few later events, which is harmless.
    let locks = client.locks().await.map_err(source_error)?;
    Ok(Update::Snapshot(Snapshot {
        revision: snapshot.revision,
        groups,
        locks,
    }))
}

/// A snapshot, plugin statistics, and the plugin events not passed on yet (`seen` counts
/// the daemon's plugin events passed on so far, across connections).
async fn refresh(
    client: &Client,
    timeout: Duration,
    seen: &AtomicU64,
) -> Vec<Result<Update, SourceError>> {
    let mut batch = vec![snapshot(client, timeout).await];
    match client.plugins().await {
        Ok(report) => {
            let before = seen.swap(report.events_total, Ordering::Relaxed);
            let skip = already_seen(report.events_total, before, report.recent_events.len());
            batch.push(Ok(Update::Plugins(report.plugins)));
            batch.extend(
                report
                    .recent_events
                    .into_iter()
                    .skip(skip)
                    .map(|event| Ok(Update::PluginEvent(event))),
            );
        }
        Err(e) => batch.push(Err(source_error(e))),
    }
    batch
}

/// How many of the `kept` latest plugin events (of `total` so far) were passed on already,
/// when `before` had been. A daemon that counts fewer than before is a new one: all it has is
/// new.
fn already_seen(total: u64, before: u64, kept: usize) -> usize {
    match total.checked_sub(before) {
        Some(new) => kept.saturating_sub(usize::try_from(new).unwrap_or(usize::MAX)),
        None => 0,
    }
}

type Events = std::pin::Pin<Box<dyn Stream<Item = Result<StreamItem, ClientError>> + Send>>;

struct FeedState {
    client: Client,
    events: Events,
    refresh: tokio::time::Interval,
    timeout: Duration,
    plugin_events_seen: Arc<AtomicU64>,
}

impl FeedState {
    async fn next(mut self) -> Option<(Vec<Result<Update, SourceError>>, Self)> {
        let batch = tokio::select! {
            _ = self.refresh.tick() => refresh(&self.client, self.timeout, &self.plugin_events_seen).await,
            item = self.events.next() => match item? {
                Ok(StreamItem::Event(event)) => {
                    vec![Ok(Update::Event { event, at: SystemTime::now() })]
                }
                Ok(StreamItem::Resync(resync)) => {
                    let mut batch = vec![Ok(Update::HistoryLost { oldest: resync.oldest })];
                    batch.extend(refresh(&self.client, self.timeout, &self.plugin_events_seen).await);
                    batch
                }
                Err(e) => vec![Err(source_error(e))],
            },
        };
        Some((batch, self))
    }
}

impl Source for RemoteSource {
    fn describe(&self) -> String {
        format!("daemon {}", self.client.address())
    }

    async fn connect(&mut self, from: Option<Revision>) -> Result<Feed, SourceError> {
        let status = self.client.status().await.map_err(source_error)?;
        let timeout = Duration::from_millis(status.membership_timeout_ms);
        let mut first = Vec::new();
        let known = self.store_id.replace(status.store_id.clone());
        let new_store = known.is_some_and(|known| known != status.store_id);
        let from = match from {
            Some(from) if new_store || from > status.revision + 1 => {
                tracing::warn!(from, head = status.revision, "the daemon's store is new");
                first.push(Ok(Update::Restarted));
                None
            }
            other => other,
        };
        let refreshed = refresh(&self.client, timeout, &self.plugin_events_seen).await;
        let snapshot = refreshed.iter().find_map(|update| match update {
            Ok(Update::Snapshot(s)) => Some(s.revision),
            _ => None,
        });
        let failure = refreshed
            .iter()
            .find_map(|update| update.as_ref().err().cloned());
        first.extend(refreshed);
        let from = match (from, snapshot, failure) {
            (Some(from), _, _) => from,
            (None, Some(revision), _) => revision + 1,
            (None, None, Some(error)) => return Err(error),
            (None, None, None) => status.revision + 1,
        };
        let events = self
            .client
            .events(Some(from), None::<&GroupId>)
            .await
            .map_err(source_error)?
            .boxed();
        let mut every = tokio::time::interval(REFRESH);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // The first tick fires at once; the first snapshot is already in hand.
        every.reset();
        let state = FeedState {
            client: self.client.clone(),
            events,
            refresh: every,
            timeout,
            plugin_events_seen: Arc::clone(&self.plugin_events_seen),
        };
        let rest = futures_util::stream::unfold(state, FeedState::next)
            .flat_map(futures_util::stream::iter);
        Ok(futures_util::stream::iter(first).chain(rest).boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::already_seen;

    #[test]
    fn only_plugin_events_counted_since_the_last_refresh_are_new() {
        // Nothing before: everything kept is new.
        assert_eq!(already_seen(3, 0, 3), 0);
        // Two more since 3: the last two of five kept.
        assert_eq!(already_seen(5, 3, 5), 3);
        // More new than kept (some dropped off the daemon's list): all kept are new.
        assert_eq!(already_seen(900, 100, 256), 0);
        // Nothing new.
        assert_eq!(already_seen(7, 7, 7), 7);
        // A restarted daemon counts from zero again.
        assert_eq!(already_seen(2, 40, 2), 0);
    }
}
