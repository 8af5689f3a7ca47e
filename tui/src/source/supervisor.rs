//! Keeps a [`Source`] connected and turns its feeds into one clean stream of updates.
//!
//! When a feed ends or fails, the supervisor reports [`ConnectionState::Reconnecting`] (the
//! monitor shows a banner), waits with exponential [`Backoff`] and connects again from the
//! revision after the last event it delivered, so nothing is missed. A source that resumes
//! earlier than asked (or replays its head) cannot duplicate history: events at or below the
//! last delivered revision are dropped here. After [`Update::HistoryLost`] the supervisor
//! resumes from the oldest revision the source still has; after [`Update::Restarted`] it
//! starts counting revisions afresh.

use std::time::Duration;

use futures_util::StreamExt;
use roster::Revision;
use tokio::sync::mpsc;

use super::{ConnectionState, Source, SourceError, Update};

/// How long to wait between connection attempts: `initial`, doubling up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Wait before the first retry.
    pub initial: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt` (1 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.initial.saturating_mul(1 << doublings).min(self.max)
    }
}

/// Tracks the last revision delivered, to resume after it and to drop repeats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resume {
    last: Option<Revision>,
}

impl Resume {
    /// The revision to ask for on the next connection.
    pub fn from(&self) -> Option<Revision> {
        self.last.map(|r| r + 1)
    }

    /// The last revision delivered.
    pub fn last(&self) -> Option<Revision> {
        self.last
    }

    /// Whether an event at `revision` is new; records it when it is.
    pub fn admit(&mut self, revision: Revision) -> bool {
        if self.last.is_some_and(|last| revision <= last) {
            return false;
        }
        self.last = Some(revision);
        true
    }

    /// The source no longer has revisions before `oldest`: resume from there.
    pub fn skip_to(&mut self, oldest: Revision) {
        let before = oldest.saturating_sub(1);
        if self.last.is_none_or(|last| last < before) {
            self.last = Some(before);
        }
    }
}

/// Connect `source` and forward its updates to `updates` until the receiver is dropped,
/// reconnecting with `backoff` whenever the connection ends.
pub async fn supervise<S: Source>(mut source: S, updates: mpsc::Sender<Update>, backoff: Backoff) {
    let mut resume = Resume::default();
    let mut attempt = 0;
    if updates
        .send(Update::Connection(ConnectionState::Connecting))
        .await
        .is_err()
    {
        return;
    }
    loop {
        let reason = match source.connect(resume.from()).await {
            Ok(mut feed) => {
                attempt = 0;
                if updates
                    .send(Update::Connection(ConnectionState::Connected))
                    .await
                    .is_err()
                {
                    return;
                }
                loop {
                    let update = match feed.next().await {
                        None => break "connection closed".to_owned(),
                        Some(Err(error)) => break error.to_string(),
                        Some(Ok(update)) => update,
                    };
                    match &update {
                        Update::Event { event, .. } if !resume.admit(event.revision()) => {
                            tracing::debug!(revision = event.revision(), "dropped a repeat");
                            continue;
                        }
                        Update::HistoryLost { oldest } => resume.skip_to(*oldest),
                        Update::Restarted => resume = Resume::default(),
                        _ => {}
                    }
                    if updates.send(update).await.is_err() {
                        return;
                    }
                }
            }
            Err(SourceError::Connection(reason) | SourceError::Protocol(reason)) => reason,
        };
        attempt += 1;
        let retry_in = backoff.delay(attempt);
        tracing::warn!(%reason, attempt, ?retry_in, "source lost; reconnecting");
        let state = ConnectionState::Reconnecting {
            reason,
            attempt,
            retry_in,
        };
        if updates.send(Update::Connection(state)).await.is_err() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(retry_in) => {}
            () = updates.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_maximum() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
        };
        let waits: Vec<_> = (1..=5).map(|a| backoff.delay(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn resume_admits_each_revision_once_and_in_order() {
        let mut resume = Resume::default();
        assert_eq!(resume.from(), None);
        assert!(resume.admit(3));
        assert!(!resume.admit(3));
        assert!(!resume.admit(2));
        assert!(resume.admit(4));
        assert_eq!(resume.from(), Some(5));
        resume.skip_to(10);
        assert_eq!(resume.from(), Some(10));
        resume.skip_to(2);
        assert_eq!(resume.from(), Some(10));
    }
}
