//! The detail overlay opened with Enter: everything about one member, event, plugin or
//! lock, including what the tables cut short (whole capabilities, pretty-printed when JSON;
//! every holder of a shared lock and its queue).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::app::{App, Detail};
use crate::model::history::Row;
use crate::model::plugins;
use crate::model::tables::capabilities_text;
use crate::timefmt::{self, TimeFormat};

fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| text.to_owned())
}

fn lines(app: &App, detail: &Detail) -> (String, Vec<String>) {
    let now = app.now();
    let time = |at| {
        format!(
            "{} ({} ago)",
            timefmt::clock_time(at),
            TimeFormat::Relative.show(at, now)
        )
    };
    match detail {
        Detail::Member(group, member) => {
            let tables = app.shown_tables();
            let found = tables
                .groups
                .get(group)
                .and_then(|g| Some((g, g.members.as_ref()?.get(member)?)));
            let Some((g, m)) = found else {
                return (format!("{member} in {group}"), vec!["gone".to_owned()]);
            };
            let mut out = vec![
                format!("group      {group}"),
                format!(
                    "leader     {}",
                    if g.is_leader(member) { "yes" } else { "no" }
                ),
                format!("state      {}", m.liveness(now).name()),
                format!("joined     {}", time(m.joined_at)),
            ];
            if let Some(beat) = m.last_heartbeat {
                out.push(format!("heartbeat  {}", time(beat)));
            }
            if let Some(deadline) = m.expires_at {
                out.push(format!("expires    {}", timefmt::clock_time(deadline)));
            }
            out.push("capabilities".to_owned());
            out.extend(
                pretty(&capabilities_text(&m.capabilities))
                    .lines()
                    .map(|l| format!("  {l}")),
            );
            (format!("member {member}"), out)
        }
        Detail::Event(seq) => match app.history.get(*seq) {
            Some(Row::Event { event, at }) => {
                let json = serde_json::to_string_pretty(event).unwrap_or_default();
                let mut out = vec![format!("seen {}", time(*at))];
                out.extend(json.lines().map(str::to_owned));
                (format!("event #{}", event.revision()), out)
            }
            Some(row @ (Row::Gap { at, .. } | Row::Restart { at })) => (
                row.kind_name().to_owned(),
                vec![row.detail(), format!("reported {}", time(*at))],
            ),
            None => (
                "event".to_owned(),
                vec!["evicted from the history".to_owned()],
            ),
        },
        Detail::Plugin(name) => {
            let all = app.shown_plugins();
            let Some(stats) = all.stats.iter().find(|s| s.name == *name) else {
                return (format!("plugin {name}"), vec!["gone".to_owned()]);
            };
            let mut out = vec![
                format!("state        {}", plugins::state_name(&stats.state)),
                format!("delivered    {}", stats.events_delivered),
                format!("calls        {}", stats.calls),
                format!("errors       {}", stats.errors),
                format!("traps        {}", stats.traps),
                format!("overruns     {}", stats.deadline_overruns),
                format!("restarts     {}", stats.restarts),
                format!("resyncs      {}", stats.resyncs),
                format!("queue        {}", stats.queue_depth),
                format!("call p50/p99 {:?} / {:?}", stats.call_p50, stats.call_p99),
                format!("logs dropped {}", stats.logs_dropped),
                "recent".to_owned(),
            ];
            out.extend(
                all.recent
                    .iter()
                    .rev()
                    .filter(|e| e.plugin == *name)
                    .take(10)
                    .map(|e| {
                        format!(
                            "  {} {}",
                            timefmt::clock_time(e.at),
                            plugins::describe(&e.kind)
                        )
                    }),
            );
            (format!("plugin {name}"), out)
        }
        Detail::Lock(name) => {
            let Some(lock) = app.shown_tables().locks.by_name.get(name) else {
                return (format!("lock {name}"), vec!["not held".to_owned()]);
            };
            let mut out = vec![format!("holders ({})", lock.holders.len())];
            out.extend(lock.holders.iter().map(|h| {
                format!(
                    "  {}  {}  token {}  held {}",
                    h.member_id,
                    h.mode,
                    h.token,
                    crate::rows::held_for(h, now)
                )
            }));
            out.push(format!(
                "waiters ({}), first served first",
                lock.waiters.len()
            ));
            out.extend(
                lock.waiters
                    .iter()
                    .enumerate()
                    .map(|(i, w)| format!("  {}. {}  {}", i + 1, w.member_id, w.mode)),
            );
            (format!("lock {name}"), out)
        }
    }
}

/// Draw the overlay for `detail` over `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App, detail: &Detail) {
    let (title, text) = lines(app, detail);
    let width = (area.width * 4 / 5).max(40);
    let height = (text.len() as u16 + 2).min(area.height);
    let popup = super::centered(area, width, height);
    let paragraph = Paragraph::new(text.into_iter().map(Line::from).collect::<Vec<_>>())
        .wrap(Wrap { trim: false })
        .block(
            Block::bordered()
                .border_style(app.theme.focused())
                .title(format!(" {title} · Esc closes ")),
        );
    frame.render_widget(Clear, popup);
    frame.render_widget(paragraph, popup);
}
