//! The queue that runs one coordinator's calls on a driver's store one after another, in
//! the order they were made.
//!
//! A call is queued when it is made, so it takes effect in call order whether or not its
//! caller awaits it, and a worker task runs what is queued. A caller that awaits its call
//! while it is next in line and nothing else runs takes the call out of the queue and runs
//! it in its own task: its answer then reaches it with no hand-off to the worker and back,
//! which on a store a round trip away costs about as much as the call itself. A call a
//! caller stops awaiting half-way is finished by a task of its own, never cut short, and the
//! queue waits for it.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// One queued call, answering its caller by itself (through a channel it owns).
pub(super) type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A coordinator's call queue; the worker task that runs it is started with it.
#[derive(Debug, Clone)]
pub(super) struct CallQueue {
    inner: Arc<Inner>,
}

/// A handle that does not keep the queue open (for the task that re-establishes holdings).
#[derive(Debug, Clone)]
pub(super) struct WeakCallQueue {
    inner: Weak<Inner>,
}

/// A queued call's place in line.
#[derive(Debug)]
pub(super) struct Ticket {
    id: u64,
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    line: Mutex<Line>,
    /// Wakes the worker: a call was queued, one ended, or the queue closed.
    wake: Notify,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line = self.line();
        f.debug_struct("CallQueue")
            .field("queued", &line.jobs.len())
            .field("running", &line.running)
            .field("closed", &line.closed)
            .finish()
    }
}

#[derive(Default)]
struct Line {
    jobs: VecDeque<(u64, Job)>,
    next_id: u64,
    /// Whether a call is running (in the worker or in its caller's task).
    running: bool,
    /// No more calls are taken; the worker ends once the line is empty.
    closed: bool,
}

impl Inner {
    fn line(&self) -> std::sync::MutexGuard<'_, Line> {
        self.line.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The first call in line, marked running, when nothing runs (and, with `only`, when it
    /// is that call).
    fn take(&self, only: Option<u64>) -> Option<Job> {
        let mut line = self.line();
        if line.running {
            return None;
        }
        let first = line.jobs.front()?.0;
        if only.is_some_and(|id| id != first) {
            return None;
        }
        line.running = true;
        line.jobs.pop_front().map(|(_, job)| job)
    }

    /// The running call ended.
    fn ended(&self) {
        let more = {
            let mut line = self.line();
            line.running = false;
            !line.jobs.is_empty() || line.closed
        };
        if more {
            self.wake.notify_one();
        }
    }

    /// Whether the worker is done: closed, nothing queued or running.
    fn finished(&self) -> bool {
        let line = self.line();
        line.closed && line.jobs.is_empty() && !line.running
    }
}

impl CallQueue {
    /// A new queue, and its worker started on the current runtime.
    pub(super) fn start() -> (Self, JoinHandle<()>) {
        let inner = Arc::new(Inner::default());
        let worker = tokio::spawn(work(Arc::clone(&inner)));
        (Self { inner }, worker)
    }

    /// Queue `job`; `None` once the queue is closed.
    pub(super) fn push(&self, job: Job) -> Option<Ticket> {
        push(&self.inner, job)
    }

    /// Whether every call queued so far has ended (none is waiting or running).
    pub(super) fn is_idle(&self) -> bool {
        let line = self.inner.line();
        line.jobs.is_empty() && !line.running
    }

    /// Take no more calls; those queued still run.
    pub(super) fn close(&self) {
        self.inner.line().closed = true;
        self.inner.wake.notify_one();
    }

    pub(super) fn downgrade(&self) -> WeakCallQueue {
        WeakCallQueue {
            inner: Arc::downgrade(&self.inner),
        }
    }
}

impl WeakCallQueue {
    /// Queue `job`; `None` once the queue is closed or gone.
    pub(super) fn push(&self, job: Job) -> Option<Ticket> {
        push(&self.inner.upgrade()?, job)
    }
}

fn push(inner: &Arc<Inner>, job: Job) -> Option<Ticket> {
    let id = {
        let mut line = inner.line();
        if line.closed {
            return None;
        }
        let id = line.next_id;
        line.next_id += 1;
        line.jobs.push_back((id, job));
        id
    };
    inner.wake.notify_one();
    Some(Ticket {
        id,
        inner: Arc::clone(inner),
    })
}

impl Ticket {
    /// Run the call here, in the caller's task, if it is next in line and nothing runs;
    /// otherwise the worker runs it in its turn (or already has).
    pub(super) async fn run_if_next(self) {
        if let Some(job) = self.inner.take(Some(self.id)) {
            Running::new(job, self.inner).await;
        }
    }
}

/// The worker: runs what callers do not run themselves, in line order.
async fn work(inner: Arc<Inner>) {
    loop {
        match inner.take(None) {
            Some(job) => Running::new(job, Arc::clone(&inner)).await,
            None if inner.finished() => return,
            None => inner.wake.notified().await,
        }
    }
}

/// A call taken out of the line, running; its end lets the next one run. Dropped before it
/// ends, it goes on in a task of its own; if that task is dropped too (its runtime shuts
/// down), the call is dropped with it and the line goes on.
struct Running {
    job: Option<Job>,
    inner: Arc<Inner>,
    /// Whether this is the task of its own a dropped call went on in.
    detached: bool,
}

impl Running {
    fn new(job: Job, inner: Arc<Inner>) -> Self {
        Self {
            job: Some(job),
            inner,
            detached: false,
        }
    }
}

impl Future for Running {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(job) = self.job.as_mut() else {
            return Poll::Ready(());
        };
        match job.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.job = None;
                self.inner.ended();
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let Some(job) = self.job.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if !self.detached => {
                runtime.spawn(Running {
                    job: Some(job),
                    inner: Arc::clone(&self.inner),
                    detached: true,
                });
            }
            // No runtime to finish it on: the call is dropped, and the line goes on.
            _ => self.inner.ended(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::oneshot;

    /// A job that records its number in `log` after yielding once, and says it ran.
    fn job(n: usize, log: &Arc<Mutex<Vec<usize>>>) -> (Job, oneshot::Receiver<()>) {
        let (done, ran) = oneshot::channel();
        let log = Arc::clone(log);
        let job: Job = Box::pin(async move {
            tokio::task::yield_now().await;
            log.lock().unwrap().push(n);
            let _ = done.send(());
        });
        (job, ran)
    }

    #[tokio::test]
    async fn calls_run_in_the_order_they_were_queued_whoever_awaits_them() {
        let (queue, worker) = CallQueue::start();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut tickets = Vec::new();
        let mut answers = Vec::new();
        for n in 0..5 {
            let (job, ran) = job(n, &log);
            tickets.push(queue.push(job).expect("open"));
            answers.push(ran);
        }
        // The last is awaited first, the first never by its caller.
        let mut tickets = tickets.into_iter().rev();
        tickets.next().expect("five").run_if_next().await;
        drop(tickets);
        for ran in answers {
            ran.await.expect("every call ran");
        }
        assert_eq!(*log.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        queue.close();
        worker
            .await
            .expect("the worker ends once closed and drained");
    }

    #[tokio::test]
    async fn a_caller_next_in_line_runs_its_call_in_its_own_task() {
        let (queue, _worker) = CallQueue::start();
        let caller = tokio::spawn(async move {
            let (ran_in, ran) = oneshot::channel();
            let ticket = queue
                .push(Box::pin(async move {
                    let _ = ran_in.send(tokio::task::try_id());
                }))
                .expect("open");
            ticket.run_if_next().await;
            (tokio::task::id(), ran.await.expect("ran"))
        });
        let (caller, ran_in) = caller.await.expect("the caller's task");
        assert_eq!(ran_in, Some(caller), "the call ran in its caller's task");
    }

    #[tokio::test]
    async fn a_call_abandoned_half_way_is_finished_before_the_next_runs() {
        let (queue, _worker) = CallQueue::start();
        let finished = Arc::new(AtomicUsize::new(0));
        let (release, released) = oneshot::channel::<()>();
        let first_done = Arc::clone(&finished);
        let first = queue
            .push(Box::pin(async move {
                let _ = released.await;
                first_done.fetch_add(1, Ordering::SeqCst);
            }))
            .expect("open");
        let (second_ran, second) = oneshot::channel();
        let order = Arc::clone(&finished);
        queue
            .push(Box::pin(async move {
                let _ = second_ran.send(order.load(Ordering::SeqCst));
            }))
            .expect("open");
        // The first call's caller gives up while it waits inside the call.
        let mut running = Box::pin(first.run_if_next());
        assert!(futures_util::FutureExt::now_or_never(running.as_mut()).is_none());
        drop(running);
        release.send(()).expect("the first call still waits");
        assert_eq!(
            second.await.expect("the second call ran"),
            1,
            "the second call ran after the first had finished"
        );
    }

    #[tokio::test]
    async fn a_closed_queue_takes_no_more_calls_and_runs_those_it_has() {
        let (queue, worker) = CallQueue::start();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (queued, ran) = job(1, &log);
        let weak = queue.downgrade();
        queue.push(queued).expect("open");
        queue.close();
        let (late, _) = job(2, &log);
        assert!(queue.push(late).is_none());
        let (late, _) = job(3, &log);
        assert!(weak.push(late).is_none());
        ran.await.expect("the queued call ran");
        worker.await.expect("the worker ends");
        assert_eq!(*log.lock().unwrap(), vec![1]);
    }

    #[test]
    fn a_runtime_shutting_down_drops_an_abandoned_call_once() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .expect("a runtime");
        let queue = runtime.block_on(async {
            let (queue, _worker) = CallQueue::start();
            let ticket = queue
                .push(Box::pin(std::future::pending::<()>()))
                .expect("open");
            let mut running = Box::pin(ticket.run_if_next());
            assert!(futures_util::FutureExt::now_or_never(running.as_mut()).is_none());
            // Abandoned: it goes on in a task of its own, which the shutdown drops.
            drop(running);
            queue
        });
        drop(runtime);
        assert!(!queue.inner.line().running, "the line goes on");
    }
}
