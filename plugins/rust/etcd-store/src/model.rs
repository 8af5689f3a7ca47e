//! The membership rules of `roster-rules` (`host/rules`), step for step, over the documents
//! this driver keeps in etcd: etcd checks and applies one transaction per operation, so the
//! rules cannot run on a state read whole, and this module restates them as reads and writes
//! of keys. Each step names, in its comment, the `roster-rules` function it implements
//! (`State::join` is `roster_rules::State::join`). Every operation runs inside one [`Tx`], so
//! it reads one revision of the store and its writes land together or not at all. Event
//! kinds, leave reasons and leadership ends are the host's enums (`roster-types`).

use driver_kit::{Entry, Reason, parse_session};
use roster_types::{
    EventKind, LeadershipEnd, LeaveReason, LockAttempt, LockMode, LockReleaseReason, LockStanding,
};
use serde::{Deserialize, Deserializer, Serialize};

use crate::Result;
use crate::exports::roster::coordination::backend::GroupSummary;
use crate::keys::LAYOUT;
use crate::roster::coordination::types::{
    CapabilitiesTooLarge, CoordinationError as E, Leader, MemberInfo, MemberRef, MembershipEvent,
    SessionExpired,
};
use crate::tx::{Fail, Io, Lease, Tx};

/// An expired session is kept this long (or one TTL, if longer) so that its next heartbeat
/// can say what it lost; then its lease ends and etcd deletes it (`State::forget_expired`). A
/// session key names its member and TTL, so a forgotten session comes back (expired, with
/// nothing to report) if it is used again (`State::recall_session`).
pub const GRACE_MS: u64 = 3_600_000;

/// Requests one commit may hold before an expiry or a close goes on in a further commit
/// (etcd's default `--max-txn-ops` is 128; one step adds at most a handful).
const BUDGET: usize = 96;

/// Members whose sessions `get-members-info` reads one by one; above it, it reads every
/// session of the namespace at once.
const POINT_READS: usize = 64;

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

/// `{ns}/groups/{g}`: a group, its election and its member count.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct GroupDoc {
    /// Revision of the group's creation: tells it apart from an earlier group of its name.
    pub created: u64,
    /// Revision of its latest change.
    pub last: u64,
    pub members: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<LeaderDoc>,
    /// Candidates waiting, in the order they stood (or stood down).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LeaderDoc {
    pub session: String,
    pub member: String,
    pub term: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Candidate {
    pub session: String,
    pub member: String,
}

/// `{ns}/members/{g}/{m}`: one member of a group.
#[derive(Debug, Serialize, Deserialize)]
pub struct MemberDoc {
    /// The session that joined.
    pub session: String,
    #[serde(with = "b64")]
    pub capabilities: Vec<u8>,
    pub joined_ms: u64,
    pub updated_ms: u64,
    /// Revision of its last change (join or capabilities update).
    pub revision: u64,
}

/// `{ns}/locks/{l}`: a lock with a holder or a waiter (`roster-rules`' `Lock`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LockDoc {
    /// In the order they acquired it.
    #[serde(default)]
    pub holders: Vec<HoldDoc>,
    /// First served first.
    #[serde(default)]
    pub waiters: Vec<WaitDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct HoldDoc {
    pub session: String,
    pub member: String,
    pub mode: LockMode,
    pub token: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WaitDoc {
    pub session: String,
    pub member: String,
    pub mode: LockMode,
}

impl LockDoc {
    /// Lock::fits: an exclusive holder needs no holders, a shared one only shared ones.
    fn fits(&self, mode: LockMode) -> bool {
        match mode {
            LockMode::Exclusive => self.holders.is_empty(),
            LockMode::Shared => self.holders.iter().all(|h| h.mode == LockMode::Shared),
        }
    }

    fn hold(&self, session: &str) -> Option<&HoldDoc> {
        self.holders.iter().find(|h| h.session == session)
    }

    fn wait(&self, session: &str) -> Option<&WaitDoc> {
        self.waiters.iter().find(|w| w.session == session)
    }

    /// Lock::info, in the driver world's types.
    fn info(&self, lock: &str) -> crate::roster::coordination::types::LockInfo {
        use crate::roster::coordination::types as w;
        w::LockInfo {
            lock: lock.into(),
            holders: self
                .holders
                .iter()
                .map(|h| w::LockHolder {
                    member_id: h.member.clone(),
                    mode: h.mode.into(),
                    token: h.token,
                })
                .collect(),
            waiters: self
                .waiters
                .iter()
                .map(|waiter| w::LockWaiter {
                    member_id: waiter.member.clone(),
                    mode: waiter.mode.into(),
                })
                .collect(),
        }
    }
}

/// Why a session is ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Why {
    /// Its deadline passed (`State::expire_due`).
    Expired,
    /// Its coordinator closed it (`State::close_session`).
    Closed,
}

impl Why {
    /// What its members and leaderships are told: `expired` both, or `left` and
    /// `resigned` (`State::drop_session_state`).
    fn reasons(self) -> (LeaveReason, LeadershipEnd) {
        match self {
            Why::Expired => (LeaveReason::Expired, LeadershipEnd::Expired),
            Why::Closed => (LeaveReason::Left, LeadershipEnd::Resigned),
        }
    }

    /// What its locks' releases are told.
    fn released(self) -> LockReleaseReason {
        match self {
            Why::Expired => LockReleaseReason::Expired,
            Why::Closed => LockReleaseReason::SessionClosed,
        }
    }
}

/// An expiry or a close under way: what is left to undo, candidacies first.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ending {
    pub why: Why,
    #[serde(default)]
    pub candidacies: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Locks it holds or waits for, released last.
    #[serde(default)]
    pub locks: Vec<String>,
}

/// `{ns}/sessions/{s}`: one session.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SessionDoc {
    pub member: String,
    pub ttl_ms: u64,
    /// When it expires unless it heartbeats (Unix ms); 0 once it has expired.
    pub deadline_ms: u64,
    /// Groups lost by expiry and not reported yet, with their creation revision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<(String, u64)>,
    /// Groups the last expiry took, for the expiry notice (cleared when it is given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_groups: Vec<String>,
    /// Candidacies the last expiry took, for the same notice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_candidacies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<Ending>,
}

/// `{ns}/events/{revision}`: one change-log entry. A lock's entry names its lock (and the
/// hold's mode; its token is in `term`) instead of a group (`group` is empty).
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct EventDoc {
    pub revision: u64,
    pub kind: EventKind,
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lock: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<LockMode>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub member: String,
    #[serde(with = "b64", skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<u8>,
    #[serde(skip_serializing_if = "is_zero")]
    pub term: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// An entry is read as it is written, except for its reason: the leave reasons and the
/// leadership ends share some names (`expired`, ...), so the entry's kind says which one its
/// reason names.
impl<'de> Deserialize<'de> for EventDoc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Stored {
            revision: u64,
            kind: EventKind,
            group: String,
            #[serde(default)]
            lock: String,
            #[serde(default)]
            mode: Option<LockMode>,
            #[serde(default)]
            member: String,
            #[serde(default, with = "b64")]
            capabilities: Vec<u8>,
            #[serde(default)]
            term: u64,
            #[serde(default)]
            reason: Option<String>,
        }
        let stored = Stored::deserialize(deserializer)?;
        let reason = stored
            .reason
            .as_deref()
            .and_then(|name| Reason::of(stored.kind, name));
        if stored.reason.is_some() && reason.is_none() {
            return Err(serde::de::Error::custom(format!(
                "a {:?} entry with the reason {:?}",
                stored.kind, stored.reason
            )));
        }
        Ok(Self {
            revision: stored.revision,
            kind: stored.kind,
            group: stored.group,
            lock: stored.lock,
            mode: stored.mode,
            member: stored.member,
            capabilities: stored.capabilities,
            term: stored.term,
            reason,
        })
    }
}

impl EventDoc {
    fn new(kind: EventKind, group: &str) -> Self {
        Self {
            revision: 0,
            kind,
            group: group.into(),
            lock: String::new(),
            mode: None,
            member: String::new(),
            capabilities: Vec::new(),
            term: 0,
            reason: None,
        }
    }

    fn member(self, member: &str) -> Self {
        Self {
            member: member.into(),
            ..self
        }
    }

    fn reason(self, reason: Reason) -> Self {
        Self {
            reason: Some(reason),
            ..self
        }
    }

    /// The event this entry records.
    pub fn event(self) -> std::result::Result<MembershipEvent, String> {
        Entry {
            revision: self.revision,
            kind: self.kind,
            group: self.group,
            lock: self.lock,
            member: self.member,
            capabilities: self.capabilities,
            term: self.term,
            mode: self.mode,
            reason: self.reason,
        }
        .event()
    }
}

/// An operation at work: the transaction, the instant it runs at (one per attempt, as the
/// embedded backend takes one per call), and its limits.
pub struct Model<'a> {
    pub tx: Tx<'a>,
    pub now_ms: u64,
    pub max_capabilities: u64,
}

/// A session as an operation sees it, with whether it was in the store.
pub struct Session {
    pub doc: SessionDoc,
    existed: bool,
}

fn decode<T: for<'de> Deserialize<'de>>(address: &str, key: &str, bytes: &[u8]) -> Io<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        Fail::Connection(format!(
            "etcd at {address}: {key} holds something this driver did not write ({e})"
        ))
    })
}

/// `bytes` read as each document the driver stores; a change-log entry that reads also
/// becomes its event or a clear refusal, and reads back the same once written again.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_document(bytes: &[u8]) {
    let _ = decode::<GroupDoc>("fuzz", "group", bytes);
    let _ = decode::<LeaderDoc>("fuzz", "leader", bytes);
    let _ = decode::<MemberDoc>("fuzz", "member", bytes);
    let _ = decode::<LockDoc>("fuzz", "lock", bytes);
    let _ = decode::<SessionDoc>("fuzz", "session", bytes);
    if let Ok(entry) = decode::<EventDoc>("fuzz", "event", bytes) {
        let again: EventDoc = serde_json::from_slice(&encode(&entry))
            .expect("an entry this driver writes reads back");
        assert_eq!(again, entry, "an entry reads back as it was written");
        let _ = entry.event();
    }
}

fn encode<T: Serialize>(doc: &T) -> Vec<u8> {
    serde_json::to_vec(doc).expect("documents encode")
}

fn unknown_session(address: &str, session: &str) -> E {
    E::Connection(format!(
        "etcd at {address}: {session:?} is not a session this driver opened"
    ))
}

fn member_ref(group: &str, member: &str) -> MemberRef {
    MemberRef {
        group_id: group.into(),
        member_id: member.into(),
    }
}

impl<'a> Model<'a> {
    pub fn new(tx: Tx<'a>, now_ms: u64, max_capabilities: u64) -> Self {
        Self {
            tx,
            now_ms,
            max_capabilities,
        }
    }

    fn address(&self) -> String {
        self.tx.address().to_owned()
    }

    // ----- documents -----

    pub fn group(&mut self, group: &str) -> Io<Option<GroupDoc>> {
        let key = self.tx.keys.group(group);
        match self.tx.get(&key, false)? {
            Some(bytes) => decode(&self.address(), &key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn put_group(&mut self, group: &str, doc: &GroupDoc) {
        let key = self.tx.keys.group(group);
        self.tx.put(key, encode(doc), Lease::None, true);
    }

    fn member(&mut self, group: &str, member: &str) -> Io<Option<MemberDoc>> {
        let key = self.tx.keys.member(group, member);
        match self.tx.get(&key, false)? {
            Some(bytes) => decode(&self.address(), &key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn put_member(&mut self, group: &str, member: &str, doc: &MemberDoc) {
        let key = self.tx.keys.member(group, member);
        self.tx.put(key, encode(doc), Lease::None, true);
    }

    fn lock_doc(&mut self, lock: &str) -> Io<LockDoc> {
        let key = self.tx.keys.lock(lock);
        match self.tx.get(&key, false)? {
            Some(bytes) => decode(&self.address(), &key, &bytes),
            None => Ok(LockDoc::default()),
        }
    }

    /// Store a lock, or forget it once nobody holds or waits for it.
    fn put_lock(&mut self, lock: &str, doc: &LockDoc) {
        let key = self.tx.keys.lock(lock);
        if doc.holders.is_empty() && doc.waiters.is_empty() {
            self.tx.delete(key, true);
        } else {
            self.tx.put(key, encode(doc), Lease::None, true);
        }
    }

    /// The session stored at `session`, if any.
    fn stored_session(&mut self, session: &str) -> Io<Option<Session>> {
        let key = self.tx.keys.session(session);
        match self.tx.get(&key, true)? {
            Some(bytes) => Ok(Some(Session {
                doc: decode(&self.address(), &key, &bytes)?,
                existed: self.tx.existed(&key),
            })),
            None => Ok(None),
        }
    }

    /// The session; one the store has forgotten (expired long ago) comes back expired, with
    /// nothing to report (`State::recall_session`). `None` for a key this driver did not make.
    fn session(&mut self, session: &str) -> Io<Option<Session>> {
        if let Some(found) = self.stored_session(session)? {
            return Ok(Some(found));
        }
        Ok(parse_session(session).map(|(member, ttl_ms)| Session {
            doc: SessionDoc {
                member,
                ttl_ms,
                ..SessionDoc::default()
            },
            existed: false,
        }))
    }

    /// Store a session: a live one (or one being ended) for good; an expired one with the
    /// grace lease it was given when it expired (by this transaction, or before it), after
    /// which etcd forgets it (`State::forget_expired`).
    fn put_session(&mut self, session: &str, s: &Session) {
        let key = self.tx.keys.session(session);
        let grace = Lease::Grace(s.doc.ttl_ms.max(GRACE_MS));
        let lease = if s.doc.deadline_ms > 0 || s.doc.ending.is_some() {
            Lease::None
        } else if let Some(pending @ Lease::Grace(_)) = self.tx.pending_lease(&key) {
            pending
        } else if s.existed {
            Lease::Keep
        } else {
            grace
        };
        self.tx.put(key, encode(&s.doc), lease, false);
    }

    // ----- rules -----

    /// State::commit: the next revision, the group's last change, one log entry.
    fn commit(&mut self, mut event: EventDoc) -> Io<u64> {
        let revision = self.tx.next_revision();
        event.revision = revision;
        if let Some(mut g) = self.group(&event.group)? {
            g.last = revision;
            self.put_group(&event.group, &g);
        }
        self.tx.push_event(encode(&event));
        Ok(revision)
    }

    /// State::commit for a lock's change: the next revision and one log entry (a lock
    /// belongs to no group).
    fn commit_lock(&mut self, mut event: EventDoc) -> u64 {
        let revision = self.tx.next_revision();
        event.revision = revision;
        self.tx.push_event(encode(&event));
        revision
    }

    /// State::grant: the session holds `lock` (`lock-acquired`); returns the token.
    fn grant(
        &mut self,
        doc: &mut LockDoc,
        lock: &str,
        session: &str,
        member: &str,
        mode: LockMode,
    ) -> u64 {
        let token = self.tx.next_revision();
        doc.holders.push(HoldDoc {
            session: session.into(),
            member: member.into(),
            mode,
            token,
        });
        let key = self.tx.keys.session_lock(session, lock);
        self.tx.put(key, Vec::new(), Lease::None, true);
        self.commit_lock(EventDoc {
            lock: lock.into(),
            mode: Some(mode),
            term: token,
            ..EventDoc::new(EventKind::LockAcquired, "").member(member)
        })
    }

    /// State::let_go: the session's wait on `lock` ends, and its hold (`lock-released`
    /// for `why`; returns the hold's token). The waiters behind are not served here.
    fn let_go(
        &mut self,
        doc: &mut LockDoc,
        lock: &str,
        session: &str,
        why: LockReleaseReason,
    ) -> Option<u64> {
        doc.waiters.retain(|w| w.session != session);
        let index = doc.holders.iter().position(|h| h.session == session)?;
        let hold = doc.holders.remove(index);
        self.commit_lock(EventDoc {
            lock: lock.into(),
            mode: Some(hold.mode),
            term: hold.token,
            ..EventDoc::new(EventKind::LockReleased, "")
                .member(&hold.member)
                .reason(Reason::Released(why))
        });
        Some(hold.token)
    }

    /// State::serve_waiters: grant `lock` to the waiters at the front that fit, in order.
    fn serve_waiters(&mut self, doc: &mut LockDoc, lock: &str) {
        while doc.waiters.first().is_some_and(|w| doc.fits(w.mode)) {
            let next = doc.waiters.remove(0);
            self.grant(doc, lock, &next.session, &next.member, next.mode);
        }
    }

    /// The session no longer holds or waits for `lock`: its index entry goes.
    fn unindex_lock(&mut self, session: &str, lock: &str) {
        let key = self.tx.keys.session_lock(session, lock);
        self.tx.delete(key, true);
    }

    /// State::renew: a new deadline, in the session and in the deadline index.
    fn renew(&mut self, session: &str, s: &mut Session) {
        if s.doc.deadline_ms > 0 {
            let old = self.tx.keys.deadline(s.doc.deadline_ms, session);
            self.tx.delete(old, false);
        }
        s.doc.deadline_ms = self.now_ms + s.doc.ttl_ms;
        let key = self.tx.keys.deadline(s.doc.deadline_ms, session);
        self.tx
            .put(key, session.as_bytes().to_vec(), Lease::None, false);
    }

    /// State::create_group, once the group is known not to exist.
    fn create(&mut self, group: &str) -> Io<u64> {
        let created = self.tx.next_revision();
        self.put_group(
            group,
            &GroupDoc {
                created,
                last: created,
                ..GroupDoc::default()
            },
        );
        self.commit(EventDoc::new(EventKind::GroupCreated, group))
    }

    /// State::elect_if_vacant
    fn elect_if_vacant(&mut self, group: &str) -> Io<()> {
        let Some(mut g) = self.group(group)? else {
            return Ok(());
        };
        if g.leader.is_some() || g.candidates.is_empty() {
            return Ok(());
        }
        let next = g.candidates.remove(0);
        let term = self.tx.next_revision();
        let member = next.member.clone();
        g.leader = Some(LeaderDoc {
            session: next.session,
            member: next.member,
            term,
        });
        self.put_group(group, &g);
        self.commit(EventDoc {
            term,
            ..EventDoc::new(EventKind::LeaderElected, group).member(&member)
        })?;
        Ok(())
    }

    /// State::withdraw_candidate
    fn withdraw_candidate(&mut self, session: &str, group: &str, end: LeadershipEnd) -> Io<()> {
        let Some(mut g) = self.group(group)? else {
            return Ok(());
        };
        let before = g.candidates.len();
        g.candidates.retain(|c| c.session != session);
        let lost = g.leader.take_if(|l| l.session == session);
        if lost.is_none() && g.candidates.len() == before {
            return Ok(());
        }
        self.put_group(group, &g);
        if let Some(lost) = lost {
            self.commit(EventDoc {
                term: lost.term,
                ..EventDoc::new(EventKind::LeaderLost, group)
                    .member(&lost.member)
                    .reason(Reason::Ended(end))
            })?;
            if end != LeadershipEnd::GroupDeleted {
                self.elect_if_vacant(group)?;
            }
        }
        Ok(())
    }

    /// State::remove_member
    fn remove_member(&mut self, member: &str, group: &str, reason: LeaveReason) -> Io<()> {
        let Some(mut g) = self.group(group)? else {
            return Ok(());
        };
        if self.member(group, member)?.is_none() {
            return Ok(());
        }
        let key = self.tx.keys.member(group, member);
        self.tx.delete(key, true);
        g.members = g.members.saturating_sub(1);
        self.put_group(group, &g);
        self.commit(
            EventDoc::new(EventKind::MemberLeft, group)
                .member(member)
                .reason(Reason::Left(reason)),
        )?;
        Ok(())
    }

    fn over_budget(&self) -> bool {
        self.tx.cost() >= BUDGET || self.tx.compares() >= BUDGET
    }

    /// Begin ending a session (State::drop_session_state): its candidacies, memberships and
    /// locks become the work of an [`Ending`], tracked by the deadline key at 0, which every
    /// operation finds due and carries on with first.
    fn begin_ending(&mut self, session: &str, s: &mut Session, why: Why) -> Io<()> {
        let groups = self.index(&self.tx.keys.memberships(session))?;
        let candidacies = self.index(&self.tx.keys.candidacies(session))?;
        let locks = self.index(&self.tx.keys.session_locks(session))?;
        if s.doc.deadline_ms > 0 {
            let old = self.tx.keys.deadline(s.doc.deadline_ms, session);
            self.tx.delete(old, false);
            s.doc.deadline_ms = 0;
        }
        s.doc.ending = Some(Ending {
            why,
            candidacies,
            groups,
            locks,
        });
        let key = self.tx.keys.deadline(0, session);
        self.tx
            .put(key, session.as_bytes().to_vec(), Lease::None, false);
        Ok(())
    }

    /// The groups in one of a session's indexes (`prefix`: its memberships or its
    /// candidacies), in the order they were written: by the etcd revision that wrote them,
    /// those this transaction writes last.
    fn index(&mut self, prefix: &str) -> Io<Vec<String>> {
        let kvs = self
            .tx
            .range(crate::etcd::RangeRequest::prefix(prefix).keys_only())?;
        let mut written: Vec<(i64, String)> = kvs
            .into_iter()
            .filter_map(|kv| {
                let group = self.tx.keys.indexed_group(prefix, &kv.key)?;
                let order = if kv.mod_revision == 0 {
                    i64::MAX
                } else {
                    kv.mod_revision
                };
                Some((order, group))
            })
            .collect();
        written.sort();
        Ok(written.into_iter().map(|(_, group)| group).collect())
    }

    /// Carry an ending on as far as this commit has room for; returns whether it is done
    /// (then the session is stored expired, or deleted when closed). Candidacies end first,
    /// then memberships, then locks; an expiry remembers each lost group, by its creation
    /// revision.
    fn advance_ending(&mut self, session: &str, s: &mut Session) -> Io<bool> {
        let Some(mut ending) = s.doc.ending.take() else {
            return Ok(true);
        };
        let expired = ending.why == Why::Expired;
        let (leave, end) = ending.why.reasons();
        let mut done = true;
        while !ending.candidacies.is_empty() {
            if self.over_budget() {
                done = false;
                break;
            }
            let group = ending.candidacies.remove(0);
            let key = self.tx.keys.candidacy(session, &group);
            self.tx.delete(key, true);
            self.withdraw_candidate(session, &group, end)?;
            if expired {
                s.doc.expired_candidacies.push(group);
            }
        }
        while done && !ending.groups.is_empty() {
            if self.over_budget() {
                done = false;
                break;
            }
            let group = ending.groups.remove(0);
            let key = self.tx.keys.membership(session, &group);
            self.tx.delete(key, true);
            self.remove_member(&s.doc.member, &group, leave)?;
            if expired && let Some(g) = self.group(&group)? {
                s.doc.lost.push((group.clone(), g.created));
            }
            if expired {
                s.doc.expired_groups.push(group);
            }
        }
        while done && !ending.locks.is_empty() {
            if self.over_budget() {
                done = false;
                break;
            }
            let lock = ending.locks.remove(0);
            self.unindex_lock(session, &lock);
            let mut doc = self.lock_doc(&lock)?;
            self.let_go(&mut doc, &lock, session, ending.why.released());
            self.serve_waiters(&mut doc, &lock);
            self.put_lock(&lock, &doc);
        }
        if !done {
            s.doc.ending = Some(ending);
            self.put_session(session, s);
            return Ok(false);
        }
        let key = self.tx.keys.deadline(0, session);
        self.tx.delete(key, false);
        if expired {
            let key = self.tx.keys.session(session);
            let keep = Lease::Grace(s.doc.ttl_ms.max(GRACE_MS));
            self.tx.put(key, encode(&s.doc), keep, false);
        } else {
            let key = self.tx.keys.session(session);
            self.tx.delete(key, false);
        }
        Ok(true)
    }

    /// State::expire_due, for the deadline keys found due (`(key, session)`, in deadline
    /// order): each session expires, or goes on ending. Returns whether all are done; if
    /// not, the caller commits and starts over.
    pub fn sweep(&mut self, due: Vec<(String, String)>) -> Io<bool> {
        for (key, session) in due {
            if self.over_budget() {
                return Ok(false);
            }
            let Some(mut s) = self.stored_session(&session)? else {
                self.tx.delete(key, false);
                continue;
            };
            if s.doc.ending.is_none() {
                if key != self.tx.keys.deadline(s.doc.deadline_ms, &session) {
                    // Not the session's deadline (left by a writer that failed half-way?).
                    self.tx.delete(key, false);
                    continue;
                }
                self.begin_ending(&session, &mut s, Why::Expired)?;
            }
            if !self.advance_ending(&session, &mut s)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    // ----- operations -----

    /// The store's id, head and groups. A namespace with no id yet gets one, with the key
    /// layout this driver writes; one written with another layout is refused.
    pub fn describe(&mut self, fresh_id: &str) -> Io<Result<(String, u64, Vec<String>)>> {
        let key = self.tx.keys.id();
        let layout_key = self.tx.keys.layout();
        let layout = self.tx.get(&layout_key, true)?;
        let id = match self.tx.get(&key, true)? {
            Some(id) => {
                let found = match &layout {
                    Some(layout) => String::from_utf8_lossy(layout).into_owned(),
                    None => "1".to_owned(),
                };
                if found != LAYOUT.to_string() {
                    return Ok(Err(E::Connection(format!(
                        "etcd at {}: namespace {:?} holds Roster's key layout {found}; this driver reads layout {LAYOUT} only: give it a namespace of its own (?namespace=NAME), or delete the old one's keys",
                        self.address(),
                        self.tx.keys.namespace(),
                    ))));
                }
                String::from_utf8_lossy(&id).into_owned()
            }
            None => {
                self.tx
                    .put(key, fresh_id.as_bytes().to_vec(), Lease::None, false);
                self.tx.put(
                    layout_key,
                    LAYOUT.to_string().into_bytes(),
                    Lease::None,
                    false,
                );
                fresh_id.to_owned()
            }
        };
        let groups = self.groups()?;
        Ok(Ok((id, self.tx.head_now(), groups)))
    }

    /// State::open_session
    pub fn open_session(&mut self, session: &str) -> Io<Result<String>> {
        let Some((member, ttl_ms)) = parse_session(session) else {
            return Ok(Err(unknown_session(&self.address(), session)));
        };
        // Read (and so compared): a session of this key written meanwhile fails the commit.
        let existed = self.stored_session(session)?.is_some();
        let mut s = Session {
            doc: SessionDoc {
                member,
                ttl_ms,
                ..SessionDoc::default()
            },
            existed,
        };
        self.renew(session, &mut s);
        self.put_session(session, &s);
        Ok(Ok(session.to_owned()))
    }

    /// State::close_session: leave every group (left), withdraw every candidacy (resigned),
    /// forget the session. `None` when there was more than one commit's worth: the caller
    /// commits and calls again, and the next sweep goes on with it.
    pub fn close_session(&mut self, session: &str) -> Io<Result<Option<u64>>> {
        let Some(mut s) = self.stored_session(session)? else {
            return Ok(Ok(Some(self.tx.head_now())));
        };
        if s.doc.ending.is_none() {
            self.begin_ending(session, &mut s, Why::Closed)?;
        } else if let Some(ending) = &mut s.doc.ending {
            ending.why = Why::Closed;
        }
        if self.advance_ending(session, &mut s)? {
            Ok(Ok(Some(self.tx.head_now())))
        } else {
            Ok(Ok(None))
        }
    }

    /// State::heartbeat: renew; an expired session is renewed too, and says once what it
    /// lost.
    pub fn heartbeat(&mut self, session: &str) -> Io<Result<u64>> {
        let Some(mut s) = self.session(session)? else {
            return Ok(Err(unknown_session(&self.address(), session)));
        };
        if let Some(notice) = self.reopen_if_expired(session, &mut s) {
            return Ok(Err(notice));
        }
        self.renew(session, &mut s);
        self.put_session(session, &s);
        Ok(Ok(s.doc.ttl_ms))
    }

    /// State::reopen_if_expired, the rule of every call that needs a live session
    /// (heartbeat, join, stand): an expired session is renewed (and stored) and the call
    /// fails with the expiry notice (every group and candidacy the expiry took, each sorted,
    /// given once). `None` when the session is live.
    fn reopen_if_expired(&mut self, session: &str, s: &mut Session) -> Option<E> {
        if s.doc.deadline_ms != 0 {
            return None;
        }
        let mut lost_groups = std::mem::take(&mut s.doc.expired_groups);
        let mut lost_candidacies = std::mem::take(&mut s.doc.expired_candidacies);
        lost_groups.sort();
        lost_candidacies.sort();
        self.renew(session, s);
        self.put_session(session, s);
        Some(E::SessionExpired(SessionExpired {
            member_id: s.doc.member.clone(),
            lost_groups,
            lost_candidacies,
        }))
    }

    /// State::create_group
    pub fn create_group(&mut self, group: &str) -> Io<Result<u64>> {
        if self.group(group)?.is_some() {
            return Ok(Err(E::GroupAlreadyExist(group.into())));
        }
        self.create(group).map(Ok)
    }

    /// State::delete_group: only an empty group; its leadership ends (group-deleted) and its
    /// candidates are no longer candidates. (Their sessions' candidacy index keys for the
    /// group stay until they withdraw or end: withdrawing from a group that is not standing them
    /// does nothing, so nothing needs to know.)
    pub fn delete_group(&mut self, group: &str) -> Io<Result<u64>> {
        let Some(g) = self.group(group)? else {
            return Ok(Err(E::GroupNotCreated(group.into())));
        };
        if g.members > 0 {
            return Ok(Err(E::GroupNotEmpty(group.into())));
        }
        if let Some(leader) = &g.leader {
            let session = leader.session.clone();
            self.withdraw_candidate(&session, group, LeadershipEnd::GroupDeleted)?;
        }
        let key = self.tx.keys.group(group);
        self.tx.delete(key, true);
        self.commit(EventDoc::new(EventKind::GroupDeleted, group))
            .map(Ok)
    }

    /// State::groups: every group id, sorted.
    pub fn groups(&mut self) -> Io<Vec<String>> {
        let prefix = self.tx.keys.groups();
        let kvs = self
            .tx
            .range(crate::etcd::RangeRequest::prefix(&prefix).keys_only())?;
        let mut ids: Vec<String> = kvs
            .iter()
            .filter_map(|kv| self.tx.keys.group_id(&kv.key))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// State::group_summaries, with the head they were read at.
    pub fn group_summaries(&mut self) -> Io<Result<(u64, Vec<GroupSummary>)>> {
        let prefix = self.tx.keys.groups();
        let kvs = self.tx.range(crate::etcd::RangeRequest::prefix(&prefix))?;
        let address = self.address();
        let mut summaries = Vec::with_capacity(kvs.len());
        for kv in kvs {
            let Some(group_id) = self.tx.keys.group_id(&kv.key) else {
                continue;
            };
            let g: GroupDoc = decode(&address, &kv.key, &kv.value)?;
            summaries.push(GroupSummary {
                group_id,
                members: g.members,
                leader: g.leader.map(|l| Leader {
                    member_id: l.member,
                    term: l.term,
                }),
                last_change: g.last,
            });
        }
        summaries.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(Ok((self.tx.head_now(), summaries)))
    }

    /// The capability limit, as `State::join` and `State::update_capabilities` check it
    /// (`Capabilities::check_size`).
    fn too_large(&self, capabilities: &[u8]) -> Option<E> {
        let size = capabilities.len() as u64;
        (size > self.max_capabilities).then_some(E::CapabilitiesTooLarge(CapabilitiesTooLarge {
            size,
            limit: self.max_capabilities,
        }))
    }

    /// State::not_a_member: member-expired once per lost group, member-not-joined otherwise.
    fn not_a_member(&mut self, session: &str, s: &mut Session, group: &str, created: u64) -> E {
        let before = s.doc.lost.len();
        s.doc.lost.retain(|(g, c)| !(g == group && *c == created));
        if s.doc.lost.len() != before {
            self.put_session(session, s);
            return E::MemberExpired(member_ref(group, &s.doc.member));
        }
        E::MemberNotJoined(member_ref(group, &s.doc.member))
    }

    /// State::join, creating the group first when asked: nothing changes when a check fails;
    /// the same member id from any session is already there.
    pub fn join(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
        create: bool,
    ) -> Io<Result<u64>> {
        if let Some(error) = self.too_large(capabilities) {
            return Ok(Err(error));
        }
        let Some(mut s) = self.session(session)? else {
            return Ok(Err(unknown_session(&self.address(), session)));
        };
        if let Some(notice) = self.reopen_if_expired(session, &mut s) {
            return Ok(Err(notice));
        }
        if create && self.group(group)?.is_none() {
            self.create(group)?;
        }
        let Some(mut g) = self.group(group)? else {
            return Ok(Err(E::GroupNotCreated(group.into())));
        };
        let member = s.doc.member.clone();
        if self.member(group, &member)?.is_some() {
            return Ok(Err(E::MemberAlreadyExist(member_ref(group, &member))));
        }
        let revision = self.tx.next_revision();
        self.put_member(
            group,
            &member,
            &MemberDoc {
                session: session.into(),
                capabilities: capabilities.to_vec(),
                joined_ms: self.now_ms,
                updated_ms: self.now_ms,
                revision,
            },
        );
        let key = self.tx.keys.membership(session, group);
        self.tx
            .put(key, revision.to_string().into_bytes(), Lease::None, true);
        // The session record is rewritten only when it changes: it stays small and a join
        // costs the same in any number of groups. (It is compared all the same.)
        let lost = s.doc.lost.len();
        s.doc
            .lost
            .retain(|(lost, created)| !(lost == group && *created == g.created));
        if s.doc.lost.len() != lost {
            self.put_session(session, &s);
        }
        g.members += 1;
        self.put_group(group, &g);
        let event = EventDoc {
            capabilities: capabilities.to_vec(),
            ..EventDoc::new(EventKind::MemberJoined, group).member(&member)
        };
        self.commit(event).map(Ok)
    }

    /// State::leave: removes the session's member id whichever session owns it (a twin with
    /// the same id may boot it, as in tooz).
    pub fn leave(&mut self, session: &str, group: &str) -> Io<Result<u64>> {
        let Some(mut s) = self.session(session)? else {
            return Ok(Err(unknown_session(&self.address(), session)));
        };
        let Some(g) = self.group(group)? else {
            return Ok(Err(E::GroupNotCreated(group.into())));
        };
        let member = s.doc.member.clone();
        let Some(m) = self.member(group, &member)? else {
            return Ok(Err(self.not_a_member(session, &mut s, group, g.created)));
        };
        // The owner's index entry goes, whichever session owns the member id.
        let key = self.tx.keys.membership(&m.session, group);
        self.tx.delete(key, true);
        self.remove_member(&member, group, LeaveReason::Left)?;
        Ok(Ok(self.tx.head_now()))
    }

    /// State::update_capabilities
    pub fn update_capabilities(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
    ) -> Io<Result<u64>> {
        if let Some(error) = self.too_large(capabilities) {
            return Ok(Err(error));
        }
        let Some(mut s) = self.session(session)? else {
            return Ok(Err(unknown_session(&self.address(), session)));
        };
        let Some(g) = self.group(group)? else {
            return Ok(Err(E::GroupNotCreated(group.into())));
        };
        let member = s.doc.member.clone();
        let Some(mut m) = self.member(group, &member)? else {
            return Ok(Err(self.not_a_member(session, &mut s, group, g.created)));
        };
        m.capabilities = capabilities.to_vec();
        m.updated_ms = self.now_ms;
        m.revision = self.tx.next_revision();
        self.put_member(group, &member, &m);
        let event = EventDoc {
            capabilities: capabilities.to_vec(),
            ..EventDoc::new(EventKind::CapabilitiesUpdated, group).member(&member)
        };
        self.commit(event).map(Ok)
    }

    /// State::info_of
    fn info(&self, m: MemberDoc, deadline_ms: u64) -> MemberInfo {
        MemberInfo {
            capabilities: m.capabilities,
            joined_at_ms: m.joined_ms,
            updated_at_ms: m.updated_ms,
            revision: m.revision,
            expires_in_ms: deadline_ms.saturating_sub(self.now_ms),
        }
    }

    /// The deadlines of these sessions (0: expired or gone), read at etcd's current revision.
    fn deadlines(&mut self, sessions: &[String]) -> Io<Vec<u64>> {
        let address = self.address();
        let deadline = |key: &str, bytes: Option<Vec<u8>>| -> Io<u64> {
            match bytes {
                Some(bytes) => Ok(decode::<SessionDoc>(&address, key, &bytes)?.deadline_ms),
                None => Ok(0),
            }
        };
        let keys: Vec<String> = sessions.iter().map(|s| self.tx.keys.session(s)).collect();
        if sessions.len() <= POINT_READS {
            let values = self.tx.read_current(&keys)?;
            return keys
                .iter()
                .zip(values)
                .map(|(key, bytes)| deadline(key, bytes))
                .collect();
        }
        let prefix = self.tx.keys.sessions();
        let all = self.tx.range(crate::etcd::RangeRequest::prefix(&prefix))?;
        let by_key: std::collections::HashMap<&str, &[u8]> = all
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_slice()))
            .collect();
        keys.iter()
            .map(|key| deadline(key, by_key.get(key.as_str()).map(|v| v.to_vec())))
            .collect()
    }

    /// State::members_info
    pub fn members_info(&mut self, group: &str) -> Io<Result<Vec<(String, MemberInfo)>>> {
        if self.group(group)?.is_none() {
            return Ok(Err(E::GroupNotCreated(group.into())));
        }
        let prefix = self.tx.keys.members(group);
        let kvs = self.tx.range(crate::etcd::RangeRequest::prefix(&prefix))?;
        let address = self.address();
        let mut members = Vec::with_capacity(kvs.len());
        for kv in kvs {
            let Some(id) = self.tx.keys.member_id(group, &kv.key) else {
                continue;
            };
            let m: MemberDoc = decode(&address, &kv.key, &kv.value)?;
            members.push((id, m));
        }
        let sessions: Vec<String> = members.iter().map(|(_, m)| m.session.clone()).collect();
        let deadlines = self.deadlines(&sessions)?;
        Ok(Ok(members
            .into_iter()
            .zip(deadlines)
            .map(|((id, m), deadline)| (id, self.info(m, deadline)))
            .collect()))
    }

    /// State::members: the ids of `group`'s members, the keys under its prefix, without
    /// their values or sessions (the sweep that starts every operation has removed every
    /// expired member). `listed` is that range as read with the transaction's first read,
    /// usable unless the sweep changed something.
    pub fn member_ids(
        &mut self,
        group: &str,
        listed: Vec<crate::etcd::KeyValue>,
    ) -> Io<Result<Vec<String>>> {
        if self.group(group)?.is_none() {
            return Ok(Err(E::GroupNotCreated(group.into())));
        }
        let kvs = if self.tx.dirty() {
            let prefix = self.tx.keys.members(group);
            self.tx
                .range(crate::etcd::RangeRequest::prefix(&prefix).keys_only())?
        } else {
            listed
        };
        Ok(Ok(kvs
            .into_iter()
            .filter_map(|kv| self.tx.keys.member_id(group, &kv.key))
            .collect()))
    }

    /// State::member_info
    pub fn member_info(&mut self, group: &str, member: &str) -> Io<Result<MemberInfo>> {
        if self.group(group)?.is_none() {
            return Ok(Err(E::GroupNotCreated(group.into())));
        }
        let Some(m) = self.member(group, member)? else {
            return Ok(Err(E::MemberNotJoined(member_ref(group, member))));
        };
        let deadline = self.deadlines(std::slice::from_ref(&m.session))?[0];
        Ok(Ok(self.info(m, deadline)))
    }

    /// State::leader
    pub fn leader(&mut self, group: &str) -> Io<Result<Option<Leader>>> {
        let Some(g) = self.group(group)? else {
            return Ok(Err(E::GroupNotCreated(group.into())));
        };
        Ok(Ok(g.leader.map(|l| Leader {
            member_id: l.member,
            term: l.term,
        })))
    }

    /// State::stand_for_election: to the back of the candidates (nothing if already one); a
    /// group without a leader elects its first candidate at once.
    pub fn stand(&mut self, session: &str, group: &str) -> Io<Result<u64>> {
        let Some(mut s) = self.session(session)? else {
            return Ok(Err(unknown_session(&self.address(), session)));
        };
        if let Some(notice) = self.reopen_if_expired(session, &mut s) {
            return Ok(Err(notice));
        }
        let Some(mut g) = self.group(group)? else {
            return Ok(Err(E::GroupNotCreated(group.into())));
        };
        let already = g.leader.as_ref().is_some_and(|l| l.session == session)
            || g.candidates.iter().any(|c| c.session == session);
        if already {
            return Ok(Ok(self.tx.head_now()));
        }
        g.candidates.push(Candidate {
            session: session.into(),
            member: s.doc.member.clone(),
        });
        self.put_group(group, &g);
        let key = self.tx.keys.candidacy(session, group);
        self.tx.put(key, Vec::new(), Lease::None, true);
        self.elect_if_vacant(group)?;
        Ok(Ok(self.tx.head_now()))
    }

    /// State::withdraw: a leader resigns and the next candidate is elected; not being a
    /// candidate (or a missing group) is not an error.
    pub fn withdraw(&mut self, session: &str, group: &str) -> Io<Result<u64>> {
        let key = self.tx.keys.candidacy(session, group);
        if self.tx.get(&key, false)?.is_some() {
            self.tx.delete(key, true);
            self.withdraw_candidate(session, group, LeadershipEnd::Resigned)?;
        }
        Ok(Ok(self.tx.head_now()))
    }

    /// State::stand_down: the leader goes to the back of the candidates and the next one is
    /// elected (itself again if alone).
    pub fn stand_down(&mut self, session: &str, group: &str) -> Io<Result<(bool, u64)>> {
        let Some(mut g) = self.group(group)? else {
            return Ok(Err(E::GroupNotCreated(group.into())));
        };
        let Some(lost) = g.leader.take_if(|l| l.session == session) else {
            return Ok(Ok((false, self.tx.head_now())));
        };
        g.candidates.push(Candidate {
            session: session.into(),
            member: lost.member.clone(),
        });
        self.put_group(group, &g);
        self.commit(EventDoc {
            term: lost.term,
            ..EventDoc::new(EventKind::LeaderLost, group)
                .member(&lost.member)
                .reason(Reason::Ended(LeadershipEnd::StoodDown))
        })?;
        self.elect_if_vacant(group)?;
        Ok(Ok((true, self.tx.head_now())))
    }

    // ----- locks -----

    /// State::acquire_lock: granted when it fits beside the holders and nobody waits ahead;
    /// else queued when asked to wait, else busy. Asking again answers with where the
    /// session stands.
    pub fn acquire_lock(
        &mut self,
        session: &str,
        lock: &str,
        mode: LockMode,
        wait: bool,
    ) -> Io<Result<(LockAttempt, u64)>> {
        let Some(mut s) = self.session(session)? else {
            return Ok(Err(unknown_session(&self.address(), session)));
        };
        if let Some(notice) = self.reopen_if_expired(session, &mut s) {
            return Ok(Err(notice));
        }
        let mut doc = self.lock_doc(lock)?;
        let attempt = if let Some(hold) = doc.hold(session) {
            if hold.mode == mode {
                LockAttempt::Acquired { token: hold.token }
            } else {
                LockAttempt::Busy
            }
        } else if doc.wait(session).is_some() {
            LockAttempt::Queued
        } else if doc.waiters.is_empty() && doc.fits(mode) {
            let token = self.grant(&mut doc, lock, session, &s.doc.member, mode);
            self.put_lock(lock, &doc);
            LockAttempt::Acquired { token }
        } else if wait {
            doc.waiters.push(WaitDoc {
                session: session.into(),
                member: s.doc.member.clone(),
                mode,
            });
            let key = self.tx.keys.session_lock(session, lock);
            self.tx.put(key, Vec::new(), Lease::None, true);
            self.put_lock(lock, &doc);
            LockAttempt::Queued
        } else {
            LockAttempt::Busy
        };
        Ok(Ok((attempt, self.tx.head_now())))
    }

    /// State::release_lock: the hold ends (`released`) or the wait; the waiters that now fit
    /// are served. Neither held nor awaited: `lock-not-held`.
    pub fn release_lock(&mut self, session: &str, lock: &str) -> Io<Result<(Option<u64>, u64)>> {
        let mut doc = self.lock_doc(lock)?;
        if doc.hold(session).is_none() && doc.wait(session).is_none() {
            return Ok(Err(E::LockNotHeld(lock.into())));
        }
        let token = self.let_go(&mut doc, lock, session, LockReleaseReason::Released);
        self.unindex_lock(session, lock);
        self.serve_waiters(&mut doc, lock);
        self.put_lock(lock, &doc);
        Ok(Ok((token, self.tx.head_now())))
    }

    /// State::abandon_lock_wait: a session granted the lock keeps it; one still queued
    /// leaves the queue.
    pub fn abandon_lock_wait(
        &mut self,
        session: &str,
        lock: &str,
    ) -> Io<Result<(Option<u64>, u64)>> {
        let mut doc = self.lock_doc(lock)?;
        if let Some(hold) = doc.hold(session) {
            return Ok(Ok((Some(hold.token), self.tx.head_now())));
        }
        if doc.wait(session).is_some() {
            self.let_go(&mut doc, lock, session, LockReleaseReason::Released);
            self.unindex_lock(session, lock);
            self.serve_waiters(&mut doc, lock);
            self.put_lock(lock, &doc);
        }
        Ok(Ok((None, self.tx.head_now())))
    }

    /// State::break_lock: every hold ends (`broken`); the waiters are served.
    pub fn break_lock(&mut self, lock: &str) -> Io<Result<(Vec<u64>, u64)>> {
        let mut doc = self.lock_doc(lock)?;
        let holders: Vec<String> = doc.holders.iter().map(|h| h.session.clone()).collect();
        let mut tokens = Vec::new();
        for session in holders {
            tokens.extend(self.let_go(&mut doc, lock, &session, LockReleaseReason::Broken));
            self.unindex_lock(&session, lock);
        }
        self.serve_waiters(&mut doc, lock);
        self.put_lock(lock, &doc);
        Ok(Ok((tokens, self.tx.head_now())))
    }

    /// State::lock_standing
    pub fn lock_standing(&mut self, session: &str, lock: &str) -> Io<Result<LockStanding>> {
        let doc = self.lock_doc(lock)?;
        Ok(Ok(match (doc.hold(session), doc.wait(session)) {
            (Some(hold), _) => LockStanding::Holding {
                mode: hold.mode,
                token: hold.token,
            },
            (None, Some(wait)) => LockStanding::Waiting { mode: wait.mode },
            (None, None) => LockStanding::Neither,
        }))
    }

    /// State::lock_info
    pub fn lock_info(
        &mut self,
        lock: &str,
    ) -> Io<Result<crate::roster::coordination::types::LockInfo>> {
        let doc = self.lock_doc(lock)?;
        Ok(Ok(doc.info(lock)))
    }

    /// State::locks, sorted by name.
    pub fn locks(&mut self) -> Io<Result<Vec<crate::roster::coordination::types::LockInfo>>> {
        let prefix = self.tx.keys.locks();
        let kvs = self.tx.range(crate::etcd::RangeRequest::prefix(&prefix))?;
        let mut locks = Vec::new();
        for kv in kvs {
            let Some(name) = self.tx.keys.lock_name(&kv.key) else {
                continue;
            };
            let doc: LockDoc = decode(&self.address(), &kv.key, &kv.value)?;
            locks.push(doc.info(&name));
        }
        locks.sort_by(|a, b| a.lock.cmp(&b.lock));
        Ok(Ok(locks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_entry_keeps_its_stored_form_and_its_kind_says_what_its_reason_names() {
        let left = EventDoc {
            revision: 5,
            ..EventDoc::new(EventKind::MemberLeft, "g")
                .member("m")
                .reason(Reason::Left(LeaveReason::Expired))
        };
        let json = serde_json::to_string(&left).unwrap();
        assert_eq!(
            json,
            r#"{"revision":5,"kind":"member-left","group":"g","member":"m","reason":"expired"}"#
        );
        assert_eq!(serde_json::from_str::<EventDoc>(&json).unwrap(), left);
        let lost: EventDoc = serde_json::from_str(
            r#"{"revision":6,"kind":"leader-lost","group":"g","member":"m","term":3,"reason":"expired"}"#,
        )
        .unwrap();
        assert_eq!(lost.reason, Some(Reason::Ended(LeadershipEnd::Expired)));
        let released = EventDoc {
            revision: 9,
            lock: "l".into(),
            mode: Some(LockMode::Shared),
            term: 4,
            ..EventDoc::new(EventKind::LockReleased, "")
                .member("m")
                .reason(Reason::Released(LockReleaseReason::Expired))
        };
        let json = serde_json::to_string(&released).unwrap();
        assert_eq!(
            json,
            r#"{"revision":9,"kind":"lock-released","group":"","lock":"l","mode":"shared","member":"m","term":4,"reason":"expired"}"#
        );
        assert_eq!(serde_json::from_str::<EventDoc>(&json).unwrap(), released);
        for unreadable in [
            r#"{"revision":7,"kind":"member-left","group":"g","member":"m","reason":"stood-down"}"#,
            r#"{"revision":8,"kind":"member-moved","group":"g"}"#,
        ] {
            assert!(
                serde_json::from_str::<EventDoc>(unreadable).is_err(),
                "{unreadable}"
            );
        }
    }

    #[test]
    fn an_ending_is_stored_by_its_cause() {
        let ending = Ending {
            why: Why::Closed,
            candidacies: vec![],
            groups: vec!["g".to_owned()],
            locks: vec!["l".to_owned()],
        };
        assert_eq!(
            serde_json::to_string(&ending).unwrap(),
            r#"{"why":"closed","candidacies":[],"groups":["g"],"locks":["l"]}"#
        );
        let before_locks: Ending =
            serde_json::from_str(r#"{"why":"expired","candidacies":[],"groups":[]}"#).unwrap();
        assert!(
            before_locks.locks.is_empty(),
            "an ending written before locks reads"
        );
        assert_eq!(
            Why::Expired.reasons(),
            (LeaveReason::Expired, LeadershipEnd::Expired)
        );
    }
}
