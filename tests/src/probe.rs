//! Host processes for the multi-host tests: `roster-probe` (`src/bin/roster-probe.rs`) runs a
//! coordinator on a backend URL, joins a group and prints every change to it; [`Probe`]
//! starts one and reads what it printed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use roster::{Event, Revision};

/// How long a probe may take to join, or to print the next event.
const PATIENCE: Duration = Duration::from_secs(20);

/// A host process: a coordinator that joined a group and prints its events. Killed when
/// dropped.
#[derive(Debug)]
pub struct Probe {
    child: Child,
    /// Open while the probe runs: the probe stops (leaving its group) when it closes.
    _stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// The events read so far, in the order printed.
    pub events: Vec<Event>,
    /// The errors its change stream reported so far (`HistoryLost`, ...), as displayed.
    pub errors: Vec<String>,
    /// With a handler: each revision its handler had handled everything through, and when
    /// (nanoseconds since the Unix epoch), in the order reported.
    pub handled: Vec<(Revision, u64)>,
    /// With a lock: the fencing token it acquired the lock with, once it has.
    pub locked: Option<u64>,
}

impl Probe {
    /// Start `exe` (the test's `env!("CARGO_BIN_EXE_roster-probe")`) as `member` of `group`
    /// on `url`, and wait until it has joined.
    ///
    /// # Panics
    /// When it cannot start or does not join within 20 s.
    pub fn start(exe: impl AsRef<Path>, url: &str, member: &str, group: &str) -> Self {
        Self::spawn(Command::new(exe.as_ref()).args([url, member, group]))
    }

    /// [`Probe::start`] with the handler component `handler` running on `group` in the
    /// probe; [`Probe::handled_at`] tells when it has taken a change.
    pub fn start_with_handler(
        exe: impl AsRef<Path>,
        url: &str,
        member: &str,
        group: &str,
        handler: &Path,
    ) -> Self {
        Self::spawn(
            Command::new(exe.as_ref())
                .args([url, member, group])
                .arg(handler),
        )
    }

    /// [`Probe::start`], the probe then acquiring the lock `lock` (waiting as long as it
    /// takes); [`Probe::locked_token`] tells when it holds it.
    pub fn start_holding(
        exe: impl AsRef<Path>,
        url: &str,
        member: &str,
        group: &str,
        lock: &str,
    ) -> Self {
        Self::spawn(
            Command::new(exe.as_ref())
                .args([url, member, group])
                .args(["--lock", lock]),
        )
    }

    /// The fencing token the probe acquired its lock with, waiting until it has.
    ///
    /// # Panics
    /// As [`Probe::read_until`].
    pub fn locked_token(&mut self) -> u64 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(token) = self.locked {
                return token;
            }
            self.read_line(deadline);
        }
    }

    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start roster-probe");
        let lines = lines_of(child.stdout.take().expect("stdout"));
        let stdin = child.stdin.take();
        let probe = Self {
            child,
            _stdin: stdin,
            lines,
            events: Vec::new(),
            errors: Vec::new(),
            handled: Vec::new(),
            locked: None,
        };
        let ready = probe.lines.recv_timeout(PATIENCE).expect("the probe joins");
        assert!(ready.starts_with("{\"ready\""), "{ready}");
        probe
    }

    /// Read events until `done` holds for the events read so far; errors the probe reports
    /// in between go to [`Probe::errors`].
    ///
    /// # Panics
    /// When the probe prints nothing for 20 s, or something that is neither an event nor an
    /// error.
    pub fn read_until(&mut self, done: impl Fn(&[Event]) -> bool) -> &[Event] {
        let deadline = Instant::now() + PATIENCE;
        while !done(&self.events) {
            self.read_line(deadline);
        }
        &self.events
    }

    /// When the probe's handler had handled every change through `revision` (nanoseconds
    /// since the Unix epoch).
    ///
    /// # Panics
    /// As [`Probe::read_until`].
    pub fn handled_at(&mut self, revision: Revision) -> u64 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(&(_, at)) = self.handled.iter().find(|(r, _)| *r >= revision) {
                return at;
            }
            self.read_line(deadline);
        }
    }

    /// Read the next line into `events`, `errors` or `handled`.
    fn read_line(&mut self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = self
            .lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("probe stalled; events so far: {:?}", self.events));
        match serde_json::from_str(&line) {
            Ok(Reported::Error { error }) => self.errors.push(error),
            Ok(Reported::Handled { handled, unix_ns }) => self.handled.push((handled, unix_ns)),
            Ok(Reported::Locked { locked }) => self.locked = Some(locked),
            Err(_) => {
                let event: Event = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("probe printed {line:?}: {e}"));
                self.events.push(event);
            }
        }
    }

    /// Its process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no leave, no more heartbeats.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The lines a child process prints, as they come (read by a thread of their own).
pub fn lines_of(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if send.send(line).is_err() {
                return;
            }
        }
    });
    lines
}

/// A line of the probe that is not an event.
#[derive(serde::Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum Reported {
    /// `{"error": "..."}`: its change stream failed (`HistoryLost`, ...).
    Error { error: String },
    /// `{"handled": REVISION, "unix_ns": TIME}`: its handler had taken every change through
    /// `REVISION` at `TIME`.
    Handled { handled: Revision, unix_ns: u64 },
    /// `{"locked": TOKEN}`: it holds its lock, acquired with this fencing token.
    Locked { locked: u64 },
}

/// Whether `member` joined, among `events`.
pub fn joined(member: &str) -> impl Fn(&[Event]) -> bool + '_ {
    move |events| {
        events
            .iter()
            .any(|e| matches!(e, Event::MemberJoined(j) if j.member_id == member))
    }
}

/// Whether `member` joined at least `times` times, among `events`.
pub fn joined_times(member: &str, times: usize) -> impl Fn(&[Event]) -> bool + '_ {
    move |events| {
        events
            .iter()
            .filter(|e| matches!(e, Event::MemberJoined(j) if j.member_id == member))
            .count()
            >= times
    }
}

/// Whether `member` left, among `events`.
pub fn left(member: &str) -> impl Fn(&[Event]) -> bool + '_ {
    move |events| {
        events
            .iter()
            .any(|e| matches!(e, Event::MemberLeft(l) if l.member_id == member))
    }
}
