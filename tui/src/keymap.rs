//! Every key binding, in one table: key handling, the help overlay and the footer all read
//! [`BINDINGS`], so they cannot disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The panes, in Tab order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Pane {
    /// Groups: member count, leader and term, last change.
    #[default]
    Groups,
    /// Members of the selected group.
    Members,
    /// Event history.
    Events,
    /// Plugin health.
    Plugins,
    /// Locks: holders, mode, fencing token, how long held, waiters.
    Locks,
}

impl Pane {
    /// Every pane, in Tab order.
    pub const ALL: [Self; 5] = [
        Self::Groups,
        Self::Members,
        Self::Events,
        Self::Plugins,
        Self::Locks,
    ];

    /// Title and file-name stem.
    pub fn name(self) -> &'static str {
        match self {
            Self::Groups => "groups",
            Self::Members => "members",
            Self::Events => "events",
            Self::Plugins => "plugins",
            Self::Locks => "locks",
        }
    }

    /// The next pane in Tab order (`forward`) or the previous one.
    pub fn cycle(self, forward: bool) -> Self {
        let i = Self::ALL.iter().position(|p| *p == self).unwrap_or(0);
        let n = Self::ALL.len();
        Self::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// What a key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Leave the monitor.
    Quit,
    /// Show or hide the help overlay.
    Help,
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Focus a pane.
    Focus(Pane),
    /// Select the row above (turns follow off in the events pane).
    Up,
    /// Select the row below.
    Down,
    /// Select the first row (turns follow off).
    Top,
    /// Select the last row; in the events pane, follow new events again.
    Bottom,
    /// One page up (turns follow off).
    PageUp,
    /// One page down.
    PageDown,
    /// Drill in: a group's members, or the details of a member, event, plugin or lock.
    Enter,
    /// Close the overlay, clear the filter, or go back to groups.
    Back,
    /// Type a filter for the focused pane.
    Filter,
    /// Freeze the view (ingestion continues) or go live again.
    Freeze,
    /// Switch timestamps between ages and UTC times.
    TimeFormat,
    /// Write the focused pane's current view to a file.
    Export,
}

/// A key with its modifiers (Shift is implied by the character itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Control or Alt, if held.
    pub modifiers: KeyModifiers,
}

const fn plain(code: KeyCode) -> Key {
    Key {
        code,
        modifiers: KeyModifiers::NONE,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        modifiers: KeyModifiers::CONTROL,
    }
}

const fn ch(c: char) -> Key {
    plain(KeyCode::Char(c))
}

/// One row of the key table.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    /// The keys that trigger it.
    pub keys: &'static [Key],
    /// How the keys are written in the help and footer.
    pub label: &'static str,
    /// What it does.
    pub action: Action,
    /// What it does, in words, for the help overlay.
    pub description: &'static str,
    /// Short form for the footer, if it appears there.
    pub hint: Option<&'static str>,
}

/// The key table.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[ch('q'), ctrl('c')],
        label: "q",
        action: Action::Quit,
        description: "quit (also Ctrl-c)",
        hint: Some("quit"),
    },
    Binding {
        keys: &[ch('?')],
        label: "?",
        action: Action::Help,
        description: "show or hide this help",
        hint: Some("help"),
    },
    Binding {
        keys: &[plain(KeyCode::Tab)],
        label: "Tab",
        action: Action::NextPane,
        description: "next pane (Shift-Tab: previous)",
        hint: None,
    },
    Binding {
        keys: &[plain(KeyCode::BackTab)],
        label: "S-Tab",
        action: Action::PrevPane,
        description: "previous pane",
        hint: None,
    },
    Binding {
        keys: &[ch('1')],
        label: "1",
        action: Action::Focus(Pane::Groups),
        description: "groups pane",
        hint: None,
    },
    Binding {
        keys: &[ch('2')],
        label: "2",
        action: Action::Focus(Pane::Members),
        description: "members pane",
        hint: None,
    },
    Binding {
        keys: &[ch('3')],
        label: "3",
        action: Action::Focus(Pane::Events),
        description: "events pane",
        hint: None,
    },
    Binding {
        keys: &[ch('4')],
        label: "4",
        action: Action::Focus(Pane::Plugins),
        description: "plugins pane",
        hint: None,
    },
    Binding {
        keys: &[ch('5')],
        label: "5",
        action: Action::Focus(Pane::Locks),
        description: "locks pane",
        hint: None,
    },
    Binding {
        keys: &[ch('k'), plain(KeyCode::Up)],
        label: "k/↑",
        action: Action::Up,
        description: "select the row above (stops following)",
        hint: None,
    },
    Binding {
        keys: &[ch('j'), plain(KeyCode::Down)],
        label: "j/↓",
        action: Action::Down,
        description: "select the row below",
        hint: None,
    },
    Binding {
        keys: &[ch('g'), plain(KeyCode::Home)],
        label: "g",
        action: Action::Top,
        description: "first row (stops following)",
        hint: None,
    },
    Binding {
        keys: &[ch('G'), plain(KeyCode::End)],
        label: "G",
        action: Action::Bottom,
        description: "last row; events: follow new ones",
        hint: Some("follow"),
    },
    Binding {
        keys: &[plain(KeyCode::PageUp)],
        label: "PgUp",
        action: Action::PageUp,
        description: "page up (stops following)",
        hint: None,
    },
    Binding {
        keys: &[plain(KeyCode::PageDown)],
        label: "PgDn",
        action: Action::PageDown,
        description: "page down",
        hint: None,
    },
    Binding {
        keys: &[plain(KeyCode::Enter)],
        label: "Enter",
        action: Action::Enter,
        description: "drill in: members of a group, details of a row",
        hint: Some("open"),
    },
    Binding {
        keys: &[plain(KeyCode::Esc)],
        label: "Esc",
        action: Action::Back,
        description: "back: close, clear the filter, return to groups",
        hint: Some("back"),
    },
    Binding {
        keys: &[ch('/')],
        label: "/",
        action: Action::Filter,
        description: "filter the focused pane (Enter keeps, Esc clears)",
        hint: Some("filter"),
    },
    Binding {
        keys: &[ch('f')],
        label: "f",
        action: Action::Freeze,
        description: "freeze the view (events keep arriving) or go live",
        hint: Some("freeze"),
    },
    Binding {
        keys: &[ch('t')],
        label: "t",
        action: Action::TimeFormat,
        description: "timestamps: age or UTC time",
        hint: None,
    },
    Binding {
        keys: &[ctrl('s')],
        label: "^s",
        action: Action::Export,
        description: "export the focused pane's view to a file",
        hint: Some("export"),
    },
];

/// The action bound to `key`, if any. Shift is ignored: a character's case already says it,
/// and Shift-Tab has its own key code.
pub fn action_for(key: KeyEvent) -> Option<Action> {
    let modifiers = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
    BINDINGS
        .iter()
        .find(|b| {
            b.keys
                .iter()
                .any(|k| k.code == key.code && k.modifiers == modifiers)
        })
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice() {
        let keys: Vec<Key> = BINDINGS
            .iter()
            .flat_map(|b| b.keys.iter().copied())
            .collect();
        for (i, key) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(key), "{key:?} is bound twice");
        }
    }

    #[test]
    fn the_readme_key_table_is_this_table() {
        let readme = include_str!("../README.md");
        for binding in BINDINGS {
            let row = format!("| `{}` | {} |", binding.label, binding.description);
            assert!(readme.contains(&row), "README lacks {row}");
        }
    }

    #[test]
    fn keys_map_to_actions_whatever_shift_says() {
        let shifted = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(action_for(shifted), Some(Action::Bottom));
        let save = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(action_for(save), Some(Action::Export));
        let plain_s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE);
        assert_eq!(action_for(plain_s), None);
        let back_tab = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(action_for(back_tab), Some(Action::PrevPane));
    }
}
