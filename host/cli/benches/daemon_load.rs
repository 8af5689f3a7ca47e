//! Load on one daemon: many concurrent sessions joining, heartbeating, updating and leaving
//! for a while, over HTTP, against `roster serve` running as its own process.
//!
//! Checks what must hold under load and prints the figures:
//! - no event lost: a reader of the event stream sees every revision from 1 to the head,
//!   contiguous, with no duplicate and no resync (the daemon keeps 8 M events of history,
//!   more than the run makes, so a reader that lags is never cut off);
//! - the final state is what the clients did: every client left and closed its session,
//!   so every group is empty and no session remains;
//! - throughput (operations per second) and latency percentiles per operation.
//!
//! `cargo bench -p roster --bench daemon_load`. Knobs: `ROSTER_BENCH_SESSIONS` (1000),
//! `ROSTER_BENCH_SECONDS` (60); `ROSTER_BENCH_QUICK=1` runs 200 sessions for 3 s.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use roster::client::{Client, StreamItem};

const GROUPS: usize = 20;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
struct Latencies {
    open: Vec<Duration>,
    join: Vec<Duration>,
    heartbeat: Vec<Duration>,
    update: Vec<Duration>,
    leave: Vec<Duration>,
    close: Vec<Duration>,
}

impl Latencies {
    fn merge(&mut self, other: Self) {
        self.open.extend(other.open);
        self.join.extend(other.join);
        self.heartbeat.extend(other.heartbeat);
        self.update.extend(other.update);
        self.leave.extend(other.leave);
        self.close.extend(other.close);
    }
}

async fn timed<T>(into: &mut Vec<Duration>, call: impl Future<Output = T>) -> T {
    let start = Instant::now();
    let result = call.await;
    into.push(start.elapsed());
    result
}

/// One client: open a session, then join, heartbeat, update and leave in a loop until
/// `until`, then close the session.
async fn client(client: Client, index: usize, until: Instant) -> (Latencies, u64) {
    let mut l = Latencies::default();
    let member = format!("member-{index}");
    let session = timed(&mut l.open, client.open_session(&member, None))
        .await
        .expect("open a session")
        .session_id;
    let mut rounds = 0;
    while Instant::now() < until {
        let group = format!("group-{}", (index + rounds as usize) % GROUPS);
        timed(
            &mut l.join,
            client.join(&session, &group, "{\"load\":0}".into(), true),
        )
        .await
        .expect("join");
        timed(&mut l.heartbeat, client.heartbeat(&session))
            .await
            .expect("heartbeat");
        timed(
            &mut l.update,
            client.update_capabilities(&session, &group, format!("{{\"load\":{rounds}}}").into()),
        )
        .await
        .expect("update capabilities");
        timed(&mut l.leave, client.leave(&session, &group))
            .await
            .expect("leave");
        rounds += 1;
    }
    timed(&mut l.close, client.close_session(&session))
        .await
        .expect("close the session");
    (l, rounds)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank]
}

fn report(name: &str, mut samples: Vec<Duration>, seconds: f64) {
    samples.sort_unstable();
    println!(
        "  {name:<10} {:>9} calls {:>9.0}/s   p50 {:>7.2} ms   p99 {:>7.2} ms   p99.9 {:>7.2} ms   max {:>7.2} ms",
        samples.len(),
        samples.len() as f64 / seconds,
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        percentile(&samples, 0.999).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn main() {
    let quick = std::env::var_os("ROSTER_BENCH_QUICK").is_some();
    let sessions = knob("ROSTER_BENCH_SESSIONS", if quick { 200 } else { 1000 }) as usize;
    let seconds = knob("ROSTER_BENCH_SECONDS", if quick { 3 } else { 60 });

    let mut daemon = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--backend", "memory://load?history=8000000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start roster serve");
    let mut line = String::new();
    BufReader::new(daemon.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the daemon's address");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("the daemon printed its address")
        .to_owned();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let api = Client::new(&addr).expect("client");
        // The reader starts at revision 1 and must see every revision exactly once; it
        // stops at the head the daemon reports once the clients are done.
        let (stop_at, mut stop) = tokio::sync::watch::channel(None::<u64>);
        let reader = {
            let api = api.clone();
            tokio::spawn(async move {
                let stream = api.events(Some(1), None).await.expect("event stream");
                tokio::pin!(stream);
                let mut expected = 1;
                let (mut gaps, mut resyncs) = (0u64, 0u64);
                loop {
                    if stop.borrow().is_some_and(|head| expected > head) {
                        break;
                    }
                    let item = tokio::select! {
                        item = stream.next() => item,
                        _ = stop.changed() => continue,
                    };
                    match item.expect("the stream stays open").expect("stream item") {
                        StreamItem::Event(event) => {
                            if event.revision() != expected {
                                gaps += 1;
                            }
                            expected = event.revision() + 1;
                        }
                        StreamItem::Resync(_) => resyncs += 1,
                    }
                }
                (expected - 1, gaps, resyncs)
            })
        };
        println!("{sessions} sessions, {GROUPS} groups, {seconds} s, daemon at {addr}");
        let start = Instant::now();
        let until = start + Duration::from_secs(seconds);
        let clients: Vec<_> = (0..sessions)
            .map(|i| tokio::spawn(client(api.clone(), i, until)))
            .collect();
        let mut all = Latencies::default();
        let mut rounds = 0;
        for task in clients {
            let (latencies, r) = task.await.expect("client task");
            all.merge(latencies);
            rounds += r;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let status = api.status().await.expect("status");
        stop_at.send_replace(Some(status.revision));
        let (seen, gaps, resyncs) = tokio::time::timeout(Duration::from_secs(120), reader)
            .await
            .expect("the reader reached the head")
            .expect("reader task");
        let groups = api.groups().await.expect("groups");
        let members: usize = groups.groups.iter().map(|g| g.members).sum();

        let calls = all.open.len()
            + all.join.len()
            + all.heartbeat.len()
            + all.update.len()
            + all.leave.len()
            + all.close.len();
        println!(
            "  {calls} calls in {elapsed:.1} s: {:.0} calls/s, {:.0} changes/s, {rounds} join-heartbeat-update-leave rounds",
            calls as f64 / elapsed,
            status.revision as f64 / elapsed,
        );
        report("open", all.open, elapsed);
        report("join", all.join, elapsed);
        report("heartbeat", all.heartbeat, elapsed);
        report("update", all.update, elapsed);
        report("leave", all.leave, elapsed);
        report("close", all.close, elapsed);
        println!(
            "  event stream: {seen} of {} revisions seen, {gaps} gaps or duplicates, {resyncs} resyncs",
            status.revision
        );
        println!(
            "  final state: {} groups, {members} members, {} sessions",
            groups.groups.len(),
            status.sessions
        );
        assert_eq!(seen, status.revision, "the reader saw every revision");
        assert_eq!(gaps, 0, "no event lost or repeated");
        assert_eq!(resyncs, 0, "the reader kept up with the history kept");
        assert_eq!(members, 0, "every client left");
        assert_eq!(status.sessions, 0, "every session closed");
    });
    let _ = daemon.kill();
    let _ = daemon.wait();
}
