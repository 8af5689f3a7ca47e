//! Snapshot tests of every pane at 80×24 (one pane under a tab bar) and 120×40 (the
//! dashboard, with each pane focused), the overlays and the too-small screen, plus style
//! assertions where colour carries meaning. The fixture's clock is fixed, so ages and times
//! are stable; snapshots live in `tests/snapshots/`.

use crate::common::{cluster_app, draw, press, style_of};
use crossterm::event::KeyCode;
use insta::assert_snapshot;
use ratatui::style::{Color, Modifier};
use roster_tui::keymap::{Action, Pane};

fn pane_snapshots(width: u16, height: u16) {
    for pane in Pane::ALL {
        let (mut app, _clock) = cluster_app();
        app.act(Action::Focus(pane));
        let terminal = draw(&app, width, height);
        assert_snapshot!(
            format!("{}_{width}x{height}", pane.name()),
            terminal.backend()
        );
    }
}

#[test]
fn every_pane_at_80x24() {
    pane_snapshots(80, 24);
}

#[test]
fn every_pane_at_120x40() {
    pane_snapshots(120, 40);
}

#[test]
fn too_small_screen() {
    let (app, _clock) = cluster_app();
    assert_snapshot!("too_small_40x10", draw(&app, 40, 10).backend());
}

#[test]
fn help_overlay_lists_the_key_table() {
    let (mut app, _clock) = cluster_app();
    app.act(Action::Help);
    assert_snapshot!("help_80x24", draw(&app, 80, 24).backend());
}

#[test]
fn member_detail_shows_whole_capabilities() {
    let (mut app, _clock) = cluster_app();
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Enter);
    assert_snapshot!("member_detail_120x40", draw(&app, 120, 40).backend());
}

#[test]
fn lock_detail_lists_every_holder_and_the_queue() {
    let (mut app, _clock) = cluster_app();
    app.act(Action::Focus(Pane::Locks));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    assert_snapshot!("lock_detail_120x40", draw(&app, 120, 40).backend());
}

#[test]
fn event_kinds_have_their_colours() {
    let (mut app, _clock) = cluster_app();
    app.act(Action::Focus(Pane::Events));
    app.act(Action::Top);
    let terminal = draw(&app, 80, 24);
    let buffer = terminal.backend().buffer();
    assert_eq!(style_of(buffer, "group-created").fg, Some(Color::Blue));
    assert_eq!(style_of(buffer, "member-joined").fg, Some(Color::Green));
    assert_eq!(style_of(buffer, "leader-elected").fg, Some(Color::Magenta));
    assert_eq!(
        style_of(buffer, "capabilities-updated").fg,
        Some(Color::Cyan)
    );
    // A member that left on its own is yellow; one that expired is red.
    assert_eq!(style_of(buffer, "-node-100 (left)").fg, Some(Color::Yellow));
    assert_eq!(style_of(buffer, "-node-101 (expired)").fg, Some(Color::Red));
}

#[test]
fn plugin_health_and_member_liveness_have_their_colours() {
    let (app, _clock) = cluster_app();
    let terminal = draw(&app, 120, 40);
    let buffer = terminal.backend().buffer();
    assert_eq!(style_of(buffer, "log-events").fg, Some(Color::Green));
    let quarantined = style_of(buffer, "quarantined");
    assert_eq!(quarantined.fg, Some(Color::Red));
    assert!(quarantined.add_modifier.contains(Modifier::BOLD));
    // node-003 last heartbeated 5 s ago with 1 s left: late; the others are alive.
    assert_eq!(style_of(buffer, "late").fg, Some(Color::Yellow));
    assert_eq!(style_of(buffer, "alive").fg, Some(Color::Green));
    assert_eq!(
        style_of(buffer, "node-001").fg,
        Some(Color::Magenta),
        "the leader"
    );
    assert_eq!(
        style_of(buffer, "node-002").fg,
        Some(Color::Reset),
        "not a leader"
    );
}

#[test]
fn no_color_keeps_meaning_in_text_and_modifiers() {
    let (mut app, _clock) = cluster_app();
    app.theme = roster_tui::theme::Theme::new(false);
    let terminal = draw(&app, 120, 40);
    let buffer = terminal.backend().buffer();
    assert_eq!(style_of(buffer, "quarantined").fg, Some(Color::Reset));
    assert!(
        style_of(buffer, "quarantined")
            .add_modifier
            .contains(Modifier::BOLD)
    );
}
