//! The checker on small hand-made histories: a clean one passes, and each rule catches the
//! history that breaks it.

use roster::{
    GroupCreated, GroupId, LeaderElected, LockAcquired, LockName, MemberId, MemberJoined,
    MemberLeft,
};

use super::*;
use crate::soak::record::GroupView;

const SECOND: u64 = 1_000_000_000;

fn params() -> Params {
    Params {
        timeout: Duration::from_secs(2),
        tolerance: Duration::from_millis(50),
        expiry_bound: Duration::from_secs(2),
    }
}

fn at(at: u64, entry: Entry) -> Line {
    Line { at, entry }
}

fn group(id: &str) -> GroupId {
    GroupId::new(id).unwrap()
}

fn member(id: &str) -> MemberId {
    MemberId::new(id).unwrap()
}

fn created(revision: u64, g: &str) -> Event {
    Event::GroupCreated(GroupCreated {
        revision,
        group_id: group(g),
    })
}

fn joined(revision: u64, g: &str, m: &str) -> Event {
    Event::MemberJoined(MemberJoined {
        revision,
        group_id: group(g),
        member_id: member(m),
        capabilities: "c".into(),
    })
}

fn left(revision: u64, g: &str, m: &str, reason: LeaveReason) -> Event {
    Event::MemberLeft(MemberLeft {
        revision,
        group_id: group(g),
        member_id: member(m),
        reason,
    })
}

fn elected(revision: u64, g: &str, m: &str, term: u64) -> Event {
    Event::LeaderElected(LeaderElected {
        revision,
        group_id: group(g),
        member_id: member(m),
        term,
    })
}

fn locked(revision: u64, lock: &str, m: &str, mode: LockMode) -> Event {
    Event::LockAcquired(LockAcquired {
        revision,
        lock: LockName::new(lock).unwrap(),
        member_id: member(m),
        mode,
        token: revision,
    })
}

fn segment(revision: u64) -> Entry {
    Entry::Segment {
        store: "s1".into(),
        state: State {
            revision,
            groups: BTreeMap::new(),
        },
    }
}

fn event(event: Event) -> Entry {
    Entry::Event { event }
}

fn call(id: u64, op: Op, target: &str) -> Entry {
    Entry::Call {
        id,
        op,
        target: target.into(),
    }
}

fn beat(sent: u64) -> Entry {
    Entry::Beat {
        sent,
        error: None,
        renewed: true,
    }
}

/// A host `name` that started as member `m` at 0 and read `events`, one per second from 1 s.
fn reader(name: &str, m: &str, events: &[Event]) -> HostRecord {
    let mut lines = vec![
        at(
            0,
            Entry::Started {
                member: m.to_owned(),
            },
        ),
        at(0, segment(0)),
    ];
    for (i, e) in events.iter().enumerate() {
        lines.push(at((i as u64 + 1) * SECOND, event(e.clone())));
    }
    HostRecord {
        host: name.to_owned(),
        via_daemon: false,
        lines,
    }
}

fn rules(report: &Report) -> Vec<&'static str> {
    report.violations.iter().map(|v| v.rule).collect()
}

fn final_state(revision: u64, groups: &[(&str, &[&str])]) -> Entry {
    Entry::Final {
        store: "s1".into(),
        state: State {
            revision,
            groups: groups
                .iter()
                .map(|(g, members)| {
                    let view = GroupView {
                        members: members
                            .iter()
                            .map(|m| ((*m).to_owned(), "c".into()))
                            .collect(),
                        leader: None,
                    };
                    ((*g).to_owned(), view)
                })
                .collect(),
        },
    }
}

#[test]
fn a_history_every_host_agrees_on_passes_and_is_counted() {
    let history = [created(1, "g"), joined(2, "g", "a"), joined(3, "g", "b")];
    let mut a = reader("a", "a", &history);
    a.lines
        .push(at(4 * SECOND, final_state(3, &[("g", &["a", "b"])])));
    let b = reader("b", "b", &history[1..]);
    let report = check(&[a, b], &[], &params());
    assert_eq!(report.violations, Vec::new());
    assert_eq!(
        (report.events, report.observations, report.finals),
        (3, 5, 1)
    );
}

#[test]
fn two_hosts_reading_different_events_at_one_revision_is_two_histories() {
    let a = reader("a", "a", &[created(1, "g")]);
    let b = reader("b", "b", &[created(1, "h")]);
    assert_eq!(rules(&check(&[a, b], &[], &params())), vec!["one history"]);
}

#[test]
fn a_reader_skipping_a_revision_without_a_loss_is_a_gap() {
    let a = reader("a", "a", &[created(1, "g"), joined(3, "g", "a")]);
    assert!(rules(&check(&[a], &[], &params())).contains(&"no gap, no duplicate"));
}

#[test]
fn a_reader_skipping_revisions_after_reporting_a_loss_is_no_gap() {
    let mut a = reader("a", "a", &[created(1, "g")]);
    a.lines.push(at(
        2 * SECOND,
        Entry::Lost {
            error: "history from revision 2 is gone".into(),
        },
    ));
    a.lines.push(at(2 * SECOND, segment(2)));
    a.lines.push(at(3 * SECOND, event(joined(3, "g", "b"))));
    let report = check(&[a], &[], &params());
    assert!(
        !rules(&report).contains(&"no gap, no duplicate"),
        "{report:?}"
    );
}

#[test]
fn a_revision_read_twice_is_a_duplicate() {
    let a = reader("a", "a", &[created(1, "g"), created(1, "g")]);
    assert_eq!(
        rules(&check(&[a], &[], &params())),
        vec!["no gap, no duplicate"]
    );
}

#[test]
fn a_member_that_left_without_calling_leave_breaks_the_cause_rule() {
    let history = [
        created(1, "g"),
        joined(2, "g", "a"),
        left(3, "g", "a", LeaveReason::Left),
    ];
    let bare = reader("a", "a", &history);
    assert_eq!(
        rules(&check(&[bare], &[], &params())),
        vec!["departures have their cause"]
    );
    let mut called = reader("a", "a", &history);
    called.lines.push(at(2 * SECOND, call(1, Op::Leave, "g")));
    called.lines.sort_by_key(|l| l.at);
    assert_eq!(check(&[called], &[], &params()).violations, Vec::new());
}

#[test]
fn a_member_seen_expired_sooner_than_the_timeout_after_its_last_beat_was_live() {
    let history = [
        created(1, "g"),
        joined(2, "g", "a"),
        left(3, "g", "a", LeaveReason::Expired),
    ];
    // The expiry is read at 3 s; a beat sent at 1.5 s refreshed the session until 3.5 s.
    let started = at(0, Entry::Started { member: "a".into() });
    let mut a = HostRecord {
        host: "a".into(),
        via_daemon: false,
        lines: vec![started, at(SECOND * 3 / 2 + 1000, beat(SECOND * 3 / 2))],
    };
    let live = reader("obs", "obs", &history);
    assert_eq!(
        rules(&check(&[live, a.clone()], &[], &params())),
        vec!["departures have their cause"]
    );
    // With its last beat sent at 0.5 s, the session ran out at 2.5 s: seen at 3 s, 0.5 s late.
    a.lines[1] = at(SECOND / 2 + 1000, beat(SECOND / 2));
    let report = check(&[reader("obs", "obs", &history), a], &[], &params());
    assert_eq!(report.violations, Vec::new());
    assert_eq!(report.expiries, 1);
}

#[test]
fn a_killed_hosts_member_still_listed_after_the_bound_has_not_gone() {
    let history = [
        created(1, "g"),
        joined(2, "g", "a"),
        joined(3, "g", "b"),
        joined(4, "g", "c"),
        joined(5, "g", "d"),
        joined(6, "g", "e"),
        joined(7, "g", "f"),
    ];
    let kill = Fault {
        kind: FaultKind::Kill,
        target: Some("a".into()),
        start: 2 * SECOND + 1,
        end: 3 * SECOND,
    };
    let report = check(
        &[reader("obs", "obs", &history)],
        std::slice::from_ref(&kill),
        &params(),
    );
    assert_eq!(rules(&report), vec!["the dead go"]);
    // Gone by revision 6 (read at 6 s, 4 s after the kill: within timeout + bound).
    let mut history = history.to_vec();
    history[5] = left(6, "g", "a", LeaveReason::Expired);
    let a = HostRecord {
        host: "a".into(),
        via_daemon: false,
        lines: vec![at(0, Entry::Started { member: "a".into() })],
    };
    let report = check(&[reader("obs", "obs", &history), a], &[kill], &params());
    assert_eq!(report.violations, Vec::new());
    assert_eq!(
        report.worst_time_to_gone,
        Some(Duration::from_nanos(4 * SECOND - 1))
    );
}

#[test]
fn a_failover_is_timed_from_the_fault_to_the_next_leader_seen() {
    let history = [
        created(1, "g"),
        joined(2, "g", "a"),
        joined(3, "g", "b"),
        elected(4, "g", "a", 4),
        Event::LeaderLost(roster::LeaderLost {
            revision: 5,
            group_id: group("g"),
            member_id: member("a"),
            term: 4,
            reason: LeadershipEnd::Expired,
        }),
        elected(6, "g", "b", 6),
        left(7, "g", "a", LeaveReason::Expired),
    ];
    let a = HostRecord {
        host: "a".into(),
        via_daemon: false,
        lines: vec![at(0, Entry::Started { member: "a".into() })],
    };
    let kill = Fault {
        kind: FaultKind::Kill,
        target: Some("a".into()),
        start: 4 * SECOND + 500,
        end: 5 * SECOND,
    };
    let report = check(&[reader("obs", "obs", &history), a], &[kill], &params());
    assert_eq!(report.violations, Vec::new());
    assert_eq!(
        report.worst_failover,
        Some(Duration::from_nanos(2 * SECOND - 500))
    );
    assert_eq!(
        report.worst_time_to_gone,
        Some(Duration::from_nanos(3 * SECOND - 500))
    );
}

#[test]
fn a_second_leader_or_a_term_that_does_not_grow_breaks_one_leader_per_term() {
    let two = [
        created(1, "g"),
        elected(2, "g", "a", 1),
        elected(3, "g", "b", 2),
    ];
    assert_eq!(
        rules(&check(&[reader("obs", "obs", &two)], &[], &params())),
        vec!["one leader per term"]
    );
    let stale = [
        created(1, "g"),
        elected(2, "g", "a", 5),
        Event::LeaderLost(roster::LeaderLost {
            revision: 3,
            group_id: group("g"),
            member_id: member("a"),
            term: 5,
            reason: LeadershipEnd::Expired,
        }),
        elected(4, "g", "b", 5),
    ];
    assert_eq!(
        rules(&check(&[reader("obs", "obs", &stale)], &[], &params())),
        vec!["one leader per term"]
    );
}

#[test]
fn an_exclusive_hold_granted_beside_another_breaks_the_lock_rule() {
    let history = [
        locked(1, "l", "a", LockMode::Shared),
        locked(2, "l", "b", LockMode::Shared),
        locked(3, "l", "c", LockMode::Exclusive),
    ];
    assert_eq!(
        rules(&check(&[reader("obs", "obs", &history)], &[], &params())),
        vec!["one exclusive holder per token"]
    );
}

#[test]
fn a_final_state_the_history_does_not_give_is_reported_with_both() {
    let mut a = reader("a", "a", &[created(1, "g"), joined(2, "g", "a")]);
    a.lines.push(at(3 * SECOND, final_state(2, &[("g", &[])])));
    let report = check(&[a], &[], &params());
    assert_eq!(rules(&report), vec!["the history is the state"]);
    assert!(report.violations[0].detail.contains("replayed"));
}

#[test]
fn a_seed_that_already_holds_the_next_changes_converges_to_the_final_state() {
    // A reader's seed read at revision 2, member by member after it: it already lists `b`,
    // whose join is revision 3.
    let mut seed = final_state(2, &[("g", &["a", "b"])]);
    let Entry::Final { state, .. } = &mut seed else {
        unreachable!()
    };
    let state = state.clone();
    let lines = vec![
        at(0, Entry::Started { member: "a".into() }),
        at(
            0,
            Entry::Segment {
                store: "s1".into(),
                state,
            },
        ),
        at(SECOND, event(joined(3, "g", "b"))),
        at(2 * SECOND, event(joined(4, "g", "c"))),
        at(3 * SECOND, final_state(4, &[("g", &["a", "b", "c"])])),
    ];
    let host = HostRecord {
        host: "a".into(),
        via_daemon: false,
        lines,
    };
    let report = check(std::slice::from_ref(&host), &[], &params());
    assert_eq!(report.violations, Vec::new());
    assert_eq!(report.finals, 1);
    // Converging does not excuse a final state the history does not give.
    let mut wrong = host;
    wrong.lines[4] = at(3 * SECOND, final_state(4, &[("g", &["a", "c"])]));
    assert_eq!(
        rules(&check(&[wrong], &[], &params())),
        vec!["the history is the state"]
    );
}
