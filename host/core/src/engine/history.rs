//! The bounded, ordered log of changes.
//!
//! Every change gets exactly one event and the next revision, so the kept events are a
//! contiguous run of revisions and a reader's position is just the next revision it needs.
//! When the log is full the oldest event is dropped; a reader that asks for a dropped revision
//! is told so ([`CoordinationError::HistoryLost`]) instead of silently skipping ahead.
//!
//! A mirror of a driver's store can find the store replaced (a server that came back without
//! its data), whose revisions start over. The log then starts a new *generation*; a reader
//! still positioned in an older one is told its history is lost, since its next revision
//! means nothing in the new store.

use std::collections::VecDeque;

use roster_types::error::CoordinationError;
use roster_types::event::{Event, Revision};

/// The most recent `capacity` events.
#[derive(Debug)]
pub(crate) struct History {
    events: VecDeque<Event>,
    capacity: usize,
    /// Revision of the newest change (0 before any).
    head: Revision,
    /// Bumped each time the log follows a different store.
    generation: u64,
}

impl History {
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "history capacity must be at least 1");
        Self {
            events: VecDeque::new(),
            capacity,
            head: 0,
            generation: 0,
        }
    }

    /// Which store the revisions belong to: changes when the log is reset to follow a
    /// replaced one.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Revision of the newest change.
    pub(crate) fn head(&self) -> Revision {
        self.head
    }

    /// Oldest revision still kept (`head + 1` when nothing is kept).
    pub(crate) fn oldest(&self) -> Revision {
        self.events.front().map_or(self.head + 1, Event::revision)
    }

    /// Append the event for revision `head() + 1`.
    pub(crate) fn push(&mut self, event: Event) {
        debug_assert_eq!(
            event.revision(),
            self.head + 1,
            "revisions must be contiguous"
        );
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.head = event.revision();
        self.events.push_back(event);
    }

    /// Forget every kept event and go on from `head`: the next event pushed is `head + 1`.
    /// Readers of anything older are told the history is lost; when `replaced` (the
    /// revisions now belong to another store), so is every reader of the old generation.
    pub(crate) fn reset(&mut self, head: Revision, replaced: bool) {
        self.events.clear();
        self.head = head;
        if replaced {
            self.generation += 1;
        }
    }

    /// Keep `older`, the changes right before the oldest kept one (contiguous, oldest
    /// first), as far as the capacity allows: a mirror that started at the store's head
    /// fills in the history the store made before. Anything else is ignored.
    pub(crate) fn backfill(&mut self, older: Vec<Event>) {
        let Some(last) = older.last() else {
            return;
        };
        let contiguous = older
            .windows(2)
            .all(|pair| pair[1].revision() == pair[0].revision() + 1);
        if !contiguous || last.revision() + 1 != self.oldest() {
            return;
        }
        let room = self.capacity - self.events.len();
        for event in older.into_iter().rev().take(room) {
            self.events.push_front(event);
        }
    }

    /// [`History::read_from`] for a reader positioned in `generation`: `HistoryLost` (with
    /// the oldest revision of the current generation) when that is no longer the current one.
    pub(crate) fn read_in(
        &self,
        generation: u64,
        from: Revision,
        max: usize,
        out: &mut Vec<Event>,
    ) -> Result<(), CoordinationError> {
        if generation != self.generation {
            return Err(CoordinationError::HistoryLost {
                requested: from,
                oldest: self.oldest(),
            });
        }
        self.read_from(from, max, out)
    }

    /// Copy up to `max` events starting at revision `from` into `out`.
    ///
    /// Returns `HistoryLost` when `from` is older than the oldest kept event. Asking for a
    /// revision past the head yields nothing. Revision 0 is the initial state, not a change:
    /// reading from it is reading from the first change.
    pub(crate) fn read_from(
        &self,
        from: Revision,
        max: usize,
        out: &mut Vec<Event>,
    ) -> Result<(), CoordinationError> {
        let from = from.max(1);
        let oldest = self.oldest();
        if from < oldest && from <= self.head {
            return Err(CoordinationError::HistoryLost {
                requested: from,
                oldest,
            });
        }
        let Some(skip) = from.checked_sub(oldest) else {
            return Ok(());
        };
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        out.extend(self.events.iter().skip(skip).take(max).cloned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_types::event::GroupCreated;
    use roster_types::ids::GroupId;

    fn event(revision: Revision) -> Event {
        Event::GroupCreated(GroupCreated {
            revision,
            group_id: GroupId::new(format!("g{revision}")).unwrap(),
        })
    }

    fn filled(capacity: usize, count: Revision) -> History {
        let mut h = History::new(capacity);
        for r in 1..=count {
            h.push(event(r));
        }
        h
    }

    fn revisions(h: &History, from: Revision, max: usize) -> Vec<Revision> {
        let mut out = Vec::new();
        h.read_from(from, max, &mut out).unwrap();
        out.iter().map(Event::revision).collect()
    }

    #[test]
    fn backfill_keeps_the_changes_right_before_the_oldest_as_room_allows() {
        let mut h = History::new(4);
        h.reset(5, false);
        h.push(event(6));
        h.backfill((1..=5).map(event).collect());
        assert_eq!(h.oldest(), 3);
        assert_eq!(revisions(&h, 3, 10), [3, 4, 5, 6]);
        // Not right before the oldest, or with a gap: ignored.
        let mut h = History::new(10);
        h.reset(5, false);
        h.backfill((1..=4).map(event).collect());
        h.backfill(vec![event(3), event(5)]);
        assert_eq!(h.oldest(), 6);
    }

    #[test]
    fn reads_from_a_revision_in_order() {
        let h = filled(10, 5);
        assert_eq!(revisions(&h, 3, 100), [3, 4, 5]);
        assert_eq!(revisions(&h, 1, 2), [1, 2]);
    }

    #[test]
    fn reading_past_the_head_yields_nothing() {
        let h = filled(10, 5);
        assert!(revisions(&h, 6, 10).is_empty());
        assert!(revisions(&h, 60, 10).is_empty());
        assert!(revisions(&History::new(3), 1, 10).is_empty());
    }

    #[test]
    fn full_log_drops_the_oldest_and_reports_the_loss() {
        let h = filled(3, 5);
        assert_eq!(h.oldest(), 3);
        assert_eq!(revisions(&h, 3, 10), [3, 4, 5]);
        let mut out = Vec::new();
        assert_eq!(
            h.read_from(2, 10, &mut out),
            Err(CoordinationError::HistoryLost {
                requested: 2,
                oldest: 3
            })
        );
        assert!(out.is_empty());
    }

    #[test]
    fn readers_of_a_replaced_store_are_told_their_history_is_lost() {
        let mut h = filled(10, 5);
        let before = h.generation();
        h.reset(2, false);
        assert_eq!(h.generation(), before, "the same store, resynced");
        assert!(revisions(&h, 3, 10).is_empty());

        h.reset(0, true);
        h.push(event(1));
        let mut out = Vec::new();
        // Revision 1 of the new store is not what a reader of the old one is waiting for.
        assert_eq!(
            h.read_in(before, 6, 10, &mut out),
            Err(CoordinationError::HistoryLost {
                requested: 6,
                oldest: 1
            })
        );
        h.read_in(h.generation(), 1, 10, &mut out).unwrap();
        assert_eq!(out.iter().map(Event::revision).collect::<Vec<_>>(), [1]);
    }
}
