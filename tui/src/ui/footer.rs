//! The footer: the filter being typed, else the latest status message, else key hints taken
//! from the key table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::App;
use crate::keymap::BINDINGS;

/// Draw the footer.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme;
    let line = if app.view.editing {
        Line::from(vec![
            Span::styled(" filter /", theme.key()),
            Span::raw(app.filter(app.view.focus).to_owned()),
            Span::styled("█", theme.key()),
            Span::styled("  Enter keep · Esc clear", theme.dim()),
        ])
    } else if let Some(status) = &app.view.status {
        Line::from(Span::raw(format!(" {status}")))
    } else {
        // Whole hints only, in table order, as many as fit.
        let mut spans = vec![Span::raw(" ")];
        let mut used = 1;
        for binding in BINDINGS {
            let Some(hint) = binding.hint else { continue };
            let text = format!(" {hint}  ");
            let width = binding.label.chars().count() + text.chars().count();
            if used + width > usize::from(area.width) + 2 {
                break;
            }
            used += width;
            spans.push(Span::styled(binding.label, theme.key()));
            spans.push(Span::styled(text, theme.dim()));
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}
