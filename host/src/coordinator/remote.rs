//! A coordinator's link to a store behind a [driver](crate::driver): its session there, and
//! the queue that runs its calls one after another.
//!
//! On the embedded backend a call takes effect before it returns. A driver's calls travel, so
//! to keep tooz's promise that a coordinator's operations take effect in call order, each call
//! is queued when it is made and a worker task runs the queue in order. A call that changes
//! the store completes only once the coordinator's mirror has the change, so what the caller
//! does next (a read, a watch, `run_watchers`) sees it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::Operation;
use crate::driver::mirror::Mirror;
use crate::driver::{Driver, SessionKey};
use crate::error::{CoordinationError, Result};
use crate::event::Revision;
use crate::ids::{GroupId, MemberId};

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The session and call queue of one coordinator on a driver's store.
#[derive(Debug)]
pub(super) struct Remote {
    pub(super) mirror: Arc<Mirror>,
    session: Mutex<Option<SessionKey>>,
    queue: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Remote {
    pub(super) fn new(mirror: Arc<Mirror>) -> Self {
        Self {
            mirror,
            session: Mutex::new(None),
            queue: Mutex::new(None),
            worker: Mutex::new(None),
        }
    }

    fn driver(&self) -> Arc<dyn Driver> {
        Arc::clone(self.mirror.driver())
    }

    /// Open a session for `member` and start the call queue; stand again in `elections`.
    pub(super) async fn start(
        &self,
        member: &MemberId,
        ttl: Duration,
        elections: &[GroupId],
    ) -> Result<()> {
        self.mirror.ensure_feed().await?;
        let driver = self.driver();
        let session = driver.open_session(member, ttl).await?;
        let mut last = None;
        for group in elections {
            // A group deleted while stopped simply has no election to rejoin.
            if let Ok(revision) = driver.stand(&session, group.as_str()).await {
                last = Some(revision);
            }
        }
        if let Some(revision) = last {
            self.mirror.catch_up(revision).await;
        }
        let (sender, mut jobs) = mpsc::unbounded_channel::<Job>();
        let worker = tokio::spawn(async move {
            while let Some(job) = jobs.recv().await {
                job.await;
            }
        });
        *lock(&self.session) = Some(session);
        *lock(&self.queue) = Some(sender);
        if let Some(old) = lock(&self.worker).replace(worker) {
            old.abort();
        }
        Ok(())
    }

    /// Close the session once every queued call has run; the queue ends with it.
    pub(super) async fn stop(&self) -> Result<()> {
        let closed = self.call(|driver, session| async move {
            driver.close_session(&session).await.map(|r| ((), Some(r)))
        });
        let result = closed.await;
        *lock(&self.session) = None;
        lock(&self.queue).take();
        result
    }

    /// The session, for calls made outside the queue (heartbeats).
    pub(super) fn session(&self) -> Result<SessionKey> {
        lock(&self.session)
            .clone()
            .ok_or(CoordinationError::NotStarted)
    }

    /// Heartbeat the session (outside the queue: it changes nothing another call depends on).
    pub(super) async fn heartbeat(&self) -> Result<Duration> {
        let session = self.session()?;
        self.driver().heartbeat(&session).await
    }

    /// Queue `call`; the operation completes when it has run and, if it returned a revision,
    /// the mirror has caught up with it.
    pub(super) fn call<T, F, Fut>(&self, call: F) -> Operation<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<dyn Driver>, SessionKey) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(T, Option<Revision>)>> + Send + 'static,
    {
        let (Ok(session), Some(queue)) = (self.session(), lock(&self.queue).clone()) else {
            return Operation::ready(Err(CoordinationError::NotStarted));
        };
        let driver = self.driver();
        let mirror = Arc::clone(&self.mirror);
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::pin(async move {
            let result = call(driver, session).await;
            if let Ok((_, Some(revision))) = &result {
                mirror.catch_up(*revision).await;
            }
            let _ = reply.send(result.map(|(value, _)| value));
        });
        if queue.send(job).is_err() {
            return Operation::ready(Err(CoordinationError::NotStarted));
        }
        Operation::from_future(async move {
            answer.await.unwrap_or_else(|_| {
                Err(CoordinationError::Connection(
                    "the coordinator stopped before the call ran".into(),
                ))
            })
        })
    }

    /// Wait until every call queued so far has run and the mirror holds every change the
    /// store had made by then, by anyone.
    pub(super) async fn settle(&self) -> Result<()> {
        self.call(|driver, _| async move {
            let head = driver.head().await?;
            Ok(((), Some(head)))
        })
        .await
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if let Some(worker) = lock(&self.worker).take() {
            worker.abort();
        }
    }
}
