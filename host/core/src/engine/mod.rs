//! The embedded backend: one shared [`State`] behind a lock, a change signal for readers of
//! the history, and a reaper that expires silent sessions on time.
//!
//! The membership rules themselves are the `roster-rules` crate's; this module holds the
//! parts that need a runtime. Every coordinator in the process that names the same store
//! shares one `Engine` (see [`registry`]). Operations run to completion under the lock, so
//! they are linearizable and a coordinator's calls take effect in the order it made them.
//! The mirror of a store that lives elsewhere is an `Engine` too ([`Engine::mirror`]), whose
//! state records that store's changes instead of making its own.

pub(crate) mod history;
pub(crate) mod mirrored;
pub(crate) mod registry;
pub(crate) mod state;
pub(crate) mod stream;

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub(crate) use roster_types::{GroupSummary, Leader, MemberInfo};
pub(crate) use state::{SessionId, State};

/// One store of the embedded backend.
#[derive(Debug)]
pub(crate) struct Engine {
    /// Tells this store apart from any other, including one of the same name in an earlier
    /// process: revisions only compare within one store.
    pub(crate) id: String,
    state: Mutex<State>,
    /// Woken after every change, for history readers waiting at the head.
    changed: Notify,
    /// Woken when a new session may have an earlier deadline than the reaper knows of.
    reaper_wake: Arc<Notify>,
    reaper: Mutex<Option<JoinHandle<()>>>,
}

impl Engine {
    /// An embedded store.
    pub(crate) fn new(history_size: usize, max_capabilities: usize) -> Arc<Self> {
        Self::with_state(State::new(history_size, max_capabilities))
    }

    /// The mirror of a store that lives elsewhere: it records that store's changes.
    pub(crate) fn mirror(history_size: usize) -> Arc<Self> {
        Self::with_state(State::mirroring(history_size))
    }

    fn with_state(state: State) -> Arc<Self> {
        Arc::new(Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            state: Mutex::new(state),
            changed: Notify::new(),
            reaper_wake: Arc::new(Notify::new()),
            reaper: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock can only come from a bug in the rules; the state it
        // left is still the best there is, so keep serving rather than poisoning every caller.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Read the state, after expiring whatever is due.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        self.write(|state| f(state))
    }

    /// Change the state, after expiring whatever is due, then wake history readers if
    /// anything was committed.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let (result, changed) = {
            let mut state = self.lock();
            let before = state.history.head();
            state.expire_due(Instant::now());
            let result = f(&mut state);
            (result, state.history.head() != before)
        };
        if changed {
            self.changed.notify_waiters();
        }
        result
    }

    /// A future that completes after the next change. Create it before checking the head,
    /// then await it, so no change can slip in between.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    /// Make sure a reaper task runs on the current tokio runtime, and tell it to look again
    /// at the deadlines. Called whenever a session opens.
    pub(crate) fn ensure_reaper(self: &Arc<Self>) {
        let mut reaper = self.reaper.lock().unwrap_or_else(|p| p.into_inner());
        // A reaper dies with the runtime that ran it (each `#[tokio::test]` has its own);
        // start a new one on the caller's runtime then.
        if reaper.as_ref().is_none_or(JoinHandle::is_finished) {
            *reaper = Some(tokio::spawn(reap(
                Arc::downgrade(self),
                Arc::clone(&self.reaper_wake),
            )));
        }
        drop(reaper);
        self.reaper_wake.notify_one();
    }
}

/// Expire sessions when their deadline passes, so watchers see expiry on time even when no
/// one calls into the store.
async fn reap(engine: Weak<Engine>, wake: Arc<Notify>) {
    loop {
        let Some(next) = engine
            .upgrade()
            .map(|e| e.write(|state| state.next_deadline()))
        else {
            return;
        };
        match next {
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}
