//! Events per second over the last two minutes, for the header's sparkline.

use std::collections::VecDeque;
use std::time::SystemTime;

/// Seconds of counts kept.
const KEPT: u64 = 120;

/// Per-second event counts.
#[derive(Clone, Debug, Default)]
pub struct Rate {
    /// (Unix second, events in it), oldest first.
    buckets: VecDeque<(u64, u64)>,
}

fn second(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl Rate {
    /// Count one event seen at `at`.
    pub fn record(&mut self, at: SystemTime) {
        let s = second(at);
        match self.buckets.back_mut() {
            Some((last, count)) if *last == s => *count += 1,
            Some((last, _)) if *last > s => {
                // Out of order (a late snapshot timestamp): count it in its own second.
                if let Some((_, count)) = self.buckets.iter_mut().rev().find(|(b, _)| *b == s) {
                    *count += 1;
                }
            }
            _ => self.buckets.push_back((s, 1)),
        }
        while self.buckets.front().is_some_and(|(b, _)| b + KEPT < s) {
            self.buckets.pop_front();
        }
    }

    /// Counts of the `width` whole seconds before `now`, oldest first.
    pub fn series(&self, now: SystemTime, width: usize) -> Vec<u64> {
        let end = second(now);
        let width = width as u64;
        let start = end.saturating_sub(width);
        let mut out = vec![0; width as usize];
        for &(s, count) in &self.buckets {
            if s >= start && s < end {
                out[(s - start) as usize] = count;
            }
        }
        out
    }

    /// Events in the last whole second before `now`.
    pub fn per_second(&self, now: SystemTime) -> u64 {
        self.series(now, 1)[0]
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn series_counts_whole_seconds_before_now() {
        let t = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        let mut rate = Rate::default();
        for ms in [1_000, 1_500, 2_100, 4_900] {
            rate.record(t(ms));
        }
        assert_eq!(rate.series(t(5_000), 4), [2, 1, 0, 1]);
        assert_eq!(rate.per_second(t(5_000)), 1);
        assert_eq!(rate.per_second(t(6_000)), 0);
    }
}
