//! `roster`: the daemon (`roster serve`) and the operator's command line for it.
//!
//! Every command but `serve` and `plugin check` talks to a running daemon (`--addr`, or
//! `ROSTER_ADDR`, default `127.0.0.1:7878`). Output is a table for people by default and
//! JSON with `--json`; `watch` always prints JSON lines. Exit codes are in [`exit`].

mod commands;
mod exit;
mod handler_flags;
mod keepalive;
mod lock;
mod output;
mod plugin_attach;
mod plugin_conformance;
mod plugin_new;
mod plugin_run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Group membership and leader election: the Roster daemon and its command line.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about, after_help = exit::HELP)]
struct Cli {
    /// The daemon's address (host:port, http://host:port, or https://host:port for one serving
    /// TLS), or several daemons serving one store (host:port,host:port,...): calls go on
    /// through the next when one is gone.
    #[arg(
        long,
        global = true,
        env = "ROSTER_ADDR",
        default_value = "127.0.0.1:7878"
    )]
    addr: String,
    /// A file holding the bearer token for a daemon that asks for one (the token itself may
    /// be given in ROSTER_TOKEN instead).
    #[arg(long, global = true, env = "ROSTER_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// CA certificates (PEM) to trust for https:// daemons, besides the system's.
    #[arg(long, global = true, env = "ROSTER_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// A client certificate (PEM) for daemons that require one (with --key-file).
    #[arg(long, global = true, env = "ROSTER_CERT_FILE", requires = "key_file")]
    cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, global = true, env = "ROSTER_KEY_FILE", requires = "cert_file")]
    key_file: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (logs go to stderr; filter them with RUST_LOG, e.g.
    /// RUST_LOG=info,roster::access=info for access logs).
    Serve {
        /// Configuration file (TOML): listen, backend, membership_timeout, history,
        /// max_sessions, cache_dir, [tls], [[tokens]], [[handlers]].
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Address to listen on (overrides the configuration).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Backend URL (overrides the configuration), e.g. memory://roster?timeout=10.
        #[arg(long)]
        backend: Option<String>,
        /// Compile plugins at every start instead of caching them (in the configuration's
        /// cache_dir, else the user's cache directory).
        #[arg(long)]
        no_cache: bool,
        /// Listen beyond localhost without TLS or without tokens. Anyone who reaches the
        /// address can then read and change every group; the daemon warns at every start.
        #[arg(long)]
        insecure: bool,
    },
    /// Work with bearer tokens for the daemon's configuration.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The daemon's status.
    Status,
    /// List groups with their member count and leader.
    Groups,
    /// List the members of a group.
    Members {
        /// The group.
        group: String,
    },
    /// Create a group.
    CreateGroup {
        /// The group.
        group: String,
    },
    /// Delete an empty group.
    DeleteGroup {
        /// The group.
        group: String,
    },
    /// Join a group: opens a session and keeps it alive until interrupted, then leaves.
    Join {
        /// The group.
        group: String,
        /// The member id to join as.
        #[arg(long)]
        member: String,
        /// Capabilities (text, JSON by convention).
        #[arg(long, default_value = "")]
        capabilities: String,
        /// Create the group if it does not exist.
        #[arg(long)]
        create: bool,
        /// Session time to live in seconds (the daemon's membership timeout by default).
        #[arg(long)]
        ttl: Option<f64>,
        /// Return at once instead of heartbeating: the membership lasts one TTL unless
        /// something heartbeats the printed session.
        #[arg(long)]
        no_keepalive: bool,
    },
    /// Leave a group, as the member of an open session.
    Leave {
        /// The group.
        group: String,
        /// The session (printed by `join`).
        #[arg(long)]
        session: String,
    },
    /// Show a group's leader and its term.
    Leader {
        /// The group.
        group: String,
    },
    /// List the locks in use: holders (mode, fencing token) and waiters in order.
    Locks,
    /// Run a command while holding a lock (exclusive unless --shared), as `flock` does: the
    /// lock is held by a session heartbeated meanwhile and released when the command ends.
    /// The command gets the fencing token in ROSTER_LOCK_TOKEN; it is killed if the session
    /// is lost. Exits with the command's exit code.
    Lock {
        /// The lock.
        name: String,
        /// The member id to hold it as (default: lock-HOSTNAME-PID).
        #[arg(long)]
        member: Option<String>,
        /// Hold it shared (readers) rather than exclusive.
        #[arg(long)]
        shared: bool,
        /// Give up (exit code 1) when the lock is not acquired within this many seconds
        /// (0: do not wait). Waits for it by default.
        #[arg(long)]
        timeout: Option<f64>,
        /// Session time to live in seconds (the daemon's membership timeout by default): how
        /// long the lock outlives this process if it dies.
        #[arg(long)]
        ttl: Option<f64>,
        /// The command and its arguments (after `--`).
        #[arg(required = true, last = true)]
        command: Vec<String>,
    },
    /// Print events as JSON lines, following new ones.
    Watch {
        /// Only this group's events.
        group: Option<String>,
        /// Start at this revision (resume after the last one printed with its number + 1).
        #[arg(long)]
        from: Option<u64>,
        /// The store `--from` is a revision of (the one the interrupted watch names): a
        /// daemon serving another one since starts with a resync naming it.
        #[arg(long)]
        store: Option<String>,
    },
    /// List plugins with their counters.
    Plugins,
    /// Work with plugin components.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Make a new random token: prints it once, with the [[tokens]] entry that names it by
    /// its hash (the daemon's configuration never holds the token itself).
    New {
        /// The token's name, shown in access logs.
        #[arg(long)]
        name: String,
        /// What it may do.
        #[arg(long, value_enum)]
        role: commands::TokenRole,
        /// Limit it to groups whose names start with these prefixes (comma-separated).
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Validate a component against a plugin world and list its imports and exports.
    Check {
        /// The component file.
        file: PathBuf,
        /// The world to check against.
        #[arg(long, value_enum, default_value = "handler")]
        world: commands::World,
        /// Do not cache the compiled component (by default a valid one is cached in the user's
        /// cache directory, so the daemon loads it without compiling).
        #[arg(long)]
        no_cache: bool,
    },
    /// Write a new plugin project from a template: a handler that logs each event and counts
    /// each group's members (or, with --world driver, a Rust driver: Roster's file driver),
    /// the WIT it is built against, its language's build files, a README with the commands
    /// that follow, and a test (test.sh).
    New {
        /// The plugin's name (lowercase letters, digits and dashes): the component is
        /// NAME.wasm.
        name: String,
        /// Its language.
        #[arg(long, value_enum, default_value = "rust")]
        lang: plugin_new::Language,
        /// The world it implements: an event handler, or a backend driver (Rust only).
        #[arg(long, value_enum, default_value = "handler")]
        world: plugin_new::PluginWorld,
        /// Where to write it (./NAME by default); must be empty or absent.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build the handler project in DIR (default: the current directory) by its language's
    /// recipe into NAME.wasm, saying which tool is missing and how to install it (exit 6).
    Build {
        /// The project's directory.
        dir: Option<PathBuf>,
    },
    /// Run a handler offline against events (a file of JSON lines as `roster watch` prints
    /// them, a running daemon's history, or a generated workload), in the host's sandbox
    /// with the grants and limits given: prints its logs, the coordinator calls it makes
    /// with their answers, its faults and each batch's time. Exits 1 if it faulted.
    Run(Box<plugin_run::RunArgs>),
    /// Attach a handler to the running daemon at --addr, or replace the one of that name,
    /// without a restart (needs an admin token on a daemon with tokens). The component is
    /// sent to the daemon; --dir is a directory on the daemon's machine. It runs until the
    /// daemon stops: the command prints the [[handlers]] entry that attaches it at every start.
    Attach {
        /// The handler component (.wasm).
        file: PathBuf,
        #[command(flatten)]
        handler: Box<handler_flags::HandlerFlags>,
    },
    /// Detach a handler from the running daemon at --addr (needs an admin token on a daemon
    /// with tokens).
    Detach {
        /// The plugin's name.
        name: String,
    },
    /// Certify a backend driver component: run Roster's conformance suites (membership and
    /// locks) and the multi-host scenarios against it on the store --url names, each test on
    /// a namespace or directory of its own, printing each result. Exits 1 if a test failed,
    /// 5 if FILE is not a driver.
    Conformance(Box<plugin_conformance::ConformanceArgs>),
    /// A host process of `plugin conformance`'s multi-host scenarios: URL MEMBER GROUP
    /// [HANDLER.wasm | --lock LOCK]; prints what it sees as JSON lines until stdin closes.
    #[command(hide = true)]
    ConformanceHost {
        /// URL MEMBER GROUP [HANDLER.wasm | --lock LOCK].
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve { .. });
    let running_plugin = matches!(
        cli.command,
        Command::Plugin {
            command: PluginCommand::Run(_)
        }
    );
    if running_plugin {
        plugin_run::init_logging(cli.json);
    } else {
        // Access logs (target `roster::access`) are opt-in: a busy daemon answers thousands
        // of calls a second.
        let certifying = matches!(
            cli.command,
            Command::Plugin {
                command: PluginCommand::Conformance(_)
            }
        );
        init_logging(if serving {
            "info,roster::access=warn"
        } else if certifying {
            // The suites break sessions and stores on purpose: the warnings that follow
            // are expected. RUST_LOG=warn shows them (and the driver's own).
            "error"
        } else {
            "warn"
        });
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("roster: cannot start the runtime: {error}");
            return exit::FAILURE.into();
        }
    };
    runtime.block_on(commands::run(cli))
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
