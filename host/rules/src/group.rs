//! One group: its members, its candidate queue and its leader.

use std::collections::VecDeque;

use crate::state::Map;

use roster_types::event::{Revision, Term};
use roster_types::ids::{Capabilities, GroupId, MemberId};
use roster_types::{GroupSummary, Leader};
use serde::{Deserialize, Serialize};

/// A member of a group, owned by the session that joined it (`K` names sessions).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Member<K> {
    pub(crate) session: K,
    pub(crate) capabilities: Capabilities,
    /// Unix milliseconds.
    pub(crate) joined_at_ms: u64,
    /// Unix milliseconds.
    pub(crate) updated_at_ms: u64,
    /// Revision of its last change (join or capabilities update).
    pub(crate) revision: Revision,
}

/// A session standing for election in a group, with the member id it stands as.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Candidate<K> {
    pub(crate) session: K,
    pub(crate) member_id: MemberId,
}

/// The candidate leading a group, and its fencing term.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Leadership<K> {
    pub(crate) candidate: Candidate<K>,
    pub(crate) term: Term,
}

impl<K> Leadership<K> {
    pub(crate) fn leader(&self) -> Leader {
        Leader {
            member_id: self.candidate.member_id.clone(),
            term: self.term,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "K: Serialize", deserialize = "K: Deserialize<'de>"))]
pub(crate) struct Group<K> {
    pub(crate) id: GroupId,
    /// Revision of the group's creation: tells this group apart from an earlier one of the
    /// same name.
    pub(crate) created: Revision,
    /// Revision of the group's latest change.
    pub(crate) last_change: Revision,
    #[serde(with = "crate::seq::sorted_map")]
    pub(crate) members: Map<MemberId, Member<K>>,
    /// Candidates waiting for leadership, in the order they stood (or stood down).
    pub(crate) candidates: VecDeque<Candidate<K>>,
    pub(crate) leader: Option<Leadership<K>>,
}

impl<K> Group<K> {
    /// A new, empty group created at revision `created`.
    pub(crate) fn new(id: GroupId, created: Revision) -> Self {
        Self {
            id,
            created,
            last_change: created,
            members: Map::default(),
            candidates: VecDeque::new(),
            leader: None,
        }
    }

    pub(crate) fn summary(&self) -> GroupSummary {
        GroupSummary {
            group_id: self.id.clone(),
            members: self.members.len(),
            leader: self.leader.as_ref().map(Leadership::leader),
            last_change: self.last_change,
        }
    }
}
