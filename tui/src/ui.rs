//! Drawing: `render(frame, app)` lays the screen out and hands each region to its module.
//!
//! Wide screens (at least [`WIDE`]) show every pane at once: groups beside the members of
//! the selected group, the event history below, then plugins, locks at the bottom. Narrower screens show
//! the focused pane alone under a tab bar. Below [`MIN_WIDTH`]×[`MIN_HEIGHT`] a notice asks
//! for a bigger terminal. Every table draws only the rows that fit, whatever the data size.

mod detail;
mod events;
mod footer;
mod groups;
mod header;
mod help;
mod locks;
mod members;
mod plugins;
mod table;
mod too_small;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::app::App;
use crate::keymap::Pane;

/// The smallest usable width.
pub const MIN_WIDTH: u16 = 60;
/// The smallest usable height.
pub const MIN_HEIGHT: u16 = 15;
/// Width from which all panes show at once.
pub const WIDE: u16 = 110;
/// Height from which all panes show at once.
pub const TALL: u16 = 32;

/// Draw the whole screen.
pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small::render(frame, area, app);
        return;
    }
    let banner = header::banner(app);
    let [header_area, body, footer_area] = Layout::vertical([
        Constraint::Length(2 + u16::from(banner.is_some())),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, header_area, app, banner);
    if area.width >= WIDE && area.height >= TALL {
        dashboard(frame, body, app);
    } else {
        single(frame, body, app);
    }
    footer::render(frame, footer_area, app);
    if let Some(detail) = &app.view.detail {
        detail::render(frame, body, app, detail);
    }
    if app.view.help {
        help::render(frame, area, app);
    }
}

fn pane(frame: &mut Frame, area: Rect, app: &App, pane: Pane) {
    match pane {
        Pane::Groups => groups::render(frame, area, app),
        Pane::Members => members::render(frame, area, app),
        Pane::Events => events::render(frame, area, app),
        Pane::Plugins => plugins::render(frame, area, app),
        Pane::Locks => locks::render(frame, area, app),
    }
}

fn dashboard(frame: &mut Frame, body: Rect, app: &App) {
    let plugin_rows = app.shown_plugins().stats.len().clamp(1, 6) as u16;
    let lock_rows = app.shown_tables().locks.by_name.len().clamp(1, 4) as u16;
    let [top, middle, plugins_area, locks_area] = Layout::vertical([
        Constraint::Percentage(40),
        Constraint::Fill(1),
        Constraint::Length(plugin_rows + 3),
        Constraint::Length(lock_rows + 3),
    ])
    .areas(body);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Fill(1)]).areas(top);
    pane(frame, left, app, Pane::Groups);
    pane(frame, right, app, Pane::Members);
    pane(frame, middle, app, Pane::Events);
    pane(frame, plugins_area, app, Pane::Plugins);
    pane(frame, locks_area, app, Pane::Locks);
}

fn single(frame: &mut Frame, body: Rect, app: &App) {
    let [tabs, rest] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(body);
    let theme = app.theme;
    let mut spans = Vec::new();
    for (i, p) in Pane::ALL.iter().enumerate() {
        let style = if *p == app.view.focus {
            theme
                .focused()
                .add_modifier(ratatui::style::Modifier::REVERSED)
        } else {
            theme.dim()
        };
        spans.push(Span::styled(format!(" {} {} ", i + 1, title(*p)), style));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), tabs);
    pane(frame, rest, app, app.view.focus);
}

/// A pane's title word.
fn title(pane: Pane) -> &'static str {
    match pane {
        Pane::Groups => "Groups",
        Pane::Members => "Members",
        Pane::Events => "Events",
        Pane::Plugins => "Plugins",
        Pane::Locks => "Locks",
    }
}

/// The bordered block of `pane`: number and title, extra title text, the filter, and a
/// position indicator at the bottom right.
fn block<'a>(app: &App, pane: Pane, extra: String, position: String) -> Block<'a> {
    let theme = app.theme;
    let focused = app.view.focus == pane;
    let number = Pane::ALL.iter().position(|p| *p == pane).unwrap_or(0) + 1;
    let mut spans = vec![Span::raw(format!(" {number} {} ", title(pane)))];
    if !extra.is_empty() {
        spans.push(Span::raw(format!("{extra} ")));
    }
    let filter = app.filter(pane);
    if !filter.is_empty() || (focused && app.view.editing) {
        spans.push(Span::styled(format!("/{filter} "), theme.key()));
    }
    let border = if focused {
        theme.focused()
    } else {
        theme.unfocused()
    };
    Block::bordered()
        .border_style(border)
        .title(Line::from(spans))
        .title_bottom(Line::from(format!(" {position} ")).right_aligned())
}

/// A pane that is a plain list (groups, plugins, locks): which pane, its selection, its
/// columns.
struct ListPane<'a> {
    pane: Pane,
    state: &'a crate::app::ListState,
    columns: table::Columns<'a>,
}

/// Draw `items` as `list`'s table, scrolled to its selection; `cells` gives an item's styled
/// cells.
fn list_pane<T>(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    list: ListPane<'_>,
    items: &[T],
    cells: impl Fn(&T) -> Vec<(String, ratatui::style::Style)>,
) {
    let height = table::data_height(area);
    let selected = list.state.index(items.len());
    let offset = list.state.scroll(selected, items.len(), height);
    let rows = items.iter().skip(offset).take(height).map(cells).collect();
    let visible = table::Visible {
        rows,
        selected: selected.map(|s| s.wrapping_sub(offset)),
    };
    let block = block(
        app,
        list.pane,
        String::new(),
        position(selected, items.len()),
    );
    table::render(frame, area, block, &list.columns, visible, app.theme);
}

/// "i/N" for a selection in a list of `len`.
fn position(selected: Option<usize>, len: usize) -> String {
    match selected {
        Some(i) => format!("{}/{len}", i + 1),
        None => format!("0/{len}"),
    }
}

/// A rectangle of `width`×`height` centred in `area` (clipped to it).
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}
