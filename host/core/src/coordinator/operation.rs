//! The handle every asynchronous coordination call returns.
//!
//! In tooz a call "starts the operation" and returns a `CoordAsyncResult` whose `.get(timeout)`
//! waits for it. Here the call likewise starts the work at once (so a coordinator's operations
//! take effect in call order) and returns an [`Operation`]: `.await` it, or
//! [`Operation::get`] with a timeout. On the embedded backend operations complete before the
//! call returns; backends that talk to a server return pending ones.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use roster_types::error::{CoordinationError, Result};

type BoxedFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send>>;

/// A started coordination call; await it for its result.
#[must_use = "an operation's result says whether it succeeded: await it or call `get`"]
pub struct Operation<T> {
    state: OpState<T>,
}

enum OpState<T> {
    Ready(Option<Result<T>>),
    Pending(BoxedFuture<T>),
}

impl<T> std::fmt::Debug for Operation<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation")
            .field("done", &matches!(self.state, OpState::Ready(_)))
            .finish()
    }
}

impl<T: Send + 'static> Operation<T> {
    /// An operation that has already finished with `result`.
    pub fn ready(result: Result<T>) -> Self {
        Self {
            state: OpState::Ready(Some(result)),
        }
    }

    /// An operation still in progress, finishing when `future` does.
    pub fn from_future(future: impl Future<Output = Result<T>> + Send + 'static) -> Self {
        Self {
            state: OpState::Pending(Box::pin(future)),
        }
    }

    /// The operation whose result is this one's, passed through `f` when it succeeds (a
    /// finished operation stays finished).
    pub fn map<U: Send + 'static>(self, f: impl FnOnce(T) -> U + Send + 'static) -> Operation<U> {
        match self.state {
            OpState::Ready(result) => {
                Operation::ready(result.expect("an operation yields its result once").map(f))
            }
            OpState::Pending(future) => Operation::from_future(async move { future.await.map(f) }),
        }
    }

    /// Whether the result is already known (tooz's `done()`).
    pub fn done(&self) -> bool {
        matches!(self.state, OpState::Ready(_))
    }

    /// Wait for the result, at most `timeout` when one is given (tooz's `get(timeout)`).
    ///
    /// # Errors
    /// The operation's own error, or [`CoordinationError::OperationTimedOut`] when the
    /// timeout expires first. A timed-out operation is abandoned.
    pub async fn get(self, timeout: Option<Duration>) -> Result<T> {
        match (self.state, timeout) {
            (OpState::Ready(result), _) => result.expect("an operation yields its result once"),
            (OpState::Pending(future), None) => future.await,
            (OpState::Pending(future), Some(limit)) => tokio::time::timeout(limit, future)
                .await
                .map_err(|_| CoordinationError::OperationTimedOut(limit))?,
        }
    }
}

/// Awaiting an operation waits without a timeout.
impl<T: Send + 'static> IntoFuture for Operation<T> {
    type Output = Result<T>;
    type IntoFuture = OperationFuture<T>;

    fn into_future(self) -> Self::IntoFuture {
        OperationFuture { state: self.state }
    }
}

/// The future of an awaited [`Operation`].
pub struct OperationFuture<T> {
    state: OpState<T>,
}

impl<T> std::fmt::Debug for OperationFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationFuture").finish_non_exhaustive()
    }
}

impl<T> Unpin for OperationFuture<T> {}

impl<T> Future for OperationFuture<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            OpState::Ready(result) => {
                Poll::Ready(result.take().expect("an operation yields its result once"))
            }
            OpState::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn get_with_a_timeout_reports_operation_timed_out() {
        let slow = Operation::from_future(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(1)
        });
        assert!(!slow.done());
        assert_eq!(
            slow.get(Some(Duration::from_secs(1))).await,
            Err(CoordinationError::OperationTimedOut(Duration::from_secs(1)))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn get_within_the_timeout_returns_the_result() {
        let op = Operation::from_future(async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok("done")
        });
        assert_eq!(op.get(Some(Duration::from_secs(2))).await, Ok("done"));
    }

    #[tokio::test]
    async fn map_keeps_a_finished_operation_finished_and_passes_errors_through() {
        let doubled = Operation::ready(Ok(21)).map(|n| n * 2);
        assert!(doubled.done());
        assert_eq!(doubled.await, Ok(42));
        let pending = Operation::from_future(async { Ok(1) }).map(|n| n + 1);
        assert!(!pending.done());
        assert_eq!(pending.await, Ok(2));
        let failed = Operation::<u8>::ready(Err(CoordinationError::NotStarted)).map(|n| n + 1);
        assert_eq!(failed.await, Err(CoordinationError::NotStarted));
    }

    #[tokio::test]
    async fn ready_operation_is_done_and_awaits_to_its_result() {
        let op = Operation::ready(Err::<(), _>(CoordinationError::NotStarted));
        assert!(op.done());
        assert_eq!(op.await, Err(CoordinationError::NotStarted));
    }
}
