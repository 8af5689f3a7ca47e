//! Native watch callbacks and their delivery by `run_watchers` (tooz's pull model, R4).
//!
//! Each callback remembers the last revision it has seen. `run_watchers` reads the history
//! from the oldest of those positions and hands every matching event to every callback that
//! has not seen it, in revision order, transient changes included (R2). A callback registered
//! at revision R sees only changes after R, so members already present produce no join event,
//! as in tooz. Callbacks run without any lock held, so they may call back into the
//! coordinator (even to watch or unwatch).
//!
//! A callback is plain (`FnMut(&event)`, as in tooz) or asynchronous: it is handed the
//! coordinator and the event and returns a future, which `run_watchers` awaits before it
//! offers anything to the next callback, so a callback can await coordination calls (on a
//! store in another process, too) without blocking a thread or polling by hand.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::Coordinator;
use roster_types::event::{Event, LeaderElected, MemberJoined, MemberLeft, Revision};
use roster_types::ids::GroupId;

/// What an asynchronous callback returns for one event.
pub(crate) type CallbackFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An asynchronous callback for events of type `E`.
pub(crate) type AsyncCallback<E> = Box<dyn FnMut(Coordinator, E) -> CallbackFuture + Send>;

/// Box an `async` closure as an [`AsyncCallback`].
pub(crate) fn boxed_async<E, F, Fut>(mut callback: F) -> AsyncCallback<E>
where
    F: FnMut(Coordinator, E) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::new(move |coordinator, event| Box::pin(callback(coordinator, event)))
}

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
    AsyncJoin(AsyncCallback<MemberJoined>),
    AsyncLeave(AsyncCallback<MemberLeft>),
    AsyncElected(AsyncCallback<LeaderElected>),
    AsyncAny(AsyncCallback<Event>),
}

/// What offering an event to a callback did.
enum Offer {
    /// The callback does not listen to this event.
    Declined,
    /// A plain callback ran.
    Ran,
    /// An asynchronous callback started; await this before offering anything else.
    Started(CallbackFuture),
}

impl Callback {
    fn kind(&self) -> WatchKind {
        match self {
            Self::Join(_) | Self::AsyncJoin(_) => WatchKind::Join,
            Self::Leave(_) | Self::AsyncLeave(_) => WatchKind::Leave,
            Self::Elected(_) | Self::AsyncElected(_) => WatchKind::Elected,
            Self::Any(_) | Self::AsyncAny(_) => WatchKind::Any,
        }
    }

    /// Call the callback if `event` is one it listens to.
    fn offer(&mut self, event: &Event, me: &Coordinator) -> Offer {
        let mine = |e: &LeaderElected| e.member_id == *me.member_id();
        let c = || me.clone();
        match (self, event) {
            (Self::Join(f), Event::MemberJoined(e)) => f(e),
            (Self::Leave(f), Event::MemberLeft(e)) => f(e),
            (Self::Elected(f), Event::LeaderElected(e)) if mine(e) => f(e),
            (Self::Any(f), e) => f(e),
            (Self::AsyncJoin(f), Event::MemberJoined(e)) => {
                return Offer::Started(f(c(), e.clone()));
            }
            (Self::AsyncLeave(f), Event::MemberLeft(e)) => {
                return Offer::Started(f(c(), e.clone()));
            }
            (Self::AsyncElected(f), Event::LeaderElected(e)) if mine(e) => {
                return Offer::Started(f(c(), e.clone()));
            }
            (Self::AsyncAny(f), e) => return Offer::Started(f(c(), e.clone())),
            _ => return Offer::Declined,
        }
        Offer::Ran
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
    /// Offer `events` (in revision order) to the callbacks of `me`, awaiting each
    /// asynchronous callback before the next offer; returns one copy of each event per
    /// callback that took it.
    pub(crate) async fn run(&self, events: &[Event], me: &Coordinator) -> Vec<Event> {
        let mut delivered = Vec::new();
        for event in events {
            for (group, seen, active, callback) in &self.hooks {
                if event.revision() <= *seen
                    || event.group_id() != Some(group)
                    || !active.load(Ordering::Acquire)
                {
                    continue;
                }
                let offer = callback
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .offer(event, me);
                match offer {
                    Offer::Declined => continue,
                    Offer::Ran => {}
                    Offer::Started(future) => future.await,
                }
                delivered.push(event.clone());
            }
        }
        delivered
    }
}
