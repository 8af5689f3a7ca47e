//! Roster against tooz on the same servers, in one run:
//! `cargo bench -p roster-tests --bench drivers` (`ROSTER_BENCH_QUICK=1` for a smoke run,
//! `ROSTER_BENCH_BACKENDS=etcd` or `=redis` for one backend).
//!
//! For each backend (Redis, etcd):
//! - join and leave throughput for one client, one coordinator joining then leaving many
//!   groups (tooz's "b2"), in rounds that alternate Roster and tooz, so a slow spell of this
//!   shared machine falls on both; the median of each side is reported, and every round's
//!   ratio;
//! - the same joins and leaves made by the driver's own code compiled natively and called
//!   directly from this process (the same scripts or transactions on one connection, no Wasm,
//!   no coordinator, no mirror): the native baseline, in the same rounds, and Roster's ratio
//!   to it ("the Wasm and host tax");
//! - `get_members` of one group of 10 000 members (tooz's "f"), p50;
//! - cross-host latency: a join made by one host until a handler on another host (a
//!   `roster-probe` process) has taken it, pushed by the driver's change feed (no polling),
//!   p50 / p99.
//!
//! tooz runs from a virtualenv of PyPI's `tooz` (made on first use under the target
//! directory, or `ROSTER_TOOZ_PYTHON`), driving `tests/benches/tooz_bench.py` against the same
//! server; the table shows both and the ratio. Servers: `ROSTER_REDIS` / `ROSTER_ETCD`, else
//! servers of the bench's own.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use roster::{Coordinator, Heartbeat, get_coordinator};
use roster_tests::plugin;
use roster_tests::probe::Probe;
use roster_tests::servers::{ETCD_VARIABLE, EtcdServer, REDIS_VARIABLE, RedisServer};

const PROBE: &str = env!("CARGO_BIN_EXE_roster-probe");

/// Now, in nanoseconds since the Unix epoch: the clock both hosts share.
fn unix_ns() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970");
    u64::try_from(now.as_nanos()).expect("before 2554")
}

fn quick() -> bool {
    std::env::var_os("ROSTER_BENCH_QUICK").is_some()
}

/// Whether `backend` is one to measure (`ROSTER_BENCH_BACKENDS`, comma-separated; all when
/// unset).
fn selected(backend: &str) -> bool {
    match std::env::var("ROSTER_BENCH_BACKENDS") {
        Ok(list) => list.split(',').any(|b| b.trim() == backend),
        Err(_) => true,
    }
}

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Alternating throughput rounds per side.
const ROUNDS: usize = 5;

/// What one side measured.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    joins_per_s: f64,
    leaves_per_s: f64,
    get_members_p50_ms: f64,
}

/// One round of throughput: joins and leaves per second.
#[derive(Debug, Default, Clone, Copy)]
struct Throughput {
    joins_per_s: f64,
    leaves_per_s: f64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn started(url: &str, member: &str) -> Coordinator {
    let c = get_coordinator(url, member).expect("valid URL");
    c.start_with(Heartbeat::Manual).await.expect("start");
    c
}

/// One coordinator joins `groups` new groups, then leaves them.
async fn roster_throughput(url: &str, groups: usize) -> Throughput {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let client = started(url, "bench-client").await;
    let names: Vec<String> = (0..groups).map(|i| format!("g-{run}-{i}")).collect();
    for g in &names {
        client.create_group(g).await.expect("create");
    }
    let t = Instant::now();
    for g in &names {
        client.join_group_with(g, "").await.expect("join");
    }
    let joins_per_s = groups as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for g in &names {
        client.leave_group(g).await.expect("leave");
    }
    let leaves_per_s = groups as f64 / t.elapsed().as_secs_f64();
    client.stop().await.expect("stop");
    Throughput {
        joins_per_s,
        leaves_per_s,
    }
}

/// The same joins and leaves through the Wasm driver called directly: its component, its
/// lanes and the sandbox's sockets, without the coordinator's queue and mirror.
async fn driver_throughput(url: &str, groups: usize) -> Throughput {
    use roster::backend_url::{BackendKind, BackendUrl};
    use roster::driver::Driver;
    let url = BackendUrl::parse(url).expect("valid URL");
    let BackendKind::Driver {
        name,
        endpoint,
        component,
        options,
    } = url.kind
    else {
        panic!("a driver's URL")
    };
    let driver = roster_wasm::WasmDriver::new(roster_wasm::DriverSpec {
        name,
        component,
        endpoint,
        options,
        call_limit: Duration::from_secs(30),
    });
    let member = roster::ids::MemberId::new("bench-driver").expect("member id");
    let session = driver
        .open_session(&member, Duration::from_secs(300))
        .await
        .expect("driver session");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let names: Vec<String> = (0..groups).map(|i| format!("d-{run}-{i}")).collect();
    for g in &names {
        driver.create_group(g).await.expect("driver create");
    }
    let t = Instant::now();
    for g in &names {
        driver
            .join(&session, g, Default::default(), false)
            .await
            .expect("driver join");
    }
    let joins_per_s = groups as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for g in &names {
        driver.leave(&session, g).await.expect("driver leave");
    }
    let leaves_per_s = groups as f64 / t.elapsed().as_secs_f64();
    driver.close_session(&session).await.expect("driver close");
    Throughput {
        joins_per_s,
        leaves_per_s,
    }
}

/// The native baseline: joins and leaves of `groups` groups by the driver's own store code,
/// compiled natively and called directly, one connection, each call waited for.
fn native_throughput<S: driver_kit::Driver>(
    address: &str,
    namespace: &str,
    groups: usize,
) -> Throughput {
    let options = vec![
        ("address".to_owned(), address.to_owned()),
        ("namespace".to_owned(), namespace.to_owned()),
    ];
    let mut store = S::open(&options).unwrap_or_else(|e| panic!("native {}: {e:?}", S::NAME));
    let session = store
        .open_session("bench-native", 300_000)
        .expect("native session");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let names: Vec<String> = (0..groups).map(|i| format!("n-{run}-{i}")).collect();
    for g in &names {
        store.create_group(g).expect("native create");
    }
    let t = Instant::now();
    for g in &names {
        store.join(&session, g, b"", false).expect("native join");
    }
    let joins_per_s = groups as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for g in &names {
        store.leave(&session, g).expect("native leave");
    }
    let leaves_per_s = groups as f64 / t.elapsed().as_secs_f64();
    store.close_session(&session).expect("native close");
    Throughput {
        joins_per_s,
        leaves_per_s,
    }
}

/// `get_members` of a group of `members`, p50, and the cross-host latency to a handler.
async fn roster_reads_and_latency(url: &str, members: usize) -> (f64, Duration, Duration) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let client = started(url, "bench-client").await;

    // One group of `members` members, each with a session of its own.
    let big = format!("big-{run}");
    client.create_group(&big).await.expect("create");
    let mut loaders = Vec::with_capacity(members);
    for i in 0..members {
        let member = started(url, &format!("m{i}")).await;
        member.join_group_with(&big, "").await.expect("join");
        loaders.push(member);
    }
    let mut reads = Vec::new();
    for _ in 0..if quick() { 5 } else { 21 } {
        let t = Instant::now();
        let got = client.get_members(&big).await.expect("get_members");
        reads.push(t.elapsed());
        assert_eq!(got.len(), members);
    }
    let get_members_p50_ms = ms(percentile(&mut reads, 0.5));
    for member in loaders {
        member.stop().await.expect("stop");
    }

    // Cross-host: a join made here until a handler in another host process has taken it
    // (a `roster-probe` running the `log-events` handler on the group; the call that
    // delivered the join has returned). That host learns of the join from its own driver
    // instance's change feed, pushed by the store, without polling.
    let lat = format!("lat-{run}");
    let handler = plugin("rust-log-events.wasm");
    let mut other_host = Probe::start_with_handler(PROBE, url, "bench-other", &lat, &handler);
    let joiner = started(url, "bench-joiner").await;
    let mut latencies = Vec::new();
    // Enough joins in a quick run too for the p99 to be a percentile, not the worst one.
    for _ in 0..if quick() { 300 } else { 1000 } {
        let asked = unix_ns();
        joiner.join_group_with(&lat, "").await.expect("join");
        let joined = joiner.head_revision();
        let handled = tokio::task::block_in_place(|| other_host.handled_at(joined));
        latencies.push(Duration::from_nanos(handled.saturating_sub(asked)));
        joiner.leave_group(&lat).await.expect("leave");
        let left = joiner.head_revision();
        tokio::task::block_in_place(|| other_host.handled_at(left));
    }
    let p50 = percentile(&mut latencies, 0.5);
    let p99 = percentile(&mut latencies, 0.99);
    (get_members_p50_ms, p50, p99)
}

/// The Python with tooz installed: `ROSTER_TOOZ_PYTHON`, else a virtualenv under the
/// target directory, made now if missing. `None` (with the reason printed) when it cannot.
fn tooz_python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("ROSTER_TOOZ_PYTHON") {
        return Some(python.into());
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tooz-venv");
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import tooz, redis, etcd3gw"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ready {
        return Some(python);
    }
    println!(
        "making a virtualenv with tooz from PyPI in {}",
        venv.display()
    );
    let made = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(["tooz==9.1.0", "redis", "etcd3gw"])
            .status()
            .is_ok_and(|s| s.success());
    if made {
        Some(python)
    } else {
        println!("tooz: unavailable (cannot install it from PyPI); Roster figures only");
        None
    }
}

/// tooz's figures; with `members` 0, throughput only (`get_members_p50_ms` is 0).
fn tooz_figures(python: &PathBuf, url: &str, groups: usize, members: usize) -> Option<Figures> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/tooz_bench.py");
    let out = Command::new(python)
        .arg(script)
        .args([url, &groups.to_string(), &members.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        println!(
            "tooz run failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(Figures {
        joins_per_s: v["joins_per_s"].as_f64()?,
        leaves_per_s: v["leaves_per_s"].as_f64()?,
        get_members_p50_ms: v["get_members_p50_ms"].as_f64().unwrap_or(0.0),
    })
}

/// The rows of one backend. `rounds`: each throughput round's Roster and tooz figures.
fn report(
    backend: &str,
    roster: Figures,
    tooz: Option<Figures>,
    members: usize,
    rounds: &[(Throughput, Option<Throughput>)],
) {
    let row = |what: &str, r: f64, t: Option<f64>, higher_is_better: bool, extra: String| {
        let (tooz, ratio) = match t {
            Some(t) if t > 0.0 => {
                let ratio = if higher_is_better { r / t } else { t / r };
                (format!("{t:>12.1}"), format!("{ratio:>6.1}x"))
            }
            _ => (format!("{:>12}", "-"), format!("{:>7}", "-")),
        };
        println!("{backend:<6} {what:<34} {r:>12.1} {tooz} {ratio}{extra}");
    };
    let per_round = |pick: fn(&Throughput) -> f64| {
        let ratios: Vec<String> = rounds
            .iter()
            .filter_map(|(r, t)| t.map(|t| format!("{:.1}x", pick(r) / pick(&t))))
            .collect();
        if ratios.is_empty() {
            String::new()
        } else {
            format!("  (medians of {ROUNDS}; rounds {})", ratios.join(" "))
        }
    };
    row(
        "joins/s (1 client)",
        roster.joins_per_s,
        tooz.map(|t| t.joins_per_s),
        true,
        per_round(|t| t.joins_per_s),
    );
    row(
        "leaves/s (1 client)",
        roster.leaves_per_s,
        tooz.map(|t| t.leaves_per_s),
        true,
        per_round(|t| t.leaves_per_s),
    );
    row(
        &format!("get_members({members}) p50 ms"),
        roster.get_members_p50_ms,
        tooz.map(|t| t.get_members_p50_ms),
        false,
        String::new(),
    );
}

/// Measure Roster and tooz on one backend and print the rows.
async fn compare(backend: &str, scheme: &str, address: &str, groups: usize, members: usize) {
    let native = |namespace: String| {
        let address = address.to_owned();
        let backend = backend.to_owned();
        tokio::task::spawn_blocking(move || match backend.as_str() {
            "redis" => native_throughput::<redis_store::Store>(&address, &namespace, groups),
            _ => native_throughput::<etcd_store::Store>(&address, &namespace, groups),
        })
    };
    let namespace = format!("bench{}", uuid::Uuid::new_v4().simple());
    // The driver built into the host, as a user gets it. Members live 5 minutes without a
    // heartbeat: loading ten thousand takes longer than the default 30 s.
    let roster_url = format!("{scheme}://{address}?namespace={namespace}&timeout=300");
    let tooz_url = format!("{scheme}://{address}");
    let python = tooz_python();
    let mut rounds = Vec::with_capacity(ROUNDS);
    let mut natives = Vec::with_capacity(ROUNDS);
    let mut directs = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        natives.push(native(format!("{namespace}n")).await.expect("native run"));
        directs.push(driver_throughput(&roster_url, groups).await);
        let roster = roster_throughput(&roster_url, groups).await;
        let tooz = python
            .as_ref()
            .and_then(|python| tooz_figures(python, &tooz_url, groups, 0))
            .map(|t| Throughput {
                joins_per_s: t.joins_per_s,
                leaves_per_s: t.leaves_per_s,
            });
        rounds.push((roster, tooz));
    }
    let (get_members_p50_ms, p50, p99) = roster_reads_and_latency(&roster_url, members).await;
    let roster = Figures {
        joins_per_s: median(rounds.iter().map(|(r, _)| r.joins_per_s).collect()),
        leaves_per_s: median(rounds.iter().map(|(r, _)| r.leaves_per_s).collect()),
        get_members_p50_ms,
    };
    let tooz_reads = python
        .as_ref()
        .and_then(|python| tooz_figures(python, &tooz_url, 1, members));
    let tooz_rounds: Vec<Throughput> = rounds.iter().filter_map(|(_, t)| *t).collect();
    let tooz = tooz_reads
        .filter(|_| tooz_rounds.len() == ROUNDS)
        .map(|reads| Figures {
            joins_per_s: median(tooz_rounds.iter().map(|t| t.joins_per_s).collect()),
            leaves_per_s: median(tooz_rounds.iter().map(|t| t.leaves_per_s).collect()),
            get_members_p50_ms: reads.get_members_p50_ms,
        });
    report(backend, roster, tooz, members, &rounds);
    let native_joins = median(natives.iter().map(|n| n.joins_per_s).collect());
    let native_leaves = median(natives.iter().map(|n| n.leaves_per_s).collect());
    println!(
        "{backend:<6} {:<34} {native_joins:>12.1}  Roster/native {:.2}",
        "joins/s, native driver code",
        roster.joins_per_s / native_joins
    );
    println!(
        "{backend:<6} {:<34} {native_leaves:>12.1}  Roster/native {:.2}",
        "leaves/s, native driver code",
        roster.leaves_per_s / native_leaves
    );
    let direct_joins = median(directs.iter().map(|n| n.joins_per_s).collect());
    let direct_leaves = median(directs.iter().map(|n| n.leaves_per_s).collect());
    println!(
        "{backend:<6} {:<34} {direct_joins:>12.1}  Roster/driver {:.2}  driver/native {:.2}",
        "joins/s, Wasm driver called alone",
        roster.joins_per_s / direct_joins,
        direct_joins / native_joins
    );
    println!(
        "{backend:<6} {:<34} {direct_leaves:>12.1}  Roster/driver {:.2}  driver/native {:.2}",
        "leaves/s, Wasm driver called alone",
        roster.leaves_per_s / direct_leaves,
        direct_leaves / native_leaves
    );
    println!(
        "{backend:<6} join -> handler on another host p50 {:.3} ms, p99 {:.3} ms (pushed by the driver's feed, no polling)",
        ms(p50),
        ms(p99)
    );
}

#[tokio::main]
async fn main() {
    println!(
        "backend metric                                   Roster         tooz  ratio (>1: Roster better)"
    );
    if selected("redis") {
        // Throughput takes the full group count in a quick run too: a shorter loop would
        // measure this machine's hiccups more than either side.
        let (groups, members) = if quick() { (500, 500) } else { (500, 10_000) };
        let redis_server;
        let redis = match std::env::var(REDIS_VARIABLE) {
            Ok(address) => address,
            Err(_) => {
                redis_server = RedisServer::start();
                redis_server.address.clone()
            }
        };
        compare("redis", "redis", &redis, groups, members).await;
    }
    if selected("etcd") {
        let (groups, members) = if quick() { (200, 200) } else { (200, 10_000) };
        let etcd_server;
        let etcd = match std::env::var(ETCD_VARIABLE) {
            Ok(address) => address,
            Err(_) => {
                etcd_server = EtcdServer::start();
                etcd_server.address.clone()
            }
        };
        compare("etcd", "etcd3+http", &etcd, groups, members).await;
    }
}
