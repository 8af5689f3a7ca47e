//! `roster://HOST:PORT`: coordinators in this process whose store is a `roster serve` daemon
//! running as a separate process. The whole conformance suite (and the lock suite) runs against it, in real time
//! (scaled), one daemon per test; then what only a store in another process has: sharing it
//! with other clients, handlers fed by its changes, and a daemon that goes away.

use std::time::Duration;

use crate::common::Daemon;
use roster::plugin::{HandlerSpec, PluginHost, PluginHostOptions};
use roster::{Capabilities, CoordinationError, Heartbeat, get_coordinator};
use roster_tests::{Harness, conformance_suite, new_group, plugin, wait_until};

/// A fresh daemon (its own store) and a harness whose coordinators use it; the daemon stops
/// when the harness is dropped at the end of the test.
fn daemon_harness() -> Harness {
    let daemon = Daemon::memory("");
    Harness::new(format!("roster://{}", daemon.addr))
        .real_time(0.1)
        .holding(daemon)
}

conformance_suite!(real_time: daemon_harness());

/// The lock suite on `roster://`: locks kept by the daemon's store, reached over its API.
mod locks {
    use roster_tests::conformance_suite;

    conformance_suite!(locks real_time: super::daemon_harness());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_joined_through_roster_urls_are_the_daemons_members() {
    let daemon = Daemon::memory("");
    let url = format!("roster://{}", daemon.addr);
    let a = get_coordinator(&url, "a").unwrap();
    a.start_with(Heartbeat::Manual).await.unwrap();
    let g = new_group();
    a.join_group_create_with(&g, "cap-a").await.unwrap();

    // The daemon's own API, and so every other client of it, sees the member.
    let members = daemon.client.members(&g).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].member_id, "a");
    assert_eq!(members[0].capabilities, "cap-a".into());
    let status = daemon.client.status().await.unwrap();
    assert_eq!(a.store_id(), status.store_id);
    assert_eq!(a.store_name(), url);

    // A change another client makes reaches this coordinator's watchers.
    let joined = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&joined);
    a.watch_join_group(&g, move |e| {
        sink.lock().unwrap().push(e.member_id.to_string());
    })
    .unwrap();
    let session = daemon.client.open_session("b", None).await.unwrap();
    daemon
        .client
        .join(&session.session_id, &g, Capabilities::none(), false)
        .await
        .unwrap();
    a.run_watchers().await.unwrap();
    assert_eq!(*joined.lock().unwrap(), ["b"]);

    // Stopping the coordinator closes its session: its membership goes.
    a.stop().await.unwrap();
    let left: Vec<_> = daemon.client.members(&g).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].member_id, "b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_dropped_without_stopping_leaves_after_its_timeout() {
    let daemon = Daemon::memory("");
    let url = format!("roster://{}?timeout=0.5", daemon.addr);
    let g = new_group();
    {
        let a = get_coordinator(&url, "a").unwrap();
        a.start().await.unwrap();
        a.join_group_create(&g).await.unwrap();
        assert_eq!(daemon.client.members(&g).await.unwrap().len(), 1);
    }
    // Dropped: no more heartbeats, no leave. The daemon expires the member on its own.
    wait_until(Duration::from_secs(10), || async {
        daemon
            .client
            .members(&g)
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_a_daemon_that_is_gone_fail_promptly_naming_it() {
    let daemon = Daemon::memory("");
    let url = format!("roster://{}", daemon.addr);
    let a = get_coordinator(&url, "a").unwrap();
    a.start_with(Heartbeat::Manual).await.unwrap();
    a.create_group(&new_group()).await.unwrap();
    let addr = daemon.addr.clone();
    drop(daemon);

    let started = std::time::Instant::now();
    let error = a.get_groups().await.unwrap_err();
    assert!(
        matches!(&error, CoordinationError::Connection(message) if message.contains(&addr)),
        "{error:?}"
    );
    assert!(matches!(
        a.heartbeat().await,
        Err(CoordinationError::Connection(_))
    ));
    // Refused connections are reported at once, not after a client-side timeout.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Nothing listens at the address at all: `start` says so.
    let b = get_coordinator(&url, "b").unwrap();
    assert!(matches!(
        b.start_with(Heartbeat::Manual).await,
        Err(CoordinationError::Connection(_))
    ));
    assert!(!b.is_started());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_on_a_roster_coordinator_gets_the_daemons_changes_after_a_snapshot() {
    let daemon = Daemon::memory("");
    let g = new_group();
    // Already there before the handler: it must be in the handler's first snapshot.
    let early = daemon.client.open_session("early", None).await.unwrap();
    daemon.client.create_group(&g).await.unwrap();
    daemon
        .client
        .join(&early.session_id, &g, "e".into(), false)
        .await
        .unwrap();

    let a = get_coordinator(&format!("roster://{}", daemon.addr), "a").unwrap();
    a.start_with(Heartbeat::Manual).await.unwrap();
    let host = PluginHost::new(PluginHostOptions { cache_dir: None }).unwrap();
    let trail = tempfile::tempdir().unwrap();
    let mut spec = HandlerSpec::new("audit", plugin("rust-audit-trail.wasm"));
    spec.grants.directory = Some(trail.path().to_owned());
    let handle = host.attach_handler(&a, spec).await.unwrap();
    let later = daemon.client.open_session("later", None).await.unwrap();
    daemon
        .client
        .join(&later.session_id, &g, Capabilities::none(), false)
        .await
        .unwrap();
    daemon
        .client
        .close_session(&later.session_id)
        .await
        .unwrap();

    let file = trail.path().join("audit.jsonl");
    let lines = wait_until(Duration::from_secs(20), || async {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (lines.iter().filter(|l| l["kind"] != "resync").count() >= 2).then_some(lines)
    })
    .await;
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["resync", "member-joined", "member-left"]);
    assert!(lines[0]["groups"].as_u64().unwrap() >= 1, "{lines:?}");
    assert_eq!(lines[1]["member"], "later");
    // The trail line is written inside the call; the count moves when the call returns.
    let last = lines.last().unwrap()["revision"].as_u64().unwrap();
    tokio::time::timeout(Duration::from_secs(20), handle.wait_handled(last))
        .await
        .expect("the handler returns from its last call");
    assert_eq!(handle.stats().events_delivered, 2);
}

#[test]
fn roster_urls_name_an_address() {
    for (url, problem) in [
        ("roster://localhost", "roster://HOST:PORT"),
        ("roster://h:1/path", "path"),
        ("roster://h:1?max_capabilities=9", "timeout, history"),
    ] {
        let error = get_coordinator(url, "m").unwrap_err();
        assert!(error.to_string().contains(problem), "{url}: {error}");
    }
}
