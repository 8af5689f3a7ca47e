//! The plugins pane: each handler's state (coloured by health), counters, queue depth, p99
//! call time and its latest event (fault, restart, quarantine).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;

use super::table::Columns;
use crate::app::App;
use crate::keymap::Pane;
use crate::model::plugins::Health;
use crate::rows::{PLUGIN_HEADERS, plugin_cells};

const WIDTHS: [Constraint; 9] = [
    Constraint::Length(11),
    Constraint::Length(11),
    Constraint::Length(7),
    Constraint::Length(6),
    Constraint::Length(5),
    Constraint::Length(8),
    Constraint::Length(5),
    Constraint::Length(8),
    Constraint::Fill(1),
];

/// Draw the plugins pane.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let now = app.now();
    let theme = app.theme;
    let plugins = app.plugins_view();
    super::list_pane(
        frame,
        area,
        app,
        super::ListPane {
            pane: Pane::Plugins,
            state: &app.view.plugins,
            columns: Columns {
                headers: &PLUGIN_HEADERS,
                widths: &WIDTHS,
                empty: "no plugins",
            },
        },
        &plugins,
        |stats| {
            let health = theme.health(Health::of(stats));
            let cells = plugin_cells(stats, app.shown_plugins(), now, app.view.time_format);
            cells
                .into_iter()
                .enumerate()
                .map(|(i, text)| {
                    let style = match i {
                        0 | 1 => health,
                        3..=5 if text != "0" => theme.health(Health::Degraded),
                        8 => theme.dim(),
                        _ => Style::new(),
                    };
                    (text, style)
                })
                .collect()
        },
    );
}
