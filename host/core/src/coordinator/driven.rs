//! A coordinator's [`Backend`] on a store behind a [driver](crate::driver): its session
//! there, and the queue that runs its calls one after another.
//!
//! On the embedded backend a call takes effect before it returns. A driver's calls travel, so
//! to keep tooz's promise that a coordinator's operations take effect in call order, each call
//! is queued when it is made and runs in its turn ([`call_queue`](super::call_queue): in the
//! caller's own task when it awaits a call that is next, else in the queue's worker). A call
//! that creates or deletes a group completes only once the coordinator's mirror has the
//! change, so a watch registered next finds the group. A membership change (join, leave, capabilities,
//! candidacy) completes when the store has made it, its revision noted in the mirror; reads go
//! to the store, watches start after it, and `run_watchers` waits for the mirror to have
//! everything first, so the caller sees its own changes either way, one round trip sooner.
//!
//! The coordinator also remembers what its member holds (groups with capabilities,
//! candidacies). When the store turns out to be replaced (a server that came back without its
//! data; the mirror notices, as does a heartbeat answered with an expiry), it establishes them
//! again there, in one queued job, so other hosts see the member join again rather than lose
//! it for good. A store that kept its data needs nothing: the session simply goes on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use roster_types::error::{CoordinationError, Result};
use roster_types::event::{FencingToken, LockMode, Revision};
use roster_types::ids::{Capabilities, GroupId, GroupName, LockName, MemberId};
use roster_types::{GroupSummary, Leader, LockAttempt, LockInfo, LockStanding, MemberInfo};

use super::backend::Backend;
use super::call_queue::{CallQueue, Job, WeakCallQueue};
use super::{Notice, Operation};
use crate::driver::mirror::Mirror;
use crate::driver::{Driver, SessionKey};
use crate::engine::State;
use crate::engine::stream::EventStream;

/// The session and call queue of one coordinator on a driver's store.
#[derive(Debug)]
pub(super) struct Driven {
    mirror: Arc<Mirror>,
    session: Mutex<Option<SessionKey>>,
    /// Where an expiry notice that a stand met waits for the next heartbeat or join (R6).
    notice: Notice,
    queue: Mutex<Option<CallQueue>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    holdings: Arc<Mutex<Holdings>>,
    /// Re-establishes the holdings when the mirror finds the store replaced.
    keeper: Mutex<Option<JoinHandle<()>>>,
    /// The greatest revision this coordinator's changes have returned: a stream subscribed
    /// "from now" while calls are queued starts after their changes and no later.
    last_change: Arc<AtomicU64>,
}

/// When a queued call that changed the store completes.
#[derive(Clone, Copy, Debug)]
enum Completion {
    /// Once the mirror has the change.
    Mirrored,
    /// At once, the change's revision noted in the mirror as known.
    Noted,
}

/// What the session's member holds in the store, as its own successful calls left it.
#[derive(Debug, Default)]
struct Holdings {
    /// The store they are held in.
    store_id: String,
    groups: BTreeMap<GroupId, Capabilities>,
    candidacies: BTreeSet<GroupId>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Driven {
    pub(super) fn new(mirror: Arc<Mirror>, notice: Notice) -> Self {
        Self {
            mirror,
            session: Mutex::new(None),
            notice,
            queue: Mutex::new(None),
            worker: Mutex::new(None),
            holdings: Arc::default(),
            keeper: Mutex::new(None),
            last_change: Arc::new(AtomicU64::new(0)),
        }
    }

    fn driver(&self) -> Arc<dyn Driver> {
        Arc::clone(self.mirror.driver())
    }

    /// Open a session for `member` and start the call queue; stand again in `elections`.
    async fn open(&self, member: &MemberId, ttl: Duration, elections: &[GroupId]) -> Result<()> {
        self.mirror.ensure_feed().await?;
        let driver = self.driver();
        let store_id = self.mirror.store_id();
        let session = driver.open_session(member, ttl).await?;
        let mut last = None;
        let mut candidacies = BTreeSet::new();
        for group in elections {
            // A group deleted while stopped simply has no election to rejoin.
            if let Ok(revision) = driver.stand(&session, group.as_str()).await {
                last = Some(revision);
                candidacies.insert(group.clone());
            }
        }
        if let Some(revision) = last {
            self.mirror.catch_up(revision).await;
        }
        self.begin(
            session,
            Holdings {
                store_id,
                groups: BTreeMap::new(),
                candidacies,
            },
        );
        Ok(())
    }

    /// Go on with the session `key` of `member`, opened by another coordinator: what the
    /// member holds is read from the mirror (its groups with their capabilities, and the
    /// elections it leads; a candidacy that does not lead is not in any history, so it is
    /// established again after a store is replaced only once it is asked for anew).
    async fn resume(&self, member: &MemberId, key: SessionKey) -> Result<()> {
        self.mirror.ensure_feed().await?;
        let store_id = self.mirror.store_id();
        let (groups, candidacies) = self.mirror.engine.read(|state| {
            let mut groups = BTreeMap::new();
            let mut candidacies = BTreeSet::new();
            let now = tokio::time::Instant::now();
            for group in state.groups() {
                if let Ok(info) = state.member_info(group.as_str(), member.as_str(), now) {
                    groups.insert(group.clone(), info.capabilities);
                }
                if let Ok(Some(leader)) = state.leader(group.as_str())
                    && leader.member_id == *member
                {
                    candidacies.insert(group);
                }
            }
            (groups, candidacies)
        });
        self.begin(
            key,
            Holdings {
                store_id,
                groups,
                candidacies,
            },
        );
        Ok(())
    }

    /// Start the call queue and the keeper of `holdings` for `session`.
    fn begin(&self, session: SessionKey, holdings: Holdings) {
        *lock(&self.holdings) = holdings;
        let (queue, worker) = CallQueue::start();
        let keeper = tokio::spawn(keep(
            self.mirror.watch_store(),
            queue.downgrade(),
            Arc::clone(&self.mirror),
            session.clone(),
            Arc::clone(&self.holdings),
        ));
        *lock(&self.session) = Some(session);
        if let Some(old) = lock(&self.queue).replace(queue) {
            old.close();
        }
        if let Some(old) = lock(&self.worker).replace(worker) {
            old.abort();
        }
        if let Some(old) = lock(&self.keeper).replace(keeper) {
            old.abort();
        }
    }

    /// Close the session once every queued call has run; the queue ends with it.
    async fn close(&self) -> Result<()> {
        let closed = self.call(|driver, session| async move {
            driver.close_session(&session).await.map(|r| ((), Some(r)))
        });
        let result = closed.await;
        if let Some(keeper) = lock(&self.keeper).take() {
            keeper.abort();
        }
        *lock(&self.session) = None;
        if let Some(queue) = lock(&self.queue).take() {
            queue.close();
        }
        *lock(&self.holdings) = Holdings::default();
        result
    }

    /// The session, for calls made outside the queue (heartbeats).
    fn session(&self) -> Result<SessionKey> {
        lock(&self.session)
            .clone()
            .ok_or(CoordinationError::NotStarted)
    }

    /// Heartbeat the session (outside the queue: it changes nothing another call depends on).
    ///
    /// An expiry in a store that replaced the one the member's holdings are in is not the
    /// member's: they are established again there, and the beat goes on. A real expiry
    /// loses them, as on the embedded backend.
    async fn beat(&self) -> Result<Duration> {
        let session = self.session()?;
        let driver = self.driver();
        match driver.heartbeat(&session).await {
            Err(CoordinationError::SessionExpired { .. }) if self.store_replaced().await => {
                self.reestablish().await?;
                driver.heartbeat(&session).await
            }
            Err(expired @ CoordinationError::SessionExpired { .. }) => {
                lock(&self.holdings).groups.clear();
                // Heartbeats run outside the queue; standing again goes through it, so it
                // comes in order with the calls around it.
                let holdings = Arc::clone(&self.holdings);
                drop(self.change(move |driver, session| async move {
                    let revision = stand_again(driver.as_ref(), &session, &holdings).await;
                    Ok(((), revision))
                }));
                Err(expired)
            }
            other => other,
        }
    }

    /// Whether the store now answering is not the one the holdings are in.
    async fn store_replaced(&self) -> bool {
        let held = lock(&self.holdings).store_id.clone();
        matches!(self.driver().describe().await, Ok(info) if info.store_id != held)
    }

    /// Queue the re-establishment of the holdings in the store now answering (nothing
    /// happens if they are there already).
    fn reestablish(&self) -> Operation<()> {
        let mirror = Arc::clone(&self.mirror);
        let holdings = Arc::clone(&self.holdings);
        self.call(move |driver, session| reestablish(driver, session, mirror, holdings))
    }

    /// Queue a stand for election in `group`, and remember it. When the store says the
    /// session had expired (and reopened it), stand again here and wherever the member was a
    /// candidate (R5), and leave the expiry notice for the next heartbeat or join (R6).
    fn queue_stand(&self, group: GroupId) -> Operation<()> {
        let notice = Arc::clone(&self.notice);
        let holdings = Arc::clone(&self.holdings);
        let mirror = Arc::clone(&self.mirror);
        self.change(move |driver, session| async move {
            let mut stood = driver.stand(&session, group.as_str()).await;
            if let Err(CoordinationError::SessionExpired { .. }) = &stood
                && moved_to_new_store(&driver, &session, &mirror, &holdings).await?
            {
                stood = driver.stand(&session, group.as_str()).await;
            }
            match stood {
                Err(expired @ CoordinationError::SessionExpired { .. }) => {
                    *lock(&notice) = Some(expired);
                    {
                        let mut held = lock(&holdings);
                        held.groups.clear();
                        held.candidacies.insert(group);
                    }
                    let revision = stand_again(driver.as_ref(), &session, &holdings).await;
                    Ok(((), revision))
                }
                stood => {
                    let revision = stood?;
                    lock(&holdings).candidacies.insert(group);
                    Ok(((), Some(revision)))
                }
            }
        })
    }

    /// Queue a withdrawal from the election in `group`, and forget it.
    fn queue_withdraw(&self, group: GroupId) -> Operation<()> {
        let holdings = Arc::clone(&self.holdings);
        self.change(move |driver, session| async move {
            let withdrawn = driver.withdraw(&session, group.as_str()).await;
            lock(&holdings).candidacies.remove(&group);
            Ok(((), Some(withdrawn?)))
        })
    }

    /// Queue `call`; the operation completes when it has run and, if it returned a revision,
    /// the mirror has caught up with it.
    fn call<T, F, Fut>(&self, call: F) -> Operation<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<dyn Driver>, SessionKey) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(T, Option<Revision>)>> + Send + 'static,
    {
        self.queue(call, Completion::Mirrored)
    }

    /// Queue `call`; the operation completes when it has run, the revision it returned
    /// [noted](Mirror::note) as known.
    fn change<T, F, Fut>(&self, call: F) -> Operation<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<dyn Driver>, SessionKey) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(T, Option<Revision>)>> + Send + 'static,
    {
        self.queue(call, Completion::Noted)
    }

    fn queue<T, F, Fut>(&self, call: F, completion: Completion) -> Operation<T>
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
        let last_change = Arc::clone(&self.last_change);
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::pin(async move {
            let generation = mirror.generation();
            let result = call(driver, session).await;
            if let Ok((_, Some(revision))) = &result {
                last_change.fetch_max(*revision, Ordering::Relaxed);
                match completion {
                    Completion::Mirrored => {
                        mirror.catch_up(*revision).await;
                    }
                    Completion::Noted => mirror.note(generation, *revision),
                }
            }
            let _ = reply.send(result.map(|(value, _)| value));
        });
        let Some(ticket) = queue.push(job) else {
            return Operation::ready(Err(CoordinationError::NotStarted));
        };
        Operation::from_future(async move {
            ticket.run_if_next().await;
            answer.await.unwrap_or_else(|_| {
                Err(CoordinationError::Connection(
                    "the coordinator stopped before the call ran".into(),
                ))
            })
        })
    }

    /// Wait until every call queued so far has run and the mirror holds every change the
    /// store had made by then, by anyone.
    async fn drain(&self) -> Result<()> {
        self.call(|driver, _| async move {
            let head = driver.head().await?;
            Ok(((), Some(head)))
        })
        .await
    }
}

impl Backend for Driven {
    fn is_started(&self) -> bool {
        self.session().is_ok()
    }

    fn start<'a>(
        &'a self,
        member: &'a MemberId,
        timeout: Duration,
        elections: &'a [GroupId],
    ) -> BoxFuture<'a, Result<()>> {
        self.open(member, timeout, elections).boxed()
    }

    fn resume<'a>(&'a self, member: &'a MemberId, key: SessionKey) -> BoxFuture<'a, Result<()>> {
        Driven::resume(self, member, key).boxed()
    }

    fn session_key(&self) -> Option<SessionKey> {
        self.session().ok()
    }

    fn stop(&self) -> BoxFuture<'_, Result<()>> {
        self.close().boxed()
    }

    fn heartbeat(&self) -> BoxFuture<'_, Result<Duration>> {
        self.beat().boxed()
    }

    fn has_expired(&self) -> bool {
        false
    }

    fn create_group(&self, group: GroupName<'_>) -> Operation<()> {
        let group = group.to_id();
        self.call(|d, _| async move { Ok(((), Some(d.create_group(group.as_str()).await?))) })
    }

    fn delete_group(&self, group: GroupName<'_>) -> Operation<()> {
        let group = group.to_id();
        self.call(|d, _| async move { Ok(((), Some(d.delete_group(group.as_str()).await?))) })
    }

    fn groups(&self) -> Operation<Vec<GroupId>> {
        self.call(|d, _| async move { Ok((d.groups().await?, None)) })
    }

    fn group_summaries(&self) -> Operation<(Revision, Vec<GroupSummary>)> {
        self.call(|d, _| async move { Ok((d.group_summaries().await?, None)) })
    }

    /// Join `group` (creating it first when `create`) and remember it. An expiry notice
    /// waiting in the notice when the join's turn comes is its answer instead (R6); a join
    /// that finds the session expired stands again where the member was a candidate (R5).
    fn join(
        &self,
        group: GroupName<'_>,
        capabilities: Capabilities,
        create: bool,
    ) -> Operation<()> {
        let group = group.to_id();
        let notice = Arc::clone(&self.notice);
        let holdings = Arc::clone(&self.holdings);
        let mirror = Arc::clone(&self.mirror);
        // A group it may have created must be in the mirror before a watch is registered.
        let completion = if create {
            Completion::Mirrored
        } else {
            Completion::Noted
        };
        let join = move |driver: Arc<dyn Driver>, session: SessionKey| async move {
            if let Some(notice) = lock(&notice).take() {
                return Err(notice);
            }
            let mut joined = driver
                .join(&session, group.as_str(), capabilities.clone(), create)
                .await;
            if let Err(CoordinationError::SessionExpired { .. }) = &joined
                && moved_to_new_store(&driver, &session, &mirror, &holdings).await?
            {
                joined = driver
                    .join(&session, group.as_str(), capabilities.clone(), create)
                    .await;
            }
            if let Err(CoordinationError::SessionExpired { .. }) = &joined {
                lock(&holdings).groups.clear();
                stand_again(driver.as_ref(), &session, &holdings).await;
            }
            let revision = joined?;
            lock(&holdings).groups.insert(group, capabilities);
            Ok(((), Some(revision)))
        };
        self.queue(join, completion)
    }

    /// Leave `group` and forget it.
    fn leave(&self, group: GroupName<'_>) -> Operation<()> {
        let group = group.to_id();
        let holdings = Arc::clone(&self.holdings);
        self.change(move |driver, session| async move {
            let left = driver.leave(&session, group.as_str()).await;
            if matches!(
                left,
                Ok(_)
                    | Err(CoordinationError::MemberNotJoined { .. }
                        | CoordinationError::MemberExpired { .. }
                        | CoordinationError::GroupNotCreated(_))
            ) {
                lock(&holdings).groups.remove(&group);
            }
            Ok(((), Some(left?)))
        })
    }

    /// Replace the member's capabilities in `group`, and remember them.
    fn update_capabilities(
        &self,
        group: GroupName<'_>,
        capabilities: Capabilities,
    ) -> Operation<()> {
        let group = group.to_id();
        let holdings = Arc::clone(&self.holdings);
        self.change(move |driver, session| async move {
            let revision = driver
                .update_capabilities(&session, group.as_str(), capabilities.clone())
                .await?;
            lock(&holdings).groups.insert(group, capabilities);
            Ok(((), Some(revision)))
        })
    }

    /// Reads the store's head, waits until the process's mirror has every change up to it,
    /// and lists the members from the mirror: as current as a read at the store, without
    /// moving the whole member list (ten thousand members in about a millisecond, where the
    /// store's own listing takes from several to hundreds). If the mirror cannot catch up
    /// (its feed is behind), the store lists them.
    fn members(&self, group: GroupName<'_>) -> Operation<Vec<MemberId>> {
        let group = group.to_id();
        let mirror = Arc::clone(&self.mirror);
        self.call(|d, _| async move {
            let head = d.head().await?;
            if mirror.catch_up(head).await {
                let members = mirror.engine.read(|state| state.members(group.as_str()))?;
                return Ok((members, None));
            }
            Ok((d.members(group.as_str()).await?, None))
        })
    }

    fn member_info(&self, group: GroupName<'_>, member: MemberId) -> Operation<MemberInfo> {
        let group = group.to_id();
        self.call(|d, _| async move {
            Ok((d.member_info(group.as_str(), member.as_str()).await?, None))
        })
    }

    fn members_info(&self, group: GroupName<'_>) -> Operation<HashMap<MemberId, MemberInfo>> {
        let group = group.to_id();
        self.call(|d, _| async move { Ok((d.members_info(group.as_str()).await?, None)) })
    }

    fn leader(&self, group: GroupName<'_>) -> Operation<Option<Leader>> {
        let group = group.to_id();
        self.call(|d, _| async move { Ok((d.leader(group.as_str()).await?, None)) })
    }

    fn stand_down(&self, group: GroupName<'_>) -> Operation<bool> {
        let group = group.to_id();
        self.call(|d, s| async move {
            let (was_leader, revision) = d.stand_down(&s, group.as_str()).await?;
            Ok((was_leader, Some(revision)))
        })
    }

    fn acquire_lock(&self, name: LockName, mode: LockMode, wait: bool) -> Operation<LockAttempt> {
        let notice = Arc::clone(&self.notice);
        let holdings = Arc::clone(&self.holdings);
        let mirror = Arc::clone(&self.mirror);
        self.change(move |driver, session| async move {
            if let Some(notice) = lock(&notice).take() {
                return Err(notice);
            }
            let mut acquired = driver
                .acquire_lock(&session, name.as_str(), mode, wait)
                .await;
            if let Err(CoordinationError::SessionExpired { .. }) = &acquired
                && moved_to_new_store(&driver, &session, &mirror, &holdings).await?
            {
                acquired = driver
                    .acquire_lock(&session, name.as_str(), mode, wait)
                    .await;
            }
            if let Err(CoordinationError::SessionExpired { .. }) = &acquired {
                lock(&holdings).groups.clear();
                stand_again(driver.as_ref(), &session, &holdings).await;
            }
            let (attempt, revision) = acquired?;
            Ok((attempt, Some(revision)))
        })
    }

    fn release_lock(&self, name: LockName) -> Operation<Option<FencingToken>> {
        self.change(|d, s| async move {
            let (token, revision) = d.release_lock(&s, name.as_str()).await?;
            Ok((token, Some(revision)))
        })
    }

    fn abandon_lock_wait(&self, name: LockName) -> Operation<Option<FencingToken>> {
        self.change(|d, s| async move {
            let (token, revision) = d.abandon_lock_wait(&s, name.as_str()).await?;
            Ok((token, Some(revision)))
        })
    }

    fn break_lock(&self, name: LockName) -> Operation<Vec<FencingToken>> {
        self.change(|d, s| async move {
            let (tokens, revision) = d.break_lock(&s, name.as_str()).await?;
            Ok((tokens, Some(revision)))
        })
    }

    fn lock_standing(&self, name: LockName) -> Operation<LockStanding> {
        self.call(|d, s| async move { Ok((d.lock_standing(&s, name.as_str()).await?, None)) })
    }

    fn lock_info(&self, name: LockName) -> Operation<LockInfo> {
        self.call(|d, _| async move { Ok((d.lock_info(name.as_str()).await?, None)) })
    }

    fn locks(&self) -> Operation<Vec<LockInfo>> {
        self.call(|d, _| async move { Ok((d.locks().await?, None)) })
    }

    fn stand(&self, group: GroupId) -> Result<()> {
        // Queued, so it takes effect after this coordinator's earlier calls; its outcome
        // (the election) reaches the callback through `run_watchers`.
        drop(self.queue_stand(group));
        Ok(())
    }

    fn withdraw(&self, group: GroupId) {
        drop(self.queue_withdraw(group));
    }

    fn known_head(&self, state: &State) -> Revision {
        self.mirror.known_head(state)
    }

    fn subscribe_from_now(&self) -> EventStream {
        // "From now on" means after every call this coordinator made before, and after what
        // it knew of the store when subscribing. With none of its calls left to run, that is
        // the head known now: a change another coordinator makes once this returns is in
        // the stream.
        let known = self
            .mirror
            .engine
            .read(|state| self.mirror.known_head(state));
        if lock(&self.queue).as_ref().is_some_and(CallQueue::is_idle) {
            return EventStream::new(Arc::clone(&self.mirror.engine), known + 1);
        }
        // Otherwise some may still be queued: once the queue reaches this point, the stream
        // starts after the changes they returned, if later. Not after the head known then:
        // another coordinator's change made meanwhile (once this returned) belongs in the
        // stream. (A revision of a store since replaced counts up to the head known then.)
        let engine = Arc::clone(&self.mirror.engine);
        let mirror = Arc::clone(&self.mirror);
        let last_change = Arc::clone(&self.last_change);
        let head = self.call(move |_, _| async move {
            let head_then = engine.read(|state| mirror.known_head(state));
            let own = last_change.load(Ordering::Relaxed).min(head_then);
            Ok((known.max(own), None))
        });
        EventStream::starting(Arc::clone(&self.mirror.engine), async move {
            Ok(head.await? + 1)
        })
    }

    fn settle(&self) -> BoxFuture<'_, Result<()>> {
        self.drain().boxed()
    }

    fn store_id(&self) -> String {
        self.mirror.store_id()
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        if let Some(worker) = lock(&self.worker).take() {
            worker.abort();
        }
        if let Some(keeper) = lock(&self.keeper).take() {
            keeper.abort();
        }
    }
}

/// After a call found the session expired: whether that is because the store now answering
/// replaced the one the holdings are in (a server that came back without its data, where
/// the session comes back expired with nothing to report). The holdings are then
/// established there first, so the caller can retry; the expiry was not the member's.
async fn moved_to_new_store(
    driver: &Arc<dyn Driver>,
    session: &SessionKey,
    mirror: &Arc<Mirror>,
    holdings: &Arc<Mutex<Holdings>>,
) -> Result<bool> {
    let info = driver.describe().await?;
    if info.store_id == lock(holdings).store_id {
        return Ok(false);
    }
    reestablish(
        Arc::clone(driver),
        session.clone(),
        Arc::clone(mirror),
        Arc::clone(holdings),
    )
    .await?;
    Ok(true)
}

/// Stand again in every election the holdings name, after the store reopened an expired
/// session (R5: a member holding an election callback is a candidate). A group gone
/// meanwhile has no election to rejoin and is forgotten. Returns the revision of the last
/// candidacy made, if any.
async fn stand_again(
    driver: &dyn Driver,
    session: &SessionKey,
    holdings: &Mutex<Holdings>,
) -> Option<Revision> {
    let candidacies = lock(holdings).candidacies.clone();
    let mut last = None;
    for group in candidacies {
        match driver.stand(session, group.as_str()).await {
            Ok(revision) => last = Some(revision),
            Err(CoordinationError::GroupNotCreated(_)) => {
                lock(holdings).candidacies.remove(&group);
            }
            Err(error) => {
                tracing::warn!(%error, group = %group, "standing again after an expiry failed");
            }
        }
    }
    last
}

/// Each time the mirror finds the store replaced, queue the re-establishment of the
/// holdings; ends with the session's queue.
async fn keep(
    mut store: watch::Receiver<String>,
    queue: WeakCallQueue,
    mirror: Arc<Mirror>,
    session: SessionKey,
    holdings: Arc<Mutex<Holdings>>,
) {
    while store.changed().await.is_ok() {
        let current = store.borrow_and_update().clone();
        if current == lock(&holdings).store_id {
            continue;
        }
        let driver = Arc::clone(mirror.driver());
        let (mirror, session, holdings) =
            (Arc::clone(&mirror), session.clone(), Arc::clone(&holdings));
        let job: Job = Box::pin(async move {
            match reestablish(driver, session, Arc::clone(&mirror), holdings).await {
                Ok(((), Some(revision))) => {
                    mirror.catch_up(revision).await;
                }
                Ok(((), None)) => {}
                // The next heartbeat tries again.
                Err(error) => tracing::warn!(%error, "re-establishing the member failed"),
            }
        });
        if queue.push(job).is_none() {
            return;
        }
    }
}

/// Establish the holdings again in the store now answering, unless they are there already.
/// Returns the revision of the last change it made.
async fn reestablish(
    driver: Arc<dyn Driver>,
    session: SessionKey,
    mirror: Arc<Mirror>,
    holdings: Arc<Mutex<Holdings>>,
) -> Result<((), Option<Revision>)> {
    let info = driver.describe().await?;
    let (groups, candidacies) = {
        let held = lock(&holdings);
        if held.store_id == info.store_id {
            return Ok(((), None));
        }
        (held.groups.clone(), held.candidacies.clone())
    };
    // Changes made once the mirror follows the new store reach it as events, so watchers,
    // streams and handlers see the member join again.
    mirror.follow_store(&info.store_id).await;
    // The new store knows the session only by its key: it comes back expired, with nothing
    // to report, and this beat makes it live.
    match driver.heartbeat(&session).await {
        Ok(_) | Err(CoordinationError::SessionExpired { .. }) => {}
        Err(other) => return Err(other),
    }
    let mut last = None;
    for (group, capabilities) in &groups {
        match driver
            .join(&session, group.as_str(), capabilities.clone(), true)
            .await
        {
            Ok(revision) => last = Some(revision),
            Err(CoordinationError::MemberAlreadyExist { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    for group in &candidacies {
        let stood = match driver.stand(&session, group.as_str()).await {
            Err(CoordinationError::GroupNotCreated(_)) => {
                match driver.create_group(group.as_str()).await {
                    Ok(_) | Err(CoordinationError::GroupAlreadyExist(_)) => {}
                    Err(other) => return Err(other),
                }
                driver.stand(&session, group.as_str()).await
            }
            other => other,
        };
        last = Some(stood?);
    }
    lock(&holdings).store_id = info.store_id.clone();
    tracing::info!(
        store = %info.store_id,
        groups = groups.len(),
        candidacies = candidacies.len(),
        "the store was replaced; re-established the member there"
    );
    Ok(((), last))
}
