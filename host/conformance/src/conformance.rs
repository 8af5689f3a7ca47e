//! The conformance tests, one async function each, in the order of tooz's
//! `test_coordination.py` (lifecycle, groups, membership, capabilities, heartbeat, watchers,
//! leader election), then Roster's decisions R1-R12 and the event stream.
//!
//! Time is the harness's: each test states its time spans in nominal seconds and goes
//! through [`Harness::secs`], [`Harness::sleep`], [`Harness::with_timeout`] and
//! [`Harness::stall`]. On the paused clock (the embedded backend) they are exact and free,
//! and time-based assertions are exact. In real time (a backend in another process) they
//! are scaled, measured durations may differ by [`Harness::tolerance`], and what the backend
//! does on its own clock is waited for ([`Harness::eventually`]). A sleep that must end
//! before a deadline (a membership timeout, the next background beat) leaves at least 40 %
//! of the timeout as margin, so a scale of 0.1 holds on a busy machine.
//!
//! Across coordinators the tests rely only on what the API promises: a change is in the
//! store, for every coordinator's calls, once the call that made it returned (or, for a call
//! that returns at once like `watch_elected_as_leader`, once a later awaited call of the same
//! coordinator returned: calls take effect in call order); a coordinator reads its own
//! writes; and `run_watchers` delivers every change committed before it was called. A
//! coordinator's own view (`head_revision`, `subscribe(None)`) is not assumed to follow
//! another's changes at once.

#![allow(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use roster::{
    Capabilities, CoordinationError as E, Coordinator, Event, EventKind, Heartbeat, Leader,
    LeadershipEnd, LeaveReason, MemberId,
};

use crate::{Harness, new_group};

type Log<T> = Arc<Mutex<Vec<T>>>;

fn log<T>() -> Log<T> {
    Arc::new(Mutex::new(Vec::new()))
}

fn sorted(mut members: Vec<MemberId>) -> Vec<String> {
    members.sort();
    members.into_iter().map(String::from).collect()
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(Event::kind).collect()
}

/// Assert a duration the backend reports: exactly `expected` on the paused clock, within the
/// harness's tolerance in real time.
#[track_caller]
fn assert_about(h: &Harness, actual: Duration, expected: Duration) {
    let tolerance = h.tolerance(expected);
    assert!(
        actual.abs_diff(expected) <= tolerance,
        "{actual:?} is not {expected:?} (within {tolerance:?})"
    );
}

/// Return once `c`'s earlier calls are in the store for every coordinator to see: calls take
/// effect in call order, so its next awaited call runs after them. On the embedded backend
/// they already are; a backend in another process may still be applying a call that
/// returned at once, such as `watch_elected_as_leader`.
async fn settled(c: &Coordinator) {
    c.get_groups().await.unwrap();
}

/// Whether `c` sees `member` in `group`.
async fn is_member(c: &Coordinator, group: &str, member: &str) -> bool {
    c.get_members(group)
        .await
        .unwrap()
        .iter()
        .any(|m| *m == *member)
}

// ----- lifecycle (test_stop_first, test_get_started_status) -----

pub async fn stop_before_start_is_not_started(h: &Harness) {
    assert_eq!(h.coordinator("m").stop().await, Err(E::NotStarted));
}

pub async fn is_started_follows_start_and_stop(h: &Harness) {
    let c = h.coordinator("m");
    assert!(!c.is_started());
    c.start_with(Heartbeat::Manual).await.unwrap();
    assert!(c.is_started());
    c.stop().await.unwrap();
    assert!(!c.is_started());
}

pub async fn start_twice_is_already_started(h: &Harness) {
    let c = h.started("m").await;
    assert_eq!(
        c.start_with(Heartbeat::Manual).await,
        Err(E::AlreadyStarted)
    );
}

pub async fn calls_before_start_fail_with_not_started(h: &Harness) {
    let c = h.coordinator("m");
    assert_eq!(c.create_group("g").await, Err(E::NotStarted));
    assert_eq!(c.get_groups().await, Err(E::NotStarted));
    assert_eq!(c.heartbeat().await, Err(E::NotStarted));
    assert_eq!(c.run_watchers().await, Err(E::NotStarted));
    assert!(c.watch_join_group("g", |_| {}).is_err());
    assert!(c.subscribe(None).is_err());
}

// ----- groups -----

pub async fn create_group_lists_the_group(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    assert!(c.get_groups().await.unwrap().iter().any(|id| *id == *g));
}

pub async fn create_group_twice_is_group_already_exist(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    assert!(matches!(c.create_group(&g).await, Err(E::GroupAlreadyExist(id)) if id == *g));
}

pub async fn get_groups_lists_every_created_group(h: &Harness) {
    let c = h.started("m").await;
    let created: Vec<String> = (0..5).map(|_| new_group()).collect();
    for g in &created {
        c.create_group(g).await.unwrap();
    }
    let groups = c.get_groups().await.unwrap();
    for g in &created {
        assert!(groups.iter().any(|id| id == g), "{g} missing");
    }
    assert!(groups.is_sorted(), "groups come sorted");
}

pub async fn delete_group_removes_it_and_later_joins_fail(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    c.delete_group(&g).await.unwrap();
    assert!(!c.get_groups().await.unwrap().iter().any(|id| *id == *g));
    assert!(matches!(c.join_group(&g).await, Err(E::GroupNotCreated(_))));
}

pub async fn delete_missing_group_is_group_not_created(h: &Harness) {
    let c = h.started("m").await;
    assert!(matches!(
        c.delete_group(&new_group()).await,
        Err(E::GroupNotCreated(_))
    ));
}

pub async fn delete_non_empty_group_is_group_not_empty_until_the_member_leaves(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    c.join_group(&g).await.unwrap();
    assert!(matches!(c.delete_group(&g).await, Err(E::GroupNotEmpty(_))));
    c.leave_group(&g).await.unwrap();
    c.delete_group(&g).await.unwrap();
}

// ----- membership -----

pub async fn join_group_lists_the_member(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    c.join_group(&g).await.unwrap();
    assert_eq!(sorted(c.get_members(&g).await.unwrap()), ["m"]);
}

pub async fn join_missing_group_is_group_not_created(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    assert!(matches!(c.join_group(&g).await, Err(E::GroupNotCreated(id)) if id == *g));
}

pub async fn join_group_create_creates_and_joins(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.join_group_create_with(&g, "caps").await.unwrap();
    assert_eq!(sorted(c.get_members(&g).await.unwrap()), ["m"]);
    assert_eq!(
        c.get_member_capabilities(&g, "m").await.unwrap(),
        "caps".into()
    );
}

pub async fn join_group_create_joins_an_existing_group(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    c.join_group_create(&g).await.unwrap();
    assert_eq!(sorted(c.get_members(&g).await.unwrap()), ["m"]);
    assert!(matches!(
        c.join_group_create(&g).await,
        Err(E::MemberAlreadyExist { .. })
    ));
}

pub async fn join_with_a_member_id_already_in_the_group_is_member_already_exist(h: &Harness) {
    let c = h.started("m").await;
    let twin = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    c.join_group(&g).await.unwrap();
    let err = twin.join_group(&g).await.unwrap_err();
    assert!(
        matches!(err, E::MemberAlreadyExist { group_id, member_id } if group_id == *g && member_id == "m")
    );
    assert!(matches!(
        c.join_group(&g).await,
        Err(E::MemberAlreadyExist { .. })
    ));
}

pub async fn leave_group_removes_the_member(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    c.join_group(&g).await.unwrap();
    c.leave_group(&g).await.unwrap();
    assert!(c.get_members(&g).await.unwrap().is_empty());
}

/// R1: a missing group is always `GroupNotCreated`.
pub async fn leave_missing_group_is_group_not_created(h: &Harness) {
    let c = h.started("m").await;
    assert!(matches!(
        c.leave_group(&new_group()).await,
        Err(E::GroupNotCreated(_))
    ));
}

pub async fn leave_group_not_joined_is_member_not_joined(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    assert!(matches!(
        c.leave_group(&g).await,
        Err(E::MemberNotJoined { group_id, member_id }) if group_id == *g && member_id == "m"
    ));
}

pub async fn get_members_lists_exactly_the_joined_members(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.join_group(&g).await.unwrap();
    b.join_group(&g).await.unwrap();
    assert_eq!(sorted(a.get_members(&g).await.unwrap()), ["a", "b"]);
}

/// tooz's test_disconnect_leave_group; R7.
pub async fn stop_leaves_every_group_before_returning(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let (g1, g2) = (new_group(), new_group());
    for g in [&g1, &g2] {
        a.create_group(g).await.unwrap();
        a.join_group(g).await.unwrap();
        b.join_group(g).await.unwrap();
    }
    b.stop().await.unwrap();
    for g in [&g1, &g2] {
        assert_eq!(sorted(a.get_members(g).await.unwrap()), ["a"]);
    }
}

/// tooz's test_timeout: a member that never heartbeats is gone after the membership timeout,
/// with exactly one left event whose reason is "expired".
pub async fn silent_member_expires_after_the_timeout_with_one_left_event(h: &Harness) {
    let h = h.with_timeout(5);
    let a = h.coordinator("a");
    a.start().await.unwrap();
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.join_group(&g).await.unwrap();
    b.join_group(&g).await.unwrap();
    let left = log();
    let sink = Arc::clone(&left);
    a.watch_leave_group(&g, move |e| sink.lock().unwrap().push(e.clone()))
        .unwrap();

    h.sleep(3).await;
    assert_eq!(
        sorted(a.get_members(&g).await.unwrap()),
        ["a", "b"],
        "not yet expired"
    );
    h.sleep(3).await;
    h.eventually(|| async { (!is_member(&a, &g, "b").await).then_some(()) })
        .await;
    assert_eq!(sorted(a.get_members(&g).await.unwrap()), ["a"]);
    a.run_watchers().await.unwrap();
    let left = left.lock().unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].member_id, "b");
    assert_eq!(left[0].reason, LeaveReason::Expired);
}

// ----- capabilities -----

/// tooz's test_get_member_capabilities: the join is not awaited before the read, relying on
/// a coordinator's operations taking effect in call order.
pub async fn get_member_capabilities_follows_call_order(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    let join = c.join_group_with(
        &g,
        Capabilities::json(&serde_json::json!({"data": "test_capabilities"})).unwrap(),
    );
    let caps = c.get_member_capabilities(&g, "m").await.unwrap();
    join.await.unwrap();
    let value: serde_json::Value = caps.to_json().unwrap();
    assert_eq!(value["data"], "test_capabilities");
}

pub async fn complex_capabilities_round_trip(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    let caps = serde_json::json!({"data": "x", "nested": {"list": [1, 2, {"deep": true}]}});
    c.create_group(&g).await.unwrap();
    c.join_group_with(&g, Capabilities::json(&caps).unwrap())
        .await
        .unwrap();
    let back: serde_json::Value = c
        .get_member_capabilities(&g, "m")
        .await
        .unwrap()
        .to_json()
        .unwrap();
    assert_eq!(back, caps);
}

pub async fn get_members_with_capabilities_maps_each_member(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.join_group_with(&g, "caps-a").await.unwrap();
    b.join_group_with(&g, "caps-b").await.unwrap();
    let all = a.get_members_with_capabilities(&g).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[&MemberId::new("a").unwrap()], "caps-a".into());
    assert_eq!(all[&MemberId::new("b").unwrap()], "caps-b".into());
}

pub async fn get_members_with_capabilities_of_missing_group_is_group_not_created(h: &Harness) {
    let c = h.started("m").await;
    assert!(matches!(
        c.get_members_with_capabilities(&new_group()).await,
        Err(E::GroupNotCreated(_))
    ));
}

pub async fn get_members_with_capabilities_of_empty_group_is_empty(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    assert!(
        c.get_members_with_capabilities(&g)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn member_without_capabilities_has_empty_ones(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    c.join_group(&g).await.unwrap();
    let all = c.get_members_with_capabilities(&g).await.unwrap();
    assert!(all[&MemberId::new("m").unwrap()].is_empty());
    assert!(c.get_member_capabilities(&g, "m").await.unwrap().is_empty());
}

/// R1.
pub async fn get_member_capabilities_of_missing_group_is_group_not_created(h: &Harness) {
    let c = h.started("m").await;
    assert!(matches!(
        c.get_member_capabilities(&new_group(), "m").await,
        Err(E::GroupNotCreated(_))
    ));
}

pub async fn get_member_capabilities_of_non_member_is_member_not_joined(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    assert!(matches!(
        c.get_member_capabilities(&g, "other").await,
        Err(E::MemberNotJoined { member_id, .. }) if member_id == "other"
    ));
}

pub async fn get_member_info_reports_capabilities_times_and_revision(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    // Slack for the backend's wall clock against this process's, not a span of the suite's
    // time: it is not scaled.
    let before = std::time::SystemTime::now() - Duration::from_secs(1);
    c.join_group_with(&g, "v1").await.unwrap();
    let joined_at_revision = c.head_revision();
    let info = c.get_member_info(&g, "m").await.unwrap();
    assert_eq!(info.capabilities, "v1".into());
    assert_eq!(info.revision, joined_at_revision);
    assert!(info.joined_at >= before && info.updated_at == info.joined_at);
    assert!(info.expires_in > Duration::ZERO && info.expires_in <= c.membership_timeout());
    c.update_capabilities(&g, "v2").await.unwrap();
    let info = c.get_member_info(&g, "m").await.unwrap();
    assert_eq!(info.capabilities, "v2".into());
    assert_eq!(info.revision, c.head_revision());
    assert!(info.updated_at >= info.joined_at);
}

pub async fn group_summaries_count_members_and_name_the_leader(h: &Harness) {
    let (a, b) = (h.started("a").await, h.started("b").await);
    let (g, empty) = (new_group(), new_group());
    a.create_group(&g).await.unwrap();
    a.create_group(&empty).await.unwrap();
    let empty_created = a.head_revision();
    a.join_group_with(&g, "").await.unwrap();
    b.join_group_with(&g, "").await.unwrap();
    a.watch_elected_as_leader(&g, |_| {}).unwrap();
    settled(&a).await;
    let term = a.head_revision();
    b.update_capabilities(&g, "x").await.unwrap();
    let (revision, summaries) = b.get_group_summaries().await.unwrap();
    assert_eq!(revision, b.head_revision());
    let of = |id: &str| summaries.iter().find(|s| s.group_id == id).unwrap().clone();
    let busy = of(&g);
    assert_eq!(busy.members, 2);
    assert_eq!(
        busy.leader,
        Some(Leader {
            member_id: MemberId::new("a").unwrap(),
            term
        })
    );
    assert_eq!(busy.last_change, revision);
    let quiet = of(&empty);
    assert_eq!(
        (quiet.members, quiet.leader, quiet.last_change),
        (0, None, empty_created)
    );
}

pub async fn get_members_info_reports_every_member_and_its_liveness(h: &Harness) {
    let h = h.with_timeout(4);
    let (a, b) = (h.started("a").await, h.started("b").await);
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.join_group_with(&g, "ca").await.unwrap();
    b.join_group_with(&g, "cb").await.unwrap();
    let timeout = h.secs(4);
    assert_eq!(a.membership_timeout(), timeout);
    h.sleep(2).await;
    a.heartbeat().await.unwrap();
    let infos = b.get_members_info(&g).await.unwrap();
    assert_eq!(infos.len(), 2);
    assert_eq!(
        infos[&MemberId::new("a").unwrap()].capabilities,
        "ca".into()
    );
    assert_eq!(
        infos[&MemberId::new("b").unwrap()].capabilities,
        "cb".into()
    );
    // `a` just heartbeat; `b` has not for (at least) half the timeout. The millisecond is
    // rounding, not time.
    assert_about(&h, infos[&MemberId::new("a").unwrap()].expires_in, timeout);
    assert!(
        infos[&MemberId::new("b").unwrap()].expires_in <= timeout / 2 + Duration::from_millis(1)
    );
    assert!(matches!(
        b.get_members_info(&new_group()).await,
        Err(E::GroupNotCreated(_))
    ));
}

pub async fn get_member_info_errors_match_capabilities(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    assert!(matches!(
        c.get_member_info(&g, "m").await,
        Err(E::GroupNotCreated(_))
    ));
    c.create_group(&g).await.unwrap();
    assert!(matches!(
        c.get_member_info(&g, "m").await,
        Err(E::MemberNotJoined { .. })
    ));
}

pub async fn update_capabilities_replaces_them(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    c.join_group_with(
        &g,
        Capabilities::json(&serde_json::json!({"version": 1})).unwrap(),
    )
    .await
    .unwrap();
    c.update_capabilities(
        &g,
        Capabilities::json(&serde_json::json!({"version": 2})).unwrap(),
    )
    .await
    .unwrap();
    let caps: serde_json::Value = c
        .get_member_capabilities(&g, "m")
        .await
        .unwrap()
        .to_json()
        .unwrap();
    assert_eq!(caps["version"], 2);
}

/// tooz's test_update_capabilities_with_group_id_nonexistent, split per R1.
pub async fn update_capabilities_errors_name_the_missing_part(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    assert!(matches!(
        c.update_capabilities(&g, "x").await,
        Err(E::GroupNotCreated(_))
    ));
    c.create_group(&g).await.unwrap();
    assert!(matches!(
        c.update_capabilities(&g, "x").await,
        Err(E::MemberNotJoined { .. })
    ));
}

// ----- heartbeat -----

pub async fn heartbeat_returns_the_membership_timeout(h: &Harness) {
    let c = h.with_timeout(7).started("m").await;
    assert_about(h, c.heartbeat().await.unwrap(), h.secs(7));
}

pub async fn background_heartbeat_keeps_membership_past_the_timeout(h: &Harness) {
    // A beat every 5 s: one delayed by a busy machine still lands well within the timeout
    // (at the real-time scale of 0.1, a beat may run up to 0.5 s late).
    let h = h.with_timeout(10);
    let c = h.coordinator("m");
    c.start().await.unwrap();
    let g = new_group();
    c.create_group(&g).await.unwrap();
    c.join_group(&g).await.unwrap();
    h.sleep(60).await;
    assert_eq!(sorted(c.get_members(&g).await.unwrap()), ["m"]);
    assert_eq!(c.heartbeat_status().consecutive_failures, 0);
}

/// tooz's test_heartbeat_loop.
pub async fn background_heartbeat_counts_beats(h: &Harness) {
    // A beat every second, so the ten seconds after `stop` would see ten.
    let c = h.with_timeout(2).coordinator("m");
    assert_eq!(c.heartbeat_status().beats, 0);
    c.start().await.unwrap();
    h.wait_until(5, || async {
        (c.heartbeat_status().beats > 0).then_some(())
    })
    .await;
    c.stop().await.unwrap();
    let beats = c.heartbeat_status().beats;
    h.sleep(10).await;
    assert_eq!(
        c.heartbeat_status().beats,
        beats,
        "the task stops with the coordinator"
    );
}

// ----- watchers -----

/// tooz's test_watch_group_join.
pub async fn watch_join_fires_once_per_join_and_not_after_unwatch(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    let joined = log();
    let sink = Arc::clone(&joined);
    let id = a
        .watch_join_group(&g, move |e| sink.lock().unwrap().push(e.clone()))
        .unwrap();
    b.join_group(&g).await.unwrap();
    let delivered = a.run_watchers().await.unwrap();
    assert_eq!(kinds(&delivered), [EventKind::MemberJoined]);
    {
        let joined = joined.lock().unwrap();
        assert_eq!(joined.len(), 1);
        assert_eq!(
            (joined[0].group_id.as_str(), joined[0].member_id.as_str()),
            (g.as_str(), "b")
        );
    }
    a.unwatch_join_group(&g, id).unwrap();
    b.leave_group(&g).await.unwrap();
    b.join_group(&g).await.unwrap();
    assert!(a.run_watchers().await.unwrap().is_empty());
    assert_eq!(joined.lock().unwrap().len(), 1);
}

/// tooz's test_watch_leave_group.
pub async fn watch_leave_fires_once_per_leave_and_not_after_unwatch(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    let left = log();
    let sink = Arc::clone(&left);
    a.watch_join_group(&g, |_| {}).unwrap();
    let id = a
        .watch_leave_group(&g, move |e| sink.lock().unwrap().push(e.clone()))
        .unwrap();
    b.join_group(&g).await.unwrap();
    assert_eq!(
        kinds(&a.run_watchers().await.unwrap()),
        [EventKind::MemberJoined]
    );
    b.leave_group(&g).await.unwrap();
    assert_eq!(
        kinds(&a.run_watchers().await.unwrap()),
        [EventKind::MemberLeft]
    );
    {
        let left = left.lock().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].member_id, "b");
        assert_eq!(left[0].reason, LeaveReason::Left);
    }
    a.unwatch_leave_group(&g, id).unwrap();
    b.join_group(&g).await.unwrap();
    b.leave_group(&g).await.unwrap();
    a.run_watchers().await.unwrap();
    assert_eq!(left.lock().unwrap().len(), 1);
}

/// tooz's test_watch_{join,leave}_group_non_existent.
pub async fn watch_missing_group_is_group_not_created_and_registers_nothing(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    assert!(matches!(
        c.watch_join_group(&g, |_| {}),
        Err(E::GroupNotCreated(_))
    ));
    assert!(matches!(
        c.watch_leave_group(&g, |_| {}),
        Err(E::GroupNotCreated(_))
    ));
    assert!(matches!(
        c.watch_group(&g, None, |_| {}),
        Err(E::GroupNotCreated(_))
    ));
    assert_eq!(c.watch_counts(&g), [0, 0, 0, 0]);
}

/// tooz's test_watch_join_group_booted_out: another coordinator with the same member id
/// leaves, and this one is no longer in the group.
pub async fn member_booted_out_by_same_id_is_no_longer_joined(h: &Harness) {
    let c = h.started("m").await;
    let twin = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    c.join_group(&g).await.unwrap();
    let left = log();
    let sink = Arc::clone(&left);
    c.watch_leave_group(&g, move |e| sink.lock().unwrap().push(e.member_id.clone()))
        .unwrap();
    twin.leave_group(&g).await.unwrap();
    c.run_watchers().await.unwrap();
    assert_eq!(sorted(left.lock().unwrap().clone()), ["m"]);
    assert!(matches!(
        c.leave_group(&g).await,
        Err(E::MemberNotJoined { .. })
    ));
    let head = c.head_revision();
    c.stop().await.unwrap();
    // Whatever `stop` committed, `twin` has seen once its `run_watchers` returns.
    twin.run_watchers().await.unwrap();
    assert_eq!(twin.head_revision(), head, "stop has nothing left to leave");
}

pub async fn unwatch_unknown_callback_is_watch_callback_not_found(h: &Harness) {
    let c = h.started("m").await;
    let (g, other) = (new_group(), new_group());
    c.create_group(&g).await.unwrap();
    c.create_group(&other).await.unwrap();
    let join = c.watch_join_group(&g, |_| {}).unwrap();
    let leave = c.watch_leave_group(&g, |_| {}).unwrap();
    let elected = c.watch_elected_as_leader(&g, |_| {}).unwrap();
    // Right id, wrong group or wrong kind: not found.
    assert!(
        matches!(c.unwatch_join_group(&other, join), Err(E::WatchCallbackNotFound(id)) if id == *other)
    );
    assert!(matches!(
        c.unwatch_leave_group(&g, join),
        Err(E::WatchCallbackNotFound(_))
    ));
    assert!(matches!(
        c.unwatch_elected_as_leader(&g, leave),
        Err(E::WatchCallbackNotFound(_))
    ));
    assert!(matches!(
        c.unwatch_join_group(&g, elected),
        Err(E::WatchCallbackNotFound(_))
    ));
    // A failed unwatch leaves the candidacy as it was (unlike tooz's D6).
    assert_eq!(c.get_leader(&g).await.unwrap().unwrap().member_id, "m");
    c.unwatch_join_group(&g, join).unwrap();
    assert!(matches!(
        c.unwatch_join_group(&g, join),
        Err(E::WatchCallbackNotFound(_))
    ));
}

/// tooz's test_unwatch_leave_group.
pub async fn unwatch_removes_the_hook(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    assert_eq!(c.watch_counts(&g), [0, 0, 0, 0]);
    let id = c.watch_leave_group(&g, |_| {}).unwrap();
    assert_eq!(c.watch_counts(&g), [0, 1, 0, 0]);
    c.unwatch_leave_group(&g, id).unwrap();
    assert_eq!(c.watch_counts(&g), [0, 0, 0, 0]);
}

/// R2 (as tooz): members already present when a watch starts produce no join event.
pub async fn members_present_before_a_watch_produce_no_join_event(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    b.join_group(&g).await.unwrap();
    a.watch_join_group(&g, |_| {}).unwrap();
    assert!(a.run_watchers().await.unwrap().is_empty());
}

/// R2: a join and leave (and rejoin) between two runs are all delivered, in revision order.
/// tooz's snapshot diff shows none of them.
pub async fn transient_changes_between_runs_are_all_delivered_in_order(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.watch_join_group(&g, |_| {}).unwrap();
    a.watch_leave_group(&g, |_| {}).unwrap();
    b.join_group(&g).await.unwrap();
    b.leave_group(&g).await.unwrap();
    b.join_group(&g).await.unwrap();
    let delivered = a.run_watchers().await.unwrap();
    assert_eq!(
        kinds(&delivered),
        [
            EventKind::MemberJoined,
            EventKind::MemberLeft,
            EventKind::MemberJoined
        ]
    );
    assert!(
        delivered
            .windows(2)
            .all(|w| w[0].revision() < w[1].revision())
    );
}

/// R2: a watcher may ask to start from an older revision and sees history from there.
pub async fn watch_group_from_an_older_revision_replays_history(h: &Harness) {
    let a = h.started("a").await;
    let g = new_group();
    let start = a.head_revision() + 1;
    a.create_group(&g).await.unwrap();
    a.join_group_with(&g, "x").await.unwrap();
    a.update_capabilities(&g, "y").await.unwrap();
    let seen = log();
    let sink = Arc::clone(&seen);
    a.watch_group(&g, Some(start), move |e| {
        sink.lock().unwrap().push(e.kind())
    })
    .unwrap();
    a.run_watchers().await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            EventKind::GroupCreated,
            EventKind::MemberJoined,
            EventKind::CapabilitiesUpdated
        ]
    );
}

/// Watchers that fall behind the kept history are told, after receiving everything that is
/// still kept; then they carry on.
pub async fn run_watchers_reports_history_lost_and_resumes(h: &Harness) {
    let h = h.with_options("history=4");
    let a = h.started("a").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    let seen = log();
    let sink = Arc::clone(&seen);
    a.watch_group(&g, None, move |e| sink.lock().unwrap().push(e.revision()))
        .unwrap();
    for _ in 0..3 {
        a.join_group(&g).await.unwrap();
        a.leave_group(&g).await.unwrap();
    }
    let head = a.head_revision();
    let ran = a.run_watchers().await;
    assert!(
        matches!(&ran, Err(E::HistoryLost { oldest, .. }) if *oldest == head - 3),
        "head {head}: {ran:?}, seen {:?}",
        seen.lock().unwrap()
    );
    assert_eq!(
        *seen.lock().unwrap(),
        (head - 3..=head).collect::<Vec<_>>(),
        "the kept four"
    );
    a.join_group(&g).await.unwrap();
    assert_eq!(
        kinds(&a.run_watchers().await.unwrap()),
        [EventKind::MemberJoined]
    );
}

/// Callbacks run without locks held: they can read state and even add watches.
pub async fn callbacks_may_call_back_into_the_coordinator(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    let seen = log();
    let (sink, inner) = (Arc::clone(&seen), a.clone());
    let group = g.clone();
    a.watch_join_group(&g, move |e| {
        let count = inner.watch_counts(&group)[1];
        inner.watch_leave_group(&group, |_| {}).unwrap();
        sink.lock().unwrap().push((e.member_id.clone(), count));
    })
    .unwrap();
    b.join_group(&g).await.unwrap();
    a.run_watchers().await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(a.watch_counts(&g)[1], 1);
}

/// R4: an asynchronous callback is handed the coordinator and may await calls on it (on
/// every backend); `run_watchers` awaits it before the next offer, so callbacks still see
/// events one at a time, in revision order.
pub async fn async_callbacks_await_coordinator_calls_in_order(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let c = h.started("c").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    let seen = log();
    let sink = Arc::clone(&seen);
    a.watch_join_group_async(&g, move |me, event| {
        let sink = Arc::clone(&sink);
        async move {
            let members = sorted(me.get_members(event.group_id.as_str()).await.unwrap());
            sink.lock()
                .unwrap()
                .push((event.member_id.to_string(), members));
        }
    })
    .unwrap();
    let leaves = log();
    let sink = Arc::clone(&leaves);
    a.watch_leave_group_async(&g, move |_, event| {
        let sink = Arc::clone(&sink);
        async move { sink.lock().unwrap().push(event.member_id.to_string()) }
    })
    .unwrap();
    b.join_group(&g).await.unwrap();
    c.join_group(&g).await.unwrap();
    b.leave_group(&g).await.unwrap();
    let delivered = a.run_watchers().await.unwrap();
    assert_eq!(delivered.len(), 3);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>(),
        ["b", "c"],
        "in revision order"
    );
    assert!(
        seen.iter().all(|(_, members)| members == &["c"]),
        "each call sees the store as it is when the callback runs: {seen:?}"
    );
    assert_eq!(*leaves.lock().unwrap(), ["b"]);
}

// ----- leader election -----

/// tooz's test_run_for_election.
pub async fn run_for_election_elects_the_only_candidate_once(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    let elected = log();
    let sink = Arc::clone(&elected);
    c.watch_elected_as_leader(&g, move |e| sink.lock().unwrap().push(e.clone()))
        .unwrap();
    c.run_watchers().await.unwrap();
    c.run_watchers().await.unwrap();
    let elected = elected.lock().unwrap();
    assert_eq!(elected.len(), 1);
    assert_eq!(
        (elected[0].group_id.as_str(), elected[0].member_id.as_str()),
        (g.as_str(), "m")
    );
}

/// tooz's test_run_for_election_multiple_clients.
pub async fn next_candidate_is_elected_when_the_leader_stops(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    let (a_log, b_log) = (log(), log());
    let (sa, sb) = (Arc::clone(&a_log), Arc::clone(&b_log));
    a.watch_elected_as_leader(&g, move |e| sa.lock().unwrap().push(e.member_id.clone()))
        .unwrap();
    a.run_watchers().await.unwrap();
    b.watch_elected_as_leader(&g, move |e| sb.lock().unwrap().push(e.member_id.clone()))
        .unwrap();
    b.run_watchers().await.unwrap();
    assert!(b_log.lock().unwrap().is_empty());
    assert_eq!(b.get_leader(&g).await.unwrap().unwrap().member_id, "a");
    a.stop().await.unwrap();
    b.run_watchers().await.unwrap();
    assert_eq!(sorted(b_log.lock().unwrap().clone()), ["b"]);
    assert_eq!(b.get_leader(&g).await.unwrap().unwrap().member_id, "b");
    assert_eq!(a_log.lock().unwrap().len(), 1);
}

/// tooz's test_get_leader: joining is not standing for election.
pub async fn get_leader_is_none_until_a_candidate_stands(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    assert_eq!(c.get_leader(&g).await.unwrap(), None);
    c.join_group(&g).await.unwrap();
    assert_eq!(c.get_leader(&g).await.unwrap(), None);
    c.watch_elected_as_leader(&g, |_| {}).unwrap();
    c.run_watchers().await.unwrap();
    assert_eq!(c.get_leader(&g).await.unwrap().unwrap().member_id, "m");
    assert!(matches!(
        c.get_leader(&new_group()).await,
        Err(E::GroupNotCreated(_))
    ));
}

/// tooz's test_run_for_election_multiple_clients_stand_down.
pub async fn standing_down_passes_leadership_between_candidates(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    let (a_log, b_log) = (log(), log());
    let (sa, sb) = (Arc::clone(&a_log), Arc::clone(&b_log));
    a.watch_elected_as_leader(&g, move |e| sa.lock().unwrap().push(e.term))
        .unwrap();
    settled(&a).await;
    b.watch_elected_as_leader(&g, move |e| sb.lock().unwrap().push(e.term))
        .unwrap();
    a.run_watchers().await.unwrap();
    b.run_watchers().await.unwrap();
    assert_eq!(
        (a_log.lock().unwrap().len(), b_log.lock().unwrap().len()),
        (1, 0)
    );

    assert!(a.stand_down_group_leader(&g).await.unwrap());
    b.run_watchers().await.unwrap();
    assert_eq!(b_log.lock().unwrap().len(), 1);
    assert_eq!(b.get_leader(&g).await.unwrap().unwrap().member_id, "b");

    assert!(b.stand_down_group_leader(&g).await.unwrap());
    a.run_watchers().await.unwrap();
    assert_eq!(a_log.lock().unwrap().len(), 2);
    assert_eq!(a.get_leader(&g).await.unwrap().unwrap().member_id, "a");
    b.run_watchers().await.unwrap();
    assert_eq!(b_log.lock().unwrap().len(), 1);
}

pub async fn stand_down_by_a_non_leader_returns_false(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    assert!(
        !b.stand_down_group_leader(&g).await.unwrap(),
        "not even a candidate"
    );
    a.watch_elected_as_leader(&g, |_| {}).unwrap();
    settled(&a).await;
    b.watch_elected_as_leader(&g, |_| {}).unwrap();
    assert!(
        !b.stand_down_group_leader(&g).await.unwrap(),
        "a candidate, not the leader"
    );
    assert_eq!(a.get_leader(&g).await.unwrap().unwrap().member_id, "a");
    assert!(matches!(
        a.stand_down_group_leader(&new_group()).await,
        Err(E::GroupNotCreated(_))
    ));
}

/// tooz's test_unwatch_elected_as_leader, plus: removing the last callback withdraws.
pub async fn unwatch_elected_as_leader_withdraws_the_candidacy(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    let first = a.watch_elected_as_leader(&g, |_| {}).unwrap();
    let second = a.watch_elected_as_leader(&g, |_| {}).unwrap();
    settled(&a).await;
    b.watch_elected_as_leader(&g, |_| {}).unwrap();
    settled(&b).await;
    assert_eq!(a.watch_counts(&g)[2], 2);
    a.unwatch_elected_as_leader(&g, first).unwrap();
    assert_eq!(
        a.get_leader(&g).await.unwrap().unwrap().member_id,
        "a",
        "still a candidate"
    );
    a.unwatch_elected_as_leader(&g, second).unwrap();
    assert_eq!(a.watch_counts(&g), [0, 0, 0, 0]);
    assert_eq!(a.get_leader(&g).await.unwrap().unwrap().member_id, "b");
}

/// R5: no implicit group creation.
pub async fn election_on_missing_group_is_group_not_created(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    assert!(matches!(
        c.watch_elected_as_leader(&g, |_| {}),
        Err(E::GroupNotCreated(_))
    ));
    assert_eq!(c.watch_counts(&g), [0, 0, 0, 0]);
    assert!(!c.get_groups().await.unwrap().iter().any(|id| *id == *g));
}

/// R5: every leadership has a fencing term larger than every earlier one.
pub async fn terms_grow_with_every_leadership(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.watch_elected_as_leader(&g, |_| {}).unwrap();
    b.watch_elected_as_leader(&g, |_| {}).unwrap();
    let mut terms = vec![a.get_leader(&g).await.unwrap().unwrap().term];
    for _ in 0..4 {
        let leader = a.get_leader(&g).await.unwrap().unwrap();
        let holder = if leader.member_id == "a" { &a } else { &b };
        assert!(holder.stand_down_group_leader(&g).await.unwrap());
        terms.push(a.get_leader(&g).await.unwrap().unwrap().term);
    }
    assert!(terms.windows(2).all(|w| w[0] < w[1]), "{terms:?}");
}

/// R3, R5, R6: a leader that stops heartbeating loses leadership with a reason, and the next
/// candidate takes over.
pub async fn expired_leader_is_replaced_with_a_leader_lost_event(h: &Harness) {
    let h = h.with_timeout(5);
    let a = h.started("a").await;
    let b = h.coordinator("b");
    b.start().await.unwrap();
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.watch_elected_as_leader(&g, |_| {}).unwrap();
    settled(&a).await;
    b.watch_elected_as_leader(&g, |_| {}).unwrap();
    let term = b.get_leader(&g).await.unwrap().unwrap().term;
    let events = log();
    let sink = Arc::clone(&events);
    b.watch_group(&g, None, move |e| sink.lock().unwrap().push(e.clone()))
        .unwrap();
    h.sleep(6).await;
    h.eventually(|| async {
        let leader = b.get_leader(&g).await.unwrap();
        leader.is_some_and(|l| l.member_id == "b").then_some(())
    })
    .await;
    b.run_watchers().await.unwrap();
    let events = events.lock().unwrap().clone();
    assert_eq!(
        kinds(&events),
        [EventKind::LeaderLost, EventKind::LeaderElected]
    );
    let Event::LeaderLost(lost) = &events[0] else {
        unreachable!()
    };
    assert_eq!(
        (lost.member_id.as_str(), lost.term, lost.reason),
        ("a", term, LeadershipEnd::Expired)
    );
    assert_eq!(b.get_leader(&g).await.unwrap().unwrap().member_id, "b");
}

pub async fn deleting_a_group_ends_its_leadership(h: &Harness) {
    let a = h.started("a").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.watch_elected_as_leader(&g, |_| {}).unwrap();
    let mut stream = a.subscribe(None).unwrap();
    a.delete_group(&g).await.unwrap();
    let Event::LeaderLost(lost) = stream.next().await.unwrap().unwrap() else {
        panic!("leader lost first")
    };
    assert_eq!(lost.reason, LeadershipEnd::GroupDeleted);
    assert_eq!(
        stream.next().await.unwrap().unwrap().kind(),
        EventKind::GroupDeleted
    );
    // Recreated, the group has no leader until someone stands again.
    a.create_group(&g).await.unwrap();
    assert_eq!(a.get_leader(&g).await.unwrap(), None);
}

// ----- Roster's decisions -----

/// R2: every change gets the next revision.
pub async fn every_change_has_the_next_revision(h: &Harness) {
    let a = h.started("a").await;
    let g = new_group();
    let start = a.head_revision();
    let mut stream = a.subscribe(Some(start + 1)).unwrap();
    a.create_group(&g).await.unwrap();
    a.join_group(&g).await.unwrap();
    a.watch_elected_as_leader(&g, |_| {}).unwrap();
    a.leave_group(&g).await.unwrap();
    assert_eq!(a.head_revision(), start + 4);
    for expected in start + 1..=start + 4 {
        assert_eq!(stream.next().await.unwrap().unwrap().revision(), expected);
    }
}

/// R3, R8: group lifecycle and capability updates are events; a left event says why.
pub async fn group_lifecycle_and_capability_updates_are_events(h: &Harness) {
    let a = h.started("a").await;
    let g = new_group();
    let mut stream = a.subscribe(None).unwrap();
    a.create_group(&g).await.unwrap();
    a.join_group_with(&g, "v1").await.unwrap();
    a.update_capabilities(&g, "v2").await.unwrap();
    a.leave_group(&g).await.unwrap();
    a.delete_group(&g).await.unwrap();
    let mut events = Vec::new();
    for _ in 0..5 {
        events.push(stream.next().await.unwrap().unwrap());
    }
    assert_eq!(
        kinds(&events),
        [
            EventKind::GroupCreated,
            EventKind::MemberJoined,
            EventKind::CapabilitiesUpdated,
            EventKind::MemberLeft,
            EventKind::GroupDeleted
        ]
    );
    let Event::CapabilitiesUpdated(update) = &events[2] else {
        unreachable!()
    };
    assert_eq!(update.capabilities, "v2".into());
    let Event::MemberLeft(left) = &events[3] else {
        unreachable!()
    };
    assert_eq!(left.reason, LeaveReason::Left);
}

/// R6: the expired member sees its own expiry as an event, its next heartbeat says so, and
/// calls that need the lost membership fail with `MemberExpired` once.
pub async fn expired_member_is_told_it_expired(h: &Harness) {
    let h = h.with_timeout(5);
    let a = h.started("a").await;
    let (g1, g2) = (new_group(), new_group());
    for g in [&g1, &g2] {
        a.create_group(g).await.unwrap();
        a.join_group(g).await.unwrap();
    }
    let own = log();
    let sink = Arc::clone(&own);
    a.watch_leave_group(&g1, move |e| {
        sink.lock().unwrap().push((e.member_id.clone(), e.reason))
    })
    .unwrap();
    h.sleep(6).await;
    h.eventually(|| async { (!is_member(&a, &g1, "a").await).then_some(()) })
        .await;
    a.run_watchers().await.unwrap();
    assert_eq!(
        *own.lock().unwrap(),
        [(MemberId::new("a").unwrap(), LeaveReason::Expired)]
    );

    let Err(E::SessionExpired {
        member_id,
        mut lost_groups,
        lost_candidacies,
    }) = a.heartbeat().await
    else {
        panic!("heartbeat after expiry reports it");
    };
    lost_groups.sort();
    let mut expected = vec![g1.clone(), g2.clone()];
    expected.sort();
    assert_eq!(member_id, "a");
    assert!(lost_candidacies.is_empty());
    assert_eq!(
        lost_groups
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        expected
    );
    a.heartbeat().await.expect("the session is live again");

    assert!(
        matches!(a.leave_group(&g1).await, Err(E::MemberExpired { group_id, .. }) if group_id == *g1)
    );
    assert!(
        matches!(a.leave_group(&g1).await, Err(E::MemberNotJoined { .. })),
        "told once"
    );
    assert!(matches!(
        a.update_capabilities(&g2, "x").await,
        Err(E::MemberExpired { .. })
    ));
    a.join_group(&g1).await.unwrap();
    assert_eq!(sorted(a.get_members(&g1).await.unwrap()), ["a"]);
}

/// R6: the expiry notice belongs to the group the member lost, not to a later group that
/// happens to have the same name.
pub async fn expiry_notice_does_not_carry_over_to_a_recreated_group(h: &Harness) {
    let h = h.with_timeout(5);
    let a = h.started("a").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.join_group(&g).await.unwrap();
    h.sleep(6).await;
    h.eventually(|| async { (!is_member(&a, &g, "a").await).then_some(()) })
        .await;
    assert!(matches!(a.heartbeat().await, Err(E::SessionExpired { .. })));
    a.delete_group(&g).await.unwrap();
    a.create_group(&g).await.unwrap();
    assert!(matches!(
        a.leave_group(&g).await,
        Err(E::MemberNotJoined { .. })
    ));
}

/// Sorted names of `groups`, for comparing with a notice's lists.
fn names(groups: &[roster::GroupId]) -> Vec<String> {
    let mut names: Vec<String> = groups.iter().map(ToString::to_string).collect();
    names.sort();
    names
}

/// Let `a`'s session expire (nominal timeout 5 s): wait until another coordinator sees it
/// gone from `group`.
async fn expire(h: &Harness, observer: &Coordinator, group: &str) {
    h.sleep(6).await;
    h.eventually(|| async { (!is_member(observer, group, "a").await).then_some(()) })
        .await;
}

/// R6: a join is the first call after the expiry: it fails with the whole expiry notice,
/// joins nothing (and creates nothing), and the session is live again, so the next
/// heartbeat is fine and a retried join succeeds.
pub async fn expired_member_learns_it_expired_from_its_next_join(h: &Harness) {
    let h = h.with_timeout(5);
    let observer = h.started("observer").await;
    let (g1, g3, g4) = (new_group(), new_group(), new_group());
    for g in [&g1, &g3] {
        observer.create_group(g).await.unwrap();
    }
    let a = h.started("a").await;
    a.join_group(&g1).await.unwrap();
    expire(&h, &observer, &g1).await;

    match a.join_group(&g3).await {
        Err(E::SessionExpired {
            member_id,
            lost_groups,
            lost_candidacies,
        }) => {
            assert_eq!(member_id, "a");
            assert_eq!(names(&lost_groups), [g1.to_string()]);
            assert!(lost_candidacies.is_empty());
        }
        other => panic!("the join after expiry says so: {other:?}"),
    }
    assert!(
        !is_member(&observer, &g3, "a").await,
        "the failed join joined nothing"
    );
    assert!(
        matches!(a.join_group_create(&g4).await, Ok(())),
        "told once: the session is live again"
    );
    a.heartbeat().await.expect("no second notice");
    a.join_group(&g3).await.unwrap();
    assert!(is_member(&observer, &g3, "a").await);
}

/// R6: `join_group_create` as the first call after the expiry creates no group.
pub async fn join_group_create_after_expiry_creates_nothing_and_says_so(h: &Harness) {
    let h = h.with_timeout(5);
    let observer = h.started("observer").await;
    let (g1, g2) = (new_group(), new_group());
    observer.create_group(&g1).await.unwrap();
    let a = h.started("a").await;
    a.join_group(&g1).await.unwrap();
    expire(&h, &observer, &g1).await;

    assert!(matches!(
        a.join_group_create(&g2).await,
        Err(E::SessionExpired { .. })
    ));
    assert!(
        !observer
            .get_groups()
            .await
            .unwrap()
            .iter()
            .any(|g| *g == *g2),
        "the failed call created nothing"
    );
    a.join_group_create(&g2).await.unwrap();
    assert!(is_member(&observer, &g2, "a").await);
}

/// R5, R6: `watch_elected_as_leader` as the first call after the expiry registers its
/// callback and stands (as it returns before a remote store answers, it cannot fail with
/// the notice): the notice waits for the next heartbeat, which lists the whole loss, and
/// the member is a candidate everywhere it holds an election callback.
pub async fn expired_candidate_learns_it_expired_after_standing_again(h: &Harness) {
    let h = h.with_timeout(5);
    let observer = h.started("observer").await;
    let (g1, g2, g3) = (new_group(), new_group(), new_group());
    for g in [&g1, &g2, &g3] {
        observer.create_group(g).await.unwrap();
    }
    let a = h.started("a").await;
    a.join_group(&g1).await.unwrap();
    a.watch_elected_as_leader(&g2, |_| {}).unwrap();
    settled(&a).await;
    expire(&h, &observer, &g1).await;

    a.watch_elected_as_leader(&g3, |_| {}).unwrap();
    // Heartbeats do not queue behind other calls: let the stand take effect first.
    settled(&a).await;
    match a.heartbeat().await {
        Err(E::SessionExpired {
            lost_groups,
            lost_candidacies,
            ..
        }) => {
            assert_eq!(names(&lost_groups), [g1.to_string()]);
            assert_eq!(names(&lost_candidacies), [g2.to_string()]);
        }
        other => panic!("the heartbeat after the stand says so: {other:?}"),
    }
    a.heartbeat().await.expect("told once");
    for g in [&g2, &g3] {
        h.eventually(|| async {
            let leader = observer.get_leader(g).await.unwrap();
            leader.is_some_and(|l| l.member_id == "a").then_some(())
        })
        .await;
    }
}

/// R6: `MemberExpired` answers per group do not shorten the session's notice: the next
/// heartbeat still lists every group the expiry took.
pub async fn expiry_notice_lists_every_lost_group_after_member_expired_answers(h: &Harness) {
    let h = h.with_timeout(5);
    let observer = h.started("observer").await;
    let (g1, g2) = (new_group(), new_group());
    let a = h.started("a").await;
    for g in [&g1, &g2] {
        a.create_group(g).await.unwrap();
        a.join_group(g).await.unwrap();
    }
    expire(&h, &observer, &g1).await;
    h.eventually(|| async { (!is_member(&observer, &g2, "a").await).then_some(()) })
        .await;

    assert!(matches!(
        a.leave_group(&g1).await,
        Err(E::MemberExpired { .. })
    ));
    assert!(matches!(
        a.update_capabilities(&g2, "x").await,
        Err(E::MemberExpired { .. })
    ));
    match a.heartbeat().await {
        Err(E::SessionExpired { lost_groups, .. }) => {
            let mut expected = vec![g1.to_string(), g2.to_string()];
            expected.sort();
            assert_eq!(names(&lost_groups), expected);
        }
        other => panic!("{other:?}"),
    }
}

/// R5: a member holding an election callback is a candidate. A leader that expired stands
/// again when its session reopens (its notice lists the candidacy), so it is elected once
/// the other candidate stops.
pub async fn expired_leader_holding_its_callback_stands_again(h: &Harness) {
    let h = h.with_timeout(5);
    let b = h.coordinator("b");
    b.start().await.unwrap();
    let g = new_group();
    b.create_group(&g).await.unwrap();
    let a = h.started("a").await;
    a.watch_elected_as_leader(&g, |_| {}).unwrap();
    settled(&a).await;
    b.watch_elected_as_leader(&g, |_| {}).unwrap();
    settled(&b).await;
    assert_eq!(b.get_leader(&g).await.unwrap().unwrap().member_id, "a");
    h.sleep(6).await;
    h.eventually(|| async {
        let leader = b.get_leader(&g).await.unwrap();
        leader.is_some_and(|l| l.member_id == "b").then_some(())
    })
    .await;

    match a.heartbeat().await {
        Err(E::SessionExpired {
            lost_candidacies, ..
        }) => assert_eq!(names(&lost_candidacies), [g.to_string()]),
        other => panic!("{other:?}"),
    }
    settled(&a).await;
    b.stop().await.unwrap();
    // `a` heartbeats by hand: it keeps its reopened session alive while it waits, however
    // long the store takes to hand the leadership on.
    h.eventually(|| async {
        a.heartbeat().await.unwrap();
        let leader = a.get_leader(&g).await.unwrap();
        leader.is_some_and(|l| l.member_id == "a").then_some(())
    })
    .await;
}

/// A store-wide option (`history`) asked for with another value than the one in force is
/// refused, naming the option and both values; the same value is fine.
pub async fn a_conflicting_store_wide_option_is_an_invalid_url(h: &Harness) {
    let h = h.with_options("history=64");
    let a = h.started("a").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    let other = h.with_options("history=128");
    match roster::get_coordinator(other.url(), "b") {
        Err(E::InvalidUrl {
            problem:
                roster::UrlProblem::ConflictingOption {
                    name,
                    in_force,
                    asked,
                },
            ..
        }) => assert_eq!(
            (name.as_str(), in_force.as_str(), asked.as_str()),
            ("history", "64", "128")
        ),
        other => panic!("{other:?}"),
    }
    let same = h.coordinator("c");
    same.start_with(Heartbeat::Manual).await.unwrap();
    assert!(same.get_groups().await.unwrap().iter().any(|x| *x == *g));
}

/// R7: stop releases leadership before it returns.
pub async fn stop_releases_leadership_before_returning(h: &Harness) {
    let a = h.started("a").await;
    let b = h.started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.watch_elected_as_leader(&g, |_| {}).unwrap();
    settled(&a).await;
    b.watch_elected_as_leader(&g, |_| {}).unwrap();
    // `b`'s view now includes `a`'s election, so the stream starts after it.
    b.run_watchers().await.unwrap();
    let mut stream = b.subscribe(None).unwrap();
    a.stop().await.unwrap();
    assert_eq!(b.get_leader(&g).await.unwrap().unwrap().member_id, "b");
    let Event::LeaderLost(lost) = stream.next().await.unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(lost.reason, LeadershipEnd::Resigned);
    // Restarted, the stopped coordinator stands again (its callback is still registered).
    a.start_with(Heartbeat::Manual).await.unwrap();
    assert!(b.stand_down_group_leader(&g).await.unwrap());
    assert_eq!(b.get_leader(&g).await.unwrap().unwrap().member_id, "a");
}

/// R8: a join that fails changes nothing (tooz's Redis driver overwrote capabilities).
pub async fn failed_join_changes_nothing(h: &Harness) {
    let a = h.started("m").await;
    let twin = h.started("m").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.join_group_with(&g, "weight=2").await.unwrap();
    let head = a.head_revision();
    assert!(twin.join_group_with(&g, "evil=1").await.is_err());
    assert_eq!(
        a.get_member_capabilities(&g, "m").await.unwrap(),
        "weight=2".into()
    );
    // Whatever the failed join committed, `a` has seen once its `run_watchers` returns.
    a.run_watchers().await.unwrap();
    assert_eq!(a.head_revision(), head);
}

/// R9: candidates and leaders are not members; nothing but groups is listed as a group.
pub async fn only_groups_and_members_are_listed(h: &Harness) {
    let a = h.started("a").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    a.watch_elected_as_leader(&g, |_| {}).unwrap();
    assert!(a.get_members(&g).await.unwrap().is_empty());
    assert_eq!(
        a.get_groups()
            .await
            .unwrap()
            .iter()
            .filter(|id| id.as_str().contains(g.as_str()))
            .count(),
        1
    );
    a.delete_group(&g)
        .await
        .expect("a leader alone does not make a group non-empty");
}

/// R10.
pub async fn invalid_ids_are_rejected_with_clear_errors(h: &Harness) {
    let c = h.started("m").await;
    for bad in ["", "tab\there", &"x".repeat(256)] {
        let err = c.create_group(bad).await.unwrap_err();
        assert!(
            matches!(
                err,
                E::InvalidId {
                    kind: roster::IdKind::Group,
                    ..
                }
            ),
            "{bad:?}: {err}"
        );
        assert!(matches!(c.join_group(bad).await, Err(E::InvalidId { .. })));
        assert!(matches!(c.get_members(bad).await, Err(E::InvalidId { .. })));
    }
    let err = roster::get_coordinator(h.url(), "line\nbreak").unwrap_err();
    assert!(err.to_string().contains("control character"), "{err}");
    let g = new_group();
    c.create_group(&g).await.unwrap();
    assert!(matches!(
        c.get_member_capabilities(&g, "").await,
        Err(E::InvalidId {
            kind: roster::IdKind::Member,
            ..
        })
    ));
}

/// R10: capabilities have a size limit (64 KiB by default, `max_capabilities` in the URL).
pub async fn oversized_capabilities_are_rejected(h: &Harness) {
    let c = h.started("m").await;
    let g = new_group();
    c.create_group(&g).await.unwrap();
    let big = vec![7u8; 64 * 1024 + 1];
    assert_eq!(
        c.join_group_with(&g, big.clone()).await,
        Err(E::CapabilitiesTooLarge {
            size: 65_537,
            limit: 65_536
        })
    );
    c.join_group_with(&g, vec![7u8; 64 * 1024]).await.unwrap();
    assert!(matches!(
        c.update_capabilities(&g, big).await,
        Err(E::CapabilitiesTooLarge { .. })
    ));
}

/// R11: when the process stalls past the timeout, the heartbeat task's failure is visible.
pub async fn heartbeat_failures_are_visible_to_the_caller(h: &Harness) {
    let h = h.with_timeout(4);
    let c = h.coordinator("m");
    c.start().await.unwrap();
    let g = new_group();
    c.create_group(&g).await.unwrap();
    c.join_group(&g).await.unwrap();
    h.wait_until(1, || async {
        (c.heartbeat_status().beats > 0).then_some(())
    })
    .await;
    // The process stalls past the timeout while the backend's clock runs on.
    h.stall(10).await;
    let status = h
        .wait_until(5, || async {
            let s = c.heartbeat_status();
            s.last_error.is_some().then_some(s)
        })
        .await;
    assert!(
        matches!(status.last_error, Some(E::SessionExpired { .. })),
        "{status:?}"
    );
    assert!(c.get_members(&g).await.unwrap().is_empty());
}

// ----- event stream -----

/// R4, issue point 7: the history as an async stream from a revision, then live.
pub async fn subscribe_yields_every_change_in_order_and_waits_for_more(h: &Harness) {
    let a = h.started("a").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    let mut stream = a.subscribe(Some(a.head_revision())).unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap().kind(),
        EventKind::GroupCreated
    );
    let waiting = tokio::spawn(async move { stream.next().await.unwrap().unwrap() });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "nothing new yet");
    a.join_group(&g).await.unwrap();
    assert_eq!(waiting.await.unwrap().kind(), EventKind::MemberJoined);
}

/// Issue point 7: asking for history that is gone says so, then continues from the oldest.
pub async fn subscribe_from_a_dropped_revision_says_history_lost(h: &Harness) {
    let h = h.with_options("history=3");
    let a = h.started("a").await;
    let first = a.head_revision() + 1;
    for _ in 0..5 {
        a.create_group(&new_group()).await.unwrap();
    }
    let mut stream = a.subscribe(Some(first)).unwrap();
    assert_eq!(
        stream.next().await.unwrap(),
        Err(E::HistoryLost {
            requested: first,
            oldest: first + 2
        })
    );
    assert_eq!(stream.next().await.unwrap().unwrap().revision(), first + 2);
}

/// `for_member` (how the daemon gives each network session its own coordinator) makes a
/// coordinator of the same store, on a driver's store too: its own member, session and
/// timeout, sharing everything else.
pub async fn a_coordinator_for_another_member_shares_the_store_with_a_session_of_its_own(
    h: &Harness,
) {
    let a = h.started("a").await;
    let timeout = a.membership_timeout() * 2;
    let b = a.for_member(MemberId::new("b").unwrap(), timeout);
    assert_eq!(
        (
            b.member_id().as_str(),
            b.membership_timeout(),
            b.is_started()
        ),
        ("b", timeout, false)
    );
    assert_eq!(b.is_embedded(), a.is_embedded());
    b.start_with(Heartbeat::Manual).await.unwrap();
    let g = new_group();
    a.create_group(&g).await.unwrap();
    b.join_group(&g).await.unwrap();
    a.join_group(&g).await.unwrap();
    assert_eq!(sorted(a.get_members(&g).await.unwrap()), ["a", "b"]);
    b.stop().await.unwrap();
    assert_eq!(sorted(a.get_members(&g).await.unwrap()), ["a"]);
    assert!(a.is_started());
}

/// Issue point 4: coordinators that name the same store share it, `zake://` included.
pub async fn coordinators_naming_the_same_store_see_each_other(h: &Harness) {
    let a = h.started("a").await;
    let b = h.with_timeout(9).started("b").await;
    let g = new_group();
    a.create_group(&g).await.unwrap();
    b.join_group(&g).await.unwrap();
    assert_eq!(sorted(a.get_members(&g).await.unwrap()), ["b"]);
    let elsewhere = Harness::memory("").started("c").await;
    assert!(matches!(
        elsewhere.get_members(&g).await,
        Err(E::GroupNotCreated(_))
    ));
}
