//! Taking over the terminal and giving it back, whatever happens.
//!
//! [`TerminalGuard::enter`] turns on raw mode, the alternate screen and a hidden cursor, and
//! installs a panic hook that restores the terminal before the panic message prints. The
//! guard restores it again when dropped, so an error return leaves a usable shell too.
//! Restoring never panics: a failure is logged. The mouse is never captured, so the
//! terminal's own text selection keeps working.

use std::io::{self, Stdout, stdout};

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal the monitor draws on.
pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Holds the terminal in monitor mode; dropping it restores the terminal.
#[derive(Debug)]
pub struct TerminalGuard {
    _private: (),
}

/// Put the terminal back: cursor shown, main screen, cooked mode. Safe to call twice.
pub fn restore() {
    let shown = execute!(stdout(), Show, LeaveAlternateScreen);
    let cooked = disable_raw_mode();
    for result in [shown, cooked] {
        if let Err(e) = result {
            tracing::error!(%e, "failed to restore the terminal");
        }
    }
}

impl TerminalGuard {
    /// Take over the terminal.
    ///
    /// # Errors
    /// The terminal cannot be switched to raw mode or the alternate screen.
    pub fn enter() -> io::Result<(Self, Tui)> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        let guard = Self { _private: () };
        enable_raw_mode()?;
        execute!(stdout(), EnterAlternateScreen, Hide)?;
        let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        Ok((guard, terminal))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}
