//! A store replayed from recorded events: how a handler runs offline (`roster plugin run`)
//! against what `roster watch` or the monitor's export wrote, with no server.
//!
//! The recording is released a part at a time ([`Recording::release_through`]), so a
//! handler's reads in the middle of the replay are answered from the state the released
//! events make, as a live store would answer them at that point. The state is built the way a
//! mirror builds its own (no rules run: the recorded store applied them); groups an event
//! names before the recording creates them existed before it began, and are there from the
//! start. Members that joined before the recording began are unknown to it.
//!
//! A recording replays history as it happened: changes asked of it are refused
//! ([`CoordinationError::NotImplemented`]), so what a handler's calls would have changed
//! shows in the runner's output, not in the events that follow. Revisions that skip numbers
//! (a recording of one group's events) are served as a gap: whoever follows the recording is
//! told the history between is lost, as a live store tells a reader it left behind.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::sync::watch;

use super::{Changes, Driver, SessionKey, StoreInfo};
use crate::engine::mirrored::Mirrored;
use roster_types::error::CoordinationError;
use roster_types::event::{Event, Revision};
use roster_types::ids::{Capabilities, GroupId, LockName, MemberId};
use roster_types::{GroupSummary, Leader, LockHolder, LockInfo, LockStanding, MemberInfo};

type Result<T> = std::result::Result<T, CoordinationError>;

/// The one session a recording hands out: the handler's coordinator's.
const SESSION: &str = "offline";

/// Why events cannot be replayed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordingError {
    /// The recording holds no event.
    #[error("the recording holds no event")]
    Empty,
    /// An event's revision is not after the one before it: the recording mixes stores (the
    /// recorded daemon restarted without its data) or was put together out of order.
    #[error(
        "revision {revision} follows revision {previous}: revisions only grow within one \
         store's recording (replay the parts before and after a store was replaced apart)"
    )]
    OutOfOrder {
        /// The earlier event's revision.
        previous: Revision,
        /// The revision that does not follow it.
        revision: Revision,
    },
}

/// What the released part of the recording makes.
#[derive(Debug)]
struct Released {
    /// Events released so far (an index into the recording).
    count: usize,
    groups: Mirrored,
    /// The holders of each lock, from the lock events released.
    locks: BTreeMap<LockName, Vec<LockHolder>>,
}

/// Recorded events served as a store's changes; see the module's documentation.
#[derive(Debug)]
pub struct Recording {
    store_id: String,
    events: Vec<Event>,
    /// Groups the recording names before it creates them.
    existing: Vec<GroupId>,
    released: Mutex<Released>,
    /// Where the last read of changes found a gap: the revision it asked to read after.
    gap_after: Mutex<Option<Revision>>,
    /// The newest revision released.
    head: watch::Sender<Revision>,
}

impl Recording {
    /// A store replaying `events` (in revision order), of which none is released yet.
    ///
    /// # Errors
    /// [`RecordingError`] when there is nothing to replay or revisions do not grow.
    pub fn new(
        store_id: impl Into<String>,
        events: Vec<Event>,
    ) -> std::result::Result<Self, RecordingError> {
        let first = events.first().ok_or(RecordingError::Empty)?.revision();
        for pair in events.windows(2) {
            let (previous, revision) = (pair[0].revision(), pair[1].revision());
            if revision <= previous {
                return Err(RecordingError::OutOfOrder { previous, revision });
            }
        }
        let mut created = HashSet::new();
        let mut existing = Vec::new();
        for event in &events {
            match event {
                Event::GroupCreated(e) => {
                    created.insert(e.group_id.clone());
                }
                other => {
                    if let Some(group) = other.group_id()
                        && !created.contains(group)
                        && !existing.contains(group)
                    {
                        existing.push(group.clone());
                    }
                }
            }
        }
        let before = first - 1;
        let mut groups = Mirrored::default();
        groups.reset(
            before,
            existing
                .iter()
                .map(|g| (g.clone(), Vec::new(), None))
                .collect(),
        );
        Ok(Self {
            store_id: store_id.into(),
            events,
            existing,
            released: Mutex::new(Released {
                count: 0,
                groups,
                locks: BTreeMap::new(),
            }),
            gap_after: Mutex::new(None),
            head: watch::Sender::new(before),
        })
    }

    /// The recorded events.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Groups the recording names before it creates them (they existed when it began).
    pub fn existing_groups(&self) -> &[GroupId] {
        &self.existing
    }

    /// Make every event up to `revision` part of the store: the next changes read bring them.
    /// Releasing up to a revision the recording skips makes its store's head that revision:
    /// a reader is then told of the gap before the events after it are released.
    pub fn release_through(&self, revision: Revision) {
        let mut released = self.lock();
        let now = unix_ms();
        while let Some(event) = self.events.get(released.count) {
            if event.revision() > revision {
                break;
            }
            released.groups.apply(event, now);
            apply_lock(&mut released.locks, event);
            released.count += 1;
        }
        drop(released);
        self.head.send_if_modified(|head| {
            let moved = revision > *head;
            *head = (*head).max(revision);
            moved
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Released> {
        self.released.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read<T>(&self, f: impl FnOnce(&Released) -> T) -> T {
        f(&self.lock())
    }

    /// The events released after `after`, at most `max`.
    fn released_after(&self, after: Revision, max: usize) -> Vec<Event> {
        let count = self.lock().count;
        let start = self.events[..count].partition_point(|e| e.revision() <= after);
        self.events[start..count]
            .iter()
            .take(max)
            .cloned()
            .collect()
    }

    /// Where a reader that read up to `after` goes on from past a gap: the revision before
    /// the first released event after it, or the head when none is released yet.
    fn resume_point(&self, after: Revision) -> Revision {
        let head = *self.head.borrow();
        self.released_after(after, 1)
            .first()
            .map_or(head, |e| e.revision() - 1)
            .min(head)
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn apply_lock(locks: &mut BTreeMap<LockName, Vec<LockHolder>>, event: &Event) {
    match event {
        Event::LockAcquired(e) => locks.entry(e.lock.clone()).or_default().push(LockHolder {
            member_id: e.member_id.clone(),
            mode: e.mode,
            token: e.token,
        }),
        Event::LockReleased(e) => {
            if let Some(holders) = locks.get_mut(&e.lock) {
                holders.retain(|h| h.token != e.token);
                if holders.is_empty() {
                    locks.remove(&e.lock);
                }
            }
        }
        _ => {}
    }
}

/// The answer to a change asked of a recording.
fn replayed(change: &str) -> CoordinationError {
    CoordinationError::NotImplemented(format!(
        "{change} in an offline run: the recording is replayed as it happened"
    ))
}

#[async_trait]
impl Driver for Recording {
    async fn describe(&self) -> Result<StoreInfo> {
        // A reader told of a gap starts over where the recording goes on after it.
        let gap_after = self
            .gap_after
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let head = gap_after.map_or(*self.head.borrow(), |after| self.resume_point(after));
        Ok(StoreInfo {
            store_id: self.store_id.clone(),
            head,
            groups: self.read(|r| r.groups.groups()),
        })
    }

    async fn head(&self) -> Result<Revision> {
        Ok(*self.head.borrow())
    }

    async fn open_session(&self, _member: &MemberId, _ttl: Duration) -> Result<SessionKey> {
        Ok(SESSION.to_owned())
    }

    async fn close_session(&self, _session: &str) -> Result<Revision> {
        Ok(*self.head.borrow())
    }

    async fn heartbeat(&self, _session: &str) -> Result<Duration> {
        Ok(Duration::from_secs(3_600))
    }

    async fn create_group(&self, _group: &str) -> Result<Revision> {
        Err(replayed("create-group"))
    }

    async fn delete_group(&self, _group: &str) -> Result<Revision> {
        Err(replayed("delete-group"))
    }

    async fn groups(&self) -> Result<Vec<GroupId>> {
        Ok(self.read(|r| r.groups.groups()))
    }

    async fn group_summaries(&self) -> Result<(Revision, Vec<GroupSummary>)> {
        let summaries = self.read(|r| r.groups.group_summaries());
        Ok((*self.head.borrow(), summaries))
    }

    async fn join(
        &self,
        _session: &str,
        _group: &str,
        _capabilities: Capabilities,
        _create: bool,
    ) -> Result<Revision> {
        Err(replayed("join-group"))
    }

    async fn leave(&self, _session: &str, _group: &str) -> Result<Revision> {
        Err(replayed("leave-group"))
    }

    async fn update_capabilities(
        &self,
        _session: &str,
        _group: &str,
        _capabilities: Capabilities,
    ) -> Result<Revision> {
        Err(replayed("update-capabilities"))
    }

    async fn members(&self, group: &str) -> Result<Vec<MemberId>> {
        self.read(|r| r.groups.members(group))
    }

    async fn members_info(&self, group: &str) -> Result<HashMap<MemberId, MemberInfo>> {
        self.read(|r| r.groups.members_info(group))
            .map(|members| members.into_iter().collect())
    }

    async fn member_info(&self, group: &str, member: &str) -> Result<MemberInfo> {
        self.read(|r| r.groups.member_info(group, member))
    }

    async fn leader(&self, group: &str) -> Result<Option<Leader>> {
        self.read(|r| r.groups.leader(group))
    }

    async fn stand(&self, _session: &str, _group: &str) -> Result<Revision> {
        Err(replayed("stand-for-election"))
    }

    async fn withdraw(&self, _session: &str, _group: &str) -> Result<Revision> {
        Err(replayed("withdraw"))
    }

    async fn stand_down(&self, _session: &str, _group: &str) -> Result<(bool, Revision)> {
        Err(replayed("stand-down-group-leader"))
    }

    async fn changes(&self, after: Revision, max: usize, wait: Duration) -> Result<Changes> {
        let mut head = self.head.subscribe();
        if *head.borrow_and_update() <= after {
            let _ = tokio::time::timeout(wait, head.wait_for(|h| *h > after)).await;
        }
        let head = *self.head.borrow();
        let mut events = self.released_after(after, max);
        let gap = match events.first() {
            Some(first) => first.revision() != after + 1,
            None => head > after,
        };
        if gap {
            *self.gap_after.lock().unwrap_or_else(|p| p.into_inner()) = Some(after);
            return Ok(Changes::Resync {
                requested: after + 1,
                oldest: events.first().map_or(head + 1, Event::revision),
                head,
            });
        }
        // A batch holds contiguous changes: the next read finds the gap.
        let contiguous = events
            .iter()
            .zip(after + 1..)
            .take_while(|(event, expected)| event.revision() == *expected)
            .count();
        events.truncate(contiguous);
        Ok(Changes::Events {
            events,
            head,
            store_id: self.store_id.clone(),
        })
    }

    async fn lock_standing(&self, _session: &str, _lock: &str) -> Result<LockStanding> {
        Ok(LockStanding::Neither)
    }

    async fn lock_info(&self, lock: &str) -> Result<LockInfo> {
        let lock = LockName::new(lock)?;
        let holders = self.read(|r| r.locks.get(&lock).cloned().unwrap_or_default());
        Ok(LockInfo {
            lock,
            holders,
            waiters: Vec::new(),
        })
    }

    async fn locks(&self) -> Result<Vec<LockInfo>> {
        Ok(self.read(|r| {
            r.locks
                .iter()
                .map(|(lock, holders)| LockInfo {
                    lock: lock.clone(),
                    holders: holders.clone(),
                    waiters: Vec::new(),
                })
                .collect()
        }))
    }
}
