//! Named locks: modes, arrival order, fencing tokens, and locks going with their session.

use roster_types::error::CoordinationError;
use roster_types::event::{Event, LockMode, LockReleaseReason};
use roster_types::{LockAttempt, LockInfo, LockStanding};

use super::{T0, TTL, TTL_MS, at, events, member, open, store};

use LockMode::{Exclusive, Shared};

fn acquire(st: &mut crate::State<u64>, key: u64, mode: LockMode, wait: bool) -> LockAttempt {
    st.acquire_lock(&key, "l", mode, wait, at(T0)).unwrap()
}

fn holders(st: &crate::State<u64>) -> Vec<String> {
    let LockInfo { holders, .. } = st.lock_info("l").unwrap();
    holders.iter().map(|h| h.member_id.to_string()).collect()
}

#[test]
fn an_exclusive_lock_has_one_holder_and_its_token_is_the_acquisitions_revision() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL);
    let LockAttempt::Acquired { token } = acquire(&mut st, 1, Exclusive, false) else {
        panic!("a free lock is granted");
    };
    assert_eq!(token, st.head());
    assert_eq!(acquire(&mut st, 2, Exclusive, false), LockAttempt::Busy);
    assert_eq!(acquire(&mut st, 2, Shared, false), LockAttempt::Busy);
    assert_eq!(
        st.lock_standing(&1, "l"),
        LockStanding::Holding {
            mode: Exclusive,
            token
        }
    );
    assert_eq!(st.lock_standing(&2, "l"), LockStanding::Neither);
    let all = events(&mut st);
    assert!(matches!(
        &all[..],
        [Event::LockAcquired(e)] if e.token == token && e.member_id == member("a") && e.mode == Exclusive
    ));
}

#[test]
fn shared_holders_share_and_exclude_an_exclusive_one() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL);
    open(&mut st, 3, "c", TTL);
    assert!(matches!(
        acquire(&mut st, 1, Shared, false),
        LockAttempt::Acquired { .. }
    ));
    assert!(matches!(
        acquire(&mut st, 2, Shared, false),
        LockAttempt::Acquired { .. }
    ));
    assert_eq!(acquire(&mut st, 3, Exclusive, false), LockAttempt::Busy);
    assert_eq!(holders(&st), ["a", "b"]);
}

#[test]
fn asking_again_for_a_lock_held_answers_with_the_same_acquisition() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    let first = acquire(&mut st, 1, Exclusive, true);
    assert!(matches!(first, LockAttempt::Acquired { .. }));
    events(&mut st);
    assert_eq!(
        acquire(&mut st, 1, Exclusive, true),
        first,
        "a retried call changes nothing"
    );
    assert!(events(&mut st).is_empty());
    assert_eq!(
        acquire(&mut st, 1, Shared, false),
        LockAttempt::Busy,
        "not in the other mode"
    );
}

#[test]
fn waiters_are_served_in_arrival_order_and_no_one_jumps_the_queue() {
    let mut st = store();
    for (key, name) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
        open(&mut st, key, name, TTL);
    }
    assert!(matches!(
        acquire(&mut st, 1, Shared, false),
        LockAttempt::Acquired { .. }
    ));
    assert_eq!(acquire(&mut st, 2, Exclusive, true), LockAttempt::Queued);
    assert_eq!(
        acquire(&mut st, 2, Exclusive, true),
        LockAttempt::Queued,
        "asking again keeps its place"
    );
    assert_eq!(
        acquire(&mut st, 3, Shared, false),
        LockAttempt::Busy,
        "a shared acquisition fits beside the holder but waits behind the exclusive waiter"
    );
    assert_eq!(acquire(&mut st, 3, Shared, true), LockAttempt::Queued);
    assert_eq!(acquire(&mut st, 4, Shared, true), LockAttempt::Queued);
    events(&mut st);
    assert!(st.release_lock(&1, "l").unwrap().is_some());
    assert_eq!(holders(&st), ["b"]);
    assert!(st.release_lock(&2, "l").unwrap().is_some());
    assert_eq!(
        holders(&st),
        ["c", "d"],
        "consecutive shared waiters are granted together"
    );
    let tokens: Vec<u64> = events(&mut st)
        .iter()
        .filter_map(|e| match e {
            Event::LockAcquired(a) => Some(a.token),
            _ => None,
        })
        .collect();
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "tokens only grow: {tokens:?}"
    );
}

#[test]
fn giving_up_a_wait_serves_those_it_blocked() {
    let mut st = store();
    for (key, name) in [(1, "a"), (2, "b"), (3, "c")] {
        open(&mut st, key, name, TTL);
    }
    acquire(&mut st, 1, Shared, false);
    assert_eq!(acquire(&mut st, 2, Exclusive, true), LockAttempt::Queued);
    assert_eq!(acquire(&mut st, 3, Shared, true), LockAttempt::Queued);
    assert_eq!(
        st.release_lock(&2, "l"),
        Ok(None),
        "a wait given up has no token"
    );
    assert_eq!(holders(&st), ["a", "c"]);
}

#[test]
fn releasing_a_lock_one_does_not_hold_is_an_error() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL);
    acquire(&mut st, 1, Exclusive, false);
    assert!(matches!(st.release_lock(&2, "l"), Err(CoordinationError::LockNotHeld(n)) if n == "l"));
    assert!(matches!(
        st.release_lock(&2, "other"),
        Err(CoordinationError::LockNotHeld(_))
    ));
    assert!(matches!(
        st.release_lock(&2, ""),
        Err(CoordinationError::InvalidId { .. })
    ));
    st.release_lock(&1, "l").unwrap();
    assert!(matches!(
        st.release_lock(&1, "l"),
        Err(CoordinationError::LockNotHeld(_))
    ));
    assert!(
        st.locks().is_empty(),
        "a lock nobody holds or waits for is forgotten"
    );
}

#[test]
fn a_closed_session_releases_its_locks_to_the_next_waiter() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL);
    acquire(&mut st, 1, Exclusive, false);
    assert_eq!(acquire(&mut st, 2, Exclusive, true), LockAttempt::Queued);
    events(&mut st);
    st.close_session(&1);
    let all = events(&mut st);
    assert!(matches!(
        &all[..],
        [Event::LockReleased(r), Event::LockAcquired(a)]
            if r.reason == LockReleaseReason::SessionClosed && a.member_id == member("b")
    ));
}

#[test]
fn an_expired_holder_loses_the_lock_and_its_waits_are_dropped() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL * 2);
    st.acquire_lock(&2, "m", Exclusive, false, at(T0)).unwrap();
    acquire(&mut st, 1, Exclusive, false);
    assert_eq!(
        st.acquire_lock(&1, "m", Exclusive, true, at(T0)),
        Ok(LockAttempt::Queued)
    );
    assert_eq!(acquire(&mut st, 2, Exclusive, true), LockAttempt::Queued);
    events(&mut st);
    st.expire_due(at(T0 + TTL_MS));
    let all = events(&mut st);
    assert!(matches!(
        &all[..],
        [Event::LockReleased(r), Event::LockAcquired(a)]
            if r.reason == LockReleaseReason::Expired && a.member_id == member("b")
    ));
    assert!(
        st.lock_info("m").unwrap().waiters.is_empty(),
        "the expired waiter is gone"
    );
    assert!(
        matches!(
            st.acquire_lock(&1, "l", Exclusive, false, at(T0 + TTL_MS)),
            Err(CoordinationError::SessionExpired { .. })
        ),
        "the expired session hears of its expiry first"
    );
}

#[test]
fn tokens_grow_across_a_lock_forgotten_and_used_again() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    let LockAttempt::Acquired { token: first } = acquire(&mut st, 1, Exclusive, false) else {
        panic!("granted");
    };
    st.release_lock(&1, "l").unwrap();
    let LockAttempt::Acquired { token: second } = acquire(&mut st, 1, Exclusive, false) else {
        panic!("granted");
    };
    assert!(second > first);
}

#[test]
fn lock_names_are_checked() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    assert!(matches!(
        st.acquire_lock(&1, "bad\nname", Exclusive, false, at(T0)),
        Err(CoordinationError::InvalidId {
            kind: roster_types::IdKind::Lock,
            ..
        })
    ));
    assert!(st.lock_info("").is_err());
}

#[test]
fn locks_survive_serialization_with_their_queue() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL);
    acquire(&mut st, 1, Exclusive, false);
    acquire(&mut st, 2, Shared, true);
    let json = serde_json::to_string(&st).unwrap();
    let mut back: crate::State<u64> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.lock_info("l").unwrap(), st.lock_info("l").unwrap());
    back.release_lock(&1, "l").unwrap();
    assert_eq!(holders(&back), ["b"]);
}

#[test]
fn abandoning_a_wait_keeps_a_lock_granted_at_the_last_moment() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL);
    open(&mut st, 3, "c", TTL);
    acquire(&mut st, 1, Exclusive, false);
    assert_eq!(acquire(&mut st, 2, Exclusive, true), LockAttempt::Queued);
    assert_eq!(acquire(&mut st, 3, Exclusive, true), LockAttempt::Queued);
    assert_eq!(
        st.lock_standing(&3, "l"),
        LockStanding::Waiting { mode: Exclusive }
    );
    assert_eq!(
        st.abandon_lock_wait(&3, "l"),
        Ok(None),
        "still queued: leaves the queue"
    );
    assert_eq!(st.lock_standing(&3, "l"), LockStanding::Neither);
    st.release_lock(&1, "l").unwrap();
    let LockStanding::Holding { token, .. } = st.lock_standing(&2, "l") else {
        panic!("b was next");
    };
    assert_eq!(
        st.abandon_lock_wait(&2, "l"),
        Ok(Some(token)),
        "granted: keeps it"
    );
    assert_eq!(holders(&st), ["b"]);
    assert_eq!(
        st.abandon_lock_wait(&3, "l"),
        Ok(None),
        "nothing to abandon"
    );
}

#[test]
fn breaking_a_lock_ends_every_hold_and_serves_the_waiters() {
    let mut st = store();
    for (key, name) in [(1, "a"), (2, "b"), (3, "c")] {
        open(&mut st, key, name, TTL);
    }
    acquire(&mut st, 1, Shared, false);
    acquire(&mut st, 2, Shared, false);
    assert_eq!(acquire(&mut st, 3, Exclusive, true), LockAttempt::Queued);
    events(&mut st);
    let broken = st.break_lock("l").unwrap();
    assert_eq!(broken.len(), 2);
    let all = events(&mut st);
    assert!(matches!(
        &all[..],
        [Event::LockReleased(x), Event::LockReleased(y), Event::LockAcquired(z)]
            if x.reason == LockReleaseReason::Broken
                && y.reason == LockReleaseReason::Broken
                && z.member_id == member("c")
    ));
    assert!(matches!(
        st.release_lock(&1, "l"),
        Err(CoordinationError::LockNotHeld(_))
    ));
    assert_eq!(st.break_lock("unused"), Ok(Vec::new()));
}
