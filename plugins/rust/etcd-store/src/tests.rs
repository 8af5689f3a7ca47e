//! The driver's operations against a real etcd server, natively (the same code the
//! component runs, minus the host): the scenarios every server driver passes
//! (`driver_kit::scenarios`), then what is etcd's own. Set `ROSTER_TEST_ETCD=HOST:PORT` to
//! run them, for example with a throwaway server:
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

use driver_kit::scenarios::{Harness, address_from, events, kinds, member_ref, options, revision};

use driver_kit::Driver;

use crate::etcd::{DeleteRangeRequest, Etcd, RangeRequest, RequestOp, TxnRequest, prefix_end};
use crate::exports::roster::coordination::backend::Feed;
use crate::keys::escape;
use crate::roster::coordination::types::{
    CoordinationError as E, LeaveReason, MembershipEvent as Ev, SessionExpired,
};
use crate::store::Store;

/// `assert_eq!` for the generated types, which derive `Debug` but not `PartialEq`.
macro_rules! assert_same {
    ($left:expr, $right:expr $(, $($message:tt)+)?) => {
        assert_eq!(format!("{:?}", $left), format!("{:?}", $right) $(, $($message)+)?)
    };
}

/// The etcd server of `ROSTER_TEST_ETCD`.
struct EtcdServer;

impl Harness for EtcdServer {
    type Store = Store;

    fn address() -> Option<String> {
        address_from("ROSTER_TEST_ETCD")
    }

    fn open(address: &str, namespace: &str, extra: &[(&str, &str)]) -> Store {
        Store::open(&options(address, namespace, extra)).unwrap()
    }

    /// Every key of the namespace goes, by one range delete.
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

    /// With a `/`, which keys must escape.
    fn namespace() -> String {
        format!("test/{:016x}", driver_kit::random())
    }
}

driver_kit::server_scenarios!(EtcdServer);

/// The lease `session`'s record is attached to (0: none), `None` without a record.
fn session_lease(store: &mut Store, namespace: &str, session: &str) -> Option<i64> {
    let key = crate::keys::Keys::new(namespace).session(session);
    let answer = store.etcd().range(&RangeRequest::key(key)).unwrap();
    answer.kvs.first().map(|kv| kv.lease)
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

#[test]
fn an_expired_record_keeps_its_grace_lease_while_its_notices_are_taken() {
    let Some(address) = EtcdServer::address() else {
        return;
    };
    let ns = EtcdServer::namespace();
    let mut st = EtcdServer::open(&address, &ns, &[]);
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
    let live = st.open_session("b", 60_000).unwrap();
    assert_eq!(
        session_lease(&mut st, &ns, &live),
        Some(0),
        "live: no lease"
    );
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
            lost_groups: vec!["g1".into(), "g2".into()],
            lost_candidacies: vec![]
        })
    );
    assert_eq!(
        session_lease(&mut st, &ns, &a),
        Some(0),
        "live again: no lease"
    );
    // Closed: gone.
    st.close_session(&a).unwrap();
    assert_eq!(session_lease(&mut st, &ns, &a), None);
    st.close_session(&live).unwrap();
    EtcdServer::flush(&address, &ns);
}

#[test]
fn a_new_store_id_after_the_data_is_gone_and_a_dropped_connection_is_opened_again() {
    let Some(address) = EtcdServer::address() else {
        return;
    };
    let ns = EtcdServer::namespace();
    let mut st = EtcdServer::open(&address, &ns, &[]);
    let first = st.describe().unwrap().store_id;
    st.create_group("g").unwrap();
    assert_eq!(st.describe().unwrap().store_id, first, "stable");
    let mut other = EtcdServer::open(&address, &ns, &[]);
    assert_eq!(
        other.describe().unwrap().store_id,
        first,
        "one per namespace"
    );
    EtcdServer::flush(&address, &ns);
    let again = st.describe().unwrap();
    assert_ne!(again.store_id, first);
    assert_eq!((again.head, again.groups.len()), (0, 0));
    assert_eq!(st.create_group("g").unwrap(), 1);
    st.etcd().disconnect();
    assert_eq!(st.groups().unwrap(), ["g"]);
    EtcdServer::flush(&address, &ns);
}

#[test]
fn ids_with_slashes_and_percents_stay_apart() {
    let Some(address) = EtcdServer::address() else {
        return;
    };
    let ns = EtcdServer::namespace();
    let mut st = EtcdServer::open(&address, &ns, &[]);
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
    EtcdServer::flush(&address, &ns);
}

#[test]
fn an_expiry_larger_than_one_transaction_is_still_one_contiguous_run() {
    let Some(address) = EtcdServer::address() else {
        return;
    };
    let ns = EtcdServer::namespace();
    let mut st = EtcdServer::open(&address, &ns, &[]);
    let mut watcher = EtcdServer::open(&address, &ns, &[]);
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
        E::SessionExpired(s) => {
            assert_eq!(s.lost_groups, groups);
            assert_eq!(s.lost_candidacies, groups[..40]);
        }
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
    EtcdServer::flush(&address, &ns);
}

#[test]
fn many_sessions_expiring_at_once_all_expire() {
    let Some(address) = EtcdServer::address() else {
        return;
    };
    let ns = EtcdServer::namespace();
    let mut st = EtcdServer::open(&address, &ns, &[]);
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
    EtcdServer::flush(&address, &ns);
}

/// Two instances on one namespace, as two hosts would have: `a` has created group `g` and
/// joined it with member `a` (the session returned); `b` has done nothing yet.
fn two_hosts(address: &str, namespace: &str) -> (Store, Store, String) {
    let mut a = EtcdServer::open(address, namespace, &[]);
    let b = EtcdServer::open(address, namespace, &[]);
    let sa = a.open_session("a", 60_000).unwrap();
    a.create_group("g").unwrap();
    a.join(&sa, "g", b"", false).unwrap();
    (a, b, sa)
}

#[test]
fn writes_from_a_stale_view_see_other_hosts_changes_and_due_expiries() {
    let Some(address) = EtcdServer::address() else {
        return;
    };
    let ns = EtcdServer::namespace();
    let (mut a, mut b, _) = two_hosts(&address, &ns);
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
    EtcdServer::flush(&address, &ns);
}

#[test]
fn a_conflict_reads_back_on_its_own_until_the_instance_is_contended() {
    use crate::store::CONTENDED_COMMITS;
    let Some(address) = EtcdServer::address() else {
        return;
    };
    let ns = EtcdServer::namespace();
    let (mut a, mut b, sa) = two_hosts(&address, &ns);
    assert_eq!(
        a.contended(),
        0,
        "no conflict yet: commits carry no read-back"
    );
    let sb = b.open_session("b", 60_000).unwrap();
    b.join(&sb, "g", b"", false).unwrap();
    // `a`'s commit fails on `b`'s write and reads back in a request of its own.
    a.update_capabilities(&sa, "g", b"one").unwrap();
    assert_eq!(a.contended(), CONTENDED_COMMITS - 1);
    // Contended now: the next conflict is read back by the failed commit itself.
    b.update_capabilities(&sb, "g", b"two").unwrap();
    a.leave(&sa, "g").unwrap();
    assert_eq!(a.contended(), CONTENDED_COMMITS - 1);
    let members = a.get_members_info("g").unwrap();
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(
        (members[0].0.as_str(), members[0].1.capabilities.as_slice()),
        ("b", &b"two"[..])
    );
    let events = all_events(&mut b, 0);
    assert_eq!(
        kinds(&events),
        [
            "group-created",
            "member-joined",
            "member-joined",
            "capabilities-updated",
            "capabilities-updated",
            "member-left"
        ]
    );
    // Uncontended again after that many commits with no conflict.
    for i in 0..CONTENDED_COMMITS {
        a.create_group(&format!("quiet-{i}")).unwrap();
    }
    assert_eq!(a.contended(), 0);
    b.delete_group("quiet-0").unwrap();
    assert_same!(
        a.join(&sa, "quiet-0", b"", false),
        Err::<u64, _>(E::GroupNotCreated("quiet-0".into()))
    );
    assert_eq!(a.contended(), CONTENDED_COMMITS - 1);
    EtcdServer::flush(&address, &ns);
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
    let Some(address) = EtcdServer::address() else {
        return;
    };
    let ns = EtcdServer::namespace();
    let keys = crate::keys::Keys::new(&ns);
    let mut st = EtcdServer::open(&address, &ns, &[]);
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
    EtcdServer::flush(&address, &ns);
}

#[test]
fn an_expiry_ends_candidacies_and_memberships_in_the_order_they_began() {
    let Some(address) = EtcdServer::address() else {
        return;
    };
    let ns = EtcdServer::namespace();
    let mut st = EtcdServer::open(&address, &ns, &[]);
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
    EtcdServer::flush(&address, &ns);
}

#[test]
fn a_namespace_written_with_another_key_layout_is_refused() {
    let Some(address) = EtcdServer::address() else {
        return;
    };
    let keys_of = |ns: &str| crate::keys::Keys::new(ns);
    // A fresh namespace is marked with the layout this driver writes.
    let fresh = EtcdServer::namespace();
    let mut st = EtcdServer::open(&address, &fresh, &[]);
    st.describe().unwrap();
    let layout = st
        .etcd()
        .range(&RangeRequest::key(keys_of(&fresh).layout()))
        .unwrap();
    assert_eq!(
        layout.kvs[0].value,
        crate::keys::LAYOUT.to_string().as_bytes()
    );
    EtcdServer::flush(&address, &fresh);
    // An id with no layout: the first layout, which kept a session's groups in its record.
    let old = EtcdServer::namespace();
    put_raw(&address, keys_of(&old).id(), "0123");
    let mut st = EtcdServer::open(&address, &old, &[]);
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
    EtcdServer::flush(&address, &old);
}
