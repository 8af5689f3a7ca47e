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
