//! Host processes for the multi-host tests: `roster-probe` (`src/bin/roster-probe.rs`) runs a
//! coordinator on a backend URL, joins a group and prints every change to it; [`Probe`]
//! starts one and reads what it printed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use roster::Event;

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
}

impl Probe {
    /// Start `exe` (the test's `env!("CARGO_BIN_EXE_roster-probe")`) as `member` of `group`
    /// on `url`, and wait until it has joined.
    ///
    /// # Panics
    /// When it cannot start or does not join within 20 s.
    pub fn start(exe: impl AsRef<Path>, url: &str, member: &str, group: &str) -> Self {
        let mut child = Command::new(exe.as_ref())
            .args([url, member, group])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start roster-probe");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        let probe = Self {
            child,
            _stdin: stdin,
            lines,
            events: Vec::new(),
            errors: Vec::new(),
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
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("probe stalled; events so far: {:?}", self.events));
            if let Ok(Reported { error }) = serde_json::from_str(&line) {
                self.errors.push(error);
                continue;
            }
            let event: Event = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("probe printed {line:?}: {e}"));
            self.events.push(event);
        }
        &self.events
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

/// An error line of the probe: `{"error": "..."}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Reported {
    error: String,
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
