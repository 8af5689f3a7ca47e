//! `roster plugin conformance`: the built-in drivers, run as a third party's would be (their
//! components given as files), pass the suites on real servers and a directory; a driver with
//! a rule broken on purpose (the `broken-driver` fixture) fails, and the failure names the test.

use std::process::{Command, Output};

use roster_tests::{Harness, ServerHarness, built, plugin};

use crate::common::{ROSTER, said};

fn conformance(driver: &str, url: &str, extra: &[&str]) -> Output {
    Command::new(ROSTER)
        .args(["plugin", "conformance"])
        .arg(plugin(driver))
        .args(["--url", url])
        // Two at a time: the suite shares the machine with the other tests running.
        .args(["--jobs", "2"])
        .args(extra)
        .output()
        .expect("run the roster CLI")
}

/// The driver passes every test of both suites: exit 0, and the summary says so.
fn passes(driver: &str, url: &str) {
    let output = conformance(driver, url, &[]);
    let text = said(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let total = roster_conformance::count(true, None);
    assert!(
        text.contains(&format!("{total} tests: {total} passed, 0 failed")),
        "{text}"
    );
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn the_file_driver_passes_both_suites_on_a_directory() {
    if !built("rust") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    passes(
        "rust-file-driver.wasm",
        &format!("file://{}", dir.path().display()),
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "each test's directory is removed: {left:?}"
    );
}

#[test]
fn the_redis_driver_passes_both_suites_on_a_real_server() {
    if !built("rust") {
        return;
    }
    let store = Harness::redis(1.0);
    passes("rust-redis-driver.wasm", store.url());
}

#[test]
fn the_etcd_driver_passes_both_suites_on_a_real_server() {
    if !built("rust") {
        return;
    }
    let store = Harness::etcd(1.0);
    passes("rust-etcd-driver.wasm", store.url());
}

#[test]
fn a_driver_with_a_broken_rule_fails_and_the_failure_names_the_test() {
    if !built("rust") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let output = conformance("rust-broken-driver.wasm", &url, &[]);
    let text = said(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL conformance::leave_group_not_joined_is_member_not_joined"),
        "{text}"
    );
    assert!(
        text.contains("failed: leave_group_not_joined_is_member_not_joined"),
        "{text}"
    );

    // One line per test with --json, the failure's message and place in it.
    let output = conformance(
        "rust-broken-driver.wasm",
        &url,
        &["--json", "--test", "leave_group_not_joined"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", said(&output));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let test = &lines[0];
    assert_eq!(test["test"], "leave_group_not_joined_is_member_not_joined");
    assert_eq!(test["passed"], false);
    assert!(
        test["failure"]
            .as_str()
            .unwrap()
            .contains("MemberNotJoined"),
        "{test}"
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["tests"], 1);
    assert_eq!(
        summary["failed"],
        serde_json::json!(["leave_group_not_joined_is_member_not_joined"])
    );
}

#[test]
fn a_component_that_is_not_a_driver_and_a_store_no_driver_serves_are_refused() {
    if !built("rust") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let handler = conformance("rust-log-events.wasm", &url, &[]);
    assert_eq!(handler.status.code(), Some(5), "{}", said(&handler));
    assert!(
        said(&handler).contains("driver world"),
        "{}",
        said(&handler)
    );

    for url in [
        "memory://x",
        "roster://127.0.0.1:1",
        "file:///tmp?driver=/x.wasm",
    ] {
        let refused = conformance("rust-file-driver.wasm", url, &[]);
        assert_eq!(refused.status.code(), Some(2), "{url}: {}", said(&refused));
    }
    let nothing = conformance("rust-file-driver.wasm", &url, &["--test", "no-such-test"]);
    assert_eq!(nothing.status.code(), Some(2), "{}", said(&nothing));
}
