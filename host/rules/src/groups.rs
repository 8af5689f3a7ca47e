//! Groups as a whole: creating and deleting them, listing them, and the snapshot of every
//! group with its members.

use roster_types::GroupSummary;
use roster_types::error::CoordinationError;
use roster_types::event::{Event, GroupCreated, GroupDeleted, LeadershipEnd};
use roster_types::ids::{GroupId, MemberId};

use crate::group::Group;
use crate::session::Tie;
use crate::state::{GroupWithMembers, Result, SessionKey, State};
use crate::time::Now;

impl<K: SessionKey> State<K> {
    /// Create an empty group (`GroupCreated`).
    ///
    /// # Errors
    /// `GroupAlreadyExist`, or `InvalidId`.
    pub fn create_group(&mut self, group: &str) -> Result<()> {
        let id = GroupId::new(group)?;
        if self.groups.contains_key(group) {
            return Err(CoordinationError::GroupAlreadyExist(id));
        }
        let created = self.next_revision();
        self.groups
            .insert(id.clone(), Group::new(id.clone(), created));
        self.commit(|revision| {
            Event::GroupCreated(GroupCreated {
                revision,
                group_id: id,
            })
        });
        Ok(())
    }

    /// Delete an empty group: its leadership ends (`LeaderLost{group-deleted}`, nobody
    /// elected after), its candidates are candidates no more, then `GroupDeleted`.
    ///
    /// # Errors
    /// `GroupNotCreated`, or `GroupNotEmpty`.
    pub fn delete_group(&mut self, group: &str) -> Result<()> {
        let g = self.group(group)?;
        if !g.members.is_empty() {
            return Err(CoordinationError::GroupNotEmpty(g.id.clone()));
        }
        let id = g.id.clone();
        let sessions: Vec<K> = g
            .leader
            .iter()
            .map(|l| l.candidate.session.clone())
            .chain(g.candidates.iter().map(|c| c.session.clone()))
            .collect();
        for session in sessions {
            self.withdraw_candidate(&session, id.as_str(), LeadershipEnd::GroupDeleted);
            if let Some(s) = self.sessions.get_mut(&session) {
                s.untie(Tie::Candidate, id.as_str());
            }
        }
        self.groups.remove(group);
        self.commit(|revision| {
            Event::GroupDeleted(GroupDeleted {
                revision,
                group_id: id,
            })
        });
        Ok(())
    }

    /// Every group id, sorted.
    pub fn groups(&self) -> Vec<GroupId> {
        let mut ids: Vec<GroupId> = self.groups.keys().cloned().collect();
        ids.sort_unstable();
        ids
    }

    /// Every group at a glance, sorted by id.
    pub fn group_summaries(&self) -> Vec<GroupSummary> {
        let mut summaries: Vec<GroupSummary> = self.groups.values().map(Group::summary).collect();
        summaries.sort_unstable_by(|a, b| a.group_id.cmp(&b.group_id));
        summaries
    }

    /// The id of `group`, if it exists.
    ///
    /// # Errors
    /// `GroupNotCreated`, or `InvalidId`.
    pub fn group_exists(&self, group: &str) -> Result<GroupId> {
        self.group(group).map(|g| g.id.clone())
    }

    /// Every group with its members (at most `max_members` of each, in id order), sorted by
    /// id: the whole state at one revision.
    pub fn snapshot(&self, now: Now, max_members: usize) -> Vec<GroupWithMembers> {
        self.group_summaries()
            .into_iter()
            .filter_map(|summary| {
                let group = self.groups.get(&summary.group_id)?;
                let mut members: Vec<(&MemberId, _)> = group.members.iter().collect();
                members.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let members = members
                    .into_iter()
                    .take(max_members)
                    .map(|(id, m)| (id.clone(), self.info_of(m, now)))
                    .collect();
                Some((summary, members))
            })
            .collect()
    }
}
