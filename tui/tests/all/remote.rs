//! The `--connect` source against a real daemon served in this process: it shows the
//! daemon's groups, members and events, and when the daemon stops and comes back on the
//! same address (and store) it reconnects and resumes after the last revision it had, with
//! every event once; a handler attached and detached at run time comes and goes in its Plugins
//! pane. Waits are bounded and poll the app; nothing sleeps.

use std::net::SocketAddr;
use std::time::Duration;

use roster::{Capabilities, get_coordinator};
use roster_server::{ServeConfig, Server};
use roster_tui::app::App;
use roster_tui::source::remote::RemoteSource;
use roster_tui::source::supervisor::{Backoff, supervise};
use roster_tui::source::{ConnectionState, Update};
use tokio::sync::{mpsc, oneshot};

const WAIT: Duration = Duration::from_secs(30);

async fn serve(
    listen: SocketAddr,
    store: &str,
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let server = Server::bind(ServeConfig {
        listen,
        backend: store.to_owned(),
        ..ServeConfig::default()
    })
    .await
    .expect("the daemon binds");
    let address = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async move {
                let _ = stopped.await;
            })
            .await
            .expect("the daemon serves");
    });
    (address, stop, task)
}

/// Apply updates until `done`, failing after [`WAIT`].
async fn until(app: &mut App, updates: &mut mpsc::Receiver<Update>, done: impl Fn(&App) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(app) {
        let update = tokio::time::timeout_at(deadline, updates.recv())
            .await
            .expect("the condition held in time")
            .expect("the supervisor runs");
        app.apply(update);
    }
}

/// An empty monitor and the updates of a `--connect` source following the daemon at
/// `address`, retrying quickly when it is away.
fn follow(address: SocketAddr) -> (App, mpsc::Receiver<Update>) {
    let source = RemoteSource::new(&address.to_string()).unwrap();
    let (sender, updates) = mpsc::channel(1024);
    let backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
    };
    tokio::spawn(supervise(source, sender, backoff));
    let (app, _clock) = crate::common::cluster_app_empty();
    (app, updates)
}

fn has_member(app: &App, group: &str, member: &str) -> bool {
    app.tables
        .groups
        .get(group)
        .and_then(|g| g.members.as_ref())
        .is_some_and(|m| m.contains_key(member))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_daemon_and_resumes_after_it_restarts() {
    let store = format!("memory://tui-remote-{}?timeout=30", std::process::id());
    let (address, stop, serving) = serve("127.0.0.1:0".parse().unwrap(), &store).await;
    let first = get_coordinator(&store, "node-1").unwrap();
    first.start().await.unwrap();
    first.create_group("web").await.unwrap();
    first
        .join_group_with("web", Capabilities::from(r#"{"zone":"a"}"#))
        .await
        .unwrap();

    let (mut app, mut updates) = follow(address);
    until(&mut app, &mut updates, |app| {
        has_member(app, "web", "node-1") && app.connection == ConnectionState::Connected
    })
    .await;
    first
        .update_capabilities("web", Capabilities::from(r#"{"zone":"b"}"#))
        .await
        .unwrap();
    until(&mut app, &mut updates, |app| {
        app.history
            .get(app.history.end_seq().saturating_sub(1))
            .is_some_and(|row| row.kind_name() == "capabilities-updated")
    })
    .await;

    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, serving)
        .await
        .expect("the daemon stops")
        .unwrap();
    until(&mut app, &mut updates, |app| {
        matches!(app.connection, ConnectionState::Reconnecting { .. })
    })
    .await;

    // Changes while the monitor is away, then the daemon comes back on the same address.
    let second = get_coordinator(&store, "node-2").unwrap();
    second.start().await.unwrap();
    second.join_group("web").await.unwrap();
    let (_, _stop, _serving) = serve(address, &store).await;
    until(&mut app, &mut updates, |app| {
        has_member(app, "web", "node-2")
    })
    .await;
    until(&mut app, &mut updates, |app| {
        app.connection == ConnectionState::Connected
            && app
                .history
                .last_revision()
                .is_some_and(|r| r >= first.head_revision())
    })
    .await;

    let revisions: Vec<u64> = (0..app.events_len())
        .map(|i| app.events_row(i).unwrap().revision())
        .collect();
    assert!(
        revisions.windows(2).all(|w| w[0] < w[1]),
        "every revision once, in order: {revisions:?}"
    );
    let joins: Vec<String> = (0..app.events_len())
        .map(|i| app.events_row(i).unwrap())
        .filter(|row| row.kind_name() == "member-joined")
        .map(|row| row.detail())
        .collect();
    assert!(joins.contains(&"+node-2".to_owned()), "{joins:?}");
    assert_eq!(
        app.history.repeats_dropped(),
        0,
        "the supervisor dropped repeats first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugins_pane_shows_a_handler_attached_and_detached_at_run_time() {
    if !roster_tests::built("rust") {
        return;
    }
    let store = format!("memory://tui-plugins-{}?timeout=30", std::process::id());
    let (address, _stop, _serving) = serve("127.0.0.1:0".parse().unwrap(), &store).await;
    let (mut app, mut updates) = follow(address);
    until(&mut app, &mut updates, |app| {
        app.connection == ConnectionState::Connected
    })
    .await;
    let listed = |app: &App| app.plugins_view().iter().any(|p| p.name == "attached-live");
    assert!(!listed(&app));

    // Attached through the daemon's API, as `roster plugin attach` does.
    let client = roster::client::Client::new(&address.to_string()).unwrap();
    let component = std::fs::read(roster_tests::plugin("rust-log-events.wasm")).unwrap();
    client
        .attach_plugin("attached-live", &component, &[])
        .await
        .expect("the daemon attaches it");
    until(&mut app, &mut updates, listed).await;

    client.detach_plugin("attached-live").await.unwrap();
    until(&mut app, &mut updates, |app| !listed(app)).await;
}
