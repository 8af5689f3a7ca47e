//! Fixtures shared by the screen and scenario tests: a clock fixed at a known instant and an
//! app filled with a small, fully deterministic cluster, so every age and time on screen is
//! the same on every run.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Style;
use roster::plugin::{FaultReason, PluginEvent, PluginEventKind, PluginState, PluginStats};
use roster::{
    Capabilities, CapabilitiesUpdated, Event, GroupCreated, GroupId, Leader, LeaderElected,
    LeaveReason, LockAcquired, LockHolder, LockInfo, LockMode, LockName, LockReleaseReason,
    LockReleased, LockWaiter, MemberId, MemberJoined, MemberLeft, Revision,
};
use roster_tui::app::{App, AppOptions};
use roster_tui::clock::ManualClock;
use roster_tui::source::{ConnectionState, GroupSnapshot, MemberSnapshot, Snapshot, Update};

/// The instant every fixture is built around (2023-11-14 22:13:20 UTC).
pub const EPOCH: u64 = 1_700_000_000;

pub fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH + secs)
}

pub fn group(id: &str) -> GroupId {
    GroupId::new(id).unwrap()
}

pub fn member(id: &str) -> MemberId {
    MemberId::new(id).unwrap()
}

pub fn joined(revision: Revision, g: &str, m: &str) -> Event {
    Event::MemberJoined(MemberJoined {
        revision,
        group_id: group(g),
        member_id: member(m),
        capabilities: Capabilities::from(r#"{"zone":"eu-west-1a","slots":4}"#),
    })
}

pub fn left(revision: Revision, g: &str, m: &str, reason: LeaveReason) -> Event {
    Event::MemberLeft(MemberLeft {
        revision,
        group_id: group(g),
        member_id: member(m),
        reason,
    })
}

pub fn lock(name: &str) -> LockName {
    LockName::new(name).unwrap()
}

pub fn lock_acquired(revision: Revision, name: &str, m: &str, mode: LockMode) -> Event {
    Event::LockAcquired(LockAcquired {
        revision,
        lock: lock(name),
        member_id: member(m),
        mode,
        token: revision,
    })
}

fn holder(m: &str, mode: LockMode, token: u64) -> LockHolder {
    LockHolder {
        member_id: member(m),
        mode,
        token,
    }
}

fn waiter(m: &str, mode: LockMode) -> LockWaiter {
    LockWaiter {
        member_id: member(m),
        mode,
    }
}

pub fn lock_released(revision: Revision, name: &str, m: &str, token: u64) -> Event {
    Event::LockReleased(LockReleased {
        revision,
        lock: lock(name),
        member_id: member(m),
        mode: LockMode::Exclusive,
        token,
        reason: LockReleaseReason::Released,
    })
}

/// What follows [`cluster_updates`] for the lock tests: node-001 releases `db-migrations`
/// and node-002, first in line, gets it at 111 (revisions 36 and 37); node-200 and node-201
/// share `reports` from 114 and 115 (38 and 39).
pub fn lock_changes() -> Vec<Update> {
    vec![
        event(lock_released(36, "db-migrations", "node-001", 2), 111),
        event(
            lock_acquired(37, "db-migrations", "node-002", LockMode::Exclusive),
            111,
        ),
        event(
            lock_acquired(38, "reports", "node-200", LockMode::Shared),
            114,
        ),
        event(
            lock_acquired(39, "reports", "node-201", LockMode::Shared),
            115,
        ),
    ]
}

pub fn event(event: Event, secs: u64) -> Update {
    Update::Event {
        event,
        at: at(secs),
    }
}

fn member_snapshot(id: &str, caps: &str, joined: u64, beat: u64) -> MemberSnapshot {
    MemberSnapshot {
        id: member(id),
        capabilities: Capabilities::from(caps),
        joined_at: at(joined),
        last_heartbeat: Some(at(beat)),
        expires_at: Some(at(beat + 6)),
    }
}

fn stats(name: &str, state: PluginState, delivered: u64, traps: u64, restarts: u64) -> PluginStats {
    PluginStats {
        name: name.to_owned(),
        state,
        events_delivered: delivered,
        calls: delivered / 4,
        errors: 0,
        traps,
        deadline_overruns: 0,
        restarts,
        events_skipped: 0,
        resyncs: 1,
        queue_depth: 0,
        handled_through: delivered,
        call_p50: Duration::from_micros(20),
        call_p99: Duration::from_micros(150),
        logs_dropped: 0,
        loaded_from_cache: true,
        load_time: Duration::from_millis(2),
    }
}

/// The updates a small cluster produces: a snapshot of groups and locks, thirty events and
/// plugin health.
pub fn cluster_updates() -> Vec<Update> {
    let mut updates = vec![
        Update::Connection(ConnectionState::Connected),
        Update::Snapshot(Snapshot {
            revision: 4,
            groups: vec![
                GroupSnapshot {
                    id: group("api"),
                    member_count: 3,
                    leader: Some(Leader {
                        member_id: member("node-001"),
                        term: 2,
                    }),
                    last_change: Some(3),
                    members: Some(vec![
                        member_snapshot("node-001", r#"{"zone":"eu-west-1a","slots":8}"#, 10, 118),
                        member_snapshot("node-002", r#"{"zone":"eu-west-1b","slots":4}"#, 12, 119),
                        member_snapshot("node-003", "plain text capabilities", 14, 115),
                    ]),
                },
                GroupSnapshot {
                    id: group("cache"),
                    member_count: 0,
                    leader: None,
                    last_change: Some(1),
                    members: Some(vec![]),
                },
                GroupSnapshot {
                    id: group("workers"),
                    member_count: 1,
                    leader: None,
                    last_change: Some(4),
                    members: Some(vec![member_snapshot("node-004", "", 16, 119)]),
                },
            ],
            locks: vec![
                LockInfo {
                    lock: lock("db-migrations"),
                    holders: vec![holder("node-001", LockMode::Exclusive, 2)],
                    waiters: vec![
                        waiter("node-002", LockMode::Exclusive),
                        waiter("node-003", LockMode::Shared),
                    ],
                },
                LockInfo {
                    lock: lock("config"),
                    holders: vec![
                        holder("node-003", LockMode::Shared, 3),
                        holder("node-004", LockMode::Shared, 4),
                    ],
                    waiters: vec![],
                },
            ],
        }),
    ];
    let mut revision = 4;
    let mut next = |kind: &dyn Fn(Revision) -> Event, secs: u64| {
        revision += 1;
        updates.push(event(kind(revision), secs));
    };
    next(
        &|r| {
            Event::GroupCreated(GroupCreated {
                revision: r,
                group_id: group("batch"),
            })
        },
        60,
    );
    for i in 0..12u64 {
        let m = format!("node-1{i:02}");
        next(&|r| joined(r, "workers", &m), 61 + i);
    }
    next(
        &|r| {
            Event::LeaderElected(LeaderElected {
                revision: r,
                group_id: group("workers"),
                member_id: member("node-100"),
                term: r,
            })
        },
        80,
    );
    next(
        &|r| {
            Event::CapabilitiesUpdated(CapabilitiesUpdated {
                revision: r,
                group_id: group("api"),
                member_id: member("node-002"),
                capabilities: Capabilities::from(r#"{"zone":"eu-west-1b","slots":6}"#),
            })
        },
        85,
    );
    for i in 0..6u64 {
        let m = format!("node-1{i:02}");
        let reason = if i % 2 == 0 {
            LeaveReason::Left
        } else {
            LeaveReason::Expired
        };
        next(&|r| left(r, "workers", &m, reason), 90 + i);
    }
    for i in 0..10u64 {
        let m = format!("node-2{i:02}");
        next(&|r| joined(r, "batch", &m), 100 + i);
    }
    updates.push(Update::Plugins(vec![
        stats("log-events", PluginState::Running, 120, 0, 0),
        stats("tally", PluginState::Running, 120, 0, 0),
        stats(
            "misbehave",
            PluginState::Quarantined { until: at(125) },
            96,
            3,
            3,
        ),
    ]));
    updates.push(Update::PluginEvent(PluginEvent {
        plugin: "misbehave".into(),
        at: at(110),
        kind: PluginEventKind::Fault {
            reason: FaultReason::Trap("misbehave: trap on purpose".into()),
            revisions: (31, 31),
        },
    }));
    updates.push(Update::PluginEvent(PluginEvent {
        plugin: "misbehave".into(),
        at: at(111),
        kind: PluginEventKind::Quarantined {
            duration: Duration::from_secs(1),
        },
    }));
    updates
}

/// An app at `at(120)` that has taken in [`cluster_updates`].
pub fn cluster_app() -> (App, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(at(120)));
    let mut app = App::new(
        AppOptions {
            source: "memory://fixture".into(),
            history: 1_000,
            ..AppOptions::default()
        },
        clock.clone(),
    );
    for update in cluster_updates() {
        app.apply(update);
    }
    (app, clock)
}

/// An app at `at(120)` that has taken in nothing yet.
pub fn cluster_app_empty() -> (App, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(at(120)));
    let app = App::new(
        AppOptions {
            source: "scripted".into(),
            history: 1_000,
            ..AppOptions::default()
        },
        clock.clone(),
    );
    (app, clock)
}

/// `app` drawn on a `width`×`height` test terminal.
pub fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| roster_tui::ui::render(f, app)).unwrap();
    terminal
}

/// The screen as lines of text.
pub fn screen_text(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The style of the first cell of the first place `text` appears on screen.
pub fn style_of(buffer: &Buffer, text: &str) -> Style {
    for y in 0..buffer.area.height {
        let line: Vec<&str> = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        let joined = line.concat();
        if let Some(byte) = joined.find(text) {
            // Cells hold one character each here (the fixture's text is ASCII before `text`).
            let x = joined[..byte].chars().count() as u16;
            return buffer[(x, y)].style();
        }
    }
    panic!("{text:?} is not on screen")
}

/// Press `code` (no modifiers).
pub fn press(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

/// Press each character of `keys`.
pub fn type_keys(app: &mut App, keys: &str) {
    for c in keys.chars() {
        press(app, KeyCode::Char(c));
    }
}
