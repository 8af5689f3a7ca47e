//! What keys do to the app: the filter being typed, then the actions of the key table
//! (focus, movement and following, drill-in and back, freeze, time format, export).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{App, Detail, Frozen, ListState, pane_index};
use crate::keymap::{self, Action, Pane};
use crate::model::history::Filtered;

impl App {
    /// Handle one key press; releases and repeats of other kinds are ignored.
    pub fn handle_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if self.view.editing {
            // Ctrl-c quits from anywhere, even while typing a filter.
            if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
                self.should_quit = true;
            } else {
                self.edit_filter(key);
            }
            return;
        }
        if let Some(action) = keymap::action_for(key) {
            self.act(action);
        }
    }

    fn edit_filter(&mut self, key: KeyEvent) {
        let pane = self.view.focus;
        match key.code {
            KeyCode::Esc => {
                self.view.editing = false;
                self.set_filter(pane, String::new());
            }
            KeyCode::Enter => self.view.editing = false,
            KeyCode::Backspace => {
                let mut text = self.filter(pane).to_owned();
                text.pop();
                self.set_filter(pane, text);
            }
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .contains(crossterm::event::KeyModifiers::CONTROL) =>
            {
                let mut text = self.filter(pane).to_owned();
                text.push(c);
                self.set_filter(pane, text);
            }
            _ => {}
        }
    }

    fn set_filter(&mut self, pane: Pane, text: String) {
        if pane == Pane::Events {
            self.view.events.filtered = (!text.is_empty()).then(|| {
                let mut filtered = Filtered::new(&text);
                filtered.refresh(&self.history);
                filtered
            });
            self.view.events.top.set(None);
        }
        match pane {
            Pane::Groups => self.view.groups = ListState::default(),
            Pane::Members => self.view.members = ListState::default(),
            Pane::Plugins => self.view.plugins = ListState::default(),
            Pane::Locks => self.view.locks = ListState::default(),
            Pane::Events => {}
        }
        self.view.filters[pane_index(pane)] = text;
    }

    /// Carry out `action`.
    pub fn act(&mut self, action: Action) {
        if self.view.help && !matches!(action, Action::Help | Action::Back | Action::Quit) {
            return;
        }
        match action {
            Action::Quit => self.should_quit = true,
            Action::Help => self.view.help = !self.view.help,
            Action::NextPane => self.focus(self.view.focus.cycle(true)),
            Action::PrevPane => self.focus(self.view.focus.cycle(false)),
            Action::Focus(pane) => self.focus(pane),
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(self.page() as isize)),
            Action::PageDown => self.move_by(self.page() as isize),
            Action::Top => self.move_to_edge(false),
            Action::Bottom => self.move_to_edge(true),
            Action::Enter => self.enter(),
            Action::Back => self.back(),
            Action::Filter => {
                self.view.detail = None;
                self.view.editing = true;
            }
            Action::Freeze => self.toggle_freeze(),
            Action::TimeFormat => self.view.time_format = self.view.time_format.toggled(),
            Action::Export => self.export(),
        }
    }

    fn focus(&mut self, pane: Pane) {
        self.view.detail = None;
        self.view.focus = pane;
    }

    fn page(&self) -> usize {
        self.view.events.page.get().max(1)
    }

    fn move_by(&mut self, delta: isize) {
        let pane = self.view.focus;
        let len = self.pane_len(pane);
        if pane == Pane::Events {
            let Some(current) = self.events_selected() else {
                return;
            };
            if delta < 0 {
                self.view.events.follow = false;
            }
            let target = current
                .saturating_add_signed(delta)
                .min(len.saturating_sub(1));
            self.view.events.selected = self.events_seq(target);
            return;
        }
        if let Some(state) = self.list_state(pane) {
            state.move_by(delta, len);
        }
    }

    fn move_to_edge(&mut self, bottom: bool) {
        let pane = self.view.focus;
        let len = self.pane_len(pane);
        if pane == Pane::Events {
            self.view.events.follow = bottom;
            self.view.events.selected = if bottom { None } else { self.events_seq(0) };
            return;
        }
        if let Some(state) = self.list_state(pane) {
            state.selected = if bottom { len.saturating_sub(1) } else { 0 };
        }
    }

    /// The index-addressed selection of `pane` (the events pane is addressed by sequence
    /// number instead and has none).
    fn list_state(&mut self, pane: Pane) -> Option<&mut ListState> {
        match pane {
            Pane::Groups => Some(&mut self.view.groups),
            Pane::Members => Some(&mut self.view.members),
            Pane::Plugins => Some(&mut self.view.plugins),
            Pane::Locks => Some(&mut self.view.locks),
            Pane::Events => None,
        }
    }

    fn enter(&mut self) {
        match self.view.focus {
            Pane::Groups => {
                if self.selected_group().is_some() {
                    self.view.members = ListState::default();
                    self.view.focus = Pane::Members;
                }
            }
            Pane::Members => {
                let Some(group) = self.selected_group() else {
                    return;
                };
                let group_id = group.id.clone();
                let index = self.view.members.index(self.members_len());
                let member =
                    index.and_then(|i| self.members_rows(i, 1).first().map(|m| m.id.clone()));
                if let Some(member) = member {
                    self.view.detail = Some(Detail::Member(group_id, member));
                }
            }
            Pane::Events => {
                if let Some(seq) = self.events_selected().and_then(|i| self.events_seq(i)) {
                    self.view.detail = Some(Detail::Event(seq));
                }
            }
            Pane::Plugins => {
                let name =
                    selected(&self.view.plugins, &self.plugins_view()).map(|s| s.name.clone());
                if let Some(name) = name {
                    self.view.detail = Some(Detail::Plugin(name));
                }
            }
            Pane::Locks => {
                let name = selected(&self.view.locks, &self.locks_view()).map(|l| l.name.clone());
                if let Some(name) = name {
                    self.view.detail = Some(Detail::Lock(name));
                }
            }
        }
    }

    fn back(&mut self) {
        let pane = self.view.focus;
        if self.view.help {
            self.view.help = false;
        } else if self.view.detail.is_some() {
            self.view.detail = None;
        } else if !self.filter(pane).is_empty() {
            self.set_filter(pane, String::new());
        } else if pane == Pane::Members {
            self.view.focus = Pane::Groups;
        }
    }

    fn toggle_freeze(&mut self) {
        self.view.frozen = match self.view.frozen.take() {
            Some(_) => None,
            None => Some(Frozen {
                since: self.now(),
                tables: self.tables.clone(),
                plugins: self.plugins.clone(),
                history_end: self.history.end_seq(),
            }),
        };
    }
}

/// The item of `items` that `state` selects, if any.
fn selected<'a, T>(state: &ListState, items: &[&'a T]) -> Option<&'a T> {
    state.index(items.len()).and_then(|i| items.get(i).copied())
}
