//! Locks: who holds each one, how, with which fencing token and since when, and who waits.
//!
//! Holders come from both sources of truth: snapshots (the store's lock list, read every
//! refresh) and `lock-acquired`/`lock-released` events in between. Waiting is not an event
//! (a queued acquisition changes nothing anyone can observe until it is granted), so the
//! waiters are those of the latest snapshot, less any that an event since has shown holding.
//! A lock nobody holds or waits for is not listed, as the store keeps nothing for it.

use std::collections::BTreeMap;
use std::time::SystemTime;

use roster::{FencingToken, LockAcquired, LockInfo, LockMode, LockName, LockReleased, MemberId};

/// One holder of a lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The holding member.
    pub member_id: MemberId,
    /// How it holds the lock.
    pub mode: LockMode,
    /// Its acquisition's fencing token.
    pub token: FencingToken,
    /// When it acquired the lock, or when the monitor first saw it holding (see `exact`).
    pub since: SystemTime,
    /// Whether `since` is the acquisition (seen as an event) rather than the first snapshot
    /// that showed the hold, which makes "held for" a lower bound.
    pub exact: bool,
}

/// One lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    /// The lock.
    pub name: LockName,
    /// Its holders: one exclusive holder, or shared ones, oldest token first.
    pub holders: Vec<Holder>,
    /// Its waiters, first served first, as of the latest snapshot.
    pub waiters: Vec<roster::LockWaiter>,
}

impl Lock {
    fn empty(name: LockName) -> Self {
        Self {
            name,
            holders: Vec::new(),
            waiters: Vec::new(),
        }
    }

    /// The mode it is held in, if held.
    pub fn mode(&self) -> Option<LockMode> {
        self.holders.first().map(|h| h.mode)
    }

    /// The newest fencing token among its holders.
    pub fn newest_token(&self) -> Option<FencingToken> {
        self.holders.iter().map(|h| h.token).max()
    }

    /// The holder that has held it longest.
    pub fn longest_holder(&self) -> Option<&Holder> {
        self.holders.iter().min_by_key(|h| h.since)
    }

    /// Whether `needle` (lower case) is in its name or a holder's or waiter's id.
    pub fn matches(&self, needle: &str) -> bool {
        let has = |text: &str| text.to_lowercase().contains(needle);
        has(self.name.as_str())
            || self.holders.iter().any(|h| has(h.member_id.as_str()))
            || self.waiters.iter().any(|w| has(w.member_id.as_str()))
    }
}

/// Every lock in use, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Locks {
    /// Locks by name.
    pub by_name: BTreeMap<LockName, Lock>,
}

impl Locks {
    /// Replace everything with the store's lock list read at `at`, keeping when each hold
    /// still standing was first seen.
    pub fn apply_snapshot(&mut self, locks: Vec<LockInfo>, at: SystemTime) {
        let mut old = std::mem::take(&mut self.by_name);
        for info in locks {
            let previous = old.remove(&info.lock);
            let known = |token: FencingToken, member: &MemberId| {
                previous.as_ref().and_then(|p| {
                    p.holders
                        .iter()
                        .find(|h| h.token == token && h.member_id == *member)
                        .map(|h| (h.since, h.exact))
                })
            };
            let mut holders: Vec<Holder> = info
                .holders
                .into_iter()
                .map(|h| {
                    let (since, exact) = known(h.token, &h.member_id).unwrap_or((at, false));
                    Holder {
                        member_id: h.member_id,
                        mode: h.mode,
                        token: h.token,
                        since,
                        exact,
                    }
                })
                .collect();
            holders.sort_by_key(|h| h.token);
            if holders.is_empty() && info.waiters.is_empty() {
                continue;
            }
            self.by_name.insert(
                info.lock.clone(),
                Lock {
                    name: info.lock,
                    holders,
                    waiters: info.waiters,
                },
            );
        }
    }

    /// A member acquired a lock at `at`.
    pub fn acquired(&mut self, event: &LockAcquired, at: SystemTime) {
        let lock = self
            .by_name
            .entry(event.lock.clone())
            .or_insert_with(|| Lock::empty(event.lock.clone()));
        lock.holders.retain(|h| h.member_id != event.member_id);
        lock.holders.push(Holder {
            member_id: event.member_id.clone(),
            mode: event.mode,
            token: event.token,
            since: at,
            exact: true,
        });
        lock.holders.sort_by_key(|h| h.token);
        if let Some(i) = lock
            .waiters
            .iter()
            .position(|w| w.member_id == event.member_id)
        {
            lock.waiters.remove(i);
        }
    }

    /// A hold ended.
    pub fn released(&mut self, event: &LockReleased) {
        let Some(lock) = self.by_name.get_mut(&event.lock) else {
            return;
        };
        lock.holders
            .retain(|h| !(h.token == event.token && h.member_id == event.member_id));
        if lock.holders.is_empty() && lock.waiters.is_empty() {
            self.by_name.remove(&event.lock);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use roster::{LockHolder, LockReleaseReason, LockWaiter};

    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn name(text: &str) -> LockName {
        LockName::new(text).unwrap()
    }

    fn member(text: &str) -> MemberId {
        MemberId::new(text).unwrap()
    }

    fn acquired(member_id: &str, token: FencingToken) -> LockAcquired {
        LockAcquired {
            revision: token,
            lock: name("db"),
            member_id: member(member_id),
            mode: LockMode::Exclusive,
            token,
        }
    }

    #[test]
    fn a_waiter_granted_by_an_event_moves_from_the_queue_to_the_holders() {
        let mut locks = Locks::default();
        locks.apply_snapshot(
            vec![LockInfo {
                lock: name("db"),
                holders: vec![LockHolder {
                    member_id: member("a"),
                    mode: LockMode::Exclusive,
                    token: 7,
                }],
                waiters: vec![LockWaiter {
                    member_id: member("b"),
                    mode: LockMode::Exclusive,
                }],
            }],
            at(10),
        );
        let db = &locks.by_name[&name("db")];
        assert_eq!(db.holders[0].since, at(10));
        assert!(
            !db.holders[0].exact,
            "a hold first seen in a snapshot is a lower bound"
        );
        locks.released(&LockReleased {
            revision: 9,
            lock: name("db"),
            member_id: member("a"),
            mode: LockMode::Exclusive,
            token: 7,
            reason: LockReleaseReason::Released,
        });
        locks.acquired(&acquired("b", 10), at(12));
        let db = &locks.by_name[&name("db")];
        assert_eq!(db.holders.len(), 1);
        assert_eq!(db.holders[0].member_id, member("b"));
        assert!(db.holders[0].exact);
        assert!(db.waiters.is_empty(), "b holds now, it no longer waits");
    }

    #[test]
    fn a_snapshot_keeps_when_a_standing_hold_was_seen_and_drops_ended_ones() {
        let mut locks = Locks::default();
        locks.acquired(&acquired("a", 5), at(1));
        let standing = LockInfo {
            lock: name("db"),
            holders: vec![LockHolder {
                member_id: member("a"),
                mode: LockMode::Exclusive,
                token: 5,
            }],
            waiters: vec![],
        };
        locks.apply_snapshot(vec![standing], at(30));
        let holder = &locks.by_name[&name("db")].holders[0];
        assert_eq!((holder.since, holder.exact), (at(1), true));
        locks.apply_snapshot(vec![], at(31));
        assert!(
            locks.by_name.is_empty(),
            "a lock the store no longer lists is gone"
        );
    }

    #[test]
    fn a_lock_released_by_its_last_holder_with_nobody_waiting_is_not_listed() {
        let mut locks = Locks::default();
        locks.acquired(&acquired("a", 5), at(1));
        locks.released(&LockReleased {
            revision: 6,
            lock: name("db"),
            member_id: member("a"),
            mode: LockMode::Exclusive,
            token: 5,
            reason: LockReleaseReason::Expired,
        });
        assert!(locks.by_name.is_empty());
    }
}
