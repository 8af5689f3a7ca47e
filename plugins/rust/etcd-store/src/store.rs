//! The driver's operations: options, the transaction loop every operation runs in (with
//! the instance's view of the store it starts from), and the change feed, which follows the
//! log on an etcd watch.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use driver_kit::Driver;

use crate::Result;
use crate::etcd::{Etcd, KeyValue, RangeRequest, RangeResponse, Watch};
use crate::exports::roster::coordination::backend::{
    ChangeBatch, Feed, GroupSummary, LockAttempt, LockStanding, ResyncNeeded, SessionKey, StoreInfo,
};
use crate::keys::Keys;
use crate::model::{EventDoc, GRACE_MS, Model};
use crate::roster::coordination::types::{
    CoordinationError, Leader, LockInfo, LockMode, MemberInfo,
};
use crate::tx::{Entry, Fail, Fresh, Io, Outcome, Snapshot, Tx, View, fail};

/// Most events one `changes` call reads: with 64 KiB of capabilities each, about 7 MiB of
/// answer (base64 twice), well within the instance's memory.
const MAX_FETCH: u32 = 64;
/// Attempts an operation makes before it gives up on a store too busy to let it commit.
const MAX_ATTEMPTS: u32 = 1_000;
/// How long the shared grace lease is given to new expiries after it was granted; it lives
/// this much longer than [`GRACE_MS`], so each keeps its session at least that long.
const GRACE_LEASE_REUSE: Duration = Duration::from_secs(600);

/// What one read of the change feed found.
enum Read {
    Resync(ResyncNeeded),
    Events {
        batch: ChangeBatch,
        /// The etcd revision it was read at: the watch starts after it.
        revision: i64,
        /// The earliest session deadline (Unix ms), if any.
        next_deadline: Option<u64>,
    },
}

/// One store: a namespace of one etcd cluster.
#[derive(Debug)]
pub struct Store {
    etcd: Etcd,
    keys: Keys,
    history: u64,
    max_capabilities: u64,
    /// The lease expired sessions are put with, and when it was granted.
    grace: Option<(i64, Instant)>,
    /// The watch `changes` waits on, once it has waited.
    watch: Option<Watch>,
    /// What the last transaction left (none before the first, or after a failure).
    view: Option<View>,
    /// What the view's entries hold, in bytes of keys and values.
    view_bytes: usize,
    /// Commits left that carry their read-back (see [`CONTENDED_COMMITS`]).
    contended: u32,
    /// Where `changes` follows the log from, while its watch has seen every change since
    /// its last read.
    following: Option<Following>,
}

/// `changes` following the log on its watch.
#[derive(Debug)]
struct Following {
    /// The revision of the next log entry.
    next: u64,
    /// The etcd revision of the last read: the watch's puts after it are new.
    revision: i64,
    /// The earliest session deadline (Unix ms), as read then, or earlier since.
    next_deadline: Option<u64>,
    /// The id of the store read then: a watch follows one etcd's history.
    store_id: String,
}

// Deadlines are kept in Unix milliseconds (`now_ms`): hosts sharing a namespace must agree
// on the time (NTP), or expiry comes early or late by the difference.
use driver_kit::{new_session_key, now_ms, parse_session, random, random_hex};

/// A lease id for a key to be kept `keep_ms`: the shared grace lease (granted again every
/// [`GRACE_LEASE_REUSE`]), or one of its own for a longer time.
fn lease(etcd: &mut Etcd, grace: &mut Option<(i64, Instant)>, keep_ms: u64) -> Io<i64> {
    let reuse = GRACE_LEASE_REUSE.as_secs() as i64;
    if keep_ms <= GRACE_MS {
        if let Some((id, at)) = *grace
            && at.elapsed() < GRACE_LEASE_REUSE
        {
            return Ok(id);
        }
        let id = etcd
            .grant((GRACE_MS / 1000) as i64 + reuse)
            .map_err(|e| fail(etcd, e))?;
        *grace = Some((id, Instant::now()));
        return Ok(id);
    }
    let seconds = i64::try_from(keep_ms.div_ceil(1000)).unwrap_or(i64::MAX / 2);
    etcd.grant(seconds + reuse).map_err(|e| fail(etcd, e))
}

/// How one attempt of a transaction ended.
enum Attempt<T> {
    /// The operation failed to reach etcd (nothing committed).
    Failed(Result<T>),
    /// Committed (or checked): the operation's answer (`None`: only a sweep's share of an
    /// ending, go on), the store as it left it, and the head's modification revision it
    /// started from.
    Applied(Option<Result<T>>, Snapshot, i64),
    /// A commit's check failed; what was read back.
    Conflict(Fresh),
}

/// The most keys, and value bytes, a view keeps: beyond, it starts over from the last
/// transaction's keys (it is memory of the instance's, and any key it lacks is only a guess
/// away).
const VIEW_KEYS: usize = 4096;
const VIEW_BYTES: usize = 4 << 20;

/// What a view's entries hold, for [`VIEW_BYTES`].
fn entries_bytes(entries: &HashMap<String, Entry>) -> usize {
    entries
        .iter()
        .map(|(key, entry)| entry_bytes(key, entry))
        .sum()
}

fn entry_bytes(key: &str, (value, _): &Entry) -> usize {
    key.len() + value.as_ref().map_or(0, Vec::len)
}

/// Make what a transaction left (`known`, having started from a head modified at
/// `base_head_mod`) the instance's view, and `bytes` what its entries hold. The previous
/// view's keys stay when still right: all of them if the head was not rewritten between the
/// two, else only those the head does not guard (always compared when used).
///
/// The transaction's keys go into the view in place, so a commit costs what it used, not
/// what the view holds (except after another host's write, which drops the guarded keys).
fn remember(
    view: &mut Option<View>,
    bytes: &mut usize,
    keys: &Keys,
    known: Snapshot,
    base_head_mod: i64,
) {
    let Some(mut old) = view.take() else {
        *bytes = entries_bytes(&known.entries);
        *view = Some(known);
        return;
    };
    if old.head_mod != base_head_mod {
        old.entries.retain(|key, _| !keys.is_guarded(key));
        *bytes = entries_bytes(&old.entries);
    }
    let fits = old.entries.len() + known.entries.len() <= VIEW_KEYS
        && *bytes + entries_bytes(&known.entries) <= VIEW_BYTES;
    if !fits {
        *bytes = entries_bytes(&known.entries);
        *view = Some(known);
        return;
    }
    for (key, entry) in known.entries {
        *bytes += entry_bytes(&key, &entry);
        let key_bytes = key.len();
        if let Some(replaced) = old.entries.insert(key, entry) {
            *bytes -= key_bytes + replaced.0.map_or(0, |value| value.len());
        }
    }
    old.revision = known.revision;
    old.head = known.head;
    old.head_mod = known.head_mod;
    *view = Some(old);
}

/// The keys an operation by `session` on `group` reads: the session, the group, and the
/// session's member in it (the session key names the member).
fn session_keys(keys: &Keys, session: &str, group: &str) -> Vec<String> {
    let mut out = vec![keys.session(session), keys.group(group)];
    if let Some((member, _)) = parse_session(session) {
        out.push(keys.member(group, &member));
    }
    out
}

/// After a conflict, the instance's next this many commits carry the reads a conflict needs
/// as their failure branch (a conflict then costs no further round trip). Commits of an
/// instance that has not met one for that long leave it out: another host rarely writes
/// between them, and the smaller request is cheaper for etcd every time.
pub(crate) const CONTENDED_COMMITS: u32 = 32;

/// After `conflicts` failed commits in a row, wait a little (random, growing) before the
/// next attempt, so that busy writers spread out.
fn back_off(conflicts: u32) {
    if conflicts < 3 {
        return;
    }
    let most = 1u64 << conflicts.min(7);
    std::thread::sleep(Duration::from_micros(random() % (most * 1000)));
}

impl Store {
    #[cfg(test)]
    pub fn etcd(&mut self) -> &mut Etcd {
        &mut self.etcd
    }

    /// How many more commits carry their read-back.
    #[cfg(test)]
    pub fn contended(&self) -> u32 {
        self.contended
    }

    /// Run `op` in a transaction until it commits: each attempt first carries on with every
    /// expiry (or close) that is due, in commits of its own when there is much to do, then
    /// runs `op` and commits whatever it changed, both only if nothing they read changed
    /// since. `ranges` are read with the start of each attempt and given to `op`.
    /// A failed check (`Ok(Err(..))`) commits too (an expiry, or a once-only notice taken),
    /// except a `connection` error.
    ///
    /// `from_view`: an attempt starts from the instance's view when there is one (see
    /// [`View`]), or from what the previous attempt's failed commit read back, instead of a
    /// read of its own. Only for operations that read no ranges; worth it for those that
    /// write, which commit (and so check what they used) anyway.
    fn transact<T>(
        &mut self,
        from_view: bool,
        prefetch: impl Fn(&Keys) -> Vec<String>,
        ranges: impl Fn(&Keys) -> Vec<RangeRequest>,
        mut op: impl FnMut(&mut Model<'_>, Vec<RangeResponse>) -> Io<Result<T>>,
    ) -> Result<T> {
        let mut conflicts = 0;
        let mut fresh: Option<Fresh> = None;
        loop {
            let now = now_ms();
            let Store {
                etcd,
                keys,
                history,
                max_capabilities,
                grace,
                view,
                view_bytes,
                contended,
                watch: _,
                following: _,
            } = self;
            let attempt = (|| -> Io<Attempt<T>> {
                let (tx, due, answers) = match (fresh.take(), view.as_ref()) {
                    (Some(fresh), _) if from_view => {
                        let tx =
                            Tx::resume(etcd, keys, fresh.snapshot, fresh.due_until, prefetch(keys));
                        (tx, fresh.due, Vec::new())
                    }
                    (None, Some(view)) if from_view => (
                        Tx::on_view(etcd, keys, view, prefetch(keys)),
                        Vec::new(),
                        Vec::new(),
                    ),
                    _ => {
                        let mut reads = vec![RangeRequest::between(
                            keys.deadlines(),
                            keys.deadlines_after(now),
                        )];
                        reads.extend(ranges(keys));
                        let (tx, mut answers) =
                            Tx::begin(etcd, keys, prefetch(keys), reads, Some(now))?;
                        let due = answers.remove(0).kvs;
                        (tx, due, answers)
                    }
                };
                let due = due
                    .into_iter()
                    .map(|kv| (kv.key, String::from_utf8_lossy(&kv.value).into_owned()))
                    .collect();
                let mut model = Model::new(tx, now, *max_capabilities);
                let swept = model.sweep(due)?;
                let out = if swept {
                    let out = op(&mut model, answers)?;
                    if matches!(out, Err(CoordinationError::Connection(_))) {
                        return Ok(Attempt::Failed(out));
                    }
                    Some(out)
                } else {
                    None
                };
                let outcome = model
                    .tx
                    .commit(now, *history, *contended > 0, |etcd, keep| {
                        lease(etcd, grace, keep)
                    })?;
                Ok(match outcome {
                    Outcome::Applied {
                        known,
                        base_head_mod,
                    } => Attempt::Applied(out, known, base_head_mod),
                    Outcome::Conflict(read_back) => Attempt::Conflict(read_back),
                })
            })();
            match attempt {
                Ok(Attempt::Failed(out)) => return out,
                Ok(Attempt::Applied(out, known, base_head_mod)) => {
                    remember(view, view_bytes, keys, known, base_head_mod);
                    *contended = contended.saturating_sub(1);
                    if let Some(out) = out {
                        return out;
                    }
                    conflicts = 0;
                }
                Ok(Attempt::Conflict(read_back)) => {
                    fresh = Some(read_back);
                    *contended = CONTENDED_COMMITS;
                    conflicts += 1;
                }
                Err(Fail::Connection(message)) => {
                    *view = None;
                    return Err(CoordinationError::Connection(message));
                }
                Err(Fail::LeaseLost) => {
                    *grace = None;
                    conflicts += 1;
                }
                Err(Fail::Retry) => {
                    // A compacted revision: the view is too old to read at.
                    *view = None;
                    conflicts += 1;
                }
            }
            if conflicts >= MAX_ATTEMPTS {
                return Err(CoordinationError::Connection(format!(
                    "etcd at {}: gave up after {MAX_ATTEMPTS} conflicting attempts",
                    self.etcd.address()
                )));
            }
            back_off(conflicts);
        }
    }

    /// [`Store::transact`] for an operation that writes (or may): from the view, with the
    /// keys `op` is known to read fetched up front when it reads (it would read them one
    /// by one otherwise), and no ranges.
    fn run<T>(
        &mut self,
        prefetch: impl Fn(&Keys) -> Vec<String>,
        mut op: impl FnMut(&mut Model<'_>) -> Io<Result<T>>,
    ) -> Result<T> {
        self.transact(true, prefetch, |_| Vec::new(), |model, _| op(model))
    }

    /// [`Store::transact`] for an operation that only reads: one read of its own at the
    /// start (with the keys `op` is known to read), which it needs no commit to trust.
    fn read<T>(
        &mut self,
        prefetch: impl Fn(&Keys) -> Vec<String>,
        mut op: impl FnMut(&mut Model<'_>) -> Io<Result<T>>,
    ) -> Result<T> {
        self.transact(false, prefetch, |_| Vec::new(), |model, _| op(model))
    }

    /// Wait on the watch for the log entries after `following.next - 1`, at most until
    /// `until` and never past the next deadline. Returns them (at most `fetch`; the newest
    /// is the head) when they follow on without a gap, and follows on from there.
    /// `None` when the caller must read: the wait is over, a deadline is due, the watch
    /// failed, or what came does not follow on (a gap, a trimmed log, a replaced store, an
    /// entry this driver cannot read).
    fn follow(
        &mut self,
        mut following: Following,
        fetch: i64,
        until: Instant,
    ) -> Result<Option<ChangeBatch>> {
        loop {
            let now = now_ms();
            let left = until.saturating_duration_since(Instant::now());
            let due = following.next_deadline.is_some_and(|ms| ms <= now);
            if due || left.is_zero() {
                return Ok(None);
            }
            let wake = following
                .next_deadline
                .map_or(left, |ms| left.min(Duration::from_millis(ms - now)));
            let arrived = self.wait_past(following.revision, Instant::now() + wake)?;
            if self.watch.is_none() {
                return Ok(None);
            }
            let (deadlines, entries): (Vec<KeyValue>, Vec<KeyValue>) = arrived
                .into_iter()
                .partition(|kv| self.keys.is_deadline(&kv.key));
            // A session's new deadline may come before the earliest one known (a deadline
            // that moved later only wakes this a little early).
            for kv in &deadlines {
                if let Some(ms) = self.keys.deadline_of(&kv.key) {
                    following.next_deadline =
                        Some(following.next_deadline.map_or(ms, |d| d.min(ms)));
                }
            }
            if entries.is_empty() {
                continue;
            }
            let fetch = usize::try_from(fetch).unwrap_or(usize::MAX);
            let Some(batch) = self.log_entries(following.next, &entries, &following.store_id)
            else {
                return Ok(None);
            };
            if batch.events.len() <= fetch {
                following.next = batch.head + 1;
                self.following = Some(following);
                return Ok(Some(batch));
            }
            // More than asked for: the rest is read by the next call.
            let ChangeBatch {
                mut events,
                head,
                store_id,
            } = batch;
            events.truncate(fetch);
            return Ok(Some(ChangeBatch {
                events,
                head,
                store_id,
            }));
        }
    }

    /// Log entries a watch brought, as a batch, when they follow on from `from` without a
    /// gap and are all readable.
    fn log_entries(&self, from: u64, entries: &[KeyValue], store_id: &str) -> Option<ChangeBatch> {
        let mut events = Vec::with_capacity(entries.len());
        for (kv, revision) in entries.iter().zip(from..) {
            if self.keys.event_revision(&kv.key) != Some(revision) {
                return None;
            }
            let doc: EventDoc = serde_json::from_slice(&kv.value).ok()?;
            events.push(doc.event().ok()?);
        }
        let head = from + entries.len() as u64 - 1;
        Some(ChangeBatch {
            events,
            head,
            store_id: store_id.to_owned(),
        })
    }

    /// Wait until deadline keys or log entries are put after etcd revision `revision`, or
    /// until `deadline`; returns the puts of the first change that has any (one commit's),
    /// with their values, and nothing at `deadline`. The watch covers both ranges (the
    /// deadline index sorts right before the log, and nothing sorts between), is made on the
    /// first wait, from the revision after `revision`, and is kept open for the next ones:
    /// puts it holds from before a later read are passed over. A watch that fails is dropped
    /// (so `self.watch` is `None` after it), and the caller reads again (which makes a new
    /// one next time, or reports the server unreachable).
    fn wait_past(&mut self, revision: i64, deadline: Instant) -> Result<Vec<KeyValue>> {
        if self.watch.is_none() {
            let end = crate::etcd::prefix_end(&self.keys.events());
            let watch = self
                .etcd
                .watch(&self.keys.deadlines(), &end, revision + 1)
                .map_err(|e| CoordinationError::Connection(e.message()))?;
            self.watch = Some(watch);
        }
        let watch = self.watch.as_mut().expect("made above");
        match watch.wait_past(revision, deadline) {
            Ok(arrived) => Ok(arrived),
            Err(error) => {
                crate::log_warn(&format!("{}; watching again", error.message()));
                self.watch = None;
                Ok(Vec::new())
            }
        }
    }
}

impl Driver for Store {
    const NAME: &'static str = "etcd";

    /// Connect with the backend URL's options: `address` (required), `namespace`,
    /// `history`, `max_capabilities`; others (`timeout`, ...) are the host's.
    fn open(options: &[(String, String)]) -> Result<Self> {
        let (address, options) = driver_kit::Options::of_server(options, "etcd3+http", "etcd")?;
        let namespace = options.namespace(&[], "1 to 255 bytes without control characters")?;
        let history = options.history()?;
        let max_capabilities = options.max_capabilities()?;
        let mut store = Self {
            etcd: Etcd::new(address.to_owned()),
            keys: Keys::new(namespace),
            history,
            max_capabilities,
            grace: None,
            watch: None,
            view: None,
            view_bytes: 0,
            contended: 0,
            following: None,
        };
        // Reach the server now, so a wrong address fails at open.
        store.head()?;
        Ok(store)
    }

    fn describe(&mut self) -> Result<StoreInfo> {
        let fresh = random_hex();
        let (store_id, head, groups) =
            self.read(|k| vec![k.id(), k.layout()], |m| m.describe(&fresh))?;
        Ok(StoreInfo {
            store_id,
            head,
            groups,
        })
    }

    fn head(&mut self) -> Result<u64> {
        self.read(|_| Vec::new(), |m| Ok(Ok(m.tx.head_now())))
    }

    /// A session key names its member and TTL after a random part, so a session etcd has
    /// forgotten (expired long ago) can come back as the same member.
    fn open_session(&mut self, member: &str, ttl_ms: u64) -> Result<SessionKey> {
        let key = new_session_key(member, ttl_ms);
        self.run(|k| vec![k.session(&key)], |m| m.open_session(&key))
    }

    fn close_session(&mut self, session: &str) -> Result<u64> {
        loop {
            if let Some(revision) =
                self.run(|k| vec![k.session(session)], |m| m.close_session(session))?
            {
                return Ok(revision);
            }
        }
    }

    fn heartbeat(&mut self, session: &str) -> Result<u64> {
        self.run(|k| vec![k.session(session)], |m| m.heartbeat(session))
    }

    fn create_group(&mut self, group: &str) -> Result<u64> {
        self.run(|k| vec![k.group(group)], |m| m.create_group(group))
    }

    fn delete_group(&mut self, group: &str) -> Result<u64> {
        self.run(|k| vec![k.group(group)], |m| m.delete_group(group))
    }

    fn groups(&mut self) -> Result<Vec<String>> {
        self.read(|_| Vec::new(), |m| m.groups().map(Ok))
    }

    fn group_summaries(&mut self) -> Result<(u64, Vec<GroupSummary>)> {
        self.read(|_| Vec::new(), |m| m.group_summaries())
    }

    fn join(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
        create: bool,
    ) -> Result<u64> {
        self.run(
            |k| session_keys(k, session, group),
            |m| m.join(session, group, capabilities, create),
        )
    }

    fn leave(&mut self, session: &str, group: &str) -> Result<u64> {
        self.run(
            |k| session_keys(k, session, group),
            |m| m.leave(session, group),
        )
    }

    fn update_capabilities(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
    ) -> Result<u64> {
        self.run(
            |k| session_keys(k, session, group),
            |m| m.update_capabilities(session, group, capabilities),
        )
    }

    /// The member ids of `group`: its member keys, listed (without values) by the same
    /// read that opens the transaction.
    fn get_members(&mut self, group: &str) -> Result<Vec<String>> {
        self.transact(
            false,
            |k| vec![k.group(group)],
            |k| vec![RangeRequest::prefix(&k.members(group)).keys_only()],
            |model, answers| {
                let listed = answers.into_iter().next().unwrap_or_default().kvs;
                model.member_ids(group, listed)
            },
        )
    }

    fn get_members_info(&mut self, group: &str) -> Result<Vec<(String, MemberInfo)>> {
        self.read(|k| vec![k.group(group)], |m| m.members_info(group))
    }

    fn get_member_info(&mut self, group: &str, member: &str) -> Result<MemberInfo> {
        self.read(
            |k| vec![k.group(group), k.member(group, member)],
            |m| m.member_info(group, member),
        )
    }

    fn get_leader(&mut self, group: &str) -> Result<Option<Leader>> {
        self.read(|k| vec![k.group(group)], |m| m.leader(group))
    }

    fn stand(&mut self, session: &str, group: &str) -> Result<u64> {
        self.run(
            |k| vec![k.session(session), k.group(group)],
            |m| m.stand(session, group),
        )
    }

    fn withdraw(&mut self, session: &str, group: &str) -> Result<u64> {
        self.run(
            |k| vec![k.candidacy(session, group), k.group(group)],
            |m| m.withdraw(session, group),
        )
    }

    fn stand_down(&mut self, session: &str, group: &str) -> Result<(bool, u64)> {
        self.run(|k| vec![k.group(group)], |m| m.stand_down(session, group))
    }

    fn acquire_lock(
        &mut self,
        session: &str,
        lock: &str,
        mode: LockMode,
        wait: bool,
    ) -> Result<(LockAttempt, u64)> {
        let mode = roster_types::LockMode::from(mode);
        let (attempt, head) = self.run(
            |k| vec![k.session(session), k.lock(lock)],
            |m| m.acquire_lock(session, lock, mode, wait),
        )?;
        Ok((attempt.into(), head))
    }

    fn release_lock(&mut self, session: &str, lock: &str) -> Result<(Option<u64>, u64)> {
        self.run(|k| vec![k.lock(lock)], |m| m.release_lock(session, lock))
    }

    fn abandon_lock_wait(&mut self, session: &str, lock: &str) -> Result<(Option<u64>, u64)> {
        self.run(
            |k| vec![k.lock(lock)],
            |m| m.abandon_lock_wait(session, lock),
        )
    }

    fn break_lock(&mut self, _session: &str, lock: &str) -> Result<(Vec<u64>, u64)> {
        self.run(|k| vec![k.lock(lock)], |m| m.break_lock(lock))
    }

    fn lock_standing(&mut self, session: &str, lock: &str) -> Result<LockStanding> {
        let standing = self.read(|k| vec![k.lock(lock)], |m| m.lock_standing(session, lock))?;
        Ok(standing.into())
    }

    fn get_lock(&mut self, lock: &str) -> Result<LockInfo> {
        self.read(|k| vec![k.lock(lock)], |m| m.lock_info(lock))
    }

    fn get_locks(&mut self) -> Result<Vec<LockInfo>> {
        self.read(|_| Vec::new(), |m| m.locks())
    }

    /// The events after `after`. While this instance follows the log (its last answer
    /// ended at `after`, and its watch has seen every change since), they are what the
    /// watch brings. Otherwise they are read with the start of a transaction (which first
    /// expires whatever is due, and commits that before reading again), and when there are
    /// none yet the call follows the watch from there. It waits for at most `wait_ms` in all
    /// and never past the next session deadline: then it reads again, and so a member
    /// expires on time even when no one calls, and this call reports it.
    fn changes(&mut self, after: u64, max: u32, wait_ms: u64) -> Result<Feed> {
        let until = Instant::now() + Duration::from_millis(wait_ms);
        let from = after.saturating_add(1).max(1);
        let fetch = i64::from(max.min(MAX_FETCH));
        let following = self.following.take().filter(|f| f.next == from);
        if let Some(following) = following
            && max > 0
            && let Some(batch) = self.follow(following, fetch, until)?
        {
            return Ok(Feed::Events(batch));
        }
        loop {
            let read = self.transact(
                false,
                // The store's id comes with the read: the batch names the store it is of.
                |keys| vec![keys.id()],
                |keys| {
                    vec![
                        RangeRequest::prefix(&keys.events()).keys_only().limit(1),
                        RangeRequest::between(
                            keys.event(from),
                            crate::etcd::prefix_end(&keys.events()),
                        )
                        .limit(fetch.max(1)),
                        RangeRequest::prefix(&keys.deadlines()).keys_only().limit(1),
                    ]
                },
                |model, answers| {
                    if model.tx.dirty() {
                        // The sweep expired someone: commit that, then read again.
                        return Ok(Ok(None));
                    }
                    let keys = model.tx.keys;
                    let store_id = model
                        .tx
                        .get(&keys.id(), false)?
                        .map(|id| String::from_utf8_lossy(&id).into_owned())
                        .unwrap_or_default();
                    let head = model.tx.head;
                    let mut answers = answers.into_iter();
                    let mut next = || answers.next().unwrap_or_default().kvs;
                    let oldest = next()
                        .first()
                        .and_then(|kv| keys.event_revision(&kv.key))
                        .unwrap_or(head + 1);
                    if from < oldest && from <= head {
                        return Ok(Ok(Some(Read::Resync(ResyncNeeded {
                            requested: from,
                            oldest,
                            head,
                        }))));
                    }
                    let mut events = Vec::new();
                    if max > 0 {
                        for kv in next() {
                            let doc: EventDoc = serde_json::from_slice(&kv.value).map_err(|e| {
                                Fail::Connection(format!(
                                    "etcd at {}: {} is not a change-log entry ({e})",
                                    model.tx.address(),
                                    kv.key
                                ))
                            })?;
                            let event = doc.event().map_err(|e| {
                                Fail::Connection(format!(
                                    "etcd at {}: {} is a change-log entry with {e}",
                                    model.tx.address(),
                                    kv.key
                                ))
                            })?;
                            events.push(event);
                        }
                    } else {
                        next();
                    }
                    let next_deadline = next().first().and_then(|kv| keys.deadline_of(&kv.key));
                    Ok(Ok(Some(Read::Events {
                        batch: ChangeBatch {
                            events,
                            head,
                            store_id,
                        },
                        revision: model.tx.revision,
                        next_deadline,
                    })))
                },
            )?;
            let (batch, revision, next_deadline) = match read {
                None => continue,
                Some(Read::Resync(resync)) => return Ok(Feed::Resync(resync)),
                Some(Read::Events {
                    batch,
                    revision,
                    next_deadline,
                }) => (batch, revision, next_deadline),
            };
            // The answer holds the log up to the head (or nothing was there): the watch can
            // take over from the revision read at.
            let next = from + batch.events.len() as u64;
            let following =
                (batch.events.is_empty() || next == batch.head + 1).then(|| Following {
                    next,
                    revision,
                    next_deadline,
                    store_id: batch.store_id.clone(),
                });
            let left = until.saturating_duration_since(Instant::now());
            if !batch.events.is_empty() || max == 0 || left.is_zero() {
                self.following = following;
                return Ok(Feed::Events(batch));
            }
            let Some(following) = following else { continue };
            // Else read again: at the end of the wait that answers whatever it finds.
            if let Some(batch) = self.follow(following, fetch, until)? {
                return Ok(Feed::Events(batch));
            }
        }
    }
}

#[cfg(test)]
mod view_tests {
    use std::collections::HashMap;

    use super::{VIEW_KEYS, View, entries_bytes, remember};
    use crate::keys::Keys;
    use crate::tx::Snapshot;

    /// An instance's view as commits leave it, in namespace `ns`.
    struct Instance {
        view: Option<View>,
        bytes: usize,
        keys: Keys,
    }

    impl Instance {
        fn new() -> Self {
            Self {
                view: None,
                bytes: 0,
                keys: Keys::new("ns"),
            }
        }

        /// A commit that started from a head modified at `from` and left it modified at
        /// `head_mod`, having used `entries`.
        fn commit(&mut self, from: i64, head_mod: i64, entries: &[(&str, Option<&str>)]) {
            let entries: HashMap<_, _> = entries
                .iter()
                .map(|(key, value)| {
                    let value = value.map(|v| v.as_bytes().to_vec());
                    ((*key).to_owned(), (value, head_mod))
                })
                .collect();
            let known = Snapshot {
                revision: head_mod,
                head: head_mod as u64,
                head_mod,
                entries,
            };
            remember(&mut self.view, &mut self.bytes, &self.keys, known, from);
        }

        /// The view, checking that its size is counted right.
        fn view(&self) -> &View {
            let view = self.view.as_ref().unwrap();
            assert_eq!(self.bytes, entries_bytes(&view.entries));
            view
        }

        fn held(&self) -> Vec<String> {
            let mut held: Vec<_> = self.view().entries.keys().cloned().collect();
            held.sort();
            held
        }
    }

    #[test]
    fn a_commit_after_the_instances_own_goes_into_the_view_and_keeps_the_rest() {
        let mut instance = Instance::new();
        instance.commit(
            0,
            5,
            &[("ns/groups/a", Some("1")), ("ns/groups/b", Some("2"))],
        );
        // Started from head_mod 5, which the view holds: every key stays, the new ones win.
        instance.commit(
            5,
            6,
            &[("ns/groups/a", Some("one")), ("ns/members/a/m", None)],
        );
        assert_eq!(
            instance.held(),
            ["ns/groups/a", "ns/groups/b", "ns/members/a/m"]
        );
        let view = instance.view();
        assert_eq!(view.head_mod, 6);
        assert_eq!(view.entries["ns/groups/a"].0.as_deref(), Some(&b"one"[..]));
        assert_eq!(view.entries["ns/groups/b"].0.as_deref(), Some(&b"2"[..]));
    }

    #[test]
    fn after_another_hosts_write_only_keys_compared_one_by_one_stay() {
        let mut instance = Instance::new();
        instance.commit(
            0,
            5,
            &[("ns/groups/a", Some("1")), ("ns/sessions/s", Some("x"))],
        );
        // Started from head_mod 7: someone else rewrote the head after the view's 5.
        instance.commit(7, 8, &[("ns/groups/b", Some("2"))]);
        assert_eq!(instance.held(), ["ns/groups/b", "ns/sessions/s"]);
    }

    #[test]
    fn a_view_that_would_grow_too_big_starts_over_from_the_last_commit() {
        let mut instance = Instance::new();
        let many: Vec<String> = (0..VIEW_KEYS).map(|i| format!("ns/groups/{i}")).collect();
        let entries: Vec<(&str, Option<&str>)> =
            many.iter().map(|k| (k.as_str(), Some("v"))).collect();
        instance.commit(0, 5, &entries);
        instance.commit(5, 6, &[("ns/groups/new", Some("v"))]);
        assert_eq!(instance.held(), ["ns/groups/new"]);
    }
}
