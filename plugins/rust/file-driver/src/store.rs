//! The driver's operations: options, the locked and the lock-free paths, and the change
//! feed's polling wait.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use driver_kit::{Driver, new_session_key};

use crate::exports::roster::coordination::backend::{
    ChangeBatch, Feed, GroupSummary, LockAttempt, LockStanding, ResyncNeeded, SessionKey, StoreInfo,
};
use crate::files::{Dir, HeaderCache, LogRead};
use crate::model::{Body, FORMAT, Header, LogPos, Model};
use crate::roster::coordination::types::MembershipEvent;
use crate::roster::coordination::types::{
    CoordinationError, Leader, LockInfo, LockMode, MemberInfo,
};
use crate::{Result, log_warn, now_ms, random_hex};

/// Capabilities one `changes` answer carries at most (beyond its first event), in bytes.
const BATCH_BUDGET: usize = 8 << 20;
/// First pause of a `changes` poll with nothing new; it doubles up to [`MAX_POLL_PAUSE`].
const FIRST_POLL_PAUSE: Duration = Duration::from_millis(2);
const MAX_POLL_PAUSE: Duration = Duration::from_millis(50);

/// One store: a directory, as one driver instance uses it.
#[derive(Debug)]
pub struct Store {
    dir: Dir,
    history: u64,
    max_capabilities: usize,
    /// The store id the caller follows (as of `open`, its last `describe`, or the last
    /// resync `changes` asked for): another one means the directory was emptied and the
    /// store started over.
    id: String,
    /// What the change feed's last check read.
    polled: Option<HeaderCache>,
}

fn io_error(dir: &Dir, error: &std::io::Error) -> CoordinationError {
    CoordinationError::Connection(format!("file store {}: {error}", dir.root().display()))
}

fn encode_error(dir: &Dir, error: &serde_json::Error) -> CoordinationError {
    CoordinationError::Connection(format!(
        "file store {}: the state cannot be written ({error})",
        dir.root().display()
    ))
}

/// A new store's header: no change yet.
fn empty_header() -> Header {
    Header {
        v: FORMAT,
        id: random_hex(),
        head: 0,
        oldest: 1,
        deadline: 0,
        log: LogPos::default(),
        len: 0,
    }
}

impl Store {
    /// The state in the directory, `None` when there is none yet, with the body's bytes as
    /// read and this instance's capability limit in force.
    fn read_state(&self) -> Result<Option<(Header, Body, Vec<u8>)>> {
        let state = self.dir.read_state().map_err(|e| io_error(&self.dir, &e))?;
        Ok(state.map(|(header, mut body, bytes)| {
            body.set_max_capabilities(self.max_capabilities);
            (header, body, bytes)
        }))
    }

    /// Run `op` under the lock, after the expiry sweep, and write back what it changed
    /// (whether it succeeded or not): the events it committed, and the state when it is no
    /// longer the one read.
    fn locked<T>(&mut self, op: &dyn Fn(&mut Model) -> Result<T>) -> Result<T> {
        let guard = self.dir.lock().map_err(|e| io_error(&self.dir, &e))?;
        let (header, body, bytes) = match self.read_state()? {
            Some(state) => state,
            None => {
                // A new store, or one whose directory was emptied: it starts over, with a new
                // id.
                self.dir.prepare().map_err(|e| io_error(&self.dir, &e))?;
                let mut header = empty_header();
                let body = Body::new(self.max_capabilities);
                let bytes = serde_json::to_vec(&body).map_err(|e| encode_error(&self.dir, &e))?;
                guard
                    .commit(&mut header, &bytes, &[])
                    .map_err(|e| io_error(&self.dir, &e))?;
                (header, body, bytes)
            }
        };
        let mut model = Model::new(header, body, now_ms());
        model.expire_due();
        let answer = op(&mut model);
        let events: Vec<_> = model.body.take_events().collect();
        let written = serde_json::to_vec(&model.body).map_err(|e| encode_error(&self.dir, &e))?;
        let deadline = model.deadline();
        // (A header whose deadline is not the body's is rewritten too, whatever made it so:
        // the change feed relies on it.)
        if !events.is_empty() || written != bytes || deadline != model.header.deadline {
            let mut header = model.header;
            header.head = model.body.head();
            if !events.is_empty() {
                let kept_from = (header.head + 1).saturating_sub(self.history).max(1);
                header.oldest = header.oldest.max(kept_from);
            }
            header.deadline = deadline;
            let started = guard
                .commit(&mut header, &written, &events)
                .map_err(|e| io_error(&self.dir, &e))?;
            if started && let Err(e) = guard.prune(header.oldest) {
                log_warn(&format!("removing old change-log segments: {e}"));
            }
        }
        drop(guard);
        answer
    }

    /// Run `op`, which changes nothing, on the state as it is, without the lock; under the
    /// lock instead when a session is due to expire first.
    fn read<T>(&mut self, op: &dyn Fn(&Model) -> Result<T>) -> Result<T> {
        if let Some((header, body, _)) = self.read_state()? {
            let model = Model::new(header, body, now_ms());
            if !model.due() {
                return op(&model);
            }
        }
        self.locked(&|model| op(model))
    }

    /// The answer to `changes` at `header`, or `None` when there is nothing to say yet.
    fn feed(&mut self, header: &Header, after: u64, max: u32) -> Result<Option<Feed>> {
        let resync = |requested, oldest| {
            Some(Feed::Resync(ResyncNeeded {
                requested,
                oldest,
                head: header.head,
            }))
        };
        // The directory was emptied and the store started over: its revisions are not the
        // ones the caller follows.
        if header.id != self.id || after > header.head {
            self.id.clone_from(&header.id);
            return Ok(resync(after + 1, header.head + 1));
        }
        let from = after.saturating_add(1).max(1);
        if from < header.oldest && from <= header.head {
            return Ok(resync(from, header.oldest));
        }
        if max == 0 {
            return Ok(Some(Feed::Events(ChangeBatch {
                events: Vec::new(),
                head: header.head,
                store_id: header.id.clone(),
            })));
        }
        if from > header.head {
            return Ok(None);
        }
        let read = self
            .dir
            .read_log(from, header, max as usize, BATCH_BUDGET)
            .map_err(|e| io_error(&self.dir, &e))?;
        let events = match read {
            LogRead::Events(events) => events,
            LogRead::Missing => {
                // Pruned since the header was read, or the log files are gone: either way
                // the caller starts over from the store as it is now.
                let now = self
                    .dir
                    .read_header()
                    .map_err(|e| io_error(&self.dir, &e))?
                    .unwrap_or_else(|| header.clone());
                if from >= now.oldest {
                    log_warn(&format!(
                        "the change log has no revision {from} though it should (head {}, oldest {})",
                        now.head, now.oldest
                    ));
                }
                return Ok(Some(Feed::Resync(ResyncNeeded {
                    requested: from,
                    oldest: now.oldest.max(from + 1),
                    head: now.head,
                })));
            }
        };
        let events = events.into_iter().map(MembershipEvent::from).collect();
        Ok(Some(Feed::Events(ChangeBatch {
            events,
            head: header.head,
            store_id: header.id.clone(),
        })))
    }
}

impl Driver for Store {
    const NAME: &'static str = "file";

    /// Open the store in the options' `directory` (the preopened directory's name), making
    /// it if the directory is empty. Options: `history`, `max_capabilities`; others
    /// (`timeout`, ...) are the host's.
    fn open(options: &[(String, String)]) -> Result<Self> {
        let options = driver_kit::Options::new(options, "file:///");
        let directory = options.required(
            "directory",
            "the file driver needs a directory (file:///DIR)",
        )?;
        let history = options.history()?;
        let max_capabilities = usize::try_from(options.max_capabilities()?).unwrap_or(usize::MAX);
        let mut store = Self {
            dir: Dir::new(PathBuf::from(directory), random_hex()),
            history,
            max_capabilities,
            id: String::new(),
            polled: None,
        };
        store.dir.prepare().map_err(|e| io_error(&store.dir, &e))?;
        store.id = store.locked(&|m| Ok(m.header.id.clone()))?;
        store.dir.remove_leftovers();
        Ok(store)
    }

    fn describe(&mut self) -> Result<StoreInfo> {
        let (id, head, groups) = self.read(&|m| Ok((m.header.id.clone(), m.head(), m.groups())))?;
        self.id.clone_from(&id);
        Ok(StoreInfo {
            store_id: id,
            head,
            groups,
        })
    }

    fn head(&mut self) -> Result<u64> {
        self.read(&|m| Ok(m.head()))
    }

    /// A session key names its member and TTL after a random part, so a session that was
    /// forgotten (expired long ago) can come back as the same member.
    fn open_session(&mut self, member: &str, ttl_ms: u64) -> Result<SessionKey> {
        let key = new_session_key(member, ttl_ms);
        self.locked(&|m| m.open_session(&key))
    }

    fn close_session(&mut self, session: &str) -> Result<u64> {
        self.locked(&|m| m.close_session(session))
    }

    fn heartbeat(&mut self, session: &str) -> Result<u64> {
        self.locked(&|m| m.heartbeat(session))
    }

    fn create_group(&mut self, group: &str) -> Result<u64> {
        self.locked(&|m| m.create_group(group))
    }

    fn delete_group(&mut self, group: &str) -> Result<u64> {
        self.locked(&|m| m.delete_group(group))
    }

    fn groups(&mut self) -> Result<Vec<String>> {
        self.read(&|m| Ok(m.groups()))
    }

    fn group_summaries(&mut self) -> Result<(u64, Vec<GroupSummary>)> {
        self.read(&|m| Ok(m.group_summaries()))
    }

    fn join(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
        create: bool,
    ) -> Result<u64> {
        self.locked(&|m| m.join(session, group, capabilities, create))
    }

    fn leave(&mut self, session: &str, group: &str) -> Result<u64> {
        self.locked(&|m| m.leave(session, group))
    }

    fn update_capabilities(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
    ) -> Result<u64> {
        self.locked(&|m| m.update_capabilities(session, group, capabilities))
    }

    /// The member ids of `group` (read as their infos: this store keeps them together).
    fn get_members(&mut self, group: &str) -> Result<Vec<String>> {
        Ok(self
            .get_members_info(group)?
            .into_iter()
            .map(|(member, _)| member)
            .collect())
    }

    fn get_members_info(&mut self, group: &str) -> Result<Vec<(String, MemberInfo)>> {
        self.read(&|m| m.members_info(group))
    }

    fn get_member_info(&mut self, group: &str, member: &str) -> Result<MemberInfo> {
        self.read(&|m| m.member_info(group, member))
    }

    fn get_leader(&mut self, group: &str) -> Result<Option<Leader>> {
        self.read(&|m| m.leader(group))
    }

    fn stand(&mut self, session: &str, group: &str) -> Result<u64> {
        self.locked(&|m| m.stand(session, group))
    }

    fn withdraw(&mut self, session: &str, group: &str) -> Result<u64> {
        self.locked(&|m| m.withdraw(session, group))
    }

    fn stand_down(&mut self, session: &str, group: &str) -> Result<(bool, u64)> {
        self.locked(&|m| m.stand_down(session, group))
    }

    fn acquire_lock(
        &mut self,
        session: &str,
        lock: &str,
        mode: LockMode,
        wait: bool,
    ) -> Result<(LockAttempt, u64)> {
        self.locked(&|m| m.acquire_lock(session, lock, mode, wait))
    }

    fn release_lock(&mut self, session: &str, lock: &str) -> Result<(Option<u64>, u64)> {
        self.locked(&|m| m.release_lock(session, lock))
    }

    fn abandon_lock_wait(&mut self, session: &str, lock: &str) -> Result<(Option<u64>, u64)> {
        self.locked(&|m| m.abandon_lock_wait(session, lock))
    }

    fn break_lock(&mut self, _session: &str, lock: &str) -> Result<(Vec<u64>, u64)> {
        self.locked(&|m| m.break_lock(lock))
    }

    fn lock_standing(&mut self, session: &str, lock: &str) -> Result<LockStanding> {
        self.read(&|m| m.lock_standing(session, lock))
    }

    fn get_lock(&mut self, lock: &str) -> Result<LockInfo> {
        self.read(&|m| m.lock_info(lock))
    }

    fn get_locks(&mut self) -> Result<Vec<LockInfo>> {
        self.read(&|m| Ok(m.locks()))
    }

    /// The events after `after`. Each check reads the state's first line only (head,
    /// oldest, next deadline), or just `stat`s it when it has not changed for a while; when
    /// a session is due it first expires it under the lock.
    /// With nothing new it checks again after a pause that starts at a few milliseconds and
    /// doubles while nothing happens, never sleeping past the next deadline, until `wait_ms`
    /// has passed in all.
    fn changes(&mut self, after: u64, max: u32, wait_ms: u64) -> Result<Feed> {
        let started = Instant::now();
        let wait = Duration::from_millis(wait_ms);
        let mut pause = FIRST_POLL_PAUSE;
        loop {
            let header = match self
                .dir
                .poll_header(&mut self.polled)
                .map_err(|e| io_error(&self.dir, &e))?
            {
                Some(header) if header.deadline == 0 || header.deadline > now_ms() => header,
                // A session is due (or there is no state yet): expire it first.
                _ => {
                    self.locked(&|_| Ok(()))?;
                    continue;
                }
            };
            if let Some(feed) = self.feed(&header, after, max)? {
                return Ok(feed);
            }
            let left = wait.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Ok(Feed::Events(ChangeBatch {
                    events: Vec::new(),
                    head: header.head,
                    store_id: header.id.clone(),
                }));
            }
            let mut nap = pause.min(left);
            if header.deadline != 0 {
                let due = Duration::from_millis(header.deadline.saturating_sub(now_ms()));
                nap = nap.min(due.max(Duration::from_millis(1)));
            }
            std::thread::sleep(nap);
            pause = (pause * 2).min(MAX_POLL_PAUSE);
        }
    }
}
