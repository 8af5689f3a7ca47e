//! The groups pane: every group with its member count, leader, term and last change.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;

use super::table::Columns;
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
    let now = app.now();
    let theme = app.theme;
    let groups = app.groups_view();
    super::list_pane(
        frame,
        area,
        app,
        super::ListPane {
            pane: Pane::Groups,
            state: &app.view.groups,
            columns: Columns {
                headers: &GROUP_HEADERS,
                widths: &WIDTHS,
                empty: "no groups",
            },
        },
        &groups,
        |group| {
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
        },
    );
}
