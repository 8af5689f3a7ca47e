//! `roster join`'s keepalive: heartbeat a session until interrupted, riding out a daemon
//! that is briefly away.
//!
//! A session lives one TTL past its last heartbeat, so a heartbeat that fails costs nothing
//! yet: the membership is still there, and stays there if a later heartbeat gets through in
//! time (a daemon paused, restarted behind a proxy, a network blip). Giving up on the first
//! failure would make the member leave for nothing. So a heartbeat that cannot reach the
//! daemon is retried, with backoff, until the session's TTL has run out since the last one
//! that got through; only then is the membership surely gone, and `join` says the daemon is
//! unreachable (exit code 3). Both the trouble and the recovery are reported on stderr.
//! Any other failure (the daemon says the session expired or is unknown) ends it at once.

use std::time::Duration;

use roster::client::{Client, ClientError};
use tokio::time::Instant;

use crate::output;

/// First pause before retrying a heartbeat that did not get through; it doubles up to the
/// heartbeat interval.
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// Shortest interval between heartbeats.
const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// Heartbeat `session` (time to live `ttl`, opened or last heartbeated just before this is
/// called) three times per TTL until `stop` completes; then the caller leaves.
///
/// # Errors
/// [`ClientError::Unreachable`] once no heartbeat got through for a whole TTL, so the
/// session has expired at the daemon; the daemon's own refusal of a heartbeat at once.
pub async fn keep_alive(
    client: &Client,
    session: &str,
    ttl: Duration,
    stop: &mut (impl Future<Output = ()> + Unpin),
) -> Result<(), ClientError> {
    let every = (ttl / 3).max(MIN_INTERVAL);
    // When the session expires unless a heartbeat gets through: never earlier than the
    // daemon's own reckoning, as the daemon started counting before this was measured.
    let mut expires_at = Instant::now() + ttl;
    let mut next_beat = Instant::now() + every;
    let mut backoff = FIRST_RETRY;
    let mut failing_since: Option<Instant> = None;
    loop {
        tokio::select! {
            () = &mut *stop => return Ok(()),
            () = tokio::time::sleep_until(next_beat.min(expires_at)) => {}
        }
        let now = Instant::now();
        let left = expires_at.saturating_duration_since(now);
        if left.is_zero() {
            let down = failing_since.map_or(ttl, |since| now - since);
            return Err(ClientError::Unreachable {
                address: client.address(),
                message: format!(
                    "no heartbeat got through for {} (the session's TTL is {}): the session \
                     has expired and its membership is gone",
                    output::duration(down),
                    output::duration(ttl)
                ),
            });
        }
        // A daemon that is stopped accepts connections but never answers: an attempt gets
        // no longer than what is left of the TTL, nor than a heartbeat interval.
        let patience = left.min(every);
        let attempt = tokio::select! {
            () = &mut *stop => return Ok(()),
            attempt = tokio::time::timeout(patience, client.heartbeat(session)) => attempt,
        };
        let error = match attempt {
            Ok(Ok(expires_in)) => {
                let now = Instant::now();
                expires_at = now + expires_in;
                next_beat = now + every;
                backoff = FIRST_RETRY;
                if let Some(since) = failing_since.take() {
                    eprintln!(
                        "roster: the daemon at {} answers again after {}; session {session} kept",
                        client.address(),
                        output::duration(now - since)
                    );
                }
                continue;
            }
            Ok(Err(error @ ClientError::Unreachable { .. })) => error,
            Ok(Err(refused)) => return Err(refused),
            Err(_elapsed) => ClientError::Unreachable {
                address: client.address(),
                message: format!(
                    "no answer to a heartbeat within {}",
                    output::duration(patience)
                ),
            },
        };
        let now = Instant::now();
        if failing_since.is_none() {
            failing_since = Some(now);
            eprintln!(
                "roster: heartbeat failed: {error}; retrying until the session's TTL runs out \
                 in {}",
                output::duration(expires_at.saturating_duration_since(now))
            );
        } else {
            tracing::debug!(%error, "heartbeat failed again; retrying");
        }
        next_beat = now + backoff;
        backoff = (backoff * 2).min(every);
    }
}
