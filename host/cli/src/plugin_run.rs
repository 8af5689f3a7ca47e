//! `roster plugin run`: a handler run offline against recorded, fetched or generated events
//! ([`roster::offline`]), printing what it logs, the coordinator calls it makes with their
//! answers, its faults and per-batch timings. Text for people; JSON lines with `--json`
//! (one object per line, `"type"` saying which: `log`, `call`, `batch`, `incident`,
//! `summary`).
//!
//! The plugin's logs and calls are `tracing` events of the host; a layer of this command's own
//! prints them as they happen, so they come out in order with the batches.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::exit;
use crate::handler_flags::HandlerFlags;
use crate::output;
use roster::client::{Client, ClientError};
use roster::event::Event;
use roster::offline::{self, Batch, OfflineError, Report};
use roster::plugin::{CALL_TARGET, PluginEvent, PluginEventKind, PluginHost, PluginHostOptions};

/// Where guest log lines are emitted (the runtime's logging module).
const GUEST_LOG_TARGET: &str = "roster_wasm::runtime::logging";

/// Where the events come from.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct Source {
    /// A file of events as JSON lines (what `roster watch` prints).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// The history of the running daemon at --addr, from --from (its oldest kept by
    /// default) up to its newest revision when the run starts.
    #[arg(long)]
    pub from_daemon: bool,
    /// A generated workload of about this many events (the default, with 200).
    #[arg(long, value_name = "N")]
    pub generate: Option<usize>,
}

/// `roster plugin run`'s arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The handler component (.wasm).
    pub file: PathBuf,
    #[command(flatten)]
    pub source: Source,
    /// With --from-daemon: the first revision to replay.
    #[arg(long, requires = "from_daemon")]
    pub from: Option<u64>,
    /// With --generate: the workload's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub handler: HandlerFlags,
}

/// Install the subscriber that prints the plugin's logs and calls (stdout), and warnings of
/// the host itself (stderr, or as `RUST_LOG` says).
pub fn init_logging(json: bool) {
    let plugin = Targets::new()
        .with_target(GUEST_LOG_TARGET, tracing::Level::TRACE)
        .with_target(CALL_TARGET, tracing::Level::DEBUG);
    // The runner reports faults itself, and the replay store's gaps show as resyncs.
    let host = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,roster_wasm=off,roster_core=off"));
    tracing_subscriber::registry()
        .with(Printer { json }.with_filter(plugin))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(host),
        )
        .init();
}

/// Prints the plugin's log lines and calls.
struct Printer {
    json: bool,
}

#[derive(Default)]
struct Fields {
    message: String,
    call: String,
    args: String,
    answer: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl Fields {
    fn record(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = value,
            "call" => self.call = value,
            "args" => self.args = value,
            "answer" => self.answer = value,
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Printer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        let level = metadata.level().as_str().to_ascii_lowercase();
        let line = if metadata.target() == CALL_TARGET {
            if self.json {
                json!({"type": "call", "call": fields.call, "args": fields.args, "answer": fields.answer})
                    .to_string()
            } else {
                // One argument is traced as itself, several as a tuple.
                let args = if fields.args.starts_with('(') {
                    fields.args
                } else {
                    format!("({})", fields.args)
                };
                format!("call  {}{args} -> {}", fields.call, fields.answer)
            }
        } else if self.json {
            json!({"type": "log", "level": level, "message": fields.message}).to_string()
        } else {
            format!("log   {level:<5} {}", fields.message)
        };
        println!("{line}");
    }
}

/// Run the command; the exit code is 0 when the plugin handled every event without a fault,
/// 1 when it faulted, and as for other commands when the run could not be made.
pub async fn run(
    json: bool,
    args: RunArgs,
    daemon: impl FnOnce() -> Result<Client, ClientError>,
) -> u8 {
    let config = match args.handler.config(&args.file) {
        Ok(config) => config,
        Err(message) => {
            output::error(json, "usage", &message);
            return exit::USAGE;
        }
    };
    let Some(spec) = config.handler_specs(Path::new("")).into_iter().next() else {
        return exit::FAILURE;
    };
    let events = match events(&args, daemon).await {
        Ok(events) => events,
        Err(error) => return failed(json, &error),
    };
    let host = match PluginHost::new(PluginHostOptions::user_cache()) {
        Ok(host) => host,
        Err(error) => {
            output::error(json, "plugin-host", &error.to_string());
            return exit::FAILURE;
        }
    };
    let name = spec.name.clone();
    let source = describe_source(&args, &events);
    if json {
        println!(
            "{}",
            json!({"type": "start", "plugin": name, "events": events.len(), "source": source})
        );
    } else {
        println!("plugin {name}: {} events from {source}", events.len());
    }
    let report = offline::run(
        &host,
        spec,
        events,
        |batch| print_batch(json, batch),
        |incident| print_incident(json, incident),
    )
    .await;
    match report {
        Ok(report) => {
            print_summary(json, &report);
            if report.faulted() {
                exit::REFUSED
            } else {
                exit::OK
            }
        }
        Err(error) => failed(json, &error),
    }
}

fn failed(json: bool, error: &OfflineError) -> u8 {
    let (code, exit) = match error {
        OfflineError::BadLine { .. } | OfflineError::Read { .. } | OfflineError::Recording(_) => {
            ("bad-events", exit::USAGE)
        }
        OfflineError::Plugin(_) => ("invalid-component", exit::INVALID_COMPONENT),
        OfflineError::Daemon(error) => ("unreachable", exit::of(error)),
        OfflineError::Store(_) => ("failure", exit::FAILURE),
    };
    output::error(json, code, &error.to_string());
    exit
}

async fn events(
    args: &RunArgs,
    daemon: impl FnOnce() -> Result<Client, ClientError>,
) -> Result<Vec<Event>, OfflineError> {
    let source = &args.source;
    if let Some(path) = &source.events {
        let text = std::fs::read_to_string(path).map_err(|source| OfflineError::Read {
            path: path.clone(),
            source,
        })?;
        return offline::parse_events(&text);
    }
    if source.from_daemon {
        return offline::daemon_events(&daemon()?, args.from).await;
    }
    offline::generated_events(args.seed, source.generate.unwrap_or(200)).await
}

fn describe_source(args: &RunArgs, events: &[Event]) -> String {
    let revisions = match (events.first(), events.last()) {
        (Some(first), Some(last)) => {
            format!(" (revisions {}-{})", first.revision(), last.revision())
        }
        _ => String::new(),
    };
    let from = if let Some(path) = &args.source.events {
        path.display().to_string()
    } else if args.source.from_daemon {
        "the daemon".to_owned()
    } else {
        format!("a generated workload (seed {})", args.seed)
    };
    format!("{from}{revisions}")
}

fn print_batch(json: bool, batch: &Batch) {
    let micros = batch.took.as_secs_f64() * 1e6;
    if json {
        println!(
            "{}",
            json!({"type": "batch", "first": batch.first, "last": batch.last,
                   "events": batch.events, "micros": micros.round()})
        );
    } else {
        println!(
            "batch revisions {}-{}: {} events handled in {:.2} ms",
            batch.first,
            batch.last,
            batch.events,
            micros / 1e3
        );
    }
}

fn print_incident(json: bool, incident: &PluginEvent) {
    if json {
        println!("{}", json!({"type": "incident", "kind": incident.kind}));
        return;
    }
    let text = match &incident.kind {
        PluginEventKind::Fault { reason, revisions } => {
            format!("FAULT {reason} (revisions {}-{})", revisions.0, revisions.1)
        }
        PluginEventKind::Restarted => "restarted after the fault".to_owned(),
        PluginEventKind::EventSkipped { revision } => {
            format!("SKIPPED event {revision}: it faulted twice on its own")
        }
        PluginEventKind::Quarantined { duration } => {
            format!("quarantined for {duration:?} after repeated faults")
        }
        PluginEventKind::Resynced { revision } => format!("resync at revision {revision}"),
        PluginEventKind::Reloaded => "reloaded".to_owned(),
        PluginEventKind::ReloadFailed { error } => format!("reload failed: {error}"),
        PluginEventKind::Stopped => "stopped".to_owned(),
    };
    println!("plugin {text}");
}

fn print_summary(json: bool, report: &Report) {
    let stats = &report.stats;
    let faults = report
        .incidents
        .iter()
        .filter(|i| matches!(i.kind, PluginEventKind::Fault { .. }))
        .count();
    if json {
        println!(
            "{}",
            json!({"type": "summary", "faulted": report.faulted(), "faults": faults,
                   "stats": stats, "loaded_from_cache": report.load.cached,
                   "load_micros": report.load.took.as_micros()})
        );
        return;
    }
    println!(
        "summary: {} events delivered, {} skipped, {faults} faults, {} calls answered with an \
         error by the plugin; call p50 {:.3} ms, p99 {:.3} ms; loaded in {:.0} ms{}",
        stats.events_delivered,
        stats.events_skipped,
        stats.errors,
        stats.call_p50.as_secs_f64() * 1e3,
        stats.call_p99.as_secs_f64() * 1e3,
        report.load.took.as_secs_f64() * 1e3,
        if report.load.cached {
            " (from the cache)"
        } else {
            ""
        }
    );
    println!(
        "{}",
        if report.faulted() {
            "result: the plugin faulted"
        } else {
            "result: ok"
        }
    );
}
