//! Scenario tests: scripted updates and keys drive the app, and the tests check what the
//! operator would see (freeze, follow, filter, drill-in, export, bounded history), plus the
//! supervisor reconnecting a scripted source without duplicating history.

use std::time::Duration;

use crate::common::{at, cluster_app, draw, event, joined, left, press, screen_text, type_keys};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use roster::LeaveReason;
use roster_tui::app::{App, AppOptions, Detail};
use roster_tui::clock::ManualClock;
use roster_tui::keymap::{Action, Pane};
use roster_tui::model::history::Row;
use roster_tui::source::scripted::{Script, ScriptedSource};
use roster_tui::source::supervisor::{Backoff, supervise};
use roster_tui::source::{ConnectionState, SourceError, Update};

fn feed_joins(app: &mut App, revisions: std::ops::RangeInclusive<u64>, group: &str) {
    for revision in revisions {
        let member = format!("late-{revision}");
        app.apply(event(joined(revision, group, &member), 115));
    }
}

#[test]
fn freezing_pins_the_view_while_ingestion_goes_on() {
    let (mut app, clock) = cluster_app();
    app.act(Action::Focus(Pane::Events));
    let rows_before = app.events_len();
    press(&mut app, KeyCode::Char('f'));
    feed_joins(&mut app, 36..=40, "workers");
    clock.advance(Duration::from_secs(12));

    assert_eq!(app.events_len(), rows_before, "the events pane is pinned");
    assert_eq!(
        app.history.len(),
        rows_before + 5,
        "the history keeps growing"
    );
    assert_eq!(app.new_since_frozen(), 5);
    let workers = &app.shown_tables().groups[&crate::common::group("workers")];
    assert_eq!(workers.member_count, 7, "frozen tables");
    let screen = screen_text(&draw(&app, 80, 24));
    assert!(screen.contains("FROZEN 12s · 5 new"), "{screen}");

    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.events_len(), rows_before + 5);
    assert_eq!(
        app.shown_tables().groups[&crate::common::group("workers")].member_count,
        12
    );
    assert!(screen_text(&draw(&app, 80, 24)).contains("LIVE"));
}

#[test]
fn frozen_screen_snapshot() {
    let (mut app, clock) = cluster_app();
    app.act(Action::Focus(Pane::Events));
    press(&mut app, KeyCode::Char('f'));
    feed_joins(&mut app, 36..=38, "workers");
    clock.advance(Duration::from_secs(3));
    assert_snapshot!("frozen_events_80x24", draw(&app, 80, 24).backend());
}

#[test]
fn follow_turns_off_when_scrolling_up_and_back_on_with_g() {
    let (mut app, _clock) = cluster_app();
    app.act(Action::Focus(Pane::Events));
    assert!(app.view.events.follow);
    let last = app.events_len() - 1;
    assert_eq!(app.events_selected(), Some(last));

    press(&mut app, KeyCode::Up);
    assert!(!app.view.events.follow, "scrolling up stops following");
    let selected = app.events_selected().unwrap();
    let revision = app.events_row(selected).unwrap().revision();
    feed_joins(&mut app, 36..=45, "batch");
    let still = app.events_row(app.events_selected().unwrap()).unwrap();
    assert_eq!(
        still.revision(),
        revision,
        "the selection stays on its event"
    );
    assert!(screen_text(&draw(&app, 80, 24)).contains("paused, G follows"));

    press(&mut app, KeyCode::Down);
    assert!(
        !app.view.events.follow,
        "moving down does not resume following"
    );
    type_keys(&mut app, "G");
    assert!(app.view.events.follow);
    feed_joins(&mut app, 46..=46, "batch");
    let newest = app.events_row(app.events_selected().unwrap()).unwrap();
    assert_eq!(newest.revision(), 46, "following selects the newest event");

    press(&mut app, KeyCode::PageUp);
    assert!(!app.view.events.follow, "paging up stops following too");
    type_keys(&mut app, "g");
    assert_eq!(app.events_selected(), Some(0));
}

#[test]
fn a_filter_narrows_the_pane_follows_new_rows_and_esc_clears_it() {
    let (mut app, _clock) = cluster_app();
    app.act(Action::Focus(Pane::Events));
    type_keys(&mut app, "/expired");
    assert!(app.view.editing);
    assert!(screen_text(&draw(&app, 80, 24)).contains("filter /expired"));
    press(&mut app, KeyCode::Enter);
    assert!(!app.view.editing);
    assert_eq!(app.events_len(), 3);
    app.apply(event(
        left(36, "batch", "node-200", LeaveReason::Expired),
        116,
    ));
    assert_eq!(app.events_len(), 4, "a new matching event joins the view");
    assert_snapshot!("filtered_events_80x24", draw(&app, 80, 24).backend());

    press(&mut app, KeyCode::Esc);
    assert_eq!(app.filter(Pane::Events), "");
    assert_eq!(app.events_len(), app.history.len());

    app.act(Action::Focus(Pane::Groups));
    type_keys(&mut app, "/wor");
    press(&mut app, KeyCode::Esc);
    assert_eq!(
        app.groups_view().len(),
        4,
        "Esc while typing clears the filter"
    );
    type_keys(&mut app, "/wor");
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Enter);
    let names: Vec<&str> = app.groups_view().iter().map(|g| g.id.as_str()).collect();
    assert_eq!(names, ["workers"]);
}

#[test]
fn enter_drills_into_a_group_then_a_member_and_esc_goes_back() {
    let (mut app, _clock) = cluster_app();
    type_keys(&mut app, "jjj");
    assert_eq!(app.selected_group().unwrap().id.as_str(), "workers");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view.focus, Pane::Members);
    assert_eq!(app.members_len(), 7);
    let screen = screen_text(&draw(&app, 80, 24));
    assert!(screen.contains("2 Members of workers"), "{screen}");

    type_keys(&mut app, "j");
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.view.detail,
        Some(Detail::Member(
            crate::common::group("workers"),
            crate::common::member("node-106")
        ))
    );
    assert!(screen_text(&draw(&app, 80, 24)).contains("member node-106"));
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.view.detail, None);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.view.focus, Pane::Groups);

    app.act(Action::Focus(Pane::Events));
    press(&mut app, KeyCode::Enter);
    let Some(Detail::Event(seq)) = app.view.detail else {
        panic!("no event detail");
    };
    assert_eq!(app.history.get(seq).map(Row::revision), Some(35));
    assert!(screen_text(&draw(&app, 80, 24)).contains("\"kind\": \"member-joined\""));

    app.act(Action::Focus(Pane::Plugins));
    type_keys(&mut app, "G");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view.detail, Some(Detail::Plugin("misbehave".into())));
    assert_snapshot!("plugin_detail_80x24", draw(&app, 80, 24).backend());
}

#[test]
fn panes_cycle_with_tab_and_jump_with_digits() {
    let (mut app, _clock) = cluster_app();
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.view.focus, Pane::Members);
    app.handle_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    app.handle_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(
        app.view.focus,
        Pane::Locks,
        "Shift-Tab from the first pane goes to the last"
    );
    type_keys(&mut app, "3");
    assert_eq!(app.view.focus, Pane::Events);
    type_keys(&mut app, "5");
    assert_eq!(app.view.focus, Pane::Locks);
}

/// The locks pane's rows as cells, in name order.
fn lock_rows(app: &App) -> Vec<[String; 6]> {
    app.locks_view()
        .into_iter()
        .map(|l| roster_tui::rows::lock_cells(l, app.now()))
        .collect()
}

#[test]
fn the_locks_pane_follows_grants_queues_and_expiries() {
    let (mut app, clock) = cluster_app();
    for update in crate::common::lock_changes() {
        app.apply(update);
    }
    let row = |app: &App, name: &str| {
        lock_rows(app)
            .into_iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("{name} is not listed"))
    };
    // node-002 was granted db-migrations at 111 (an event: exact), node-003 still waits.
    assert_eq!(
        row(&app, "db-migrations"),
        [
            "db-migrations",
            "node-002",
            "exclusive",
            "37",
            "9s",
            "1: node-003"
        ]
        .map(String::from)
    );
    // Two shared holders seen only in the snapshot: the first named, the time a lower bound.
    assert_eq!(
        row(&app, "config"),
        ["config", "node-003 +1", "shared", "4", "≥0s", "0"].map(String::from)
    );
    clock.advance(Duration::from_secs(30));
    app.apply(event(
        roster::Event::LockReleased(roster::LockReleased {
            revision: 40,
            lock: crate::common::lock("db-migrations"),
            member_id: crate::common::member("node-002"),
            mode: roster::LockMode::Exclusive,
            token: 37,
            reason: roster::LockReleaseReason::Expired,
        }),
        150,
    ));
    app.apply(event(
        crate::common::lock_acquired(41, "db-migrations", "node-003", roster::LockMode::Shared),
        150,
    ));
    assert_eq!(
        row(&app, "db-migrations"),
        ["db-migrations", "node-003", "shared", "41", "0s", "0"].map(String::from),
        "the waiter granted the lock no longer waits"
    );
    app.apply(event(
        roster::Event::LockReleased(roster::LockReleased {
            revision: 42,
            lock: crate::common::lock("db-migrations"),
            member_id: crate::common::member("node-003"),
            mode: roster::LockMode::Shared,
            token: 41,
            reason: roster::LockReleaseReason::SessionClosed,
        }),
        151,
    ));
    let names: Vec<String> = lock_rows(&app).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        names,
        ["config", "reports"],
        "a lock nobody holds or waits for goes"
    );
}

#[test]
fn the_locks_filter_matches_holders_and_waiters_and_enter_opens_the_lock() {
    let (mut app, _clock) = cluster_app();
    for update in crate::common::lock_changes() {
        app.apply(update);
    }
    type_keys(&mut app, "5/node-003");
    press(&mut app, KeyCode::Enter);
    let names: Vec<String> = lock_rows(&app).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        names,
        ["config", "db-migrations"],
        "node-003 holds config and waits for db-migrations"
    );
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.view.detail,
        Some(Detail::Lock(crate::common::lock("db-migrations")))
    );
    let screen = screen_text(&draw(&app, 120, 40));
    assert!(
        screen.contains("node-002  exclusive  token 37  held 9s"),
        "{screen}"
    );
    assert!(screen.contains("1. node-003  shared"), "{screen}");
}

#[test]
fn help_overlay_swallows_keys_until_closed_and_q_quits() {
    let (mut app, _clock) = cluster_app();
    type_keys(&mut app, "?");
    assert!(app.view.help);
    type_keys(&mut app, "3f");
    assert_eq!(app.view.focus, Pane::Groups);
    assert!(app.view.frozen.is_none());
    press(&mut app, KeyCode::Esc);
    assert!(!app.view.help);
    type_keys(&mut app, "q");
    assert!(app.should_quit);
}

#[test]
fn t_switches_timestamps_to_utc_times() {
    let (mut app, _clock) = cluster_app();
    app.act(Action::Focus(Pane::Events));
    assert!(screen_text(&draw(&app, 80, 24)).contains("11s"));
    type_keys(&mut app, "t");
    let screen = screen_text(&draw(&app, 80, 24));
    assert!(screen.contains("22:15:09.000"), "{screen}");
    assert!(screen.contains("times: utc"));
}

#[test]
fn ctrl_s_exports_the_current_view_and_shows_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(ManualClock::new(at(120)));
    let mut app = App::new(
        AppOptions {
            export_dir: dir.path().to_owned(),
            ..AppOptions::default()
        },
        clock,
    );
    for update in crate::common::cluster_updates() {
        app.apply(update);
    }
    app.act(Action::Focus(Pane::Events));
    type_keys(&mut app, "/batch");
    press(&mut app, KeyCode::Enter);
    app.handle_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    let path = dir
        .path()
        .join(format!("roster-events-{}.csv", crate::common::EPOCH + 120));
    let status = app.view.status.clone().unwrap();
    assert!(status.starts_with("exported 11 rows to "), "{status}");
    assert!(status.ends_with(&path.display().to_string()), "{status}");
    assert!(screen_text(&draw(&app, 120, 40)).contains("exported 11 rows"));
    let csv = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 12);
    assert_eq!(lines[0], "REV,TIME,KIND,GROUP,DETAIL");
    assert_eq!(lines[1], "5,22:14:20.000,group-created,batch,group created");
}

#[test]
fn the_history_is_bounded_and_says_where_you_are() {
    let clock = std::sync::Arc::new(ManualClock::new(at(120)));
    let mut app = App::new(
        AppOptions {
            history: 5,
            ..AppOptions::default()
        },
        clock,
    );
    feed_joins(&mut app, 1..=8, "g");
    assert_eq!(app.history.len(), 5);
    assert_eq!(app.events_row(0).unwrap().revision(), 4);
    app.act(Action::Focus(Pane::Events));
    type_keys(&mut app, "kk");
    let screen = screen_text(&draw(&app, 80, 24));
    assert!(screen.contains("3/5 · kept 5/5"), "{screen}");
}

#[test]
fn a_small_terminal_gets_a_notice_and_a_bigger_one_the_monitor() {
    let (app, _clock) = cluster_app();
    assert!(screen_text(&draw(&app, 59, 30)).contains("terminal too small"));
    assert!(screen_text(&draw(&app, 60, 15)).contains("1 Groups"));
}

/// Collect updates from the supervisor into `app` until `done` says so.
async fn drive(
    app: &mut App,
    updates: &mut tokio::sync::mpsc::Receiver<Update>,
    states: &mut Vec<ConnectionState>,
    done: impl Fn(&App) -> bool,
) {
    while !done(app) {
        let update = updates.recv().await.expect("the supervisor runs");
        if let Update::Connection(state) = &update {
            states.push(state.clone());
        }
        app.apply(update);
    }
}

#[tokio::test(start_paused = true)]
async fn reconnecting_resumes_after_the_last_revision_without_duplicates() {
    let first: Vec<_> = (1..=5)
        .map(|r| Ok(event(joined(r, "g", &format!("m{r}")), r)))
        .collect();
    // The daemon replays from an older revision than asked: 4 and 5 must not show twice.
    let mut third: Vec<_> = (4..=8)
        .map(|r| Ok(event(joined(r, "g", &format!("m{r}")), r)))
        .collect();
    third.push(Err(SourceError::Connection("reset by peer".into())));
    let source = ScriptedSource::new([
        Script::Close(first),
        Script::Refuse("connection refused".into()),
        Script::Close(third),
        Script::Hold(vec![Ok(event(joined(9, "g", "m9"), 9))]),
    ]);
    let (sender, mut updates) = tokio::sync::mpsc::channel(64);
    let backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };
    tokio::spawn(supervise(source.clone(), sender, backoff));
    let (mut app, _clock) = crate::common::cluster_app_empty();
    let mut states = Vec::new();

    drive(&mut app, &mut updates, &mut states, |app| {
        matches!(app.connection, ConnectionState::Reconnecting { .. })
    })
    .await;
    let banner = screen_text(&draw(&app, 120, 40));
    assert!(
        banner.contains("source unreachable: connection closed · reconnecting, attempt 1"),
        "{banner}"
    );
    assert_snapshot!("reconnecting_banner_80x24", draw(&app, 80, 24).backend());

    drive(&mut app, &mut updates, &mut states, |app| {
        app.history.last_revision() == Some(9)
    })
    .await;
    let revisions: Vec<u64> = (0..app.events_len())
        .map(|i| app.events_row(i).unwrap().revision())
        .collect();
    assert_eq!(revisions, (1..=9).collect::<Vec<_>>());
    assert_eq!(source.requests(), [None, Some(6), Some(6), Some(9)]);
    assert_eq!(app.connection, ConnectionState::Connected);
    let retries: Vec<(u32, Duration)> = states
        .iter()
        .filter_map(|s| match s {
            ConnectionState::Reconnecting {
                attempt, retry_in, ..
            } => Some((*attempt, *retry_in)),
            _ => None,
        })
        .collect();
    assert_eq!(
        retries,
        [
            (1, Duration::from_millis(100)),
            (2, Duration::from_millis(200)),
            (1, Duration::from_millis(100)),
        ],
        "backoff grows while attempts fail and starts over after a success"
    );
    assert!(!screen_text(&draw(&app, 120, 40)).contains("unreachable"));
}

#[tokio::test(start_paused = true)]
async fn lost_history_shows_as_a_gap_and_resumes_from_the_oldest_kept() {
    let source = ScriptedSource::new([
        Script::Close(vec![
            Ok(event(joined(1, "g", "a"), 1)),
            Ok(Update::HistoryLost { oldest: 7 }),
            Ok(event(joined(7, "g", "b"), 7)),
        ]),
        Script::Hold(vec![]),
    ]);
    let (sender, mut updates) = tokio::sync::mpsc::channel(64);
    tokio::spawn(supervise(source.clone(), sender, Backoff::default()));
    let (mut app, _clock) = crate::common::cluster_app_empty();
    let mut states = Vec::new();
    drive(&mut app, &mut updates, &mut states, |app| {
        app.history.last_revision() == Some(7)
    })
    .await;
    let rows: Vec<String> = (0..app.events_len())
        .map(|i| app.events_row(i).unwrap().detail())
        .collect();
    assert_eq!(rows, ["+a", "revisions 2..6 are gone", "+b"]);
    while states
        .iter()
        .filter(|s| **s == ConnectionState::Connected)
        .count()
        < 2
    {
        let update = updates.recv().await.expect("the supervisor runs");
        if let Update::Connection(state) = &update {
            states.push(state.clone());
        }
        app.apply(update);
    }
    assert_eq!(source.requests(), [None, Some(8)]);
}

#[tokio::test(start_paused = true)]
async fn a_restarted_store_starts_history_over_instead_of_looking_frozen() {
    let first: Vec<_> = (1..=5)
        .map(|r| Ok(event(joined(r, "g", &format!("m{r}")), r)))
        .collect();
    let source = ScriptedSource::new([
        Script::Close(first),
        Script::Hold(vec![
            Ok(Update::Restarted),
            Ok(event(joined(1, "g", "fresh-1"), 20)),
            Ok(event(joined(2, "g", "fresh-2"), 21)),
        ]),
    ]);
    let (sender, mut updates) = tokio::sync::mpsc::channel(64);
    tokio::spawn(supervise(source.clone(), sender, Backoff::default()));
    let (mut app, _clock) = crate::common::cluster_app_empty();
    let mut states = Vec::new();
    drive(&mut app, &mut updates, &mut states, |app| {
        app.history.len() == 8
    })
    .await;
    let rows: Vec<String> = (0..app.events_len())
        .map(|i| app.events_row(i).unwrap().detail())
        .collect();
    assert_eq!(
        rows,
        [
            "+m1",
            "+m2",
            "+m3",
            "+m4",
            "+m5",
            "the source's store is new; revisions start over",
            "+fresh-1",
            "+fresh-2"
        ]
    );
    assert_eq!(source.requests(), [None, Some(6)]);
    let members = app.tables.groups[&crate::common::group("g")]
        .members
        .as_ref()
        .unwrap();
    assert_eq!(members.len(), 2, "the old store's members are gone");
}
