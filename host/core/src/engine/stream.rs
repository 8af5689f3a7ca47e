//! The history as an async stream: every event from a revision on, in order, then new ones as
//! they happen.
//!
//! The stream holds no copy of the log: it remembers the next revision it needs and reads
//! batches from the store's history, waiting for the change signal at the head. If it falls so
//! far behind that its next revision was dropped, it yields
//! [`CoordinationError::HistoryLost`] once and then continues from the oldest kept event, so
//! the consumer knows exactly where the gap is. The same happens when the store it mirrors was
//! replaced (see [`super::history`]): the stream goes on in the new store's history.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::Engine;
use roster_types::error::CoordinationError;
use roster_types::event::{Event, Revision};

/// How many events a stream copies out of the store per lock.
const BATCH: usize = 256;

/// Every change from a revision on; see [`crate::Coordinator::subscribe`].
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = Result<Event, CoordinationError>> + Send>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

struct Cursor {
    engine: Arc<Engine>,
    next: Revision,
    /// The history generation `next` belongs to.
    generation: u64,
    buffer: std::collections::VecDeque<Event>,
}

impl EventStream {
    /// A stream from the revision `start` yields (or its error, then nothing).
    pub(crate) fn starting(
        engine: Arc<Engine>,
        start: impl std::future::Future<Output = Result<Revision, CoordinationError>> + Send + 'static,
    ) -> Self {
        use futures_util::StreamExt;
        let inner = futures_util::stream::once(start).flat_map(move |from| match from {
            Ok(from) => Self::new(Arc::clone(&engine), from).inner,
            Err(error) => Box::pin(futures_util::stream::once(async { Err(error) })),
        });
        Self {
            inner: Box::pin(inner),
        }
    }

    pub(crate) fn new(engine: Arc<Engine>, from: Revision) -> Self {
        let generation = engine.read(|s| s.history.generation());
        let cursor = Cursor {
            engine,
            next: from,
            generation,
            buffer: std::collections::VecDeque::new(),
        };
        let inner = futures_util::stream::unfold(cursor, |mut cursor| async move {
            loop {
                if let Some(event) = cursor.buffer.pop_front() {
                    cursor.next = event.revision() + 1;
                    return Some((Ok(event), cursor));
                }
                let engine = Arc::clone(&cursor.engine);
                let changed = engine.changed();
                tokio::pin!(changed);
                changed.as_mut().enable();
                let mut batch = Vec::new();
                let (read, generation) = engine.read(|s| {
                    let read = s
                        .history
                        .read_in(cursor.generation, cursor.next, BATCH, &mut batch);
                    (read, s.history.generation())
                });
                if let Err(lost) = read {
                    if let CoordinationError::HistoryLost { oldest, .. } = lost {
                        cursor.next = oldest;
                        cursor.generation = generation;
                    }
                    return Some((Err(lost), cursor));
                }
                if batch.is_empty() {
                    changed.await;
                } else {
                    cursor.buffer.extend(batch);
                }
            }
        });
        Self {
            inner: Box::pin(inner),
        }
    }
}

impl Stream for EventStream {
    type Item = Result<Event, CoordinationError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
