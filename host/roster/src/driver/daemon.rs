//! `roster://host:port`: a `roster serve` daemon as the backend of a coordinator in another
//! process, through its network API ([`roster_client::Client`]).
//!
//! Each coordinator gets a session of its own in the daemon, so its memberships are as
//! ephemeral there as they are in-process; the daemon's `GET /v1/changes` is the change feed.
//!
//! A restarted daemon serves a new store whose revisions start over, so "the changes after
//! 3" means nothing without the store 3 is of. Every poll names the store its revision was
//! read from (see [`Positions`]), and the daemon answers a store it no longer serves with a
//! resync naming the new one, which the feed takes as any resync: it reads the store anew.
//! The feed relies on that answer, never on how the revision numbers happen to line up.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{Changes, Driver, SessionKey, StoreInfo};
use roster_client::{Client, ClientError};
use roster_types::error::CoordinationError;
use roster_types::event::Revision;
use roster_types::ids::{Capabilities, GroupId, MemberId};
use roster_types::{GroupSummary, Leader, MemberInfo};

type Result<T> = std::result::Result<T, CoordinationError>;

/// A daemon reached over HTTP.
#[derive(Debug)]
pub(crate) struct DaemonDriver {
    client: Client,
    positions: Mutex<Positions>,
}

impl DaemonDriver {
    /// A driver for the daemon at `address` (`host:port`); nothing is sent yet.
    pub(crate) fn new(address: &str) -> Result<Self> {
        Ok(Self {
            client: Client::new(address).map_err(coordination)?,
            positions: Mutex::default(),
        })
    }

    fn positions(&self) -> std::sync::MutexGuard<'_, Positions> {
        self.positions.lock().unwrap_or_else(|p| p.into_inner())
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
        match self.client.close_session(session).await {
            // The daemon already forgot it (it expired long ago): closed is what was wanted.
            Err(ClientError::Refused { code, .. }) if code == "session-not-found" => {
                self.head().await
            }
            other => other.map_err(coordination),
        }
    }

    async fn heartbeat(&self, session: &str) -> Result<Duration> {
        self.client.heartbeat(session).await.map_err(coordination)
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
        self.client
            .join(session, group, capabilities, create)
            .await
            .map_err(coordination)
    }

    async fn leave(&self, session: &str, group: &str) -> Result<Revision> {
        self.client
            .leave(session, group)
            .await
            .map_err(coordination)
    }

    async fn update_capabilities(
        &self,
        session: &str,
        group: &str,
        capabilities: Capabilities,
    ) -> Result<Revision> {
        self.client
            .update_capabilities(session, group, capabilities)
            .await
            .map_err(coordination)
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
        self.client
            .stand(session, group)
            .await
            .map_err(coordination)
    }

    async fn withdraw(&self, session: &str, group: &str) -> Result<Revision> {
        self.client
            .withdraw(session, group)
            .await
            .map_err(coordination)
    }

    async fn stand_down(&self, session: &str, group: &str) -> Result<(bool, Revision)> {
        self.client
            .stand_down(session, group)
            .await
            .map_err(coordination)
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
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    use super::*;
    use crate::server::{ServeConfig, ServeError, Server};

    /// A daemon serving a new `memory://` store on `listen`, in this process.
    struct Serving {
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        task: JoinHandle<std::result::Result<(), ServeError>>,
    }

    impl Serving {
        async fn start(listen: SocketAddr) -> Self {
            let server = Server::bind(ServeConfig {
                listen,
                backend: format!("memory://driver-{}", uuid::Uuid::new_v4().simple()),
                ..ServeConfig::default()
            })
            .await
            .expect("the daemon starts");
            let addr = server.local_addr();
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(server.run(async move {
                let _ = stopped.await;
            }));
            Self { addr, stop, task }
        }

        async fn restart(self) -> Self {
            let addr = self.addr;
            let _ = self.stop.send(());
            self.task.await.unwrap().unwrap();
            Self::start(addr).await
        }

        /// Make `count` changes; returns the head.
        async fn changes(&self, count: usize) -> Revision {
            let client = Client::new(&self.addr.to_string()).unwrap();
            let mut head = 0;
            for _ in 0..count {
                let group = uuid::Uuid::new_v4().simple().to_string();
                head = client.create_group(&group).await.unwrap();
            }
            head
        }
    }

    fn events(answer: &Changes) -> Vec<Revision> {
        match answer {
            Changes::Events { events, .. } => events.iter().map(|e| e.revision()).collect(),
            Changes::Resync { .. } => panic!("a resync: {answer:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_feed_that_outlives_its_daemon_is_told_the_store_was_replaced() {
        let daemon = Serving::start("127.0.0.1:0".parse().unwrap()).await;
        let driver = DaemonDriver::new(&daemon.addr.to_string()).unwrap();
        let first = driver.describe().await.unwrap();
        daemon.changes(3).await;
        let read = driver
            .changes(first.head, 100, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(events(&read), [1, 2, 3]);

        // Restarted, the daemon's new store gets past the feed's revision: the changes after
        // 3 are not its 4 and 5.
        let daemon = daemon.restart().await;
        assert_eq!(daemon.changes(5).await, 5);
        let answer = driver.changes(3, 100, Duration::ZERO).await.unwrap();
        assert!(
            matches!(
                answer,
                Changes::Resync {
                    requested: 4,
                    oldest: 1,
                    head: 5
                }
            ),
            "{answer:?}"
        );
        // Asked again (the feed could not read the store anew), it says so again.
        let again = driver.changes(3, 100, Duration::ZERO).await.unwrap();
        assert!(matches!(again, Changes::Resync { .. }), "{again:?}");

        // Started over at the new store's head, the feed follows it.
        let second = driver.describe().await.unwrap();
        assert_ne!(second.store_id, first.store_id);
        assert_eq!(second.head, 5);
        daemon.changes(1).await;
        let read = driver.changes(5, 100, Duration::ZERO).await.unwrap();
        assert_eq!(events(&read), [6]);

        // Restarted again, the new store is behind the feed: not "in the future", a resync.
        let daemon = daemon.restart().await;
        assert_eq!(daemon.changes(1).await, 1);
        let answer = driver.changes(6, 100, Duration::ZERO).await.unwrap();
        assert!(
            matches!(
                answer,
                Changes::Resync {
                    requested: 7,
                    head: 1,
                    ..
                }
            ),
            "{answer:?}"
        );
        let _ = daemon.stop.send(());
        daemon.task.await.unwrap().unwrap();
    }
}
