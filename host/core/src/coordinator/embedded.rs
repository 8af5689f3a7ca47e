//! A coordinator's [`Backend`] on the embedded store: the engine in this process.
//!
//! Every call runs its rule on the engine's state under the engine's lock, with tokio's clock
//! as the time, and has taken effect when it returns (its [`Operation`] is ready). The
//! session is the engine's session id for this coordinator.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use roster_types::error::{CoordinationError, Result};
use roster_types::event::{FencingToken, LockMode, Revision};
use roster_types::ids::{Capabilities, GroupId, GroupName, LockName, MemberId};
use roster_types::{GroupSummary, Leader, LockAttempt, LockInfo, LockStanding, MemberInfo};
use tokio::time::Instant;

use super::backend::Backend;
use super::watchers::Watchers;
use super::{Notice, Operation, lock};
use crate::driver::SessionKey;
use crate::engine::stream::EventStream;
use crate::engine::{Engine, SessionId, State};

/// What `session` holds when no session is open.
const NO_SESSION: SessionId = 0;

/// A coordinator's session on the embedded store.
pub(super) struct Embedded {
    engine: Arc<Engine>,
    /// The session while started, `NO_SESSION` otherwise.
    session: AtomicU64,
    /// The coordinator's callbacks: where it holds election callbacks, it stands again after
    /// an expiry (R5).
    watchers: Arc<Mutex<Watchers>>,
    /// Where an expiry notice that a stand met waits for the next heartbeat or join (R6).
    notice: Notice,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("store", &self.engine.id)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Embedded {
    pub(super) fn new(engine: Arc<Engine>, watchers: Arc<Mutex<Watchers>>, notice: Notice) -> Self {
        Self {
            engine,
            session: AtomicU64::new(NO_SESSION),
            watchers,
            notice,
        }
    }

    fn session(&self) -> Result<SessionId> {
        match self.session.load(Ordering::Acquire) {
            NO_SESSION => Err(CoordinationError::NotStarted),
            session => Ok(session),
        }
    }

    /// Run `rule` on the state with this coordinator's session, as a finished operation.
    fn run<T: Send + 'static>(
        &self,
        rule: impl FnOnce(&mut State, SessionId) -> Result<T>,
    ) -> Operation<T> {
        Operation::ready(
            self.session()
                .and_then(|session| self.engine.write(|state| rule(state, session))),
        )
    }

    /// R5: holding an election callback is being a candidate. When a call failed with
    /// `SessionExpired`, the store has reopened the session; stand again in every group this
    /// coordinator holds an election callback for (at the back of the queue).
    fn stand_again_if_expired<T>(&self, result: &Result<T>) {
        if !matches!(result, Err(CoordinationError::SessionExpired { .. })) {
            return;
        }
        let Ok(session) = self.session() else {
            return;
        };
        let groups = lock(&self.watchers).election_groups();
        if groups.is_empty() {
            return;
        }
        self.engine.write(|state| {
            for group in &groups {
                // A group deleted meanwhile simply has no election to rejoin.
                let _ = state.stand_for_election(session, group.as_str(), Instant::now());
            }
        });
    }
}

impl Backend for Embedded {
    fn is_started(&self) -> bool {
        self.session().is_ok()
    }

    fn start<'a>(
        &'a self,
        member: &'a MemberId,
        timeout: Duration,
        elections: &'a [GroupId],
    ) -> BoxFuture<'a, Result<()>> {
        let opened = self.engine.write(|state| {
            let session = state.open_session(member.clone(), timeout, Instant::now())?;
            for group in elections {
                // A group deleted while stopped simply has no election to rejoin.
                let _ = state.stand_for_election(session, group.as_str(), Instant::now());
            }
            Ok(session)
        });
        let started = opened.map(|session| {
            self.engine.ensure_reaper();
            self.session.store(session, Ordering::Release);
        });
        std::future::ready(started).boxed()
    }

    fn resume<'a>(&'a self, _: &'a MemberId, _: SessionKey) -> BoxFuture<'a, Result<()>> {
        std::future::ready(Err(CoordinationError::NotImplemented(
            "resuming a session: an embedded store's sessions live in the process that opened them"
                .into(),
        )))
        .boxed()
    }

    fn session_key(&self) -> Option<SessionKey> {
        None
    }

    fn stop(&self) -> BoxFuture<'_, Result<()>> {
        let closed = self.session().map(|session| {
            self.engine.write(|state| state.close_session(session));
            self.session.store(NO_SESSION, Ordering::Release);
        });
        std::future::ready(closed).boxed()
    }

    fn heartbeat(&self) -> BoxFuture<'_, Result<Duration>> {
        let beat = self.session().and_then(|session| {
            self.engine
                .write(|state| state.heartbeat(session, Instant::now()))
        });
        self.stand_again_if_expired(&beat);
        std::future::ready(beat).boxed()
    }

    fn has_expired(&self) -> bool {
        self.session()
            .is_ok_and(|session| self.engine.read(|state| state.session_expired(session)))
    }

    fn create_group(&self, group: GroupName<'_>) -> Operation<()> {
        self.run(|state, _| state.create_group(group.as_str()))
    }

    fn delete_group(&self, group: GroupName<'_>) -> Operation<()> {
        self.run(|state, _| state.delete_group(group.as_str()))
    }

    fn groups(&self) -> Operation<Vec<GroupId>> {
        self.run(|state, _| Ok(state.groups()))
    }

    fn group_summaries(&self) -> Operation<(Revision, Vec<GroupSummary>)> {
        self.run(|state, _| Ok((state.history.head(), state.group_summaries())))
    }

    fn join(
        &self,
        group: GroupName<'_>,
        capabilities: Capabilities,
        create: bool,
    ) -> Operation<()> {
        if let Some(notice) = lock(&self.notice).take() {
            return Operation::ready(Err(notice));
        }
        let joined = self.session().and_then(|session| {
            self.engine.write(|state| {
                state.join(
                    session,
                    group.as_str(),
                    capabilities,
                    create,
                    Instant::now(),
                )
            })
        });
        self.stand_again_if_expired(&joined);
        Operation::ready(joined)
    }

    fn leave(&self, group: GroupName<'_>) -> Operation<()> {
        self.run(|state, session| state.leave(session, group.as_str()))
    }

    fn members(&self, group: GroupName<'_>) -> Operation<Vec<MemberId>> {
        self.run(|state, _| state.members(group.as_str()))
    }

    fn member_info(&self, group: GroupName<'_>, member: MemberId) -> Operation<MemberInfo> {
        self.run(|state, _| state.member_info(group.as_str(), member.as_str(), Instant::now()))
    }

    fn members_info(&self, group: GroupName<'_>) -> Operation<HashMap<MemberId, MemberInfo>> {
        self.run(|state, _| {
            state
                .members_info(group.as_str(), Instant::now())
                .map(|members| members.into_iter().collect())
        })
    }

    fn update_capabilities(
        &self,
        group: GroupName<'_>,
        capabilities: Capabilities,
    ) -> Operation<()> {
        self.run(|state, session| state.update_capabilities(session, group.as_str(), capabilities))
    }

    fn leader(&self, group: GroupName<'_>) -> Operation<Option<Leader>> {
        self.run(|state, _| state.leader(group.as_str()))
    }

    fn acquire_lock(
        &self,
        lock_name: LockName,
        mode: LockMode,
        wait: bool,
    ) -> Operation<LockAttempt> {
        if let Some(notice) = lock(&self.notice).take() {
            return Operation::ready(Err(notice));
        }
        let acquired = self.session().and_then(|session| {
            self.engine.write(|state| {
                state.acquire_lock(session, lock_name.as_str(), mode, wait, Instant::now())
            })
        });
        self.stand_again_if_expired(&acquired);
        Operation::ready(acquired)
    }

    fn release_lock(&self, lock: LockName) -> Operation<Option<FencingToken>> {
        self.run(|state, session| state.release_lock(session, lock.as_str()))
    }

    fn abandon_lock_wait(&self, lock: LockName) -> Operation<Option<FencingToken>> {
        self.run(|state, session| state.abandon_lock_wait(session, lock.as_str()))
    }

    fn break_lock(&self, lock: LockName) -> Operation<Vec<FencingToken>> {
        self.run(|state, _| state.break_lock(lock.as_str()))
    }

    fn lock_standing(&self, lock: LockName) -> Operation<LockStanding> {
        self.run(|state, session| state.lock_standing(session, lock.as_str()))
    }

    fn lock_info(&self, lock: LockName) -> Operation<LockInfo> {
        self.run(|state, _| state.lock_info(lock.as_str()))
    }

    fn locks(&self) -> Operation<Vec<LockInfo>> {
        self.run(|state, _| state.locks())
    }

    fn stand_down(&self, group: GroupName<'_>) -> Operation<bool> {
        self.run(|state, session| state.stand_down(session, group.as_str()))
    }

    fn stand(&self, group: GroupId) -> Result<()> {
        let session = self.session()?;
        let held = lock(&self.watchers).election_groups();
        self.engine.write(|state| {
            let now = Instant::now();
            match state.stand_for_election(session, group.as_str(), now) {
                Err(expired @ CoordinationError::SessionExpired { .. }) => {
                    // The session is live again: stand in this group and wherever a callback
                    // is held (R5), and keep the notice for the next heartbeat or join (R6).
                    *lock(&self.notice) = Some(expired);
                    for g in held.iter().chain([&group]) {
                        let _ = state.stand_for_election(session, g.as_str(), now);
                    }
                    Ok(())
                }
                other => other,
            }
        })
    }

    fn withdraw(&self, group: GroupId) {
        if let Ok(session) = self.session() {
            self.engine.write(|state| state.withdraw(session, &group));
        }
    }

    fn known_head(&self, state: &State) -> Revision {
        state.history.head()
    }

    fn subscribe_from_now(&self) -> EventStream {
        let from = self.engine.read(|state| state.history.head()) + 1;
        EventStream::new(Arc::clone(&self.engine), from)
    }

    fn settle(&self) -> BoxFuture<'_, Result<()>> {
        std::future::ready(Ok(())).boxed()
    }

    fn store_id(&self) -> String {
        self.engine.id.clone()
    }
}
