//! Daemons on a shared store, and clients that ride out the loss of one: `roster serve`
//! processes on one real Redis or etcd, coordinators on `roster://` lists naming them all,
//! daemons killed with SIGKILL, stopped with SIGTERM and restarted. A `memory://` daemon
//! restarted is a new store, in which clients establish their members again.
//!
//! Time passes for real here (sessions must outlive their TTL through the loss of a daemon),
//! so TTLs are short; waits are bounded polls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;

use crate::common::{Daemon, uuid_like};
use roster::{
    Capabilities, CoordinationError, Coordinator, Event, Heartbeat, LeaveReason, MemberId,
    get_coordinator,
};
use roster_tests::{Harness, ServerHarness, new_group, wait_until};

const PATIENCE: Duration = Duration::from_secs(20);
/// The clients' session TTL, in seconds.
const TTL: u64 = 3;

/// A store outside the daemons' processes, kept for the test: a Redis or an etcd namespace
/// of its own.
struct Store {
    harness: Harness,
}

impl Store {
    fn redis() -> Self {
        Self {
            harness: Harness::redis(1.0),
        }
    }

    fn etcd() -> Self {
        Self {
            harness: Harness::etcd(1.0),
        }
    }

    fn url(&self) -> &str {
        self.harness.url()
    }

    /// `n` daemons serving this store.
    fn daemons(&self, n: usize) -> Vec<Daemon> {
        (0..n)
            .map(|_| Daemon::start(&["--backend", self.url()]))
            .collect()
    }
}

/// `roster://` naming every daemon, starting with `first`.
fn list_url(daemons: &[Daemon], first: usize) -> String {
    let addresses: Vec<&str> = (0..daemons.len())
        .map(|i| daemons[(first + i) % daemons.len()].addr.as_str())
        .collect();
    format!("roster://{}?timeout={TTL}", addresses.join(","))
}

/// Every change `reader` sees from revision 1 on, gathered as they come.
fn follow(reader: &Coordinator) -> Arc<Mutex<Vec<Result<Event, CoordinationError>>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let mut stream = reader.subscribe(Some(1)).unwrap();
    tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            sink.lock().unwrap().push(item);
        }
    });
    seen
}

/// The events gathered, each checked to be the next revision (no gap, no duplicate, no
/// `HistoryLost`).
fn contiguous(seen: &Mutex<Vec<Result<Event, CoordinationError>>>) -> Vec<Event> {
    let seen = seen.lock().unwrap();
    let events: Vec<Event> = seen
        .iter()
        .map(|item| item.clone().expect("the reader's stream broke"))
        .collect();
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.revision(), i as u64 + 1, "{events:#?}");
    }
    events
}

/// Every change up to the store's head as `probe` reports it, once `seen` has them all,
/// checked to be contiguous.
async fn everything(
    seen: &Mutex<Vec<Result<Event, CoordinationError>>>,
    probe: &roster::client::Client,
) -> Vec<Event> {
    let head = probe.status().await.unwrap().revision;
    wait_until(PATIENCE, || async {
        (seen.lock().unwrap().len() as u64 >= head).then_some(())
    })
    .await;
    contiguous(seen)
}

fn left_events(events: &[Event]) -> Vec<(String, LeaveReason)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::MemberLeft(left) => Some((left.member_id.to_string(), left.reason)),
            _ => None,
        })
        .collect()
}

/// Members as any daemon of the store lists them alike (the time to expiry moves on).
fn listed(members: Vec<roster::api::Member>) -> Vec<(MemberId, Capabilities, u64)> {
    members
        .into_iter()
        .map(|m| (m.member_id, m.capabilities, m.joined_at_ms))
        .collect()
}

async fn kill(mut daemon: Daemon) -> String {
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    daemon.addr.clone()
}

/// Thirty coordinators on three daemons of one store, ten starting with each; the daemon
/// ten of them use is killed. They go on through the others with the same sessions: no
/// live member leaves, the reader's revisions stay contiguous, their calls keep working,
/// and the killed daemon restarted serves the same state.
async fn clients_ride_out_a_daemon_killed_with_sigkill(store: Store) {
    let mut daemons = store.daemons(3);
    let g = new_group();
    let reader = get_coordinator(&list_url(&daemons, 0), "reader").unwrap();
    reader.start().await.unwrap();
    reader.create_group(&g).await.unwrap();
    let seen = follow(&reader);

    let mut clients = Vec::new();
    for i in 0..30 {
        let c = get_coordinator(&list_url(&daemons, i % 3), &format!("c{i:02}")).unwrap();
        c.start().await.unwrap();
        c.join_group_with(&g, format!("before-{i}")).await.unwrap();
        clients.push(c);
    }
    // The first client leads; the second stands behind it.
    for c in &clients[..2] {
        c.watch_elected_as_leader(&g, |_| {}).unwrap();
        c.run_watchers().await.unwrap();
    }
    let leader = reader.get_leader(&g).await.unwrap().unwrap();
    assert_eq!(leader.member_id, "c00");

    let killed = kill(daemons.remove(0)).await;
    // Every client makes a call through the daemons left, in order with its own calls.
    for (i, c) in clients.iter().enumerate() {
        c.update_capabilities(&g, format!("after-{i}"))
            .await
            .unwrap();
    }
    // Longer than two TTLs later, every member is there: heartbeats went on.
    tokio::time::sleep(Duration::from_secs(2 * TTL + 1)).await;
    let probe = &daemons[0].client;
    let members = probe.members(&g).await.unwrap();
    let names: Vec<String> = members.iter().map(|m| m.member_id.to_string()).collect();
    let expected: Vec<String> = (0..30).map(|i| format!("c{i:02}")).collect();
    assert_eq!(names, expected);
    for (i, member) in members.iter().enumerate() {
        assert_eq!(member.capabilities, format!("after-{i}").into());
    }
    let still = reader.get_leader(&g).await.unwrap().unwrap();
    assert_eq!(
        (still.member_id, still.term),
        (leader.member_id, leader.term)
    );

    // The killed daemon restarted serves the same store and state.
    let restarted = Daemon::serve(&killed, store.url());
    let status = restarted.client.status().await.unwrap();
    assert_eq!(status.store_id, probe.status().await.unwrap().store_id);
    assert_eq!(
        listed(restarted.client.members(&g).await.unwrap()),
        listed(members)
    );

    // The members leave for good, and the reader saw everything, once and in order.
    for c in &clients {
        c.stop().await.unwrap();
    }
    let events = everything(&seen, probe).await;
    let left = left_events(&events);
    assert_eq!(left.len(), 30, "{left:?}");
    assert!(
        left.iter().all(|(_, reason)| *reason == LeaveReason::Left),
        "{left:?}"
    );
    assert!(probe.members(&g).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_clients_ride_out_a_daemon_killed_with_sigkill() {
    clients_ride_out_a_daemon_killed_with_sigkill(Store::redis()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_clients_ride_out_a_daemon_killed_with_sigkill() {
    clients_ride_out_a_daemon_killed_with_sigkill(Store::etcd()).await;
}

/// A session opened through one daemon is used through another, started later: both serve
/// the store's sessions, members, revisions and events, its whole history included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemons_on_one_store_serve_the_same_sessions_members_and_revisions() {
    let store = Store::redis();
    let first = Daemon::start(&["--backend", store.url()]);
    let a = &first.client;
    let (g, other) = (new_group(), new_group());
    let session = a.open_session("w1", None).await.unwrap();
    a.create_group(&other).await.unwrap();
    // A daemon started later serves the history from before it too.
    let second = Daemon::start(&["--backend", store.url()]);
    let b = &second.client;
    let joined = b
        .join(&session.session_id, &g, "cap".into(), true)
        .await
        .unwrap();
    let through_a = listed(a.members(&g).await.unwrap());
    assert_eq!(through_a, listed(b.members(&g).await.unwrap()));
    assert_eq!(through_a[0].0, "w1");
    b.heartbeat(&session.session_id).await.unwrap();
    let (sa, sb) = (a.status().await.unwrap(), b.status().await.unwrap());
    assert_eq!(sa.store_id, sb.store_id);
    // The same revisions through either daemon.
    let through_a = a
        .changes(0, Some(&sa.store_id), 100, PATIENCE)
        .await
        .unwrap();
    let through_b = b
        .changes(0, Some(&sb.store_id), 100, PATIENCE)
        .await
        .unwrap();
    assert_eq!(through_a.events.first().unwrap().revision(), 1);
    assert_eq!(through_a.events.last().unwrap().revision(), joined);
    assert_eq!(through_a.events, through_b.events);
    // Closed through the first daemon, the session is gone for both.
    a.close_session(&session.session_id).await.unwrap();
    assert!(b.members(&g).await.unwrap().is_empty());
}

/// One store-backed daemon killed and restarted on its address: the member's session goes
/// on through it, with nothing lost and no left event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_backed_daemon_restarted_loses_nothing() {
    let store = Store::redis();
    let daemon = Daemon::start(&["--backend", store.url()]);
    let url = format!("roster://{}?timeout=5", daemon.addr);
    let c = get_coordinator(&url, "steady").unwrap();
    c.start().await.unwrap();
    let g = new_group();
    c.join_group_create_with(&g, "cap").await.unwrap();
    let before = daemon.client.member(&g, "steady").await.unwrap();
    let seen = follow(&c);

    let addr = kill(daemon).await;
    let daemon = Daemon::serve(&addr, store.url());
    // Past the TTL, the member is still the same one.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = daemon.client.member(&g, "steady").await.unwrap();
    assert_eq!(after.joined_at_ms, before.joined_at_ms);
    c.leave_group(&g).await.unwrap();
    assert_eq!(
        left_events(&everything(&seen, &daemon.client).await),
        [("steady".to_owned(), LeaveReason::Left)]
    );
}

/// A `memory://` daemon restarted is a new store: the client's watchers are told the history
/// is gone, once, and the client establishes its member, capabilities and candidacy there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_daemon_restarted_gets_its_clients_members_again() {
    let daemon = Daemon::memory("");
    let url = format!("roster://{}?timeout=5", daemon.addr);
    let c = get_coordinator(&url, "steady").unwrap();
    c.start().await.unwrap();
    let (g, ballot) = (new_group(), new_group());
    c.join_group_create_with(&g, "cap").await.unwrap();
    c.create_group(&ballot).await.unwrap();
    c.watch_elected_as_leader(&ballot, |_| {}).unwrap();
    c.watch_join_group(&g, |_| {}).unwrap();
    c.run_watchers().await.unwrap();
    let old_store = daemon.client.status().await.unwrap().store_id;

    let addr = daemon.addr.clone();
    drop(daemon);
    let daemon = Daemon::serve(&addr, &format!("memory://{}", uuid_like()));
    let client = &daemon.client;
    assert_ne!(client.status().await.unwrap().store_id, old_store);
    wait_until(PATIENCE, || async {
        let leader = client.leader(&ballot).await.ok()??;
        (leader.member_id == "steady").then_some(())
    })
    .await;
    let member = client.member(&g, "steady").await.unwrap();
    assert_eq!(member.capabilities, "cap".into());
    assert!(matches!(
        c.run_watchers().await,
        Err(CoordinationError::HistoryLost { .. })
    ));
    c.run_watchers().await.unwrap();
}

/// SIGTERM on one of two daemons on a store hands its clients over: their sessions stay in
/// the store, and they go on through the other daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_a_store_backed_daemon_hands_its_sessions_over() {
    let store = Store::redis();
    let mut daemons = store.daemons(2);
    let c = get_coordinator(&list_url(&daemons, 0), "steady").unwrap();
    c.start_with(Heartbeat::Background).await.unwrap();
    let g = new_group();
    c.join_group_create_with(&g, "cap").await.unwrap();
    let seen = follow(&c);

    let mut first = daemons.remove(0);
    first.signal("TERM");
    assert!(first.child.wait().unwrap().success());
    let other = &daemons[0].client;
    tokio::time::sleep(Duration::from_secs(2 * TTL + 1)).await;
    assert_eq!(other.members(&g).await.unwrap()[0].member_id, "steady");
    c.leave_group(&g).await.unwrap();
    assert_eq!(
        left_events(&everything(&seen, other).await),
        [("steady".to_owned(), LeaveReason::Left)]
    );
}

/// A session id names its member and TTL, so a daemon that never saw it can go on with it;
/// anything else is `session-not-found`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_id_that_names_no_session_is_not_found() {
    let store = Store::redis();
    let daemon = &store.daemons(1)[0];
    for id in ["nonsense", "5000.2.w1", "5000.9.w1.k"] {
        match daemon.client.heartbeat(id).await {
            Err(roster::client::ClientError::Refused { code, .. }) => {
                assert_eq!(code, "session-not-found", "{id}");
            }
            other => panic!("{id}: {other:?}"),
        }
    }
}

/// A daemon that hangs (SIGSTOP) counts as gone once a call has waited a third of the TTL:
/// the session goes on through the other daemon, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_daemon_is_left_for_the_next_within_the_ttl() {
    let store = Store::redis();
    let daemons = store.daemons(2);
    let c = get_coordinator(&list_url(&daemons, 0), "steady").unwrap();
    c.start().await.unwrap();
    let g = new_group();
    c.join_group_create_with(&g, "before").await.unwrap();
    let seen = follow(&c);

    daemons[0].signal("STOP");
    c.update_capabilities(&g, "after").await.unwrap();
    tokio::time::sleep(Duration::from_secs(2 * TTL + 1)).await;
    let other = &daemons[1].client;
    let member = other.member(&g, "steady").await.unwrap();
    assert_eq!(member.capabilities, "after".into());
    daemons[0].signal("CONT");
    c.leave_group(&g).await.unwrap();
    assert_eq!(
        left_events(&everything(&seen, other).await),
        [("steady".to_owned(), LeaveReason::Left)]
    );
}

/// `roster watch` given several daemons goes on through the next when its daemon is
/// killed: every revision once, in order, with no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_watch_goes_on_through_the_next_daemon() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let store = Store::redis();
    let mut daemons = store.daemons(2);
    let addresses = format!("{},{}", daemons[0].addr, daemons[1].addr);
    let mut watch = Command::new(crate::common::ROSTER)
        .args(["--addr", &addresses, "watch", "--from", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            if lines.send(event["revision"].as_u64().unwrap()).is_err() {
                return;
            }
        }
    });
    let next = || {
        received
            .recv_timeout(PATIENCE)
            .expect("a line from roster watch")
    };

    let other = daemons[1].client.clone();
    for _ in 0..3 {
        other.create_group(&new_group()).await.unwrap();
    }
    let mut seen: Vec<u64> = (0..3).map(|_| next()).collect();
    kill(daemons.remove(0)).await;
    for _ in 0..3 {
        other.create_group(&new_group()).await.unwrap();
    }
    seen.extend((0..3).map(|_| next()));
    assert_eq!(seen, (1..=6).collect::<Vec<_>>());
    let _ = watch.kill();
    let _ = watch.wait();
}

/// `roster join` on a `memory://` daemon that restarts joins again in the new store: the
/// daemon reopened its session there, empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_join_joins_again_when_a_memory_daemon_comes_back_as_a_new_store() {
    use std::process::{Command, Stdio};

    let daemon = Daemon::memory("");
    let g = new_group();
    // `join` gives up once the daemon has been away for a whole TTL; the restart below
    // must fit in it on a loaded machine, and the rejoin comes at the next heartbeat (a
    // third of the TTL) after it.
    let mut join = Command::new(crate::common::ROSTER)
        .args(["--addr", &daemon.addr, "join", &g, "--member", "m1"])
        .args(["--create", "--capabilities", "cap", "--ttl", "12"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = daemon.client.clone();
    wait_until(PATIENCE, || async { client.member(&g, "m1").await.ok() }).await;

    let addr = daemon.addr.clone();
    drop(daemon);
    let daemon = Daemon::serve(&addr, &format!("memory://{}", uuid_like()));
    let client = &daemon.client;
    let member = wait_until(PATIENCE, || async { client.member(&g, "m1").await.ok() }).await;
    assert_eq!(member.capabilities, "cap".into());
    assert!(join.try_wait().unwrap().is_none(), "roster join exited");
    let _ = join.kill();
    let _ = join.wait();
}
