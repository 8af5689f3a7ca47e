//! Ctrl-s: the focused pane's current view as a table of text, written by [`crate::export`].

use super::App;
use crate::export::{self, Table};
use crate::keymap::Pane;
use crate::rows;
use crate::timefmt::TimeFormat;

impl App {
    /// The focused pane's current view (filtered, frozen if frozen) as a table, with UTC
    /// times.
    pub fn view_table(&self, pane: Pane) -> Table {
        let now = self.now();
        let format = TimeFormat::Absolute;
        let (headers, rows): (&[&str], Vec<Vec<String>>) = match pane {
            Pane::Groups => (
                &rows::GROUP_HEADERS,
                self.groups_view()
                    .into_iter()
                    .map(|g| rows::group_cells(g, now, format).to_vec())
                    .collect(),
            ),
            Pane::Members => {
                let group = self.selected_group();
                (
                    &rows::MEMBER_HEADERS,
                    self.members_rows(0, usize::MAX)
                        .into_iter()
                        .map(|m| {
                            let leader = group.is_some_and(|g| g.is_leader(&m.id));
                            rows::member_cells(m, leader, now, format).to_vec()
                        })
                        .collect(),
                )
            }
            Pane::Events => (
                &rows::EVENT_HEADERS,
                (0..self.events_len())
                    .filter_map(|i| self.events_row(i))
                    .map(|row| rows::event_cells(row, now, format).to_vec())
                    .collect(),
            ),
            Pane::Plugins => (
                &rows::PLUGIN_HEADERS,
                self.plugins_view()
                    .into_iter()
                    .map(|s| rows::plugin_cells(s, self.shown_plugins(), now, format).to_vec())
                    .collect(),
            ),
            Pane::Locks => (
                &rows::LOCK_HEADERS,
                self.locks_view()
                    .into_iter()
                    .map(|l| rows::lock_cells(l, now).to_vec())
                    .collect(),
            ),
        };
        Table {
            name: pane.name().to_owned(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows,
        }
    }

    /// Write the focused pane's view to a file and say where in the status line.
    pub(super) fn export(&mut self) {
        let table = self.view_table(self.view.focus);
        let count = table.rows.len();
        self.view.status = Some(
            match export::write(&table, self.export_format, &self.export_dir, self.now()) {
                Ok(path) => format!("exported {count} rows to {}", path.display()),
                Err(e) => format!("export failed: {e}"),
            },
        );
    }
}
