//! Load on daemons: many concurrent sessions joining, heartbeating, updating and leaving
//! for a while, over HTTP, against `roster serve` running as its own process; then the same
//! load over HTTPS with a bearer token on every call (what TLS and authentication cost); then
//! on three daemons sharing one Redis, one of which is killed halfway through. All run side
//! by side in one run, so their ratios mean something on a machine whose speed varies.
//!
//! Checks what must hold under load and prints the figures:
//! - no event lost: a reader of the event stream sees every revision from 1 to the head,
//!   contiguous, with no duplicate and no resync (the store keeps more history than the run
//!   makes, so a reader that lags is never cut off), across the loss of the daemon it reads
//!   through;
//! - the final state is what the clients did: every client left and closed its session,
//!   so every group is empty;
//! - throughput (calls per second) and latency percentiles per operation, and for the shared
//!   store the failover time: from the kill to each of its clients' first successful call
//!   through another daemon.
//!
//! `cargo bench -p roster-cli --bench daemon_load`. Knobs: `ROSTER_BENCH_SESSIONS` (1000),
//! `ROSTER_BENCH_SECONDS` (60); `ROSTER_BENCH_QUICK=1` runs 200 sessions for 3 s. Redis is
//! the one `ROSTER_REDIS` names, else a `redis-server` of the bench's own.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use roster::client::{Client, ClientError, Credentials, StreamItem};

const GROUPS: usize = 20;
/// The sessions' TTL on the shared store: failover must happen well within it.
const TTL: Duration = Duration::from_secs(10);

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

/// When a daemon was killed, and each of its clients' first successful call after that.
#[derive(Default)]
struct Failover {
    killed: Option<(Instant, String)>,
    /// From the kill to a client's first call answered by another daemon.
    times: Vec<Duration>,
    /// Calls sent again after their daemon went away that had taken effect already
    /// (`member-already-exist`, `member-not-joined`).
    repeated: u64,
}

/// A call's outcome: a call that failed over may meet its own earlier attempt.
fn settled(result: Result<impl Sized, ClientError>, failover: &Mutex<Failover>, what: &str) {
    match result {
        Ok(_) => {}
        Err(ClientError::Coordination(
            roster::CoordinationError::MemberAlreadyExist { .. }
            | roster::CoordinationError::MemberNotJoined { .. },
        )) if failover.lock().unwrap().killed.is_some() => {
            failover.lock().unwrap().repeated += 1;
        }
        Err(error) => panic!("{what}: {error}"),
    }
}

/// One client: open a session, then join, heartbeat, update and leave in a loop until
/// `until`, then close the session.
async fn client_task(
    client: Client,
    index: usize,
    until: Instant,
    failover: Arc<Mutex<Failover>>,
) -> (Latencies, u64) {
    let mut l = Latencies::default();
    let member = format!("member-{index}");
    let session = timed(&mut l.open, client.open_session(&member, Some(TTL)))
        .await
        .expect("open a session")
        .session_id;
    let mut rounds = 0;
    let mut failed_over = false;
    // After a call through `used` succeeded: whether it was the first through another
    // daemon since the one this client used was killed.
    let mut note = |used: &str| {
        if failed_over || client.address() == used {
            return;
        }
        let mut f = failover.lock().unwrap();
        if let Some((at, killed)) = &f.killed
            && killed == used
        {
            let time = at.elapsed();
            f.times.push(time);
            failed_over = true;
        }
    };
    while Instant::now() < until {
        let group = format!("group-{}", (index + rounds as usize) % GROUPS);
        let used = client.address();
        let joined = timed(
            &mut l.join,
            client.join(&session, &group, "{\"load\":0}".into(), true),
        )
        .await;
        settled(joined, &failover, "join");
        note(&used);
        let used = client.address();
        let beat = timed(&mut l.heartbeat, client.heartbeat(&session)).await;
        settled(beat, &failover, "heartbeat");
        note(&used);
        let used = client.address();
        let updated = timed(
            &mut l.update,
            client.update_capabilities(&session, &group, format!("{{\"load\":{rounds}}}").into()),
        )
        .await;
        settled(updated, &failover, "update capabilities");
        note(&used);
        let used = client.address();
        let left = timed(&mut l.leave, client.leave(&session, &group)).await;
        settled(left, &failover, "leave");
        note(&used);
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

/// A `roster serve` process on `backend`.
struct Daemon {
    child: Child,
    /// `host:port`, or `https://localhost:port` for a daemon serving TLS.
    addr: String,
}

/// A daemon's TLS certificate (signed by a CA of the bench's own) and token.
struct Secure {
    pki: roster_tests::pki::Pki,
    token: String,
}

impl Secure {
    fn new() -> Self {
        let pki = roster_tests::pki::Pki::new();
        let token = "bench-token-0123456789abcdef".to_owned();
        std::fs::write(
            pki.path("roster.toml"),
            format!(
                "[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\n\n[[tokens]]\nname = \"bench\"\nrole = \"admin\"\nsha256 = \"{}\"\n",
                roster_server::token_hash(&token)
            ),
        )
        .expect("write the configuration");
        Self { pki, token }
    }

    fn credentials(&self) -> Credentials {
        Credentials {
            token: Some(self.token.clone()),
            ca_file: Some(self.pki.path("ca.pem")),
            identity: None,
        }
    }
}

impl Daemon {
    fn start(backend: &str) -> Self {
        Self::spawn(backend, None)
    }

    /// A daemon serving TLS and requiring `secure`'s token.
    fn start_secure(backend: &str, secure: &Secure) -> Self {
        Self::spawn(backend, Some(secure))
    }

    fn spawn(backend: &str, secure: Option<&Secure>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command.args(["serve", "--listen", "127.0.0.1:0", "--backend", backend]);
        if let Some(secure) = secure {
            command.arg("--config").arg(secure.pki.path("roster.toml"));
        }
        let mut child = command
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start roster serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the daemon's address");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .expect("the daemon printed its address")
            .to_owned();
        let addr = match secure {
            Some(_) => format!(
                "https://localhost:{}",
                addr.rsplit(':').next().unwrap_or("0")
            ),
            None => addr,
        };
        Self { child, addr }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reader of every revision from 1 on, through whichever daemon answers, until the head
/// `stop` names: how many it saw, gaps or duplicates, resyncs.
async fn read_all(
    api: Client,
    mut stop: tokio::sync::watch::Receiver<Option<u64>>,
) -> (u64, u64, u64) {
    let mut expected = 1;
    let (mut gaps, mut resyncs) = (0u64, 0u64);
    let mut store: Option<String> = None;
    'connect: loop {
        let stream = match api.events_in(store.as_deref(), Some(expected), None).await {
            Ok(stream) => stream,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        store = Some(stream.store_id().to_owned());
        tokio::pin!(stream);
        loop {
            if stop.borrow().is_some_and(|head| expected > head) {
                break 'connect;
            }
            let item = tokio::select! {
                item = stream.next() => item,
                _ = stop.changed() => continue,
            };
            match item {
                Some(Ok(StreamItem::Event(event))) => {
                    if event.revision() != expected {
                        gaps += 1;
                    }
                    expected = event.revision() + 1;
                }
                Some(Ok(StreamItem::Resync(_))) => resyncs += 1,
                // The daemon went away: go on through another one.
                Some(Err(_)) | None => continue 'connect,
            }
        }
    }
    (expected - 1, gaps, resyncs)
}

/// What one load run measured.
struct Figures {
    calls_per_second: f64,
}

/// The load on `daemons`, client `i` starting with daemon `i % daemons.len()`; with `kill`,
/// the first daemon is killed halfway through.
async fn load(
    name: &str,
    daemons: &mut Vec<Daemon>,
    credentials: &Credentials,
    sessions: usize,
    seconds: u64,
    kill: bool,
) -> Figures {
    let list = |first: usize| {
        (0..daemons.len())
            .map(|i| daemons[(first + i) % daemons.len()].addr.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    let client =
        |first: usize| Client::with_credentials(&list(first), credentials).expect("client");
    let api = client(daemons.len() - 1);
    // The reader starts at revision 1 and must see every revision exactly once; it
    // stops at the head the daemons report once the clients are done.
    let (stop_at, stop) = tokio::sync::watch::channel(None::<u64>);
    let reader = tokio::spawn(read_all(api.clone(), stop));
    println!("{name}: {sessions} sessions, {GROUPS} groups, {seconds} s");
    let failover = Arc::new(Mutex::new(Failover::default()));
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let clients: Vec<_> = (0..sessions)
        .map(|i| {
            tokio::spawn(client_task(
                client(i % daemons.len()),
                i,
                until,
                Arc::clone(&failover),
            ))
        })
        .collect();
    let mut on_killed = 0;
    if kill {
        tokio::time::sleep_until((start + Duration::from_secs(seconds) / 2).into()).await;
        let mut victim = daemons.remove(0);
        // Named before the kill: a client may be through another daemon before `wait`
        // returns.
        failover.lock().unwrap().killed = Some((Instant::now(), victim.addr.clone()));
        let _ = victim.child.kill();
        let _ = victim.child.wait();
        on_killed = sessions.div_ceil(3);
    }
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
    let calls_per_second = calls as f64 / elapsed;
    println!(
        "  {calls} calls in {elapsed:.1} s: {calls_per_second:.0} calls/s, {:.0} changes/s, {rounds} join-heartbeat-update-leave rounds",
        status.revision as f64 / elapsed,
    );
    report("open", all.open, elapsed);
    report("join", all.join, elapsed);
    report("heartbeat", all.heartbeat, elapsed);
    report("update", all.update, elapsed);
    report("leave", all.leave, elapsed);
    report("close", all.close, elapsed);
    if kill {
        let f = failover.lock().unwrap();
        let mut times = f.times.clone();
        times.sort_unstable();
        println!(
            "  failover: {} of {on_killed} clients of the killed daemon went on through another: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} calls met their own earlier attempt",
            times.len(),
            percentile(&times, 0.50).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            f.repeated,
        );
        assert_eq!(
            times.len(),
            on_killed,
            "every client of the killed daemon went on"
        );
    }
    println!(
        "  event stream: {seen} of {} revisions seen, {gaps} gaps or duplicates, {resyncs} resyncs",
        status.revision
    );
    println!(
        "  final state: {} groups, {members} members",
        groups.groups.len(),
    );
    assert_eq!(seen, status.revision, "the reader saw every revision");
    assert_eq!(gaps, 0, "no event lost or repeated");
    assert_eq!(resyncs, 0, "the reader kept up with the history kept");
    assert_eq!(members, 0, "every client left");
    if !kill {
        assert_eq!(status.sessions, 0, "every session closed");
    }
    Figures { calls_per_second }
}

fn main() {
    let quick = std::env::var_os("ROSTER_BENCH_QUICK").is_some();
    let sessions = knob("ROSTER_BENCH_SESSIONS", if quick { 200 } else { 1000 }) as usize;
    let seconds = knob("ROSTER_BENCH_SECONDS", if quick { 3 } else { 60 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let plain = Credentials::default();
        let mut memory = vec![Daemon::start("memory://load?history=8000000")];
        let alone = load(
            "one daemon on memory://",
            &mut memory,
            &plain,
            sessions,
            seconds,
            false,
        )
        .await;
        drop(memory);
        let secure = Secure::new();
        let mut memory = vec![Daemon::start_secure(
            "memory://load?history=8000000",
            &secure,
        )];
        let guarded = load(
            "one daemon on memory://, over TLS with a token",
            &mut memory,
            &secure.credentials(),
            sessions,
            seconds,
            false,
        )
        .await;
        drop(memory);
        println!(
            "TLS and a token / plain HTTP: {:.2} of the throughput",
            guarded.calls_per_second / alone.calls_per_second
        );
        let redis = <roster_tests::Harness as roster_tests::ServerHarness>::redis(1.0);
        let backend = format!("{}&history=4000000", redis.url());
        let mut shared: Vec<Daemon> = (0..3).map(|_| Daemon::start(&backend)).collect();
        let three = load(
            "three daemons on one Redis, the first killed halfway",
            &mut shared,
            &plain,
            sessions,
            seconds,
            true,
        )
        .await;
        println!(
            "three daemons on Redis / one on memory: {:.2} of the throughput",
            three.calls_per_second / alone.calls_per_second
        );
    });
}
