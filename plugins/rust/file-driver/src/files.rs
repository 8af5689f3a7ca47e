//! The store directory: its lock, its state file and its change log.
//!
//! ```text
//! DIR/state                      line 1: header (format, store id, head, oldest, next
//!                                deadline, the log's current segment and its committed
//!                                length, the body's length)
//!                                line 2: body (groups, members, sessions, as the rules
//!                                keep them)
//! DIR/lock                       "<owner>-<n> <acquired ms>" while someone changes the store
//! DIR/log/<first revision>.jsonl change-log segments: one JSON event per line
//! DIR/state.tmp.<owner>          the next state, while it is being written
//! ```
//!
//! WASI has no `flock`, so the lock is a file made with `create_new` (which fails when it
//! exists) and removed when done. A lock whose holder stopped without removing it (a crash,
//! an instance dropped by its host mid-call) is broken once seen unchanged for [`STALE`].
//! The state is written to a temporary file and renamed over `state`: a reader opens one
//! whole state or the one before it, never a half-written one, and the rename is the commit.
//! Log events are appended before that rename, past the committed length the state records;
//! what a crashed writer appended there is cut off by the next writer, and readers never
//! read past the committed length they read first.

use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use roster_types::Event;

use crate::model::{Body, FORMAT, Header, LogPos};
use crate::{log_warn, now_ms};

/// A lock seen unchanged for longer than this is taken to be a crashed holder's and is
/// broken. An operation holds the lock for milliseconds.
pub const STALE: Duration = Duration::from_secs(3);
/// A lock whose token was stamped longer ago than this is broken at once (its holder
/// surely stopped long ago). Far above [`STALE`], so that a wall clock set forward cannot
/// get a live lock broken.
const LONG_DEAD: Duration = Duration::from_secs(30);
/// How long an operation waits for the lock (beyond breaking a stale one) before it fails.
const LOCK_PATIENCE: Duration = Duration::from_secs(10);
/// First pause while the lock is held; it doubles up to [`MAX_LOCK_PAUSE`].
const FIRST_LOCK_PAUSE: Duration = Duration::from_micros(500);
const MAX_LOCK_PAUSE: Duration = Duration::from_millis(8);
/// A log segment takes events until it holds this many, or this many bytes.
pub const SEGMENT_EVENTS: u64 = 256;
pub const SEGMENT_BYTES: u64 = 1 << 20;
/// Temporary files of writers that stopped mid-write are removed after this long.
const LEFTOVER_AGE: Duration = Duration::from_secs(60);

/// How old a state file's modification time must be before its size and time alone are
/// taken to tell it from any later state (more than any file system's timestamp
/// granularity).
const SETTLED: Duration = Duration::from_secs(5);

/// The header a change-feed poll last read, and the state file it read it from.
#[derive(Debug)]
pub struct HeaderCache {
    /// The file's size and modification time.
    stamp: (u64, SystemTime),
    /// Whether that time was [`SETTLED`] old when the header was read.
    settled: bool,
    header: Header,
}

/// Events a read of the log found, or why it found none.
pub enum LogRead {
    /// Events from the revision asked for on, contiguous (possibly none: `from` is past the
    /// head).
    Events(Vec<Event>),
    /// The log does not have the revision asked for (a writer pruned it meanwhile, or the
    /// files are gone).
    Missing,
}

/// One store directory, as one driver instance uses it.
#[derive(Debug)]
pub struct Dir {
    root: PathBuf,
    /// This instance's random id: names its lock tokens and temporary files.
    owner: String,
    /// Locks taken so far, to tell one token of this owner from the next.
    taken: Cell<u64>,
}

/// The lock, while held; released when dropped.
pub struct Guard<'a> {
    dir: &'a Dir,
    token: String,
    /// When it was taken.
    taken: Instant,
    /// Whether the lock file turned out to hold another instance's token.
    lost: Cell<bool>,
}

/// A lock held for less than this cannot have been broken: breaking takes a lock seen
/// unchanged for [`STALE`] (or stamped [`LONG_DEAD`] ago). Within it, holding the lock needs
/// no look at the lock file.
const SURELY_HELD: Duration = Duration::from_secs(1);

fn segment_name(first: u64) -> String {
    format!("{first:020}.jsonl")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_suffix(".jsonl")?.parse().ok()
}

/// `(owner, acquired ms)` of a lock token.
fn parse_token(token: &str) -> Option<(&str, u64)> {
    let (who, at) = token.trim_end().split_once(' ')?;
    let owner = who.rsplit_once('-').map_or(who, |(owner, _)| owner);
    Some((owner, at.parse().ok()?))
}

impl Dir {
    pub fn new(root: PathBuf, owner: String) -> Self {
        Self {
            root,
            owner,
            taken: Cell::new(0),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn state_path(&self) -> PathBuf {
        self.path("state")
    }

    fn lock_path(&self) -> PathBuf {
        self.path("lock")
    }

    fn log_dir(&self) -> PathBuf {
        self.path("log")
    }

    fn tmp_path(&self, owner: &str) -> PathBuf {
        self.path(&format!("state.tmp.{owner}"))
    }

    /// Make the log directory if it is missing.
    pub fn prepare(&self) -> io::Result<()> {
        match fs::create_dir(self.log_dir()) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    }

    // ----- the lock -----

    /// Take the lock: wait while someone else holds it, break it once it is stale.
    pub fn lock(&self) -> io::Result<Guard<'_>> {
        let started = Instant::now();
        let mut pause = FIRST_LOCK_PAUSE;
        // The holder's token as first seen, and when.
        let mut seen: Option<(String, Instant)> = None;
        loop {
            self.taken.set(self.taken.get() + 1);
            let token = format!("{}-{} {}\n", self.owner, self.taken.get(), now_ms());
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.lock_path())
            {
                Ok(mut file) => {
                    if let Err(e) = file.write_all(token.as_bytes()) {
                        drop(file);
                        let _ = fs::remove_file(self.lock_path());
                        return Err(e);
                    }
                    return Ok(Guard {
                        dir: self,
                        token,
                        taken: Instant::now(),
                        lost: Cell::new(false),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            let held = match fs::read_to_string(self.lock_path()) {
                Ok(held) => held,
                // Released meanwhile: try again at once.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            // How long it has been held: by how long this instance has seen the same token
            // (on the monotonic clock), or by its stamp when that is very old.
            let stamped = Duration::from_millis(
                parse_token(&held).map_or(0, |(_, at)| now_ms().saturating_sub(at)),
            );
            let watched = match &seen {
                Some((token, since)) if *token == held => since.elapsed(),
                _ => {
                    seen = Some((held.clone(), Instant::now()));
                    Duration::ZERO
                }
            };
            if watched > STALE || stamped > LONG_DEAD {
                self.break_lock(&held, watched.max(stamped));
                seen = None;
                continue;
            }
            if started.elapsed() > LOCK_PATIENCE {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the store lock is busy: held by {:?} after waiting {:?}",
                        held.trim_end(),
                        started.elapsed()
                    ),
                ));
            }
            std::thread::sleep(pause + jitter(pause));
            pause = (pause * 2).min(MAX_LOCK_PAUSE);
        }
    }

    /// Break a stale lock whose token is `stale`: move it aside (a rename: only one of the
    /// instances breaking it at once moves it), and if what was moved is still that stale
    /// lock, remove it and its holder's unfinished state. If a fresh lock was moved instead
    /// (it was broken and taken again meanwhile), put it back unless yet another lock is
    /// there; its holder finds out at commit if it is not.
    fn break_lock(&self, stale: &str, age: Duration) {
        let aside = self.path(&format!("lock.broken.{}", self.owner));
        if fs::rename(self.lock_path(), &aside).is_err() {
            return;
        }
        let moved = fs::read_to_string(&aside).unwrap_or_default();
        if moved == stale {
            log_warn(&format!(
                "broke the store lock {:?}, held for {age:?} (its holder stopped?)",
                stale.trim_end()
            ));
            if let Some((owner, _)) = parse_token(stale) {
                let _ = fs::remove_file(self.tmp_path(owner));
            }
        } else {
            let _ = fs::hard_link(&aside, self.lock_path());
        }
        let _ = fs::remove_file(&aside);
    }

    // ----- the state -----

    /// The state's header alone, `None` when there is no state yet: one `open` and (almost
    /// always) one `read`.
    pub fn read_header(&self) -> io::Result<Option<Header>> {
        let Some(mut file) = open_if_present(&self.state_path())? else {
            return Ok(None);
        };
        let mut data = Vec::new();
        let line = first_line(&mut file, &mut data, HEADER_READ)?;
        parse_header(&data[..line]).map(Some)
    }

    /// The state's header for a change-feed poll, through `cache`: when the state file has
    /// the same size and modification time as when `cache` last read its header, and that
    /// time was [`SETTLED`] old by then, it is the same file and one `stat` tells so.
    /// (Every commit renames a file written at the time of the commit into place, so a newer
    /// state cannot have that old time, however coarse the file system's timestamps.)
    pub fn poll_header(&self, cache: &mut Option<HeaderCache>) -> io::Result<Option<Header>> {
        let now = SystemTime::now();
        let stamp = match fs::metadata(self.state_path()) {
            Ok(meta) => meta.modified().ok().map(|modified| (meta.len(), modified)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if let (Some(cached), Some(stamp)) = (cache.as_ref(), stamp)
            && cached.settled
            && cached.stamp == stamp
        {
            return Ok(Some(cached.header.clone()));
        }
        let header = self.read_header()?;
        *cache = match (&header, stamp) {
            (Some(header), Some(stamp)) => Some(HeaderCache {
                stamp,
                settled: stamp.1 + SETTLED < now,
                header: header.clone(),
            }),
            _ => None,
        };
        Ok(header)
    }

    /// The whole state, `None` when there is none yet: the header, the body and the body's
    /// bytes as read (a writer compares them with the body it would write, to tell whether
    /// it changed anything). The header says how long the body is, so this reads exactly the
    /// file (no `stat`, no read to find its end).
    pub fn read_state(&self) -> io::Result<Option<(Header, Body, Vec<u8>)>> {
        let Some(mut file) = open_if_present(&self.state_path())? else {
            return Ok(None);
        };
        let mut data = Vec::new();
        let line = first_line(&mut file, &mut data, STATE_READ)?;
        let header = parse_header(&data[..line])?;
        let total = line + 1 + usize::try_from(header.len).unwrap_or(usize::MAX);
        read_up_to(&mut file, &mut data, total)?;
        if data.len() < total {
            return Err(corrupt("state", &"it is shorter than its header says"));
        }
        let mut bytes = data.split_off(line + 1);
        bytes.truncate(total - line - 1);
        // The newline that ends the body is not part of it.
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
        }
        let body = serde_json::from_slice(&bytes).map_err(|e| corrupt("state", &e))?;
        Ok(Some((header, body, bytes)))
    }

    // ----- the change log -----

    /// The log's segments, by first revision, oldest first.
    fn segments(&self) -> io::Result<Vec<u64>> {
        let mut firsts: Vec<u64> = fs::read_dir(self.log_dir())?
            .filter_map(|entry| parse_segment_name(entry.ok()?.file_name().to_str()?))
            .collect();
        firsts.sort_unstable();
        Ok(firsts)
    }

    /// Up to `max` events from revision `from` to the head of `header`, whose capabilities
    /// add up to about `budget` bytes at most (always at least one event). Reads only what
    /// writers had committed by `header`, so it needs no lock; when `from` is in the current
    /// segment (the usual case) it reads that one file, by its known length.
    pub fn read_log(
        &self,
        from: u64,
        header: &Header,
        max: usize,
        budget: usize,
    ) -> io::Result<LogRead> {
        let head = header.head;
        let current = &header.log;
        let mut out = Vec::new();
        if from > head || max == 0 {
            return Ok(LogRead::Events(out));
        }
        let segments = if current.first != 0 && from >= current.first {
            vec![current.first]
        } else {
            match self.segments() {
                Ok(segments) => segments,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LogRead::Missing),
                Err(e) => return Err(e),
            }
        };
        let Some(start) = segments.iter().rposition(|first| *first <= from) else {
            return Ok(LogRead::Missing);
        };
        let mut next = from;
        let mut size = 0;
        'segments: for first in &segments[start..] {
            if *first > next {
                break;
            }
            let path = self.log_dir().join(segment_name(*first));
            let Some(mut file) = open_if_present(&path)? else {
                break;
            };
            let mut bytes = Vec::new();
            if *first == current.first {
                let committed = usize::try_from(current.bytes).unwrap_or(usize::MAX);
                read_up_to(&mut file, &mut bytes, committed)?;
            } else {
                file.read_to_end(&mut bytes)?;
            }
            for line in bytes.split(|b| *b == b'\n') {
                // A line that does not parse is the torn end of an unfinished append: it is
                // past every committed event.
                let Ok(event) = serde_json::from_slice::<Event>(line) else {
                    break;
                };
                let revision = event.revision();
                if revision < next {
                    continue;
                }
                if revision != next || revision > head {
                    break;
                }
                size += capabilities_len(&event);
                out.push(event);
                next += 1;
                if next > head || out.len() >= max || size >= budget {
                    break 'segments;
                }
            }
        }
        Ok(if out.is_empty() {
            LogRead::Missing
        } else {
            LogRead::Events(out)
        })
    }

    /// Remove every temporary file left by a writer that stopped mid-write long ago.
    pub fn remove_leftovers(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !(name.starts_with("state.tmp.") || name.starts_with("lock.broken.")) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > LEFTOVER_AGE);
            if old {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

impl Guard<'_> {
    /// Whether this instance still holds the lock (it was not broken as stale): surely so
    /// while it has held it for less than [`SURELY_HELD`], else the lock file says.
    fn check(&self) -> io::Result<()> {
        if self.lost.get() {
            return Err(lost());
        }
        if self.taken.elapsed() < SURELY_HELD {
            return Ok(());
        }
        self.check_file()
    }

    /// Whether the lock file holds this instance's token.
    fn check_file(&self) -> io::Result<()> {
        match fs::read_to_string(self.dir.lock_path()) {
            Ok(held) if held == self.token => Ok(()),
            _ => {
                self.lost.set(true);
                Err(lost())
            }
        }
    }

    /// Write a new state: append `events` to the log (past the current segment's committed
    /// end, which `header.log` records and this moves on), then write the state (`body`, the
    /// body serialized) beside `state` and rename it over it. Returns whether a new log
    /// segment was started.
    ///
    /// The lock file is read first, however briefly the lock has been held: should two
    /// instances breaking the same stale lock at once have handed it to two holders, only
    /// the one whose token it holds writes.
    pub fn commit(&self, header: &mut Header, body: &[u8], events: &[Event]) -> io::Result<bool> {
        self.check_file()?;
        let started = if events.is_empty() {
            false
        } else {
            self.append(&mut header.log, events)?
        };
        let mut second = Vec::with_capacity(body.len() + 1);
        second.extend_from_slice(body);
        second.push(b'\n');
        header.len = second.len() as u64;
        let mut bytes = serde_json::to_vec(&*header).map_err(io::Error::other)?;
        bytes.push(b'\n');
        bytes.extend_from_slice(&second);
        let tmp = self.dir.tmp_path(&self.dir.owner);
        fs::write(&tmp, &bytes)?;
        self.check()?;
        fs::rename(&tmp, self.dir.state_path())?;
        Ok(started)
    }

    /// Append `events` to the log's current segment, starting new segments as they fill.
    fn append(&self, log: &mut LogPos, events: &[Event]) -> io::Result<bool> {
        let mut started = false;
        let mut chunk: Vec<u8> = Vec::new();
        for event in events {
            if log.first == 0 || log.count >= SEGMENT_EVENTS || log.bytes >= SEGMENT_BYTES {
                if !chunk.is_empty() {
                    self.write_segment(log, &chunk)?;
                    chunk.clear();
                }
                *log = LogPos {
                    first: event.revision(),
                    count: 0,
                    bytes: 0,
                };
                started = true;
            }
            let before = chunk.len();
            serde_json::to_writer(&mut chunk, event).map_err(io::Error::other)?;
            chunk.push(b'\n');
            log.count += 1;
            log.bytes += (chunk.len() - before) as u64;
        }
        self.write_segment(log, &chunk)?;
        Ok(started)
    }

    /// Write `chunk` at the end of the segment `log` names, whose committed length is
    /// `log.bytes` less the chunk's.
    /// (A crashed writer's bytes past the committed end are cut off first: a reader that
    /// reads a finished segment to its end must find only committed events.)
    fn write_segment(&self, log: &LogPos, chunk: &[u8]) -> io::Result<()> {
        let committed = log.bytes - chunk.len() as u64;
        let path = self.dir.log_dir().join(segment_name(log.first));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(committed == 0)
            .open(path)?;
        if committed > 0 {
            file.set_len(committed)?;
            file.seek(SeekFrom::Start(committed))?;
        }
        file.write_all(chunk)
    }

    /// Remove the segments whose every event is older than `oldest`.
    pub fn prune(&self, oldest: u64) -> io::Result<()> {
        let segments = self.dir.segments()?;
        for pair in segments.windows(2) {
            if pair[1] <= oldest {
                let path = self.dir.log_dir().join(segment_name(pair[0]));
                match fs::remove_file(path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if self.check().is_ok() {
            let _ = fs::remove_file(self.dir.lock_path());
        }
    }
}

/// The size of the capabilities an event carries (0 for a kind without any).
fn capabilities_len(event: &Event) -> usize {
    match event {
        Event::MemberJoined(e) => e.capabilities.len(),
        Event::CapabilitiesUpdated(e) => e.capabilities.len(),
        _ => 0,
    }
}

/// The first read of a state: most states fit in it.
const STATE_READ: usize = 64 << 10;
/// The first read of a header alone.
const HEADER_READ: usize = 512;

/// `path` opened for reading, `None` when it does not exist.
fn open_if_present(path: &Path) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Read up to `want` more bytes onto `data`; how many came (0 at the end of the file).
fn read_more(file: &mut File, data: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    let start = data.len();
    data.resize(start + want, 0);
    let read = loop {
        match file.read(&mut data[start..]) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => break other,
        }
    };
    data.truncate(start + *read.as_ref().unwrap_or(&0));
    read
}

/// Read onto `data` until it holds a whole first line (reading `chunk` bytes at a time);
/// returns where the line's newline is.
fn first_line(file: &mut File, data: &mut Vec<u8>, chunk: usize) -> io::Result<usize> {
    let mut searched = 0;
    loop {
        if let Some(at) = data[searched..].iter().position(|b| *b == b'\n') {
            return Ok(searched + at);
        }
        searched = data.len();
        if read_more(file, data, chunk)? == 0 {
            return Err(corrupt("state", &"its header line is cut short"));
        }
    }
}

/// Read onto `data` until it holds `total` bytes or the file ends.
fn read_up_to(file: &mut File, data: &mut Vec<u8>, total: usize) -> io::Result<()> {
    while data.len() < total {
        if read_more(file, data, total - data.len())? == 0 {
            break;
        }
    }
    Ok(())
}

fn lost() -> io::Error {
    io::Error::other(
        "lost the store lock while holding it (held past the stale limit?): nothing written",
    )
}

fn corrupt(what: &str, error: &dyn std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the store's {what} is unreadable ({error}); empty the directory to start over"),
    )
}

fn parse_header(line: &[u8]) -> io::Result<Header> {
    let header: Header = serde_json::from_slice(line).map_err(|e| corrupt("state", &e))?;
    if header.v != FORMAT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the store's state has format {} and this driver reads format {FORMAT}",
                header.v
            ),
        ));
    }
    Ok(header)
}

/// Up to `pause` more, so that instances waiting for the lock do not retry in step.
fn jitter(pause: Duration) -> Duration {
    let nanos = u64::try_from(pause.as_nanos()).unwrap_or(u64::MAX).max(1);
    Duration::from_nanos(crate::random() % nanos)
}
