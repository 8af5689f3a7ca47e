//! The driver's operations: options, script calls and the change feed's wait.

use std::time::{Duration, Instant};

use redis_protocol::resp2::types::OwnedFrame;

use driver_kit::Driver;

use crate::Result;
use crate::conn::Conn;
use crate::exports::roster::coordination::backend::{
    ChangeBatch, Feed, GroupSummary, LockAttempt, LockHold, LockStanding, ResyncNeeded, SessionKey,
    StoreInfo,
};
use crate::reply::{Reply, event};
use crate::roster::coordination::types::{
    CoordinationError, Leader, LockInfo, LockMode, MemberInfo, MembershipEvent,
};
use crate::scripts::{self, Script};

/// One store: a namespace of one Redis server.
#[derive(Debug)]
pub struct Store {
    conn: Conn,
    /// Every key starts with it: `{namespace}:`.
    prefix: String,
    /// The revision counter's key, named to Redis as the scripts' one key (its hash slot is
    /// every key's).
    rev_key: String,
    log_key: String,
    history: String,
    max_capabilities: u64,
    /// How the operations are called.
    calls: Calls,
}

/// How a [`Store`] calls its operations on the server.
#[derive(Debug)]
enum Calls {
    /// The functions of the operations' [library](scripts::library), by `FCALL` (Redis 7
    /// and later).
    Functions,
    /// Each operation's script by `EVALSHA`, its SHA1 as `SCRIPT LOAD` returned it, by
    /// [`Script::index`] (servers without functions).
    Scripts(Vec<String>),
}

/// Why the operations' library was not loaded.
enum Unloaded {
    /// The server has no functions, or this client may not load them: use scripts.
    NoFunctions,
    /// Anything else: the call fails with it.
    Failed(CoordinationError),
}

use driver_kit::{new_session_key, random_hex};

impl Store {
    /// This end of the connection, while connected.
    #[cfg(test)]
    pub fn local_address(&self) -> Option<String> {
        self.conn.local_address()
    }

    /// [`Driver::open`], calling the operations as functions when `functions` and the
    /// server has them, else as scripts (which tests choose, to cover servers before
    /// Redis 7).
    pub(crate) fn connect(options: &[(String, String)], functions: bool) -> Result<Self> {
        let (address, options) = driver_kit::Options::of_server(options, "redis", "redis")?;
        let namespace = options.namespace(
            &['{', '}'],
            "1 to 255 bytes without braces or control characters",
        )?;
        let history = options.history()?;
        let max_capabilities = options.max_capabilities()?;
        let prefix = format!("{{{namespace}}}:");
        let mut store = Self {
            conn: Conn::new(address.to_owned()),
            rev_key: format!("{prefix}rev"),
            log_key: format!("{prefix}log"),
            prefix,
            history: history.to_string(),
            max_capabilities,
            calls: Calls::Scripts(Vec::new()),
        };
        store.load(functions)?;
        Ok(store)
    }

    /// Whether the operations are called as functions of their library.
    #[cfg(test)]
    pub fn calls_functions(&self) -> bool {
        matches!(self.calls, Calls::Functions)
    }

    fn connection_error(&self, message: impl std::fmt::Display) -> CoordinationError {
        CoordinationError::Connection(format!("redis at {}: {message}", self.conn.address()))
    }

    fn request(&mut self, args: &[&[u8]], wait: Duration) -> Result<OwnedFrame> {
        self.conn
            .request(args, wait)
            .map_err(CoordinationError::Connection)
    }

    /// Make the operations callable: load their library (which also checks that the server
    /// runs Lua), or on a server without functions (before Redis 7, or one whose ACL denies
    /// `FUNCTION`) and when `functions` is false, `SCRIPT LOAD` each operation's script.
    fn load(&mut self, functions: bool) -> Result<()> {
        if functions {
            match self.load_library() {
                Ok(()) => {
                    self.calls = Calls::Functions;
                    return Ok(());
                }
                Err(Unloaded::NoFunctions) => {}
                Err(Unloaded::Failed(error)) => return Err(error),
            }
        }
        let mut shas = Vec::with_capacity(Script::ALL.len());
        for script in Script::ALL {
            let source = script.source();
            match self.request(&[b"SCRIPT", b"LOAD", source.as_bytes()], Duration::ZERO)? {
                OwnedFrame::BulkString(sha) => {
                    shas.push(String::from_utf8_lossy(&sha).into_owned())
                }
                OwnedFrame::Error(message) => {
                    return Err(self.connection_error(format!("loading {script:?}: {message}")));
                }
                other => return Err(self.connection_error(format!("SCRIPT LOAD said {other:?}"))),
            }
        }
        self.calls = Calls::Scripts(shas);
        Ok(())
    }

    /// `FUNCTION LOAD` the operations' library; one already loaded (by another client of
    /// this version) will do.
    fn load_library(&mut self) -> std::result::Result<(), Unloaded> {
        let library = scripts::library().as_bytes();
        match self
            .request(&[b"FUNCTION", b"LOAD", library], Duration::ZERO)
            .map_err(Unloaded::Failed)?
        {
            OwnedFrame::BulkString(_) => Ok(()),
            OwnedFrame::Error(message) if message.contains("already exists") => Ok(()),
            OwnedFrame::Error(message)
                if message.starts_with("ERR unknown command") || message.starts_with("NOPERM") =>
            {
                Err(Unloaded::NoFunctions)
            }
            OwnedFrame::Error(message) => Err(Unloaded::Failed(
                self.connection_error(format!("loading the library: {message}")),
            )),
            other => Err(Unloaded::Failed(
                self.connection_error(format!("FUNCTION LOAD said {other:?}")),
            )),
        }
    }

    /// Run `script` with its own arguments; returns its reply past the status word, which
    /// is returned too (`ok`, or `events`/`resync` for `changes`). A script's `err` reply
    /// becomes the coordination error it names.
    fn run(&mut self, script: Script, args: &[&[u8]]) -> Result<(String, Reply)> {
        let mut frame = self.send(script, args, false)?;
        let lost = match &frame {
            OwnedFrame::Error(message) => {
                message.contains("Function not found") || message.starts_with("NOSCRIPT")
            }
            _ => false,
        };
        if lost {
            // The server lost its functions or its script cache (a restart without
            // persistence, FUNCTION FLUSH or SCRIPT FLUSH, a failover to a server without
            // them): load the library again, or send the script itself, which caches it.
            if let Calls::Functions = self.calls {
                self.load_library().map_err(|unloaded| match unloaded {
                    Unloaded::Failed(error) => error,
                    Unloaded::NoFunctions => {
                        self.connection_error("the server no longer runs functions")
                    }
                })?;
            }
            frame = self.send(script, args, true)?;
        }
        let mut reply = Reply::new(frame, self.conn.address())?;
        let status = reply.text()?;
        if status == "err" {
            return Err(reply.error());
        }
        Ok((status, reply))
    }

    /// Call `script`'s function, or its script by SHA1 (by its source when `source`).
    fn send(&mut self, script: Script, args: &[&[u8]], source: bool) -> Result<OwnedFrame> {
        let text;
        let mut command: Vec<&[u8]> = Vec::with_capacity(6 + args.len());
        match &self.calls {
            Calls::Functions => command.extend([b"FCALL".as_slice(), script.function().as_bytes()]),
            Calls::Scripts(_) if source => {
                text = script.source();
                command.extend([b"EVAL".as_slice(), text.as_bytes()]);
            }
            Calls::Scripts(shas) => {
                command.extend([b"EVALSHA".as_slice(), shas[script.index()].as_bytes()])
            }
        }
        command.extend([
            b"1".as_slice(),
            self.rev_key.as_bytes(),
            self.prefix.as_bytes(),
            self.history.as_bytes(),
        ]);
        command.extend_from_slice(args);
        self.conn
            .request(&command, Duration::ZERO)
            .map_err(CoordinationError::Connection)
    }

    /// Run a script whose only good answer is `ok`.
    fn ok(&mut self, script: Script, args: &[&[u8]]) -> Result<Reply> {
        let (status, reply) = self.run(script, args)?;
        if status != "ok" {
            return Err(CoordinationError::Connection(format!(
                "redis at {}: {script:?} answered {status:?}",
                self.conn.address()
            )));
        }
        Ok(reply)
    }

    /// Run a script that answers with one revision (or another number).
    fn number(&mut self, script: Script, args: &[&[u8]]) -> Result<u64> {
        self.ok(script, args)?.number()
    }

    /// Wait until the log has entries after `head` (up to `max` of them, returned), or
    /// `block` has passed (nothing returned).
    fn wait_for_change(&mut self, head: u64, max: u32, block: Duration) -> Result<Vec<OwnedFrame>> {
        let ms = block.as_millis().max(1).to_string();
        let from = format!("{head}-0");
        let count = max.max(1).to_string();
        let log_key = self.log_key.clone();
        match self.request(
            &[
                b"XREAD",
                b"COUNT",
                count.as_bytes(),
                b"BLOCK",
                ms.as_bytes(),
                b"STREAMS",
                log_key.as_bytes(),
                from.as_bytes(),
            ],
            block,
        )? {
            OwnedFrame::Error(message) => Err(self.connection_error(message)),
            // One stream: `[[key, [entry, ...]]]`.
            OwnedFrame::Array(streams) => Ok(streams
                .into_iter()
                .next()
                .and_then(|stream| match stream {
                    OwnedFrame::Array(parts) => parts.into_iter().nth(1),
                    _ => None,
                })
                .and_then(|entries| match entries {
                    OwnedFrame::Array(entries) => Some(entries),
                    _ => None,
                })
                .unwrap_or_default()),
            _ => Ok(Vec::new()),
        }
    }
}

impl Driver for Store {
    const NAME: &'static str = "redis";

    /// Connect with the backend URL's options: `address` (required), `namespace`,
    /// `history`, `max_capabilities`; others (`timeout`, ...) are the host's.
    fn open(options: &[(String, String)]) -> Result<Self> {
        Self::connect(options, true)
    }

    fn describe(&mut self) -> Result<StoreInfo> {
        let id = random_hex();
        let mut reply = self.ok(Script::Describe, &[id.as_bytes()])?;
        Ok(StoreInfo {
            store_id: reply.text()?,
            head: reply.number()?,
            groups: reply.nested()?.texts()?,
        })
    }

    fn head(&mut self) -> Result<u64> {
        self.number(Script::Head, &[])
    }

    /// A session key names its member and TTL after a random part, so a session Redis has
    /// forgotten (expired long ago) can come back as the same member.
    fn open_session(&mut self, member: &str, ttl_ms: u64) -> Result<SessionKey> {
        let key = new_session_key(member, ttl_ms);
        self.ok(Script::OpenSession, &[key.as_bytes()])?.text()
    }

    fn close_session(&mut self, session: &str) -> Result<u64> {
        self.number(Script::CloseSession, &[session.as_bytes()])
    }

    fn heartbeat(&mut self, session: &str) -> Result<u64> {
        self.number(Script::Heartbeat, &[session.as_bytes()])
    }

    fn create_group(&mut self, group: &str) -> Result<u64> {
        self.number(Script::CreateGroup, &[group.as_bytes()])
    }

    fn delete_group(&mut self, group: &str) -> Result<u64> {
        self.number(Script::DeleteGroup, &[group.as_bytes()])
    }

    fn groups(&mut self) -> Result<Vec<String>> {
        self.ok(Script::Groups, &[])?.nested()?.texts()
    }

    fn group_summaries(&mut self) -> Result<(u64, Vec<GroupSummary>)> {
        let mut reply = self.ok(Script::GroupSummaries, &[])?;
        let head = reply.number()?;
        let mut summaries = Vec::new();
        for group in reply.list()? {
            let mut g = Reply::new(group, self.conn.address())?;
            let group_id = g.text()?;
            let members = g.number()?;
            let last_change = g.number()?;
            let leader = match (g.optional_text()?, g.optional_number()?) {
                (Some(member_id), Some(term)) => Some(Leader { member_id, term }),
                _ => None,
            };
            summaries.push(GroupSummary {
                group_id,
                members,
                leader,
                last_change,
            });
        }
        Ok((head, summaries))
    }

    fn join(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
        create: bool,
    ) -> Result<u64> {
        let limit = self.max_capabilities.to_string();
        let create: &[u8] = if create { b"1" } else { b"0" };
        self.number(
            Script::Join,
            &[
                session.as_bytes(),
                group.as_bytes(),
                capabilities,
                create,
                limit.as_bytes(),
            ],
        )
    }

    fn leave(&mut self, session: &str, group: &str) -> Result<u64> {
        self.number(Script::Leave, &[session.as_bytes(), group.as_bytes()])
    }

    fn update_capabilities(
        &mut self,
        session: &str,
        group: &str,
        capabilities: &[u8],
    ) -> Result<u64> {
        let limit = self.max_capabilities.to_string();
        self.number(
            Script::UpdateCapabilities,
            &[
                session.as_bytes(),
                group.as_bytes(),
                capabilities,
                limit.as_bytes(),
            ],
        )
    }

    fn get_members(&mut self, group: &str) -> Result<Vec<String>> {
        self.ok(Script::Members, &[group.as_bytes()])?
            .nested()?
            .texts()
    }

    fn get_members_info(&mut self, group: &str) -> Result<Vec<(String, MemberInfo)>> {
        let address = self.conn.address().to_owned();
        let mut reply = self.ok(Script::MembersInfo, &[group.as_bytes()])?;
        reply
            .list()?
            .into_iter()
            .map(|record| member_record(Reply::new(record, &address)?))
            .collect()
    }

    fn get_member_info(&mut self, group: &str, member: &str) -> Result<MemberInfo> {
        let mut reply = self.ok(Script::MemberInfo, &[group.as_bytes(), member.as_bytes()])?;
        member_record(reply.nested()?).map(|(_, info)| info)
    }

    fn get_leader(&mut self, group: &str) -> Result<Option<Leader>> {
        let mut reply = self.ok(Script::Leader, &[group.as_bytes()])?;
        Ok(match reply.optional_text()? {
            Some(member_id) => Some(Leader {
                member_id,
                term: reply.number()?,
            }),
            None => None,
        })
    }

    fn stand(&mut self, session: &str, group: &str) -> Result<u64> {
        self.number(Script::Stand, &[session.as_bytes(), group.as_bytes()])
    }

    fn withdraw(&mut self, session: &str, group: &str) -> Result<u64> {
        self.number(Script::Withdraw, &[session.as_bytes(), group.as_bytes()])
    }

    fn stand_down(&mut self, session: &str, group: &str) -> Result<(bool, u64)> {
        let mut reply = self.ok(Script::StandDown, &[session.as_bytes(), group.as_bytes()])?;
        let was_leader = reply.number()? == 1;
        Ok((was_leader, reply.number()?))
    }

    fn acquire_lock(
        &mut self,
        session: &str,
        lock: &str,
        mode: LockMode,
        wait: bool,
    ) -> Result<(LockAttempt, u64)> {
        let wait: &[u8] = if wait { b"1" } else { b"0" };
        let mut reply = self.ok(
            Script::AcquireLock,
            &[session.as_bytes(), lock.as_bytes(), mode_name(mode), wait],
        )?;
        let state = reply.text()?;
        let token = reply.number()?;
        let attempt = match state.as_str() {
            "acquired" => LockAttempt::Acquired(token),
            "queued" => LockAttempt::Queued,
            _ => LockAttempt::Busy,
        };
        Ok((attempt, reply.number()?))
    }

    fn release_lock(&mut self, session: &str, lock: &str) -> Result<(Option<u64>, u64)> {
        let mut reply = self.ok(Script::ReleaseLock, &[session.as_bytes(), lock.as_bytes()])?;
        Ok((token(reply.number()?), reply.number()?))
    }

    fn abandon_lock_wait(&mut self, session: &str, lock: &str) -> Result<(Option<u64>, u64)> {
        let mut reply = self.ok(
            Script::AbandonLockWait,
            &[session.as_bytes(), lock.as_bytes()],
        )?;
        Ok((token(reply.number()?), reply.number()?))
    }

    fn break_lock(&mut self, session: &str, lock: &str) -> Result<(Vec<u64>, u64)> {
        let mut reply = self.ok(Script::BreakLock, &[session.as_bytes(), lock.as_bytes()])?;
        let head = reply.number()?;
        let mut tokens = reply.nested()?;
        let mut broken = Vec::new();
        while let Some(token) = tokens.optional_number()? {
            broken.push(token);
        }
        Ok((broken, head))
    }

    fn lock_standing(&mut self, session: &str, lock: &str) -> Result<LockStanding> {
        let mut reply = self.ok(Script::LockStanding, &[session.as_bytes(), lock.as_bytes()])?;
        Ok(match reply.text()?.as_str() {
            "holding" => LockStanding::Holding(LockHold {
                mode: reply.mode()?,
                token: reply.number()?,
            }),
            "waiting" => LockStanding::Waiting(reply.mode()?),
            _ => LockStanding::Neither,
        })
    }

    fn get_lock(&mut self, lock: &str) -> Result<LockInfo> {
        self.ok(Script::GetLock, &[lock.as_bytes()])?
            .nested()?
            .lock_info()
    }

    fn get_locks(&mut self) -> Result<Vec<LockInfo>> {
        let address = self.conn.address().to_owned();
        self.ok(Script::GetLocks, &[])?
            .list()?
            .into_iter()
            .map(|record| Reply::new(record, &address)?.lock_info())
            .collect()
    }

    /// The events after `after`: read with plain commands in one transaction ([`Peek`])
    /// while there are new ones or nothing is due, else by the `changes` script (which first
    /// expires whatever is due, and tells when history is lost); when there are none yet,
    /// wait on the change log (XREAD BLOCK) for at most `wait_ms` in all, and never past the
    /// next session deadline, then read again. So a member expires on time even when no one
    /// calls, and this call reports it.
    fn changes(&mut self, after: u64, max: u32, wait_ms: u64) -> Result<Feed> {
        let started = Instant::now();
        let wait = Duration::from_millis(wait_ms);
        let after_arg = after.to_string();
        let max_arg = max.to_string();
        loop {
            let address = self.conn.address().to_owned();
            let left = wait.saturating_sub(started.elapsed());
            let (head, next_deadline, store_id) = match self.peek(after, max)? {
                Peek::Events(batch) => return Ok(Feed::Events(batch)),
                Peek::Quiet {
                    head,
                    next_deadline,
                    store_id,
                } => {
                    if left.is_zero() {
                        return Ok(Feed::Events(ChangeBatch {
                            events: Vec::new(),
                            head,
                            store_id,
                        }));
                    }
                    (head, next_deadline, store_id)
                }
                Peek::AskTheScript => {
                    let (status, mut reply) =
                        self.run(Script::Changes, &[after_arg.as_bytes(), max_arg.as_bytes()])?;
                    if status == "resync" {
                        return Ok(Feed::Resync(ResyncNeeded {
                            requested: reply.number()?,
                            oldest: reply.number()?,
                            head: reply.number()?,
                        }));
                    }
                    let head = reply.number()?;
                    let next_deadline = reply.number().ok().map(Duration::from_millis);
                    let events = reply
                        .list()?
                        .into_iter()
                        .map(|entry| event(entry, &address))
                        .collect::<Result<Vec<_>>>()?;
                    let store_id = reply.text()?;
                    let left = wait.saturating_sub(started.elapsed());
                    if !events.is_empty() || max == 0 || left.is_zero() {
                        return Ok(Feed::Events(ChangeBatch {
                            events,
                            head,
                            store_id,
                        }));
                    }
                    (head, next_deadline, store_id)
                }
            };
            let connection = self.conn.connections();
            // No deadline (no live session): wait the whole time left.
            let block = next_deadline
                .map_or(left, |due| left.min(due))
                .max(Duration::from_millis(1));
            // New entries are returned as they come: the next poll reads on, and a wait
            // that times out loops to a read that sweeps expiries when one is due.
            let entries = self.wait_for_change(head, max, block)?;
            // Entries read on another connection than the read before may be another
            // server's (one that came back without its data): read them again.
            if !entries.is_empty() && self.conn.connections() == connection {
                let events = entries
                    .into_iter()
                    .map(|entry| event(entry, &address))
                    .collect::<Result<Vec<_>>>()?;
                let contiguous = events.first().map(revision_of) == Some(head + 1);
                if contiguous {
                    let head = events.last().map_or(head, revision_of);
                    return Ok(Feed::Events(ChangeBatch {
                        events,
                        head,
                        store_id,
                    }));
                }
            }
        }
    }
}

/// What a [`Store::peek`] found.
enum Peek {
    /// Events from `after + 1` on, contiguous, at most `max`.
    Events(ChangeBatch),
    /// Nothing after `after`, which is the head, and no session due to expire.
    Quiet {
        head: u64,
        /// How long until the next session deadline; `None` when no session is live.
        next_deadline: Option<Duration>,
        store_id: String,
    },
    /// Anything else (a session due to expire, history that may be lost, a store whose head
    /// is behind `after`, a poll for the head alone): the `changes` script answers.
    AskTheScript,
}

impl Store {
    /// Read the change log after `after` with plain commands in one transaction (the store
    /// id, the head, up to `max` entries, the next session deadline and the server's
    /// clock): one round trip that runs no Lua, which a feed following a busy store makes
    /// at every poll. Each entry costs the server a fraction of what returning it from a
    /// script does. Expiry needs the script's sweep, so a deadline that has come is left
    /// to it, as are the cases where history may be lost.
    fn peek(&mut self, after: u64, max: u32) -> Result<Peek> {
        if max == 0 {
            return Ok(Peek::AskTheScript);
        }
        let id_key = format!("{}id", self.prefix);
        let from = format!("{}-0", after.saturating_add(1));
        let count = max.to_string();
        let deadlines_key = format!("{}deadlines", self.prefix);
        let frame = self
            .conn
            .transaction(&[
                &[b"GET", id_key.as_bytes()],
                &[b"GET", self.rev_key.as_bytes()],
                &[
                    b"XRANGE",
                    self.log_key.as_bytes(),
                    from.as_bytes(),
                    b"+",
                    b"COUNT",
                    count.as_bytes(),
                ],
                &[
                    b"ZRANGE",
                    deadlines_key.as_bytes(),
                    b"0",
                    b"0",
                    b"WITHSCORES",
                ],
                &[b"TIME"],
            ])
            .map_err(CoordinationError::Connection)?;
        let address = self.conn.address();
        let mut reply = Reply::new(frame, address)?;
        let store_id = reply.optional_text()?.unwrap_or_default();
        let head = reply.optional_number()?.unwrap_or(0);
        let entries = reply.list()?;
        if !entries.is_empty() {
            let events = entries
                .into_iter()
                .map(|entry| event(entry, address))
                .collect::<Result<Vec<_>>>()?;
            if events.first().map(revision_of) != Some(after + 1) {
                return Ok(Peek::AskTheScript);
            }
            return Ok(Peek::Events(ChangeBatch {
                events,
                head,
                store_id,
            }));
        }
        if head != after {
            return Ok(Peek::AskTheScript);
        }
        // `[]`, or `[session, deadline]` (whole milliseconds, so Redis sends digits).
        let mut deadline = reply.nested()?;
        deadline.next();
        let next_deadline = deadline.optional_number()?;
        let mut time = reply.nested()?;
        let now_ms = time.number()? * 1000 + time.number()? / 1000;
        match next_deadline {
            Some(due) if due <= now_ms => Ok(Peek::AskTheScript),
            due => Ok(Peek::Quiet {
                head,
                next_deadline: due.map(|due| Duration::from_millis(due - now_ms)),
                store_id,
            }),
        }
    }
}

/// `{member, capabilities, joined, updated, revision, expires-in}` as a member's info.
fn member_record(mut record: Reply) -> Result<(String, MemberInfo)> {
    Ok((
        record.text()?,
        MemberInfo {
            capabilities: record.bytes()?,
            joined_at_ms: record.number()?,
            updated_at_ms: record.number()?,
            revision: record.number()?,
            expires_in_ms: record.number()?,
        },
    ))
}

/// A lock mode as the scripts name it (as the host's enum serializes).
fn mode_name(mode: LockMode) -> &'static [u8] {
    match mode {
        LockMode::Exclusive => b"exclusive",
        LockMode::Shared => b"shared",
    }
}

/// A fencing token a script answered with, 0 for none.
fn token(value: u64) -> Option<u64> {
    (value != 0).then_some(value)
}

/// The revision an event carries.
fn revision_of(event: &MembershipEvent) -> u64 {
    match event {
        MembershipEvent::GroupCreated(e) => e.revision,
        MembershipEvent::GroupDeleted(e) => e.revision,
        MembershipEvent::MemberJoined(e) => e.revision,
        MembershipEvent::MemberLeft(e) => e.revision,
        MembershipEvent::CapabilitiesUpdated(e) => e.revision,
        MembershipEvent::LeaderElected(e) => e.revision,
        MembershipEvent::LeaderLost(e) => e.revision,
        MembershipEvent::LockAcquired(e) => e.revision,
        MembershipEvent::LockReleased(e) => e.revision,
    }
}
