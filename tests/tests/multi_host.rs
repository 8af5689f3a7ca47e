//! Several host processes sharing one store through a driver: each sees the others' members
//! and the same events in the same order; a host killed with SIGKILL has its members expire
//! on the others; a server restart is survived; an unresponsive server is reported within
//! the membership timeout.
//!
//! The hosts are `roster-probe` processes (`src/bin/roster-probe.rs`) and the test process
//! itself.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roster::{CoordinationError, Event, EventKind, Heartbeat, LeaveReason, get_coordinator};
use roster_tests::probe::{Probe, joined, left};
use roster_tests::servers::{REDIS_VARIABLE, RedisServer, free_port, wait_for_port};
use roster_tests::{new_group, plugin, wait_until};

const PATIENCE: Duration = Duration::from_secs(20);
const PROBE: &str = env!("CARGO_BIN_EXE_roster-probe");

/// The Redis the test uses, and a URL on it for a namespace of the test's own.
fn redis_store(timeout: &str) -> (Option<RedisServer>, String) {
    let namespace = format!("t{}", uuid::Uuid::new_v4().simple());
    let (server, address) = match std::env::var(REDIS_VARIABLE) {
        Ok(address) => (None, address),
        Err(_) => {
            let server = RedisServer::start();
            let address = server.address.clone();
            (Some(server), address)
        }
    };
    let url = format!(
        "redis://{address}?namespace={namespace}&timeout={timeout}&driver={}",
        plugin("rust-redis-driver.wasm").display()
    );
    (server, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_sharing_a_store_see_each_others_members_and_the_same_events_in_order() {
    let (_server, url) = redis_store("5");
    let g = new_group();
    let mut one = Probe::start(PROBE, &url, "one", &g);
    let mut two = Probe::start(PROBE, &url, "two", &g);
    one.read_until(joined("two"));

    // A third host (this process) changes the group several times.
    let three = get_coordinator(&url, "three").unwrap();
    three.start(Heartbeat::Manual).await.unwrap();
    three.join_group(&g, "x").await.unwrap();
    three.update_capabilities(&g, "y").await.unwrap();
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
    assert_eq!(
        kinds[kinds.len() - 3..],
        [
            EventKind::MemberJoined,
            EventKind::CapabilitiesUpdated,
            EventKind::MemberLeft
        ]
    );
    // Contiguous revisions: nothing in between was missed.
    for pair in seen_by_two.windows(2) {
        assert_eq!(
            pair[1].revision(),
            pair[0].revision() + 1,
            "{seen_by_two:?}"
        );
    }
    // The members each host sees are the same.
    let mut members = three.get_members(&g).await.unwrap();
    members.sort();
    assert_eq!(members, ["one", "two"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_killed_with_sigkill_has_its_members_expire_on_the_others() {
    let (_server, url) = redis_store("1");
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
    let after = killed.elapsed();
    assert!(
        after >= Duration::from_millis(500),
        "not before its timeout: {after:?}"
    );
    // The witness is still there.
    let observer = get_coordinator(&url, "observer").unwrap();
    observer.start(Heartbeat::Manual).await.unwrap();
    assert_eq!(observer.get_members(&g).await.unwrap(), ["witness"]);
}

/// A Redis of the test's own that keeps its data on disk, at a fixed port so it can come
/// back at the same address.
fn durable_redis(dir: &std::path::Path, port: u16) -> Child {
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("start redis-server");
    wait_for_port(&format!("127.0.0.1:{port}"));
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_rides_out_a_server_restart_and_misses_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = durable_redis(dir.path(), port);
    let url = format!(
        "redis://127.0.0.1:{port}?timeout=10&driver={}",
        plugin("rust-redis-driver.wasm").display()
    );
    let g = new_group();
    let mut host = Probe::start(PROBE, &url, "steady", &g);

    // The server dies and comes back while another host keeps changing the group.
    let _ = server.kill();
    let _ = server.wait();
    server = durable_redis(dir.path(), port);
    let other = get_coordinator(&url, "other").unwrap();
    wait_until(PATIENCE, || async {
        other.start(Heartbeat::Manual).await.ok()
    })
    .await;
    other.join_group(&g, "").await.unwrap();
    other.leave_group(&g).await.unwrap();

    // The host reconnected by itself, saw every change in order, and is still a member.
    let events = host.read_until(left("other")).to_vec();
    for pair in events.windows(2) {
        assert_eq!(pair[1].revision(), pair[0].revision() + 1, "{events:?}");
    }
    assert_eq!(other.get_members(&g).await.unwrap(), ["steady"]);
    drop(host);
    let _ = server.kill();
    let _ = server.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresponsive_server_is_reported_within_the_membership_timeout() {
    let server = RedisServer::start();
    let url = format!(
        "redis://{}?timeout=1&driver={}",
        server.address,
        plugin("rust-redis-driver.wasm").display()
    );
    let c = get_coordinator(&url, "m").unwrap();
    c.start(Heartbeat::Manual).await.unwrap();
    let g = new_group();
    c.create_group(&g).await.unwrap();

    // Frozen: connections are accepted by the kernel, nothing answers.
    let pid = server_pid(&server.address);
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
    let nowhere = get_coordinator(
        &format!(
            "redis://127.0.0.1:{}?driver={}",
            free_port(),
            plugin("rust-redis-driver.wasm").display()
        ),
        "m",
    )
    .unwrap();
    let asked = Instant::now();
    assert!(matches!(
        nowhere.start(Heartbeat::Manual).await,
        Err(CoordinationError::Connection(_))
    ));
    assert!(asked.elapsed() < Duration::from_secs(3));
}

fn server_pid(address: &str) -> String {
    let port = address.rsplit(':').next().unwrap();
    let out = Command::new("redis-cli")
        .args(["-p", port, "info", "server"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .expect("redis reports its pid")
        .trim()
        .to_owned()
}

fn signal(pid: &str, name: &str) {
    assert!(
        Command::new("kill")
            .args([format!("-{name}"), pid.to_owned()])
            .status()
            .unwrap()
            .success()
    );
}
