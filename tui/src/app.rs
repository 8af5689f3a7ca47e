//! The app: the model plus what the operator is looking at, changed only by updates from the
//! source and by keys. No I/O and no terminal here (except writing an export when asked), so
//! tests drive it with scripted updates and keys and render it to a test backend.
//!
//! The view can be frozen: the tables and plugin statistics on screen are a copy taken when
//! freezing and the events pane stops at the last row seen then, while ingestion carries on
//! and the header counts what is new. Following is separate: the events pane keeps its last
//! row selected while following, scrolling up stops that, `G` starts it again.
//!
//! Here: the state and the queries the UI draws from; `keys` holds what keys do,
//! `export_view` the Ctrl-s table, `selection` list scrolling.

mod export_view;
mod keys;
pub mod selection;

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::SystemTime;

use roster::GroupId;

pub use selection::ListState;

use crate::clock::Clock;
use crate::export::ExportFormat;
use crate::keymap::Pane;
use crate::model::history::{Filtered, History, Row, contains_folded};
use crate::model::locks::Lock;
use crate::model::plugins::Plugins;
use crate::model::rate::Rate;
use crate::model::tables::{Group, Member, Tables};
use crate::source::{ConnectionState, Update};
use crate::theme::Theme;
use crate::timefmt::TimeFormat;

/// How the app is set up.
#[derive(Clone, Debug)]
pub struct AppOptions {
    /// What the header names as the backend.
    pub source: String,
    /// Rows of event history kept.
    pub history: usize,
    /// Where Ctrl-s writes.
    pub export_dir: PathBuf,
    /// What Ctrl-s writes.
    pub export_format: ExportFormat,
    /// Styles (colours on or off).
    pub theme: Theme,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            source: "-".to_owned(),
            history: crate::model::history::DEFAULT_CAPACITY,
            export_dir: PathBuf::from("."),
            export_format: ExportFormat::Csv,
            theme: Theme::default(),
        }
    }
}

/// What a cached members filter result was computed for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MembersKey {
    group: GroupId,
    last_change: Option<roster::Revision>,
    len: usize,
    needle: String,
    frozen: Option<SystemTime>,
}

/// The members the members pane lists; see [`App::members_view`].
#[derive(Debug)]
pub enum MembersView<'a> {
    /// No group is selected, or its members are not known.
    None,
    /// Every member of the group, in id order.
    All(&'a std::collections::BTreeMap<roster::MemberId, Member>),
    /// The members that pass the filter, in id order.
    Filtered {
        /// Their ids.
        ids: Rc<[roster::MemberId]>,
        /// The group's members.
        members: &'a std::collections::BTreeMap<roster::MemberId, Member>,
    },
}

impl<'a> MembersView<'a> {
    /// How many members are listed.
    pub fn len(&self) -> usize {
        match self {
            Self::None => 0,
            Self::All(members) => members.len(),
            Self::Filtered { ids, .. } => ids.len(),
        }
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows `skip..skip + take`.
    pub fn rows(&self, skip: usize, take: usize) -> Vec<&'a Member> {
        match self {
            Self::None => Vec::new(),
            Self::All(members) => members.values().skip(skip).take(take).collect(),
            Self::Filtered { ids, members } => ids
                .iter()
                .skip(skip)
                .take(take)
                .filter_map(|id| members.get(id))
                .collect(),
        }
    }
}

/// What the view shows while frozen.
#[derive(Clone, Debug)]
pub struct Frozen {
    /// When the view was frozen.
    pub since: SystemTime,
    /// The tables at that moment.
    pub tables: Tables,
    /// The plugin statistics at that moment.
    pub plugins: Plugins,
    /// The events pane shows rows before this sequence number.
    pub history_end: u64,
}

/// A detail overlay opened with Enter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detail {
    /// A member of a group.
    Member(GroupId, roster::MemberId),
    /// A history row, by sequence number.
    Event(u64),
    /// A plugin, by name.
    Plugin(String),
    /// A lock, by name.
    Lock(roster::LockName),
}

/// The events pane's position.
#[derive(Clone, Debug)]
pub struct EventsView {
    /// Keep the newest row selected as rows arrive.
    pub follow: bool,
    /// The selected row's sequence number when not following.
    pub selected: Option<u64>,
    /// The filter's matching rows, when a filter is set.
    pub filtered: Option<Filtered>,
    /// Sequence number of the top row drawn last time, to scroll smoothly.
    pub top: Cell<Option<u64>>,
    /// Rows visible last time, for paging.
    pub page: Cell<usize>,
}

impl Default for EventsView {
    fn default() -> Self {
        Self {
            follow: true,
            selected: None,
            filtered: None,
            top: Cell::new(None),
            page: Cell::new(10),
        }
    }
}

/// What the operator is looking at.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// The focused pane.
    pub focus: Pane,
    /// Groups pane selection.
    pub groups: ListState,
    /// Members pane selection.
    pub members: ListState,
    /// Events pane position.
    pub events: EventsView,
    /// Plugins pane selection.
    pub plugins: ListState,
    /// Locks pane selection.
    pub locks: ListState,
    /// Filter text of each pane, in [`Pane::ALL`] order.
    pub filters: [String; Pane::ALL.len()],
    /// The filter of the focused pane is being typed.
    pub editing: bool,
    /// The help overlay is open.
    pub help: bool,
    /// A detail overlay is open.
    pub detail: Option<Detail>,
    /// The view is frozen.
    pub frozen: Option<Frozen>,
    /// How timestamps are shown.
    pub time_format: TimeFormat,
    /// A one-line message for the footer (the export path, an error).
    pub status: Option<String>,
}

fn pane_index(pane: Pane) -> usize {
    Pane::ALL.iter().position(|p| *p == pane).unwrap_or(0)
}

/// The monitor's whole state.
pub struct App {
    /// What the header names as the backend.
    pub source: String,
    /// The link to the source.
    pub connection: ConnectionState,
    /// Groups, members, leaders (live).
    pub tables: Tables,
    /// The event history (live).
    pub history: History,
    /// Plugin health (live).
    pub plugins: Plugins,
    /// Events per second.
    pub rate: Rate,
    /// The source's latest notice.
    pub notice: Option<String>,
    /// What is on screen.
    pub view: View,
    /// Set when the operator asked to quit.
    pub should_quit: bool,
    /// Styles.
    pub theme: Theme,
    members_cache: RefCell<Option<(MembersKey, Rc<[roster::MemberId]>)>>,
    clock: Arc<dyn Clock>,
    export_dir: PathBuf,
    export_format: ExportFormat,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("source", &self.source)
            .field("connection", &self.connection)
            .field("revision", &self.tables.revision)
            .field("history", &self.history.len())
            .finish_non_exhaustive()
    }
}

impl App {
    /// An empty app reading time from `clock`.
    pub fn new(options: AppOptions, clock: Arc<dyn Clock>) -> Self {
        Self {
            source: options.source,
            connection: ConnectionState::Connecting,
            tables: Tables::default(),
            history: History::new(options.history),
            plugins: Plugins::default(),
            rate: Rate::default(),
            notice: None,
            view: View::default(),
            should_quit: false,
            theme: options.theme,
            members_cache: RefCell::new(None),
            clock,
            export_dir: options.export_dir,
            export_format: options.export_format,
        }
    }

    /// The current time, from the app's clock.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// Take in one update from the source.
    pub fn apply(&mut self, update: Update) {
        match update {
            Update::Connection(state) => self.connection = state,
            Update::Snapshot(snapshot) => {
                let now = self.now();
                self.tables.apply_snapshot(snapshot, now);
            }
            Update::Event { event, at } => {
                self.tables.apply_event(&event, at);
                if self.history.push_event(event, at) {
                    self.rate.record(at);
                }
            }
            Update::Restarted => {
                let now = self.now();
                self.history.push_restart(now);
                self.tables = Tables::default();
            }
            Update::HistoryLost { oldest } => {
                let now = self.now();
                self.history.push_loss(oldest, now);
            }
            Update::Plugins(stats) => self.plugins.stats = stats,
            Update::PluginEvent(event) => self.plugins.push_event(event),
            Update::Notice(text) => self.notice = Some(text),
        }
        if let Some(filtered) = &mut self.view.events.filtered {
            filtered.refresh(&self.history);
        }
    }

    // ---- what the view shows -------------------------------------------------------------

    /// The tables on screen: the frozen copy, or the live ones.
    pub fn shown_tables(&self) -> &Tables {
        self.view
            .frozen
            .as_ref()
            .map_or(&self.tables, |f| &f.tables)
    }

    /// The plugin statistics on screen.
    pub fn shown_plugins(&self) -> &Plugins {
        self.view
            .frozen
            .as_ref()
            .map_or(&self.plugins, |f| &f.plugins)
    }

    /// Events that arrived since the view was frozen.
    pub fn new_since_frozen(&self) -> u64 {
        self.view
            .frozen
            .as_ref()
            .map_or(0, |f| self.history.end_seq().saturating_sub(f.history_end))
    }

    /// The filter text of `pane`.
    pub fn filter(&self, pane: Pane) -> &str {
        &self.view.filters[pane_index(pane)]
    }

    /// The groups on screen, filtered, in id order.
    pub fn groups_view(&self) -> Vec<&Group> {
        let needle = self.filter(Pane::Groups).to_lowercase();
        self.shown_tables()
            .groups
            .values()
            .filter(|g| needle.is_empty() || g.id.as_str().to_lowercase().contains(&needle))
            .collect()
    }

    /// The group whose members the members pane shows: the one selected in the groups pane.
    pub fn selected_group(&self) -> Option<&Group> {
        let groups = self.groups_view();
        let index = self.view.groups.index(groups.len())?;
        groups.get(index).copied()
    }

    /// The members pane's list: every member of the selected group when there is no filter
    /// (rows are then reached by skipping, with no copy), else the matching ones. Matches are
    /// found in one allocation-free pass over ids and capabilities and kept until the group
    /// changes (its last change, size, the filter or freezing), so a 100 000-member group is
    /// not scanned again for every frame.
    pub fn members_view(&self) -> MembersView<'_> {
        let Some(group) = self.selected_group() else {
            return MembersView::None;
        };
        let Some(members) = group.members.as_ref() else {
            return MembersView::None;
        };
        let needle = self.filter(Pane::Members).to_lowercase();
        if needle.is_empty() {
            return MembersView::All(members);
        }
        let key = MembersKey {
            group: group.id.clone(),
            last_change: group.last_change,
            len: members.len(),
            needle,
            frozen: self.view.frozen.as_ref().map(|f| f.since),
        };
        let mut cache = self.members_cache.borrow_mut();
        if cache.as_ref().is_none_or(|(cached, _)| *cached != key) {
            let ids = members
                .values()
                .filter(|m| {
                    contains_folded(m.id.as_str().as_bytes(), &key.needle)
                        || contains_folded(m.capabilities.as_bytes(), &key.needle)
                })
                .map(|m| m.id.clone())
                .collect();
            *cache = Some((key, ids));
        }
        let ids = cache
            .as_ref()
            .map(|(_, ids)| Rc::clone(ids))
            .unwrap_or_default();
        MembersView::Filtered { ids, members }
    }

    /// How many members the members pane lists.
    pub fn members_len(&self) -> usize {
        self.members_view().len()
    }

    /// The members pane's rows `skip..skip + take`, in id order.
    pub fn members_rows(&self, skip: usize, take: usize) -> Vec<&Member> {
        self.members_view().rows(skip, take)
    }

    /// The end (exclusive sequence number) of the rows the events pane may show.
    fn events_end(&self) -> u64 {
        self.view
            .frozen
            .as_ref()
            .map_or(self.history.end_seq(), |f| {
                f.history_end.min(self.history.end_seq())
            })
    }

    /// How many rows the events pane lists.
    pub fn events_len(&self) -> usize {
        let end = self.events_end();
        match &self.view.events.filtered {
            Some(filtered) => filtered.count_before(end),
            None => end.saturating_sub(self.history.first_seq()) as usize,
        }
    }

    /// Sequence number of the events pane's `index`-th row.
    pub fn events_seq(&self, index: usize) -> Option<u64> {
        if index >= self.events_len() {
            return None;
        }
        match &self.view.events.filtered {
            Some(filtered) => filtered.seq(index),
            None => Some(self.history.first_seq() + index as u64),
        }
    }

    /// Index of the selected events row, if any.
    pub fn events_selected(&self) -> Option<usize> {
        let len = self.events_len();
        if len == 0 {
            return None;
        }
        if self.view.events.follow {
            return Some(len - 1);
        }
        let seq = self.view.events.selected?;
        let index = match &self.view.events.filtered {
            Some(filtered) => filtered.index_of(seq),
            None => seq.saturating_sub(self.history.first_seq()) as usize,
        };
        Some(index.min(len - 1))
    }

    /// The events pane's row at `index`.
    pub fn events_row(&self, index: usize) -> Option<&Row> {
        self.history.get(self.events_seq(index)?)
    }

    /// The plugins the plugins pane lists (after the filter).
    pub fn plugins_view(&self) -> Vec<&roster::plugin::PluginStats> {
        let needle = self.filter(Pane::Plugins).to_lowercase();
        self.shown_plugins()
            .stats
            .iter()
            .filter(|s| needle.is_empty() || s.name.to_lowercase().contains(&needle))
            .collect()
    }

    /// The locks the locks pane lists (after the filter), in name order.
    pub fn locks_view(&self) -> Vec<&Lock> {
        let needle = self.filter(Pane::Locks).to_lowercase();
        self.shown_tables()
            .locks
            .by_name
            .values()
            .filter(|l| needle.is_empty() || l.matches(&needle))
            .collect()
    }

    fn pane_len(&self, pane: Pane) -> usize {
        match pane {
            Pane::Groups => self.groups_view().len(),
            Pane::Members => self.members_len(),
            Pane::Events => self.events_len(),
            Pane::Plugins => self.plugins_view().len(),
            Pane::Locks => self.locks_view().len(),
        }
    }
}
