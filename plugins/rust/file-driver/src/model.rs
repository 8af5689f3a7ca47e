//! The store's state as one document, and the rules of the embedded backend
//! (`host/roster/src/engine/state.rs`) over it, step for step; the comments name the function there.
//!
//! A [`Model`] is one operation's view: the state read from the directory, the instant the
//! operation runs at, and the events it commits. The store writes it back (and appends the
//! events to the change log) only when the operation changed something ([`Model::dirty`]),
//! whether it succeeded or not: a failed call may still have changed the store, as in the
//! embedded backend (a `join` with `create` creates the group before checking capabilities;
//! a `member-expired` notice is given once).

use std::collections::BTreeMap;

use driver_kit::{leadership_end, leave_reason, parse_session};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::exports::roster::coordination::backend::GroupSummary;
use crate::roster::coordination::types::{
    CapabilitiesTooLarge, CapabilitiesUpdated, CoordinationError as E, GroupCreated, GroupDeleted,
    Leader, LeaderElected, LeaderLost, MemberInfo, MemberJoined, MemberLeft, MemberRef,
    MembershipEvent, SessionExpired,
};

/// The state file's format; a file of another format is not read.
pub const FORMAT: u32 = 1;

/// An expired session is kept this long (or one TTL, if longer) so that its next heartbeat
/// can say what it lost; then it is forgotten. A session key names its member and TTL, so a
/// forgotten session comes back (expired, with nothing to report) if it is used again.
pub const GRACE_MS: u64 = 3_600_000;

/// Capabilities as base64 text in the JSON documents.
mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        B64.decode(text).map_err(serde::de::Error::custom)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The state file's first line: all a change-feed poll reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub v: u32,
    /// The store id, made when the state was first written.
    pub id: String,
    /// Revision of the newest change (0 before any).
    pub head: u64,
    /// Oldest revision the change log still has (`head + 1` when it has none).
    pub oldest: u64,
    /// Earliest deadline of a live session (Unix ms); 0 when no session is live.
    pub deadline: u64,
    /// The change log's current segment, up to its committed end.
    pub log: LogPos,
    /// Length of the second line (the body) with its newline, in bytes.
    pub len: u64,
}

/// Where the change log's current (last) segment ends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPos {
    /// Revision of the segment's first event (its file name); 0 before any event.
    pub first: u64,
    /// Events in it.
    pub count: u64,
    /// Its committed length in bytes: anything after is a crashed writer's and is cut off.
    pub bytes: u64,
}

/// The state file's second line: groups, members and sessions.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Body {
    #[serde(default)]
    pub groups: BTreeMap<String, Group>,
    #[serde(default)]
    pub sessions: BTreeMap<String, Session>,
}

/// A group (state.rs `Group`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Group {
    /// Revision of its creation: tells it apart from an earlier group of its name.
    pub created: u64,
    /// Revision of its latest change.
    pub last: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub members: BTreeMap<String, Member>,
    /// Candidates waiting, in the order they stood (or stood down).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<Leadership>,
}

/// One member of a group (state.rs `Member`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Member {
    /// The session that joined.
    pub session: String,
    #[serde(with = "b64")]
    pub caps: Vec<u8>,
    pub joined: u64,
    pub updated: u64,
    /// Revision of its last change (join or capabilities update).
    pub rev: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Candidate {
    pub session: String,
    pub member: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Leadership {
    pub session: String,
    pub member: String,
    pub term: u64,
}

/// One session (state.rs `Session`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Session {
    pub member: String,
    pub ttl: u64,
    /// When it expires unless it heartbeats (Unix ms); 0 once it has expired.
    pub deadline: u64,
    /// When it expired (Unix ms), while it is expired.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expired_at: u64,
    /// Groups its member joined through it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Groups it is a candidate (or the leader) in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidacies: Vec<String>,
    /// Groups lost by expiry and not reported yet, with their creation revision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<(String, u64)>,
    /// Groups the last expiry took, for the expiry notice (cleared when it is given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_groups: Vec<String>,
    /// Candidacies the last expiry took, for the same notice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_candidacies: Vec<String>,
}

/// One change-log entry: a line of a log segment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDoc {
    /// Revision.
    pub r: u64,
    /// Kind: `gc` group-created, `gd` group-deleted, `mj` member-joined, `ml` member-left,
    /// `cu` capabilities-updated, `le` leader-elected, `ll` leader-lost.
    pub k: String,
    /// Group.
    pub g: String,
    /// Member.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub m: String,
    /// Capabilities.
    #[serde(default, with = "b64", skip_serializing_if = "Vec::is_empty")]
    pub c: Vec<u8>,
    /// Term.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub t: u64,
    /// Reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub y: String,
}

impl EventDoc {
    /// The event it records.
    pub fn event(self) -> std::result::Result<MembershipEvent, String> {
        let EventDoc {
            r: revision,
            k,
            g: group_id,
            m: member_id,
            c: capabilities,
            t: term,
            y,
        } = self;
        Ok(match k.as_str() {
            "gc" => MembershipEvent::GroupCreated(GroupCreated { revision, group_id }),
            "gd" => MembershipEvent::GroupDeleted(GroupDeleted { revision, group_id }),
            "mj" => MembershipEvent::MemberJoined(MemberJoined {
                revision,
                group_id,
                member_id,
                capabilities,
            }),
            "ml" => MembershipEvent::MemberLeft(MemberLeft {
                revision,
                group_id,
                member_id,
                reason: leave_reason(y.as_bytes()).ok_or_else(|| format!("leave reason {y:?}"))?,
            }),
            "cu" => MembershipEvent::CapabilitiesUpdated(CapabilitiesUpdated {
                revision,
                group_id,
                member_id,
                capabilities,
            }),
            "le" => MembershipEvent::LeaderElected(LeaderElected {
                revision,
                group_id,
                member_id,
                term,
            }),
            "ll" => MembershipEvent::LeaderLost(LeaderLost {
                revision,
                group_id,
                member_id,
                term,
                reason: leadership_end(y.as_bytes())
                    .ok_or_else(|| format!("leadership end {y:?}"))?,
            }),
            other => return Err(format!("event kind {other:?}")),
        })
    }
}

/// Why a member leaves: the `leave-reason`s this driver writes, with the names the log
/// uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leave {
    Left,
    Expired,
}

/// Why a leadership ends: the `leadership-end`s this driver writes, with the names the log
/// uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    StoodDown,
    Resigned,
    Expired,
    GroupDeleted,
}

impl Leave {
    fn name(self) -> &'static str {
        match self {
            Leave::Left => "left",
            Leave::Expired => "expired",
        }
    }
}

impl End {
    fn name(self) -> &'static str {
        match self {
            End::StoodDown => "stood-down",
            End::Resigned => "resigned",
            End::Expired => "expired",
            End::GroupDeleted => "group-deleted",
        }
    }
}

fn member_ref(group: &str, member: &str) -> MemberRef {
    MemberRef {
        group_id: group.to_owned(),
        member_id: member.to_owned(),
    }
}

fn not_created(group: &str) -> E {
    E::GroupNotCreated(group.to_owned())
}

fn unknown_session(session: &str) -> E {
    E::Connection(format!(
        "file store: {session:?} is not a session this driver opened"
    ))
}

/// One operation on the state, at one instant.
pub struct Model {
    pub header: Header,
    pub body: Body,
    /// Unix ms: the one instant of the whole operation.
    pub now: u64,
    pub max_capabilities: u64,
    /// Events committed by this operation, in order.
    pub events: Vec<EventDoc>,
    /// Whether the state must be written back.
    pub dirty: bool,
}

impl Model {
    pub fn new(header: Header, body: Body, now: u64, max_capabilities: u64) -> Self {
        Self {
            header,
            body,
            now,
            max_capabilities,
            events: Vec::new(),
            dirty: false,
        }
    }

    pub fn head(&self) -> u64 {
        self.header.head
    }

    /// Whether a live session's deadline has come (per the header, as written).
    pub fn due(&self) -> bool {
        self.header.deadline != 0 && self.header.deadline <= self.now
    }

    /// The earliest deadline of a live session in `body`, 0 for none.
    pub fn deadline_of(body: &Body) -> u64 {
        body.sessions
            .values()
            .map(|s| s.deadline)
            .filter(|d| *d != 0)
            .min()
            .unwrap_or(0)
    }

    /// State::commit: the next revision, the group's last change, one log entry.
    fn commit(&mut self, mut event: EventDoc) -> u64 {
        let revision = self.header.head + 1;
        self.header.head = revision;
        if let Some(group) = self.body.groups.get_mut(&event.g) {
            group.last = revision;
        }
        event.r = revision;
        self.events.push(event);
        self.dirty = true;
        revision
    }

    fn event(kind: &str, group: &str) -> EventDoc {
        EventDoc {
            k: kind.to_owned(),
            g: group.to_owned(),
            ..EventDoc::default()
        }
    }

    fn group(&self, group: &str) -> Result<&Group> {
        self.body
            .groups
            .get(group)
            .ok_or_else(|| not_created(group))
    }

    /// The session a key names. A key this driver made for a session that is forgotten
    /// (closed, or expired long ago) comes back as an expired session with nothing to report.
    fn session(&mut self, key: &str) -> Result<&mut Session> {
        if !self.body.sessions.contains_key(key) {
            let (member, ttl) = parse_session(key).ok_or_else(|| unknown_session(key))?;
            self.body.sessions.insert(
                key.to_owned(),
                Session {
                    member,
                    ttl,
                    deadline: 0,
                    expired_at: self.now,
                    ..Session::default()
                },
            );
            self.dirty = true;
        }
        Ok(self.body.sessions.get_mut(key).expect("inserted above"))
    }

    // ----- sessions and liveness -----

    /// State::renew
    fn renew(&mut self, key: &str) {
        let now = self.now;
        if let Some(s) = self.body.sessions.get_mut(key) {
            s.deadline = now.saturating_add(s.ttl);
            s.expired_at = 0;
            self.dirty = true;
        }
    }

    /// State::expire_due: every session whose deadline has come, in deadline order; then
    /// forget sessions that expired more than their grace ago.
    pub fn expire_due(&mut self) {
        let now = self.now;
        let mut due: Vec<(u64, String)> = self
            .body
            .sessions
            .iter()
            .filter(|(_, s)| s.deadline != 0 && s.deadline <= now)
            .map(|(k, s)| (s.deadline, k.clone()))
            .collect();
        due.sort();
        for (_, key) in due {
            if let Some(s) = self.body.sessions.get_mut(&key) {
                s.deadline = 0;
                s.expired_at = now;
            }
            self.dirty = true;
            self.drop_session_state(&key, Leave::Expired, End::Expired);
        }
        let before = self.body.sessions.len();
        self.body.sessions.retain(|_, s| {
            s.deadline != 0 || s.expired_at.saturating_add(GRACE_MS.max(s.ttl)) > now
        });
        if self.body.sessions.len() != before {
            self.dirty = true;
        }
    }

    /// State::drop_session_state: candidacies end first, then memberships; an expiry also
    /// remembers each lost group (with its creation revision, so a recreated group of the
    /// same name is told apart), and the whole loss for the session's expiry notice.
    fn drop_session_state(&mut self, key: &str, leave: Leave, end: End) {
        let Some(s) = self.body.sessions.get_mut(key) else {
            return;
        };
        let groups = std::mem::take(&mut s.groups);
        let candidacies = std::mem::take(&mut s.candidacies);
        self.dirty = true;
        for group in &candidacies {
            self.withdraw_candidate(key, group, end);
        }
        for group in &groups {
            self.remove_member(key, group, leave);
        }
        if leave == Leave::Expired {
            let lost: Vec<(String, u64)> = groups
                .iter()
                .filter_map(|g| {
                    let created = self.body.groups.get(g)?.created;
                    Some((g.clone(), created))
                })
                .collect();
            if let Some(s) = self.body.sessions.get_mut(key) {
                s.lost.extend(lost);
                s.expired_groups = groups;
                s.expired_candidacies = candidacies;
            }
        }
    }

    /// State::reopen_if_expired, the rule of every call that needs a live session
    /// (heartbeat, join, stand): an expired session is renewed and the call fails with the
    /// expiry notice (every group and candidacy the expiry took, each sorted, given once).
    fn reopen_if_expired(&mut self, key: &str) -> Result<()> {
        let s = self.session(key)?;
        if s.deadline != 0 {
            return Ok(());
        }
        let mut lost_groups = std::mem::take(&mut s.expired_groups);
        let mut lost_candidacies = std::mem::take(&mut s.expired_candidacies);
        lost_groups.sort();
        lost_candidacies.sort();
        let member_id = s.member.clone();
        self.renew(key);
        Err(E::SessionExpired(SessionExpired {
            member_id,
            lost_groups,
            lost_candidacies,
        }))
    }

    /// State::open_session
    pub fn open_session(&mut self, key: &str) -> Result<String> {
        let (member, ttl) = parse_session(key).ok_or_else(|| unknown_session(key))?;
        self.body.sessions.insert(
            key.to_owned(),
            Session {
                member,
                ttl,
                ..Session::default()
            },
        );
        self.renew(key);
        Ok(key.to_owned())
    }

    /// State::close_session: leave every group (left), withdraw every candidacy (resigned),
    /// forget the session. A session already forgotten is closed already.
    pub fn close_session(&mut self, key: &str) -> Result<u64> {
        if self.body.sessions.contains_key(key) {
            self.drop_session_state(key, Leave::Left, End::Resigned);
            self.body.sessions.remove(key);
            self.dirty = true;
        }
        Ok(self.head())
    }

    /// State::heartbeat: renew; an expired session is renewed too, and says once what it
    /// lost.
    pub fn heartbeat(&mut self, key: &str) -> Result<u64> {
        self.reopen_if_expired(key)?;
        self.renew(key);
        Ok(self.session(key)?.ttl)
    }

    // ----- groups -----

    /// State::create_group
    pub fn create_group(&mut self, group: &str) -> Result<u64> {
        if self.body.groups.contains_key(group) {
            return Err(E::GroupAlreadyExist(group.to_owned()));
        }
        let created = self.head() + 1;
        self.body.groups.insert(
            group.to_owned(),
            Group {
                created,
                last: created,
                ..Group::default()
            },
        );
        Ok(self.commit(Self::event("gc", group)))
    }

    /// State::delete_group: only an empty group; its leadership ends (group-deleted) and its
    /// candidates are no longer candidates.
    pub fn delete_group(&mut self, group: &str) -> Result<u64> {
        let g = self.group(group)?;
        if !g.members.is_empty() {
            return Err(E::GroupNotEmpty(group.to_owned()));
        }
        let sessions: Vec<String> = g
            .leader
            .iter()
            .map(|l| l.session.clone())
            .chain(g.candidates.iter().map(|c| c.session.clone()))
            .collect();
        for session in sessions {
            self.withdraw_candidate(&session, group, End::GroupDeleted);
            if let Some(s) = self.body.sessions.get_mut(&session) {
                s.candidacies.retain(|c| c != group);
            }
        }
        self.body.groups.remove(group);
        Ok(self.commit(Self::event("gd", group)))
    }

    /// Every group, sorted by bytes.
    pub fn groups(&self) -> Vec<String> {
        self.body.groups.keys().cloned().collect()
    }

    /// State::group_summaries, with the head they were read at.
    pub fn group_summaries(&self) -> (u64, Vec<GroupSummary>) {
        let summaries = self
            .body
            .groups
            .iter()
            .map(|(id, g)| GroupSummary {
                group_id: id.clone(),
                members: g.members.len() as u64,
                leader: g.leader.as_ref().map(|l| Leader {
                    member_id: l.member.clone(),
                    term: l.term,
                }),
                last_change: g.last,
            })
            .collect();
        (self.head(), summaries)
    }

    // ----- membership -----

    fn check_size(&self, capabilities: &[u8]) -> Result<()> {
        let size = capabilities.len() as u64;
        if size > self.max_capabilities {
            return Err(E::CapabilitiesTooLarge(CapabilitiesTooLarge {
                size,
                limit: self.max_capabilities,
            }));
        }
        Ok(())
    }

    /// Coordinator::join_group_create (create first when asked), then State::join: nothing
    /// changes when a check fails; the same member id from any session is already there.
    pub fn join(
        &mut self,
        key: &str,
        group: &str,
        capabilities: &[u8],
        create: bool,
    ) -> Result<u64> {
        self.check_size(capabilities)?;
        self.reopen_if_expired(key)?;
        if create && !self.body.groups.contains_key(group) {
            self.create_group(group)?;
        }
        let member = self.session(key)?.member.clone();
        let g = self.group(group)?;
        if g.members.contains_key(&member) {
            return Err(E::MemberAlreadyExist(member_ref(group, &member)));
        }
        let created = g.created;
        let revision = self.head() + 1;
        let now = self.now;
        let g = self.body.groups.get_mut(group).expect("checked above");
        g.members.insert(
            member.clone(),
            Member {
                session: key.to_owned(),
                caps: capabilities.to_vec(),
                joined: now,
                updated: now,
                rev: revision,
            },
        );
        let s = self.body.sessions.get_mut(key).expect("looked up above");
        s.groups.push(group.to_owned());
        s.lost.retain(|(g, c)| !(g == group && *c == created));
        Ok(self.commit(EventDoc {
            m: member,
            c: capabilities.to_vec(),
            ..Self::event("mj", group)
        }))
    }

    /// State::leave: removes the session's member id whichever session owns it (a twin with
    /// the same id may boot it, as in tooz).
    pub fn leave(&mut self, key: &str, group: &str) -> Result<u64> {
        let member = self.session(key)?.member.clone();
        let g = self.group(group)?;
        let created = g.created;
        let Some(owner) = g.members.get(&member).map(|m| m.session.clone()) else {
            return Err(self.not_a_member(key, group, created));
        };
        if let Some(s) = self.body.sessions.get_mut(&owner)
            && let Some(i) = s.groups.iter().position(|g| g == group)
        {
            s.groups.swap_remove(i);
        }
        self.remove_member_id(&member, group, Leave::Left);
        Ok(self.head())
    }

    /// State::not_a_member: `member-expired` the first time after expiry removed the
    /// session's member from this group, `member-not-joined` otherwise.
    fn not_a_member(&mut self, key: &str, group: &str, created: u64) -> E {
        let Some(s) = self.body.sessions.get_mut(key) else {
            return unknown_session(key);
        };
        let member = s.member.clone();
        let before = s.lost.len();
        s.lost.retain(|(g, c)| !(g == group && *c == created));
        if s.lost.len() != before {
            self.dirty = true;
            E::MemberExpired(member_ref(group, &member))
        } else {
            E::MemberNotJoined(member_ref(group, &member))
        }
    }

    /// State::remove_member: the session's member id leaves the group.
    fn remove_member(&mut self, key: &str, group: &str, leave: Leave) {
        let Some(member) = self.body.sessions.get(key).map(|s| s.member.clone()) else {
            return;
        };
        self.remove_member_id(&member, group, leave);
    }

    fn remove_member_id(&mut self, member: &str, group: &str, leave: Leave) {
        let Some(g) = self.body.groups.get_mut(group) else {
            return;
        };
        if g.members.remove(member).is_none() {
            return;
        }
        self.commit(EventDoc {
            m: member.to_owned(),
            y: leave.name().to_owned(),
            ..Self::event("ml", group)
        });
    }

    /// State::update_capabilities
    pub fn update_capabilities(
        &mut self,
        key: &str,
        group: &str,
        capabilities: &[u8],
    ) -> Result<u64> {
        self.check_size(capabilities)?;
        let member = self.session(key)?.member.clone();
        let revision = self.head() + 1;
        let now = self.now;
        let g = self.group(group)?;
        let created = g.created;
        if !g.members.contains_key(&member) {
            return Err(self.not_a_member(key, group, created));
        }
        let m = self
            .body
            .groups
            .get_mut(group)
            .and_then(|g| g.members.get_mut(&member))
            .expect("checked above");
        m.caps = capabilities.to_vec();
        m.updated = now;
        m.rev = revision;
        Ok(self.commit(EventDoc {
            m: member,
            c: capabilities.to_vec(),
            ..Self::event("cu", group)
        }))
    }

    /// State::info_of
    fn info(&self, m: &Member) -> MemberInfo {
        let deadline = self.body.sessions.get(&m.session).map_or(0, |s| s.deadline);
        MemberInfo {
            capabilities: m.caps.clone(),
            joined_at_ms: m.joined,
            updated_at_ms: m.updated,
            revision: m.rev,
            expires_in_ms: deadline.saturating_sub(self.now),
        }
    }

    /// State::members_info
    pub fn members_info(&self, group: &str) -> Result<Vec<(String, MemberInfo)>> {
        Ok(self
            .group(group)?
            .members
            .iter()
            .map(|(id, m)| (id.clone(), self.info(m)))
            .collect())
    }

    /// State::member_info
    pub fn member_info(&self, group: &str, member: &str) -> Result<MemberInfo> {
        let m = self
            .group(group)?
            .members
            .get(member)
            .ok_or_else(|| E::MemberNotJoined(member_ref(group, member)))?;
        Ok(self.info(m))
    }

    // ----- leader election -----

    /// State::leader
    pub fn leader(&self, group: &str) -> Result<Option<Leader>> {
        Ok(self.group(group)?.leader.as_ref().map(|l| Leader {
            member_id: l.member.clone(),
            term: l.term,
        }))
    }

    /// State::stand_for_election: to the back of the candidates (nothing if already one);
    /// a group without a leader elects its first candidate at once.
    pub fn stand(&mut self, key: &str, group: &str) -> Result<u64> {
        self.reopen_if_expired(key)?;
        let member = self.session(key)?.member.clone();
        let g = self.group(group)?;
        let already = g.leader.as_ref().is_some_and(|l| l.session == key)
            || g.candidates.iter().any(|c| c.session == key);
        if already {
            return Ok(self.head());
        }
        let g = self.body.groups.get_mut(group).expect("checked above");
        g.candidates.push(Candidate {
            session: key.to_owned(),
            member,
        });
        self.dirty = true;
        let s = self.body.sessions.get_mut(key).expect("looked up above");
        if !s.candidacies.iter().any(|c| c == group) {
            s.candidacies.push(group.to_owned());
        }
        self.elect_if_vacant(group);
        Ok(self.head())
    }

    /// State::withdraw: a leader resigns and the next candidate is elected; not being a
    /// candidate (or a missing group) is not an error.
    pub fn withdraw(&mut self, key: &str, group: &str) -> Result<u64> {
        let was = self.body.sessions.get_mut(key).is_some_and(|s| {
            let before = s.candidacies.len();
            s.candidacies.retain(|c| c != group);
            s.candidacies.len() != before
        });
        if was {
            self.dirty = true;
            self.withdraw_candidate(key, group, End::Resigned);
        }
        Ok(self.head())
    }

    /// State::withdraw_candidate
    fn withdraw_candidate(&mut self, key: &str, group: &str, end: End) {
        let Some(g) = self.body.groups.get_mut(group) else {
            return;
        };
        let before = g.candidates.len();
        g.candidates.retain(|c| c.session != key);
        if g.candidates.len() != before {
            self.dirty = true;
        }
        if g.leader.as_ref().is_some_and(|l| l.session == key) {
            let lost = g.leader.take().expect("checked above");
            self.commit(EventDoc {
                m: lost.member,
                t: lost.term,
                y: end.name().to_owned(),
                ..Self::event("ll", group)
            });
            if end != End::GroupDeleted {
                self.elect_if_vacant(group);
            }
        }
    }

    /// State::elect_if_vacant: the first candidate leads, with the revision of its
    /// election as its term.
    fn elect_if_vacant(&mut self, group: &str) {
        let term = self.head() + 1;
        let Some(g) = self.body.groups.get_mut(group) else {
            return;
        };
        if g.leader.is_some() || g.candidates.is_empty() {
            return;
        }
        let next = g.candidates.remove(0);
        let member = next.member.clone();
        g.leader = Some(Leadership {
            session: next.session,
            member: next.member,
            term,
        });
        self.commit(EventDoc {
            m: member,
            t: term,
            ..Self::event("le", group)
        });
    }

    /// State::stand_down: the leader goes to the back of the candidates and the next one
    /// is elected (itself again if alone). Returns whether it was the leader.
    pub fn stand_down(&mut self, key: &str, group: &str) -> Result<(bool, u64)> {
        let g = self
            .body
            .groups
            .get_mut(group)
            .ok_or_else(|| not_created(group))?;
        if g.leader.as_ref().is_none_or(|l| l.session != key) {
            return Ok((false, self.head()));
        }
        let lost = g.leader.take().expect("checked above");
        g.candidates.push(Candidate {
            session: lost.session.clone(),
            member: lost.member.clone(),
        });
        self.commit(EventDoc {
            m: lost.member,
            t: lost.term,
            y: End::StoodDown.name().to_owned(),
            ..Self::event("ll", group)
        });
        self.elect_if_vacant(group);
        Ok((true, self.head()))
    }
}
