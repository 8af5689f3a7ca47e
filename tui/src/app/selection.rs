//! Selection and scrolling of a list pane whose rows are addressed by index.

use std::cell::Cell;

/// The selected row of a pane and the first row drawn last time.
#[derive(Clone, Debug, Default)]
pub struct ListState {
    /// The selected row (clamped to the list when used).
    pub selected: usize,
    /// The first row drawn last time; rendering moves it only as far as needed to keep the
    /// selection visible, so the list does not jump.
    pub offset: Cell<usize>,
}

impl ListState {
    /// The selected index in a list of `len` rows, if it has any.
    pub fn index(&self, len: usize) -> Option<usize> {
        (len > 0).then(|| self.selected.min(len - 1))
    }

    /// Move the selection by `delta` rows within a list of `len` rows.
    pub fn move_by(&mut self, delta: isize, len: usize) {
        let current = self.selected.min(len.saturating_sub(1));
        self.selected = current
            .saturating_add_signed(delta)
            .min(len.saturating_sub(1));
    }

    /// The first row to draw so that `selected` shows in `height` rows of `len`, and remember
    /// it.
    pub fn scroll(&self, selected: Option<usize>, len: usize, height: usize) -> usize {
        let offset = scroll(self.offset.get(), selected, len, height);
        self.offset.set(offset);
        offset
    }
}

/// The first row to draw: `previous` moved just enough for `selected` to be among `height`
/// rows, and never so far that the end of a list of `len` leaves rows empty.
pub fn scroll(previous: usize, selected: Option<usize>, len: usize, height: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    let mut offset = previous.min(len - height);
    if let Some(selected) = selected {
        if selected < offset {
            offset = selected;
        } else if selected >= offset + height {
            offset = selected + 1 - height;
        }
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolling_moves_only_as_far_as_the_selection_needs() {
        assert_eq!(scroll(0, Some(3), 100, 10), 0);
        assert_eq!(scroll(0, Some(12), 100, 10), 3);
        assert_eq!(scroll(3, Some(5), 100, 10), 3);
        assert_eq!(scroll(3, Some(1), 100, 10), 1);
        assert_eq!(scroll(95, None, 100, 10), 90);
        assert_eq!(scroll(5, Some(2), 8, 10), 0);
    }
}
