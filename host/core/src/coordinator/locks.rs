//! Named locks on a coordinator: the store's calls, and [`Lock`], the handle most callers
//! want (tooz's `get_lock`).
//!
//! A lock is held by the coordinator's session in the store, so it goes when the coordinator
//! stops or expires. The store serves waiters in arrival order and gives every acquisition a
//! fencing token. The store calls are the building blocks (what the daemon's API exposes):
//! acquire or queue, wait for the grant, abandon a wait, release, and read where the session
//! stands. A [`Lock`] puts them together: it waits in the store's queue for as long as its
//! caller's patience lasts, and never leaves a lock held that nobody knows of (a wait given
//! up keeps a lock granted at the last moment; a cancelled acquisition releases whatever the
//! store gave it).
//!
//! The store knows sessions, not tasks: a session holds a lock once. Tasks that share one
//! coordinator take turns through a gate per lock name, first come first served, so two
//! handles of one coordinator exclude each other as handles of two coordinators do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use roster_types::error::{CoordinationError, Result};
use roster_types::event::{Event, FencingToken, LockMode};
use roster_types::ids::LockName;
use roster_types::{LockAttempt, LockInfo, LockStanding};

use super::{Coordinator, Operation, lock};

/// How long an acquisition may wait for a lock that is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocking {
    /// Not at all: take the lock if it is free and nobody waits ahead, else give up.
    No,
    /// Until the lock is granted.
    Forever,
    /// At most this long (tooz's numeric `blocking`/`timeout`).
    For(Duration),
}

impl Blocking {
    fn deadline(self) -> Option<Instant> {
        match self {
            Self::For(limit) => Some(Instant::now() + limit),
            Self::No | Self::Forever => None,
        }
    }
}

/// The gates of one coordinator: one per lock name in use, so its tasks take turns.
#[derive(Debug, Default)]
pub(super) struct Gates(Mutex<HashMap<LockName, Weak<Semaphore>>>);

impl Gates {
    /// The gate of `name` (a new one when no handle of it is alive).
    fn gate(&self, name: &LockName) -> Arc<Semaphore> {
        let mut gates = lock(&self.0);
        if let Some(gate) = gates.get(name).and_then(Weak::upgrade) {
            return gate;
        }
        gates.retain(|_, gate| gate.strong_count() > 0);
        let gate = Arc::new(Semaphore::new(1));
        gates.insert(name.clone(), Arc::downgrade(&gate));
        gate
    }
}

impl Coordinator {
    fn with_lock_name<T: Send + 'static>(
        &self,
        lock: &str,
        call: impl FnOnce(&dyn super::Backend, LockName) -> Operation<T>,
    ) -> Operation<T> {
        self.call(LockName::new(lock), call)
    }

    /// Acquire `lock` in `mode` if it is free and nobody waits ahead (`Acquired` with its
    /// fencing token); otherwise, when `wait`, join its queue (`Queued`; then
    /// [`wait_for_lock`](Self::wait_for_lock)), else `Busy`. A session that holds the lock
    /// already is `Busy` (locks are not re-entrant); one that waits is `Queued` again.
    ///
    /// # Errors
    /// `InvalidId`, `NotStarted`; `SessionExpired` once after an expiry (R6).
    pub fn acquire_lock(&self, lock: &str, mode: LockMode, wait: bool) -> Operation<LockAttempt> {
        self.with_lock_name(lock, |backend, name| backend.acquire_lock(name, mode, wait))
    }

    /// Wait until the store grants `lock` to this coordinator, which is queued for it: its
    /// fencing token, or `None` when `patience` ran out first (it stays queued: wait again,
    /// or [`abandon_lock_wait`](Self::abandon_lock_wait)). Nothing is polled: the grant
    /// arrives with the store's changes.
    ///
    /// # Errors
    /// `LockNotHeld` when the coordinator neither holds nor waits for the lock (its wait
    /// ended with its session, for one); `InvalidId`, `NotStarted`.
    pub async fn wait_for_lock(
        &self,
        lock: &str,
        patience: Option<Duration>,
    ) -> Result<Option<FencingToken>> {
        let name = LockName::new(lock)?;
        let deadline = patience.map(|p| Instant::now() + p);
        // Subscribed before the first look, so a grant made after it is in the stream.
        let mut changes = self.subscribe(None)?;
        loop {
            match self.lock_standing(lock).await? {
                LockStanding::Holding { token, .. } => return Ok(Some(token)),
                LockStanding::Waiting { .. } => {}
                LockStanding::Neither => return Err(CoordinationError::LockNotHeld(name)),
            }
            // The next change to this lock (or a gap in the history) is worth a look.
            let next = async {
                while let Some(change) = changes.next().await {
                    match change {
                        Ok(Event::LockAcquired(e)) if e.lock == name => return,
                        Ok(Event::LockReleased(e)) if e.lock == name => return,
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            };
            match deadline {
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline, next).await.is_err() {
                        return Ok(None);
                    }
                }
                None => next.await,
            }
        }
    }

    /// Stop waiting for `lock`: leave its queue, or, when it was granted meanwhile, keep it
    /// and get its token.
    ///
    /// # Errors
    /// `InvalidId`, `NotStarted`.
    pub fn abandon_lock_wait(&self, lock: &str) -> Operation<Option<FencingToken>> {
        self.with_lock_name(lock, |backend, name| backend.abandon_lock_wait(name))
    }

    /// Release this coordinator's hold on `lock` (`LockReleased{released}`; the hold's
    /// token), or give up its wait (`None`). The next waiters are served.
    ///
    /// # Errors
    /// `LockNotHeld` when it neither holds nor waits for it; `InvalidId`, `NotStarted`.
    pub fn release_lock(&self, lock: &str) -> Operation<Option<FencingToken>> {
        self.with_lock_name(lock, |backend, name| backend.release_lock(name))
    }

    /// Break `lock` (tooz's `break_`): every hold ends at once (`LockReleased{broken}`),
    /// whoever holds it, and the waiters that now fit are served. For a holder known to be
    /// gone; the next holders' fencing tokens tell a guarded resource to refuse the broken
    /// ones. Returns the tokens of the holds broken.
    ///
    /// # Errors
    /// `InvalidId`, `NotStarted`.
    pub fn break_lock(&self, lock: &str) -> Operation<Vec<FencingToken>> {
        self.with_lock_name(lock, |backend, name| backend.break_lock(name))
    }

    /// Where this coordinator stands with `lock`: holding it (mode and token), waiting, or
    /// neither.
    ///
    /// # Errors
    /// `InvalidId`, `NotStarted`.
    pub fn lock_standing(&self, lock: &str) -> Operation<LockStanding> {
        self.with_lock_name(lock, |backend, name| backend.lock_standing(name))
    }

    /// Who holds `lock` and who waits for it, in order.
    ///
    /// # Errors
    /// `InvalidId`, `NotStarted`.
    pub fn get_lock_info(&self, lock: &str) -> Operation<LockInfo> {
        self.with_lock_name(lock, |backend, name| backend.lock_info(name))
    }

    /// Every lock that has a holder or a waiter, sorted by name.
    ///
    /// # Errors
    /// `NotStarted`.
    pub fn get_locks(&self) -> Operation<Vec<LockInfo>> {
        self.call(Ok(()), |backend, ()| backend.locks())
    }

    /// A handle on the lock `name` (tooz's `get_lock`); nothing is acquired yet.
    ///
    /// # Errors
    /// `InvalidId`.
    pub fn get_lock(&self, name: &str) -> Result<Lock> {
        let name = LockName::new(name)?;
        Ok(Lock {
            gate: self.inner.lock_gates.gate(&name),
            coordinator: self.clone(),
            name,
            held: Mutex::new(None),
        })
    }
}

/// A handle on one named lock, for one coordinator: acquire it with a mode and a patience,
/// release it, ask whether it is still held. Share it between tasks (in an `Arc`): a task
/// that acquires it while another holds it waits its turn, as a task of another coordinator
/// would. Not re-entrant: acquiring it again while holding it waits for the release.
#[derive(Debug)]
pub struct Lock {
    coordinator: Coordinator,
    name: LockName,
    /// This coordinator's gate for the name.
    gate: Arc<Semaphore>,
    /// The turn at the gate, while this handle holds the lock.
    held: Mutex<Option<OwnedSemaphorePermit>>,
}

/// Releases in the store what a cancelled acquisition may have been given or left queued.
struct Unwind<'a> {
    lock: &'a Lock,
    armed: bool,
}

impl Drop for Unwind<'_> {
    fn drop(&mut self) {
        if self.armed {
            let coordinator = self.lock.coordinator.clone();
            let name = self.lock.name.clone();
            // Best effort: the session may be gone, and with it what it held.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = coordinator.release_lock(name.as_str()).await;
                });
            }
        }
    }
}

impl Lock {
    /// The lock's name.
    pub fn name(&self) -> &LockName {
        &self.name
    }

    /// Acquire the lock in `mode`, waiting as `blocking` allows: its fencing token, or
    /// `None` when it was not acquired in time. Waiters are served in arrival order across
    /// every coordinator of the store.
    ///
    /// # Errors
    /// `NotStarted`; `SessionExpired` once after an expiry (R6); `Connection` and the
    /// like from a driver's store. Whatever the store granted or queued for a failed or
    /// cancelled acquisition is released.
    pub async fn acquire(
        &self,
        mode: LockMode,
        blocking: Blocking,
    ) -> Result<Option<FencingToken>> {
        let deadline = blocking.deadline();
        self.forget_if_lost().await?;
        let Some(turn) = self.take_turn(blocking, deadline).await else {
            return Ok(None);
        };
        let mut unwind = Unwind {
            lock: self,
            armed: true,
        };
        let acquired = self.acquire_in_store(mode, blocking, deadline).await;
        // Not cancelled: what the store gave is known, and handled here.
        unwind.armed = false;
        match acquired {
            Ok(Some(token)) => {
                *lock(&self.held) = Some(turn);
                Ok(Some(token))
            }
            Ok(None) => Ok(None),
            Err(error) => {
                let _ = self.coordinator.release_lock(self.name.as_str()).await;
                Err(error)
            }
        }
    }

    /// A turn at this coordinator's gate, within the patience.
    async fn take_turn(
        &self,
        blocking: Blocking,
        deadline: Option<Instant>,
    ) -> Option<OwnedSemaphorePermit> {
        let gate = Arc::clone(&self.gate);
        match (blocking, deadline) {
            (Blocking::No, _) => gate.try_acquire_owned().ok(),
            (_, Some(deadline)) => tokio::time::timeout_at(deadline, gate.acquire_owned())
                .await
                .ok()?
                .ok(),
            (_, None) => gate.acquire_owned().await.ok(),
        }
    }

    /// Acquire in the store, waiting in its queue until `deadline`.
    async fn acquire_in_store(
        &self,
        mode: LockMode,
        blocking: Blocking,
        deadline: Option<Instant>,
    ) -> Result<Option<FencingToken>> {
        let name = self.name.as_str();
        let wait = blocking != Blocking::No;
        loop {
            match self.coordinator.acquire_lock(name, mode, wait).await? {
                LockAttempt::Acquired { token } => return Ok(Some(token)),
                LockAttempt::Busy => return Ok(None),
                LockAttempt::Queued => {}
            }
            let patience = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match self.coordinator.wait_for_lock(name, patience).await {
                Ok(Some(token)) => return Ok(Some(token)),
                // Patience ran out: leave the queue, unless the grant came at the last moment.
                Ok(None) => return self.coordinator.abandon_lock_wait(name).await,
                // The wait ended with the session (an expiry): ask again, which reports it.
                Err(CoordinationError::LockNotHeld(_)) => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Drop this handle's turn when the store no longer has its hold (its session stopped
    /// or expired), so the handle can acquire again.
    async fn forget_if_lost(&self) -> Result<()> {
        if lock(&self.held).is_none() {
            return Ok(());
        }
        if let LockStanding::Neither = self.coordinator.lock_standing(self.name.as_str()).await? {
            lock(&self.held).take();
        }
        Ok(())
    }

    /// Release the lock this handle holds; the waiters next in line are served.
    ///
    /// # Errors
    /// `LockNotHeld` when this handle does not hold it, or its hold ended in the store
    /// (the session stopped or expired); `NotStarted`.
    pub async fn release(&self) -> Result<()> {
        let Some(turn) = lock(&self.held).take() else {
            return Err(CoordinationError::LockNotHeld(self.name.clone()));
        };
        let released = self.coordinator.release_lock(self.name.as_str()).await;
        drop(turn);
        released.map(drop)
    }

    /// The fencing token of this handle's hold, if it holds the lock and the store agrees
    /// (`None` once the hold ended with an expiry).
    ///
    /// # Errors
    /// `NotStarted`, or the store's error.
    pub async fn is_held(&self) -> Result<Option<FencingToken>> {
        if lock(&self.held).is_none() {
            return Ok(None);
        }
        Ok(
            match self.coordinator.lock_standing(self.name.as_str()).await? {
                LockStanding::Holding { token, .. } => Some(token),
                LockStanding::Waiting { .. } | LockStanding::Neither => None,
            },
        )
    }
}
