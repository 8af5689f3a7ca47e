//! The `roster-tui` binary: parse the command line, send logs to a file, pick the source
//! (`--demo` or `--connect`) and run the monitor (or `--no-tui`). Errors end here, with
//! context, after the terminal is restored.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use roster::client::Credentials;
use roster_tui::app::{App, AppOptions};
use roster_tui::clock::SystemClock;
use roster_tui::export::ExportFormat;
use roster_tui::source::Source;
use roster_tui::source::demo::{DemoOptions, DemoSource, built_plugin_dir};
use roster_tui::source::remote::RemoteSource;
use roster_tui::source::supervisor::{Backoff, supervise};
use roster_tui::terminal::TerminalGuard;
use roster_tui::theme::Theme;
use roster_tui::{headless, logging, runtime};

/// Terminal monitor for Roster: live groups, members, leaders, event history and plugin
/// health.
#[derive(Debug, Parser)]
#[command(version, about)]
#[command(group = clap::ArgGroup::new("source").required(true))]
struct Args {
    /// Run an embedded Roster host with generated traffic and example plugins.
    #[arg(long, group = "source")]
    demo: bool,
    /// Attach to a running `roster serve` daemon (host:port, http://host:port or
    /// https://host:port), or to whichever of several serving one store answers
    /// (host:port,host:port,...).
    #[arg(long, group = "source", value_name = "ADDR")]
    connect: Option<String>,
    /// With --connect: a file holding the daemon's bearer token (the token itself may be
    /// given in ROSTER_TOKEN instead).
    #[arg(long, env = "ROSTER_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// With --connect: CA certificates (PEM) to trust for https:// daemons.
    #[arg(long, env = "ROSTER_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// With --connect: a client certificate (PEM), for daemons that require one.
    #[arg(long, env = "ROSTER_CERT_FILE", requires = "key_file")]
    cert_file: Option<PathBuf>,
    /// With --connect: the client certificate's private key (PEM).
    #[arg(long, env = "ROSTER_KEY_FILE", requires = "cert_file")]
    key_file: Option<PathBuf>,
    /// Seed of the demo's generated traffic.
    #[arg(long, default_value_t = DemoOptions::default().seed)]
    seed: u64,
    /// Directory of the demo's handler components (default: the ones built with the monitor).
    #[arg(long, env = "ROSTER_TUI_PLUGIN_DIR")]
    plugin_dir: Option<PathBuf>,
    /// Print events as JSON lines instead of drawing (also when stdout is not a terminal).
    #[arg(long)]
    no_tui: bool,
    /// With --no-tui: stop after this many events.
    #[arg(long)]
    max_events: Option<u64>,
    /// Events of history kept on screen.
    #[arg(long, default_value_t = roster_tui::model::history::DEFAULT_CAPACITY)]
    history: usize,
    /// Most frames drawn per second.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Log file (default: roster-tui.log in the temporary directory).
    #[arg(long, env = "ROSTER_TUI_LOG_FILE")]
    log_file: Option<PathBuf>,
    /// Where Ctrl-s writes exports.
    #[arg(long, default_value = ".")]
    export_dir: PathBuf,
    /// Format of exports.
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    export_format: ExportFormat,
    /// No colours (also when NO_COLOR is set).
    #[arg(long)]
    no_color: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let log_file = args.log_file.clone().unwrap_or_else(logging::default_path);
    let _log = logging::init(&log_file)
        .with_context(|| format!("cannot open the log file {}", log_file.display()))?;
    tracing::info!(?args, "starting");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(run(args));
    // Plugin compilation may still be running on a blocking thread; do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    if let Err(e) = &result {
        tracing::error!("{e:#}");
    }
    result
}

async fn run(args: Args) -> anyhow::Result<()> {
    let (sender, updates) = tokio::sync::mpsc::channel(16_384);
    let name = match &args.connect {
        Some(address) => {
            let credentials = Credentials::from_command_line(
                args.token_file.as_deref(),
                args.ca_file.clone(),
                args.cert_file.clone().zip(args.key_file.clone()),
            )?;
            let source = RemoteSource::with_credentials(address, &credentials)
                .context("cannot use that daemon address and credentials")?;
            let name = source.describe();
            tokio::spawn(supervise(source, sender, Backoff::default()));
            name
        }
        None => {
            let plugin_dir = args.plugin_dir.clone().or_else(built_plugin_dir);
            let source = DemoSource::new(DemoOptions {
                plugin_dir,
                seed: args.seed,
                ..DemoOptions::default()
            });
            let name = source.describe();
            tokio::spawn(supervise(source, sender, Backoff::default()));
            name
        }
    };

    if args.no_tui || !std::io::stdout().is_terminal() {
        let mut out = std::io::stdout().lock();
        return headless::run(updates, &mut out, args.max_events)
            .await
            .context("cannot write events to stdout");
    }
    let theme = if args.no_color {
        Theme::new(false)
    } else {
        Theme::from_env()
    };
    let mut app = App::new(
        AppOptions {
            source: name,
            history: args.history,
            export_dir: args.export_dir,
            export_format: args.export_format,
            theme,
        },
        Arc::new(SystemClock),
    );
    let (guard, mut terminal) = TerminalGuard::enter().context("cannot set up the terminal")?;
    let result = runtime::run(&mut terminal, &mut app, updates, args.fps).await;
    drop(guard);
    result.context("the terminal failed")
}
