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

use std::collections::{BTreeMap, HashMap};

use crate::etcd::{
    Compare, DeleteRangeRequest, Etcd, EtcdError, KeyValue, PutRequest, RangeRequest,
    RangeResponse, RequestOp, TxnRequest,
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
    cache: HashMap<String, (Option<Vec<u8>>, i64)>,
    /// Keys whose modification revision the commit compares.
    compared: BTreeMap<String, i64>,
    writes: BTreeMap<String, Write>,
    /// Whether a write needs `{ns}/head` rewritten (a group, a member, an event).
    guarded: bool,
    /// The change-log entries to add, from revision `head + 1` on.
    events: Vec<Vec<u8>>,
}

impl<'a> Tx<'a> {
    /// Start at etcd's current revision: read `{ns}/head`, the keys of `prefetch` (as
    /// [`Tx::get`] would) and `ranges` there, in one round trip. Returns the transaction and
    /// the ranges' answers.
    pub fn begin(
        etcd: &'a mut Etcd,
        keys: &'a Keys,
        prefetch: Vec<String>,
        ranges: Vec<RangeRequest>,
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
        let head_kv = responses
            .next()
            .flatten()
            .and_then(|r| r.kvs.into_iter().next());
        let (head, head_mod) = match head_kv {
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
                (head, kv.mod_revision)
            }
            None => (0, 0),
        };
        let mut cache = HashMap::with_capacity(prefetch.len());
        for key in prefetch {
            let entry = match responses
                .next()
                .flatten()
                .and_then(|r| r.kvs.into_iter().next())
            {
                Some(kv) => (Some(kv.value), kv.mod_revision),
                None => (None, 0),
            };
            cache.insert(key, entry);
        }
        let rest: Vec<RangeResponse> = responses.map(Option::unwrap_or_default).collect();
        Ok((
            Self {
                revision: answer.header.revision,
                etcd,
                keys,
                head,
                head_mod,
                cache,
                compared: BTreeMap::new(),
                writes: BTreeMap::new(),
                guarded: false,
                events: Vec::new(),
            },
            rest,
        ))
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
            let answer = self
                .etcd
                .range(&RangeRequest::key(key.to_owned()).at(self.revision))
                .map_err(|e| fail(self.etcd, e))?;
            let entry = match answer.kvs.into_iter().next() {
                Some(kv) => (Some(kv.value), kv.mod_revision),
                None => (None, 0),
            };
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

    /// Compares the commit will make so far.
    pub fn compares(&self) -> usize {
        self.compared.len() + 1
    }

    /// Apply the pending changes if nothing the transaction read has changed; returns
    /// whether it did. The log keeps the newest `history` entries. `lease` turns a
    /// [`Lease::Grace`] into a lease id.
    pub fn commit(
        self,
        history: u64,
        mut lease: impl FnMut(&mut Etcd, u64) -> Io<i64>,
    ) -> Io<bool> {
        if !self.dirty() {
            return Ok(true);
        }
        let mut compare = vec![Compare::unchanged(self.keys.head(), self.head_mod)];
        compare.extend(
            self.compared
                .iter()
                .map(|(key, revision)| Compare::unchanged(key.clone(), *revision)),
        );
        let mut success = Vec::with_capacity(self.cost());
        for (key, write) in self.writes {
            success.push(match write {
                Write::Put(value, how) => {
                    let (lease, ignore_lease) = match how {
                        Lease::None => (0, false),
                        Lease::Keep => (0, true),
                        Lease::Grace(ms) => (lease(self.etcd, ms)?, false),
                    };
                    RequestOp::Put(PutRequest {
                        key,
                        value,
                        lease,
                        ignore_lease,
                    })
                }
                Write::Delete => RequestOp::DeleteRange(DeleteRangeRequest {
                    key,
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
        for (i, entry) in self.events.into_iter().enumerate() {
            let revision = self.head + 1 + i as u64;
            if revision >= first_kept {
                success.push(RequestOp::Put(PutRequest {
                    key: self.keys.event(revision),
                    value: entry,
                    lease: 0,
                    ignore_lease: false,
                }));
            }
        }
        let trim_end = first_kept.min(self.head + 1);
        if new_head != self.head && trim_end > 1 {
            success.push(RequestOp::DeleteRange(DeleteRangeRequest {
                key: self.keys.events(),
                range_end: self.keys.event(trim_end),
            }));
        }
        let request = TxnRequest {
            compare,
            success,
            failure: Vec::new(),
        };
        let answer = self.etcd.txn(&request).map_err(|e| fail(self.etcd, e))?;
        Ok(answer.succeeded)
    }
}
