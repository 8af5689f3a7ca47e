//! Membership: joining and leaving, capabilities, and what is known about each member.

use std::time::Duration;

use roster_types::MemberInfo;
use roster_types::error::CoordinationError;
use roster_types::event::{
    CapabilitiesUpdated, Event, LeaveReason, MemberJoined, MemberLeft, Revision,
};
use roster_types::ids::{Capabilities, GroupId, MemberId};

use crate::group::Member;
use crate::session::Tie;
use crate::state::{Result, SessionKey, State};
use crate::time::{Now, from_unix_ms};

impl<K: SessionKey> State<K> {
    /// Join `group` as the session's member (`MemberJoined`), creating the group first when
    /// `create` (tooz's `join_group_create`). An expired session is reopened and the join
    /// fails with its expiry notice (R6). A failed join changes nothing (R8), whichever
    /// session holds the member id already.
    ///
    /// # Errors
    /// `CapabilitiesTooLarge`, `InvalidId`, `SessionExpired`, `GroupNotCreated`,
    /// `MemberAlreadyExist`; `NotStarted` for a session the store does not have.
    pub fn join(
        &mut self,
        key: &K,
        group: &str,
        capabilities: Capabilities,
        create: bool,
        now: Now,
    ) -> Result<()> {
        capabilities.check_size(self.max_capabilities)?;
        GroupId::check(group)?;
        self.reopen_if_expired(key, now)?;
        if create && !self.groups.contains_key(group) {
            self.create_group(group)?;
        }
        let member_id = self.session(key)?.member_id.clone();
        let revision = self.next_revision();
        let g = self.group_mut(group)?;
        if g.members.contains_key(&member_id) {
            return Err(CoordinationError::MemberAlreadyExist {
                group_id: g.id.clone(),
                member_id,
            });
        }
        let (group_id, created) = (g.id.clone(), g.created);
        g.members.insert(
            member_id.clone(),
            Member {
                session: key.clone(),
                capabilities: capabilities.clone(),
                joined_at_ms: now.unix_ms,
                updated_at_ms: now.unix_ms,
                revision,
            },
        );
        let s = self.session_mut(key)?;
        s.groups.push(group_id.clone());
        s.untie(Tie::Lost(created), group_id.as_str());
        self.commit(|revision| {
            Event::MemberJoined(MemberJoined {
                revision,
                group_id,
                member_id,
                capabilities,
            })
        });
        Ok(())
    }

    /// Leave `group` as the session's member (`MemberLeft{left}`). Any session holding the
    /// same member id may remove it (as in tooz, where a second coordinator with the same id
    /// can boot the first).
    ///
    /// # Errors
    /// `GroupNotCreated`; `MemberExpired` once after expiry removed the member,
    /// `MemberNotJoined` otherwise; `NotStarted` for a session the store does not have.
    pub fn leave(&mut self, key: &K, group: &str) -> Result<()> {
        let member_id = self.session(key)?.member_id.clone();
        let g = self.group(group)?;
        let Some(owner) = g.members.get(&member_id).map(|m| m.session.clone()) else {
            let (group_id, created) = (g.id.clone(), g.created);
            return Err(self.not_a_member(key, group_id, created));
        };
        let group_id = g.id.clone();
        if let Some(s) = self.sessions.get_mut(&owner) {
            s.leave(&group_id);
        }
        self.remove_member(&member_id, &group_id, LeaveReason::Left);
        Ok(())
    }

    /// The error for a call that needs the session's membership of a group it is not in:
    /// `MemberExpired` the first time after expiry removed it, `MemberNotJoined` otherwise.
    fn not_a_member(&mut self, key: &K, group_id: GroupId, created: Revision) -> CoordinationError {
        let Ok(s) = self.session_mut(key) else {
            return crate::state::unknown_session();
        };
        let member_id = s.member_id.clone();
        if s.untie(Tie::Lost(created), group_id.as_str()) {
            CoordinationError::MemberExpired {
                group_id,
                member_id,
            }
        } else {
            CoordinationError::MemberNotJoined {
                group_id,
                member_id,
            }
        }
    }

    /// `member_id` leaves `group`, if it is in it (`MemberLeft`, for `reason`).
    pub(crate) fn remove_member(
        &mut self,
        member_id: &MemberId,
        group: &GroupId,
        reason: LeaveReason,
    ) {
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if g.members.remove(member_id).is_none() {
            return;
        }
        let group_id = g.id.clone();
        let member_id = member_id.clone();
        self.commit(|revision| {
            Event::MemberLeft(MemberLeft {
                revision,
                group_id,
                member_id,
                reason,
            })
        });
    }

    /// Members of a group, in no particular order.
    ///
    /// # Errors
    /// `GroupNotCreated`, or `InvalidId`.
    pub fn members(&self, group: &str) -> Result<Vec<MemberId>> {
        Ok(self.group(group)?.members.keys().cloned().collect())
    }

    /// Members with their capabilities, in no particular order.
    ///
    /// # Errors
    /// `GroupNotCreated`, or `InvalidId`.
    pub fn members_with_capabilities(&self, group: &str) -> Result<Vec<(MemberId, Capabilities)>> {
        Ok(self
            .group(group)?
            .members
            .iter()
            .map(|(id, m)| (id.clone(), m.capabilities.clone()))
            .collect())
    }

    fn member(&self, group: &str, member: &str) -> Result<&Member<K>> {
        let g = self.group(group)?;
        g.members
            .get(member)
            .ok_or_else(|| CoordinationError::member_not_joined(&g.id, member))
    }

    /// What is known about one member at `now`.
    ///
    /// # Errors
    /// `GroupNotCreated`, `MemberNotJoined`, or `InvalidId`.
    pub fn member_info(&self, group: &str, member: &str, now: Now) -> Result<MemberInfo> {
        let m = self.member(group, member)?;
        Ok(self.info_of(m, now))
    }

    /// Every member of a group with what is known about it at `now`, in no particular order.
    ///
    /// # Errors
    /// `GroupNotCreated`, or `InvalidId`.
    pub fn members_info(&self, group: &str, now: Now) -> Result<Vec<(MemberId, MemberInfo)>> {
        Ok(self
            .group(group)?
            .members
            .iter()
            .map(|(id, m)| (id.clone(), self.info_of(m, now)))
            .collect())
    }

    /// A member's info: its times, revision, and the time its session has left (none once it
    /// has expired).
    pub(crate) fn info_of(&self, m: &Member<K>, now: Now) -> MemberInfo {
        let deadline_ms = self.sessions.get(&m.session).map_or(0, |s| s.deadline_ms());
        MemberInfo {
            capabilities: m.capabilities.clone(),
            joined_at: from_unix_ms(m.joined_at_ms),
            updated_at: from_unix_ms(m.updated_at_ms),
            revision: m.revision,
            expires_in: Duration::from_millis(deadline_ms.saturating_sub(now.clock_ms)),
        }
    }

    /// The capabilities `member` joined `group` with (or last updated to).
    ///
    /// # Errors
    /// `GroupNotCreated`, `MemberNotJoined`, or `InvalidId`.
    pub fn member_capabilities(&self, group: &str, member: &str) -> Result<Capabilities> {
        Ok(self.member(group, member)?.capabilities.clone())
    }

    /// Replace the session's member's capabilities in `group` (`CapabilitiesUpdated`).
    ///
    /// # Errors
    /// `CapabilitiesTooLarge`, `GroupNotCreated`; `MemberExpired` once after expiry removed
    /// the member, `MemberNotJoined` otherwise; `NotStarted` for a session the store does not
    /// have.
    pub fn update_capabilities(
        &mut self,
        key: &K,
        group: &str,
        capabilities: Capabilities,
        now: Now,
    ) -> Result<()> {
        capabilities.check_size(self.max_capabilities)?;
        let member_id = self.session(key)?.member_id.clone();
        let revision = self.next_revision();
        let g = self.group_mut(group)?;
        let (group_id, created) = (g.id.clone(), g.created);
        let Some(m) = g.members.get_mut(&member_id) else {
            return Err(self.not_a_member(key, group_id, created));
        };
        m.capabilities = capabilities.clone();
        m.updated_at_ms = now.unix_ms;
        m.revision = revision;
        self.commit(|revision| {
            Event::CapabilitiesUpdated(CapabilitiesUpdated {
                revision,
                group_id,
                member_id,
                capabilities,
            })
        });
        Ok(())
    }
}
