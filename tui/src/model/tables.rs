//! Groups, their members and leaders, and the locks in use: a snapshot kept current by
//! applying events.
//!
//! A snapshot replaces the tables and names the revision it certainly reflects; events after
//! it are applied on top. Applying an event is idempotent (a join inserts or replaces, a
//! leave removes if present), so a snapshot that already reflects a few of the events that
//! follow it does no harm.

use std::collections::BTreeMap;
use std::time::SystemTime;

use roster::{Capabilities, Event, GroupId, Leader, MemberId, Revision};

use crate::model::locks::Locks;
use crate::source::{GroupSnapshot, MemberSnapshot, Snapshot};

/// One member of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The member.
    pub id: MemberId,
    /// Its capabilities.
    pub capabilities: Capabilities,
    /// When it joined.
    pub joined_at: SystemTime,
    /// When it last heartbeated, if known.
    pub last_heartbeat: Option<SystemTime>,
    /// When it expires without another heartbeat, if known.
    pub expires_at: Option<SystemTime>,
}

/// How a member is doing, from its heartbeat deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Heartbeating on time (or nothing says otherwise).
    Alive,
    /// Less than a third of its timeout is left.
    Late,
    /// Its deadline has passed; the store is about to drop it.
    Expiring,
}

impl Liveness {
    /// Lower-case name for tables and exports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Alive => "alive",
            Self::Late => "late",
            Self::Expiring => "expiring",
        }
    }
}

impl Member {
    fn from_snapshot(m: MemberSnapshot) -> Self {
        Self {
            id: m.id,
            capabilities: m.capabilities,
            joined_at: m.joined_at,
            last_heartbeat: m.last_heartbeat,
            expires_at: m.expires_at,
        }
    }

    /// Its liveness at `now`.
    pub fn liveness(&self, now: SystemTime) -> Liveness {
        let (Some(beat), Some(deadline)) = (self.last_heartbeat, self.expires_at) else {
            return Liveness::Alive;
        };
        let Ok(left) = deadline.duration_since(now) else {
            return Liveness::Expiring;
        };
        if left.is_zero() {
            return Liveness::Expiring;
        }
        let timeout = deadline.duration_since(beat).unwrap_or_default();
        if left * 3 < timeout {
            Liveness::Late
        } else {
            Liveness::Alive
        }
    }

    /// Its capabilities as text: the UTF-8 text itself (JSON shows as JSON), else
    /// `<N bytes>`, or `-` when empty.
    pub fn capabilities_text(&self) -> String {
        capabilities_text(&self.capabilities)
    }
}

/// Capabilities as one line of text; see [`Member::capabilities_text`].
pub fn capabilities_text(capabilities: &Capabilities) -> String {
    if capabilities.is_empty() {
        return "-".to_owned();
    }
    match std::str::from_utf8(capabilities.as_bytes()) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("<{} bytes>", capabilities.len()),
    }
}

/// One group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The group.
    pub id: GroupId,
    /// Its member count.
    pub member_count: usize,
    /// Its leader and term.
    pub leader: Option<Leader>,
    /// Revision of its last change, when known.
    pub last_change: Option<Revision>,
    /// When that change was seen, when known.
    pub last_change_at: Option<SystemTime>,
    /// Its members by id, when the source reports them.
    pub members: Option<BTreeMap<MemberId, Member>>,
}

impl Group {
    fn empty(id: GroupId) -> Self {
        Self {
            id,
            member_count: 0,
            leader: None,
            last_change: None,
            last_change_at: None,
            members: Some(BTreeMap::new()),
        }
    }

    /// Whether `member` leads this group.
    pub fn is_leader(&self, member: &MemberId) -> bool {
        self.leader.as_ref().is_some_and(|l| l.member_id == *member)
    }
}

/// Every group and lock, as of `revision`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tables {
    /// Groups by id.
    pub groups: BTreeMap<GroupId, Group>,
    /// The locks in use.
    pub locks: Locks,
    /// The newest revision applied.
    pub revision: Revision,
}

impl Tables {
    /// Total members over every group (a member of two groups counts twice).
    pub fn member_total(&self) -> usize {
        self.groups.values().map(|g| g.member_count).sum()
    }

    /// Replace everything with `snapshot`, taken at `at`, keeping what the snapshot does not
    /// say (when a group last changed, members of groups it sends no members for, when a
    /// standing lock hold was first seen).
    pub fn apply_snapshot(&mut self, snapshot: Snapshot, at: SystemTime) {
        self.locks.apply_snapshot(snapshot.locks, at);
        let mut old = std::mem::take(&mut self.groups);
        for GroupSnapshot {
            id,
            member_count,
            leader,
            last_change,
            members,
        } in snapshot.groups
        {
            let previous = old.remove(&id);
            let members = match members {
                Some(members) => Some(
                    members
                        .into_iter()
                        .map(|m| (m.id.clone(), Member::from_snapshot(m)))
                        .collect(),
                ),
                None => previous.as_ref().and_then(|p| p.members.clone()),
            };
            let (seen, seen_at) = previous
                .map(|p| (p.last_change, p.last_change_at))
                .unwrap_or_default();
            let group = Group {
                id: id.clone(),
                member_count,
                leader,
                last_change: last_change.max(seen),
                last_change_at: seen_at,
                members,
            };
            self.groups.insert(id, group);
        }
        self.revision = self.revision.max(snapshot.revision);
    }

    /// Apply one event seen at `at`; events at or below [`Tables::revision`] are already
    /// reflected and ignored.
    pub fn apply_event(&mut self, event: &Event, at: SystemTime) {
        let revision = event.revision();
        if revision <= self.revision {
            return;
        }
        self.revision = revision;
        if let Event::GroupDeleted(e) = event {
            self.groups.remove(&e.group_id);
            return;
        }
        match event {
            Event::LockAcquired(e) => return self.locks.acquired(e, at),
            Event::LockReleased(e) => return self.locks.released(e),
            _ => {}
        }
        let Some(group_id) = event.group_id() else {
            return;
        };
        let group = self
            .groups
            .entry(group_id.clone())
            .or_insert_with(|| Group::empty(group_id.clone()));
        group.last_change = Some(revision);
        group.last_change_at = Some(at);
        match event {
            Event::GroupCreated(_)
            | Event::GroupDeleted(_)
            | Event::LockAcquired(_)
            | Event::LockReleased(_) => {}
            Event::MemberJoined(e) => {
                let member = Member {
                    id: e.member_id.clone(),
                    capabilities: e.capabilities.clone(),
                    joined_at: at,
                    last_heartbeat: Some(at),
                    expires_at: None,
                };
                match &mut group.members {
                    Some(members) => {
                        members.insert(e.member_id.clone(), member);
                        group.member_count = members.len();
                    }
                    None => group.member_count += 1,
                }
            }
            Event::MemberLeft(e) => match &mut group.members {
                Some(members) => {
                    members.remove(&e.member_id);
                    group.member_count = members.len();
                }
                None => group.member_count = group.member_count.saturating_sub(1),
            },
            Event::CapabilitiesUpdated(e) => {
                if let Some(member) = group.members.as_mut().and_then(|m| m.get_mut(&e.member_id)) {
                    member.capabilities = e.capabilities.clone();
                }
            }
            Event::LeaderElected(e) => {
                group.leader = Some(Leader {
                    member_id: e.member_id.clone(),
                    term: e.term,
                });
            }
            Event::LeaderLost(e) => {
                if group.leader.as_ref().is_some_and(|l| l.term == e.term) {
                    group.leader = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use roster::{LeaderElected, MemberJoined, MemberLeft};

    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn joined(revision: Revision, member: &str) -> Event {
        Event::MemberJoined(MemberJoined {
            revision,
            group_id: GroupId::new("g").unwrap(),
            member_id: MemberId::new(member).unwrap(),
            capabilities: Capabilities::from("{}"),
        })
    }

    #[test]
    fn events_after_a_snapshot_apply_once_and_in_order() {
        let mut tables = Tables::default();
        tables.apply_event(&joined(1, "a"), at(1));
        tables.apply_event(&joined(2, "b"), at(2));
        tables.apply_event(&joined(2, "c"), at(2));
        let group = &tables.groups[&GroupId::new("g").unwrap()];
        assert_eq!(group.member_count, 2, "a repeated revision is ignored");
        let left = Event::MemberLeft(MemberLeft {
            revision: 3,
            group_id: GroupId::new("g").unwrap(),
            member_id: MemberId::new("a").unwrap(),
            reason: roster::LeaveReason::Expired,
        });
        tables.apply_event(&left, at(3));
        let elected = Event::LeaderElected(LeaderElected {
            revision: 4,
            group_id: GroupId::new("g").unwrap(),
            member_id: MemberId::new("b").unwrap(),
            term: 4,
        });
        tables.apply_event(&elected, at(4));
        let group = &tables.groups[&GroupId::new("g").unwrap()];
        assert_eq!(group.member_count, 1);
        assert!(group.is_leader(&MemberId::new("b").unwrap()));
        assert_eq!(group.last_change, Some(4));
        assert_eq!(tables.revision, 4);
    }

    #[test]
    fn liveness_follows_the_heartbeat_deadline() {
        let member = Member {
            id: MemberId::new("m").unwrap(),
            capabilities: Capabilities::none(),
            joined_at: at(0),
            last_heartbeat: Some(at(10)),
            expires_at: Some(at(16)),
        };
        assert_eq!(member.liveness(at(11)), Liveness::Alive);
        assert_eq!(member.liveness(at(15)), Liveness::Late);
        assert_eq!(member.liveness(at(16)), Liveness::Expiring);
    }

    #[test]
    fn capabilities_show_as_text_or_size() {
        assert_eq!(capabilities_text(&Capabilities::none()), "-");
        assert_eq!(
            capabilities_text(&Capabilities::from("{\"a\":1}")),
            "{\"a\":1}"
        );
        assert_eq!(
            capabilities_text(&Capabilities::from(vec![0xff, 0xfe])),
            "<2 bytes>"
        );
    }
}
