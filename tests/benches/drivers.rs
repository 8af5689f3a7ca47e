//! Roster against tooz on the same servers, in one run:
//! `cargo bench -p roster-tests --bench drivers` (`ROSTER_BENCH_QUICK=1` for a smoke run,
//! `ROSTER_BENCH_BACKENDS=etcd` or `=redis` for one backend).
//!
//! For each backend (Redis, etcd):
//! - join and leave throughput for one client, one coordinator joining then leaving many
//!   groups (tooz's "b2") in a task of this process's runtime, in rounds that alternate
//!   Roster and tooz, so a slow spell of this shared machine falls on both; the median of
//!   each side is reported, and every round's ratio;
//! - the same joins and leaves made by the driver's own code compiled natively and called
//!   directly from this process (the same scripts or transactions on one connection, no Wasm,
//!   no coordinator, no mirror): the native baseline, in the same rounds, and Roster's ratio
//!   to it ("the Wasm and host tax");
//! - `get_members` of one group of 10 000 members (tooz's "f"), p50;
//! - cross-host latency: a join made by one host until a handler on another host (a
//!   `roster-probe` process) has taken it, pushed by the driver's change feed (no polling),
//!   p50 / p99;
//! - many clients: 1, 4, 16 and 64 coordinators, each joining then leaving groups of its
//!   own, all at once: in this process, spread over up to four processes (this bench run
//!   again as a worker), and tooz with one process per coordinator; joins and leaves per
//!   second in total.
//!
//! `tests/benches/profile-calls` runs this bench under callgrind instead, one path at a time
//! (`ROSTER_BENCH_PROFILE`), for instruction counts per call, which move far less than
//! times with the machine's load.
//!
//! tooz runs from a virtualenv of PyPI's `tooz` (made on first use under the target
//! directory, or `ROSTER_TOOZ_PYTHON`), driving `tests/benches/tooz_bench.py` against the same
//! server; the table shows both and the ratio. Servers: `ROSTER_REDIS` / `ROSTER_ETCD`, else
//! servers of the bench's own.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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
    /// The median time of one join.
    join_p50: Duration,
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
    let mut each = Vec::with_capacity(groups);
    let t = Instant::now();
    for g in &names {
        let call = Instant::now();
        client.join_group_with(g, "").await.expect("join");
        each.push(call.elapsed());
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
        join_p50: percentile(&mut each, 0.5),
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
    let mut each = Vec::with_capacity(groups);
    let t = Instant::now();
    for g in &names {
        let call = Instant::now();
        driver
            .join(&session, g, Default::default(), false)
            .await
            .expect("driver join");
        each.push(call.elapsed());
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
        join_p50: percentile(&mut each, 0.5),
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
    let mut each = Vec::with_capacity(groups);
    let t = Instant::now();
    for g in &names {
        let call = Instant::now();
        store.join(&session, g, b"", false).expect("native join");
        each.push(call.elapsed());
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
        join_p50: percentile(&mut each, 0.5),
    }
}

/// [`native_throughput`] with `backend`'s store code, on a blocking thread of its own.
fn native_run(
    backend: &str,
    address: &str,
    namespace: String,
    groups: usize,
) -> tokio::task::JoinHandle<Throughput> {
    let address = address.to_owned();
    let redis = backend == "redis";
    tokio::task::spawn_blocking(move || {
        if redis {
            native_throughput::<redis_store::Store>(&address, &namespace, groups)
        } else {
            native_throughput::<etcd_store::Store>(&address, &namespace, groups)
        }
    })
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

/// Coordinator counts of the many-client table.
const CLIENTS: [usize; 4] = [1, 4, 16, 64];
/// Most processes Roster's coordinators are spread over in the several-process column.
const PROCESSES: usize = 4;
/// Set (to `URL COORDINATORS GROUPS`) in a worker process of the several-process column.
const WORKER_VARIABLE: &str = "ROSTER_BENCH_WORKER";

/// `clients` started coordinators on `url`, each with `groups` groups of its own, created.
async fn many_prepared(
    url: &str,
    clients: usize,
    groups: usize,
) -> Vec<(Coordinator, Vec<String>)> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut prepared = Vec::with_capacity(clients);
    for c in 0..clients {
        let client = started(url, &format!("many-{run}-{c}")).await;
        let names: Vec<String> = (0..groups).map(|i| format!("m-{run}-{c}-{i}")).collect();
        for g in &names {
            client.create_group(g).await.expect("create");
        }
        prepared.push((client, names));
    }
    prepared
}

/// Every prepared coordinator joins its groups then leaves them, all at once; returns them
/// when all are done.
async fn many_run(prepared: Vec<(Coordinator, Vec<String>)>) -> Vec<Coordinator> {
    let tasks: Vec<_> = prepared
        .into_iter()
        .map(|(client, names)| {
            tokio::spawn(async move {
                for g in &names {
                    client.join_group_with(g, "").await.expect("join");
                }
                for g in &names {
                    client.leave_group(g).await.expect("leave");
                }
                client
            })
        })
        .collect();
    let mut done = Vec::with_capacity(tasks.len());
    for task in tasks {
        done.push(task.await.expect("a client's task"));
    }
    done
}

/// `clients` coordinators in this process: joins and leaves per second in total.
async fn roster_many(url: &str, clients: usize, groups: usize) -> f64 {
    let prepared = many_prepared(url, clients, groups).await;
    let t = Instant::now();
    let done = many_run(prepared).await;
    let rate = (clients * groups * 2) as f64 / t.elapsed().as_secs_f64();
    for client in done {
        client.stop().await.expect("stop");
    }
    rate
}

/// A worker of the several-process column (`WORKER_VARIABLE` set): prepares its
/// coordinators, says `ready`, runs them at the line that follows on its input, says `done`.
async fn many_worker(spec: &str) {
    let mut parts = spec.split(' ');
    let (Some(url), Some(clients), Some(groups)) = (parts.next(), parts.next(), parts.next())
    else {
        panic!("{WORKER_VARIABLE} is `URL COORDINATORS GROUPS`")
    };
    let clients = clients.parse().expect("a coordinator count");
    let groups = groups.parse().expect("a group count");
    let prepared = many_prepared(url, clients, groups).await;
    println!("ready");
    tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new()))
        .await
        .expect("reading the start")
        .expect("reading the start");
    let done = many_run(prepared).await;
    println!("done");
    for client in done {
        client.stop().await.expect("stop");
    }
}

/// Start every command, wait until each has said `ready`, start them together and time
/// until the last has said `done`. `None` (with the reason printed) when one fails.
fn timed_processes(commands: Vec<Command>) -> Option<Duration> {
    let mut children: Vec<(Child, BufReader<std::process::ChildStdout>)> = Vec::new();
    for mut command in commands {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        let out = BufReader::new(child.stdout.take()?);
        children.push((child, out));
    }
    let said = |out: &mut BufReader<std::process::ChildStdout>, word: &str| {
        let mut line = String::new();
        out.read_line(&mut line).is_ok() && line.trim() == word
    };
    let mut ready = true;
    for (_, out) in &mut children {
        ready &= said(out, "ready");
    }
    let t = Instant::now();
    for (child, _) in &mut children {
        let _ = child.stdin.as_mut().map(|input| input.write_all(b"go\n"));
    }
    let mut done = ready;
    for (_, out) in &mut children {
        done &= said(out, "done");
    }
    let elapsed = t.elapsed();
    for (mut child, _) in children {
        drop(child.stdin.take());
        done &= child.wait().is_ok_and(|s| s.success());
    }
    if !done {
        println!("a process of the many-client run failed");
    }
    done.then_some(elapsed)
}

/// `clients` coordinators spread over up to [`PROCESSES`] worker processes: joins and
/// leaves per second in total, and the number of processes.
async fn roster_many_processes(url: &str, clients: usize, groups: usize) -> Option<(f64, usize)> {
    let processes = clients.min(PROCESSES);
    let exe = std::env::current_exe().ok()?;
    let commands = (0..processes)
        .map(|p| {
            let share = clients / processes + usize::from(p < clients % processes);
            let mut command = Command::new(&exe);
            command.env(WORKER_VARIABLE, format!("{url} {share} {groups}"));
            command
        })
        .collect();
    let elapsed = tokio::task::spawn_blocking(move || timed_processes(commands))
        .await
        .ok()??;
    Some((
        (clients * groups * 2) as f64 / elapsed.as_secs_f64(),
        processes,
    ))
}

/// tooz with one process per coordinator: joins and leaves per second in total.
async fn tooz_many(python: &PathBuf, url: &str, clients: usize, groups: usize) -> Option<f64> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/tooz_bench.py");
    let commands = (0..clients)
        .map(|_| {
            let mut command = Command::new(python);
            command
                .arg(&script)
                .args([url, &groups.to_string(), "--many"]);
            command
        })
        .collect();
    let elapsed = tokio::task::spawn_blocking(move || timed_processes(commands))
        .await
        .ok()??;
    Some((clients * groups * 2) as f64 / elapsed.as_secs_f64())
}

/// The many-client table of one backend.
async fn many_clients(backend: &str, roster_url: &str, tooz_url: &str, python: Option<&PathBuf>) {
    let groups = match (backend, quick()) {
        ("redis", false) => 100,
        ("redis", true) => 50,
        (_, false) => 25,
        (_, true) => 10,
    };
    println!(
        "{backend:<6} many clients: joins + leaves per second in total, each coordinator joining then leaving {groups} groups of its own"
    );
    println!(
        "{backend:<6} {:>12} {:>20} {:>28} {:>22} {:>13}",
        "coordinators",
        "Roster, one process",
        "Roster, several processes",
        "tooz, a process each",
        "Roster / tooz"
    );
    for clients in CLIENTS {
        let one = roster_many(roster_url, clients, groups).await;
        let several = roster_many_processes(roster_url, clients, groups).await;
        let tooz = match python {
            Some(python) => tooz_many(python, tooz_url, clients, groups).await,
            None => None,
        };
        let several = several.map_or("-".to_owned(), |(rate, processes)| {
            format!(
                "{rate:.0} ({processes} process{})",
                if processes == 1 { "" } else { "es" }
            )
        });
        let (tooz, ratio) = tooz.map_or(("-".to_owned(), "-".to_owned()), |rate| {
            (format!("{rate:.0}"), format!("{:.1}x", one / rate))
        });
        println!("{backend:<6} {clients:>12} {one:>20.0} {several:>28} {tooz:>22} {ratio:>13}");
    }
}

/// Measure Roster and tooz on one backend and print the rows.
async fn compare(backend: &str, scheme: &str, address: &str, groups: usize, members: usize) {
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
        natives.push(
            native_run(backend, address, format!("{namespace}n"), groups)
                .await
                .expect("native run"),
        );
        // Each Roster side runs as a task, as a service's code does (in a task of the
        // runtime's, which the driver's sockets wake directly).
        let url = roster_url.clone();
        let direct = tokio::spawn(async move { driver_throughput(&url, groups).await });
        directs.push(direct.await.expect("the driver's task"));
        let url = roster_url.clone();
        let roster = tokio::spawn(async move { roster_throughput(&url, groups).await });
        let roster = roster.await.expect("the client's task");
        let tooz = python
            .as_ref()
            .and_then(|python| tooz_figures(python, &tooz_url, groups, 0))
            .map(|t| Throughput {
                joins_per_s: t.joins_per_s,
                leaves_per_s: t.leaves_per_s,
                join_p50: Duration::ZERO,
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
    let p50_us = |of: Vec<Duration>| median(of.iter().map(|d| d.as_secs_f64() * 1e6).collect());
    let native_p50 = p50_us(natives.iter().map(|n| n.join_p50).collect());
    let roster_p50 = p50_us(rounds.iter().map(|(r, _)| r.join_p50).collect());
    println!(
        "{backend:<6} {:<34} native {native_p50:.0} us, Roster {roster_p50:.0} us: the Wasm and host tax {:.2}x",
        "join p50",
        roster_p50 / native_p50
    );
    println!(
        "{backend:<6} join -> handler on another host p50 {:.3} ms, p99 {:.3} ms (pushed by the driver's feed, no polling)",
        ms(p50),
        ms(p99)
    );
    many_clients(backend, &roster_url, &tooz_url, python.as_ref()).await;
}

/// Set (to `PATH GROUPS`, `PATH` one of `roster`, `driver` and `native`) to run that path's
/// creates, joins and leaves of `GROUPS` groups once, on the backend `ROSTER_BENCH_BACKENDS`
/// names (Redis when unset) at the server `ROSTER_REDIS` / `ROSTER_ETCD` names, and nothing
/// else: `tests/benches/profile-calls` counts the instructions of two such runs.
const PROFILE_VARIABLE: &str = "ROSTER_BENCH_PROFILE";

/// One profiled run (`PROFILE_VARIABLE` set), each path run as `compare` runs it.
async fn profile(spec: &str) {
    let (path, groups) = spec
        .split_once(' ')
        .unwrap_or_else(|| panic!("{PROFILE_VARIABLE} is `PATH GROUPS`"));
    let groups: usize = groups.parse().expect("a group count");
    let (backend, scheme, variable) = if selected("redis") {
        ("redis", "redis", REDIS_VARIABLE)
    } else {
        ("etcd", "etcd3+http", ETCD_VARIABLE)
    };
    let address =
        std::env::var(variable).unwrap_or_else(|_| panic!("{variable} names the {backend} server"));
    let namespace = format!("profile{}", uuid::Uuid::new_v4().simple());
    let url = format!("{scheme}://{address}?namespace={namespace}&timeout=300");
    match path {
        "roster" => {
            let roster = tokio::spawn(async move { roster_throughput(&url, groups).await });
            roster.await.expect("the client's task");
        }
        "driver" => {
            let direct = tokio::spawn(async move { driver_throughput(&url, groups).await });
            direct.await.expect("the driver's task");
        }
        "native" => {
            native_run(backend, &address, namespace, groups)
                .await
                .expect("native run");
        }
        other => panic!("{PROFILE_VARIABLE}: no path {other:?} (roster, driver or native)"),
    }
}

#[tokio::main]
async fn main() {
    if let Ok(spec) = std::env::var(WORKER_VARIABLE) {
        many_worker(&spec).await;
        return;
    }
    if let Ok(spec) = std::env::var(PROFILE_VARIABLE) {
        profile(&spec).await;
        return;
    }
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
