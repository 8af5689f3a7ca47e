//! The scenarios every server driver passes, run natively against a real server by each
//! driver's own tests: membership and capabilities, expiry and its once-only notices,
//! elections, summaries, the bounded change log, a waiting poll, concurrent joins and an
//! unreachable server. A driver's test module implements [`Harness`] (how to reach its
//! server, open a store on a namespace of its own and delete that namespace again) and calls
//! [`server_scenarios!`](crate::server_scenarios), which makes each scenario a test.
//!
//! Without the server's variable set, every scenario returns at once.

use std::thread;
use std::time::{Duration, Instant};

use crate::Driver;
use crate::exports::roster::coordination::backend::{Feed, LockAttempt, LockHold, LockStanding};
use crate::roster::coordination::types::{
    CapabilitiesTooLarge, CoordinationError as E, LeadershipEnd, LeaveReason, LockMode,
    LockReleaseReason, MemberRef, MembershipEvent as Ev, SessionExpired,
};

/// How the scenarios reach one driver's server.
pub trait Harness: 'static {
    /// The driver's store.
    type Store: Driver + Send + 'static;

    /// The server's `host:port`, from the variable the driver's tests read; `None` (after
    /// saying so on stderr) skips the scenario.
    fn address() -> Option<String>;

    /// A store on `namespace` of the server at `address`, with the options `extra` besides.
    fn open(address: &str, namespace: &str, extra: &[(&str, &str)]) -> Self::Store;

    /// Delete every key of `namespace`.
    fn flush(address: &str, namespace: &str);

    /// A fresh namespace's name.
    fn namespace() -> String {
        format!("test-{:016x}", crate::random())
    }
}

/// The options of a store on `namespace` at `address`, plus `extra`: what
/// [`Harness::open`] usually passes to the driver's `open`.
pub fn options(address: &str, namespace: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut options = vec![
        ("address".to_owned(), address.to_owned()),
        ("namespace".to_owned(), namespace.to_owned()),
    ];
    options.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    options
}

/// The server's address from `variable`, or `None` with a note that the test is skipped.
pub fn address_from(variable: &str) -> Option<String> {
    let address = std::env::var(variable).ok();
    if address.is_none() {
        eprintln!("{variable} is not set: skipped");
    }
    address
}

/// Make each scenario a test of the driver whose [`Harness`] is `$harness`, in a module
/// `scenarios` of the calling module.
#[macro_export]
macro_rules! server_scenarios {
    ($harness:ty) => {
        mod scenarios {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn membership_capabilities_and_failed_joins() {
                $crate::scenarios::membership_capabilities_and_failed_joins::<$harness>();
            }
            #[test]
            fn expiry_removes_memberships_and_candidacies_and_is_told_once() {
                $crate::scenarios::expiry_removes_memberships_and_candidacies_and_is_told_once::<$harness>();
            }
            #[test]
            fn expiry_notice_does_not_carry_over_to_a_recreated_group() {
                $crate::scenarios::expiry_notice_does_not_carry_over_to_a_recreated_group::<$harness>();
            }
            #[test]
            fn elections_follow_the_candidate_queue_and_terms_grow() {
                $crate::scenarios::elections_follow_the_candidate_queue_and_terms_grow::<$harness>();
            }
            #[test]
            fn summaries_name_members_leader_and_last_change_at_one_revision() {
                $crate::scenarios::summaries_name_members_leader_and_last_change_at_one_revision::<$harness>();
            }
            #[test]
            fn the_change_log_is_bounded_and_says_when_history_is_lost() {
                $crate::scenarios::the_change_log_is_bounded_and_says_when_history_is_lost::<$harness>();
            }
            #[test]
            fn a_change_batch_names_its_store_and_another_once_the_data_is_gone() {
                $crate::scenarios::a_change_batch_names_its_store_and_another_once_the_data_is_gone::<$harness>();
            }
            #[test]
            fn a_waiting_poll_returns_with_another_clients_change() {
                $crate::scenarios::a_waiting_poll_returns_with_another_clients_change::<$harness>();
            }
            #[test]
            fn concurrent_joins_of_one_member_id_let_exactly_one_in() {
                $crate::scenarios::concurrent_joins_of_one_member_id_let_exactly_one_in::<$harness>();
            }
            #[test]
            fn locks_queue_in_arrival_order_and_go_with_an_expired_session() {
                $crate::scenarios::locks_queue_in_arrival_order_and_go_with_an_expired_session::<$harness>();
            }
            #[test]
            fn an_unreachable_server_is_a_connection_error_naming_it() {
                $crate::scenarios::an_unreachable_server_is_a_connection_error_naming_it::<$harness>();
            }
        }
    };
}

/// `assert_eq!` for the generated types, which derive `Debug` but not `PartialEq`.
macro_rules! assert_same {
    ($left:expr, $right:expr $(, $($message:tt)+)?) => {
        assert_eq!(format!("{:?}", $left), format!("{:?}", $right) $(, $($message)+)?)
    };
}

/// The events after `after` (at most 1000), failing on a resync.
pub fn events(store: &mut impl Driver, after: u64) -> Vec<Ev> {
    match store.changes(after, 1000, 0).unwrap() {
        Feed::Events(batch) => batch.events,
        Feed::Resync(r) => panic!("resync {:?}", (r.requested, r.oldest, r.head)),
    }
}

/// An event's kind, as the WIT variant's case name.
pub fn kind(e: &Ev) -> &'static str {
    match e {
        Ev::GroupCreated(_) => "group-created",
        Ev::GroupDeleted(_) => "group-deleted",
        Ev::MemberJoined(_) => "member-joined",
        Ev::MemberLeft(_) => "member-left",
        Ev::CapabilitiesUpdated(_) => "capabilities-updated",
        Ev::LeaderElected(_) => "leader-elected",
        Ev::LeaderLost(_) => "leader-lost",
        Ev::LockAcquired(_) => "lock-acquired",
        Ev::LockReleased(_) => "lock-released",
    }
}

pub fn kinds(events: &[Ev]) -> Vec<&'static str> {
    events.iter().map(kind).collect()
}

pub fn revision(e: &Ev) -> u64 {
    match e {
        Ev::GroupCreated(e) => e.revision,
        Ev::GroupDeleted(e) => e.revision,
        Ev::MemberJoined(e) => e.revision,
        Ev::MemberLeft(e) => e.revision,
        Ev::CapabilitiesUpdated(e) => e.revision,
        Ev::LeaderElected(e) => e.revision,
        Ev::LeaderLost(e) => e.revision,
        Ev::LockAcquired(e) => e.revision,
        Ev::LockReleased(e) => e.revision,
    }
}

pub fn member_ref(group: &str, member: &str) -> MemberRef {
    MemberRef {
        group_id: group.into(),
        member_id: member.into(),
    }
}

pub fn membership_capabilities_and_failed_joins<H: Harness>() {
    let Some(address) = H::address() else { return };
    let ns = H::namespace();
    let mut st = H::open(&address, &ns, &[]);
    let info = st.describe().unwrap();
    assert_eq!((info.head, info.groups.len()), (0, 0));
    let a = st.open_session("m", 10_000).unwrap();
    let twin = st.open_session("m", 10_000).unwrap();
    assert_eq!(st.create_group("g").unwrap(), 1);
    assert_same!(
        st.create_group("g").unwrap_err(),
        E::GroupAlreadyExist("g".into())
    );
    let caps = b"bin\x00\x01\xff\r\nend".to_vec();
    assert_eq!(st.join(&a, "g", &caps, false).unwrap(), 2);
    let head = st.head().unwrap();
    assert_same!(
        st.join(&twin, "g", b"evil", false).unwrap_err(),
        E::MemberAlreadyExist(member_ref("g", "m"))
    );
    assert_eq!(st.head().unwrap(), head, "a failed join commits nothing");
    let info = st.get_member_info("g", "m").unwrap();
    assert_eq!(info.capabilities, caps, "binary-safe");
    assert_eq!(info.revision, 2);
    assert_eq!(info.joined_at_ms, info.updated_at_ms);
    assert!(info.expires_in_ms > 9_000 && info.expires_in_ms <= 10_000);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(info.joined_at_ms.abs_diff(now) < 2_000);
    assert_eq!(st.update_capabilities(&a, "g", b"").unwrap(), 3);
    let info = st.get_member_info("g", "m").unwrap();
    assert_eq!((info.capabilities.len(), info.revision), (0, 3));
    assert_same!(
        st.get_member_info("g", "x").unwrap_err(),
        E::MemberNotJoined(member_ref("g", "x"))
    );
    assert_same!(
        st.get_member_info("nope", "x").unwrap_err(),
        E::GroupNotCreated("nope".into())
    );
    assert_same!(
        st.get_members_info("nope").unwrap_err(),
        E::GroupNotCreated("nope".into())
    );
    assert_same!(
        st.delete_group("g").unwrap_err(),
        E::GroupNotEmpty("g".into())
    );
    // A twin with the same member id may boot it.
    assert_eq!(st.leave(&twin, "g").unwrap(), 4);
    assert_same!(
        st.leave(&a, "g").unwrap_err(),
        E::MemberNotJoined(member_ref("g", "m"))
    );
    assert_eq!(st.close_session(&a).unwrap(), 4, "nothing left to leave");
    assert!(st.get_members_info("g").unwrap().is_empty());
    // join with create, then join again.
    assert_eq!(st.join(&twin, "h", b"x", true).unwrap(), 6);
    assert_same!(
        st.join(&twin, "h", b"x", true).unwrap_err(),
        E::MemberAlreadyExist(member_ref("h", "m"))
    );
    assert_eq!(st.groups().unwrap(), ["g", "h"]);
    assert_eq!(
        kinds(&events(&mut st, 0)),
        [
            "group-created",
            "member-joined",
            "capabilities-updated",
            "member-left",
            "group-created",
            "member-joined"
        ]
    );
    let Ev::MemberJoined(joined) = &events(&mut st, 1)[0] else {
        panic!()
    };
    assert_eq!(joined.capabilities, caps);
    // The default capability limit is 64 KiB.
    assert_same!(
        st.update_capabilities(&twin, "h", &vec![7; 64 * 1024 + 1])
            .unwrap_err(),
        E::CapabilitiesTooLarge(CapabilitiesTooLarge {
            size: 65_537,
            limit: 65_536
        })
    );
    st.update_capabilities(&twin, "h", &vec![7; 64 * 1024])
        .unwrap();
    H::flush(&address, &ns);
}

pub fn expiry_removes_memberships_and_candidacies_and_is_told_once<H: Harness>() {
    let Some(address) = H::address() else { return };
    let ns = H::namespace();
    let mut st = H::open(&address, &ns, &[]);
    let a = st.open_session("a", 300).unwrap();
    let b = st.open_session("b", 60_000).unwrap();
    for g in ["g1", "g2"] {
        st.create_group(g).unwrap();
        st.join(&a, g, b"", false).unwrap();
    }
    st.stand(&a, "g1").unwrap();
    st.stand(&b, "g1").unwrap();
    let term = st.get_leader("g1").unwrap().unwrap().term;
    let before = st.head().unwrap();
    // A poll that waits returns with the expiry once a's deadline passes.
    let started = Instant::now();
    let Feed::Events(batch) = st.changes(before, 100, 5_000).unwrap() else {
        panic!()
    };
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "woke at the deadline"
    );
    assert_eq!(
        kinds(&batch.events),
        [
            "leader-lost",
            "leader-elected",
            "member-left",
            "member-left"
        ]
    );
    let Ev::LeaderLost(lost) = &batch.events[0] else {
        panic!()
    };
    assert_eq!(
        (lost.member_id.as_str(), lost.term, lost.reason),
        ("a", term, LeadershipEnd::Expired)
    );
    let Ev::LeaderElected(elected) = &batch.events[1] else {
        panic!()
    };
    assert_eq!(elected.term, elected.revision);
    assert!(batch.events.iter().skip(2).all(
        |e| matches!(e, Ev::MemberLeft(l) if l.member_id == "a" && l.reason == LeaveReason::Expired)
    ));
    assert_eq!(st.get_leader("g1").unwrap().unwrap().member_id, "b");
    assert!(st.get_members_info("g1").unwrap().is_empty());

    assert_same!(
        st.heartbeat(&a).unwrap_err(),
        E::SessionExpired(SessionExpired {
            member_id: "a".into(),
            lost_groups: vec!["g1".into(), "g2".into()],
            lost_candidacies: vec!["g1".into()]
        })
    );
    assert_eq!(st.heartbeat(&a).unwrap(), 300, "live again");
    assert_same!(
        st.leave(&a, "g1").unwrap_err(),
        E::MemberExpired(member_ref("g1", "a"))
    );
    assert_same!(
        st.leave(&a, "g1").unwrap_err(),
        E::MemberNotJoined(member_ref("g1", "a")),
        "told once"
    );
    assert_same!(
        st.update_capabilities(&a, "g2", b"x").unwrap_err(),
        E::MemberExpired(member_ref("g2", "a"))
    );
    st.join(&a, "g1", b"", false).unwrap();
    st.close_session(&a).unwrap();
    H::flush(&address, &ns);
}

pub fn expiry_notice_does_not_carry_over_to_a_recreated_group<H: Harness>() {
    let Some(address) = H::address() else { return };
    let ns = H::namespace();
    let mut st = H::open(&address, &ns, &[]);
    let a = st.open_session("a", 200).unwrap();
    st.create_group("g").unwrap();
    st.join(&a, "g", b"", false).unwrap();
    thread::sleep(Duration::from_millis(300));
    assert!(matches!(st.heartbeat(&a), Err(E::SessionExpired(_))));
    st.delete_group("g").unwrap();
    st.create_group("g").unwrap();
    assert_same!(
        st.leave(&a, "g").unwrap_err(),
        E::MemberNotJoined(member_ref("g", "a"))
    );
    H::flush(&address, &ns);
}

pub fn elections_follow_the_candidate_queue_and_terms_grow<H: Harness>() {
    let Some(address) = H::address() else { return };
    let ns = H::namespace();
    let mut st = H::open(&address, &ns, &[]);
    let a = st.open_session("a", 60_000).unwrap();
    let b = st.open_session("b", 60_000).unwrap();
    assert_same!(
        st.stand(&a, "g").unwrap_err(),
        E::GroupNotCreated("g".into())
    );
    assert_same!(
        st.stand_down(&a, "g").unwrap_err(),
        E::GroupNotCreated("g".into())
    );
    st.create_group("g").unwrap();
    assert!(st.get_leader("g").unwrap().is_none());
    assert_eq!(st.stand_down(&b, "g").unwrap(), (false, 1));
    st.stand(&a, "g").unwrap();
    let head = st.stand(&a, "g").unwrap();
    assert_eq!(head, 2, "standing again changes nothing");
    st.stand(&b, "g").unwrap();
    assert!(!st.stand_down(&b, "g").unwrap().0);
    let mut terms = vec![st.get_leader("g").unwrap().unwrap().term];
    for _ in 0..4 {
        let leader = st.get_leader("g").unwrap().unwrap();
        let holder = if leader.member_id == "a" { &a } else { &b };
        assert!(st.stand_down(holder, "g").unwrap().0);
        terms.push(st.get_leader("g").unwrap().unwrap().term);
    }
    assert!(terms.windows(2).all(|w| w[0] < w[1]), "{terms:?}");
    let leader = st.get_leader("g").unwrap().unwrap().member_id;
    assert_eq!(leader, "a");
    // Withdrawing resigns; the next is elected.
    let before = st.head().unwrap();
    st.withdraw(&a, "g").unwrap();
    assert_eq!(st.get_leader("g").unwrap().unwrap().member_id, "b");
    let e = events(&mut st, before);
    assert_eq!(kinds(&e), ["leader-lost", "leader-elected"]);
    assert!(matches!(&e[0], Ev::LeaderLost(l) if l.reason == LeadershipEnd::Resigned));
    assert_eq!(st.withdraw(&a, "g").unwrap(), st.head().unwrap(), "no-op");
    // Alone, standing down elects itself again.
    let (was, _) = st.stand_down(&b, "g").unwrap();
    assert!(was);
    assert_eq!(st.get_leader("g").unwrap().unwrap().member_id, "b");
    // Closing resigns and leaves.
    st.stand(&a, "g").unwrap();
    st.join(&b, "g", b"", false).unwrap();
    let before = st.head().unwrap();
    st.close_session(&b).unwrap();
    let e = events(&mut st, before);
    assert_eq!(kinds(&e), ["leader-lost", "leader-elected", "member-left"]);
    assert!(matches!(&e[2], Ev::MemberLeft(l) if l.reason == LeaveReason::Left));
    // Deleting ends the leadership; a recreated group has no leader.
    let before = st.head().unwrap();
    st.delete_group("g").unwrap();
    let e = events(&mut st, before);
    assert_eq!(kinds(&e), ["leader-lost", "group-deleted"]);
    assert!(matches!(&e[0], Ev::LeaderLost(l) if l.reason == LeadershipEnd::GroupDeleted));
    st.create_group("g").unwrap();
    assert!(st.get_leader("g").unwrap().is_none());
    // a is no longer a candidate there: standing again elects it with a larger term.
    st.stand(&a, "g").unwrap();
    assert!(st.get_leader("g").unwrap().unwrap().term > *terms.last().unwrap());
    H::flush(&address, &ns);
}

pub fn summaries_name_members_leader_and_last_change_at_one_revision<H: Harness>() {
    let Some(address) = H::address() else { return };
    let ns = H::namespace();
    let mut st = H::open(&address, &ns, &[]);
    let a = st.open_session("a", 60_000).unwrap();
    let b = st.open_session("b", 60_000).unwrap();
    st.create_group("g").unwrap();
    let empty = st.create_group("empty").unwrap();
    st.join(&a, "g", b"", false).unwrap();
    st.join(&b, "g", b"", false).unwrap();
    let term = st.stand(&a, "g").unwrap();
    let last = st.update_capabilities(&b, "g", b"x").unwrap();
    let (revision, summaries) = st.group_summaries().unwrap();
    assert_eq!(revision, last);
    assert_eq!(summaries.len(), 2);
    assert_eq!(summaries[0].group_id, "empty", "sorted");
    assert_eq!(
        (
            summaries[0].members,
            summaries[0].leader.is_none(),
            summaries[0].last_change
        ),
        (0, true, empty)
    );
    let g = &summaries[1];
    assert_eq!((g.members, g.last_change), (2, last));
    let leader = g.leader.as_ref().unwrap();
    assert_eq!((leader.member_id.as_str(), leader.term), ("a", term));
    let infos = st.get_members_info("g").unwrap();
    let mut names: Vec<&str> = infos.iter().map(|(m, _)| m.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["a", "b"]);
    H::flush(&address, &ns);
}

pub fn the_change_log_is_bounded_and_says_when_history_is_lost<H: Harness>() {
    let Some(address) = H::address() else { return };
    let ns = H::namespace();
    let mut st = H::open(&address, &ns, &[("history", "3")]);
    for i in 0..5 {
        st.create_group(&format!("g{i}")).unwrap();
    }
    match st.changes(0, 10, 0).unwrap() {
        Feed::Resync(r) => assert_eq!((r.requested, r.oldest, r.head), (1, 3, 5)),
        Feed::Events(_) => panic!("history 1-2 is gone"),
    }
    let e = events(&mut st, 2);
    assert_eq!(e.iter().map(revision).collect::<Vec<_>>(), [3, 4, 5]);
    let e = match st.changes(2, 2, 0).unwrap() {
        Feed::Events(b) => b.events,
        Feed::Resync(_) => panic!(),
    };
    assert_eq!(
        e.iter().map(revision).collect::<Vec<_>>(),
        [3, 4],
        "at most max"
    );
    assert!(events(&mut st, 5).is_empty());
    assert!(events(&mut st, 50).is_empty(), "past the head: nothing");
    H::flush(&address, &ns);
}

/// The store's id comes with every batch, so the host never reads the changes of a store that
/// lost its data (and has since made as many again) as the next ones of the old store.
pub fn a_change_batch_names_its_store_and_another_once_the_data_is_gone<H: Harness>() {
    let Some(address) = H::address() else { return };
    let ns = H::namespace();
    let mut st = H::open(&address, &ns, &[]);
    let first = st.describe().unwrap().store_id;
    st.create_group("g").unwrap();
    let Feed::Events(batch) = st.changes(0, 10, 0).unwrap() else {
        panic!("a resync on a new store")
    };
    assert_eq!(batch.store_id, first);
    assert_eq!(batch.events.len(), 1);
    H::flush(&address, &ns);
    // The data is gone and the new store makes as many changes: its batch is not the old
    // store's, whether or not it has an id yet.
    let mut writer = H::open(&address, &ns, &[]);
    writer.create_group("h").unwrap();
    writer.create_group("i").unwrap();
    let Feed::Events(batch) = st.changes(1, 10, 0).unwrap() else {
        panic!("revision 2 is kept")
    };
    assert_ne!(batch.store_id, first);
    let second = st.describe().unwrap().store_id;
    assert_ne!(second, first);
    let Feed::Events(batch) = st.changes(1, 10, 0).unwrap() else {
        panic!("revision 2 is kept")
    };
    assert_eq!(batch.store_id, second);
    H::flush(&address, &ns);
}

pub fn a_waiting_poll_returns_with_another_clients_change<H: Harness>() {
    let Some(address) = H::address() else { return };
    let ns = H::namespace();
    let mut poller = H::open(&address, &ns, &[]);
    let mut writer = H::open(&address, &ns, &[]);
    let head = poller.head().unwrap();
    let started = Instant::now();
    let write = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        writer.create_group("late").unwrap()
    });
    let Feed::Events(batch) = poller.changes(head, 10, 5_000).unwrap() else {
        panic!()
    };
    let made = write.join().unwrap();
    assert_eq!(
        batch.events.iter().map(revision).collect::<Vec<_>>(),
        [made]
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // Nothing to wait for: the wait runs out, empty.
    let started = Instant::now();
    let Feed::Events(batch) = poller.changes(made, 10, 300).unwrap() else {
        panic!()
    };
    assert!(batch.events.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(300));
    H::flush(&address, &ns);
}

pub fn concurrent_joins_of_one_member_id_let_exactly_one_in<H: Harness>() {
    let Some(address) = H::address() else { return };
    let ns = H::namespace();
    H::open(&address, &ns, &[]).create_group("g").unwrap();
    let joins: Vec<_> = (0..4)
        .map(|_| {
            let (address, ns) = (address.clone(), ns.clone());
            thread::spawn(move || {
                let mut st = H::open(&address, &ns, &[]);
                let s = st.open_session("same", 60_000).unwrap();
                st.join(&s, "g", b"", false)
            })
        })
        .collect();
    let ok = joins
        .into_iter()
        .map(|j| j.join().unwrap())
        .filter(Result::is_ok)
        .count();
    assert_eq!(ok, 1);
    H::flush(&address, &ns);
}

/// Locks: an acquisition that would fit still waits behind a queued waiter; a holder whose
/// session expires loses its hold in the expiry, which grants the next waiter with a greater
/// token; a lock nobody holds or waits for is forgotten.
pub fn locks_queue_in_arrival_order_and_go_with_an_expired_session<H: Harness>() {
    let Some(address) = H::address() else { return };
    let ns = H::namespace();
    let mut st = H::open(&address, &ns, &[]);
    let a = st.open_session("a", 300).unwrap();
    let b = st.open_session("b", 60_000).unwrap();
    let c = st.open_session("c", 60_000).unwrap();
    let (first, _) = st.acquire_lock(&a, "l", LockMode::Shared, false).unwrap();
    let LockAttempt::Acquired(first) = first else {
        panic!("a free lock is granted: {first:?}");
    };
    let (queued, _) = st.acquire_lock(&b, "l", LockMode::Exclusive, true).unwrap();
    assert!(matches!(queued, LockAttempt::Queued));
    let (busy, _) = st.acquire_lock(&c, "l", LockMode::Shared, false).unwrap();
    assert!(
        matches!(busy, LockAttempt::Busy),
        "no acquisition jumps the queue"
    );
    assert!(matches!(st.release_lock(&c, "l"), Err(E::LockNotHeld(_))));
    // A poll that waits returns with the expiry once a's deadline passes.
    let before = st.head().unwrap();
    let Feed::Events(batch) = st.changes(before, 100, 5_000).unwrap() else {
        panic!()
    };
    assert_eq!(kinds(&batch.events), ["lock-released", "lock-acquired"]);
    let Ev::LockReleased(released) = &batch.events[0] else {
        panic!()
    };
    assert_eq!(
        (released.member_id.as_str(), released.reason),
        ("a", LockReleaseReason::Expired)
    );
    let LockStanding::Holding(LockHold { mode, token }) = st.lock_standing(&b, "l").unwrap() else {
        panic!("b was next");
    };
    assert!(matches!(mode, LockMode::Exclusive));
    assert!(token > first, "tokens only grow");
    assert_eq!(st.get_lock("l").unwrap().holders[0].member_id, "b");
    let (broken, _) = st.break_lock(&c, "l").unwrap();
    assert_eq!(broken, [token]);
    assert!(st.get_locks().unwrap().is_empty(), "forgotten once unused");
    H::flush(&address, &ns);
}

pub fn an_unreachable_server_is_a_connection_error_naming_it<H: Harness>() {
    let Some(_) = H::address() else { return };
    let options = [("address".to_owned(), "127.0.0.1:1".to_owned())];
    match <H::Store as Driver>::open(&options) {
        Err(E::Connection(message)) => assert!(message.contains("127.0.0.1:1"), "{message}"),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a store opened with nothing listening"),
    }
    let bad = [
        ("address".to_owned(), "127.0.0.1:1".to_owned()),
        ("history".to_owned(), "0".to_owned()),
    ];
    assert!(matches!(
        <H::Store as Driver>::open(&bad),
        Err(E::InvalidUrl(_))
    ));
}
