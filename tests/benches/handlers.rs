//! Figures for handler plugins: `cargo bench -p roster-tests --bench handlers`.
//!
//! For the Rust, JavaScript and Python examples: cold load (compile) and cached load times,
//! delivery throughput (events per second through one handler, batched), and
//! event-to-handler latency (a join committed until the handler has returned from the call
//! that delivered it). Set `ROSTER_BENCH_QUICK=1` for a fast smoke run.

use std::path::Path;
use std::time::{Duration, Instant};

use roster::plugin::{HandlerHandle, HandlerSpec, PluginHost, PluginHostOptions};
use roster::{Capabilities, Coordinator, GroupId, Heartbeat, get_coordinator};
use roster_tests::plugin;

fn quick() -> bool {
    std::env::var_os("ROSTER_BENCH_QUICK").is_some()
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}

fn host(cache: &Path) -> PluginHost {
    PluginHost::new(PluginHostOptions {
        cache_dir: Some(cache.to_owned()),
    })
    .expect("plugin host")
}

async fn coordinator(url: &str, member: &str) -> Coordinator {
    let c = get_coordinator(url, member).expect("valid");
    c.start_with(Heartbeat::Manual).await.expect("start");
    c
}

async fn delivered_at_least(handle: &HandlerHandle, count: u64) {
    while handle.events_delivered() < count {
        tokio::task::yield_now().await;
    }
}

async fn measure(language: &str, file: &str, memory_mib: usize, events: u64, latency_rounds: u64) {
    let path = plugin(file);
    if !path.exists() {
        println!("{language:<7} skipped: {file} was not built on this machine");
        return;
    }
    let cache = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    host(cache.path()).check(&path).expect("component loads");
    let cold = started.elapsed();
    let started = Instant::now();
    let plugins = host(cache.path());
    plugins.check(&path).expect("component loads");
    let cached = started.elapsed();

    let url = format!("memory://{}?history=4000000", uuid::Uuid::new_v4().simple());
    let member = coordinator(&url, "bench-member").await;
    member.create_group("bench").await.expect("create");
    let mut spec = HandlerSpec::new(language, &path);
    spec.groups = vec![GroupId::new("bench").expect("valid")];
    spec.limits.queue_events = 4_000_000;
    spec.limits.call_deadline = Duration::from_secs(5);
    spec.limits.memory_bytes = memory_mib << 20;
    let mut faults = plugins.events();
    let handle = plugins.attach_handler(&member, spec).await.expect("attach");
    while handle.stats().resyncs == 0 {
        tokio::task::yield_now().await;
    }

    // Throughput: the store produces events far faster than a handler takes them, so the
    // handler is the bottleneck and gets full batches.
    let caps = Capabilities::from("{\"weight\": 1}");
    let started = Instant::now();
    for _ in 0..events / 2 {
        member
            .join_group_with("bench", caps.clone())
            .await
            .expect("join");
        member.leave_group("bench").await.expect("leave");
    }
    delivered_at_least(&handle, events).await;
    let elapsed = started.elapsed();
    let per_second = events as f64 / elapsed.as_secs_f64();

    // Latency: one event at a time, from the join's commit to the handler having taken it.
    let mut samples = Vec::new();
    let mut delivered = handle.stats().events_delivered;
    for _ in 0..latency_rounds {
        let t = Instant::now();
        member
            .join_group_with("bench", caps.clone())
            .await
            .expect("join");
        delivered_at_least(&handle, delivered + 1).await;
        samples.push(t.elapsed());
        member.leave_group("bench").await.expect("leave");
        delivered += 2;
        delivered_at_least(&handle, delivered).await;
    }
    let p50 = percentile(&mut samples, 0.50);
    let p99 = percentile(&mut samples, 0.99);
    let stats = handle.stats();
    println!(
        "{language:<7} load cold {:>12}  cached {:>10}   throughput {:>9.0} events/s ({events} events)   latency p50 {} p99 {}   (calls {}, traps {})",
        ms(cold),
        ms(cached),
        per_second,
        ms(p50),
        ms(p99),
        stats.calls,
        stats.traps
    );
    while let Ok(event) = faults.try_recv() {
        if let roster::plugin::PluginEventKind::Fault { reason, .. } = event.kind {
            println!("        fault: {reason}");
        }
    }
    handle.detach().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let scale: u64 = if quick() { 100 } else { 1 };
    println!(
        "Roster handler plugins ({})",
        if quick() { "quick run" } else { "full run" }
    );
    runtime.block_on(async {
        // Interpreted guests keep garbage between collections: give them room (README,
        // "Limits").
        measure(
            "rust",
            "rust-tally.wasm",
            32,
            1_000_000 / scale,
            2_000 / scale,
        )
        .await;
        measure(
            "js",
            "js-hash-ring.wasm",
            128,
            100_000 / scale,
            1_000 / scale,
        )
        .await;
        measure(
            "python",
            "python-quorum.wasm",
            128,
            100_000 / scale,
            1_000 / scale,
        )
        .await;
    });
}
