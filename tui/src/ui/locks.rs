//! The locks pane: each lock in use with its holder (and how many more share it), mode,
//! newest fencing token, how long it has been held, and who waits for it, first served
//! first. Enter shows every holder with its token.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;

use super::table::Columns;
use crate::app::App;
use crate::keymap::Pane;
use crate::rows::{LOCK_HEADERS, lock_cells};

const WIDTHS: [Constraint; 6] = [
    Constraint::Fill(1),
    Constraint::Fill(1),
    Constraint::Length(9),
    Constraint::Length(8),
    Constraint::Length(9),
    Constraint::Fill(1),
];

/// Draw the locks pane.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let now = app.now();
    let theme = app.theme;
    let locks = app.locks_view();
    super::list_pane(
        frame,
        area,
        app,
        super::ListPane {
            pane: Pane::Locks,
            state: &app.view.locks,
            columns: Columns {
                headers: &LOCK_HEADERS,
                widths: &WIDTHS,
                empty: "no lock held",
            },
        },
        &locks,
        |lock| {
            let waiting = !lock.waiters.is_empty();
            lock_cells(lock, now)
                .into_iter()
                .enumerate()
                .map(|(i, text)| {
                    let style = match i {
                        1 => theme.leader(),
                        4 => theme.dim(),
                        5 if waiting => theme.key(),
                        5 => theme.dim(),
                        _ => Style::new(),
                    };
                    (text, style)
                })
                .collect()
        },
    );
}
