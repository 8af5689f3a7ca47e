//! Leader election: a queue of candidates per group, decided at once. A candidate in a group
//! without a leader is elected immediately, with the revision of its election as its fencing
//! term, so terms only grow, across groups and across a group deleted and created again.

use roster_types::Leader;
use roster_types::event::{Event, LeaderElected, LeaderLost, LeadershipEnd};
use roster_types::ids::GroupId;

use crate::group::{Candidate, Leadership};
use crate::session::Tie;
use crate::state::{Result, SessionKey, State};
use crate::time::Now;

impl<K: SessionKey> State<K> {
    /// Make the session a candidate in `group` (nothing if it already is one, or leads);
    /// elected at once when the group has no leader (`LeaderElected`). An expired session is
    /// reopened and the call fails with its expiry notice (R6).
    ///
    /// # Errors
    /// `InvalidId`, `SessionExpired`, `GroupNotCreated`; `NotStarted` for a session the store
    /// does not have.
    pub fn stand_for_election(&mut self, key: &K, group: &str, now: Now) -> Result<()> {
        GroupId::check(group)?;
        self.reopen_if_expired(key, now)?;
        let member_id = self.session(key)?.member_id.clone();
        let g = self.group_mut(group)?;
        let group_id = g.id.clone();
        let already = g
            .leader
            .as_ref()
            .is_some_and(|l| l.candidate.session == *key)
            || g.candidates.iter().any(|c| c.session == *key);
        if already {
            return Ok(());
        }
        g.candidates.push_back(Candidate {
            session: key.clone(),
            member_id,
        });
        self.session_mut(key)?
            .ties
            .push((group_id.clone(), Tie::Candidate));
        self.elect_if_vacant(&group_id);
        Ok(())
    }

    /// Stop being a candidate in `group`: a leader resigns (`LeaderLost{resigned}`) and the
    /// next candidate is elected. Not being a candidate (or a missing group) is not an error.
    pub fn withdraw(&mut self, key: &K, group: &str) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        if s.untie(Tie::Candidate, group) {
            self.withdraw_candidate(key, group, LeadershipEnd::Resigned);
        }
    }

    /// The session is no longer a candidate in `group`; if it led, the leadership ends for
    /// `end` and (unless the group is being deleted) the next candidate is elected.
    pub(crate) fn withdraw_candidate(&mut self, key: &K, group: &str, end: LeadershipEnd) {
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        g.candidates.retain(|c| c.session != *key);
        if let Some(lost) = g.leader.take_if(|l| l.candidate.session == *key) {
            let group_id = g.id.clone();
            self.commit_leader_lost(&group_id, lost, end);
            if end != LeadershipEnd::GroupDeleted {
                self.elect_if_vacant(&group_id);
            }
        }
    }

    fn commit_leader_lost(&mut self, group: &GroupId, lost: Leadership<K>, reason: LeadershipEnd) {
        let group_id = group.clone();
        self.commit(|revision| {
            Event::LeaderLost(LeaderLost {
                revision,
                group_id,
                member_id: lost.candidate.member_id,
                term: lost.term,
                reason,
            })
        });
    }

    /// Elect the first candidate of a group without a leader.
    fn elect_if_vacant(&mut self, group: &GroupId) {
        let term = self.next_revision();
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if g.leader.is_some() {
            return;
        }
        let Some(next) = g.candidates.pop_front() else {
            return;
        };
        let member_id = next.member_id.clone();
        g.leader = Some(Leadership {
            candidate: next,
            term,
        });
        let group_id = g.id.clone();
        self.commit(|revision| {
            Event::LeaderElected(LeaderElected {
                revision,
                group_id,
                member_id,
                term: revision,
            })
        });
    }

    /// Give up leadership of `group` if the session holds it (`LeaderLost{stood-down}`): it
    /// goes to the back of the candidate queue and the next candidate is elected (itself
    /// again if alone). Returns whether it was the leader.
    ///
    /// # Errors
    /// `GroupNotCreated`, or `InvalidId`.
    pub fn stand_down(&mut self, key: &K, group: &str) -> Result<bool> {
        let g = self.group_mut(group)?;
        let Some(lost) = g.leader.take_if(|l| l.candidate.session == *key) else {
            return Ok(false);
        };
        let group_id = g.id.clone();
        g.candidates.push_back(Candidate {
            session: key.clone(),
            member_id: lost.candidate.member_id.clone(),
        });
        self.commit_leader_lost(&group_id, lost, LeadershipEnd::StoodDown);
        self.elect_if_vacant(&group_id);
        Ok(true)
    }

    /// The group's leader, if it has one.
    ///
    /// # Errors
    /// `GroupNotCreated`, or `InvalidId`.
    pub fn leader(&self, group: &str) -> Result<Option<Leader>> {
        Ok(self.group(group)?.leader.as_ref().map(Leadership::leader))
    }
}
