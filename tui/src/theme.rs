//! Colours with a meaning: each role (an event kind, a member's liveness, a plugin's health,
//! the connection) has one style, and `NO_COLOR` turns every colour off while keeping bold
//! and reverse, so meaning never rests on colour alone.

use ratatui::style::{Color, Modifier, Style};
use roster::{Event, LeaveReason};

use crate::model::history::Row;
use crate::model::plugins::Health;
use crate::model::tables::Liveness;
use crate::source::ConnectionState;

/// The monitor's styles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Self { color: true }
    }
}

impl Theme {
    /// Colours on or off.
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    /// Colours unless the `NO_COLOR` convention asks otherwise.
    pub fn from_env() -> Self {
        Self::new(std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// A history row, by kind (a leave by its reason).
    pub fn row(self, row: &Row) -> Style {
        match row {
            Row::Gap { .. } | Row::Restart { .. } => {
                self.fg(Color::Red).add_modifier(Modifier::BOLD)
            }
            Row::Event { event, .. } => match event {
                Event::GroupCreated(_) => self.fg(Color::Blue),
                Event::GroupDeleted(_) => self.fg(Color::LightRed),
                Event::MemberJoined(_) => self.fg(Color::Green),
                Event::MemberLeft(e) if e.reason == LeaveReason::Left => self.fg(Color::Yellow),
                Event::MemberLeft(_) => self.fg(Color::Red),
                Event::CapabilitiesUpdated(_) => self.fg(Color::Cyan),
                Event::LeaderElected(_) => self.fg(Color::Magenta).add_modifier(Modifier::BOLD),
                Event::LeaderLost(_) => self.fg(Color::Magenta),
                Event::LockAcquired(_) => self.fg(Color::LightCyan).add_modifier(Modifier::BOLD),
                Event::LockReleased(_) => self.fg(Color::LightCyan),
            },
        }
    }

    /// A member's liveness.
    pub fn liveness(self, liveness: Liveness) -> Style {
        match liveness {
            Liveness::Alive => self.fg(Color::Green),
            Liveness::Late => self.fg(Color::Yellow),
            Liveness::Expiring => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    /// A leader's name.
    pub fn leader(self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }

    /// A plugin's health.
    pub fn health(self, health: Health) -> Style {
        match health {
            Health::Healthy => self.fg(Color::Green),
            Health::Degraded => self.fg(Color::Yellow),
            Health::Down => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    /// The connection state.
    pub fn connection(self, state: &ConnectionState) -> Style {
        match state {
            ConnectionState::Connected => self.fg(Color::Green),
            ConnectionState::Connecting => self.fg(Color::Yellow),
            ConnectionState::Reconnecting { .. } => {
                self.fg(Color::Red).add_modifier(Modifier::BOLD)
            }
        }
    }

    /// The banner shown while the source is away.
    pub fn banner(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    /// LIVE.
    pub fn live(self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }

    /// FROZEN.
    pub fn frozen(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    /// The focused pane's border and title.
    pub fn focused(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Other panes' borders.
    pub fn unfocused(self) -> Style {
        self.fg(Color::DarkGray)
    }

    /// Column headers.
    pub fn header(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    /// The selected row (added to the row's own style).
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// Keys in the footer and help.
    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Secondary text.
    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// The sparkline.
    pub fn sparkline(self) -> Style {
        self.fg(Color::Cyan)
    }
}
