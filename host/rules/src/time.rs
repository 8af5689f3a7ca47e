//! The time an operation runs at, as the rules read it.
//!
//! The rules keep no clock: each call that needs the time is given one [`Now`], so a whole
//! operation happens at one instant, and the caller chooses the clocks. Deadlines need a clock
//! every user of the store shares and that tests can stop (tokio's, in the embedded engine;
//! the wall clock, for processes sharing a directory); join and update times are reported as
//! wall-clock times whatever the deadlines run on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One instant, on the two clocks the rules read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// The store's clock, in milliseconds from any origin it keeps: deadlines are set and
    /// compared on it.
    pub clock_ms: u64,
    /// The wall clock, in Unix milliseconds: what join and update times are stamped with.
    pub unix_ms: u64,
}

impl Now {
    /// An instant of a store whose clock is the wall clock (Unix milliseconds on both).
    pub const fn unix(ms: u64) -> Self {
        Self {
            clock_ms: ms,
            unix_ms: ms,
        }
    }
}

/// The wall-clock time `ms` Unix milliseconds name.
pub(crate) fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}
