//! The fault soak (`roster_tests::soak`): host processes on one store doing a random workload
//! while kills, pauses, partitions and server restarts are injected, then the history checker.
//!
//! `cargo bench -p roster-tests --bench soak -- [--backend redis|etcd|file]... [--seconds N]
//! [--seed N] [--hosts N] [--timeout SECONDS] [--partitions auto|required|off]
//! [--keep-records] [--roster PATH] [--daemons N]`
//!
//! With a `roster` executable (`--roster`, or the release build beside `roster-probe`), N
//! daemons (2 by default) serve the store and two more hosts reach it through them, and
//! daemons are killed and restarted among the faults.
//!
//! Without `--backend` it soaks each of the three in turn; without `--seed`, the seed is drawn
//! (and printed, so a failing run can be repeated). Prints the faults injected by kind, the
//! events checked, the violations, and the worst expiry delay; exits 1 on any violation.

use std::collections::BTreeMap;
use std::time::Duration;

use roster_tests::soak::run::{self, Backend, Partitions, Soak};

struct Args {
    backends: Vec<Backend>,
    seconds: u64,
    seed: Option<u64>,
    hosts: usize,
    timeout: f64,
    partitions: Partitions,
    keep_records: bool,
    roster: Option<std::path::PathBuf>,
    daemons: usize,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        backends: Vec::new(),
        seconds: 120,
        seed: None,
        hosts: 5,
        timeout: 3.0,
        partitions: Partitions::IfPossible,
        keep_records: false,
        roster: None,
        daemons: 2,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = |name: &str| given.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            // What `cargo bench` adds.
            "--bench" => {}
            "--backend" => args.backends.push(value("--backend")?.parse()?),
            "--seconds" => args.seconds = number(&value("--seconds")?)?,
            "--keep-records" => args.keep_records = true,
            "--roster" => args.roster = Some(value("--roster")?.into()),
            "--daemons" => args.daemons = number(&value("--daemons")?)?,
            "--seed" => args.seed = Some(number(&value("--seed")?)?),
            "--hosts" => args.hosts = number(&value("--hosts")?)?,
            "--timeout" => args.timeout = number(&value("--timeout")?)?,
            "--partitions" => {
                args.partitions = match value("--partitions")?.as_str() {
                    "auto" => Partitions::IfPossible,
                    "required" => Partitions::Required,
                    "off" => Partitions::Off,
                    other => return Err(format!("--partitions {other}: auto, required or off")),
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.roster.is_none() {
        // The daemon the same `cargo bench` profile built, when it did (`cargo bench -p
        // roster-cli` or `cargo build --release -p roster-cli`).
        let beside =
            std::path::Path::new(env!("CARGO_BIN_EXE_roster-probe")).with_file_name("roster");
        if beside.exists() {
            args.roster = Some(beside);
        } else if args.daemons > 0 {
            eprintln!(
                "soak: no daemons: {} is not built (cargo build --release -p roster-cli), and \
                 no --roster was given",
                beside.display()
            );
        }
    }
    if args.backends.is_empty() {
        args.backends = vec![Backend::Redis, Backend::Etcd, Backend::File];
    }
    if args.hosts == 0 || args.timeout <= 0.0 {
        return Err("--hosts and --timeout must be above zero".into());
    }
    Ok(args)
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("not a number: {text:?}"))
}

fn main() {
    let args = parse().unwrap_or_else(|problem| {
        eprintln!("soak: {problem}");
        std::process::exit(2);
    });
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..1_000_000));
    let mut failed = false;
    for backend in &args.backends {
        let soak = Soak {
            backend: *backend,
            seed,
            duration: Duration::from_secs(args.seconds),
            hosts: args.hosts,
            timeout: Duration::from_secs_f64(args.timeout),
            expiry_bound: Duration::from_secs(3),
            partitions: args.partitions,
            probe: env!("CARGO_BIN_EXE_roster-probe").into(),
            keep_records: args.keep_records,
            roster: args.roster.clone(),
            daemons: args.daemons,
            daemon_clients: if args.daemons > 0 { 2 } else { 0 },
        };
        let outcome = run::run(&soak);
        failed |= !outcome.report.violations.is_empty();
        print(&soak, &outcome);
    }
    if failed {
        std::process::exit(1);
    }
}

fn print(soak: &Soak, outcome: &run::Outcome) {
    let report = &outcome.report;
    println!(
        "soak on {}: seed {}, {} s of faults, {} hosts, {} more through {} daemons, and an \
         observer; membership timeout {} s, {}",
        soak.backend,
        soak.seed,
        soak.duration.as_secs(),
        soak.hosts,
        if outcome.daemons > 0 {
            soak.daemon_clients
        } else {
            0
        },
        outcome.daemons,
        soak.timeout.as_secs_f64(),
        if outcome.partitioned {
            "with partitions"
        } else {
            "no partitions"
        }
    );
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for fault in &outcome.faults {
        *kinds.entry(fault.kind.to_string()).or_default() += 1;
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!(
        "  faults injected: {} ({})",
        outcome.faults.len(),
        kinds.join(", ")
    );
    println!(
        "  events checked: {} in {} store(s), read {} times by {} host processes; final states \
         compared: {}",
        report.events, report.stores, report.observations, report.hosts, report.finals
    );
    let seconds = |d: Option<Duration>| {
        d.map_or_else(
            || "none".to_owned(),
            |d| format!("{:.3} s", d.as_secs_f64()),
        )
    };
    println!(
        "  expiries seen: {}; worst time from a fault to its host's member in no group: {} \
         (timeout {} s + bound {} s); worst leader failover: {}",
        report.expiries,
        seconds(report.worst_time_to_gone),
        soak.timeout.as_secs_f64(),
        soak.expiry_bound.as_secs(),
        seconds(report.worst_failover),
    );
    if outcome.daemons > 0 {
        println!(
            "  worst time from a daemon's kill to a heartbeat through again, per client: {}",
            seconds(report.worst_daemon_failover)
        );
    }
    if !report.worst_gone.is_empty() {
        println!("  the slowest to go: {}", report.worst_gone);
    }
    println!("  violations: {}", report.violations.len());
    if soak.keep_records && report.violations.is_empty() {
        println!("  records kept in {}", outcome.records.display());
    }
    if report.violations.is_empty() {
        return;
    }
    let origin = outcome.faults.first().map_or(0, |f| f.start);
    println!("  fault schedule (seconds from the first fault):");
    for fault in &outcome.faults {
        println!(
            "    {:>8.3} +{:.3} s  {} {}",
            (fault.start.saturating_sub(origin)) as f64 / 1e9,
            (fault.end.saturating_sub(fault.start)) as f64 / 1e9,
            fault.kind,
            fault.target.as_deref().unwrap_or("(server)")
        );
    }
    for violation in &report.violations {
        println!("  VIOLATION {violation}");
    }
    println!(
        "  records kept in {}; run again with --seed {}",
        outcome.records.display(),
        soak.seed
    );
}
