//! One session: a started coordinator, its liveness, and what ties it to groups.
//!
//! A store holds one session per member, so every byte here is paid 100 000 times in a large
//! group: the record stays small (times in milliseconds, groups inline, ties one word while
//! empty, as they almost always are).

use roster_types::error::CoordinationError;
use roster_types::event::Revision;
use roster_types::ids::{GroupId, MemberId};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use thin_vec::ThinVec;

/// How a session is tied to a group other than by membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Tie {
    /// The session is a candidate (or the leader) in the group.
    Candidate,
    /// The session's member was removed by expiry from the group created at this revision,
    /// and has not been told yet. The revision tells a later group of the same name apart.
    Lost(Revision),
    /// The session's last expiry removed its member from this group, and no
    /// `SessionExpired` has said so yet (R6: the notice lists the whole loss, whatever
    /// `MemberExpired` said per group).
    ExpiredMember,
    /// The session's last expiry ended its candidacy in this group, not reported yet.
    ExpiredCandidacy,
}

/// One started coordinator.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) member_id: MemberId,
    /// While live: when it expires unless it heartbeats. Once expired: when it expired. (On
    /// the store's clock.)
    pub(crate) at_ms: u64,
    /// Membership timeout, at least 1 ms.
    pub(crate) timeout_ms: u32,
    /// Whether it is live (it has not expired, or has been reopened since).
    pub(crate) live: bool,
    /// Groups this session's member is in (most members are in one: kept inline).
    #[serde(with = "crate::seq")]
    pub(crate) groups: SmallVec<[GroupId; 1]>,
    /// Candidacies and unreported losses.
    #[serde(with = "crate::seq")]
    pub(crate) ties: ThinVec<(GroupId, Tie)>,
}

impl Session {
    /// A session of `member_id`, not live yet.
    pub(crate) fn new(member_id: MemberId, timeout_ms: u32) -> Self {
        Self {
            member_id,
            at_ms: 0,
            timeout_ms: timeout_ms.max(1),
            live: false,
            groups: SmallVec::new(),
            ties: ThinVec::new(),
        }
    }

    /// Its deadline while live; 0 once expired.
    pub(crate) fn deadline_ms(&self) -> u64 {
        if self.live { self.at_ms } else { 0 }
    }

    /// The expiry notice (R6): every membership and candidacy the last expiry took, each
    /// list sorted. Taking it clears it, so it is given once.
    pub(crate) fn take_expiry_notice(&mut self) -> CoordinationError {
        let (mut lost_groups, mut lost_candidacies) = (Vec::new(), Vec::new());
        self.ties.retain(|(g, t)| match t {
            Tie::ExpiredMember => {
                lost_groups.push(g.clone());
                false
            }
            Tie::ExpiredCandidacy => {
                lost_candidacies.push(g.clone());
                false
            }
            Tie::Candidate | Tie::Lost(_) => true,
        });
        lost_groups.sort_unstable();
        lost_candidacies.sort_unstable();
        CoordinationError::SessionExpired {
            member_id: self.member_id.clone(),
            lost_groups,
            lost_candidacies,
        }
    }

    /// Every candidacy, in the order they were taken; the session holds none afterwards.
    pub(crate) fn take_candidacies(&mut self) -> Vec<GroupId> {
        let mut taken = Vec::new();
        self.ties.retain(|(g, t)| {
            let candidacy = *t == Tie::Candidate;
            if candidacy {
                taken.push(g.clone());
            }
            !candidacy
        });
        taken
    }

    /// Remove a tie; returns whether it was there.
    pub(crate) fn untie(&mut self, tie: Tie, group: &str) -> bool {
        let before = self.ties.len();
        self.ties
            .retain(|(g, t)| !(*t == tie && g.as_str() == group));
        self.ties.len() != before
    }

    /// Its member is no longer in `group`.
    pub(crate) fn leave(&mut self, group: &GroupId) {
        if let Some(i) = self.groups.iter().position(|g| g == group) {
            self.groups.swap_remove(i);
        }
    }
}
