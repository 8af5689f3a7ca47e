//! The groups pane: every group with its member count, leader, term and last change.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;

use super::table::{self, Columns, Visible};
use crate::app::App;
use crate::keymap::Pane;
use crate::rows::{GROUP_HEADERS, group_cells};

const WIDTHS: [Constraint; 5] = [
    Constraint::Fill(1),
    Constraint::Length(7),
    Constraint::Length(12),
    Constraint::Length(6),
    Constraint::Length(12),
];

/// Draw the groups pane.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let groups = app.groups_view();
    let height = table::data_height(area);
    let selected = app.view.groups.index(groups.len());
    let offset = app.view.groups.scroll(selected, groups.len(), height);
    let now = app.now();
    let theme = app.theme;
    let rows = groups
        .iter()
        .skip(offset)
        .take(height)
        .map(|group| {
            let [id, count, leader, term, changed] = group_cells(group, now, app.view.time_format);
            let leader_style = if group.leader.is_some() {
                theme.leader()
            } else {
                theme.dim()
            };
            vec![
                (id, Style::new()),
                (count, Style::new()),
                (leader, leader_style),
                (term, Style::new()),
                (changed, theme.dim()),
            ]
        })
        .collect();
    let visible = Visible {
        rows,
        selected: selected.map(|s| s.wrapping_sub(offset)),
    };
    let block = super::block(
        app,
        Pane::Groups,
        String::new(),
        super::position(selected, groups.len()),
    );
    let columns = Columns {
        headers: &GROUP_HEADERS,
        widths: &WIDTHS,
        empty: "no groups",
    };
    table::render(frame, area, block, &columns, visible, theme);
}
