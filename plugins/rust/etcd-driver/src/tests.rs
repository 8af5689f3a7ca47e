//! The driver's operations against a real etcd server, natively (the same code the
//! component runs, minus the host). Set `ROSTER_TEST_ETCD=HOST:PORT` to run them, for
//! example with a throwaway server:
//!
//! ```text
//! etcd --data-dir "$(mktemp -d)" --listen-client-urls http://127.0.0.1:23790 \
//!   --advertise-client-urls http://127.0.0.1:23790 --listen-peer-urls http://127.0.0.1:23800 &
//! ROSTER_TEST_ETCD=127.0.0.1:23790 cargo test --target x86_64-unknown-linux-gnu -p etcd-driver
//! ```
//!
//! Without it every test returns at once. Each test uses a namespace of its own.

use std::thread;
use std::time::{Duration, Instant};

use crate::etcd::{DeleteRangeRequest, Etcd, RangeRequest, RequestOp, TxnRequest, prefix_end};
use crate::exports::roster::coordination::backend::Feed;
use crate::keys::escape;
use crate::roster::coordination::types::{
    CapabilitiesTooLarge, CoordinationError as E, LeadershipEnd, LeaveReason, MemberRef,
    MembershipEvent as Ev, SessionExpired,
};
use crate::store::Store;

/// `assert_eq!` for the generated types, which derive `Debug` but not `PartialEq`.
macro_rules! assert_same {
    ($left:expr, $right:expr $(, $($message:tt)+)?) => {
        assert_eq!(format!("{:?}", $left), format!("{:?}", $right) $(, $($message)+)?)
    };
}

fn address() -> Option<String> {
    let address = std::env::var("ROSTER_TEST_ETCD").ok();
    if address.is_none() {
        eprintln!("ROSTER_TEST_ETCD is not set: skipped");
    }
    address
}

/// A fresh namespace's name.
fn namespace() -> String {
    format!(
        "test/{:016x}",
        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0)
    )
}

fn open(address: &str, namespace: &str, extra: &[(&str, &str)]) -> Store {
    let mut options = vec![
        ("address".to_owned(), address.to_owned()),
        ("namespace".to_owned(), namespace.to_owned()),
    ];
    options.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Store::open(&options).unwrap()
}

/// Delete every key of `namespace`.
fn flush(address: &str, namespace: &str) {
    let prefix = format!("{}/", escape(namespace));
    let request = TxnRequest {
        success: vec![RequestOp::DeleteRange(DeleteRangeRequest {
            range_end: prefix_end(&prefix),
            key: prefix,
        })],
        ..TxnRequest::default()
    };
    Etcd::new(address.to_owned()).txn(&request).unwrap();
}

/// The lease `session`'s record is attached to (0: none), `None` without a record.
fn session_lease(store: &mut Store, namespace: &str, session: &str) -> Option<i64> {
    let key = crate::keys::Keys::new(namespace).session(session);
    let answer = store.etcd().range(&RangeRequest::key(key)).unwrap();
    answer.kvs.first().map(|kv| kv.lease)
}

fn events(store: &mut Store, after: u64) -> Vec<Ev> {
    match store.changes(after, 1000, 0).unwrap() {
        Feed::Events(batch) => batch.events,
        Feed::Resync(r) => panic!("resync {:?}", (r.requested, r.oldest, r.head)),
    }
}

/// Every event after `after`, over as many calls as it takes (one reads at most 64).
fn all_events(store: &mut Store, after: u64) -> Vec<Ev> {
    let mut out = Vec::new();
    loop {
        let more = events(store, after + out.len() as u64);
        if more.is_empty() {
            return out;
        }
        out.extend(more);
    }
}

fn kind(e: &Ev) -> &'static str {
    match e {
        Ev::GroupCreated(_) => "group-created",
        Ev::GroupDeleted(_) => "group-deleted",
        Ev::MemberJoined(_) => "member-joined",
        Ev::MemberLeft(_) => "member-left",
        Ev::CapabilitiesUpdated(_) => "capabilities-updated",
        Ev::LeaderElected(_) => "leader-elected",
        Ev::LeaderLost(_) => "leader-lost",
    }
}

fn kinds(events: &[Ev]) -> Vec<&'static str> {
    events.iter().map(kind).collect()
}

fn revision(e: &Ev) -> u64 {
    match e {
        Ev::GroupCreated(e) => e.revision,
        Ev::GroupDeleted(e) => e.revision,
        Ev::MemberJoined(e) => e.revision,
        Ev::MemberLeft(e) => e.revision,
        Ev::CapabilitiesUpdated(e) => e.revision,
        Ev::LeaderElected(e) => e.revision,
        Ev::LeaderLost(e) => e.revision,
    }
}

fn member_ref(group: &str, member: &str) -> MemberRef {
    MemberRef {
        group_id: group.into(),
        member_id: member.into(),
    }
}

#[test]
fn membership_capabilities_and_failed_joins() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[]);
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
    flush(&address, &ns);
}

#[test]
fn expiry_removes_memberships_and_candidacies_and_is_told_once() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[]);
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

    // The expired record is kept by a grace lease, until the session heartbeats again.
    let grace = session_lease(&mut st, &ns, &a).unwrap();
    assert_ne!(grace, 0);
    assert_eq!(session_lease(&mut st, &ns, &b), Some(0));
    assert_same!(
        st.heartbeat(&a).unwrap_err(),
        E::SessionExpired(SessionExpired {
            member_id: "a".into(),
            lost_groups: vec!["g1".into(), "g2".into()]
        })
    );
    assert_eq!(session_lease(&mut st, &ns, &a), Some(0), "live: no lease");
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
    flush(&address, &ns);
}

#[test]
fn expiry_notice_does_not_carry_over_to_a_recreated_group() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[]);
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
    flush(&address, &ns);
}

#[test]
fn an_expired_record_keeps_its_grace_lease_while_its_notices_are_taken() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[]);
    let a = st.open_session("a", 200).unwrap();
    for g in ["g1", "g2"] {
        st.join(&a, g, b"", true).unwrap();
    }
    thread::sleep(Duration::from_millis(300));
    // The expiry and the first notice in one transaction.
    assert_same!(
        st.leave(&a, "g1").unwrap_err(),
        E::MemberExpired(member_ref("g1", "a"))
    );
    let grace = session_lease(&mut st, &ns, &a).unwrap();
    assert_ne!(grace, 0);
    // The second notice in a transaction of its own.
    assert_same!(
        st.update_capabilities(&a, "g2", b"").unwrap_err(),
        E::MemberExpired(member_ref("g2", "a"))
    );
    assert_eq!(session_lease(&mut st, &ns, &a), Some(grace));
    assert_same!(
        st.heartbeat(&a).unwrap_err(),
        E::SessionExpired(SessionExpired {
            member_id: "a".into(),
            lost_groups: vec![]
        })
    );
    // Closed: gone.
    st.close_session(&a).unwrap();
    assert_eq!(session_lease(&mut st, &ns, &a), None);
    flush(&address, &ns);
}

#[test]
fn elections_follow_the_candidate_queue_and_terms_grow() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[]);
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
    flush(&address, &ns);
}

#[test]
fn summaries_name_members_leader_and_last_change_at_one_revision() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[]);
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
    flush(&address, &ns);
}

#[test]
fn the_change_log_is_bounded_and_says_when_history_is_lost() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[("history", "3")]);
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
    flush(&address, &ns);
}

#[test]
fn a_waiting_poll_returns_with_another_clients_change() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut poller = open(&address, &ns, &[]);
    let mut writer = open(&address, &ns, &[]);
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
    flush(&address, &ns);
}

#[test]
fn concurrent_joins_of_one_member_id_let_exactly_one_in() {
    let Some(address) = address() else { return };
    let ns = namespace();
    open(&address, &ns, &[]).create_group("g").unwrap();
    let joins: Vec<_> = (0..4)
        .map(|_| {
            let (address, ns) = (address.clone(), ns.clone());
            thread::spawn(move || {
                let mut st = open(&address, &ns, &[]);
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
    flush(&address, &ns);
}

#[test]
fn a_new_store_id_after_the_data_is_gone_and_a_dropped_connection_is_opened_again() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[]);
    let first = st.describe().unwrap().store_id;
    st.create_group("g").unwrap();
    assert_eq!(st.describe().unwrap().store_id, first, "stable");
    let mut other = open(&address, &ns, &[]);
    assert_eq!(
        other.describe().unwrap().store_id,
        first,
        "one per namespace"
    );
    flush(&address, &ns);
    let again = st.describe().unwrap();
    assert_ne!(again.store_id, first);
    assert_eq!((again.head, again.groups.len()), (0, 0));
    assert_eq!(st.create_group("g").unwrap(), 1);
    st.etcd().disconnect();
    assert_eq!(st.groups().unwrap(), ["g"]);
    flush(&address, &ns);
}

#[test]
fn ids_with_slashes_and_percents_stay_apart() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[]);
    let a = st.open_session("b/c", 60_000).unwrap();
    let b = st.open_session("c", 60_000).unwrap();
    for g in ["a", "a/b", "a%2Fb", "a.b"] {
        st.create_group(g).unwrap();
    }
    st.join(&a, "a", b"1", false).unwrap();
    st.join(&b, "a/b", b"2", false).unwrap();
    assert_eq!(st.groups().unwrap(), ["a", "a%2Fb", "a.b", "a/b"]);
    let members = st.get_members_info("a").unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].0, "b/c");
    let members = st.get_members_info("a/b").unwrap();
    assert_eq!((members.len(), members[0].0.as_str()), (1, "c"));
    assert!(st.get_members_info("a%2Fb").unwrap().is_empty());
    flush(&address, &ns);
}

#[test]
fn an_expiry_larger_than_one_transaction_is_still_one_contiguous_run() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[]);
    let mut watcher = open(&address, &ns, &[]);
    let opened = Instant::now();
    let a = st.open_session("a", 8_000).unwrap();
    let b = st.open_session("b", 60_000).unwrap();
    let groups: Vec<String> = (0..150).map(|i| format!("g{i:03}")).collect();
    for g in &groups {
        st.join(&a, g, b"", true).unwrap();
    }
    for g in &groups[..40] {
        st.stand(&a, g).unwrap();
        st.stand(&b, g).unwrap();
    }
    let before = st.head().unwrap();
    assert!(
        opened.elapsed() < Duration::from_millis(7_000),
        "set up in time"
    );
    thread::sleep(Duration::from_millis(8_100).saturating_sub(opened.elapsed()));
    // Any call carries the whole expiry out before its own work.
    assert_eq!(watcher.get_members_info(&groups[149]).unwrap().len(), 0);
    let e = all_events(&mut st, before);
    assert_eq!(e.len(), 40 * 2 + 150);
    assert!(
        e.iter()
            .enumerate()
            .all(|(i, e)| revision(e) == before + 1 + i as u64)
    );
    assert!(
        kinds(&e[..80])
            .chunks(2)
            .all(|c| c == ["leader-lost", "leader-elected"])
    );
    assert!(kinds(&e[80..]).iter().all(|k| *k == "member-left"));
    match st.heartbeat(&a).unwrap_err() {
        E::SessionExpired(s) => assert_eq!(s.lost_groups, groups),
        other => panic!("{other:?}"),
    }
    // A close as large: the same.
    for g in &groups {
        st.join(&b, g, b"", false).unwrap();
    }
    let before = st.head().unwrap();
    let closed = st.close_session(&b).unwrap();
    let e = all_events(&mut st, before);
    assert_eq!(closed, before + e.len() as u64);
    assert_eq!(kinds(&e[..40]), vec!["leader-lost"; 40]);
    assert_eq!(e.len(), 40 + 150);
    flush(&address, &ns);
}

#[test]
fn many_sessions_expiring_at_once_all_expire() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[]);
    st.create_group("g").unwrap();
    let opened = Instant::now();
    for i in 0..200 {
        let s = st.open_session(&format!("m{i}"), 8_000).unwrap();
        st.join(&s, "g", b"", false).unwrap();
    }
    let before = st.head().unwrap();
    assert!(
        opened.elapsed() < Duration::from_millis(7_000),
        "set up in time"
    );
    let started = Instant::now();
    let mut seen = Vec::new();
    while seen.len() < 200 {
        assert!(started.elapsed() < Duration::from_secs(15));
        match st
            .changes(before + seen.len() as u64, 1_000, 5_000)
            .unwrap()
        {
            Feed::Events(batch) => seen.extend(batch.events),
            Feed::Resync(_) => panic!(),
        }
    }
    assert!(
        seen.iter()
            .all(|e| matches!(e, Ev::MemberLeft(l) if l.reason == LeaveReason::Expired))
    );
    assert_eq!(st.group_summaries().unwrap().1[0].members, 0);
    flush(&address, &ns);
}

#[test]
fn an_unreachable_server_is_a_connection_error_naming_it() {
    let Some(_) = address() else { return };
    let options = [("address".to_owned(), "127.0.0.1:1".to_owned())];
    match Store::open(&options) {
        Err(E::Connection(message)) => assert!(message.contains("127.0.0.1:1"), "{message}"),
        other => panic!("{other:?}"),
    }
    let bad = [
        ("address".to_owned(), "127.0.0.1:1".to_owned()),
        ("history".to_owned(), "0".to_owned()),
    ];
    assert!(matches!(Store::open(&bad), Err(E::InvalidUrl(_))));
}

#[test]
fn writes_from_a_stale_view_see_other_hosts_changes_and_due_expiries() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut a = open(&address, &ns, &[]);
    let mut b = open(&address, &ns, &[]);
    let sa = a.open_session("a", 60_000).unwrap();
    a.create_group("g").unwrap();
    a.join(&sa, "g", b"", false).unwrap();
    // `b` changes the group `a` holds in its view: `a`'s next write must see that.
    let sb = b.open_session("b", 60_000).unwrap();
    b.join(&sb, "g", b"", false).unwrap();
    let sc = a.open_session("c", 60_000).unwrap();
    a.join(&sc, "g", b"", false).unwrap();
    let (_, summaries) = b.group_summaries().unwrap();
    assert_eq!(summaries[0].members, 3);
    assert_same!(
        a.join(&sb, "g", b"", false),
        Err::<u64, _>(E::MemberAlreadyExist(member_ref("g", "b")))
    );
    // A session of `b` expires: `a`'s next write, from its view, expires it first.
    let short = b.open_session("short", 200).unwrap();
    b.join(&short, "g", b"", false).unwrap();
    let before = b.head().unwrap();
    thread::sleep(Duration::from_millis(300));
    a.leave(&sc, "g").unwrap();
    let after = all_events(&mut b, before);
    assert_eq!(kinds(&after), ["member-left", "member-left"]);
    let Ev::MemberLeft(expired) = &after[0] else {
        panic!()
    };
    assert_eq!(
        (expired.member_id.as_str(), expired.reason),
        ("short", LeaveReason::Expired)
    );
    let members = a.get_members("g").unwrap();
    assert_eq!(members.len(), 2, "{members:?}");
    flush(&address, &ns);
}

/// Put `value` at `key`, as another program would.
fn put_raw(address: &str, key: String, value: &str) {
    let request = TxnRequest {
        success: vec![RequestOp::Put(crate::etcd::PutRequest {
            key,
            value: value.as_bytes().to_vec(),
            lease: 0,
            ignore_lease: false,
        })],
        ..TxnRequest::default()
    };
    Etcd::new(address.to_owned()).txn(&request).unwrap();
}

/// The modification revision of `key` (0 when absent).
fn mod_revision(store: &mut Store, key: String) -> i64 {
    let answer = store.etcd().range(&RangeRequest::key(key)).unwrap();
    answer.kvs.first().map_or(0, |kv| kv.mod_revision)
}

#[test]
fn joins_leaves_and_candidacies_leave_the_session_record_as_it_was() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let keys = crate::keys::Keys::new(&ns);
    let mut st = open(&address, &ns, &[]);
    let a = st.open_session("a", 60_000).unwrap();
    let record = mod_revision(&mut st, keys.session(&a));
    for g in ["b", "c", "a"] {
        st.join(&a, g, b"", true).unwrap();
    }
    st.leave(&a, "c").unwrap();
    st.stand(&a, "b").unwrap();
    st.stand(&a, "a").unwrap();
    st.withdraw(&a, "b").unwrap();
    // The session's indexes hold its groups and candidacies, not its record: the record's
    // size does not grow with them.
    assert_eq!(mod_revision(&mut st, keys.session(&a)), record);
    assert_ne!(mod_revision(&mut st, keys.membership(&a, "b")), 0);
    assert_eq!(mod_revision(&mut st, keys.membership(&a, "c")), 0);
    assert_ne!(mod_revision(&mut st, keys.candidacy(&a, "a")), 0);
    assert_eq!(mod_revision(&mut st, keys.candidacy(&a, "b")), 0);
    // A twin with the same member id leaves for it: the owner's entry goes.
    let twin = st.open_session("a", 60_000).unwrap();
    st.leave(&twin, "a").unwrap();
    assert_eq!(mod_revision(&mut st, keys.membership(&a, "a")), 0);
    assert_eq!(st.get_members("a").unwrap(), Vec::<String>::new());
    // The close ends what is left, and no index entry stays behind.
    let before = st.head().unwrap();
    st.close_session(&a).unwrap();
    let e = all_events(&mut st, before);
    assert_eq!(kinds(&e), ["leader-lost", "member-left"]);
    for prefix in [keys.memberships(&a), keys.candidacies(&a)] {
        let left = st.etcd().range(&RangeRequest::prefix(&prefix)).unwrap();
        assert!(left.kvs.is_empty(), "{prefix}: {:?}", left.kvs);
    }
    st.close_session(&twin).unwrap();
    flush(&address, &ns);
}

#[test]
fn an_expiry_ends_candidacies_and_memberships_in_the_order_they_began() {
    let Some(address) = address() else { return };
    let ns = namespace();
    let mut st = open(&address, &ns, &[]);
    let joined = ["m", "z", "a", "k"];
    let stood = ["z", "m"];
    let opened = Instant::now();
    let a = st.open_session("a", 1_000).unwrap();
    for g in joined {
        st.join(&a, g, b"", true).unwrap();
    }
    for g in stood {
        st.stand(&a, g).unwrap();
    }
    let before = st.head().unwrap();
    assert!(
        opened.elapsed() < Duration::from_millis(900),
        "set up in time"
    );
    thread::sleep(Duration::from_millis(1_100).saturating_sub(opened.elapsed()));
    let e = all_events(&mut st, before);
    let mut lost = Vec::new();
    let mut left = Vec::new();
    for event in &e {
        match event {
            Ev::LeaderLost(l) => lost.push(l.group_id.clone()),
            Ev::MemberLeft(l) => left.push(l.group_id.clone()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(kinds(&e[..2]), ["leader-lost", "leader-lost"]);
    assert_eq!(lost, stood);
    assert_eq!(left, joined);
    flush(&address, &ns);
}

#[test]
fn a_namespace_written_with_another_key_layout_is_refused() {
    let Some(address) = address() else { return };
    let keys_of = |ns: &str| crate::keys::Keys::new(ns);
    // A fresh namespace is marked with the layout this driver writes.
    let fresh = namespace();
    let mut st = open(&address, &fresh, &[]);
    st.describe().unwrap();
    let layout = st
        .etcd()
        .range(&RangeRequest::key(keys_of(&fresh).layout()))
        .unwrap();
    assert_eq!(
        layout.kvs[0].value,
        crate::keys::LAYOUT.to_string().as_bytes()
    );
    flush(&address, &fresh);
    // An id with no layout: the first layout, which kept a session's groups in its record.
    let old = namespace();
    put_raw(&address, keys_of(&old).id(), "0123");
    let mut st = open(&address, &old, &[]);
    match st.describe() {
        Err(E::Connection(message)) => {
            assert!(message.contains("key layout 1"), "{message}");
            assert!(message.contains("?namespace="), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A newer one.
    put_raw(&address, keys_of(&old).layout(), "3");
    match st.describe() {
        Err(E::Connection(message)) => assert!(message.contains("key layout 3"), "{message}"),
        other => panic!("{other:?}"),
    }
    flush(&address, &old);
}
