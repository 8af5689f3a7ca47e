//! The lock conformance tests, one async function each: what every backend that keeps locks
//! promises (tooz's lock tests in `test_coordination.py`, made exact, and Roster's own:
//! arrival order, fencing tokens, locks that go with their session, lock events).
//!
//! Time is the harness's, as in [`crate::conformance`]. A backend runs this suite with
//! `conformance_suite!(locks: ...)` or `conformance_suite!(locks real_time: ...)`.

#![allow(missing_docs)]

use std::sync::Arc;

use futures_util::StreamExt;
use roster::{
    Blocking, CoordinationError as E, Coordinator, Event, Lock, LockAttempt, LockMode,
    LockReleaseReason, LockStanding,
};

use crate::{Harness, new_group};

/// A lock name no other test uses.
fn new_lock() -> String {
    format!("lock-{}", new_group())
}

/// Whether `lock` is acquired in `mode` at once (without waiting).
async fn takes(lock: &Lock, mode: LockMode) -> bool {
    lock.acquire(mode, Blocking::No).await.unwrap().is_some()
}

/// Three started coordinators (`a`, `b`, `c`) with a handle each on one new lock.
async fn three_on_one_lock(h: &Harness) -> (String, [Coordinator; 3], [Lock; 3]) {
    let name = new_lock();
    let (a, b, c) = (
        h.started("a").await,
        h.started("b").await,
        h.started("c").await,
    );
    let locks = [&a, &b, &c].map(|coordinator| coordinator.get_lock(&name).unwrap());
    (name, [a, b, c], locks)
}

/// The holders of `lock`, as `c` reads them.
async fn holders(c: &Coordinator, lock: &str) -> Vec<String> {
    c.get_lock_info(lock)
        .await
        .unwrap()
        .holders
        .into_iter()
        .map(|h| h.member_id.to_string())
        .collect()
}

// ----- tooz's lock tests (test_get_lock ... test_get_multiple_locks_with_same_coord) -----

pub async fn a_free_lock_is_acquired_and_released(h: &Harness) {
    let a = h.started("a").await;
    let lock = a.get_lock(&new_lock()).unwrap();
    let token = lock.acquire(LockMode::Exclusive, Blocking::Forever).await;
    assert!(matches!(token, Ok(Some(_))));
    assert_eq!(lock.is_held().await.unwrap(), token.unwrap());
    lock.release().await.unwrap();
    assert_eq!(lock.is_held().await.unwrap(), None);
}

pub async fn releasing_a_lock_not_held_is_lock_not_held(h: &Harness) {
    let a = h.started("a").await;
    let name = new_lock();
    let lock = a.get_lock(&name).unwrap();
    assert!(matches!(lock.release().await, Err(E::LockNotHeld(n)) if n == *name));
    assert!(matches!(
        a.release_lock(&name).await,
        Err(E::LockNotHeld(_))
    ));
    assert!(takes(&lock, LockMode::Exclusive).await);
    lock.release().await.unwrap();
    assert!(
        matches!(lock.release().await, Err(E::LockNotHeld(_))),
        "released once"
    );
}

pub async fn an_exclusive_lock_excludes_other_coordinators_until_released(h: &Harness) {
    let (a, b) = (h.started("a").await, h.started("b").await);
    let name = new_lock();
    let (la, lb) = (a.get_lock(&name).unwrap(), b.get_lock(&name).unwrap());
    assert!(takes(&la, LockMode::Exclusive).await);
    assert!(!takes(&lb, LockMode::Exclusive).await);
    assert!(!takes(&lb, LockMode::Shared).await);
    assert!(matches!(lb.release().await, Err(E::LockNotHeld(_))));
    la.release().await.unwrap();
    assert!(
        lb.acquire(LockMode::Exclusive, Blocking::Forever)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn two_handles_of_one_coordinator_exclude_each_other(h: &Harness) {
    let a = h.started("a").await;
    let name = new_lock();
    let (first, second) = (a.get_lock(&name).unwrap(), a.get_lock(&name).unwrap());
    assert!(takes(&first, LockMode::Exclusive).await);
    assert!(!takes(&second, LockMode::Exclusive).await);
    assert!(matches!(second.release().await, Err(E::LockNotHeld(_))));
    first.release().await.unwrap();
    assert!(takes(&second, LockMode::Exclusive).await);
}

pub async fn a_task_waiting_on_a_shared_handle_gets_the_lock_once_released(h: &Harness) {
    let a = h.started("a").await;
    let lock = Arc::new(a.get_lock(&new_lock()).unwrap());
    assert!(takes(&lock, LockMode::Exclusive).await);
    let waiter = {
        let lock = Arc::clone(&lock);
        tokio::spawn(async move {
            let token = lock.acquire(LockMode::Exclusive, Blocking::Forever).await;
            lock.release().await.unwrap();
            token
        })
    };
    h.sleep(1).await;
    assert!(!waiter.is_finished(), "waits while the lock is held");
    lock.release().await.unwrap();
    assert!(matches!(waiter.await.unwrap(), Ok(Some(_))));
}

pub async fn shared_holders_coexist_and_exclude_an_exclusive_one(h: &Harness) {
    let (name, [_, _, c], [la, lb, lc]) = three_on_one_lock(h).await;
    assert!(takes(&la, LockMode::Shared).await);
    assert!(takes(&lb, LockMode::Shared).await);
    assert!(!takes(&lc, LockMode::Exclusive).await);
    let mut both = holders(&c, &name).await;
    both.sort();
    assert_eq!(both, ["a", "b"]);
    la.release().await.unwrap();
    lb.release().await.unwrap();
    assert!(takes(&lc, LockMode::Exclusive).await);
    assert!(!takes(&la, LockMode::Shared).await);
}

pub async fn an_acquisition_gives_up_when_its_timeout_passes(h: &Harness) {
    let (a, b) = (h.started("a").await, h.started("b").await);
    let name = new_lock();
    let (la, lb) = (a.get_lock(&name).unwrap(), b.get_lock(&name).unwrap());
    assert!(takes(&la, LockMode::Exclusive).await);
    let waited = lb
        .acquire(LockMode::Exclusive, Blocking::For(h.secs(1)))
        .await;
    assert_eq!(waited.unwrap(), None);
    let info = b.get_lock_info(&name).await.unwrap();
    assert!(
        info.waiters.is_empty(),
        "a waiter that gave up leaves the queue: {info:?}"
    );
    la.release().await.unwrap();
    assert!(takes(&lb, LockMode::Exclusive).await);
}

// ----- Roster's own -----

pub async fn waiters_are_served_in_arrival_order(h: &Harness) {
    let holder = h.started("holder").await;
    let name = new_lock();
    let lock = holder.get_lock(&name).unwrap();
    assert!(takes(&lock, LockMode::Exclusive).await);
    let mut waiters = Vec::new();
    for member in ["w1", "w2", "w3"] {
        let c = h.started(member).await;
        assert_eq!(
            c.acquire_lock(&name, LockMode::Exclusive, true)
                .await
                .unwrap(),
            LockAttempt::Queued
        );
        waiters.push(c);
    }
    let info = holder.get_lock_info(&name).await.unwrap();
    let queue: Vec<String> = info
        .waiters
        .iter()
        .map(|w| w.member_id.to_string())
        .collect();
    assert_eq!(queue, ["w1", "w2", "w3"]);
    let late = h.started("late").await;
    assert_eq!(
        late.acquire_lock(&name, LockMode::Exclusive, false)
            .await
            .unwrap(),
        LockAttempt::Busy,
        "nobody jumps the queue"
    );
    lock.release().await.unwrap();
    let mut tokens = Vec::new();
    for (i, c) in waiters.iter().enumerate() {
        let token = c
            .wait_for_lock(&name, Some(h.patience(1)))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("waiter {i} is served in turn"));
        if let Some(next) = waiters.get(i + 1) {
            assert!(matches!(
                next.lock_standing(&name).await.unwrap(),
                LockStanding::Waiting { .. }
            ));
        }
        tokens.push(token);
        c.release_lock(&name).await.unwrap();
    }
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "tokens only grow: {tokens:?}"
    );
}

pub async fn a_stopped_holder_hands_the_lock_to_the_next_waiter(h: &Harness) {
    let (a, b) = (h.started("a").await, h.started("b").await);
    let name = new_lock();
    let la = a.get_lock(&name).unwrap();
    let first = la
        .acquire(LockMode::Exclusive, Blocking::No)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        b.acquire_lock(&name, LockMode::Exclusive, true)
            .await
            .unwrap(),
        LockAttempt::Queued
    );
    a.stop().await.unwrap();
    let second = b.wait_for_lock(&name, Some(h.patience(1))).await.unwrap();
    assert!(
        second.is_some_and(|t| t > first),
        "{second:?} after {first}"
    );
}

pub async fn an_expired_holder_loses_the_lock_to_the_next_waiter(h: &Harness) {
    let h = h.with_timeout(5);
    let a = h.started("a").await;
    let b = h.with_timeout(60).started("b").await;
    let name = new_lock();
    let la = a.get_lock(&name).unwrap();
    assert!(takes(&la, LockMode::Exclusive).await);
    let lb = b.get_lock(&name).unwrap();
    let granted = lb
        .acquire(LockMode::Exclusive, Blocking::For(h.patience(8)))
        .await;
    assert!(
        granted.unwrap().is_some(),
        "granted once a stopped heartbeating"
    );
    assert_eq!(la.is_held().await.unwrap(), None, "a's hold is gone");
    assert!(matches!(
        la.release().await,
        Err(E::LockNotHeld(_)) | Err(E::SessionExpired { .. })
    ));
}

pub async fn breaking_a_lock_ends_its_holds_and_frees_it(h: &Harness) {
    let (name, [_, b, _], [la, lb, lc]) = three_on_one_lock(h).await;
    let first = la
        .acquire(LockMode::Exclusive, Blocking::No)
        .await
        .unwrap()
        .unwrap();
    assert!(!takes(&lb, LockMode::Exclusive).await);
    assert_eq!(b.break_lock(&name).await.unwrap(), [first]);
    let second = lb.acquire(LockMode::Exclusive, Blocking::No).await.unwrap();
    assert!(second.is_some_and(|t| t > first));
    assert!(
        matches!(la.release().await, Err(E::LockNotHeld(_))),
        "a's hold was broken"
    );
    assert!(!takes(&lc, LockMode::Exclusive).await, "b holds it");
    assert!(b.break_lock(&new_lock()).await.unwrap().is_empty());
}

pub async fn lock_changes_are_events_with_their_reason(h: &Harness) {
    let (a, b) = (h.started("a").await, h.started("b").await);
    let name = new_lock();
    let mut events = a.subscribe(None).unwrap();
    let la = a.get_lock(&name).unwrap();
    let token = la
        .acquire(LockMode::Shared, Blocking::No)
        .await
        .unwrap()
        .unwrap();
    la.release().await.unwrap();
    b.acquire_lock(&name, LockMode::Exclusive, false)
        .await
        .unwrap();
    b.stop().await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 4 {
        match events.next().await {
            Some(Ok(Event::LockAcquired(e))) if e.lock == *name => {
                seen.push(("acquired", e.member_id.to_string(), e.mode, None));
                if e.member_id == "a" {
                    assert_eq!(e.token, token);
                    assert_eq!(e.token, e.revision);
                }
            }
            Some(Ok(Event::LockReleased(e))) if e.lock == *name => {
                seen.push(("released", e.member_id.to_string(), e.mode, Some(e.reason)));
            }
            Some(Ok(_)) => {}
            other => panic!("the stream ended: {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            ("acquired", "a".into(), LockMode::Shared, None),
            (
                "released",
                "a".into(),
                LockMode::Shared,
                Some(LockReleaseReason::Released)
            ),
            ("acquired", "b".into(), LockMode::Exclusive, None),
            (
                "released",
                "b".into(),
                LockMode::Exclusive,
                Some(LockReleaseReason::SessionClosed)
            ),
        ]
    );
}

pub async fn locks_are_listed_while_held_or_awaited(h: &Harness) {
    let (a, b) = (h.started("a").await, h.started("b").await);
    let name = new_lock();
    a.acquire_lock(&name, LockMode::Exclusive, false)
        .await
        .unwrap();
    b.acquire_lock(&name, LockMode::Shared, true).await.unwrap();
    let listed = b.get_locks().await.unwrap();
    let info = listed.iter().find(|l| l.lock == *name).expect("listed");
    assert_eq!(info.holders.len(), 1);
    assert_eq!(info.holders[0].mode, LockMode::Exclusive);
    assert_eq!(info.waiters[0].member_id, "b");
    assert_eq!(info.waiters[0].mode, LockMode::Shared);
    b.release_lock(&name).await.unwrap();
    a.release_lock(&name).await.unwrap();
    let listed = a.get_locks().await.unwrap();
    assert!(
        listed.iter().all(|l| l.lock != *name),
        "forgotten once unused"
    );
    let group = new_group();
    a.create_group(&group).await.unwrap();
    a.acquire_lock(&group, LockMode::Exclusive, false)
        .await
        .unwrap();
    let loose = new_group();
    a.acquire_lock(&loose, LockMode::Exclusive, false)
        .await
        .unwrap();
    let groups = a.get_groups().await.unwrap();
    assert_eq!(groups.iter().filter(|g| **g == *group).count(), 1);
    assert!(groups.iter().all(|g| *g != *loose), "a lock is no group");
    assert!(
        a.get_members(&group).await.unwrap().is_empty(),
        "a holder is no member"
    );
}

pub async fn invalid_lock_names_are_rejected(h: &Harness) {
    let a = h.started("a").await;
    assert!(matches!(
        a.get_lock(""),
        Err(E::InvalidId {
            kind: roster::IdKind::Lock,
            ..
        })
    ));
    assert!(matches!(
        a.acquire_lock("a\u{7}b", LockMode::Exclusive, false).await,
        Err(E::InvalidId {
            kind: roster::IdKind::Lock,
            ..
        })
    ));
}

pub async fn lock_calls_before_start_are_not_started(h: &Harness) {
    let a = h.coordinator("a");
    let lock = a.get_lock(&new_lock()).unwrap();
    assert!(matches!(
        lock.acquire(LockMode::Exclusive, Blocking::No).await,
        Err(E::NotStarted)
    ));
    assert!(matches!(a.get_locks().await, Err(E::NotStarted)));
}
