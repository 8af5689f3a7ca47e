//! Named locks, held by sessions: exclusive or shared, waiters served in arrival order, a
//! fencing token on every acquisition.
//!
//! A lock is held by a member's session, so it goes with the session: when the session is
//! closed or expires, its holds are released (`LockReleased` with the reason) and its waits
//! dropped, and the waiters behind are served. No lock outlives its holder.
//!
//! Waiters are served strictly in arrival order: an acquisition that finds waiters queued is
//! not granted ahead of them, even when its mode would fit beside the holders, so a stream of
//! shared holders cannot starve an exclusive waiter. At the front of the queue, consecutive
//! shared waiters are granted together.
//!
//! A fencing token is the revision of the acquisition's `LockAcquired` event, so tokens only
//! grow, for one lock and across locks, and across a lock that was forgotten (no holder, no
//! waiter) and used again.
//!
//! A session holds or waits for a lock at most once. Asking again is answered with where it
//! stands, so a call retried after a lost answer changes nothing: a session that holds the
//! lock in the mode asked gets its acquisition's token again (no new event), in the other
//! mode `Busy`; one that waits is `Queued` again. Several tasks sharing one session take
//! turns above the store (the coordinator's lock handles do), so locks are not re-entrant.

use std::collections::VecDeque;

use roster_types::error::CoordinationError;
use roster_types::event::{
    Event, FencingToken, LockAcquired, LockMode, LockReleaseReason, LockReleased,
};
use roster_types::ids::{LockName, MemberId};
use roster_types::{LockAttempt, LockHolder, LockInfo, LockStanding, LockWaiter};
use serde::{Deserialize, Serialize};

use crate::state::{Result, SessionKey, State};
use crate::time::Now;

/// A session holding a lock.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Hold<K> {
    pub(crate) session: K,
    pub(crate) member_id: MemberId,
    pub(crate) mode: LockMode,
    pub(crate) token: FencingToken,
}

/// A session waiting for a lock.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Wait<K> {
    pub(crate) session: K,
    pub(crate) member_id: MemberId,
    pub(crate) mode: LockMode,
}

/// One lock the store keeps: while it has a holder or a waiter.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Lock<K> {
    pub(crate) name: LockName,
    pub(crate) holders: Vec<Hold<K>>,
    pub(crate) waiters: VecDeque<Wait<K>>,
}

impl<K: SessionKey> Lock<K> {
    fn new(name: LockName) -> Self {
        Self {
            name,
            holders: Vec::new(),
            waiters: VecDeque::new(),
        }
    }

    /// Whether a holder in `mode` fits beside the current holders.
    fn fits(&self, mode: LockMode) -> bool {
        match mode {
            LockMode::Exclusive => self.holders.is_empty(),
            LockMode::Shared => self.holders.iter().all(|h| h.mode == LockMode::Shared),
        }
    }

    fn holds(&self, key: &K) -> Option<&Hold<K>> {
        self.holders.iter().find(|h| h.session == *key)
    }

    fn waits(&self, key: &K) -> bool {
        self.waiters.iter().any(|w| w.session == *key)
    }

    fn is_unused(&self) -> bool {
        self.holders.is_empty() && self.waiters.is_empty()
    }

    fn info(&self) -> LockInfo {
        LockInfo {
            lock: self.name.clone(),
            holders: self
                .holders
                .iter()
                .map(|h| LockHolder {
                    member_id: h.member_id.clone(),
                    mode: h.mode,
                    token: h.token,
                })
                .collect(),
            waiters: self
                .waiters
                .iter()
                .map(|w| LockWaiter {
                    member_id: w.member_id.clone(),
                    mode: w.mode,
                })
                .collect(),
        }
    }
}

impl<K: SessionKey> State<K> {
    /// Acquire `lock` in `mode` for the session: `Acquired` with the fencing token when it
    /// fits beside the holders and nobody waits ahead (`LockAcquired`); otherwise `Queued`
    /// when `wait` (the session is served in arrival order, its `LockAcquired` says when),
    /// else `Busy`. An expired session is reopened and the call fails with its expiry notice
    /// (R6).
    ///
    /// # Errors
    /// `InvalidId`, `SessionExpired`; `NotStarted` for a session the store does not have.
    pub fn acquire_lock(
        &mut self,
        key: &K,
        lock: &str,
        mode: LockMode,
        wait: bool,
        now: Now,
    ) -> Result<LockAttempt> {
        LockName::check(lock)?;
        self.reopen_if_expired(key, now)?;
        let member_id = self.session(key)?.member_id.clone();
        if let Some(l) = self.locks.get(lock) {
            if let Some(hold) = l.holds(key) {
                return Ok(if hold.mode == mode {
                    LockAttempt::Acquired { token: hold.token }
                } else {
                    LockAttempt::Busy
                });
            }
            if l.waits(key) {
                return Ok(LockAttempt::Queued);
            }
        }
        let free = self
            .locks
            .get(lock)
            .is_none_or(|l| l.waiters.is_empty() && l.fits(mode));
        if free {
            let name = LockName::new(lock)?;
            let token = self.grant(key, &name, member_id, mode);
            return Ok(LockAttempt::Acquired { token });
        }
        if !wait {
            return Ok(LockAttempt::Busy);
        }
        let name = LockName::new(lock)?;
        self.locks
            .entry(name.clone())
            .or_insert_with(|| Lock::new(name.clone()))
            .waiters
            .push_back(Wait {
                session: key.clone(),
                member_id,
                mode,
            });
        self.session_locks
            .entry(key.clone())
            .or_default()
            .push(name);
        Ok(LockAttempt::Queued)
    }

    /// Release the session's hold on `lock` (`LockReleased{released}`), or give up its place
    /// in the queue; the waiters that now fit are served. Returns the released hold's token,
    /// `None` for a wait given up.
    ///
    /// # Errors
    /// `LockNotHeld` when the session neither holds nor waits for the lock (also after it
    /// lost it by expiry); `InvalidId`.
    pub fn release_lock(&mut self, key: &K, lock: &str) -> Result<Option<FencingToken>> {
        LockName::check(lock)?;
        let not_held = || match LockName::new(lock) {
            Ok(name) => CoordinationError::LockNotHeld(name),
            Err(invalid) => invalid,
        };
        let Some(l) = self.locks.get(lock) else {
            return Err(not_held());
        };
        if !(l.holds(key).is_some() || l.waits(key)) {
            return Err(not_held());
        }
        let name = l.name.clone();
        let token = self.let_go(key, &name, LockReleaseReason::Released);
        self.forget_session_lock(key, &name);
        self.serve_waiters(&name);
        Ok(token)
    }

    /// Stop waiting for `lock`: a session still in the queue leaves it (the waiters it
    /// blocked are served) and gets `None`; one that was granted the lock meanwhile keeps it
    /// and gets its token. What a waiter whose patience ran out calls, so a grant that came
    /// at the last moment is neither lost nor left held unknowingly. A session that neither
    /// holds nor waits gets `None`.
    ///
    /// # Errors
    /// `InvalidId`.
    pub fn abandon_lock_wait(&mut self, key: &K, lock: &str) -> Result<Option<FencingToken>> {
        LockName::check(lock)?;
        match self.lock_standing(key, lock) {
            LockStanding::Holding { token, .. } => Ok(Some(token)),
            LockStanding::Waiting { .. } => self.release_lock(key, lock),
            LockStanding::Neither => Ok(None),
        }
    }

    /// Break `lock` (tooz's `break_`): every hold ends at once (`LockReleased{broken}`) and
    /// the waiters that now fit are served. Returns the tokens of the holds broken (none for
    /// a lock nobody held). For a holder that is gone without releasing; the fencing tokens
    /// of the next holders tell a resource to refuse the broken ones.
    ///
    /// # Errors
    /// `InvalidId`.
    pub fn break_lock(&mut self, lock: &str) -> Result<Vec<FencingToken>> {
        LockName::check(lock)?;
        let Some(l) = self.locks.get(lock) else {
            return Ok(Vec::new());
        };
        let name = l.name.clone();
        let holders: Vec<K> = l.holders.iter().map(|h| h.session.clone()).collect();
        let mut tokens = Vec::new();
        for key in holders {
            tokens.extend(self.let_go(&key, &name, LockReleaseReason::Broken));
            self.forget_session_lock(&key, &name);
        }
        self.serve_waiters(&name);
        Ok(tokens)
    }

    /// Where the session stands with `lock`.
    pub fn lock_standing(&self, key: &K, lock: &str) -> LockStanding {
        let Some(l) = self.locks.get(lock) else {
            return LockStanding::Neither;
        };
        if let Some(h) = l.holds(key) {
            return LockStanding::Holding {
                mode: h.mode,
                token: h.token,
            };
        }
        match l.waiters.iter().find(|w| w.session == *key) {
            Some(w) => LockStanding::Waiting { mode: w.mode },
            None => LockStanding::Neither,
        }
    }

    /// Who holds and who waits for `lock` (nobody, for a lock the store does not keep).
    ///
    /// # Errors
    /// `InvalidId`.
    pub fn lock_info(&self, lock: &str) -> Result<LockInfo> {
        let name = LockName::new(lock)?;
        Ok(self
            .locks
            .get(lock)
            .map_or_else(|| Lock::<K>::new(name).info(), Lock::info))
    }

    /// Every lock with a holder or a waiter, sorted by name.
    pub fn locks(&self) -> Vec<LockInfo> {
        let mut locks: Vec<LockInfo> = self.locks.values().map(Lock::info).collect();
        locks.sort_unstable_by(|a, b| a.lock.cmp(&b.lock));
        locks
    }

    /// End every hold and wait of a session whose session ends for `reason`, serving the
    /// waiters behind.
    pub(crate) fn drop_session_locks(&mut self, key: &K, reason: LockReleaseReason) {
        let Some(names) = self.session_locks.remove(key) else {
            return;
        };
        for name in names {
            self.let_go(key, &name, reason);
            self.serve_waiters(&name);
        }
    }

    /// The session no longer holds or waits for `name`.
    fn forget_session_lock(&mut self, key: &K, name: &LockName) {
        if let Some(names) = self.session_locks.get_mut(key) {
            names.retain(|l| l != name);
            if names.is_empty() {
                self.session_locks.remove(key);
            }
        }
    }

    /// Grant `lock` to the session (`LockAcquired`); returns the fencing token.
    fn grant(
        &mut self,
        key: &K,
        name: &LockName,
        member_id: MemberId,
        mode: LockMode,
    ) -> FencingToken {
        let token = self.next_revision();
        self.locks
            .entry(name.clone())
            .or_insert_with(|| Lock::new(name.clone()))
            .holders
            .push(Hold {
                session: key.clone(),
                member_id: member_id.clone(),
                mode,
                token,
            });
        let names = self.session_locks.entry(key.clone()).or_default();
        if !names.contains(name) {
            names.push(name.clone());
        }
        let lock = name.clone();
        self.commit(|revision| {
            Event::LockAcquired(LockAcquired {
                revision,
                lock,
                member_id,
                mode,
                token: revision,
            })
        })
    }

    /// Remove the session's hold (`LockReleased{reason}`; returns its token) or wait on
    /// `name`. Does not serve the waiters behind.
    fn let_go(
        &mut self,
        key: &K,
        name: &LockName,
        reason: LockReleaseReason,
    ) -> Option<FencingToken> {
        let l = self.locks.get_mut(name)?;
        l.waiters.retain(|w| w.session != *key);
        let index = l.holders.iter().position(|h| h.session == *key);
        let hold = index.map(|i| l.holders.remove(i));
        if let Some(hold) = &hold {
            let lock = name.clone();
            let (member_id, mode, token) = (hold.member_id.clone(), hold.mode, hold.token);
            self.commit(|revision| {
                Event::LockReleased(LockReleased {
                    revision,
                    lock,
                    member_id,
                    mode,
                    token,
                    reason,
                })
            });
        }
        hold.map(|h| h.token)
    }

    /// Grant `name` to the waiters at the front of its queue that fit, in order; forget the
    /// lock once nobody holds or waits for it.
    fn serve_waiters(&mut self, name: &LockName) {
        loop {
            let Some(l) = self.locks.get_mut(name) else {
                return;
            };
            if l.is_unused() {
                self.locks.remove(name);
                return;
            }
            let Some(front) = l.waiters.front() else {
                return;
            };
            if !l.fits(front.mode) {
                return;
            }
            let Some(next) = l.waiters.pop_front() else {
                return;
            };
            self.grant(&next.session, name, next.member_id, next.mode);
        }
    }
}
