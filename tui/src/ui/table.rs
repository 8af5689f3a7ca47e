//! One table drawing routine for every pane: a header row, the given (visible) rows only,
//! the selected one reversed, and a message when there is nothing to show.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table};

use crate::theme::Theme;

/// The rows of one frame: cells and a style per cell.
pub struct Visible {
    /// Each row's styled cells.
    pub rows: Vec<Vec<(String, Style)>>,
    /// Index within `rows` of the selected row, if it is visible.
    pub selected: Option<usize>,
}

/// A pane's columns.
pub struct Columns<'a> {
    /// Header text.
    pub headers: &'a [&'a str],
    /// Widths.
    pub widths: &'a [Constraint],
    /// What to say when there are no rows.
    pub empty: &'a str,
}

/// Draw `visible` under the column headers inside `block`.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    block: Block<'_>,
    columns: &Columns<'_>,
    visible: Visible,
    theme: Theme,
) {
    if visible.rows.is_empty() {
        let text = Paragraph::new(Line::styled(columns.empty.to_owned(), theme.dim())).block(block);
        frame.render_widget(text, area);
        return;
    }
    let rows = visible.rows.into_iter().enumerate().map(|(i, cells)| {
        let row = Row::new(
            cells
                .into_iter()
                .map(|(text, style)| ratatui::widgets::Cell::from(text).style(style)),
        );
        if visible.selected == Some(i) {
            row.style(theme.selected())
        } else {
            row
        }
    });
    let table = Table::new(rows, columns.widths.to_vec())
        .header(Row::new(columns.headers.to_vec()).style(theme.header()))
        .column_spacing(1)
        .block(block);
    frame.render_widget(table, area);
}

/// Rows of data that fit in `area` inside a border, under a header row.
pub fn data_height(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(3))
}
