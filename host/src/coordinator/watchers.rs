//! Native watch callbacks and their delivery by `run_watchers` (tooz's pull model, R4).
//!
//! Each callback remembers the last revision it has seen. `run_watchers` reads the history
//! from the oldest of those positions and hands every matching event to every callback that
//! has not seen it, in revision order, transient changes included (R2). A callback registered
//! at revision R sees only changes after R, so members already present produce no join event,
//! as in tooz. Callbacks run without any lock held, so they may call back into the
//! coordinator (even to watch or unwatch).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::event::{Event, LeaderElected, MemberJoined, MemberLeft, Revision};
use crate::ids::{GroupId, MemberId};

/// Names one registered callback, for `unwatch_*`. Returned by every `watch_*` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WatchId(u64);

/// What a callback listens to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchKind {
    Join,
    Leave,
    Elected,
    Any,
}

pub(crate) enum Callback {
    Join(Box<dyn FnMut(&MemberJoined) + Send>),
    Leave(Box<dyn FnMut(&MemberLeft) + Send>),
    Elected(Box<dyn FnMut(&LeaderElected) + Send>),
    Any(Box<dyn FnMut(&Event) + Send>),
}

impl Callback {
    fn kind(&self) -> WatchKind {
        match self {
            Self::Join(_) => WatchKind::Join,
            Self::Leave(_) => WatchKind::Leave,
            Self::Elected(_) => WatchKind::Elected,
            Self::Any(_) => WatchKind::Any,
        }
    }

    /// Call the callback if `event` is one it listens to; returns whether it was called.
    fn offer(&mut self, event: &Event, me: &MemberId) -> bool {
        match (self, event) {
            (Self::Join(f), Event::MemberJoined(e)) => f(e),
            (Self::Leave(f), Event::MemberLeft(e)) => f(e),
            (Self::Elected(f), Event::LeaderElected(e)) if e.member_id == *me => f(e),
            (Self::Any(f), e) => f(e),
            _ => return false,
        }
        true
    }
}

struct Hook {
    id: WatchId,
    group: GroupId,
    kind: WatchKind,
    /// Last revision this callback has been offered.
    seen: Revision,
    /// The history generation `seen` belongs to (see [`crate::engine::history`]).
    generation: u64,
    active: Arc<AtomicBool>,
    callback: Arc<Mutex<Callback>>,
}

/// A coordinator's registered callbacks.
#[derive(Default)]
pub(crate) struct Watchers {
    hooks: Vec<Hook>,
    next_id: u64,
}

/// The callbacks to run for one batch of history, taken out of the table so they can run
/// without its lock.
pub(crate) struct Dispatch {
    hooks: Vec<DispatchHook>,
}

/// A callback's group, its position when the batch started, whether it is still registered,
/// and the callback itself.
type DispatchHook = (GroupId, Revision, Arc<AtomicBool>, Arc<Mutex<Callback>>);

impl Watchers {
    /// Register `callback` for `group`, having seen everything up to `seen` of history
    /// `generation`.
    pub(crate) fn add(
        &mut self,
        group: GroupId,
        (generation, seen): (u64, Revision),
        callback: Callback,
    ) -> WatchId {
        self.next_id += 1;
        let id = WatchId(self.next_id);
        self.hooks.push(Hook {
            id,
            group,
            kind: callback.kind(),
            seen,
            generation,
            active: Arc::new(AtomicBool::new(true)),
            callback: Arc::new(Mutex::new(callback)),
        });
        id
    }

    /// Remove a callback; `false` if no callback of that kind has that id on that group.
    pub(crate) fn remove(&mut self, group: &str, kind: WatchKind, id: WatchId) -> bool {
        let Some(i) = self
            .hooks
            .iter()
            .position(|h| h.id == id && h.kind == kind && h.group == group)
        else {
            return false;
        };
        let hook = self.hooks.swap_remove(i);
        hook.active.store(false, Ordering::Release);
        true
    }

    /// How many callbacks of `kind` watch `group`.
    pub(crate) fn count(&self, group: &str, kind: WatchKind) -> usize {
        self.hooks
            .iter()
            .filter(|h| h.kind == kind && h.group == group)
            .count()
    }

    /// Groups that have at least one election callback.
    pub(crate) fn election_groups(&self) -> Vec<GroupId> {
        let mut groups: Vec<GroupId> = self
            .hooks
            .iter()
            .filter(|h| h.kind == WatchKind::Elected)
            .map(|h| h.group.clone())
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }

    /// The first revision some callback has not yet been offered, and the history
    /// generation it belongs to, if there are callbacks. Callbacks of an older generation
    /// come first, so they are moved to the current one before anything is offered.
    pub(crate) fn oldest_unseen(&self) -> Option<(u64, Revision)> {
        self.hooks.iter().map(|h| (h.generation, h.seen + 1)).min()
    }

    pub(crate) fn dispatch(&self) -> Dispatch {
        Dispatch {
            hooks: self
                .hooks
                .iter()
                .map(|h| {
                    (
                        h.group.clone(),
                        h.seen,
                        Arc::clone(&h.active),
                        Arc::clone(&h.callback),
                    )
                })
                .collect(),
        }
    }

    /// Move every callback still positioned in an older history generation to `oldest` of
    /// `generation`; returns the first revision the earliest of them had not seen, if any
    /// moved.
    pub(crate) fn rebase(&mut self, generation: u64, oldest: Revision) -> Option<Revision> {
        let mut requested = None;
        for hook in self.hooks.iter_mut().filter(|h| h.generation != generation) {
            requested = Some(requested.unwrap_or(Revision::MAX).min(hook.seen + 1));
            hook.generation = generation;
            hook.seen = oldest - 1;
        }
        requested
    }

    /// Record that every callback has been offered everything up to `revision`.
    pub(crate) fn mark_seen(&mut self, revision: Revision) {
        for hook in &mut self.hooks {
            hook.seen = hook.seen.max(revision);
        }
    }
}

impl Dispatch {
    /// Offer `events` (in revision order) to the callbacks; returns one copy of each event
    /// per callback that took it.
    pub(crate) fn run(&self, events: &[Event], me: &MemberId) -> Vec<Event> {
        let mut delivered = Vec::new();
        for event in events {
            for (group, seen, active, callback) in &self.hooks {
                if event.revision() <= *seen
                    || event.group_id() != group
                    || !active.load(Ordering::Acquire)
                {
                    continue;
                }
                let mut callback = callback.lock().unwrap_or_else(|p| p.into_inner());
                if callback.offer(event, me) {
                    delivered.push(event.clone());
                }
            }
        }
        delivered
    }
}
