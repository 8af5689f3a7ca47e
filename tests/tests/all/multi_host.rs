//! Several host processes sharing one store through a driver, on Redis, on etcd and on a
//! directory: each sees the others' members and the same events in the same order while all
//! of them write; a host killed with SIGKILL has its members expire on the others. On the
//! servers also: a server restart is ridden out, a server that comes back without its data
//! gets the hosts' members back, and an unresponsive server is reported within the
//! membership timeout.
//!
//! The scenarios that need no control of the server are `roster_tests::multi_host`'s (shared
//! with `roster plugin conformance`), run here on each engine. The hosts are `roster-probe`
//! processes (`src/bin/roster-probe.rs`) and the test process itself. Each test runs a server (or has a directory) of its own, since it kills or
//! freezes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use roster::{CoordinationError, Event, Heartbeat, get_coordinator};
use roster_tests::multi_host::{self, Hosts, started};
use roster_tests::probe::{Probe, joined_times, left};
use roster_tests::servers::{EtcdServer, RedisServer, free_port};
use roster_tests::{new_group, plugin, signal, wait_until};

const PATIENCE: Duration = Duration::from_secs(20);
const PROBE: &str = env!("CARGO_BIN_EXE_roster-probe");

/// The engines the hosts share a store in.
#[derive(Clone, Copy, Debug)]
enum Engine {
    Redis,
    Etcd,
    /// A directory of this machine, through the file driver.
    Directory,
}

/// The URL of the store at `address` (a directory's path) on `engine`, through its driver
/// component.
fn url(engine: Engine, address: &str, timeout: &str) -> String {
    match engine {
        Engine::Directory => format!(
            "file://{address}?timeout={timeout}&driver={}",
            plugin("rust-file-driver.wasm").display()
        ),
        Engine::Redis => format!(
            "redis://{address}?timeout={timeout}&driver={}",
            plugin("rust-redis-driver.wasm").display()
        ),
        Engine::Etcd => format!(
            "etcd3+http://{address}?timeout={timeout}&driver={}",
            plugin("rust-etcd-driver.wasm").display()
        ),
    }
}

/// A store of the test's own: a server that keeps every change on disk before answering,
/// or a temporary directory.
enum Server {
    Redis(RedisServer),
    Etcd(EtcdServer),
    Directory(tempfile::TempDir),
}

impl Server {
    fn start(engine: Engine) -> Self {
        match engine {
            Engine::Redis => Self::Redis(RedisServer::start_durable()),
            Engine::Etcd => Self::Etcd(EtcdServer::start()),
            Engine::Directory => {
                Self::Directory(tempfile::tempdir().expect("a temporary directory"))
            }
        }
    }

    fn engine(&self) -> Engine {
        match self {
            Self::Redis(_) => Engine::Redis,
            Self::Etcd(_) => Engine::Etcd,
            Self::Directory(_) => Engine::Directory,
        }
    }

    fn address(&self) -> &str {
        match self {
            Self::Redis(server) => &server.address,
            Self::Etcd(server) => &server.address,
            Self::Directory(dir) => dir.path().to_str().expect("a UTF-8 temporary path"),
        }
    }

    /// The URL of its store, with membership timeout `timeout` (seconds).
    fn url(&self, timeout: &str) -> String {
        url(self.engine(), self.address(), timeout)
    }

    /// The server's process (the scenarios that freeze a server run on servers only).
    fn pid(&self) -> u32 {
        match self {
            Self::Redis(server) => server.pid(),
            Self::Etcd(server) => server.pid(),
            Self::Directory(_) => unreachable!("a directory has no server process"),
        }
    }

    /// Crash it and start it again at the same address, with its data or without (servers
    /// only).
    fn restart(&mut self, keep_data: bool) {
        match self {
            Self::Redis(server) => server.restart(keep_data),
            Self::Etcd(server) => server.restart(keep_data),
            Self::Directory(_) => unreachable!("a directory has no server to restart"),
        }
    }
}

/// The scenarios, each a test in module `$module` on `$engine`.
macro_rules! scenarios_on {
    ($module:ident, $engine:ident: $($scenario:ident),* $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Engine::$engine).await;
                }
            )*
        }
    };
}

scenarios_on!(redis, Redis:
    hosts_sharing_a_store_see_each_others_members_and_the_same_events_in_order,
    a_host_paused_while_the_server_lost_its_data_is_told_its_history_is_gone,
    a_host_killed_with_sigkill_has_its_members_expire_on_the_others,
    a_lock_held_by_a_host_killed_with_sigkill_goes_to_the_next_waiter,
    a_host_rides_out_a_server_restart_and_misses_no_change,
    hosts_join_again_when_the_server_comes_back_without_its_data,
    an_unresponsive_server_is_reported_within_the_membership_timeout,
);
scenarios_on!(etcd, Etcd:
    hosts_sharing_a_store_see_each_others_members_and_the_same_events_in_order,
    a_host_paused_while_the_server_lost_its_data_is_told_its_history_is_gone,
    a_host_killed_with_sigkill_has_its_members_expire_on_the_others,
    a_lock_held_by_a_host_killed_with_sigkill_goes_to_the_next_waiter,
    a_host_rides_out_a_server_restart_and_misses_no_change,
    hosts_join_again_when_the_server_comes_back_without_its_data,
    an_unresponsive_server_is_reported_within_the_membership_timeout,
);
scenarios_on!(directory, Directory:
    hosts_sharing_a_store_see_each_others_members_and_the_same_events_in_order,
    a_host_killed_with_sigkill_has_its_members_expire_on_the_others,
    a_lock_held_by_a_host_killed_with_sigkill_goes_to_the_next_waiter,
);

/// The scenarios shared with `roster plugin conformance` (`roster_tests::multi_host`), on a
/// store of their own on `engine`.
fn hosts(server: &Server) -> Hosts {
    let (engine, address) = (server.engine(), server.address().to_owned());
    let (kill_timeout, least_expiry_after_kill) =
        Hosts::timings(matches!(engine, Engine::Directory));
    Hosts {
        program: PROBE.into(),
        url: Arc::new(move |timeout| url(engine, &address, timeout)),
        kill_timeout,
        least_expiry_after_kill,
    }
}

async fn hosts_sharing_a_store_see_each_others_members_and_the_same_events_in_order(
    engine: Engine,
) {
    let server = Server::start(engine);
    multi_host::hosts_sharing_a_store_see_each_others_members_and_the_same_events_in_order(&hosts(
        &server,
    ))
    .await;
}

async fn a_host_killed_with_sigkill_has_its_members_expire_on_the_others(engine: Engine) {
    let server = Server::start(engine);
    multi_host::a_host_killed_with_sigkill_has_its_members_expire_on_the_others(&hosts(&server))
        .await;
}

async fn a_lock_held_by_a_host_killed_with_sigkill_goes_to_the_next_waiter(engine: Engine) {
    let server = Server::start(engine);
    multi_host::a_lock_held_by_a_host_killed_with_sigkill_goes_to_the_next_waiter(&hosts(&server))
        .await;
}

async fn a_host_rides_out_a_server_restart_and_misses_no_change(engine: Engine) {
    let mut server = Server::start(engine);
    let url = server.url("10");
    let g = new_group();
    let mut host = Probe::start(PROBE, &url, "steady", &g);

    // The server dies and comes back with its data while another host changes the group.
    server.restart(true);
    let other = started(&url, "other", Heartbeat::Manual).await;
    other.join_group_with(&g, "").await.unwrap();
    other.leave_group(&g).await.unwrap();

    // The host reconnected by itself, saw every change in order, and is still a member.
    let events = host.read_until(left("other")).to_vec();
    for pair in events.windows(2) {
        assert_eq!(pair[1].revision(), pair[0].revision() + 1, "{events:?}");
    }
    assert!(host.errors.is_empty(), "{:?}", host.errors);
    assert_eq!(other.get_members(&g).await.unwrap(), ["steady"]);
}

async fn hosts_join_again_when_the_server_comes_back_without_its_data(engine: Engine) {
    let mut server = Server::start(engine);
    let url = server.url("2");
    let g = new_group();
    let mut host = Probe::start(PROBE, &url, "steady", &g);
    // This process stands for election in a group of its own.
    let voter = started(&url, "voter", Heartbeat::Background).await;
    let ballot = new_group();
    voter.create_group(&ballot).await.unwrap();
    voter.watch_elected_as_leader(&ballot, |_| {}).unwrap();
    let joins = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&joins);
    voter
        .watch_join_group(&g, move |joined| {
            seen.lock().unwrap().push(joined.member_id.to_string());
        })
        .unwrap();
    voter.run_watchers().await.unwrap();

    server.restart(false);

    // The probe is told its history is gone, then sees itself join the new store.
    host.read_until(joined_times("steady", 2));
    assert!(
        host.errors.iter().any(|e| e.contains("is gone")),
        "{:?}",
        host.errors
    );
    // Another host finds both members back, with their capabilities and candidacy.
    let observer = started(&url, "observer", Heartbeat::Manual).await;
    wait_until(PATIENCE, || async {
        let leader = observer.get_leader(&ballot).await.ok()??;
        (leader.member_id == "voter").then_some(())
    })
    .await;
    assert_eq!(observer.get_members(&g).await.unwrap(), ["steady"]);
    assert_eq!(
        observer
            .get_member_capabilities(&g, "steady")
            .await
            .unwrap(),
        "steady".into()
    );
    // Watchers are told the history is gone, and get the new store's changes.
    assert!(matches!(
        voter.run_watchers().await,
        Err(CoordinationError::HistoryLost { .. })
    ));
    assert_eq!(*joins.lock().unwrap(), ["steady"]);
    // The membership goes on in the new store: longer than its timeout (2 s) later, the
    // probe is still there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(observer.get_members(&g).await.unwrap(), ["steady"]);
}

/// Found by the fault soak: a host that was not reading when the server came back empty, and
/// reads again once the new store has made more changes than it had read, must not take the
/// new store's changes for the next ones of the old: it is told its history is gone, and
/// joins again.
async fn a_host_paused_while_the_server_lost_its_data_is_told_its_history_is_gone(engine: Engine) {
    let mut server = Server::start(engine);
    let url = server.url("30");
    let g = new_group();
    let mut host = Probe::start(PROBE, &url, "paused", &g);
    let pid = host.pid().to_string();
    signal(&pid, "STOP");

    server.restart(false);
    // The new store goes well past the revisions the paused host had read, in its group.
    let writer = started(&url, "writer", Heartbeat::Manual).await;
    writer.create_group(&g).await.unwrap();
    for _ in 0..10 {
        writer.join_group_with(&g, "").await.unwrap();
        writer.leave_group(&g).await.unwrap();
    }
    signal(&pid, "CONT");

    // It rejoins the new store, having been told the old history is gone; it never read the
    // writer's changes as the old store's.
    host.read_until(joined_times("paused", 2));
    assert!(
        host.errors.iter().any(|e| e.contains("is gone")),
        "{:?}",
        host.errors
    );
    let rejoined = host
        .events
        .iter()
        .rposition(|e| matches!(e, Event::MemberJoined(j) if j.member_id == "paused"))
        .expect("joined again");
    assert!(
        host.events[..rejoined]
            .iter()
            .all(|e| !matches!(e, Event::MemberJoined(j) if j.member_id == "writer")),
        "{:?}",
        host.events
    );
    let members = writer.get_members(&g).await.unwrap();
    assert!(members.iter().any(|m| m == "paused"), "{members:?}");
}

async fn an_unresponsive_server_is_reported_within_the_membership_timeout(engine: Engine) {
    let server = Server::start(engine);
    let c = started(&server.url("1"), "m", Heartbeat::Manual).await;
    let g = new_group();
    c.create_group(&g).await.unwrap();

    // Frozen: connections are accepted by the kernel, nothing answers.
    let pid = server.pid().to_string();
    signal(&pid, "STOP");
    let asked = Instant::now();
    let error = c.get_groups().await.unwrap_err();
    let took = asked.elapsed();
    signal(&pid, "CONT");
    assert!(
        matches!(error, CoordinationError::Connection(_)),
        "{error:?}"
    );
    assert!(took < Duration::from_secs(3), "reported after {took:?}");
    // Once it answers again, so do calls.
    wait_until(PATIENCE, || async { c.get_groups().await.ok() }).await;
    drop(server);

    // Nothing listens at all: reported at once.
    let address = format!("127.0.0.1:{}", free_port());
    let nowhere = get_coordinator(&url(engine, &address, "30"), "m").unwrap();
    let asked = Instant::now();
    assert!(matches!(
        nowhere.start_with(Heartbeat::Manual).await,
        Err(CoordinationError::Connection(_))
    ));
    assert!(asked.elapsed() < Duration::from_secs(3));
}
