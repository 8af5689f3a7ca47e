//! The events pane: the history, newest at the bottom, each row with its revision, time,
//! kind (coloured), group and detail. The title says whether it follows new events and the
//! bottom shows the position within the (bounded) history.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;

use super::table::{self, Columns, Visible};
use crate::app::App;
use crate::app::selection::scroll;
use crate::keymap::Pane;
use crate::rows::{EVENT_HEADERS, event_cells};

const WIDTHS: [Constraint; 5] = [
    Constraint::Length(8),
    Constraint::Length(12),
    Constraint::Length(20),
    Constraint::Length(12),
    Constraint::Fill(1),
];

/// Draw the events pane.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let len = app.events_len();
    let height = table::data_height(area);
    let view = &app.view.events;
    view.page.set(height.max(1));
    let selected = app.events_selected();
    let previous = view.top.get().map_or(0, |top| {
        top.saturating_sub(app.history.first_seq()) as usize
    });
    let previous = match &view.filtered {
        Some(filtered) => view.top.get().map_or(0, |top| filtered.index_of(top)),
        None => previous,
    };
    let offset = scroll(previous, selected, len, height);
    view.top.set(app.events_seq(offset));
    let now = app.now();
    let theme = app.theme;
    let rows = (offset..len.min(offset + height))
        .filter_map(|i| app.events_row(i))
        .map(|row| {
            let style = theme.row(row);
            let [revision, time, kind, group, detail] = event_cells(row, now, app.view.time_format);
            vec![
                (revision, theme.dim()),
                (time, theme.dim()),
                (kind, style),
                (group, Style::new()),
                (detail, style),
            ]
        })
        .collect();
    let visible = Visible {
        rows,
        selected: selected.map(|s| s.wrapping_sub(offset)),
    };
    let mode = if app.view.frozen.is_some() {
        "frozen".to_owned()
    } else if view.follow {
        "following".to_owned()
    } else {
        "paused, G follows".to_owned()
    };
    let position = format!(
        "{} · kept {}/{}",
        super::position(selected, len),
        app.history.len(),
        app.history.capacity()
    );
    let block = super::block(app, Pane::Events, mode, position);
    let columns = Columns {
        headers: &EVENT_HEADERS,
        widths: &WIDTHS,
        empty: "no events yet",
    };
    table::render(frame, area, block, &columns, visible, theme);
}
