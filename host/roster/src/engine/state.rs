//! Group state and every transition on it, as plain synchronous code.
//!
//! [`State`] is the single source of truth of the embedded backend: groups, their members and
//! candidates, the sessions that own them, and the history of changes. Each mutating method
//! checks its preconditions first and changes nothing when one fails (a failed join never
//! touches the existing member, R8), then commits one event per change.
//!
//! Time comes in as an argument so the rules can be tested without a clock; the locking
//! wrapper in `engine/mod.rs` passes tokio's clock.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::num::NonZeroU64;

use smallvec::SmallVec;
use thin_vec::ThinVec;
use tokio::time::Instant;

use super::history::History;
use roster_types::error::CoordinationError;
use roster_types::event::{
    CapabilitiesUpdated, Event, GroupCreated, GroupDeleted, LeaderElected, LeaderLost,
    LeadershipEnd, LeaveReason, MemberJoined, MemberLeft, Revision, Term,
};
use roster_types::ids::{Capabilities, GroupId, MemberId};
use roster_types::{GroupSummary, GroupWithMembers, Leader, MemberInfo};

/// Identifies one started coordinator within a store.
pub(crate) type SessionId = u64;

type Result<T> = std::result::Result<T, CoordinationError>;

#[derive(Debug)]
struct Member {
    session: SessionId,
    capabilities: Capabilities,
    joined_at_ms: u64,
    updated_at_ms: u64,
    revision: Revision,
}

#[derive(Debug)]
struct Candidate {
    session: SessionId,
    member_id: MemberId,
}

#[derive(Debug)]
struct Leadership {
    candidate: Candidate,
    term: Term,
}

#[derive(Debug)]
struct Group {
    id: GroupId,
    /// Revision of the group's creation: tells this group apart from an earlier one of the
    /// same name.
    created: Revision,
    /// Revision of the group's latest change.
    last_change: Revision,
    members: HashMap<MemberId, Member>,
    /// Candidates waiting for leadership, in the order they stood (or stood down).
    candidates: VecDeque<Candidate>,
    leader: Option<Leadership>,
}

/// How a session is tied to a group other than by membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tie {
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

/// One started coordinator. Kept small: a store holds one per member, so every byte here
/// is paid 100 000 times in a large group (times, in milliseconds from the store's epoch).
#[derive(Debug)]
struct Session {
    member_id: MemberId,
    /// When the session expires unless it heartbeats; `None` once it has expired.
    deadline_ms: Option<NonZeroU64>,
    /// Membership timeout.
    timeout_ms: u32,
    /// Groups this session's member is in (most members are in one: kept inline).
    groups: SmallVec<[GroupId; 1]>,
    /// Candidacies and unreported losses; one word while empty, as it almost always is.
    ties: ThinVec<(GroupId, Tie)>,
}

impl Session {
    /// The expiry notice (R6): every membership and candidacy the last expiry took, each
    /// list sorted. Taking it clears it, so it is given once.
    fn take_expiry_notice(&mut self) -> CoordinationError {
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

    fn take_candidacies(&mut self) -> Vec<GroupId> {
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
    fn untie(&mut self, tie: Tie, group: &GroupId) -> bool {
        let before = self.ties.len();
        self.ties.retain(|(g, t)| !(*t == tie && g == group));
        self.ties.len() != before
    }

    fn leave(&mut self, group: &GroupId) {
        if let Some(i) = self.groups.iter().position(|g| g == group) {
            self.groups.swap_remove(i);
        }
    }
}

/// The whole state of one store.
#[derive(Debug)]
pub(crate) struct State {
    groups: HashMap<GroupId, Group>,
    sessions: HashMap<SessionId, Session>,
    /// Live sessions by deadline, so expiry finds the due ones without a scan.
    deadlines: BTreeSet<(u64, SessionId)>,
    /// Origin of the millisecond times kept per session.
    epoch: Instant,
    next_session: SessionId,
    pub(crate) history: History,
    max_capabilities: usize,
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A group as a mirror is seeded with: its members and its leader.
pub(crate) type MirroredGroup = (GroupId, Vec<(MemberId, MemberInfo)>, Option<Leader>);

/// The session of mirrored members and leaders: none of this store's.
const MIRRORED: SessionId = 0;

/// Apply a membership or leadership change made elsewhere to a mirrored group.
fn mirror_in_group(group: &mut Group, event: &Event, now_ms: u64) {
    match event {
        Event::MemberJoined(joined) => {
            group.members.insert(
                joined.member_id.clone(),
                Member {
                    session: MIRRORED,
                    capabilities: joined.capabilities.clone(),
                    joined_at_ms: now_ms,
                    updated_at_ms: now_ms,
                    revision: joined.revision,
                },
            );
        }
        Event::MemberLeft(left) => {
            group.members.remove(&left.member_id);
        }
        Event::CapabilitiesUpdated(updated) => {
            if let Some(member) = group.members.get_mut(&updated.member_id) {
                member.capabilities = updated.capabilities.clone();
                member.updated_at_ms = now_ms;
                member.revision = updated.revision;
            }
        }
        Event::LeaderElected(elected) => {
            group.leader = Some(Leadership {
                candidate: Candidate {
                    session: MIRRORED,
                    member_id: elected.member_id.clone(),
                },
                term: elected.term,
            });
        }
        Event::LeaderLost(lost) => {
            if group
                .leader
                .as_ref()
                .is_some_and(|l| l.candidate.member_id == lost.member_id)
            {
                group.leader = None;
            }
        }
        Event::GroupCreated(_) | Event::GroupDeleted(_) => {}
    }
}

impl State {
    pub(crate) fn new(history_size: usize, max_capabilities: usize) -> Self {
        Self {
            groups: HashMap::new(),
            sessions: HashMap::new(),
            deadlines: BTreeSet::new(),
            epoch: Instant::now(),
            next_session: 1,
            history: History::new(history_size),
            max_capabilities,
        }
    }

    fn millis(&self, time: Instant) -> u64 {
        u64::try_from(time.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn commit(&mut self, make: impl FnOnce(Revision) -> Event) -> Revision {
        let revision = self.history.next_revision();
        let event = make(revision);
        if let Some(group) = self.groups.get_mut(event.group_id()) {
            group.last_change = revision;
        }
        self.history.push(event);
        revision
    }

    fn group(&self, group: &str) -> Result<&Group> {
        self.groups.get(group).ok_or_else(|| not_created(group))
    }

    fn group_mut(&mut self, group: &str) -> Result<&mut Group> {
        self.groups.get_mut(group).ok_or_else(|| not_created(group))
    }

    fn session_mut(&mut self, session: SessionId) -> &mut Session {
        self.sessions
            .get_mut(&session)
            .expect("coordinators only use sessions they opened and have not closed")
    }

    // ----- sessions and liveness -----

    /// Open a session for a started coordinator.
    pub(crate) fn open_session(
        &mut self,
        member_id: MemberId,
        timeout: Duration,
        now: Instant,
    ) -> SessionId {
        let id = self.next_session;
        self.next_session += 1;
        self.sessions.insert(
            id,
            Session {
                member_id,
                deadline_ms: None,
                timeout_ms: u32::try_from(timeout.as_millis())
                    .unwrap_or(u32::MAX)
                    .max(1),
                groups: SmallVec::new(),
                ties: ThinVec::new(),
            },
        );
        self.renew(id, now);
        id
    }

    /// Close a session: leave every group and give up every candidacy (R7).
    pub(crate) fn close_session(&mut self, session: SessionId) {
        self.drop_session_state(session, LeaveReason::Left, LeadershipEnd::Resigned);
        if let Some(s) = self.sessions.remove(&session)
            && let Some(deadline) = s.deadline_ms
        {
            self.deadlines.remove(&(deadline.get(), session));
        }
    }

    fn drop_session_state(&mut self, session: SessionId, leave: LeaveReason, end: LeadershipEnd) {
        let s = self.session_mut(session);
        let groups = std::mem::take(&mut s.groups);
        let candidacies = s.take_candidacies();
        for group in &candidacies {
            self.withdraw_candidate(session, group, end);
        }
        for group in &groups {
            self.remove_member(session, group, leave);
        }
        if leave == LeaveReason::Expired {
            let mut lost: Vec<(GroupId, Tie)> = Vec::new();
            for g in groups {
                if let Some(group) = self.groups.get(&g) {
                    lost.push((g.clone(), Tie::Lost(group.created)));
                }
                lost.push((g, Tie::ExpiredMember));
            }
            lost.extend(candidacies.into_iter().map(|g| (g, Tie::ExpiredCandidacy)));
            self.session_mut(session).ties.extend(lost);
        }
    }

    fn renew(&mut self, session: SessionId, now: Instant) {
        let now_ms = self.millis(now);
        let s = self.sessions.get_mut(&session).expect("open session");
        let deadline = NonZeroU64::new(now_ms + u64::from(s.timeout_ms)).expect("timeout >= 1 ms");
        if let Some(old) = s.deadline_ms.replace(deadline) {
            self.deadlines.remove(&(old.get(), session));
        }
        self.deadlines.insert((deadline.get(), session));
    }

    /// Refresh a session's liveness. When it had expired, reopen it and report what it lost
    /// (R6); the caller may then join again.
    pub(crate) fn heartbeat(&mut self, session: SessionId, now: Instant) -> Result<Duration> {
        self.expire_due(now);
        self.reopen_if_expired(session, now)?;
        self.renew(session, now);
        let timeout = self.sessions[&session].timeout_ms;
        Ok(Duration::from_millis(timeout.into()))
    }

    /// The rule of every call that needs a live session (heartbeat, join, stand for
    /// election; R6): on a session that expired, reopen it and fail with the expiry notice,
    /// so an expired member always learns it expired, once, before it holds anything again.
    fn reopen_if_expired(&mut self, session: SessionId, now: Instant) -> Result<()> {
        let s = self.session_mut(session);
        if s.deadline_ms.is_some() {
            return Ok(());
        }
        let notice = s.take_expiry_notice();
        self.renew(session, now);
        Err(notice)
    }

    /// Whether `session` has expired and not heartbeat since.
    pub(crate) fn session_expired(&self, session: SessionId) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(|s| s.deadline_ms.is_none())
    }

    /// Expire every session whose deadline has passed. Returns how many expired.
    pub(crate) fn expire_due(&mut self, now: Instant) -> usize {
        let mut expired = 0;
        let now_ms = self.millis(now);
        while let Some(&(deadline, session)) = self.deadlines.first() {
            if deadline > now_ms {
                break;
            }
            self.deadlines.pop_first();
            self.session_mut(session).deadline_ms = None;
            self.drop_session_state(session, LeaveReason::Expired, LeadershipEnd::Expired);
            expired += 1;
        }
        expired
    }

    /// The earliest deadline of a live session.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines
            .first()
            .map(|(deadline, _)| self.epoch + Duration::from_millis(*deadline))
    }

    // ----- groups -----

    pub(crate) fn create_group(&mut self, group: &str) -> Result<()> {
        let id = GroupId::new(group)?;
        if self.groups.contains_key(group) {
            return Err(CoordinationError::GroupAlreadyExist(id));
        }
        let created = self.history.next_revision();
        self.groups.insert(
            id.clone(),
            Group {
                id: id.clone(),
                created,
                last_change: created,
                members: HashMap::new(),
                candidates: VecDeque::new(),
                leader: None,
            },
        );
        self.commit(|revision| {
            Event::GroupCreated(GroupCreated {
                revision,
                group_id: id,
            })
        });
        Ok(())
    }

    pub(crate) fn delete_group(&mut self, group: &str) -> Result<()> {
        let g = self.group(group)?;
        if !g.members.is_empty() {
            return Err(CoordinationError::GroupNotEmpty(g.id.clone()));
        }
        let id = g.id.clone();
        let sessions: Vec<SessionId> = g
            .leader
            .iter()
            .map(|l| l.candidate.session)
            .chain(g.candidates.iter().map(|c| c.session))
            .collect();
        for session in sessions {
            self.withdraw_candidate(session, &id, LeadershipEnd::GroupDeleted);
            self.session_mut(session).untie(Tie::Candidate, &id);
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

    // ----- mirroring a store that lives elsewhere -----

    /// Record a change another store made (see [`crate::driver::mirror`]): append it to the
    /// history and keep groups, their members (with capabilities) and leaders in step, for
    /// what reads the mirror (watch registration, handler snapshots). Mirrored members belong
    /// to no session here: liveness is the store's business.
    pub(crate) fn mirror(&mut self, event: Event) {
        let revision = event.revision();
        let now_ms = unix_ms(SystemTime::now());
        match &event {
            Event::GroupCreated(created) => {
                self.groups.insert(
                    created.group_id.clone(),
                    Group {
                        id: created.group_id.clone(),
                        created: revision,
                        last_change: revision,
                        members: HashMap::new(),
                        candidates: VecDeque::new(),
                        leader: None,
                    },
                );
            }
            Event::GroupDeleted(deleted) => {
                self.groups.remove(&deleted.group_id);
            }
            other => {
                if let Some(group) = self.groups.get_mut(other.group_id()) {
                    group.last_change = revision;
                    mirror_in_group(group, other, now_ms);
                }
            }
        }
        self.history.push(event);
    }

    /// Start a mirror over at revision `head` with `groups` (their members and leaders as
    /// read from the store): history before it is gone. `replaced` when the store is not the
    /// one mirrored so far, so its revisions start a new history generation.
    pub(crate) fn reset_mirror(
        &mut self,
        head: Revision,
        groups: Vec<MirroredGroup>,
        replaced: bool,
    ) {
        self.groups.clear();
        for (id, members, leader) in groups {
            let members = members
                .into_iter()
                .map(|(member_id, info)| {
                    let member = Member {
                        session: MIRRORED,
                        capabilities: info.capabilities,
                        joined_at_ms: unix_ms(info.joined_at),
                        updated_at_ms: unix_ms(info.updated_at),
                        revision: info.revision,
                    };
                    (member_id, member)
                })
                .collect();
            self.groups.insert(
                id.clone(),
                Group {
                    id,
                    created: head,
                    last_change: head,
                    members,
                    candidates: VecDeque::new(),
                    leader: leader.map(|l| Leadership {
                        candidate: Candidate {
                            session: MIRRORED,
                            member_id: l.member_id,
                        },
                        term: l.term,
                    }),
                },
            );
        }
        self.history.reset(head, replaced);
    }

    /// Every group id, sorted.
    pub(crate) fn groups(&self) -> Vec<GroupId> {
        let mut ids: Vec<GroupId> = self.groups.keys().cloned().collect();
        ids.sort_unstable();
        ids
    }

    /// Every group with its members (at most `max_members` of each, in id order), sorted by
    /// id: the whole state at one revision.
    pub(crate) fn snapshot(&self, now: Instant, max_members: usize) -> Vec<GroupWithMembers> {
        let now_ms = self.millis(now);
        self.group_summaries()
            .into_iter()
            .map(|summary| {
                let group = &self.groups[&summary.group_id];
                let mut ids: Vec<&MemberId> = group.members.keys().collect();
                ids.sort_unstable();
                let members = ids
                    .into_iter()
                    .take(max_members)
                    .map(|id| (id.clone(), self.info_of(&group.members[id], now_ms)))
                    .collect();
                (summary, members)
            })
            .collect()
    }

    /// Every group at a glance, sorted by id.
    pub(crate) fn group_summaries(&self) -> Vec<GroupSummary> {
        let mut summaries: Vec<GroupSummary> = self
            .groups
            .values()
            .map(|g| GroupSummary {
                group_id: g.id.clone(),
                members: g.members.len(),
                leader: g.leader.as_ref().map(|l| Leader {
                    member_id: l.candidate.member_id.clone(),
                    term: l.term,
                }),
                last_change: g.last_change,
            })
            .collect();
        summaries.sort_unstable_by(|a, b| a.group_id.cmp(&b.group_id));
        summaries
    }

    pub(crate) fn group_exists(&self, group: &str) -> Result<GroupId> {
        self.group(group).map(|g| g.id.clone())
    }

    // ----- membership -----

    /// Join `group` as the session's member, creating the group first when `create` (tooz's
    /// `join_group_create`). An expired session is reopened and the join fails with its
    /// expiry notice (R6).
    pub(crate) fn join(
        &mut self,
        session: SessionId,
        group: &str,
        capabilities: Capabilities,
        create: bool,
        now: Instant,
    ) -> Result<()> {
        capabilities.check_size(self.max_capabilities)?;
        GroupId::check(group)?;
        self.reopen_if_expired(session, now)?;
        if create && !self.groups.contains_key(group) {
            self.create_group(group)?;
        }
        let member_id = self.sessions[&session].member_id.clone();
        let g = self.group_mut(group)?;
        if g.members.contains_key(&member_id) {
            return Err(CoordinationError::MemberAlreadyExist {
                group_id: g.id.clone(),
                member_id,
            });
        }
        let (group_id, created) = (g.id.clone(), g.created);
        let revision = self.history.next_revision();
        let at = unix_ms(SystemTime::now());
        self.group_mut(group)?.members.insert(
            member_id.clone(),
            Member {
                session,
                capabilities: capabilities.clone(),
                joined_at_ms: at,
                updated_at_ms: at,
                revision,
            },
        );
        let s = self.session_mut(session);
        s.groups.push(group_id.clone());
        s.untie(Tie::Lost(created), &group_id);
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

    /// Leave `group` as the session's member. Any session holding the same member id may
    /// remove it (as in tooz, where a second coordinator with the same id can boot the first).
    pub(crate) fn leave(&mut self, session: SessionId, group: &str) -> Result<()> {
        let s = &self.sessions[&session];
        let member_id = s.member_id.clone();
        let g = self.group(group)?;
        let Some(owner) = g.members.get(&member_id).map(|m| m.session) else {
            let (group_id, created) = (g.id.clone(), g.created);
            return Err(self.not_a_member(session, group_id, created));
        };
        let group_id = g.id.clone();
        self.session_mut(owner).leave(&group_id);
        self.remove_member(owner, &group_id, LeaveReason::Left);
        Ok(())
    }

    /// The error for a call that needs the session's membership of a group it is not in:
    /// `MemberExpired` the first time after expiry removed it, `MemberNotJoined` otherwise.
    fn not_a_member(
        &mut self,
        session: SessionId,
        group_id: GroupId,
        created: Revision,
    ) -> CoordinationError {
        let s = self.session_mut(session);
        let member_id = s.member_id.clone();
        if s.untie(Tie::Lost(created), &group_id) {
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

    fn remove_member(&mut self, session: SessionId, group: &GroupId, reason: LeaveReason) {
        let member_id = self.sessions[&session].member_id.clone();
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if g.members.remove(&member_id).is_none() {
            return;
        }
        let group_id = g.id.clone();
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
    pub(crate) fn members(&self, group: &str) -> Result<Vec<MemberId>> {
        Ok(self.group(group)?.members.keys().cloned().collect())
    }

    /// Members with their capabilities, in no particular order.
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

    fn member(&self, group: &str, member: &str) -> Result<&Member> {
        let g = self.group(group)?;
        g.members
            .get(member)
            .ok_or_else(|| match MemberId::new(member) {
                Ok(member_id) => CoordinationError::MemberNotJoined {
                    group_id: g.id.clone(),
                    member_id,
                },
                Err(invalid) => invalid,
            })
    }

    pub(crate) fn member_info(
        &self,
        group: &str,
        member: &str,
        now: Instant,
    ) -> Result<MemberInfo> {
        let m = self.member(group, member)?;
        Ok(self.info_of(m, self.millis(now)))
    }

    /// Every member of a group with what is known about it, in no particular order.
    pub(crate) fn members_info(
        &self,
        group: &str,
        now: Instant,
    ) -> Result<Vec<(MemberId, MemberInfo)>> {
        let now_ms = self.millis(now);
        Ok(self
            .group(group)?
            .members
            .iter()
            .map(|(id, m)| (id.clone(), self.info_of(m, now_ms)))
            .collect())
    }

    fn info_of(&self, m: &Member, now_ms: u64) -> MemberInfo {
        let deadline_ms = self
            .sessions
            .get(&m.session)
            .and_then(|s| s.deadline_ms)
            .map_or(0, NonZeroU64::get);
        MemberInfo {
            capabilities: m.capabilities.clone(),
            joined_at: from_unix_ms(m.joined_at_ms),
            updated_at: from_unix_ms(m.updated_at_ms),
            revision: m.revision,
            expires_in: Duration::from_millis(deadline_ms.saturating_sub(now_ms)),
        }
    }

    pub(crate) fn update_capabilities(
        &mut self,
        session: SessionId,
        group: &str,
        capabilities: Capabilities,
    ) -> Result<()> {
        capabilities.check_size(self.max_capabilities)?;
        let member_id = self.sessions[&session].member_id.clone();
        let revision = self.history.next_revision();
        let g = self.group_mut(group)?;
        let (group_id, created) = (g.id.clone(), g.created);
        let Some(m) = g.members.get_mut(&member_id) else {
            return Err(self.not_a_member(session, group_id, created));
        };
        m.capabilities = capabilities.clone();
        m.updated_at_ms = unix_ms(SystemTime::now());
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

    // ----- leader election -----

    /// Make the session a candidate in `group` (no-op if it already is). Leadership is
    /// decided at once: a candidate in a group without a leader is elected immediately.
    pub(crate) fn stand_for_election(
        &mut self,
        session: SessionId,
        group: &str,
        now: Instant,
    ) -> Result<()> {
        GroupId::check(group)?;
        self.reopen_if_expired(session, now)?;
        let member_id = self.sessions[&session].member_id.clone();
        let g = self.group_mut(group)?;
        let group_id = g.id.clone();
        let already = g
            .leader
            .as_ref()
            .is_some_and(|l| l.candidate.session == session)
            || g.candidates.iter().any(|c| c.session == session);
        if already {
            return Ok(());
        }
        g.candidates.push_back(Candidate { session, member_id });
        self.session_mut(session)
            .ties
            .push((group_id.clone(), Tie::Candidate));
        self.elect_if_vacant(&group_id);
        Ok(())
    }

    /// Stop being a candidate in `group`; a leader resigns and the next candidate is elected.
    pub(crate) fn withdraw(&mut self, session: SessionId, group: &GroupId) {
        if self.session_mut(session).untie(Tie::Candidate, group) {
            self.withdraw_candidate(session, group, LeadershipEnd::Resigned);
        }
    }

    fn withdraw_candidate(&mut self, session: SessionId, group: &GroupId, end: LeadershipEnd) {
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        g.candidates.retain(|c| c.session != session);
        if let Some(lost) = g.leader.take_if(|l| l.candidate.session == session) {
            self.commit_leader_lost(group, lost, end);
            if end != LeadershipEnd::GroupDeleted {
                self.elect_if_vacant(group);
            }
        }
    }

    fn commit_leader_lost(&mut self, group: &GroupId, lost: Leadership, reason: LeadershipEnd) {
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

    fn elect_if_vacant(&mut self, group: &GroupId) {
        let term = self.history.next_revision();
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

    /// Give up leadership of `group` if this session holds it: the session goes to the back
    /// of the candidate queue and the next candidate is elected (itself again if alone).
    /// Returns whether it was the leader.
    pub(crate) fn stand_down(&mut self, session: SessionId, group: &str) -> Result<bool> {
        let g = self.group_mut(group)?;
        let Some(lost) = g.leader.take_if(|l| l.candidate.session == session) else {
            return Ok(false);
        };
        let group_id = g.id.clone();
        g.candidates.push_back(Candidate {
            session,
            member_id: lost.candidate.member_id.clone(),
        });
        self.commit_leader_lost(&group_id, lost, LeadershipEnd::StoodDown);
        self.elect_if_vacant(&group_id);
        Ok(true)
    }

    pub(crate) fn leader(&self, group: &str) -> Result<Option<Leader>> {
        Ok(self.group(group)?.leader.as_ref().map(|l| Leader {
            member_id: l.candidate.member_id.clone(),
            term: l.term,
        }))
    }
}

fn not_created(group: &str) -> CoordinationError {
    match GroupId::new(group) {
        Ok(id) => CoordinationError::GroupNotCreated(id),
        Err(invalid) => invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_types::event::EventKind;

    const TTL: Duration = Duration::from_secs(10);

    fn member(name: &str) -> MemberId {
        MemberId::new(name).unwrap()
    }

    fn kinds_since(state: &State, from: Revision) -> Vec<EventKind> {
        let mut out = Vec::new();
        state.history.read_from(from, usize::MAX, &mut out).unwrap();
        out.iter().map(Event::kind).collect()
    }

    #[test]
    fn failed_join_leaves_the_existing_member_untouched() {
        let mut st = State::new(100, 1024);
        let now = Instant::now();
        let a = st.open_session(member("m"), TTL, now);
        let b = st.open_session(member("m"), TTL, now);
        st.create_group("g").unwrap();
        st.join(a, "g", "weight=2".into(), false, now).unwrap();
        let head = st.history.head();
        let err = st.join(b, "g", "evil=1".into(), false, now).unwrap_err();
        assert!(matches!(err, CoordinationError::MemberAlreadyExist { .. }));
        assert_eq!(
            st.member_info("g", "m", now).unwrap().capabilities,
            "weight=2".into()
        );
        assert_eq!(st.history.head(), head, "a failed join commits nothing");
    }

    #[test]
    fn expiry_removes_memberships_and_candidacies_in_one_sweep() {
        let mut st = State::new(100, 1024);
        let now = Instant::now();
        let a = st.open_session(member("a"), TTL, now);
        let b = st.open_session(member("b"), TTL * 2, now);
        st.create_group("g").unwrap();
        st.join(a, "g", Capabilities::none(), false, now).unwrap();
        st.stand_for_election(a, "g", now).unwrap();
        st.stand_for_election(b, "g", now).unwrap();
        let before = st.history.head() + 1;
        assert_eq!(st.expire_due(now + TTL), 1);
        assert_eq!(
            kinds_since(&st, before),
            [
                EventKind::LeaderLost,
                EventKind::LeaderElected,
                EventKind::MemberLeft
            ]
        );
        assert_eq!(st.leader("g").unwrap().unwrap().member_id, member("b"));
        let next = st.next_deadline().expect("b is live");
        let expected = now + TTL * 2;
        assert!(
            next <= expected && expected - next < Duration::from_millis(1),
            "ms precision"
        );
    }

    fn notice(err: CoordinationError) -> (Vec<GroupId>, Vec<GroupId>) {
        match err {
            CoordinationError::SessionExpired {
                lost_groups,
                lost_candidacies,
                ..
            } => (lost_groups, lost_candidacies),
            other => panic!("expected the expiry notice, got {other:?}"),
        }
    }

    fn ids(names: &[&str]) -> Vec<GroupId> {
        names.iter().map(|n| GroupId::new(n).unwrap()).collect()
    }

    #[test]
    fn a_join_on_an_expired_session_fails_with_the_notice_changes_nothing_and_reopens_it() {
        let mut st = State::new(100, 1024);
        let now = Instant::now();
        let a = st.open_session(member("a"), TTL, now);
        st.create_group("g1").unwrap();
        st.join(a, "g1", Capabilities::none(), false, now).unwrap();
        st.stand_for_election(a, "g1", now).unwrap();
        let later = now + TTL;
        st.expire_due(later);
        let head = st.history.head();
        let err = st
            .join(a, "g2", Capabilities::none(), true, later)
            .unwrap_err();
        assert_eq!(notice(err), (ids(&["g1"]), ids(&["g1"])));
        assert_eq!(st.history.head(), head, "no group created, nothing joined");
        assert!(!st.session_expired(a), "reopened");
        st.join(a, "g2", Capabilities::none(), true, later).unwrap();
        assert!(st.heartbeat(a, later).is_ok(), "told once");
    }

    #[test]
    fn a_stand_on_an_expired_session_fails_with_the_notice() {
        let mut st = State::new(100, 1024);
        let now = Instant::now();
        let a = st.open_session(member("a"), TTL, now);
        st.create_group("g").unwrap();
        st.join(a, "g", Capabilities::none(), false, now).unwrap();
        st.expire_due(now + TTL);
        let err = st.stand_for_election(a, "g", now + TTL).unwrap_err();
        assert_eq!(notice(err), (ids(&["g"]), vec![]));
        st.stand_for_election(a, "g", now + TTL).unwrap();
        assert_eq!(st.leader("g").unwrap().unwrap().member_id, member("a"));
    }

    #[test]
    fn member_expired_answers_leave_the_session_notice_whole() {
        let mut st = State::new(100, 1024);
        let now = Instant::now();
        let a = st.open_session(member("a"), TTL, now);
        for g in ["g1", "g2"] {
            st.create_group(g).unwrap();
            st.join(a, g, Capabilities::none(), false, now).unwrap();
        }
        st.expire_due(now + TTL);
        assert!(matches!(
            st.leave(a, "g1"),
            Err(CoordinationError::MemberExpired { .. })
        ));
        assert!(matches!(
            st.update_capabilities(a, "g2", Capabilities::none()),
            Err(CoordinationError::MemberExpired { .. })
        ));
        let err = st.heartbeat(a, now + TTL).unwrap_err();
        assert_eq!(notice(err), (ids(&["g1", "g2"]), vec![]));
    }

    #[test]
    fn terms_only_grow_even_when_a_group_is_recreated() {
        let mut st = State::new(100, 1024);
        let now = Instant::now();
        let a = st.open_session(member("a"), TTL, now);
        st.create_group("g").unwrap();
        st.stand_for_election(a, "g", now).unwrap();
        let first = st.leader("g").unwrap().unwrap().term;
        st.delete_group("g").unwrap();
        st.create_group("g").unwrap();
        st.stand_for_election(a, "g", now).unwrap();
        assert!(st.leader("g").unwrap().unwrap().term > first);
    }
}
