//! `roster://host:port`: a `roster serve` daemon as the backend of a coordinator in another
//! process, through its network API ([`roster_client::Client`]).
//!
//! Each coordinator gets a session of its own in the daemon, so its memberships are as
//! ephemeral there as they are in-process; the daemon's `GET /v1/changes` is the change feed.
//!
//! The URL may name several daemons serving one store (`roster://H1:P1,H2:P2`): the client
//! goes on through the next when the one in use cannot be reached, and the session with it
//! (it is the store's). A daemon that takes a session over knows its memberships from the
//! store, but not which elections it stands in, so the driver stands in them again there
//! (standing twice changes nothing) before the session's next call.
//!
//! A restarted daemon serves a new store whose revisions start over, so "the changes after
//! 3" means nothing without the store 3 is of. Every poll names the store its revision was
//! read from (see `Positions`), and the daemon answers a store it no longer serves with a
//! resync naming the new one, which the feed takes as any resync: it reads the store anew.
//! The feed relies on that answer, never on how the revision numbers happen to line up.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use roster_client::{Client, ClientError, Credentials};
use roster_core::backend_url::DaemonSecurity;
use roster_core::driver::{Changes, Driver, DriverStats, SessionKey, StoreInfo};
use roster_types::error::CoordinationError;
use roster_types::event::{FencingToken, LockMode, Revision};
use roster_types::ids::{Capabilities, GroupId, MemberId};
use roster_types::{GroupSummary, Leader, LockAttempt, LockInfo, LockStanding, MemberInfo};

type Result<T> = std::result::Result<T, CoordinationError>;

/// A daemon reached over HTTP.
#[derive(Debug)]
pub struct DaemonDriver {
    client: Client,
    positions: Mutex<Positions>,
    candidacies: Mutex<HashMap<SessionKey, Candidacies>>,
}

/// The elections a session stands in, and the daemon that knows it.
#[derive(Debug, Default)]
struct Candidacies {
    groups: BTreeSet<String>,
    /// The address of the daemon they were declared to.
    declared_at: String,
}

impl DaemonDriver {
    /// A driver for the daemon at `address` (`host:port`), or for the store of several
    /// (`host:port,host:port,...`), whose sessions live `ttl` without a heartbeat; nothing is
    /// sent yet. With several daemons, one that leaves a call unanswered for a third of `ttl`
    /// (at least a second) counts as gone, so the session goes on through the next in time.
    pub fn new(address: &str, ttl: Duration) -> Result<Self> {
        Self::with_security(address, ttl, &DaemonSecurity::default())
    }

    /// A driver as [`DaemonDriver::new`] makes it, reaching its daemons as `security` says
    /// (HTTPS, a bearer token, a CA, a client certificate).
    ///
    /// # Errors
    /// `InvalidUrl` for a bad address, `Connection` when a token or certificate file cannot
    /// be read or used.
    pub fn with_security(address: &str, ttl: Duration, security: &DaemonSecurity) -> Result<Self> {
        let token = match (&security.token, &security.token_file) {
            (Some(token), _) => Some(token.clone()),
            (None, Some(file)) => Some(Credentials::read_token(file).map_err(coordination)?),
            (None, None) => None,
        };
        let credentials = Credentials {
            token,
            ca_file: security.ca_file.clone(),
            identity: security.identity.clone(),
        };
        let address = if security.tls {
            address
                .split(',')
                .map(|one| format!("https://{}", one.trim()))
                .collect::<Vec<_>>()
                .join(",")
        } else {
            address.to_owned()
        };
        let client = Client::with_credentials(&address, &credentials)
            .map_err(coordination)?
            .for_sessions_of(ttl);
        Ok(Self {
            client,
            positions: Mutex::default(),
            candidacies: Mutex::default(),
        })
    }

    fn positions(&self) -> std::sync::MutexGuard<'_, Positions> {
        self.positions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn candidacies(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, Candidacies>> {
        self.candidacies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stand again, through the daemon now in use, wherever `session` stands, if the
    /// daemon it declared them to is another one.
    async fn declare(&self, session: &str) {
        let address = match self.candidacies().get(session) {
            Some(held) if !held.groups.is_empty() => self.client.address(),
            _ => return,
        };
        let groups = match self.candidacies().get(session) {
            Some(held) if held.declared_at != address => held.groups.clone(),
            _ => return,
        };
        for group in &groups {
            match self.client.stand(session, group).await {
                Ok(_) => {}
                Err(ClientError::Coordination(CoordinationError::GroupNotCreated(_))) => {
                    if let Some(held) = self.candidacies().get_mut(session) {
                        held.groups.remove(group);
                    }
                }
                // The next call tries again.
                Err(error) => {
                    tracing::warn!(%error, group, "standing again through another daemon failed");
                    return;
                }
            }
        }
        if let Some(held) = self.candidacies().get_mut(session) {
            held.declared_at = address;
        }
        tracing::info!(daemon = %self.client.address(), elections = groups.len(), "the session goes on through another daemon");
    }

    /// Run `call` for `session`, its candidacies declared to the daemon that answers it.
    async fn for_session<T, F: Future<Output = std::result::Result<T, ClientError>>>(
        &self,
        session: &str,
        call: F,
    ) -> Result<T> {
        self.declare(session).await;
        let answer = call.await;
        self.declare(session).await;
        answer.map_err(coordination)
    }

    /// Remember how `session`'s candidacy in `group` changed.
    fn note_candidacy(&self, session: &str, group: &str, standing: bool) {
        let mut all = self.candidacies();
        let held = all
            .entry(session.to_owned())
            .or_insert_with(|| Candidacies {
                groups: BTreeSet::new(),
                declared_at: self.client.address(),
            });
        if standing {
            held.groups.insert(group.to_owned());
        } else {
            held.groups.remove(group);
        }
    }
}

/// How many [`Positions`] are remembered.
const POSITIONS_KEPT: usize = 4;

/// The revisions the daemon's answers left a reader of the feed at, each with the store it
/// is of: the revision a changes answer ended at, the head a description gave (a feed that
/// starts over starts there).
///
/// A poll after revision R names the store of the newest position at R. A feed that goes on
/// from where a changes answer left it names that answer's store, even when the daemon has
/// meanwhile been restarted and described as another store: the daemon then says the store
/// was replaced. A feed that starts over at the head of a description names that store.
#[derive(Debug, Default)]
struct Positions {
    /// Newest last.
    recent: VecDeque<(String, Revision)>,
}

impl Positions {
    /// An answer of store `store` left a reader at `revision`.
    fn saw(&mut self, store: &str, revision: Revision) {
        if self.recent.len() == POSITIONS_KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back((store.to_owned(), revision));
    }

    /// The store a poll after `after` reads: that of the newest position at `after`, or, for
    /// a revision no answer left a reader at, the newest store seen (none before the first
    /// answer).
    fn store_at(&self, after: Revision) -> Option<String> {
        self.recent
            .iter()
            .rev()
            .find(|(_, revision)| *revision == after)
            .or_else(|| self.recent.back())
            .map(|(store, _)| store.clone())
    }
}

/// The coordination error a failed call stands for: the daemon's own when it ran the call,
/// a connection failure otherwise.
fn coordination(error: ClientError) -> CoordinationError {
    match error {
        ClientError::Coordination(error) => error,
        // The daemon does not take this token, or not for this call.
        ClientError::Refused {
            status: 401 | 403,
            message,
            code,
        } => CoordinationError::NotPermitted(format!("{message} ({code})")),
        other => CoordinationError::Connection(other.to_string()),
    }
}

#[async_trait]
impl Driver for DaemonDriver {
    async fn describe(&self) -> Result<StoreInfo> {
        let snapshot = self.client.snapshot(Some(0)).await.map_err(coordination)?;
        self.positions().saw(&snapshot.store_id, snapshot.revision);
        Ok(StoreInfo {
            store_id: snapshot.store_id,
            head: snapshot.revision,
            groups: snapshot.groups.into_iter().map(|g| g.group_id).collect(),
        })
    }

    async fn head(&self) -> Result<Revision> {
        Ok(self.client.status().await.map_err(coordination)?.revision)
    }

    async fn open_session(&self, member: &MemberId, ttl: Duration) -> Result<SessionKey> {
        let session = self
            .client
            .open_session(member.as_str(), Some(ttl))
            .await
            .map_err(coordination)?;
        Ok(session.session_id)
    }

    async fn close_session(&self, session: &str) -> Result<Revision> {
        self.candidacies().remove(session);
        match self.client.close_session(session).await {
            // The daemon already forgot it (it expired long ago): closed is what was wanted.
            Err(ClientError::Refused { code, .. }) if code == "session-not-found" => {
                self.head().await
            }
            other => other.map_err(coordination),
        }
    }

    async fn heartbeat(&self, session: &str) -> Result<Duration> {
        self.for_session(session, self.client.heartbeat(session))
            .await
    }

    async fn create_group(&self, group: &str) -> Result<Revision> {
        self.client.create_group(group).await.map_err(coordination)
    }

    async fn delete_group(&self, group: &str) -> Result<Revision> {
        self.client.delete_group(group).await.map_err(coordination)
    }

    async fn groups(&self) -> Result<Vec<GroupId>> {
        let groups = self.client.groups().await.map_err(coordination)?;
        Ok(groups.groups.into_iter().map(|g| g.group_id).collect())
    }

    async fn group_summaries(&self) -> Result<(Revision, Vec<GroupSummary>)> {
        let groups = self.client.groups().await.map_err(coordination)?;
        Ok((groups.revision, groups.groups))
    }

    async fn join(
        &self,
        session: &str,
        group: &str,
        capabilities: Capabilities,
        create: bool,
    ) -> Result<Revision> {
        self.for_session(
            session,
            self.client.join(session, group, capabilities, create),
        )
        .await
    }

    async fn leave(&self, session: &str, group: &str) -> Result<Revision> {
        self.for_session(session, self.client.leave(session, group))
            .await
    }

    async fn update_capabilities(
        &self,
        session: &str,
        group: &str,
        capabilities: Capabilities,
    ) -> Result<Revision> {
        self.for_session(
            session,
            self.client
                .update_capabilities(session, group, capabilities),
        )
        .await
    }

    async fn members(&self, group: &str) -> Result<Vec<MemberId>> {
        let members = self.client.members(group).await.map_err(coordination)?;
        Ok(members.into_iter().map(|m| m.member_id).collect())
    }

    async fn members_info(&self, group: &str) -> Result<HashMap<MemberId, MemberInfo>> {
        self.client.members_info(group).await.map_err(coordination)
    }

    async fn member_info(&self, group: &str, member: &str) -> Result<MemberInfo> {
        let member = self
            .client
            .member(group, member)
            .await
            .map_err(coordination)?;
        Ok(member.info())
    }

    async fn leader(&self, group: &str) -> Result<Option<Leader>> {
        self.client.leader(group).await.map_err(coordination)
    }

    async fn stand(&self, session: &str, group: &str) -> Result<Revision> {
        let stood = self
            .for_session(session, self.client.stand(session, group))
            .await?;
        self.note_candidacy(session, group, true);
        Ok(stood)
    }

    async fn withdraw(&self, session: &str, group: &str) -> Result<Revision> {
        let withdrawn = self
            .for_session(session, self.client.withdraw(session, group))
            .await;
        if !matches!(withdrawn, Err(CoordinationError::Connection(_))) {
            self.note_candidacy(session, group, false);
        }
        withdrawn
    }

    async fn stand_down(&self, session: &str, group: &str) -> Result<(bool, Revision)> {
        self.for_session(session, self.client.stand_down(session, group))
            .await
    }

    async fn acquire_lock(
        &self,
        session: &str,
        lock: &str,
        mode: LockMode,
        wait: bool,
    ) -> Result<(LockAttempt, Revision)> {
        // The coordinator waits for the grant itself, with the store's changes.
        let at_once = Duration::ZERO;
        self.for_session(
            session,
            self.client.acquire_lock(session, lock, mode, wait, at_once),
        )
        .await
    }

    async fn release_lock(
        &self,
        session: &str,
        lock: &str,
    ) -> Result<(Option<FencingToken>, Revision)> {
        self.for_session(session, self.client.release_lock(session, lock))
            .await
    }

    async fn abandon_lock_wait(
        &self,
        session: &str,
        lock: &str,
    ) -> Result<(Option<FencingToken>, Revision)> {
        self.for_session(session, self.client.abandon_lock_wait(session, lock))
            .await
    }

    async fn break_lock(&self, session: &str, lock: &str) -> Result<(Vec<FencingToken>, Revision)> {
        self.for_session(session, self.client.break_lock(session, lock))
            .await
    }

    async fn lock_standing(&self, session: &str, lock: &str) -> Result<LockStanding> {
        self.for_session(session, self.client.lock_standing(session, lock))
            .await
    }

    async fn lock_info(&self, lock: &str) -> Result<LockInfo> {
        self.client.lock_info(lock).await.map_err(coordination)
    }

    async fn locks(&self) -> Result<Vec<LockInfo>> {
        self.client.locks().await.map_err(coordination)
    }

    fn stats(&self) -> DriverStats {
        let client = self.client.stats();
        DriverStats {
            calls: client.calls,
            errors: client.unreachable,
            restarts: client.failovers,
        }
    }

    async fn changes(&self, after: Revision, max: usize, wait: Duration) -> Result<Changes> {
        let store = self.positions().store_at(after);
        let answer = self
            .client
            .changes(after, store.as_deref(), max, wait)
            .await
            .map_err(coordination)?;
        Ok(match answer.resync {
            Some(resync) => {
                if store.as_ref().is_some_and(|named| *named != resync.store) {
                    tracing::warn!(
                        old = store.as_deref().unwrap_or_default(),
                        new = %resync.store,
                        "the daemon serves another store now"
                    );
                }
                Changes::Resync {
                    requested: resync.requested,
                    oldest: resync.oldest,
                    head: answer.head,
                }
            }
            None => {
                let reached = answer.events.last().map_or(after, |e| e.revision());
                self.positions().saw(&answer.store, reached);
                Changes::Events {
                    events: answer.events,
                    head: answer.head,
                    store_id: answer.store,
                }
            }
        })
    }
}
