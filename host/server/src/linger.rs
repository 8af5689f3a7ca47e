//! Read what is left of a request body after its answer, so the client reads the answer.
//!
//! A request refused before its body is read (no token, no such route, a bad path) is answered
//! at once. Were the connection then closed with the body's rest unread, the kernel would reset
//! it, and a client still sending would see a broken pipe instead of the `401` or `404` waiting
//! for it (over TLS, whose sender is slower, nearly always). So a body dropped unread is read
//! to its end in the background, up to the daemon's body limit and for a few seconds at most,
//! as web servers' "lingering close" does; then the connection is closed or kept as usual.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;

/// How long the rest of a body may take to arrive.
const PATIENCE: Duration = Duration::from_secs(5);

/// Give the request a body that is read to its end even if the handler drops it.
pub(crate) async fn linger(State(limit): State<usize>, request: Request, next: Next) -> Response {
    // Most requests have no body: nothing can be left of it.
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let request = request.map(|body| {
        Body::new(Lingering {
            inner: Some(body),
            limit,
        })
    });
    next.run(request).await
}

/// A request body whose unread rest is read when it is dropped.
struct Lingering {
    /// `None` once the body ended.
    inner: Option<Body>,
    /// Most bytes read after the drop.
    limit: usize,
}

impl HttpBody for Lingering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.inner = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| http_body::SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(rest) = self.inner.take().filter(|b| !b.is_end_stream()) else {
            return;
        };
        let limit = self.limit;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut read = 0usize;
            let mut data = rest.into_data_stream();
            let _ = tokio::time::timeout(PATIENCE, async {
                while let Some(Ok(chunk)) = data.next().await {
                    read += chunk.len();
                    if read > limit {
                        break;
                    }
                }
            })
            .await;
        });
    }
}
