//! The conformance suite on `file://`: the built-in file driver on a temporary directory of
//! its own per test, in real time (scaled). Then several host processes on one directory:
//! they see the same events in the same order while all of them write to it, and a host
//! killed with SIGKILL has its members expire on the others.
//!
//! The other hosts are `roster-probe` processes (`src/bin/roster-probe.rs`).

use std::time::{Duration, Instant};

use roster::{Event, EventKind, Heartbeat, LeaveReason, get_coordinator};
use roster_tests::probe::{Probe, joined, left};
use roster_tests::{Harness, conformance_suite, new_group, plugin};

conformance_suite!(real_time: Harness::file(0.1));

const PROBE: &str = env!("CARGO_BIN_EXE_roster-probe");

/// A directory of the test's own, and a URL on it.
fn file_store(timeout: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!(
        "file://{}?timeout={timeout}&driver={}",
        dir.path().display(),
        plugin("rust-file-driver.wasm").display()
    );
    (dir, url)
}

/// The membership timeout of the hosts: longer than a lock left by a killed host can hold
/// the others up (3 s), so no other host expires meanwhile whatever instant the kill hits.
const TIMEOUT: &str = "4";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_sharing_a_directory_see_the_same_events_in_order_while_all_write() {
    let (_dir, url) = file_store(TIMEOUT);
    let g = new_group();
    let mut one = Probe::start(PROBE, &url, "one", &g);
    let mut two = Probe::start(PROBE, &url, "two", &g);
    one.read_until(joined("two"));

    // A third host (this process) changes the group many times, while the other two
    // heartbeat (each beat is a write) and poll the change log.
    let three = get_coordinator(&url, "three").unwrap();
    three.start(Heartbeat::Background).await.unwrap();
    three.join_group(&g, "0").await.unwrap();
    for i in 1..=40 {
        three
            .update_capabilities(&g, i.to_string().into_bytes())
            .await
            .unwrap();
    }
    three.leave_group(&g).await.unwrap();

    let from = two.read_until(joined("two"))[0].revision();
    let seen_by_one: Vec<Event> = one
        .read_until(left("three"))
        .iter()
        .filter(|e| e.revision() >= from)
        .cloned()
        .collect();
    let seen_by_two = two.read_until(left("three")).to_vec();
    assert_eq!(
        seen_by_one, seen_by_two,
        "the same events in the same order"
    );
    let kinds: Vec<EventKind> = seen_by_two.iter().map(Event::kind).collect();
    let updates = kinds
        .iter()
        .filter(|k| **k == EventKind::CapabilitiesUpdated)
        .count();
    assert_eq!(updates, 40, "{kinds:?}");
    for pair in seen_by_two.windows(2) {
        assert_eq!(
            pair[1].revision(),
            pair[0].revision() + 1,
            "contiguous: {seen_by_two:?}"
        );
    }
    let mut members = three.get_members(&g).await.unwrap();
    members.sort();
    assert_eq!(members, ["one", "two"]);
    three.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_killed_with_sigkill_has_its_members_expire_on_the_others() {
    let (_dir, url) = file_store(TIMEOUT);
    let g = new_group();
    let mut victim = Probe::start(PROBE, &url, "victim", &g);
    let mut witness = Probe::start(PROBE, &url, "witness", &g);
    victim.read_until(joined("witness"));
    let killed = Instant::now();
    victim.kill();

    let events = witness.read_until(left("victim"));
    let Some(Event::MemberLeft(gone)) = events
        .iter()
        .find(|e| matches!(e, Event::MemberLeft(l) if l.member_id == "victim"))
    else {
        unreachable!()
    };
    assert_eq!(gone.reason, LeaveReason::Expired);
    // Its last heartbeat (one every half timeout, 2 s) was at most 2 s before the kill,
    // give or take a beat delayed by a busy machine.
    let after = killed.elapsed();
    assert!(
        after >= Duration::from_secs(1),
        "not before its timeout: {after:?}"
    );
    let observer = get_coordinator(&url, "observer").unwrap();
    observer.start(Heartbeat::Manual).await.unwrap();
    assert_eq!(observer.get_members(&g).await.unwrap(), ["witness"]);
}
