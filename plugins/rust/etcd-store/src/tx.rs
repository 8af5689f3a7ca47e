//! One optimistic transaction on etcd: reads at one etcd revision, writes buffered, and a
//! commit that applies them only if nothing it depends on changed since (compare-and-swap
//! on modification revisions), else the whole operation runs again.
//!
//! What a commit checks (see README.md, "Transactions"):
//! - `{ns}/head`'s modification revision is unchanged. Every transaction that writes a group,
//!   a member or the change log also rewrites `{ns}/head`, so this one compare covers every
//!   such key the operation read, point or range.
//! - Every other key read with [`Tx::get`]`(key, true)` (sessions, the store id) is unchanged
//!   too: those are written without touching `{ns}/head` (a heartbeat), always after being
//!   read by the same transaction, so they are compared one by one.
//! - Every key taken to be absent without being read is still absent.
//! - No session deadline is due that the transaction did not read as due.
//!
//! A transaction starts from one of three [`Snapshot`]s: a read of its own (one round trip),
//! what a failed commit read back (in its failure branch, or right after), or the instance's
//! [`View`], what the previous transaction left (no round trip at all). Whatever it starts
//! from, the commit's compares make it apply only to the store it read, so all three are
//! equally safe.

use std::collections::{BTreeMap, HashMap};

use crate::etcd::{
    Compare, DeleteRangeRequest, Etcd, EtcdError, KeyValue, PutRequest, RangeRequest,
    RangeResponse, RequestOp, ResponseOp, TxnRequest,
};
use crate::keys::Keys;

/// Why an operation's attempt did not finish.
#[derive(Debug)]
pub enum Fail {
    /// etcd could not be reached or failed: the operation fails with `connection`.
    Connection(String),
    /// The attempt read something that changed before it could commit (or a revision that
    /// was compacted away): run the operation again from the start.
    Retry,
    /// A lease the commit named is gone: get a new one and run the operation again.
    LeaseLost,
}

pub type Io<T> = Result<T, Fail>;

pub fn fail(etcd: &Etcd, error: EtcdError) -> Fail {
    if error.compacted() {
        Fail::Retry
    } else if error.lease_not_found() {
        Fail::LeaseLost
    } else {
        match error {
            EtcdError::Connection(message) => Fail::Connection(message),
            EtcdError::Server { .. } => {
                Fail::Connection(format!("etcd at {}: {}", etcd.address(), error.message()))
            }
        }
    }
}

/// Which lease a put gives its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// None: the key lives until deleted.
    None,
    /// The key's current one (it must exist).
    Keep,
    /// One that keeps the key at least this many milliseconds.
    Grace(u64),
}

#[derive(Clone, Debug)]
enum Write {
    Put(Vec<u8>, Lease),
    Delete,
}

/// A key's value (if any) and modification revision (0 if none).
pub type Entry = (Option<Vec<u8>>, i64);

/// The store at one etcd revision, as far as some reads (and the writes that followed) tell.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The etcd revision it holds at.
    pub revision: i64,
    /// `{ns}/head`: the newest Roster revision, and its modification revision.
    pub head: u64,
    pub head_mod: i64,
    /// Keys known, with their values at `revision`.
    pub entries: HashMap<String, Entry>,
}

/// What the instance knows of the store since its last transaction: a [`Snapshot`] whose
/// entries were right when that transaction ended. Keys `{ns}/head` guards are still right
/// while its modification revision is `head_mod`; the others (sessions, the store id) are
/// always compared when used, so a stale one only costs a retry.
pub type View = Snapshot;

/// What a failed commit read back at one revision, for the next attempt: `{ns}/head`, the
/// keys the attempt used, and the deadlines due at `due_until`.
#[derive(Debug)]
pub struct Fresh {
    pub snapshot: Snapshot,
    pub due: Vec<KeyValue>,
    pub due_until: u64,
}

/// How a commit ended.
#[derive(Debug)]
pub enum Outcome {
    /// Applied (or checked, with nothing to apply). `known`: the store as the transaction
    /// leaves it; `base_head_mod`: `{ns}/head`'s modification revision it started from.
    Applied { known: Snapshot, base_head_mod: i64 },
    /// Something it read changed (or a key taken to be absent exists, or a deadline is due):
    /// nothing was written. With what was read back.
    Conflict(Fresh),
}

/// Most requests etcd takes in one branch of a transaction (`--max-txn-ops` by default).
const MAX_TXN_OPS: usize = 128;

/// Whether a commit taking the head from `head` to `new_head` trims the log. Trimming is a
/// `deleterange` etcd parses, logs and applies, so it happens only when the head passes a
/// multiple of `history / 64` (1 to 64): the log keeps its newest `history` entries, and up
/// to that many more until the next trim.
pub fn trims(history: u64, head: u64, new_head: u64) -> bool {
    let step = (history / 64).clamp(1, 64);
    new_head / step != head / step
}

/// An operation's view of the store and its pending changes.
pub struct Tx<'a> {
    etcd: &'a mut Etcd,
    pub keys: &'a Keys,
    /// The etcd revision every read is made at.
    pub revision: i64,
    /// `{ns}/head` at `revision`: the newest Roster revision and its modification revision.
    pub head: u64,
    head_mod: i64,
    /// Keys read, at `revision`: value (if any) and modification revision (0 if none).
    cache: HashMap<String, Entry>,
    /// Started from the instance's view: keys not read yet come from it, and a key it does
    /// not know is taken to be absent (and compared as such) instead of read.
    view: Option<&'a View>,
    /// The deadlines read as due were every one up to this instant (Unix ms); `None`: none
    /// were read, the commit checks that none is due.
    due_until: Option<u64>,
    /// Keys a failed commit reads back besides those used (the operation's known ones).
    prefetch: Vec<String>,
    /// Keys whose modification revision the commit compares.
    compared: BTreeMap<String, i64>,
    writes: BTreeMap<String, Write>,
    /// Whether a write needs `{ns}/head` rewritten (a group, a member, an event).
    guarded: bool,
    /// The change-log entries to add, from revision `head + 1` on.
    events: Vec<Vec<u8>>,
}

/// `{ns}/head`'s value and modification revision, from its range answer.
fn parse_head(etcd: &Etcd, keys: &Keys, answer: Option<RangeResponse>) -> Io<(u64, i64)> {
    match answer.and_then(|r| r.kvs.into_iter().next()) {
        Some(kv) => {
            let head = std::str::from_utf8(&kv.value)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| {
                    Fail::Connection(format!(
                        "etcd at {}: {} is not a revision (is this namespace written by another program?)",
                        etcd.address(),
                        keys.head()
                    ))
                })?;
            Ok((head, kv.mod_revision))
        }
        None => Ok((0, 0)),
    }
}

/// One key's entry, from its range answer.
fn entry(answer: Option<RangeResponse>) -> Entry {
    match answer.and_then(|r| r.kvs.into_iter().next()) {
        Some(kv) => (Some(kv.value), kv.mod_revision),
        None => (None, 0),
    }
}

impl<'a> Tx<'a> {
    /// Start at etcd's current revision: read `{ns}/head`, the keys of `prefetch` (as
    /// [`Tx::get`] would) and `ranges` there, in one round trip. Returns the transaction and
    /// the ranges' answers. `due_until`: the instant up to which the first range reads the
    /// due deadlines, if it does.
    pub fn begin(
        etcd: &'a mut Etcd,
        keys: &'a Keys,
        prefetch: Vec<String>,
        ranges: Vec<RangeRequest>,
        due_until: Option<u64>,
    ) -> Io<(Self, Vec<RangeResponse>)> {
        let mut success = vec![RequestOp::Range(RangeRequest::key(keys.head()))];
        success.extend(
            prefetch
                .iter()
                .map(|key| RequestOp::Range(RangeRequest::key(key.clone()))),
        );
        success.extend(ranges.into_iter().map(RequestOp::Range));
        let request = TxnRequest {
            success,
            ..TxnRequest::default()
        };
        let answer = etcd.txn(&request).map_err(|e| fail(etcd, e))?;
        let mut responses = answer.responses.into_iter().map(|r| r.response_range);
        let (head, head_mod) = parse_head(etcd, keys, responses.next().flatten())?;
        let mut cache = HashMap::with_capacity(prefetch.len());
        for key in &prefetch {
            cache.insert(key.clone(), entry(responses.next().flatten()));
        }
        let rest: Vec<RangeResponse> = responses.map(Option::unwrap_or_default).collect();
        let snapshot = Snapshot {
            revision: answer.header.revision,
            head,
            head_mod,
            entries: cache,
        };
        Ok((
            Self::on(etcd, keys, snapshot, None, due_until, prefetch),
            rest,
        ))
    }

    /// Start from what a failed commit read back (no round trip).
    pub fn resume(
        etcd: &'a mut Etcd,
        keys: &'a Keys,
        fresh: Snapshot,
        due_until: u64,
        prefetch: Vec<String>,
    ) -> Self {
        Self::on(etcd, keys, fresh, None, Some(due_until), prefetch)
    }

    /// Start from the instance's view (no round trip): the commit checks all of it that the
    /// operation uses, and that no deadline is due.
    pub fn on_view(
        etcd: &'a mut Etcd,
        keys: &'a Keys,
        view: &'a View,
        prefetch: Vec<String>,
    ) -> Self {
        let at = Snapshot {
            revision: view.revision,
            head: view.head,
            head_mod: view.head_mod,
            entries: HashMap::new(),
        };
        Self::on(etcd, keys, at, Some(view), None, prefetch)
    }

    fn on(
        etcd: &'a mut Etcd,
        keys: &'a Keys,
        at: Snapshot,
        view: Option<&'a View>,
        due_until: Option<u64>,
        prefetch: Vec<String>,
    ) -> Self {
        Self {
            etcd,
            keys,
            revision: at.revision,
            head: at.head,
            head_mod: at.head_mod,
            cache: at.entries,
            view,
            due_until,
            prefetch,
            compared: BTreeMap::new(),
            writes: BTreeMap::new(),
            guarded: false,
            events: Vec::new(),
        }
    }

    pub fn address(&self) -> &str {
        self.etcd.address()
    }

    fn fail(&self, error: EtcdError) -> Fail {
        fail(self.etcd, error)
    }

    /// One key as this transaction sees it (its own writes included). With `compare`, the
    /// commit checks that the key did not change since.
    pub fn get(&mut self, key: &str, compare: bool) -> Io<Option<Vec<u8>>> {
        if !self.cache.contains_key(key) {
            let entry = self.first_sight(key)?;
            self.cache.insert(key.to_owned(), entry);
        }
        let (value, mod_revision) = &self.cache[key];
        if compare {
            self.compared.insert(key.to_owned(), *mod_revision);
        }
        Ok(match self.writes.get(key) {
            Some(Write::Put(value, _)) => Some(value.clone()),
            Some(Write::Delete) => None,
            None => value.clone(),
        })
    }

    /// A key this transaction has not used yet: from the view when it knows it; else taken
    /// to be absent, which the commit checks (a wrong guess costs what a read would); or,
    /// without a view, read at the transaction's revision.
    fn first_sight(&mut self, key: &str) -> Io<Entry> {
        if let Some(view) = self.view {
            if let Some(known) = view.entries.get(key) {
                return Ok(known.clone());
            }
            self.compared.insert(key.to_owned(), 0);
            return Ok((None, 0));
        }
        let answer = self
            .etcd
            .range(&RangeRequest::key(key.to_owned()).at(self.revision))
            .map_err(|e| fail(self.etcd, e))?;
        Ok(entry(Some(answer)))
    }

    /// Whether `key` existed at the transaction's revision (after a [`Tx::get`] of it).
    pub fn existed(&self, key: &str) -> bool {
        self.cache
            .get(key)
            .is_some_and(|(value, _)| value.is_some())
    }

    /// The lease a pending put of `key` gives it, if there is one.
    pub fn pending_lease(&self, key: &str) -> Option<Lease> {
        match self.writes.get(key) {
            Some(Write::Put(_, lease)) => Some(*lease),
            _ => None,
        }
    }

    /// Every key in `[range.key, range.range_end)` as this transaction sees it, sorted by
    /// key. Not compared: only for keys `{ns}/head` guards.
    pub fn range(&mut self, range: RangeRequest) -> Io<Vec<KeyValue>> {
        let (start, end) = (range.key.clone(), range.range_end.clone());
        let keys_only = range.keys_only;
        let answer = self
            .etcd
            .range(&range.at(self.revision))
            .map_err(|e| self.fail(e))?;
        let pending: Vec<(String, Write)> = if end > start {
            self.writes
                .range(start..end)
                .map(|(k, w)| (k.clone(), w.clone()))
                .collect()
        } else {
            self.writes
                .get_key_value(&start)
                .map(|(k, w)| (k.clone(), w.clone()))
                .into_iter()
                .collect()
        };
        if pending.is_empty() {
            return Ok(answer.kvs);
        }
        let mut merged: BTreeMap<String, KeyValue> = answer
            .kvs
            .into_iter()
            .map(|kv| (kv.key.clone(), kv))
            .collect();
        for (key, write) in pending {
            match write {
                Write::Put(value, _) => {
                    let value = if keys_only { Vec::new() } else { value };
                    merged.insert(
                        key.clone(),
                        KeyValue {
                            key,
                            value,
                            ..KeyValue::default()
                        },
                    );
                }
                Write::Delete => {
                    merged.remove(&key);
                }
            }
        }
        Ok(merged.into_values().collect())
    }

    /// Several keys at once, read at etcd's current revision rather than the transaction's
    /// (for what may be a little newer, such as a member's remaining time); not compared.
    pub fn read_current(&mut self, keys: &[String]) -> Io<Vec<Option<Vec<u8>>>> {
        let mut out: Vec<Option<Option<Vec<u8>>>> = keys
            .iter()
            .map(|key| match self.writes.get(key) {
                Some(Write::Put(value, _)) => Some(Some(value.clone())),
                Some(Write::Delete) => Some(None),
                None => None,
            })
            .collect();
        let missing: Vec<usize> = (0..keys.len()).filter(|i| out[*i].is_none()).collect();
        for batch in missing.chunks(64) {
            let request = TxnRequest {
                success: batch
                    .iter()
                    .map(|i| RequestOp::Range(RangeRequest::key(keys[*i].clone())))
                    .collect(),
                ..TxnRequest::default()
            };
            let answer = self.etcd.txn(&request).map_err(|e| self.fail(e))?;
            let mut responses = answer.responses.into_iter();
            for i in batch {
                let value = responses
                    .next()
                    .and_then(|r| r.response_range)
                    .and_then(|r| r.kvs.into_iter().next())
                    .map(|kv| kv.value);
                out[*i] = Some(value);
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    /// Put `value` at `key`; `guarded` for a key `{ns}/head` guards.
    pub fn put(&mut self, key: String, value: Vec<u8>, lease: Lease, guarded: bool) {
        self.guarded |= guarded;
        self.writes.insert(key, Write::Put(value, lease));
    }

    pub fn delete(&mut self, key: String, guarded: bool) {
        self.guarded |= guarded;
        self.writes.insert(key, Write::Delete);
    }

    /// Add the change-log entry for revision [`Tx::next_revision`].
    pub fn push_event(&mut self, entry: Vec<u8>) {
        self.guarded = true;
        self.events.push(entry);
    }

    /// The revision the next change gets.
    pub fn next_revision(&self) -> u64 {
        self.head + self.events.len() as u64 + 1
    }

    /// The newest revision, this transaction's changes included.
    pub fn head_now(&self) -> u64 {
        self.head + self.events.len() as u64
    }

    /// Whether the transaction has changes to commit.
    pub fn dirty(&self) -> bool {
        !self.writes.is_empty() || !self.events.is_empty()
    }

    /// Requests the commit will make so far (etcd allows 128 per transaction by default:
    /// `--max-txn-ops`).
    pub fn cost(&self) -> usize {
        self.writes.len() + self.events.len() + 2
    }

    /// Compares the commit will make so far (`{ns}/head`, those asked for, the due deadlines).
    pub fn compares(&self) -> usize {
        self.compared.len() + 2
    }

    /// Apply the pending changes if nothing the transaction read has changed, and no
    /// deadline is due at `now` that it did not read as due. The log keeps the newest
    /// `history` entries (see [`trims`]). `lease` turns a [`Lease::Grace`] into a lease id.
    ///
    /// `read_back`: the commit carries the reads a conflict needs as its failure branch, so
    /// a conflict costs no further round trip. Without it the request is smaller (etcd
    /// parses and logs both branches), and a conflict reads them in a request of its own.
    ///
    /// A transaction that started from its own read and changes nothing ends without a
    /// round trip; one that started from the view is checked even then.
    pub fn commit(
        self,
        now: u64,
        history: u64,
        read_back: bool,
        mut lease: impl FnMut(&mut Etcd, u64) -> Io<i64>,
    ) -> Io<Outcome> {
        if !self.dirty() && self.view.is_none() {
            let (base_head_mod, revision) = (self.head_mod, self.revision);
            return Ok(Outcome::Applied {
                known: self.known(revision, None),
                base_head_mod,
            });
        }
        let compare = self.checks(now);
        let back = self.read_back_keys();
        let failure = if read_back {
            self.read_back(now, &back)
        } else {
            Vec::new()
        };
        let mut success = Vec::with_capacity(self.cost());
        for (key, write) in &self.writes {
            success.push(match write {
                Write::Put(value, how) => {
                    let (lease, ignore_lease) = match how {
                        Lease::None => (0, false),
                        Lease::Keep => (0, true),
                        Lease::Grace(ms) => (lease(self.etcd, *ms)?, false),
                    };
                    RequestOp::Put(PutRequest {
                        key: key.clone(),
                        value: value.clone(),
                        lease,
                        ignore_lease,
                    })
                }
                Write::Delete => RequestOp::DeleteRange(DeleteRangeRequest {
                    key: key.clone(),
                    range_end: String::new(),
                }),
            });
        }
        let new_head = self.head + self.events.len() as u64;
        if self.guarded {
            success.push(RequestOp::Put(PutRequest {
                key: self.keys.head(),
                value: new_head.to_string().into_bytes(),
                lease: 0,
                ignore_lease: false,
            }));
        }
        // Entries older than the newest `history` are not kept: new ones are not written,
        // older ones are deleted (all of them, whatever `history` their writer had).
        let first_kept = new_head.saturating_sub(history) + 1;
        for (i, entry) in self.events.iter().enumerate() {
            let revision = self.head + 1 + i as u64;
            if revision >= first_kept {
                success.push(RequestOp::Put(PutRequest {
                    key: self.keys.event(revision),
                    value: entry.clone(),
                    lease: 0,
                    ignore_lease: false,
                }));
            }
        }
        let trim_end = first_kept.min(self.head + 1);
        if trims(history, self.head, new_head) && trim_end > 1 {
            success.push(RequestOp::DeleteRange(DeleteRangeRequest {
                key: self.keys.events(),
                range_end: self.keys.event(trim_end),
            }));
        }
        let request = TxnRequest {
            compare,
            success,
            failure,
        };
        let answer = self.etcd.txn(&request).map_err(|e| fail(self.etcd, e))?;
        let revision = answer.header.revision;
        if !answer.succeeded {
            if read_back {
                return self.fresh(now, revision, back, answer.responses);
            }
            let reads = TxnRequest {
                success: self.read_back(now, &back),
                ..TxnRequest::default()
            };
            let answer = self.etcd.txn(&reads).map_err(|e| fail(self.etcd, e))?;
            return self.fresh(now, answer.header.revision, back, answer.responses);
        }
        let base_head_mod = self.head_mod;
        let head = self.guarded.then_some((new_head, revision));
        Ok(Outcome::Applied {
            known: self.known(revision, head),
            base_head_mod,
        })
    }

    /// The commit's compares: `{ns}/head` and every key asked for (or taken to be absent)
    /// unchanged, and no deadline due at `now` beyond those read as due.
    fn checks(&self, now: u64) -> Vec<Compare> {
        let mut compare = vec![Compare::unchanged(self.keys.head(), self.head_mod)];
        compare.extend(
            self.compared
                .iter()
                .map(|(key, revision)| Compare::unchanged(key.clone(), *revision)),
        );
        let unread = match self.due_until {
            None => Some(self.keys.deadlines()),
            Some(until) if now > until => Some(self.keys.deadlines_after(until)),
            Some(_) => None,
        };
        if let Some(start) = unread {
            compare.push(Compare::empty(start, self.keys.deadlines_after(now)));
        }
        compare
    }

    /// The keys a failed commit reads back: the attempt's own (read, or taken to be absent)
    /// and the operation's known ones, as many as one branch takes.
    fn read_back_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.cache.keys().cloned().collect();
        keys.extend(
            self.prefetch
                .iter()
                .filter(|key| !self.cache.contains_key(*key))
                .cloned(),
        );
        // Room for `{ns}/head` and the due deadlines; the next attempt reads any other key
        // at the failure's revision when it needs it.
        keys.truncate(MAX_TXN_OPS - 2);
        keys
    }

    /// The read-back (as the failure branch, or a request of its own): `{ns}/head`, the
    /// deadlines due at `now`, and `keys`.
    fn read_back(&self, now: u64, keys: &[String]) -> Vec<RequestOp> {
        let mut reads = vec![
            RequestOp::Range(RangeRequest::key(self.keys.head())),
            RequestOp::Range(RangeRequest::between(
                self.keys.deadlines(),
                self.keys.deadlines_after(now),
            )),
        ];
        reads.extend(
            keys.iter()
                .map(|key| RequestOp::Range(RangeRequest::key(key.clone()))),
        );
        reads
    }

    /// What the read-back read (of `keys`), at `revision`.
    fn fresh(
        self,
        now: u64,
        revision: i64,
        keys: Vec<String>,
        responses: Vec<ResponseOp>,
    ) -> Io<Outcome> {
        let mut responses = responses.into_iter().map(|r| r.response_range);
        let (head, head_mod) = parse_head(self.etcd, self.keys, responses.next().flatten())?;
        let due = responses.next().flatten().unwrap_or_default().kvs;
        let entries = keys
            .into_iter()
            .map(|key| (key, entry(responses.next().flatten())))
            .collect();
        Ok(Outcome::Conflict(Fresh {
            snapshot: Snapshot {
                revision,
                head,
                head_mod,
                entries,
            },
            due,
            due_until: now,
        }))
    }

    /// The store as this transaction leaves it at `revision`: what it used, with its writes
    /// applied (deadline keys left out: nothing reads them one by one), and `{ns}/head` if
    /// it rewrote it.
    fn known(self, revision: i64, head: Option<(u64, i64)>) -> Snapshot {
        let (head, head_mod) = head.unwrap_or((self.head, self.head_mod));
        let mut entries = self.cache;
        for (key, write) in self.writes {
            if self.keys.is_deadline(&key) {
                continue;
            }
            let entry = match write {
                Write::Put(value, _) => (Some(value), revision),
                Write::Delete => (None, 0),
            };
            entries.insert(key, entry);
        }
        Snapshot {
            revision,
            head,
            head_mod,
            entries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::trims;

    #[test]
    fn a_short_log_is_trimmed_by_every_commit_that_adds_to_it() {
        for history in [0, 1, 3, 127] {
            assert!(trims(history, 10, 11), "history {history}");
            assert!(!trims(history, 10, 10), "history {history}");
        }
    }

    #[test]
    fn a_long_log_is_trimmed_when_the_head_passes_a_step_of_a_64th_of_it() {
        // 4096 / 64 = 64 entries a step: a commit from 127 to 128 trims, 128 to 129 doesn't.
        assert!(trims(4096, 127, 128));
        assert!(!trims(4096, 128, 129));
        assert!(!trims(4096, 128, 191));
        assert!(trims(4096, 128, 192));
        // A commit adding many entries at once trims if it passes a step anywhere.
        assert!(trims(4096, 100, 200));
        // Never more than 64 entries a step, however long the log.
        assert!(trims(1 << 20, 63, 64));
        assert!(!trims(1 << 20, 64, 127));
        // 200 / 64 = 3 entries a step.
        assert!(trims(200, 5, 6));
        assert!(!trims(200, 6, 8));
    }
}
