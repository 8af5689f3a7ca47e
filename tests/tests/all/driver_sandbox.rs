//! A backend driver reaches exactly what its URL grants: one server address, or one
//! directory. The `evil-driver` fixture tries more when opened and reports each attempt; the
//! host must have denied every one but the granted.
//!
//! Which component runs: the one the URL names, else one in the plugin directory, else the
//! driver built into the host.

use std::net::TcpListener;

use roster::{CoordinationError, Heartbeat, get_coordinator};
use roster_tests::plugin;

/// Start a coordinator on `url` and return the fixture's report (its `open` always fails).
async fn report(url: &str) -> String {
    let c = get_coordinator(url, "m").unwrap();
    match c.start_with(Heartbeat::Manual).await {
        Err(CoordinationError::Connection(report)) => report,
        other => panic!("the fixture's open fails with its report, got {other:?}"),
    }
}

fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    (listener, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_connects_only_to_the_address_its_url_names() {
    let (granted, granted_address) = listener();
    let (other, other_address) = listener();
    let url = format!(
        "redis://{granted_address}?namespace={other_address},10.0.0.1:80&driver={}",
        plugin("rust-evil-driver.wasm").display()
    );
    let report = report(&url).await;
    assert!(
        report.contains(&format!("connect {granted_address}: ok")),
        "{report}"
    );
    assert!(
        report.contains(&format!("connect {other_address}: denied")),
        "{report}"
    );
    assert!(report.contains("connect 10.0.0.1:80: denied"), "{report}");
    // Denied by the sandbox, not refused by the network: the other listener saw nothing,
    // while the granted one was reached.
    assert!(other.accept().is_err());
    assert!(granted.accept().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_reaches_only_the_directory_its_url_names() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "file://{}?driver={}",
        dir.path().display(),
        plugin("rust-evil-driver.wasm").display()
    );
    let report = report(&url).await;
    for expected in [
        "write and read store/probe: ok",
        "read /etc/hostname: denied",
        "read store/../../etc/hostname: denied",
        "connect 127.0.0.1:6379: denied",
    ] {
        assert!(report.contains(expected), "{expected:?} in {report}");
    }
    // The allowed write really landed in the granted directory.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("probe")).unwrap(),
        "probe"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_driver_component_is_named_at_start() {
    let c = get_coordinator("redis://127.0.0.1:1?driver=/nonexistent/redis.wasm", "m").unwrap();
    let error = c.start_with(Heartbeat::Manual).await.unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/redis.wasm"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_that_names_no_component_runs_the_built_in_driver() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let c = get_coordinator(&url, "m").unwrap();
    c.start_with(Heartbeat::Manual).await.unwrap();
    c.join_group_create_with("g", "built in").await.unwrap();
    assert_eq!(c.get_members("g").await.unwrap(), ["m"]);
    c.stop().await.unwrap();
    // The same for a server: the error is the server's, not a missing component.
    let c = get_coordinator("etcd3+http://127.0.0.1:1", "m").unwrap();
    let error = c.start_with(Heartbeat::Manual).await.unwrap_err();
    assert!(error.to_string().contains("127.0.0.1:1"), "{error}");
    assert!(!error.to_string().contains("driver component"), "{error}");
}

/// A component in the plugin directory takes the place of the built-in one. Run in a host
/// process of its own, since the directory is named by its environment.
#[test]
fn a_component_in_the_driver_directory_replaces_the_built_in_one() {
    let drivers = tempfile::tempdir().unwrap();
    std::fs::copy(
        plugin("rust-evil-driver.wasm"),
        drivers.path().join("file_driver.wasm"),
    )
    .unwrap();
    let store = tempfile::tempdir().unwrap();
    let url = format!("file://{}", store.path().display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roster-probe"))
        .args([url.as_str(), "m", "g"])
        .env("ROSTER_DRIVER_DIR", drivers.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The fixture ran (its report is the error), not the built-in file driver.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("write and read store/probe: ok"),
        "{stderr}"
    );
}
