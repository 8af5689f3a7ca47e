//! The rules, one behaviour per test, on a store whose sessions are numbered and whose clock
//! is given by hand.

use std::time::Duration;

use roster_types::error::CoordinationError;
use roster_types::event::{Event, EventKind, LeadershipEnd, LeaveReason, Revision};
use roster_types::ids::{Capabilities, GroupId, MemberId};

use crate::{Now, State};

const TTL: Duration = Duration::from_secs(10);
const TTL_MS: u64 = 10_000;

fn member(name: &str) -> MemberId {
    MemberId::new(name).unwrap()
}

fn ids(names: &[&str]) -> Vec<GroupId> {
    names.iter().map(|n| GroupId::new(n).unwrap()).collect()
}

/// A store whose clock starts at 1 000 ms (wall clock at 1.7e12 ms).
fn store() -> State<u64> {
    State::new(1024)
}

fn at(ms: u64) -> Now {
    Now {
        clock_ms: ms,
        unix_ms: 1_700_000_000_000 + ms,
    }
}

const T0: u64 = 1_000;

fn open(st: &mut State<u64>, key: u64, name: &str, ttl: Duration) {
    st.open_session(key, member(name), ttl, at(T0));
}

fn events(st: &mut State<u64>) -> Vec<Event> {
    st.take_events().collect()
}

fn kinds(st: &mut State<u64>) -> Vec<EventKind> {
    events(st).iter().map(Event::kind).collect()
}

fn notice(err: CoordinationError) -> (Vec<GroupId>, Vec<GroupId>) {
    match err {
        CoordinationError::SessionExpired {
            lost_groups,
            lost_candidacies,
            ..
        } => (lost_groups, lost_candidacies),
        other => panic!("expected the expiry notice, got {other:?}"),
    }
}

// ----- revisions and events -----

#[test]
fn every_change_commits_one_event_with_the_next_revision() {
    let mut st = store();
    open(&mut st, 1, "m", TTL);
    st.create_group("g").unwrap();
    st.join(&1, "g", "v1".into(), false, at(T0)).unwrap();
    st.update_capabilities(&1, "g", "v2".into(), at(T0))
        .unwrap();
    st.leave(&1, "g").unwrap();
    st.delete_group("g").unwrap();
    let all = events(&mut st);
    assert_eq!(
        all.iter().map(Event::revision).collect::<Vec<Revision>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        all.iter().map(Event::kind).collect::<Vec<_>>(),
        [
            EventKind::GroupCreated,
            EventKind::MemberJoined,
            EventKind::CapabilitiesUpdated,
            EventKind::MemberLeft,
            EventKind::GroupDeleted
        ]
    );
    assert_eq!(st.head(), 5);
    assert!(events(&mut st).is_empty(), "taken once");
}

#[test]
fn a_group_summary_names_its_latest_change() {
    let mut st = store();
    open(&mut st, 1, "m", TTL);
    st.create_group("b").unwrap();
    st.create_group("a").unwrap();
    st.join(&1, "b", Capabilities::none(), false, at(T0))
        .unwrap();
    let summaries = st.group_summaries();
    assert_eq!(
        summaries
            .iter()
            .map(|s| s.group_id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!((summaries[0].last_change, summaries[1].last_change), (2, 3));
    assert_eq!(summaries[1].members, 1);
    assert_eq!(st.groups(), ids(&["a", "b"]));
}

// ----- groups -----

#[test]
fn groups_are_created_once_and_deleted_only_when_empty() {
    let mut st = store();
    open(&mut st, 1, "m", TTL);
    st.create_group("g").unwrap();
    assert!(matches!(
        st.create_group("g"),
        Err(CoordinationError::GroupAlreadyExist(_))
    ));
    st.join(&1, "g", Capabilities::none(), false, at(T0))
        .unwrap();
    assert!(matches!(
        st.delete_group("g"),
        Err(CoordinationError::GroupNotEmpty(_))
    ));
    st.leave(&1, "g").unwrap();
    st.delete_group("g").unwrap();
    assert!(matches!(
        st.delete_group("g"),
        Err(CoordinationError::GroupNotCreated(_))
    ));
    assert!(matches!(
        st.create_group(""),
        Err(CoordinationError::InvalidId { .. })
    ));
}

#[test]
fn deleting_a_group_ends_its_leadership_without_electing_anyone() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL);
    st.create_group("g").unwrap();
    st.stand_for_election(&1, "g", at(T0)).unwrap();
    st.stand_for_election(&2, "g", at(T0)).unwrap();
    events(&mut st);
    st.delete_group("g").unwrap();
    let all = events(&mut st);
    assert!(matches!(
        &all[..],
        [Event::LeaderLost(lost), Event::GroupDeleted(_)] if lost.reason == LeadershipEnd::GroupDeleted
    ));
    // Neither is a candidate of the recreated group.
    st.create_group("g").unwrap();
    assert_eq!(st.leader("g").unwrap(), None);
}

// ----- membership -----

#[test]
fn a_join_records_the_member_with_its_capabilities_and_times() {
    let mut st = store();
    open(&mut st, 1, "m", TTL);
    st.create_group("g").unwrap();
    st.join(&1, "g", "weight=2".into(), false, at(T0 + 500))
        .unwrap();
    assert_eq!(st.members("g").unwrap(), [member("m")]);
    let info = st.member_info("g", "m", at(T0 + 2_000)).unwrap();
    assert_eq!(info.capabilities, "weight=2".into());
    assert_eq!(info.revision, 2);
    assert_eq!(
        info.joined_at,
        crate::time::from_unix_ms(at(T0 + 500).unix_ms)
    );
    assert_eq!(info.expires_in, TTL - Duration::from_millis(2_000));
    st.update_capabilities(&1, "g", "weight=3".into(), at(T0 + 700))
        .unwrap();
    let info = st.member_info("g", "m", at(T0 + 700)).unwrap();
    assert_eq!(
        (info.updated_at, info.revision),
        (crate::time::from_unix_ms(at(T0 + 700).unix_ms), 3)
    );
}

#[test]
fn join_create_creates_the_group_first() {
    let mut st = store();
    open(&mut st, 1, "m", TTL);
    st.join(&1, "g", Capabilities::none(), true, at(T0))
        .unwrap();
    assert_eq!(
        kinds(&mut st),
        [EventKind::GroupCreated, EventKind::MemberJoined]
    );
    assert!(matches!(
        st.join(&1, "h", Capabilities::none(), false, at(T0)),
        Err(CoordinationError::GroupNotCreated(_))
    ));
}

#[test]
fn failed_join_leaves_the_existing_member_untouched() {
    let mut st = store();
    open(&mut st, 1, "m", TTL);
    open(&mut st, 2, "m", TTL);
    st.create_group("g").unwrap();
    st.join(&1, "g", "weight=2".into(), false, at(T0)).unwrap();
    let head = st.head();
    let err = st
        .join(&2, "g", "evil=1".into(), false, at(T0))
        .unwrap_err();
    assert!(matches!(err, CoordinationError::MemberAlreadyExist { .. }));
    assert_eq!(st.member_capabilities("g", "m").unwrap(), "weight=2".into());
    assert_eq!(st.head(), head, "a failed join commits nothing");
}

#[test]
fn capabilities_over_the_limit_are_refused_before_anything_changes() {
    let mut st = store();
    open(&mut st, 1, "m", TTL);
    let err = st
        .join(&1, "g", vec![0; 1025].into(), true, at(T0))
        .unwrap_err();
    assert_eq!(
        err,
        CoordinationError::CapabilitiesTooLarge {
            size: 1025,
            limit: 1024
        }
    );
    assert!(st.groups().is_empty(), "not even the group is created");
}

#[test]
fn a_twin_with_the_same_member_id_may_boot_the_member() {
    let mut st = store();
    open(&mut st, 1, "m", TTL);
    open(&mut st, 2, "m", TTL);
    st.create_group("g").unwrap();
    st.join(&1, "g", Capabilities::none(), false, at(T0))
        .unwrap();
    st.leave(&2, "g").unwrap();
    assert!(st.members("g").unwrap().is_empty());
    // The owner's session no longer counts the group: closing it leaves nothing again.
    events(&mut st);
    st.close_session(&1);
    assert!(events(&mut st).is_empty());
}

#[test]
fn leaving_a_group_one_is_not_in_says_so() {
    let mut st = store();
    open(&mut st, 1, "m", TTL);
    st.create_group("g").unwrap();
    assert!(matches!(
        st.leave(&1, "g"),
        Err(CoordinationError::MemberNotJoined { .. })
    ));
    assert!(matches!(
        st.leave(&1, "nope"),
        Err(CoordinationError::GroupNotCreated(_))
    ));
    assert!(matches!(
        st.member_info("g", "m", at(T0)),
        Err(CoordinationError::MemberNotJoined { .. })
    ));
}

// ----- sessions and expiry -----

#[test]
fn a_heartbeat_moves_the_deadline_and_returns_the_timeout() {
    let mut st = store();
    open(&mut st, 1, "m", TTL);
    assert_eq!(st.next_deadline(), Some(T0 + TTL_MS));
    assert_eq!(st.heartbeat(&1, at(T0 + 4_000)).unwrap(), TTL);
    assert_eq!(st.next_deadline(), Some(T0 + 4_000 + TTL_MS));
    assert_eq!(
        st.expire_due(at(T0 + TTL_MS)),
        0,
        "the old deadline is gone"
    );
}

#[test]
fn closing_a_session_leaves_and_resigns_everywhere() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL);
    st.create_group("g").unwrap();
    st.join(&1, "g", Capabilities::none(), false, at(T0))
        .unwrap();
    st.stand_for_election(&1, "g", at(T0)).unwrap();
    st.stand_for_election(&2, "g", at(T0)).unwrap();
    events(&mut st);
    st.close_session(&1);
    let all = events(&mut st);
    assert!(matches!(
        &all[..],
        [Event::LeaderLost(lost), Event::LeaderElected(_), Event::MemberLeft(left)]
            if lost.reason == LeadershipEnd::Resigned && left.reason == LeaveReason::Left
    ));
    assert!(!st.has_session(&1));
    assert_eq!(st.next_deadline(), Some(T0 + TTL_MS), "b's deadline only");
}

#[test]
fn expiry_removes_memberships_and_candidacies_in_one_sweep() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL * 2);
    st.create_group("g").unwrap();
    st.join(&1, "g", Capabilities::none(), false, at(T0))
        .unwrap();
    st.stand_for_election(&1, "g", at(T0)).unwrap();
    st.stand_for_election(&2, "g", at(T0)).unwrap();
    events(&mut st);
    assert_eq!(st.expire_due(at(T0 + TTL_MS - 1)), 0, "not due yet");
    assert_eq!(st.expire_due(at(T0 + TTL_MS)), 1);
    let all = events(&mut st);
    assert!(matches!(
        &all[..],
        [Event::LeaderLost(lost), Event::LeaderElected(_), Event::MemberLeft(left)]
            if lost.reason == LeadershipEnd::Expired && left.reason == LeaveReason::Expired
    ));
    assert_eq!(st.leader("g").unwrap().unwrap().member_id, member("b"));
    assert!(st.session_expired(&1));
    assert_eq!(st.next_deadline(), Some(T0 + 2 * TTL_MS), "b is live");
}

#[test]
fn sessions_expire_in_deadline_order() {
    let mut st = store();
    open(&mut st, 1, "late", TTL * 2);
    open(&mut st, 2, "early", TTL);
    st.create_group("g").unwrap();
    st.join(&1, "g", Capabilities::none(), false, at(T0))
        .unwrap();
    st.join(&2, "g", Capabilities::none(), false, at(T0))
        .unwrap();
    events(&mut st);
    assert_eq!(st.expire_due(at(T0 + 3 * TTL_MS)), 2);
    let left: Vec<MemberId> = events(&mut st)
        .iter()
        .filter_map(|e| e.member_id().cloned())
        .collect();
    assert_eq!(left, [member("early"), member("late")]);
}

#[test]
fn an_expired_members_info_has_no_time_left() {
    let mut st = store();
    open(&mut st, 1, "m", TTL);
    st.create_group("g").unwrap();
    st.join(&1, "g", Capabilities::none(), false, at(T0))
        .unwrap();
    let info = st.member_info("g", "m", at(T0 + TTL_MS + 5)).unwrap();
    assert_eq!(
        info.expires_in,
        Duration::ZERO,
        "past its deadline, not swept yet"
    );
}

// ----- the expiry notice -----

#[test]
fn the_heartbeat_after_expiry_tells_the_whole_loss_once_and_revives_the_session() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    for g in ["g2", "g1"] {
        st.create_group(g).unwrap();
        st.join(&1, g, Capabilities::none(), false, at(T0)).unwrap();
    }
    st.stand_for_election(&1, "g1", at(T0)).unwrap();
    let later = at(T0 + TTL_MS);
    st.expire_due(later);
    let err = st.heartbeat(&1, later).unwrap_err();
    assert_eq!(notice(err), (ids(&["g1", "g2"]), ids(&["g1"])));
    assert!(!st.session_expired(&1));
    assert_eq!(st.heartbeat(&1, later).unwrap(), TTL, "told once");
}

#[test]
fn a_join_on_an_expired_session_fails_with_the_notice_changes_nothing_and_reopens_it() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    st.create_group("g1").unwrap();
    st.join(&1, "g1", Capabilities::none(), false, at(T0))
        .unwrap();
    st.stand_for_election(&1, "g1", at(T0)).unwrap();
    let later = at(T0 + TTL_MS);
    st.expire_due(later);
    let head = st.head();
    let err = st
        .join(&1, "g2", Capabilities::none(), true, later)
        .unwrap_err();
    assert_eq!(notice(err), (ids(&["g1"]), ids(&["g1"])));
    assert_eq!(st.head(), head, "no group created, nothing joined");
    assert!(!st.session_expired(&1), "reopened");
    st.join(&1, "g2", Capabilities::none(), true, later)
        .unwrap();
    assert!(st.heartbeat(&1, later).is_ok(), "told once");
}

#[test]
fn a_stand_on_an_expired_session_fails_with_the_notice() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    st.create_group("g").unwrap();
    st.join(&1, "g", Capabilities::none(), false, at(T0))
        .unwrap();
    let later = at(T0 + TTL_MS);
    st.expire_due(later);
    let err = st.stand_for_election(&1, "g", later).unwrap_err();
    assert_eq!(notice(err), (ids(&["g"]), vec![]));
    st.stand_for_election(&1, "g", later).unwrap();
    assert_eq!(st.leader("g").unwrap().unwrap().member_id, member("a"));
}

#[test]
fn member_expired_answers_leave_the_session_notice_whole() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    for g in ["g1", "g2"] {
        st.create_group(g).unwrap();
        st.join(&1, g, Capabilities::none(), false, at(T0)).unwrap();
    }
    st.expire_due(at(T0 + TTL_MS));
    assert!(matches!(
        st.leave(&1, "g1"),
        Err(CoordinationError::MemberExpired { .. })
    ));
    assert!(matches!(
        st.leave(&1, "g1"),
        Err(CoordinationError::MemberNotJoined { .. })
    ));
    assert!(matches!(
        st.update_capabilities(&1, "g2", Capabilities::none(), at(T0 + TTL_MS)),
        Err(CoordinationError::MemberExpired { .. })
    ));
    let err = st.heartbeat(&1, at(T0 + TTL_MS)).unwrap_err();
    assert_eq!(notice(err), (ids(&["g1", "g2"]), vec![]));
}

#[test]
fn member_expired_does_not_carry_over_to_a_recreated_group() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    st.create_group("g").unwrap();
    st.join(&1, "g", Capabilities::none(), false, at(T0))
        .unwrap();
    st.expire_due(at(T0 + TTL_MS));
    st.delete_group("g").unwrap();
    st.create_group("g").unwrap();
    assert!(matches!(
        st.leave(&1, "g"),
        Err(CoordinationError::MemberNotJoined { .. })
    ));
}

#[test]
fn rejoining_a_lost_group_clears_its_member_expired_answer() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    st.create_group("g").unwrap();
    st.join(&1, "g", Capabilities::none(), false, at(T0))
        .unwrap();
    let later = at(T0 + TTL_MS);
    st.expire_due(later);
    assert!(st.heartbeat(&1, later).is_err());
    st.join(&1, "g", Capabilities::none(), false, later)
        .unwrap();
    st.leave(&1, "g").unwrap();
    assert!(matches!(
        st.leave(&1, "g"),
        Err(CoordinationError::MemberNotJoined { .. })
    ));
}

#[test]
fn a_forgotten_session_comes_back_expired_with_nothing_to_report() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    st.create_group("g").unwrap();
    st.join(&1, "g", Capabilities::none(), false, at(T0))
        .unwrap();
    let expired = T0 + TTL_MS;
    st.expire_due(at(expired));
    // Kept for the grace, or for its own timeout when that is longer.
    assert_eq!(st.forget_expired(at(expired + 19_999), 20_000), 0);
    assert_eq!(st.forget_expired(at(expired + TTL_MS - 1), 1_000), 0);
    assert_eq!(st.forget_expired(at(expired + TTL_MS), 1_000), 1);
    assert!(!st.has_session(&1));
    let later = at(expired + TTL_MS);
    st.recall_session(1, member("a"), TTL, later);
    let err = st.heartbeat(&1, later).unwrap_err();
    assert_eq!(notice(err), (vec![], vec![]));
    assert!(st.heartbeat(&1, later).is_ok());
}

#[test]
fn a_session_the_store_does_not_have_is_not_started() {
    let mut st = store();
    st.create_group("g").unwrap();
    assert_eq!(
        st.join(&9, "g", Capabilities::none(), false, at(T0)),
        Err(CoordinationError::NotStarted)
    );
    assert_eq!(st.heartbeat(&9, at(T0)), Err(CoordinationError::NotStarted));
    st.withdraw(&9, "g");
    st.close_session(&9);
    assert_eq!(st.head(), 1);
}

// ----- leader election -----

#[test]
fn the_first_candidate_is_elected_at_once_with_its_revision_as_term() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL);
    st.create_group("g").unwrap();
    st.stand_for_election(&1, "g", at(T0)).unwrap();
    st.stand_for_election(&2, "g", at(T0)).unwrap();
    st.stand_for_election(&1, "g", at(T0)).unwrap();
    let leader = st.leader("g").unwrap().unwrap();
    assert_eq!((leader.member_id, leader.term), (member("a"), 2));
    assert_eq!(
        kinds(&mut st),
        [EventKind::GroupCreated, EventKind::LeaderElected],
        "standing again changes nothing"
    );
}

#[test]
fn standing_down_passes_leadership_to_the_next_candidate() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL);
    st.create_group("g").unwrap();
    st.stand_for_election(&1, "g", at(T0)).unwrap();
    st.stand_for_election(&2, "g", at(T0)).unwrap();
    assert!(!st.stand_down(&2, "g").unwrap(), "not the leader");
    events(&mut st);
    assert!(st.stand_down(&1, "g").unwrap());
    let all = events(&mut st);
    assert!(matches!(
        &all[..],
        [Event::LeaderLost(lost), Event::LeaderElected(elected)]
            if lost.reason == LeadershipEnd::StoodDown && elected.member_id == member("b")
    ));
    // A lone candidate that stands down is elected again, with a new term.
    st.withdraw(&2, "g");
    let again = st.leader("g").unwrap().unwrap();
    assert_eq!(again.member_id, member("a"));
    assert!(st.stand_down(&1, "g").unwrap());
    assert!(st.leader("g").unwrap().unwrap().term > again.term);
}

#[test]
fn a_withdrawing_leader_resigns_and_a_withdrawing_candidate_leaves_the_queue() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    open(&mut st, 2, "b", TTL);
    open(&mut st, 3, "c", TTL);
    st.create_group("g").unwrap();
    for key in [1, 2, 3] {
        st.stand_for_election(&key, "g", at(T0)).unwrap();
    }
    st.withdraw(&2, "g");
    events(&mut st);
    st.withdraw(&1, "g");
    let all = events(&mut st);
    assert!(matches!(
        &all[..],
        [Event::LeaderLost(lost), Event::LeaderElected(elected)]
            if lost.reason == LeadershipEnd::Resigned && elected.member_id == member("c")
    ));
    st.withdraw(&1, "g");
    assert!(events(&mut st).is_empty(), "withdrawing twice is nothing");
}

#[test]
fn terms_only_grow_even_when_a_group_is_recreated() {
    let mut st = store();
    open(&mut st, 1, "a", TTL);
    st.create_group("g").unwrap();
    st.stand_for_election(&1, "g", at(T0)).unwrap();
    let first = st.leader("g").unwrap().unwrap().term;
    st.delete_group("g").unwrap();
    st.create_group("g").unwrap();
    st.stand_for_election(&1, "g", at(T0)).unwrap();
    assert!(st.leader("g").unwrap().unwrap().term > first);
}

// ----- the state as data -----

#[test]
fn the_state_round_trips_through_json_and_serializes_the_same_each_time() {
    let mut st: State<String> = State::new(1024);
    for (key, name) in [("k1", "a"), ("k2", "b"), ("k3", "c")] {
        st.open_session(key.to_owned(), member(name), TTL, at(T0));
    }
    for g in ["g1", "g2", "g3"] {
        st.create_group(g).unwrap();
    }
    st.join(&"k1".to_owned(), "g1", vec![0, 255].into(), false, at(T0))
        .unwrap();
    st.join(&"k2".to_owned(), "g1", "text".into(), false, at(T0))
        .unwrap();
    st.stand_for_election(&"k2".to_owned(), "g2", at(T0))
        .unwrap();
    st.stand_for_election(&"k3".to_owned(), "g2", at(T0))
        .unwrap();
    st.expire_due(at(T0 + TTL_MS));
    st.open_session("k4".to_owned(), member("d"), TTL, at(T0 + TTL_MS));
    let json = serde_json::to_string(&st).unwrap();
    let mut back: State<String> = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert_eq!(back.head(), st.head());
    assert_eq!(back.group_summaries(), st.group_summaries());
    assert_eq!(back.next_deadline(), st.next_deadline());
    // What the expiry left to tell survives too.
    let err = back
        .heartbeat(&"k1".to_owned(), at(T0 + TTL_MS))
        .unwrap_err();
    assert_eq!(notice(err), (ids(&["g1"]), vec![]));
}

#[test]
fn a_session_stays_within_its_memory_budget() {
    // The embedded backend holds one session per member: 100 000 members pay each byte
    // 100 000 times.
    assert!(std::mem::size_of::<crate::session::Session>() <= 64);
    assert!(std::mem::size_of::<crate::group::Member<u64>>() <= 56);
}

mod locks;
