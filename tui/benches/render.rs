//! Frame times at scale: `cargo bench -p roster-tui --bench render`.
//!
//! Builds a model with 100 000 members in one group and 1 000 000 events of history, then
//! times whole-screen renders (to ratatui's `TestBackend`) of the dashboard and of each pane,
//! following the tail, scrolled into the middle, and filtered. Prints p50, p99 and max per
//! case; the target is under 5 ms per frame. `ROSTER_BENCH_QUICK=1` runs fewer frames.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use roster::{Capabilities, Event, GroupId, Leader, MemberId, MemberJoined};
use roster_tui::app::{App, AppOptions};
use roster_tui::clock::ManualClock;
use roster_tui::keymap::{Action, Pane};
use roster_tui::source::{GroupSnapshot, MemberSnapshot, Snapshot, Update};

const MEMBERS: usize = 100_000;
const EVENTS: usize = 1_000_000;

fn quick() -> bool {
    std::env::var_os("ROSTER_BENCH_QUICK").is_some()
}

fn build() -> App {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let clock = Arc::new(ManualClock::new(start + Duration::from_secs(600)));
    let mut app = App::new(
        AppOptions {
            source: "bench".into(),
            history: EVENTS,
            ..AppOptions::default()
        },
        clock,
    );
    let group = GroupId::new("big").expect("valid id");
    let members = (0..MEMBERS)
        .map(|i| MemberSnapshot {
            id: MemberId::new(format!("node-{i:06}")).expect("valid id"),
            capabilities: Capabilities::from(format!(
                r#"{{"zone":"z{}","slots":{}}}"#,
                i % 3,
                i % 17
            )),
            joined_at: start,
            last_heartbeat: Some(start + Duration::from_secs(599)),
            expires_at: Some(start + Duration::from_secs(604)),
        })
        .collect();
    app.apply(Update::Snapshot(Snapshot {
        revision: 0,
        groups: vec![GroupSnapshot {
            id: group.clone(),
            member_count: MEMBERS,
            leader: Some(Leader {
                member_id: MemberId::new("node-000042").expect("valid id"),
                term: 1,
            }),
            last_change: None,
            members: Some(members),
        }],
        locks: Vec::new(),
    }));
    let other = GroupId::new("churn").expect("valid id");
    for i in 0..EVENTS {
        let event = Event::MemberJoined(MemberJoined {
            revision: i as u64 + 1,
            group_id: other.clone(),
            member_id: MemberId::new(format!("m{}", i % 1000)).expect("valid id"),
            capabilities: Capabilities::none(),
        });
        app.history
            .push_event(event, start + Duration::from_millis(i as u64 / 2));
    }
    app
}

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn measure(name: &str, app: &mut App, size: (u16, u16), frames: usize) {
    let mut terminal = Terminal::new(TestBackend::new(size.0, size.1)).expect("test terminal");
    let mut samples = Vec::with_capacity(frames);
    for _ in 0..frames {
        let started = Instant::now();
        terminal
            .draw(|f| roster_tui::ui::render(f, app))
            .expect("draw");
        samples.push(started.elapsed());
    }
    let p50 = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    let max = *samples.last().expect("frames");
    println!(
        "{name:<44} {:>3}x{:<3} p50 {:>10}  p99 {:>10}  max {:>10}",
        size.0,
        size.1,
        ms(p50),
        ms(p99),
        ms(max)
    );
}

fn type_filter(app: &mut App, text: &str) {
    app.act(Action::Filter);
    for c in text.chars() {
        app.handle_key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(c),
        ));
    }
    app.handle_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Enter,
    ));
}

fn main() {
    let frames = if quick() { 20 } else { 300 };
    let started = Instant::now();
    let mut app = build();
    println!(
        "model: {MEMBERS} members in one group, {} events of history (built in {:.1} s)",
        app.history.len(),
        started.elapsed().as_secs_f64()
    );
    for size in [(120, 40), (80, 24)] {
        app.act(Action::Focus(Pane::Events));
        measure(
            "dashboard, events following the tail",
            &mut app,
            size,
            frames,
        );
        for _ in 0..3 {
            app.act(Action::PageUp);
        }
        app.act(Action::Top);
        for _ in 0..(EVENTS / 2 / 30) {
            app.act(Action::PageDown);
        }
        measure("events scrolled to the middle", &mut app, size, frames);
        app.act(Action::Bottom);
        app.act(Action::Focus(Pane::Members));
        measure("members, top of 100 000", &mut app, size, frames);
        app.view.members.selected = MEMBERS / 2;
        measure("members, middle of 100 000", &mut app, size, frames);
        app.view.members.selected = MEMBERS - 1;
        measure("members, end of 100 000", &mut app, size, frames);
    }
    let started = Instant::now();
    app.act(Action::Focus(Pane::Events));
    type_filter(&mut app, "m999");
    println!(
        "events filter over 1 000 000 rows built in {:.1} ms ({} matches)",
        started.elapsed().as_secs_f64() * 1e3,
        app.events_len()
    );
    measure("events filtered, following", &mut app, (120, 40), frames);
    app.act(Action::Focus(Pane::Members));
    type_filter(&mut app, "node-0999");
    measure(
        "members filtered (the first frame scans)",
        &mut app,
        (120, 40),
        frames,
    );
}
