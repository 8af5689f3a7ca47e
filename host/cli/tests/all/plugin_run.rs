//! `roster plugin run`: a handler run offline against a file of events, a daemon's history or
//! a generated workload, in the host's sandbox with the grants and limits given as flags.
//! The `misbehave` fixture logs `ok REVISION` for events of ordinary groups and misbehaves
//! on purpose in the groups named after what it does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{Daemon, ROSTER};
use roster_tests::{built, plugin};

/// A file of events as `roster watch` prints them: one line per `(revision, group, member)`
/// join (a group is created at its first mention), in a fresh directory.
fn recording(joins: &[(u64, &str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = joins
        .iter()
        .map(|(revision, group, member)| {
            serde_json::json!({"kind": "member-joined", "revision": revision,
                               "group_id": group, "member_id": member, "capabilities": ""})
            .to_string()
                + "\n"
        })
        .collect();
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, lines).unwrap();
    (dir, path)
}

fn run(file: &Path, args: &[&str]) -> Output {
    Command::new(ROSTER)
        .args(["plugin", "run"])
        .arg(file)
        .args(args)
        .env("XDG_CACHE_HOME", crate::common::CACHE_HOME)
        .output()
        .expect("run the roster CLI")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The `--json` output's lines of one type.
fn lines_of(output: &Output, kind: &str) -> Vec<serde_json::Value> {
    text(output)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["type"] == kind)
        .collect()
}

fn logs(output: &Output) -> Vec<String> {
    lines_of(output, "log")
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_recording_is_replayed_in_order_with_its_logs_and_batch_times() {
    if !built("rust") {
        return;
    }
    let (_dir, events) = recording(&[(1, "a", "m1"), (2, "b", "m1"), (3, "a", "m2")]);
    let misbehave = plugin("rust-misbehave.wasm");
    let output = run(&misbehave, &["--events", events.to_str().unwrap()]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    for revision in 1..=3 {
        assert!(
            shown.contains(&format!("log   info  ok {revision}")),
            "{shown}"
        );
    }
    assert!(
        shown.contains("batch revisions 1-3: 3 events handled in"),
        "{shown}"
    );
    assert!(shown.contains("result: ok"), "{shown}");

    let json = run(
        &misbehave,
        &["--events", events.to_str().unwrap(), "--json"],
    );
    assert_eq!(logs(&json), ["ok 1", "ok 2", "ok 3"]);
    let summary = &lines_of(&json, "summary")[0];
    assert_eq!(summary["faulted"], false);
    assert_eq!(summary["stats"]["events_delivered"], 3);
}

#[test]
fn a_faulting_plugin_exits_non_zero_and_every_other_event_still_arrives() {
    if !built("rust") {
        return;
    }
    let (_dir, events) = recording(&[(1, "a", "m1"), (2, "trap", "m1"), (3, "a", "m2")]);
    let misbehave = plugin("rust-misbehave.wasm");
    let output = run(&misbehave, &["--events", events.to_str().unwrap()]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("plugin FAULT trap"), "{shown}");
    assert!(
        shown.contains("plugin SKIPPED event 2: it faulted twice on its own"),
        "{shown}"
    );
    assert!(shown.contains("result: the plugin faulted"), "{shown}");

    let json = run(
        &misbehave,
        &["--events", events.to_str().unwrap(), "--json"],
    );
    let mut ok = logs(&json);
    ok.dedup();
    // The batch that faulted is delivered again one event at a time.
    assert_eq!(ok.last().map(String::as_str), Some("ok 3"), "{ok:?}");
    assert!(!ok.iter().any(|l| l == "ok 2"));
    let summary = &lines_of(&json, "summary")[0];
    assert_eq!(summary["faulted"], true);
    assert_eq!(summary["stats"]["events_skipped"], 1);
}

#[test]
fn limits_given_as_flags_are_enforced_as_in_the_host() {
    if !built("rust") {
        return;
    }
    let misbehave = plugin("rust-misbehave.wasm");
    let fault = |group: &str, flags: &[&str]| {
        let (_dir, events) = recording(&[(1, group, "m1")]);
        let mut args = vec!["--events", events.to_str().unwrap()];
        args.extend_from_slice(flags);
        let output = run(&misbehave, &args);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let shown = text(&output);
        let fault = shown.lines().find(|l| l.starts_with("plugin FAULT"));
        fault.unwrap_or_default().to_owned()
    };
    assert!(
        fault("spin", &["--deadline-ms", "50"]).contains("call ran past its 50ms deadline"),
        "{}",
        fault("spin", &["--deadline-ms", "50"])
    );
    let grown = fault("grow", &["--memory-mib", "4"]);
    let limit: u64 = grown
        .split("growing memory to ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|bytes| bytes.parse().ok())
        .unwrap_or_else(|| panic!("{grown}"));
    assert!(limit > 4 << 20 && limit < 5 << 20, "{grown}");

    let refused = run(&misbehave, &["--generate", "5", "--memory-mib", "0"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--memory-mib must be above 0"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn grants_given_as_flags_are_enforced_as_in_the_host() {
    if !built("rust") {
        return;
    }
    let misbehave = plugin("rust-misbehave.wasm");
    let (dir, events) = recording(&[(1, "mutate", "m1"), (2, "poison", "m1")]);
    let events = events.to_str().unwrap();

    // Without the mutate grant a change is refused by the sandbox; with it, the replayed
    // store answers (a recording is not changed), and the call shows with its answer.
    let denied = run(&misbehave, &["--events", events]);
    assert!(
        text(&denied).contains("call  join-group(\"mutate\", \"\") -> error"),
        "{}",
        text(&denied)
    );
    assert!(text(&denied).contains("not permitted"), "{}", text(&denied));
    let granted = run(&misbehave, &["--events", events, "--mutate"]);
    assert!(
        text(&granted).contains("in an offline run: the recording is replayed as it happened"),
        "{}",
        text(&granted)
    );

    // A granted directory is the plugin's /data.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let written = run(
        &misbehave,
        &["--events", events, "--dir", data.to_str().unwrap()],
    );
    assert_eq!(written.status.code(), Some(0), "{}", text(&written));
    assert_eq!(
        std::fs::read_to_string(data.join("received")).unwrap(),
        "2\n"
    );
}

#[test]
fn reads_are_answered_from_the_state_the_events_made_so_far() {
    if !built("rust") {
        return;
    }
    // `hold` waits, on a join, until group `release` has a member: it has one by then.
    let (_dir, events) = recording(&[(1, "release", "r1"), (2, "hold", "h1")]);
    let misbehave = plugin("rust-misbehave.wasm");
    let output = run(&misbehave, &["--events", events.to_str().unwrap()]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("call  get-members(\"release\") -> ok [\"r1\"]"),
        "{shown}"
    );
    assert!(shown.contains("log   info  released"), "{shown}");
}

#[test]
fn a_gap_in_the_revisions_is_a_resync_and_bad_lines_are_named() {
    if !built("rust") {
        return;
    }
    let (dir, events) = recording(&[(4, "a", "m1"), (5, "a", "m2"), (9, "a", "m3")]);
    let misbehave = plugin("rust-misbehave.wasm");
    let output = run(
        &misbehave,
        &["--events", events.to_str().unwrap(), "--json"],
    );
    assert_eq!(logs(&output), ["ok 4", "ok 5", "ok 9"]);
    let resyncs: Vec<u64> = lines_of(&output, "incident")
        .iter()
        .filter(|i| i["kind"]["kind"] == "resynced")
        .map(|i| i["kind"]["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(resyncs, [8], "told of the gap where the recording goes on");

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "\n{\"kind\": \"member-joined\"}\n").unwrap();
    let refused = run(&misbehave, &["--events", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("line 2: not an event"), "{said}");

    let (_dir, backwards) = recording(&[(4, "a", "m1"), (2, "a", "m2")]);
    let refused = run(&misbehave, &["--events", backwards.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("revision 2 follows revision 4"), "{said}");
}

#[test]
fn a_generated_workload_is_the_same_for_the_same_seed() {
    if !built("rust") {
        return;
    }
    let tally = plugin("rust-tally.wasm");
    let first = run(&tally, &["--generate", "60", "--seed", "7", "--json"]);
    let again = run(&tally, &["--generate", "60", "--seed", "7", "--json"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert!(!logs(&first).is_empty());
    assert_eq!(logs(&first), logs(&again));
    let start = &lines_of(&first, "start")[0];
    assert!(start["events"].as_u64().unwrap() >= 60, "{start}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_daemons_history_is_replayed() {
    if !built("rust") {
        return;
    }
    let daemon = Daemon::start(&[]);
    daemon.client.create_group("a").await.unwrap();
    daemon.client.create_group("b").await.unwrap();
    let misbehave = plugin("rust-misbehave.wasm");
    let output = Command::new(ROSTER)
        .args(["--addr", &daemon.addr, "--json", "plugin", "run"])
        .arg(&misbehave)
        .args(["--from-daemon", "--from", "2"])
        .env("XDG_CACHE_HOME", crate::common::CACHE_HOME)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(logs(&output), ["ok 2"]);
}

/// `roster --addr ADDR ARGS...`.
fn on_daemon(daemon: &Daemon, args: &[&str]) -> Output {
    Command::new(ROSTER)
        .args(["--addr", &daemon.addr])
        .args(args)
        .output()
        .unwrap()
}

async fn stats_of(daemon: &Daemon, name: &str) -> Option<roster::plugin::PluginStats> {
    let plugins = daemon.client.plugins().await.unwrap().plugins;
    plugins.into_iter().find(|p| p.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_are_attached_replaced_and_detached_at_run_time_and_the_others_miss_nothing() {
    if !built("rust") {
        return;
    }
    let daemon = Daemon::start(&[]);
    let (misbehave, tally) = (plugin("rust-misbehave.wasm"), plugin("rust-tally.wasm"));
    let attached = on_daemon(&daemon, &["plugin", "attach", tally.to_str().unwrap()]);
    assert_eq!(attached.status.code(), Some(0), "{attached:?}");
    let said = text(&attached);
    assert!(said.contains("plugin rust-tally attached"), "{said}");
    assert!(
        said.contains("[[handlers]]\nname = \"rust-tally\""),
        "{said}"
    );
    let from = daemon.client.status().await.unwrap().revision;

    // A second handler comes and is replaced twice while the store changes.
    let misbehave_args = [
        "plugin",
        "attach",
        misbehave.to_str().unwrap(),
        "--name",
        "m",
        "--group",
        "a",
    ];
    for round in 0..3 {
        daemon
            .client
            .create_group(&format!("g{round}"))
            .await
            .unwrap();
        let again = on_daemon(&daemon, &misbehave_args);
        assert_eq!(again.status.code(), Some(0), "{again:?}");
        let verb = if round == 0 { "attached" } else { "replaced" };
        assert!(
            text(&again).contains(&format!("plugin m {verb}")),
            "{}",
            text(&again)
        );
        daemon
            .client
            .create_group(&format!("h{round}"))
            .await
            .unwrap();
    }
    daemon.client.create_group("a").await.unwrap();
    let head = daemon.client.status().await.unwrap().revision;
    roster_tests::wait_until(std::time::Duration::from_secs(30), || async {
        let (tally, m) = (
            stats_of(&daemon, "rust-tally").await,
            stats_of(&daemon, "m").await,
        );
        let caught_up = tally.is_some_and(|t| t.handled_through >= head)
            && m.is_some_and(|m| m.handled_through >= head);
        caught_up.then_some(())
    })
    .await;
    let listed = daemon.client.plugins().await.unwrap().plugins;
    assert_eq!(listed.len(), 2, "one plugin per name: {listed:?}");
    let tally = stats_of(&daemon, "rust-tally").await.unwrap();
    assert_eq!(
        tally.events_delivered,
        head - from,
        "the other handler got every event once"
    );
    assert_eq!(stats_of(&daemon, "m").await.unwrap().events_delivered, 1);

    // Detached, it is gone; a second detach is refused; a bad component is named.
    let detached = on_daemon(&daemon, &["plugin", "detach", "m"]);
    assert_eq!(detached.status.code(), Some(0), "{detached:?}");
    assert!(stats_of(&daemon, "m").await.is_none());
    let again = on_daemon(&daemon, &["plugin", "detach", "m"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no plugin named \"m\""));
    let not_a_handler = plugin("rust-not-a-handler.wasm");
    let invalid = on_daemon(
        &daemon,
        &[
            "plugin",
            "attach",
            not_a_handler.to_str().unwrap(),
            "--name",
            "x",
        ],
    );
    assert_eq!(invalid.status.code(), Some(5), "{invalid:?}");
    assert!(stats_of(&daemon, "x").await.is_none());
}
