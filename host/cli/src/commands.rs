//! One function per command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::StreamExt;
use roster::client::{Client, ClientError, Credentials, StreamItem};
use roster::{GroupId, api};
use roster_server::{ServeConfig, Server};
use serde::Serialize;

use crate::{
    Cli, Command, PluginCommand, TokenCommand, exit, keepalive, lock, output, plugin_attach,
};

/// The plugin worlds `plugin check` knows.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum World {
    /// `roster:coordination/handler`: membership-event handlers.
    Handler,
    /// `roster:coordination/driver`: backend drivers.
    Driver,
}

impl World {
    fn name(self) -> &'static str {
        match self {
            World::Handler => "roster:coordination/handler",
            World::Driver => "roster:coordination/driver",
        }
    }
}

/// Run the command; returns the exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let json = cli.json;
    let code = match cli.command {
        Command::Serve {
            config,
            listen,
            backend,
            no_cache,
            insecure,
        } => serve(json, config, listen, backend, no_cache, insecure).await,
        Command::Token {
            command: TokenCommand::New { name, role, groups },
        } => token_new(json, &name, role, &groups),
        Command::Plugin {
            command:
                PluginCommand::Check {
                    file,
                    world,
                    no_cache,
                },
        } => plugin_check(json, &file, world, no_cache),
        Command::Plugin {
            command:
                PluginCommand::New {
                    name,
                    lang,
                    world,
                    dir,
                },
        } => plugin_new(json, &name, lang, world, dir.as_deref()),
        Command::Plugin {
            command: PluginCommand::Build { dir },
        } => plugin_build(json, dir.as_deref()),
        Command::Plugin {
            command: PluginCommand::Conformance(args),
        } => crate::plugin_conformance::run(json, *args).await,
        Command::Plugin {
            command: PluginCommand::ConformanceHost { args },
        } => match roster_conformance::probe::run_host(&args).await {
            Ok(()) => exit::OK,
            Err(error) => {
                output::error(json, "host", &error.to_string());
                exit::FAILURE
            }
        },
        Command::Plugin {
            command: PluginCommand::Run(args),
        } => {
            let daemon = || {
                client(
                    &cli.addr,
                    cli.token_file,
                    cli.ca_file,
                    cli.cert_file.zip(cli.key_file),
                )
            };
            crate::plugin_run::run(json, *args, daemon).await
        }
        command => match client(
            &cli.addr,
            cli.token_file,
            cli.ca_file,
            cli.cert_file.zip(cli.key_file),
        ) {
            Ok(client) => match command {
                Command::Lock {
                    name,
                    member,
                    shared,
                    timeout,
                    ttl,
                    command,
                } => match lock_run(name, member, shared, timeout, ttl, command) {
                    Ok(job) => lock::run(&client, json, job).await,
                    Err(error) => {
                        output::error(json, &error.code(), &error.to_string());
                        exit::of(&error)
                    }
                },
                Command::Plugin {
                    command: PluginCommand::Attach { file, handler },
                } => finish(
                    json,
                    plugin_attach::attach(&client, json, &file, &handler).await,
                ),
                Command::Plugin {
                    command: PluginCommand::Detach { name },
                } => finish(json, plugin_attach::detach(&client, json, &name).await),
                command => match remote(&client, json, command).await {
                    Ok(()) => exit::OK,
                    Err(error) => {
                        output::error(json, &error.code(), &error.to_string());
                        exit::of(&error)
                    }
                },
            },
            Err(error) => {
                output::error(json, &error.code(), &error.to_string());
                exit::of(&error)
            }
        },
    };
    code.into()
}

fn plugin_new(
    json: bool,
    name: &str,
    lang: crate::plugin_new::Language,
    world: crate::plugin_new::PluginWorld,
    dir: Option<&std::path::Path>,
) -> u8 {
    use crate::plugin_new::PluginWorld;
    match crate::plugin_new::new(name, lang, world, dir) {
        Ok(dir) => {
            if json {
                println!("{}", serde_json::json!({"name": name, "dir": dir}));
            } else {
                let (what, next) = match world {
                    PluginWorld::Handler => (
                        "handler",
                        format!(
                            "roster plugin run {name}.wasm --events test/events.jsonl\n  \
                             roster plugin attach {name}.wasm"
                        ),
                    ),
                    PluginWorld::Driver => (
                        "driver",
                        format!(
                            "roster plugin conformance {name}.wasm --url file:///tmp/{name}-store"
                        ),
                    ),
                };
                println!(
                    "wrote the {what} {name} in {}; next:\n  cd {}\n  roster plugin build\n  {next}",
                    dir.display(),
                    dir.display()
                );
            }
            exit::OK
        }
        Err(error) => {
            output::error(json, "usage", &error.to_string());
            error.exit_code()
        }
    }
}

fn plugin_build(json: bool, dir: Option<&std::path::Path>) -> u8 {
    match crate::plugin_new::build(dir.unwrap_or(std::path::Path::new("."))) {
        Ok(component) => {
            if json {
                println!("{}", serde_json::json!({"component": component}));
            } else {
                println!("built {}", component.display());
            }
            exit::OK
        }
        Err(error) => {
            let code = match error.exit_code() {
                exit::TOOLCHAIN_MISSING => "toolchain-missing",
                exit::USAGE => "usage",
                _ => "build-failed",
            };
            output::error(json, code, &error.to_string());
            error.exit_code()
        }
    }
}

/// The exit code of a remote command's result, its error said first.
fn finish(json: bool, result: Result<(), ClientError>) -> u8 {
    match result {
        Ok(()) => exit::OK,
        Err(error) => {
            output::error(json, &error.code(), &error.to_string());
            exit::of(&error)
        }
    }
}

/// A number of seconds from the command line (`--ttl`, `--timeout`): finite, and positive
/// unless `zero` is allowed.
fn seconds(flag: &str, value: f64, zero: bool) -> Result<Duration, ClientError> {
    if value.is_finite() && (value > 0.0 || (zero && value == 0.0)) {
        return Ok(Duration::from_secs_f64(value));
    }
    let expected = if zero {
        "zero or more"
    } else {
        "a positive number of"
    };
    Err(ClientError::Refused {
        status: 400,
        code: "bad-request".into(),
        message: format!("{flag} {value} must be {expected} seconds"),
    })
}

/// `roster lock`'s arguments, checked.
fn lock_run(
    name: String,
    member: Option<String>,
    shared: bool,
    timeout: Option<f64>,
    ttl: Option<f64>,
    command: Vec<String>,
) -> Result<lock::LockRun, ClientError> {
    let member = member.unwrap_or_else(|| {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".to_owned());
        format!("lock-{host}-{}", std::process::id())
    });
    Ok(lock::LockRun {
        name,
        member,
        shared,
        timeout: timeout.map(|t| seconds("--timeout", t, true)).transpose()?,
        ttl: ttl.map(|t| seconds("--ttl", t, false)).transpose()?,
        command,
    })
}

/// A client of the daemons at `address`, with the token (`--token-file`, else
/// `ROSTER_TOKEN`), CA and client certificate the command line names.
fn client(
    address: &str,
    token_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    identity: Option<(PathBuf, PathBuf)>,
) -> Result<Client, ClientError> {
    let credentials = Credentials::from_command_line(token_file.as_deref(), ca_file, identity)?;
    Client::with_credentials(address, &credentials)
}

/// A token's role, as the command line names it.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum TokenRole {
    /// Reads only.
    Read,
    /// Reads and sessions.
    Member,
    /// Everything.
    Admin,
}

/// `roster token new`: a random token, and the configuration entry naming its hash.
fn token_new(json: bool, name: &str, role: TokenRole, groups: &[String]) -> u8 {
    let mut bytes = [0u8; 32];
    if let Err(error) = getrandom::fill(&mut bytes) {
        output::error(
            json,
            "no-randomness",
            &format!("cannot draw random bytes: {error}"),
        );
        return exit::FAILURE;
    }
    let token: String = std::iter::once("roster_".to_owned())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    let hash = roster_server::token_hash(&token);
    let role = match role {
        TokenRole::Read => "read",
        TokenRole::Member => "member",
        TokenRole::Admin => "admin",
    };
    let quoted = |text: &str| serde_json::to_string(text).unwrap_or_default();
    let mut entry = format!(
        "[[tokens]]\nname = {}\nrole = \"{role}\"\nsha256 = \"{hash}\"\n",
        quoted(name)
    );
    if !groups.is_empty() {
        let list: Vec<String> = groups.iter().map(|g| quoted(g)).collect();
        entry.push_str(&format!("groups = [{}]\n", list.join(", ")));
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"token": token, "sha256": hash, "config": entry})
        );
    } else {
        println!("token: {token}");
        println!(
            "(give it to the client, e.g. in ROSTER_TOKEN or a --token-file; it is shown only now)"
        );
        println!();
        print!("{entry}");
    }
    exit::OK
}

async fn serve(
    json: bool,
    config: Option<std::path::PathBuf>,
    listen: Option<std::net::SocketAddr>,
    backend: Option<String>,
    no_cache: bool,
    insecure: bool,
) -> u8 {
    // Before anything else, and above all before the address is announced: a supervisor
    // may stop the daemon as soon as it reads that line.
    let signals = StopSignals::install();
    let config = match config {
        Some(path) => ServeConfig::load(&path),
        None => Ok(ServeConfig::default()),
    };
    let mut config = match config {
        Ok(config) => config,
        Err(error) => {
            output::error(json, "invalid-configuration", &error.to_string());
            return exit::USAGE;
        }
    };
    if let Some(listen) = listen {
        config.listen = listen;
    }
    if let Some(backend) = backend {
        config.backend = backend;
    }
    config.no_cache |= no_cache;
    config.insecure |= insecure;
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(error) => {
            output::error(json, "cannot-start", &error.to_string());
            return exit::USAGE;
        }
    };
    // Scripts and tests read the address (the real port when asked for port 0).
    println!("listening on {}", server.local_addr());
    match server.run(signals.received()).await {
        Ok(()) => exit::OK,
        Err(error) => {
            output::error(json, "serve-failed", &error.to_string());
            exit::FAILURE
        }
    }
}

/// SIGINT and SIGTERM, listened for from the moment this is made. A signal that arrives
/// before anything awaits [`StopSignals::received`] is kept for it: installing the handlers
/// only once serving began left a window in which SIGTERM still had its default action and
/// killed the daemon without a graceful shutdown.
pub(crate) struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Install the handlers (inside the runtime).
    pub(crate) fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(signal) => Some(signal),
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for {name}");
                    None
                }
            };
            Self {
                interrupt: listen(SignalKind::interrupt(), "SIGINT"),
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Completes on the first SIGINT or SIGTERM since [`StopSignals::install`].
    pub(crate) async fn received(self) {
        #[cfg(unix)]
        {
            async fn next(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = next(self.interrupt) => {}
                () = next(self.terminate) => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn plugin_check(json: bool, file: &std::path::Path, world: World, no_cache: bool) -> u8 {
    use roster::plugin::{PluginError, PluginHost, PluginHostOptions};
    let options = if no_cache {
        PluginHostOptions::no_cache()
    } else {
        PluginHostOptions::user_cache()
    };
    let checked = PluginHost::new(options).and_then(|host| match world {
        World::Handler => host.check(file),
        World::Driver => host.check_driver(file),
    });
    let checked = match checked {
        Err(error @ PluginError::Engine(_)) => {
            output::error(json, "plugin-host", &error.to_string());
            return exit::FAILURE;
        }
        other => other.map_err(|e| e.to_string()),
    };
    match checked {
        Ok(report) => {
            #[derive(Serialize)]
            struct Report<'a> {
                file: &'a std::path::Path,
                world: &'static str,
                valid: bool,
                imports: &'a [String],
                exports: &'a [String],
            }
            let report = Report {
                file,
                world: world.name(),
                valid: true,
                imports: &report.imports,
                exports: &report.exports,
            };
            output::print(json, &report, |r| {
                let mut table = output::table(&["KIND", "NAME"]);
                for import in r.imports {
                    table.add_row(vec!["import", import]);
                }
                for export in r.exports {
                    table.add_row(vec!["export", export]);
                }
                println!("{}: a valid {} component", r.file.display(), r.world);
                table
            });
            exit::OK
        }
        Err(error) => {
            output::error(json, "invalid-component", &error);
            exit::INVALID_COMPONENT
        }
    }
}

async fn remote(client: &Client, json: bool, command: Command) -> Result<(), ClientError> {
    match command {
        Command::Status => {
            let status = client.status().await?;
            output::print(json, &status, |s| {
                let mut table = output::table(&["FIELD", "VALUE"]);
                table
                    .add_row(vec!["address".to_owned(), client.address()])
                    .add_row(vec!["version".to_owned(), s.version.clone()])
                    .add_row(vec!["backend".to_owned(), s.backend.clone()])
                    .add_row(vec!["revision".to_owned(), s.revision.to_string()])
                    .add_row(vec![
                        "oldest revision".to_owned(),
                        s.oldest_revision.to_string(),
                    ])
                    .add_row(vec!["groups".to_owned(), s.groups.to_string()])
                    .add_row(vec!["sessions".to_owned(), s.sessions.to_string()])
                    .add_row(vec!["plugins".to_owned(), s.plugins.to_string()])
                    .add_row(vec![
                        "membership timeout".to_owned(),
                        output::duration(Duration::from_millis(s.membership_timeout_ms)),
                    ])
                    .add_row(vec![
                        "uptime".to_owned(),
                        output::duration(Duration::from_millis(s.uptime_ms)),
                    ]);
                table
            });
        }
        Command::Groups => {
            let groups = client.groups().await?;
            output::print(json, &groups, |g| {
                let mut table =
                    output::table(&["GROUP", "MEMBERS", "LEADER", "TERM", "LAST CHANGE"]);
                for s in &g.groups {
                    let (leader, term) = s.leader.as_ref().map_or(("-".into(), "-".into()), |l| {
                        (l.member_id.to_string(), l.term.to_string())
                    });
                    table.add_row(vec![
                        s.group_id.to_string(),
                        s.members.to_string(),
                        leader,
                        term,
                        format!("#{}", s.last_change),
                    ]);
                }
                table
            });
        }
        Command::Members { group } => {
            let members = api::Members {
                group_id: GroupId::new(&group)?,
                members: client.members(&group).await?,
            };
            output::print(json, &members, |m| {
                let mut table =
                    output::table(&["MEMBER", "CAPABILITIES", "JOINED", "EXPIRES IN", "REVISION"]);
                for member in &m.members {
                    table.add_row(vec![
                        member.member_id.to_string(),
                        output::capabilities(&member.capabilities),
                        format!("{} ago", output::age(member.joined_at_ms)),
                        output::duration(Duration::from_millis(member.expires_in_ms)),
                        format!("#{}", member.revision),
                    ]);
                }
                table
            });
        }
        Command::CreateGroup { group } => {
            client.create_group(&group).await?;
            done(json, "created", &group);
        }
        Command::DeleteGroup { group } => {
            client.delete_group(&group).await?;
            done(json, "deleted", &group);
        }
        Command::Join {
            group,
            member,
            capabilities,
            create,
            ttl,
            no_keepalive,
        } => {
            join(
                client,
                json,
                &group,
                &member,
                capabilities,
                create,
                ttl,
                no_keepalive,
            )
            .await?
        }
        Command::Leave { group, session } => {
            client.leave(&session, &group).await?;
            done(json, "left", &group);
        }
        Command::Leader { group } => {
            let leader = api::LeaderOf {
                group_id: GroupId::new(&group)?,
                leader: client.leader(&group).await?,
            };
            output::print(json, &leader, |l| {
                let mut table = output::table(&["GROUP", "LEADER", "TERM"]);
                let (who, term) = l.leader.as_ref().map_or(("-".into(), "-".into()), |l| {
                    (l.member_id.to_string(), l.term.to_string())
                });
                table.add_row(vec![l.group_id.to_string(), who, term]);
                table
            });
        }
        Command::Watch { group, from, store } => watch(client, group, from, store).await?,
        Command::Plugins => {
            let plugins = client.plugins().await?;
            output::print(json, &plugins, |report| {
                let p = &report.plugins;
                let mut table = output::table(&[
                    "PLUGIN", "STATE", "EVENTS", "ERRORS", "TRAPS", "RESTARTS", "QUEUE", "P99",
                ]);
                for s in p {
                    let state = match &s.state {
                        roster::plugin::PluginState::Running => "running",
                        roster::plugin::PluginState::Quarantined { .. } => "quarantined",
                        roster::plugin::PluginState::Stopped => "stopped",
                    };
                    table.add_row(vec![
                        s.name.clone(),
                        state.to_owned(),
                        s.events_delivered.to_string(),
                        s.errors.to_string(),
                        s.traps.to_string(),
                        s.restarts.to_string(),
                        s.queue_depth.to_string(),
                        format!("{:?}", s.call_p99),
                    ]);
                }
                table
            });
        }
        Command::Locks => {
            let locks = api::Locks {
                locks: client.locks().await?,
            };
            output::print(json, &locks, |l| {
                let mut table = output::table(&["LOCK", "HOLDERS", "WAITERS"]);
                for lock in &l.locks {
                    let holders: Vec<String> = lock
                        .holders
                        .iter()
                        .map(|h| format!("{} ({}, token {})", h.member_id, h.mode, h.token))
                        .collect();
                    let waiters: Vec<String> = lock
                        .waiters
                        .iter()
                        .map(|w| format!("{} ({})", w.member_id, w.mode))
                        .collect();
                    let listed = |items: Vec<String>| {
                        if items.is_empty() {
                            "-".to_owned()
                        } else {
                            items.join(", ")
                        }
                    };
                    table.add_row(vec![
                        lock.lock.to_string(),
                        listed(holders),
                        listed(waiters),
                    ]);
                }
                table
            });
        }
        Command::Serve { .. }
        | Command::Plugin { .. }
        | Command::Token { .. }
        | Command::Lock { .. } => {
            unreachable!("handled before")
        }
    }
    Ok(())
}

fn done(json: bool, what: &str, group: &str) {
    if json {
        println!("{}", serde_json::json!({ what: group }));
    } else {
        println!("{what} {group}");
    }
}

#[allow(clippy::too_many_arguments)]
async fn join(
    client: &Client,
    json: bool,
    group: &str,
    member: &str,
    capabilities: String,
    create: bool,
    ttl: Option<f64>,
    no_keepalive: bool,
) -> Result<(), ClientError> {
    let mut stop = std::pin::pin!(StopSignals::install().received());
    let ttl = ttl.map(|t| seconds("--ttl", t, false)).transpose()?;
    let capabilities = roster::Capabilities::from(capabilities);
    let session = client.open_session(member, ttl).await?;
    if let Err(error) = client
        .join(&session.session_id, group, capabilities.clone(), create)
        .await
    {
        let _ = client.close_session(&session.session_id).await;
        return Err(error);
    }
    output::print(json, &session, |s| {
        let mut table = output::table(&["GROUP", "MEMBER", "SESSION", "TTL"]);
        table.add_row(vec![
            group.to_owned(),
            s.member_id.to_string(),
            s.session_id.clone(),
            output::duration(Duration::from_millis(s.ttl_ms)),
        ]);
        table
    });
    if no_keepalive {
        return Ok(());
    }
    // Heartbeat until interrupted (riding out a daemon briefly away), then leave by closing
    // the session.
    let session_id = &session.session_id;
    let ttl = Duration::from_millis(session.ttl_ms);
    let client = &client.clone().for_sessions_of(ttl);
    let mut store = client.status().await?.store_id;
    loop {
        match keepalive::keep_alive(client, session_id, ttl, &mut stop).await {
            Ok(()) => return client.close_session(session_id).await.map(drop),
            // A `memory://` daemon restarted serves a new store, which reopened the session
            // with nothing in it: the member joins again there.
            Err(ClientError::Coordination(roster::CoordinationError::SessionExpired {
                lost_groups,
                ..
            })) if lost_groups.is_empty()
                && let Ok(status) = client.status().await
                && status.store_id != store =>
            {
                eprintln!(
                    "roster: the daemon serves a new store (it was restarted); joining {group} again there"
                );
                client
                    .join(session_id, group, capabilities.clone(), true)
                    .await?;
                store = status.store_id;
            }
            Err(error) => {
                if !matches!(error, ClientError::Unreachable { .. }) {
                    let _ = client.close_session(session_id).await;
                }
                return Err(error);
            }
        }
    }
}

async fn watch(
    client: &Client,
    group: Option<String>,
    from: Option<u64>,
    store: Option<String>,
) -> Result<(), ClientError> {
    let stop = StopSignals::install().received();
    let group = group.as_deref().map(GroupId::new).transpose()?;
    // With several daemons to go on through, the stream starts at a revision it can resume
    // from.
    let several = client.addresses().len() > 1;
    let from = match from {
        None if several => Some(client.status().await?.revision + 1),
        from => from,
    };
    let mut stream = client
        .events_in(store.as_deref(), from, group.as_ref())
        .await?;
    // The store the revisions printed are of: resuming names it, so that a daemon restarted
    // meanwhile answers with a resync rather than its own revisions.
    let mut store = stream.store_id().to_owned();
    let mut last = None;
    tokio::pin!(stop);
    let resume = |last: Option<u64>, store: &str| {
        last.map(|last| format!("resume with --from {} --store {store}", last + 1))
    };
    loop {
        let item = tokio::select! {
            () = &mut stop => return Ok(()),
            item = stream.next() => item,
        };
        let (broke, resume_said) = match item {
            Some(Ok(StreamItem::Event(event))) => {
                last = Some(event.revision());
                println!("{}", serde_json::to_string(&event).unwrap_or_default());
                continue;
            }
            Some(Ok(StreamItem::Resync(resync))) => {
                println!(
                    "{}",
                    serde_json::json!({
                        "kind": "resync",
                        "requested": resync.requested,
                        "oldest": resync.oldest,
                        "store": resync.store,
                    })
                );
                store = resync.store;
                continue;
            }
            Some(Err(error)) => (error, false),
            None => {
                let resume = resume(last, &store).map_or(String::new(), |r| format!("; {r}"));
                let closed = ClientError::Unreachable {
                    address: client.address(),
                    message: format!("the daemon closed the event stream{resume}"),
                };
                (closed, true)
            }
        };
        // Another daemon of the store goes on from the next revision.
        let next = last.map(|last| last + 1).or(from);
        if several {
            eprintln!("roster: {broke}; going on through another daemon");
            if let Ok(resumed) = client.events_in(Some(&store), next, group.as_ref()).await {
                stream = resumed;
                continue;
            }
        }
        if let Some(resume) = resume(last, &store).filter(|_| !resume_said) {
            eprintln!("roster: {resume}");
        }
        return Err(broke);
    }
}
