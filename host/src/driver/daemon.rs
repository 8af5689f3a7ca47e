//! `roster://host:port`: a `roster serve` daemon as the backend of a coordinator in another
//! process, through its network API ([`crate::remote::Client`]).
//!
//! Each coordinator gets a session of its own in the daemon, so its memberships are as
//! ephemeral there as they are in-process; the daemon's `GET /v1/changes` is the change feed.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;

use super::{Changes, Driver, SessionKey, StoreInfo};
use crate::engine::state::{GroupSummary, Leader, MemberInfo};
use crate::error::CoordinationError;
use crate::event::Revision;
use crate::ids::{Capabilities, GroupId, MemberId};
use crate::remote::{Client, RemoteError};

type Result<T> = std::result::Result<T, CoordinationError>;

/// A daemon reached over HTTP.
#[derive(Debug)]
pub(crate) struct DaemonDriver {
    client: Client,
}

impl DaemonDriver {
    /// A driver for the daemon at `address` (`host:port`); nothing is sent yet.
    pub(crate) fn new(address: &str) -> Result<Self> {
        Ok(Self {
            client: Client::new(address).map_err(coordination)?,
        })
    }
}

/// The coordination error a failed call stands for: the daemon's own when it ran the call,
/// a connection failure otherwise.
fn coordination(error: RemoteError) -> CoordinationError {
    match error {
        RemoteError::Coordination(error) => error,
        other => CoordinationError::Connection(other.to_string()),
    }
}

#[async_trait]
impl Driver for DaemonDriver {
    async fn describe(&self) -> Result<StoreInfo> {
        let snapshot = self.client.snapshot(Some(0)).await.map_err(coordination)?;
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
            Err(RemoteError::Refused { code, .. }) if code == "session-not-found" => {
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
        let answer = self
            .client
            .changes(after, max, wait)
            .await
            .map_err(coordination)?;
        Ok(match answer.resync {
            Some(resync) => Changes::Resync {
                requested: resync.requested,
                oldest: resync.oldest,
                head: answer.head,
            },
            None => Changes::Events {
                events: answer.events,
                head: answer.head,
            },
        })
    }
}
