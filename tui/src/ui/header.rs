//! The header: backend, connection state, totals and LIVE/FROZEN on the first line; the
//! events/s sparkline, history fill and time format on the second; and a banner while the
//! source is away or has something to say.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use crate::app::App;
use crate::source::ConnectionState;
use crate::timefmt;

/// The banner text, if one is due: the source is away, or it sent a notice.
pub fn banner(app: &App) -> Option<String> {
    match &app.connection {
        ConnectionState::Reconnecting {
            reason,
            attempt,
            retry_in,
        } => Some(format!(
            " source unreachable: {reason} · reconnecting, attempt {attempt} in {:.1}s · \
             history resumes where it stopped",
            retry_in.as_secs_f64()
        )),
        _ => app.notice.as_ref().map(|n| format!(" {n}")),
    }
}

fn connection_text(state: &ConnectionState) -> &'static str {
    match state {
        ConnectionState::Connecting => "○ connecting",
        ConnectionState::Connected => "● connected",
        ConnectionState::Reconnecting { .. } => "◌ reconnecting",
    }
}

/// Draw the header.
pub fn render(frame: &mut Frame, area: Rect, app: &App, banner: Option<String>) {
    let theme = app.theme;
    let now = app.now();
    let tables = app.shown_tables();
    let rows: Vec<Rect> = Layout::vertical(vec![Constraint::Length(1); area.height as usize])
        .split(area)
        .to_vec();
    let state = match &app.view.frozen {
        Some(frozen) => Span::styled(
            format!(
                " FROZEN {} · {} new ",
                timefmt::age(now.duration_since(frozen.since).unwrap_or_default()),
                app.new_since_frozen()
            ),
            theme.frozen(),
        ),
        None => Span::styled(" LIVE ", theme.live()),
    };
    let state_width = state.width() as u16;
    let first = Line::from(vec![
        Span::styled(" roster ", theme.focused()),
        Span::raw(format!("{}  ", app.source)),
        Span::styled(
            connection_text(&app.connection),
            theme.connection(&app.connection),
        ),
        Span::raw(format!(
            "  {} groups · {} members · rev {}",
            tables.groups.len(),
            tables.member_total(),
            tables.revision
        )),
    ]);
    let [left, right] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(state_width)]).areas(rows[0]);
    frame.render_widget(Paragraph::new(first), left);
    frame.render_widget(Paragraph::new(Line::from(state)), right);

    let per_second = app.rate.per_second(now);
    let label = format!(" {per_second:>5} events/s ");
    let info = format!(
        " history {}/{} · times: {} ",
        app.history.len(),
        app.history.capacity(),
        app.view.time_format.name()
    );
    let [label_area, spark_area, info_area] = Layout::horizontal([
        Constraint::Length(label.len() as u16),
        Constraint::Fill(1),
        Constraint::Length(info.chars().count() as u16),
    ])
    .areas(rows[1]);
    frame.render_widget(Paragraph::new(Span::styled(label, theme.dim())), label_area);
    let series = app.rate.series(now, usize::from(spark_area.width));
    frame.render_widget(
        Sparkline::default().data(&series).style(theme.sparkline()),
        spark_area,
    );
    frame.render_widget(Paragraph::new(Span::styled(info, theme.dim())), info_area);

    if let (Some(text), Some(area)) = (banner, rows.get(2)) {
        let style = match app.connection {
            ConnectionState::Reconnecting { .. } => theme.banner(),
            _ => theme.frozen(),
        };
        frame.render_widget(
            Paragraph::new(Line::styled(text, style)).style(style),
            *area,
        );
    }
}
