//! The event history: a bounded ring of rows, each with a sequence number, plus filtered
//! views that update incrementally.
//!
//! Rows are events (with the time they were seen) and gap markers where the source lost
//! history. Sequence numbers keep counting as old rows are evicted, so a selection or a
//! frozen view can name a row without caring about eviction, and a [`Filtered`] view only
//! has to look at rows it has not seen yet. Nothing here costs more than the rows touched:
//! pushing is O(1), indexing is O(1) unfiltered and O(log n) filtered.

use std::collections::VecDeque;
use std::time::SystemTime;

use roster::{Event, EventKind, Revision};

/// Default number of rows kept.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// One row of history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Row {
    /// A change.
    Event {
        /// The change.
        event: Event,
        /// When it was seen.
        at: SystemTime,
    },
    /// The source's store restarted; revisions start over after this row.
    Restart {
        /// When the restart was noticed.
        at: SystemTime,
    },
    /// Revisions `from..=to` were lost by the source and will never be shown.
    Gap {
        /// First lost revision.
        from: Revision,
        /// Last lost revision.
        to: Revision,
        /// When the loss was reported.
        at: SystemTime,
    },
}

impl Row {
    /// When the row was recorded.
    pub fn at(&self) -> SystemTime {
        match self {
            Self::Event { at, .. } | Self::Gap { at, .. } | Self::Restart { at } => *at,
        }
    }

    /// The revision shown for the row (the first lost one for a gap).
    pub fn revision(&self) -> Revision {
        match self {
            Self::Event { event, .. } => event.revision(),
            Self::Gap { from, .. } => *from,
            Self::Restart { .. } => 0,
        }
    }

    /// Short kind name, as in the event's JSON `kind`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Event { event, .. } => kind_name(event.kind()),
            Self::Gap { .. } => "history-lost",
            Self::Restart { .. } => "store-restarted",
        }
    }

    /// What happened, in words (without revision, kind or group).
    pub fn detail(&self) -> String {
        match self {
            Self::Event { event, .. } => detail(event),
            Self::Gap { from, to, .. } => format!("revisions {from}..{to} are gone"),
            Self::Restart { .. } => "the source's store is new; revisions start over".to_owned(),
        }
    }

    /// The group (or, for a lock's event, the lock), if the row has one.
    pub fn group(&self) -> Option<&str> {
        match self {
            Self::Event { event, .. } => Some(event.subject()),
            Self::Gap { .. } | Self::Restart { .. } => None,
        }
    }

    /// Whether the row matches `needle` (already lower-case): kind, group, member or detail
    /// contains it, or it is the revision. Ids are checked without allocating; the detail
    /// text is built only when they do not match.
    pub fn matches(&self, needle: &str) -> bool {
        if needle.is_empty() {
            return true;
        }
        let contains = |text: &str| contains_folded(text.as_bytes(), needle);
        contains(self.kind_name())
            || self.group().is_some_and(contains)
            || match self {
                Self::Event { event, .. } => {
                    event.member_id().is_some_and(|m| contains(m.as_str()))
                        || needle.parse() == Ok(event.revision())
                        || contains(&detail(event))
                }
                Self::Gap { .. } | Self::Restart { .. } => contains(&self.detail()),
            }
    }
}

/// Whether `haystack` contains `needle` (lower-case), ignoring ASCII case, without
/// allocating.
pub fn contains_folded(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

/// The kebab-case name of `kind`, as in the event's JSON.
pub fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::GroupCreated => "group-created",
        EventKind::GroupDeleted => "group-deleted",
        EventKind::MemberJoined => "member-joined",
        EventKind::MemberLeft => "member-left",
        EventKind::CapabilitiesUpdated => "capabilities-updated",
        EventKind::LeaderElected => "leader-elected",
        EventKind::LeaderLost => "leader-lost",
        EventKind::LockAcquired => "lock-acquired",
        EventKind::LockReleased => "lock-released",
    }
}

fn detail(event: &Event) -> String {
    match event {
        Event::GroupCreated(_) => "group created".to_owned(),
        Event::GroupDeleted(_) => "group deleted".to_owned(),
        Event::MemberJoined(e) => format!("+{}", e.member_id),
        Event::MemberLeft(e) => {
            let why = serde_json::to_value(e.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("-{} ({why})", e.member_id)
        }
        Event::CapabilitiesUpdated(e) => format!(
            "{} {}",
            e.member_id,
            super::tables::capabilities_text(&e.capabilities)
        ),
        Event::LeaderElected(e) => format!("{} leads (term {})", e.member_id, e.term),
        Event::LeaderLost(e) => {
            let why = serde_json::to_value(e.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("{} lost term {} ({why})", e.member_id, e.term)
        }
        Event::LockAcquired(e) => {
            format!(
                "{} holds lock {} ({}, token {})",
                e.member_id, e.lock, e.mode, e.token
            )
        }
        Event::LockReleased(e) => {
            let why = serde_json::to_value(e.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!(
                "{} let go of lock {} (token {}, {why})",
                e.member_id, e.lock, e.token
            )
        }
    }
}

/// The bounded history.
#[derive(Clone, Debug)]
pub struct History {
    rows: VecDeque<Row>,
    first_seq: u64,
    capacity: usize,
    last_revision: Option<Revision>,
    repeats_dropped: u64,
}

impl Default for History {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl History {
    /// An empty history keeping at most `capacity` rows (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            rows: VecDeque::new(),
            first_seq: 0,
            capacity: capacity.max(1),
            last_revision: None,
            repeats_dropped: 0,
        }
    }

    /// The most rows kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Rows kept now.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row is kept.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Sequence number of the oldest row kept.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// One past the sequence number of the newest row.
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.rows.len() as u64
    }

    /// The newest revision recorded.
    pub fn last_revision(&self) -> Option<Revision> {
        self.last_revision
    }

    /// Events refused because their revision was already recorded.
    pub fn repeats_dropped(&self) -> u64 {
        self.repeats_dropped
    }

    /// The row with sequence number `seq`, if still kept.
    pub fn get(&self, seq: u64) -> Option<&Row> {
        let index = seq.checked_sub(self.first_seq)?;
        self.rows.get(usize::try_from(index).ok()?)
    }

    /// Record `event`, unless its revision is not newer than the last one recorded (then it
    /// is a repeat and is dropped). Returns whether it was recorded.
    pub fn push_event(&mut self, event: Event, at: SystemTime) -> bool {
        let revision = event.revision();
        if self.last_revision.is_some_and(|last| revision <= last) {
            self.repeats_dropped += 1;
            return false;
        }
        self.last_revision = Some(revision);
        self.push(Row::Event { event, at });
        true
    }

    /// The source lost revisions before `oldest`: record the gap, if there is one.
    pub fn push_loss(&mut self, oldest: Revision, at: SystemTime) {
        let from = self.last_revision.map_or(1, |last| last + 1);
        if oldest > from {
            self.push(Row::Gap {
                from,
                to: oldest - 1,
                at,
            });
            self.last_revision = Some(oldest - 1);
        }
    }

    /// The source's store restarted: mark it, and accept revisions from 1 again.
    pub fn push_restart(&mut self, at: SystemTime) {
        self.push(Row::Restart { at });
        self.last_revision = None;
    }

    fn push(&mut self, row: Row) {
        if self.rows.len() == self.capacity {
            self.rows.pop_front();
            self.first_seq += 1;
        }
        self.rows.push_back(row);
    }

    /// Forget every row (sequence numbers keep counting, repeats are still refused).
    pub fn clear(&mut self) {
        self.first_seq = self.end_seq();
        self.rows.clear();
    }
}

/// The sequence numbers of the rows matching a filter, kept current incrementally.
#[derive(Clone, Debug, Default)]
pub struct Filtered {
    needle: String,
    seqs: VecDeque<u64>,
    scanned_to: u64,
}

impl Filtered {
    /// A view of the rows matching `query` (case-insensitive substring).
    pub fn new(query: &str) -> Self {
        Self {
            needle: query.to_lowercase(),
            seqs: VecDeque::new(),
            scanned_to: 0,
        }
    }

    /// Catch up with `history`: forget evicted rows, look at the new ones.
    pub fn refresh(&mut self, history: &History) {
        while self.seqs.front().is_some_and(|&s| s < history.first_seq()) {
            self.seqs.pop_front();
        }
        let start = self.scanned_to.max(history.first_seq());
        for seq in start..history.end_seq() {
            if history
                .get(seq)
                .is_some_and(|row| row.matches(&self.needle))
            {
                self.seqs.push_back(seq);
            }
        }
        self.scanned_to = history.end_seq();
    }

    /// Matching rows below `end` (a sequence number).
    pub fn count_before(&self, end: u64) -> usize {
        self.seqs.partition_point(|&s| s < end)
    }

    /// The `index`-th matching row's sequence number.
    pub fn seq(&self, index: usize) -> Option<u64> {
        self.seqs.get(index).copied()
    }

    /// Position of the first matching row at or after `seq`.
    pub fn index_of(&self, seq: u64) -> usize {
        self.seqs.partition_point(|&s| s < seq)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use roster::{GroupCreated, GroupId};

    use super::*;

    fn created(revision: Revision, group: &str) -> Event {
        Event::GroupCreated(GroupCreated {
            revision,
            group_id: GroupId::new(group).unwrap(),
        })
    }

    const T: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn the_history_is_bounded_and_sequence_numbers_survive_eviction() {
        let mut history = History::new(3);
        for revision in 1..=5 {
            assert!(history.push_event(created(revision, "g"), T));
        }
        assert_eq!(history.len(), 3);
        assert_eq!(history.first_seq(), 2);
        assert_eq!(history.end_seq(), 5);
        assert_eq!(history.get(2).map(Row::revision), Some(3));
        assert_eq!(history.get(1), None);
    }

    #[test]
    fn repeated_revisions_are_dropped() {
        let mut history = History::new(10);
        assert!(history.push_event(created(1, "g"), T));
        assert!(history.push_event(created(2, "g"), T));
        assert!(!history.push_event(created(2, "g"), T));
        assert!(!history.push_event(created(1, "g"), T));
        assert_eq!(history.len(), 2);
        assert_eq!(history.repeats_dropped(), 2);
    }

    #[test]
    fn a_loss_leaves_a_gap_row() {
        let mut history = History::new(10);
        history.push_event(created(1, "g"), T);
        history.push_loss(5, T + Duration::from_secs(1));
        assert_eq!(
            history.get(1),
            Some(&Row::Gap {
                from: 2,
                to: 4,
                at: T + Duration::from_secs(1)
            })
        );
        assert!(!history.push_event(created(4, "g"), T));
        assert!(history.push_event(created(5, "g"), T));
    }

    #[test]
    fn filtered_views_follow_new_rows_and_eviction() {
        let mut history = History::new(4);
        let mut view = Filtered::new("API");
        for (revision, group) in [(1, "api"), (2, "db"), (3, "api")] {
            history.push_event(created(revision, group), T);
        }
        view.refresh(&history);
        assert_eq!((view.seq(0), view.seq(1)), (Some(0), Some(2)));
        for (revision, group) in [(4, "db"), (5, "db"), (6, "api")] {
            history.push_event(created(revision, group), T);
        }
        view.refresh(&history);
        assert_eq!(view.count_before(history.end_seq()), 2);
        assert_eq!(view.seq(0), Some(2));
        assert_eq!(view.seq(1), Some(5));
    }
}
