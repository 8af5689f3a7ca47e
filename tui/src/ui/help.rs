//! The help overlay: every binding of the key table with its description.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Clear, Row, Table};

use crate::app::App;
use crate::keymap::BINDINGS;

/// Draw the help overlay over `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme;
    let height = BINDINGS.len() as u16 + 2;
    let popup = super::centered(area, 64, height);
    let rows = BINDINGS.iter().map(|b| {
        Row::new(vec![
            ratatui::widgets::Cell::from(b.label).style(theme.key()),
            ratatui::widgets::Cell::from(b.description),
        ])
    });
    let table = Table::new(rows, [Constraint::Length(7), Constraint::Fill(1)]).block(
        Block::bordered()
            .border_style(theme.focused())
            .title(" keys · ? or Esc closes "),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(table, popup);
}
