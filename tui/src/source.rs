//! Where the monitor's data comes from, behind one interface.
//!
//! A [`Source`] connects (or reconnects, from a revision) and hands back a [`Feed`]: a stream
//! of [`Update`]s, a snapshot of groups, members and leaders first, then every event with its
//! revision, plugin statistics and plugin events. The [`supervisor`] owns the connection
//! lifecycle (state changes, backoff, resuming after the last revision seen, dropping
//! revisions already delivered), so the app model only ever sees a clean, ordered sequence of
//! updates and never talks to a source itself. That is also what lets tests drive the model
//! with [`scripted`] sources, and the embedded [`demo`] stand in for a daemon ([`remote`]).

pub mod demo;
pub mod remote;
pub mod scripted;
pub mod supervisor;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use futures_util::Stream;
use roster::plugin::{PluginEvent, PluginStats};
use roster::{Capabilities, Event, GroupId, Leader, LockInfo, MemberId, Revision};

/// The state of the link between the monitor and its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// The first connection attempt is under way.
    Connecting,
    /// Updates are flowing.
    Connected,
    /// The source went away; the supervisor waits `retry_in` before attempt `attempt`.
    Reconnecting {
        /// Why the last connection ended or failed.
        reason: String,
        /// The attempt that comes next (1 for the first retry).
        attempt: u32,
        /// How long until it is made.
        retry_in: Duration,
    },
}

/// One member as a source reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSnapshot {
    /// The member.
    pub id: MemberId,
    /// Its capabilities.
    pub capabilities: Capabilities,
    /// When it joined.
    pub joined_at: SystemTime,
    /// When it last heartbeated, if the source knows.
    pub last_heartbeat: Option<SystemTime>,
    /// When it expires unless it heartbeats again, if the source knows.
    pub expires_at: Option<SystemTime>,
}

/// One group as a source reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSnapshot {
    /// The group.
    pub id: GroupId,
    /// How many members it has.
    pub member_count: usize,
    /// Its leader and term.
    pub leader: Option<Leader>,
    /// Revision of its last change, if the source knows.
    pub last_change: Option<Revision>,
    /// Its members, when the source sends them (a daemon sends them for the groups asked
    /// about; the demo for every group).
    pub members: Option<Vec<MemberSnapshot>>,
}

/// The state of every group and lock, reflecting every event up to `revision`; events after it may
/// already be reflected too, which is harmless because applying an event is idempotent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The newest revision the snapshot certainly reflects.
    pub revision: Revision,
    /// Every group, in any order.
    pub groups: Vec<GroupSnapshot>,
    /// Every lock held or waited for, in any order.
    pub locks: Vec<LockInfo>,
}

/// Something a source reports.
#[derive(Clone, Debug)]
pub enum Update {
    /// The connection changed state (sent by the supervisor, not by sources).
    Connection(ConnectionState),
    /// The state of every group.
    Snapshot(Snapshot),
    /// One change, with the time it was observed.
    Event {
        /// The change.
        event: Event,
        /// When it happened (or was first seen).
        at: SystemTime,
    },
    /// The source's store is not the one seen before (a daemon restarted on a fresh store,
    /// whose revisions start again at 1): what was shown stays, and history starts over.
    Restarted,
    /// The source could not deliver revisions before `oldest`: they are gone for good.
    HistoryLost {
        /// The oldest revision the source still has.
        oldest: Revision,
    },
    /// The current statistics of every plugin.
    Plugins(Vec<PluginStats>),
    /// A plugin faulted, restarted, was quarantined, and so on.
    PluginEvent(PluginEvent),
    /// A message for the operator (a plugin that could not be loaded, for instance).
    Notice(String),
}

/// Why a source could not connect, or lost its connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The source cannot be reached or dropped the connection.
    #[error("connection failed: {0}")]
    Connection(String),
    /// The source answered with something the monitor cannot use.
    #[error("source error: {0}")]
    Protocol(String),
}

/// The updates of one connection; it ends (or yields an error) when the connection does.
pub type Feed = Pin<Box<dyn Stream<Item = Result<Update, SourceError>> + Send>>;

/// A place to get membership data from.
pub trait Source: Send + 'static {
    /// What the header shows as the backend ("memory://demo", a daemon address).
    fn describe(&self) -> String;

    /// Connect and return the feed of updates: a [`Snapshot`] first, then events from
    /// revision `from` on (from the current head when `None`).
    fn connect(
        &mut self,
        from: Option<Revision>,
    ) -> impl Future<Output = Result<Feed, SourceError>> + Send;
}
