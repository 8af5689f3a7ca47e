//! `roster-tui`: a terminal monitor for Roster — live groups, members, leaders, the event
//! history and plugin health.
//!
//! The pieces, each with one job:
//! - [`source`]: where data comes from (the embedded [`source::demo`], scripted sources for
//!   tests) and the [`source::supervisor`] that reconnects and never duplicates history;
//! - [`model`]: what the monitor knows (tables, bounded history, plugins, event rate);
//! - [`app`]: the model plus the view (focus, selection, filters, freeze, follow), changed
//!   by updates and keys; [`keymap`] is the single key table;
//! - [`ui`]: drawing, touching only visible rows; [`theme`] gives colours their meaning;
//! - [`runtime`], [`terminal`], [`headless`], [`logging`], [`export`]: the event loop,
//!   terminal hygiene, `--no-tui`, the log file and Ctrl-s.
//!
//! ```
//! use std::sync::Arc;
//! use roster_tui::app::{App, AppOptions};
//! use roster_tui::clock::ManualClock;
//! use roster_tui::keymap::Action;
//!
//! let mut app = App::new(AppOptions::default(), Arc::new(ManualClock::at_unix(0)));
//! app.act(Action::Freeze);
//! assert!(app.view.frozen.is_some());
//! ```

pub mod app;
pub mod clock;
pub mod export;
pub mod headless;
pub mod keymap;
pub mod logging;
pub mod model;
pub mod rows;
pub mod runtime;
pub mod source;
pub mod terminal;
pub mod theme;
pub mod timefmt;
pub mod ui;
