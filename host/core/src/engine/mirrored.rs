//! The groups of a store that lives elsewhere (a driver's, a daemon's), as its mirror records
//! them: members with their capabilities, and leaders, kept in step with the changes the
//! store reports, for what reads the mirror (watch registration, handler snapshots, member
//! lists once the mirror has caught up).
//!
//! Locks are not mirrored: lock calls ask the store, which holds them.
//!
//! No rules run here: the store applied them. Mirrored members belong to no session of this
//! process (liveness is the store's business), so their info has no time left to report.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use roster_types::error::CoordinationError;
use roster_types::event::{Event, Revision};
use roster_types::ids::{Capabilities, GroupId, MemberId};
use roster_types::{GroupSummary, Leader, MemberInfo};

use super::state::GroupWithMembers;

type Result<T> = std::result::Result<T, CoordinationError>;

/// A group as a mirror is seeded with: its members and its leader.
pub(crate) type MirroredGroup = (GroupId, Vec<(MemberId, MemberInfo)>, Option<Leader>);

/// A mirrored member (times in Unix milliseconds).
#[derive(Debug)]
struct Member {
    capabilities: Capabilities,
    joined_at_ms: u64,
    updated_at_ms: u64,
    revision: Revision,
}

#[derive(Debug)]
struct Group {
    id: GroupId,
    /// Revision of the group's latest change.
    last_change: Revision,
    members: HashMap<MemberId, Member>,
    leader: Option<Leader>,
}

impl Group {
    fn new(id: GroupId, revision: Revision) -> Self {
        Self {
            id,
            last_change: revision,
            members: HashMap::new(),
            leader: None,
        }
    }

    /// Apply a membership or leadership change made elsewhere.
    fn apply(&mut self, event: &Event, now_ms: u64) {
        match event {
            Event::MemberJoined(joined) => {
                self.members.insert(
                    joined.member_id.clone(),
                    Member {
                        capabilities: joined.capabilities.clone(),
                        joined_at_ms: now_ms,
                        updated_at_ms: now_ms,
                        revision: joined.revision,
                    },
                );
            }
            Event::MemberLeft(left) => {
                self.members.remove(&left.member_id);
            }
            Event::CapabilitiesUpdated(updated) => {
                if let Some(member) = self.members.get_mut(&updated.member_id) {
                    member.capabilities = updated.capabilities.clone();
                    member.updated_at_ms = now_ms;
                    member.revision = updated.revision;
                }
            }
            Event::LeaderElected(elected) => {
                self.leader = Some(Leader {
                    member_id: elected.member_id.clone(),
                    term: elected.term,
                });
            }
            Event::LeaderLost(lost) => {
                if self
                    .leader
                    .as_ref()
                    .is_some_and(|l| l.member_id == lost.member_id)
                {
                    self.leader = None;
                }
            }
            Event::GroupCreated(_)
            | Event::GroupDeleted(_)
            | Event::LockAcquired(_)
            | Event::LockReleased(_) => {}
        }
    }

    fn summary(&self) -> GroupSummary {
        GroupSummary {
            group_id: self.id.clone(),
            members: self.members.len(),
            leader: self.leader.clone(),
            last_change: self.last_change,
        }
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn info_of(m: &Member) -> MemberInfo {
    MemberInfo {
        capabilities: m.capabilities.clone(),
        joined_at: UNIX_EPOCH + Duration::from_millis(m.joined_at_ms),
        updated_at: UNIX_EPOCH + Duration::from_millis(m.updated_at_ms),
        revision: m.revision,
        expires_in: Duration::ZERO,
    }
}

/// Every group of the mirrored store, as far as the mirror has read its changes.
#[derive(Debug, Default)]
pub(crate) struct Mirrored {
    groups: HashMap<GroupId, Group>,
}

impl Mirrored {
    /// Apply a change the store made; `now_ms` (Unix) stamps joins and updates.
    pub(crate) fn apply(&mut self, event: &Event, now_ms: u64) {
        let revision = event.revision();
        match event {
            Event::GroupCreated(created) => {
                self.groups.insert(
                    created.group_id.clone(),
                    Group::new(created.group_id.clone(), revision),
                );
            }
            Event::GroupDeleted(deleted) => {
                self.groups.remove(&deleted.group_id);
            }
            other => {
                if let Some(group) = other.group_id().and_then(|g| self.groups.get_mut(g)) {
                    group.last_change = revision;
                    group.apply(other, now_ms);
                }
            }
        }
    }

    /// Start over at revision `head` with `groups`, as read from the store.
    pub(crate) fn reset(&mut self, head: Revision, groups: Vec<MirroredGroup>) {
        self.groups.clear();
        for (id, members, leader) in groups {
            let mut group = Group::new(id.clone(), head);
            group.members = members
                .into_iter()
                .map(|(member_id, info)| {
                    let member = Member {
                        capabilities: info.capabilities,
                        joined_at_ms: unix_ms(info.joined_at),
                        updated_at_ms: unix_ms(info.updated_at),
                        revision: info.revision,
                    };
                    (member_id, member)
                })
                .collect();
            group.leader = leader;
            self.groups.insert(id, group);
        }
    }

    fn group(&self, group: &str) -> Result<&Group> {
        self.groups
            .get(group)
            .ok_or_else(|| CoordinationError::group_not_created(group))
    }

    fn member(&self, group: &str, member: &str) -> Result<&Member> {
        let g = self.group(group)?;
        g.members
            .get(member)
            .ok_or_else(|| CoordinationError::member_not_joined(&g.id, member))
    }

    /// Every group id, sorted.
    pub(crate) fn groups(&self) -> Vec<GroupId> {
        let mut ids: Vec<GroupId> = self.groups.keys().cloned().collect();
        ids.sort_unstable();
        ids
    }

    /// Every group at a glance, sorted by id.
    pub(crate) fn group_summaries(&self) -> Vec<GroupSummary> {
        let mut summaries: Vec<GroupSummary> = self.groups.values().map(Group::summary).collect();
        summaries.sort_unstable_by(|a, b| a.group_id.cmp(&b.group_id));
        summaries
    }

    /// Every group with its members (at most `max_members` of each, in id order), sorted by id.
    pub(crate) fn snapshot(&self, max_members: usize) -> Vec<GroupWithMembers> {
        self.group_summaries()
            .into_iter()
            .filter_map(|summary| {
                let group = self.groups.get(&summary.group_id)?;
                let mut members: Vec<(&MemberId, &Member)> = group.members.iter().collect();
                members.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let members = members
                    .into_iter()
                    .take(max_members)
                    .map(|(id, m)| (id.clone(), info_of(m)))
                    .collect();
                Some((summary, members))
            })
            .collect()
    }

    pub(crate) fn group_exists(&self, group: &str) -> Result<GroupId> {
        self.group(group).map(|g| g.id.clone())
    }

    pub(crate) fn members(&self, group: &str) -> Result<Vec<MemberId>> {
        Ok(self.group(group)?.members.keys().cloned().collect())
    }

    pub(crate) fn members_with_capabilities(
        &self,
        group: &str,
    ) -> Result<Vec<(MemberId, Capabilities)>> {
        Ok(self
            .group(group)?
            .members
            .iter()
            .map(|(id, m)| (id.clone(), m.capabilities.clone()))
            .collect())
    }

    pub(crate) fn member_info(&self, group: &str, member: &str) -> Result<MemberInfo> {
        self.member(group, member).map(info_of)
    }

    pub(crate) fn members_info(&self, group: &str) -> Result<Vec<(MemberId, MemberInfo)>> {
        Ok(self
            .group(group)?
            .members
            .iter()
            .map(|(id, m)| (id.clone(), info_of(m)))
            .collect())
    }

    pub(crate) fn leader(&self, group: &str) -> Result<Option<Leader>> {
        Ok(self.group(group)?.leader.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_types::event::{
        GroupCreated, LeaderElected, LeaderLost, LeadershipEnd, MemberJoined,
    };

    fn g(name: &str) -> GroupId {
        GroupId::new(name).unwrap()
    }

    fn m(name: &str) -> MemberId {
        MemberId::new(name).unwrap()
    }

    #[test]
    fn a_mirror_follows_the_stores_changes() {
        let mut mirrored = Mirrored::default();
        let changes = [
            Event::GroupCreated(GroupCreated {
                revision: 1,
                group_id: g("g"),
            }),
            Event::MemberJoined(MemberJoined {
                revision: 2,
                group_id: g("g"),
                member_id: m("a"),
                capabilities: "x".into(),
            }),
            Event::LeaderElected(LeaderElected {
                revision: 3,
                group_id: g("g"),
                member_id: m("a"),
                term: 3,
            }),
        ];
        for change in &changes {
            mirrored.apply(change, 1_000);
        }
        assert_eq!(mirrored.members("g").unwrap(), [m("a")]);
        assert_eq!(mirrored.leader("g").unwrap().unwrap().term, 3);
        assert_eq!(mirrored.group_summaries()[0].last_change, 3);
        let info = mirrored.member_info("g", "a").unwrap();
        assert_eq!((info.revision, info.expires_in), (2, Duration::ZERO));
        mirrored.apply(
            &Event::LeaderLost(LeaderLost {
                revision: 4,
                group_id: g("g"),
                member_id: m("a"),
                term: 3,
                reason: LeadershipEnd::Resigned,
            }),
            1_000,
        );
        assert_eq!(mirrored.leader("g").unwrap(), None);
    }

    #[test]
    fn a_reset_mirror_holds_what_the_store_listed() {
        let mut mirrored = Mirrored::default();
        let info = MemberInfo {
            capabilities: "c".into(),
            joined_at: UNIX_EPOCH + Duration::from_millis(5),
            updated_at: UNIX_EPOCH + Duration::from_millis(6),
            revision: 7,
            expires_in: Duration::from_secs(3),
        };
        let leader = Leader {
            member_id: m("a"),
            term: 4,
        };
        mirrored.reset(
            9,
            vec![(g("g"), vec![(m("a"), info)], Some(leader.clone()))],
        );
        assert_eq!(mirrored.groups(), [g("g")]);
        assert_eq!(mirrored.leader("g").unwrap(), Some(leader));
        let snapshot = mirrored.snapshot(10);
        assert_eq!(snapshot[0].0.last_change, 9);
        assert_eq!(snapshot[0].1[0].1.expires_in, Duration::ZERO);
        assert!(matches!(
            mirrored.member_info("g", "b"),
            Err(CoordinationError::MemberNotJoined { .. })
        ));
    }
}
