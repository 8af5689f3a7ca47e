//! The background heartbeat task and what it reports (R11).
//!
//! tooz's `Heart` thread retries forever and only logs failures. Roster's task keeps the same
//! rhythm (a beat every half membership timeout, "better too soon than too late") but records
//! every outcome in a [`HeartbeatStatus`] that the caller and the monitor can read.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Coordinator, Inner, lock};
use roster_types::error::CoordinationError;

/// Whether `start` runs a background heartbeat task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Heartbeat {
    /// The caller calls `heartbeat` itself (tooz's `start()`).
    #[default]
    Manual,
    /// A task heartbeats every half membership timeout until `stop` (tooz's
    /// `start(start_heart=True)`).
    Background,
}

/// What the background heartbeat task has done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeartbeatStatus {
    /// Successful beats so far.
    pub beats: u64,
    /// When the last successful beat happened.
    pub last_beat: Option<Instant>,
    /// Failed beats since the last successful one.
    pub consecutive_failures: u32,
    /// The most recent failure, kept after later successes.
    pub last_error: Option<CoordinationError>,
}

pub(super) fn spawn(coordinator: Weak<Inner>, timeout: Duration) -> JoinHandle<()> {
    let interval = timeout / 2;
    tokio::spawn(async move {
        loop {
            let Some(inner) = coordinator.upgrade() else {
                return;
            };
            let status: Arc<Mutex<_>> = Arc::clone(&inner.heartbeat_status);
            let result = Coordinator { inner }.heartbeat().await;
            record(&status, result);
            tokio::time::sleep(interval).await;
        }
    })
}

fn record(status: &Mutex<HeartbeatStatus>, result: Result<Duration, CoordinationError>) {
    let mut status = lock(status);
    match result {
        Ok(_) => {
            status.beats += 1;
            status.last_beat = Some(Instant::now());
            status.consecutive_failures = 0;
        }
        Err(error) => {
            tracing::warn!(%error, "heartbeat failed");
            status.consecutive_failures += 1;
            status.last_error = Some(error);
        }
    }
}
