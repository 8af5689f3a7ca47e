//! The members pane: the members of the group selected in the groups pane, with their
//! state (liveness, and ★ for the leader), join time, heartbeat age and capabilities.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;

use super::table::{self, Columns, Visible};
use crate::app::App;
use crate::keymap::Pane;
use crate::rows::{MEMBER_HEADERS, member_cells};

const WIDTHS: [Constraint; 5] = [
    Constraint::Length(14),
    Constraint::Length(10),
    Constraint::Length(12),
    Constraint::Length(9),
    Constraint::Fill(1),
];

/// Draw the members pane.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let group = app.selected_group();
    let view = app.members_view();
    let len = view.len();
    let height = table::data_height(area);
    let selected = app.view.members.index(len);
    let offset = app.view.members.scroll(selected, len, height);
    let now = app.now();
    let theme = app.theme;
    let rows = view
        .rows(offset, height)
        .into_iter()
        .map(|member| {
            let leader = group.is_some_and(|g| g.is_leader(&member.id));
            let [id, state, joined, heartbeat, capabilities] =
                member_cells(member, leader, now, app.view.time_format);
            let id_style = if leader { theme.leader() } else { Style::new() };
            vec![
                (id, id_style),
                (state, theme.liveness(member.liveness(now))),
                (joined, theme.dim()),
                (heartbeat, Style::new()),
                (capabilities, Style::new()),
            ]
        })
        .collect();
    let visible = Visible {
        rows,
        selected: selected.map(|s| s.wrapping_sub(offset)),
    };
    let (extra, empty) = match group {
        Some(g) if g.members.is_some() => (format!("of {}", g.id), "no members"),
        Some(g) => (format!("of {}", g.id), "members not reported by the source"),
        None => (String::new(), "select a group"),
    };
    let block = super::block(app, Pane::Members, extra, super::position(selected, len));
    let columns = Columns {
        headers: &MEMBER_HEADERS,
        widths: &WIDTHS,
        empty,
    };
    table::render(frame, area, block, &columns, visible, theme);
}
