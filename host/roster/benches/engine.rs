//! Figures for the embedded backend: `cargo bench -p roster --bench engine`.
//!
//! Prints throughput and latency percentiles for create_group, join+leave, get_members at
//! 1 k / 10 k / 100 k members and watch delivery, and the resident memory each member costs.
//! Figures, not assertions: the machine is shared, so read them side by side with tooz's
//! (README, "Measured figures"). Set `ROSTER_BENCH_QUICK=1` for a fast smoke run.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use roster::{Capabilities, Coordinator, Heartbeat, get_coordinator};

fn quick() -> bool {
    std::env::var_os("ROSTER_BENCH_QUICK").is_some()
}

fn scaled(n: usize) -> usize {
    if quick() { (n / 100).max(10) } else { n }
}

fn store(options: &str) -> String {
    format!("memory://{}?{options}", uuid::Uuid::new_v4().simple())
}

async fn started(url: &str, member: &str) -> Coordinator {
    let c = get_coordinator(url, member).expect("valid");
    c.start_with(Heartbeat::Manual).await.expect("start");
    c
}

struct Percentiles {
    p50: Duration,
    p99: Duration,
}

fn percentiles(mut samples: Vec<Duration>) -> Percentiles {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.4} ms", d.as_secs_f64() * 1e3)
}

fn rate(count: usize, elapsed: Duration) -> String {
    let per_sec = count as f64 / elapsed.as_secs_f64();
    if per_sec >= 1e6 {
        format!("{:.2} M/s", per_sec / 1e6)
    } else {
        format!("{:.1} k/s", per_sec / 1e3)
    }
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

async fn create_group() {
    let n = scaled(100_000);
    let c = started(&store("history=1024"), "bench").await;
    let names: Vec<String> = (0..n).map(|i| format!("group-{i}")).collect();
    let start = Instant::now();
    for name in &names {
        c.create_group(name).await.expect("create");
    }
    let elapsed = start.elapsed();
    let mut samples = Vec::with_capacity(n);
    for name in &names {
        let t = Instant::now();
        c.delete_group(name).await.expect("delete");
        samples.push(t.elapsed());
    }
    let p = percentiles(samples);
    println!(
        "create_group          {n:>9} groups   {:>12}   (delete_group p50 {} p99 {})",
        rate(n, elapsed),
        ms(p.p50),
        ms(p.p99)
    );
}

async fn join_leave() {
    let n = scaled(1_000_000);
    let c = started(&store("history=1024"), "bench").await;
    c.create_group("g").await.expect("create");
    let caps = Capabilities::from("weight=1");
    let start = Instant::now();
    for _ in 0..n {
        c.join_group_with("g", caps.clone()).await.expect("join");
        c.leave_group("g").await.expect("leave");
    }
    let elapsed = start.elapsed();
    let mut samples = Vec::with_capacity(n / 10);
    for _ in 0..n / 10 {
        let t = Instant::now();
        c.join_group_with("g", caps.clone()).await.expect("join");
        c.leave_group("g").await.expect("leave");
        samples.push(t.elapsed());
    }
    let p = percentiles(samples);
    println!(
        "join+leave pairs      {n:>9} pairs    {:>12}   (pair p50 {} p99 {}, one core)",
        rate(n, elapsed),
        ms(p.p50),
        ms(p.p99)
    );
}

/// Fill one group with `members` members (one coordinator each) and time `get_members`.
///
/// The resident-memory figure is the store's cost per member: each coordinator handle is
/// dropped once it has joined (its session and membership stay in the store), so the figure
/// counts member record, session, liveness index and history entry, not client handles.
async fn get_members(members: usize, history: usize) {
    let url = store(&format!("history={history}"));
    let reader = started(&url, "reader").await;
    reader.create_group("g").await.expect("create");
    let rss_before = rss_bytes();
    let mut id_and_caps = 0;
    for i in 0..members {
        let member = format!("member-{i:06}");
        let caps = Capabilities::from(format!("{{\"weight\":{}}}", i % 7));
        id_and_caps += member.len() + caps.len();
        let c = started(&url, &member).await;
        c.join_group_with("g", caps).await.expect("join");
    }
    let rss_after = rss_bytes();
    let rounds = if members >= 100_000 { 50 } else { 200 };
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let got = reader.get_members("g").await.expect("members");
        samples.push(t.elapsed());
        assert_eq!(got.len(), members);
    }
    let p = percentiles(samples);
    let per_member = (rss_after.saturating_sub(rss_before) as f64 / members as f64)
        - id_and_caps as f64 / members as f64;
    println!(
        "get_members({members:>6})                      p50 {} p99 {}   RSS {:.0} B/member beyond id+caps (history {history})",
        ms(p.p50),
        ms(p.p99),
        per_member
    );
}

async fn watch_latency() {
    let n = scaled(20_000);
    let url = store("history=65536");
    let watcher = started(&url, "watcher").await;
    let joiner = started(&url, "joiner").await;
    watcher.create_group("g").await.expect("create");
    let fired = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
    let sink = std::sync::Arc::clone(&fired);
    watcher
        .watch_join_group("g", move |_| {
            *sink.lock().expect("lock") = Some(Instant::now())
        })
        .expect("watch");
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        joiner.join_group("g").await.expect("join");
        watcher.run_watchers().await.expect("run");
        let at = fired.lock().expect("lock").take().expect("callback fired");
        samples.push(at - t);
        joiner.leave_group("g").await.expect("leave");
        watcher.run_watchers().await.expect("run");
    }
    let p = percentiles(samples);
    println!(
        "watch notify (join -> callback in run_watchers)  p50 {} p99 {}",
        ms(p.p50),
        ms(p.p99)
    );
}

async fn stream_latency() {
    let n = scaled(20_000);
    let url = store("history=65536");
    let joiner = started(&url, "joiner").await;
    joiner.create_group("g").await.expect("create");
    let mut stream = joiner.subscribe(None).expect("subscribe");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(Ok(event)) = stream.next().await {
            if tx.send((event.revision(), Instant::now())).is_err() {
                return;
            }
        }
    });
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        joiner.join_group("g").await.expect("join");
        let (_, at) = rx.recv().await.expect("event");
        samples.push(at - t);
        joiner.leave_group("g").await.expect("leave");
        rx.recv().await.expect("event");
    }
    reader.abort();
    let p = percentiles(samples);
    println!(
        "event stream (join -> subscriber task, 2 threads) p50 {} p99 {}",
        ms(p.p50),
        ms(p.p99)
    );
}

/// Fill a group in a fresh process, so freed memory of other benchmarks cannot hide the
/// cost, and print the resident memory per member.
fn member_memory(members: usize, history: usize) {
    let exe = std::env::current_exe().expect("bench binary");
    let output = std::process::Command::new(exe)
        .args([
            "--member-memory",
            &members.to_string(),
            &history.to_string(),
        ])
        .output()
        .expect("run the memory probe");
    print!("{}", String::from_utf8_lossy(&output.stdout));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--member-memory") {
        let members = args[at + 1].parse().expect("members");
        let history = args[at + 2].parse().expect("history");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(get_members(members, history));
        return;
    }
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "Roster embedded backend (memory://), {}",
        if quick() { "quick run" } else { "full run" }
    );
    current.block_on(async {
        create_group().await;
        join_leave().await;
        watch_latency().await;
    });
    for (members, history) in [
        (1_000, 65_536),
        (10_000, 65_536),
        (100_000, 65_536),
        (100_000, 1_024),
    ] {
        member_memory(scaled(members), history);
    }
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    multi.block_on(stream_latency());
}
