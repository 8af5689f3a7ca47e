//! `--no-tui` end to end: the real binary prints the demo's events as JSON lines, each a
//! `roster::Event`, in revision order, and stops after `--max-events`.

use std::process::Command;

#[test]
fn no_tui_prints_the_demo_events_as_json_lines() {
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_roster-tui"))
        .args(["--demo", "--no-tui", "--max-events", "8", "--log-file"])
        .arg(scratch.path().join("tui.log"))
        .env("XDG_CACHE_HOME", scratch.path().join("cache"))
        .output()
        .expect("run roster-tui");
    assert!(output.status.success(), "{output:?}");
    let events: Vec<roster::Event> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a roster::Event per line"))
        .collect();
    assert_eq!(events.len(), 8);
    let revisions: Vec<u64> = events.iter().map(roster::Event::revision).collect();
    assert_eq!(
        revisions,
        (1..=8).collect::<Vec<_>>(),
        "the demo's history from the start"
    );
    assert_eq!(events[0].kind(), roster::EventKind::GroupCreated);
}

#[test]
fn no_tui_follows_a_daemon_over_tls_with_a_token() {
    use roster::client::{Client, Credentials};
    use roster_server::{Role, ServeConfig, Server, TlsConfig, TokenConfig, token_hash};

    const TOKEN: &str = "monitor-token-0123456789";
    let pki = roster_tests::pki::Pki::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(Server::bind(ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            backend: "memory://monitor-tls".into(),
            tls: Some(TlsConfig {
                cert: pki.path("server.pem"),
                key: pki.path("server.key"),
                client_ca: None,
            }),
            tokens: vec![TokenConfig {
                name: "monitor".into(),
                role: Role::Admin,
                sha256: Some(token_hash(TOKEN)),
                file: None,
                groups: Vec::new(),
            }],
            ..ServeConfig::default()
        }))
        .expect("the daemon binds");
    let address = format!("https://localhost:{}", server.local_addr().port());
    runtime.spawn(server.run(std::future::pending()));
    std::fs::write(pki.path("token"), TOKEN).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut monitor = Command::new(env!("CARGO_BIN_EXE_roster-tui"))
        .args([
            "--connect",
            &address,
            "--no-tui",
            "--max-events",
            "1",
            "--ca-file",
        ])
        .arg(pki.path("ca.pem"))
        .arg("--token-file")
        .arg(pki.path("token"))
        .arg("--log-file")
        .arg(scratch.path().join("tui.log"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run roster-tui");
    // Changes until the monitor, once connected, has printed one and stopped.
    let client = Client::with_credentials(
        &address,
        &Credentials {
            token: Some(TOKEN.into()),
            ca_file: Some(pki.path("ca.pem")),
            identity: None,
        },
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut created = 0;
    while monitor.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the monitor printed no event"
        );
        created += 1;
        runtime
            .block_on(client.create_group(&format!("g{created}")))
            .unwrap();
        // The poll's pace, as `wait_until` polls: not a wait for anything in particular.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = monitor.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let event: roster::Event = serde_json::from_str(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .next()
            .expect("one line"),
    )
    .expect("a roster::Event");
    assert_eq!(event.kind(), roster::EventKind::GroupCreated);
}
