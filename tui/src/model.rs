//! What the monitor knows, independent of where it came from and of how it is drawn.
//!
//! [`tables`] holds groups, members and leaders, and [`locks`] the locks in use; [`history`] the bounded event history and
//! its filtered views; [`plugins`] plugin statistics and their recent events; [`rate`] the
//! events-per-second series behind the header's sparkline. Sources fill them through
//! [`crate::app::App::apply`]; the UI only reads them.

pub mod history;
pub mod locks;
pub mod plugins;
pub mod rate;
pub mod tables;
