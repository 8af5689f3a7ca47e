//! The local mirror of a driver's store: its recent history and its group list, kept current
//! by one feed task that polls [`Driver::changes`] with a deadline.
//!
//! Every coordinator of the process that names the same store shares its mirror (and its
//! feed), as coordinators naming one embedded store share it. The feed runs on the tokio
//! runtime of the coordinator that started it; when that runtime ends, the next `start` on
//! another one runs it anew.
//!
//! The mirror is an [`Engine`] that never makes changes of its own, only records the store's,
//! so everything that reads history (`run_watchers`, `subscribe`, handlers) works on a driver's
//! store as on the embedded one. A group created or deleted through the coordinator completes
//! only once the mirror has it (or after [`CATCH_UP_LIMIT`]), so a watch can be registered on
//! it at once. A membership change completes as soon as the store has made it: its revision
//! is [noted](Mirror::note) as known, so a watch registered right after it starts after it,
//! and the event itself arrives with the feed, in order, for whoever reads the history. When the store says the history asked for is gone, or turns out to be
//! a different store (a daemon restarted with an empty memory), the mirror starts over at the
//! store's head: readers of the missing part are told [`HistoryLost`], never left with a gap.
//!
//! [`HistoryLost`]: roster_types::CoordinationError::HistoryLost

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Changes, Driver};
use crate::backend_url::BackendUrl;
use crate::engine::Engine;
use roster_types::error::CoordinationError;
use roster_types::event::{Event, Revision};

/// Most events asked for per poll.
const BATCH: usize = 1_000;
/// How long one poll waits at the store for a change.
const POLL_WAIT: Duration = Duration::from_secs(10);
/// First pause after a failed poll; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Longest pause between polls of an unreachable store.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Longest a completed change waits for the mirror to include it.
pub(crate) const CATCH_UP_LIMIT: Duration = Duration::from_secs(5);

/// A store's history and groups, as far as the feed has read them.
#[derive(Debug)]
pub(crate) struct Mirror {
    pub(crate) engine: Arc<Engine>,
    driver: Arc<dyn Driver>,
    /// The store's id as last read ("" before the first read); its receivers learn when the
    /// store is replaced.
    store: watch::Sender<String>,
    feed: Mutex<Option<JoinHandle<()>>>,
    /// The newest revision a change made through this process returned, and the history
    /// generation it belongs to: the store has it even when the feed has not brought it yet.
    known: Mutex<(u64, Revision)>,
}

/// The mirrors of this process, by store: every coordinator of one store shares one, so a
/// change one of them made is in every one's view when it completes.
/// Each with the URL that opened it: its store-wide options are the mirror's.
static MIRRORS: OnceLock<Mutex<HashMap<String, Opened>>> = OnceLock::new();

/// A mirror in use, and the URL that opened it.
type Opened = (Weak<Mirror>, BackendUrl);

impl Mirror {
    /// The mirror of the store `url` names, made with `make` unless one is in use already.
    ///
    /// # Errors
    /// `make`'s; `InvalidUrl` when `url` names a store-wide option (`history`, `driver`)
    /// with another value than the mirror in use was opened with.
    pub(crate) fn shared(
        url: &BackendUrl,
        make: impl FnOnce() -> Result<Arc<Self>, CoordinationError>,
    ) -> Result<Arc<Self>, CoordinationError> {
        let mirrors = MIRRORS.get_or_init(Mutex::default);
        let mut mirrors = mirrors.lock().unwrap_or_else(|p| p.into_inner());
        mirrors.retain(|_, (mirror, _)| mirror.strong_count() > 0);
        if let Some((mirror, opened)) = mirrors.get(&url.store)
            && let Some(mirror) = mirror.upgrade()
        {
            url.agrees_with(opened)?;
            return Ok(mirror);
        }
        let mirror = make()?;
        mirrors.insert(url.store.clone(), (Arc::downgrade(&mirror), url.clone()));
        Ok(mirror)
    }

    pub(crate) fn new(driver: Arc<dyn Driver>, history_size: usize) -> Arc<Self> {
        Arc::new(Self {
            engine: Engine::mirror(history_size),
            driver,
            store: watch::Sender::new(String::new()),
            feed: Mutex::new(None),
            known: Mutex::new((0, 0)),
        })
    }

    pub(crate) fn driver(&self) -> &Arc<dyn Driver> {
        &self.driver
    }

    /// The store's id, once the mirror has read it ("" before).
    pub(crate) fn store_id(&self) -> String {
        self.store.borrow().clone()
    }

    /// The store's id, as it changes: a new value means the store was replaced.
    pub(crate) fn watch_store(&self) -> watch::Receiver<String> {
        self.store.subscribe()
    }

    /// Start over at the store's `head`, seeded with its groups, their members and leaders.
    ///
    /// Members and leaders are read after `head` (a store offers no read of everything at one
    /// revision), so they may already include changes the feed then brings again; applying
    /// those is idempotent, and the seed converges to the store's state.
    async fn reset(&self, info: super::StoreInfo) -> Result<(), CoordinationError> {
        let mut groups = Vec::with_capacity(info.groups.len());
        for group in info.groups {
            let members = match self.driver.members_info(group.as_str()).await {
                Ok(members) => members.into_iter().collect(),
                Err(CoordinationError::GroupNotCreated(_)) => continue,
                Err(other) => return Err(other),
            };
            let leader = match self.driver.leader(group.as_str()).await {
                Ok(leader) => leader,
                Err(CoordinationError::GroupNotCreated(_)) => continue,
                Err(other) => return Err(other),
            };
            groups.push((group, members, leader));
        }
        let replaced = info.store_id != self.store_id() || info.head < self.head();
        // The new id is in place before readers can see the reset, so a reader told its
        // history is gone reads the id of the store it goes on in; it is announced only
        // after the mirror holds the new store, so whoever acts on it (a coordinator
        // re-establishing its member) makes changes the feed then brings.
        let mut changed = false;
        self.store.send_if_modified(|id| {
            changed = *id != info.store_id;
            id.clone_from(&info.store_id);
            false
        });
        self.engine
            .write(|state| state.reset_mirror(info.head, groups, replaced));
        if changed {
            self.store.send_modify(|_| {});
        }
        Ok(())
    }

    /// Make sure the feed runs: the first time, read the store's head and groups and start
    /// following it from there.
    ///
    /// # Errors
    /// The driver's, when the store cannot be read.
    pub(crate) async fn ensure_feed(self: &Arc<Self>) -> Result<(), CoordinationError> {
        if self
            .feed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|task| !task.is_finished())
        {
            return Ok(());
        }
        let info = self.driver.describe().await?;
        if self.store_id() != info.store_id {
            self.reset(info).await?;
        }
        let mut feed = self.feed.lock().unwrap_or_else(|p| p.into_inner());
        if feed.as_ref().is_some_and(|task| !task.is_finished()) {
            return Ok(());
        }
        *feed = Some(tokio::spawn(follow(Arc::downgrade(self))));
        Ok(())
    }

    /// Fill the history in with what the store made before the mirror started at its head,
    /// as far back as the store and the mirror's capacity both keep: so that a reader who
    /// resumes from an older revision (the client of another daemon of the same store, or
    /// of this one before a restart) goes on without a resync. Reads up to `limit` changes.
    ///
    /// # Errors
    /// The driver's, when the store cannot be read.
    pub(crate) async fn fill_history(&self, limit: usize) -> Result<(), CoordinationError> {
        let (generation, oldest) = self
            .engine
            .read(|state| (state.history.generation(), state.history.oldest()));
        let mut after = oldest.saturating_sub(1).saturating_sub(limit as Revision);
        let mut older = Vec::new();
        while after + 1 < oldest {
            match self.driver.changes(after, BATCH, Duration::ZERO).await? {
                // Older changes of another store are not this history's.
                Changes::Events { store_id, .. } if store_id != self.store_id() => break,
                Changes::Events { events, .. } => {
                    let Some(last) = events.last().map(Event::revision) else {
                        break;
                    };
                    older.extend(events.into_iter().take_while(|e| e.revision() < oldest));
                    after = last;
                }
                // The store keeps less: start at its oldest.
                Changes::Resync { oldest: kept, .. } if kept > after + 1 => {
                    after = kept - 1;
                }
                Changes::Resync { .. } => break,
            }
        }
        self.engine.write(|state| {
            // A store replaced meanwhile makes these revisions another store's.
            if state.history.generation() == generation {
                state.history.backfill(older);
            }
        });
        Ok(())
    }

    /// Wait until the mirror follows the store `store_id` (at most [`CATCH_UP_LIMIT`]):
    /// changes made in a replaced store after this reach the mirror as events rather than
    /// as part of the state it starts over with.
    pub(crate) async fn follow_store(&self, store_id: &str) {
        let mut store = self.watch_store();
        let switched = store.wait_for(|id| id == store_id);
        if tokio::time::timeout(CATCH_UP_LIMIT, switched)
            .await
            .is_err()
        {
            tracing::warn!(
                store = store_id,
                "the change feed has not switched to the new store"
            );
        }
    }

    /// The history generation the mirror is in.
    pub(crate) fn generation(&self) -> u64 {
        self.engine.read(|state| state.history.generation())
    }

    /// Record that the store has made revision `revision`, returned by a change made in
    /// history `generation` (a change returned by a store since replaced counts for nothing).
    pub(crate) fn note(&self, generation: u64, revision: Revision) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.0 != generation {
            *known = (generation, revision);
        } else {
            known.1 = known.1.max(revision);
        }
    }

    /// The newest revision known to be in the store, as of `state` (the mirror's engine
    /// state): its head, or a newer revision [noted](Mirror::note) in its generation.
    pub(crate) fn known_head(&self, state: &crate::engine::State) -> Revision {
        let head = state.history.head();
        let known = *self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.0 == state.history.generation() {
            head.max(known.1)
        } else {
            head
        }
    }

    /// The newest revision the mirror holds.
    pub(crate) fn head(&self) -> Revision {
        self.engine.read(|state| state.history.head())
    }

    /// Wait until the mirror holds `revision`, at most [`CATCH_UP_LIMIT`]; returns whether
    /// it does.
    pub(crate) async fn catch_up(&self, revision: Revision) -> bool {
        let wait = async {
            loop {
                let changed = self.engine.changed();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if self.head() >= revision {
                    return;
                }
                changed.await;
            }
        };
        let caught_up = tokio::time::timeout(CATCH_UP_LIMIT, wait).await.is_ok();
        if !caught_up {
            tracing::warn!(
                revision,
                mirrored = self.head(),
                "the store's change feed is behind; going on without it"
            );
        }
        caught_up
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        if let Some(task) = self
            .feed
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

/// The feed: poll the store for changes after the mirror's head and record them, until the
/// mirror is dropped.
async fn follow(mirror: Weak<Mirror>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let Some(this) = mirror.upgrade() else {
            return;
        };
        let driver = Arc::clone(&this.driver);
        let after = this.head();
        drop(this);
        let answer = driver.changes(after, BATCH, POLL_WAIT).await;
        let Some(this) = mirror.upgrade() else {
            return;
        };
        match answer {
            Ok(Changes::Events {
                events,
                head,
                store_id,
            }) => {
                backoff = FIRST_BACKOFF;
                if store_id != this.store_id() {
                    // Another store answered (a server that came back without its data, or
                    // the daemon of another store): its revisions do not go on from ours,
                    // however they line up.
                    tracing::warn!(
                        followed = %this.store_id(),
                        answered = %store_id,
                        "the store was replaced; resyncing"
                    );
                    resync(&this).await;
                    continue;
                }
                if head < after {
                    // Revisions do not go back: this is another store (a server that came
                    // back without its data).
                    tracing::warn!(after, head, "the store went back in revisions; resyncing");
                    resync(&this).await;
                    continue;
                }
                if events.first().is_some_and(|e| e.revision() != after + 1) {
                    tracing::warn!(
                        after,
                        "the store's change feed skipped revisions; resyncing"
                    );
                    resync(&this).await;
                    continue;
                }
                this.engine.write(|state| {
                    for event in events {
                        state.mirror(event);
                    }
                });
            }
            Ok(Changes::Resync {
                requested, oldest, ..
            }) => {
                tracing::warn!(
                    requested,
                    oldest,
                    "the store no longer has the changes asked for; resyncing"
                );
                resync(&this).await;
            }
            Err(error) => {
                tracing::warn!(%error, "reading the store's changes failed; retrying");
                drop(this);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                let Some(this) = mirror.upgrade() else {
                    return;
                };
                // A store that came back as another one (a daemon restarted with an empty
                // memory) starts over at revision 0: go on from its head.
                if let Ok(info) = this.driver.describe().await
                    && (info.store_id != this.store_id() || info.head < this.head())
                {
                    tracing::warn!(store = %info.store_id, "the store was replaced; resyncing");
                    if let Err(error) = this.reset(info).await {
                        tracing::warn!(%error, "reading the replaced store failed; retrying");
                    }
                }
            }
        }
    }
}

/// Start the mirror over at the store's current head.
async fn resync(mirror: &Mirror) {
    match mirror.driver.describe().await {
        Ok(info) => {
            if let Err(error) = mirror.reset(info).await {
                tracing::warn!(%error, "reading the store for a resync failed; retrying");
                tokio::time::sleep(FIRST_BACKOFF).await;
            }
        }
        Err(error) => {
            tracing::warn!(%error, "reading the store for a resync failed; retrying");
            tokio::time::sleep(FIRST_BACKOFF).await;
        }
    }
}
