//! Host processes for the multi-host scenarios: [`run_host`] is a host (a coordinator on a
//! backend URL that joins a group and prints every change to it), run by the end-to-end
//! suite's `roster-probe` and by `roster plugin conformance-host`; [`Probe`] starts one and
//! reads what it printed.
//!
//! A host is started as `PROGRAM [LEADING...] URL MEMBER GROUP [HANDLER.wasm | --lock LOCK]`.
//! It prints `{"ready": REVISION}` once it has joined, then one `Event` (the library's JSON
//! form) per line, and `{"error": "..."}` for an error of its change stream. With a handler
//! component, it also runs that handler on the group and prints `{"handled": REVISION,
//! "unix_ns": TIME}` each time the handler has taken every change through a newer revision
//! (the wall-clock time it did). With `--lock LOCK` it also acquires the lock once it has
//! joined, waiting as long as it takes, and prints `{"locked": TOKEN}` with the fencing token
//! when it holds it (then holds it until it stops or is killed). It stops (leaving the group)
//! when its stdin closes.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use roster::plugin::{HandlerSpec, PluginHost, PluginHostOptions};
use roster::{Blocking, CoordinationError, Event, GroupId, LockMode, Revision, get_coordinator};
use tokio::io::AsyncReadExt;

/// How to start a host process: a program, and the arguments that come before the host's own
/// (none for `roster-probe`; `plugin conformance-host` for `roster`).
#[derive(Clone, Debug)]
pub struct HostProgram {
    /// The executable.
    pub program: PathBuf,
    /// Its first arguments.
    pub leading: Vec<String>,
}

impl HostProgram {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.leading);
        command
    }
}

impl From<&str> for HostProgram {
    fn from(program: &str) -> Self {
        Self {
            program: program.into(),
            leading: Vec::new(),
        }
    }
}

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
    pub fn start(exe: impl Into<HostProgram>, url: &str, member: &str, group: &str) -> Self {
        Self::spawn(exe.into().command().args([url, member, group]))
    }

    /// [`Probe::start`] with the handler component `handler` running on `group` in the
    /// probe; [`Probe::handled_at`] tells when it has taken a change.
    pub fn start_with_handler(
        exe: impl Into<HostProgram>,
        url: &str,
        member: &str,
        group: &str,
        handler: &std::path::Path,
    ) -> Self {
        Self::spawn(exe.into().command().args([url, member, group]).arg(handler))
    }

    /// [`Probe::start`], the probe then acquiring the lock `lock` (waiting as long as it
    /// takes); [`Probe::locked_token`] tells when it holds it.
    pub fn start_holding(
        exe: impl Into<HostProgram>,
        url: &str,
        member: &str,
        group: &str,
        lock: &str,
    ) -> Self {
        Self::spawn(
            exe.into()
                .command()
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
            .expect("start a host process");
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

/// Print one line at once, whole.
fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Run a host with the arguments `URL MEMBER GROUP [HANDLER.wasm | --lock LOCK]` (see the
/// module's documentation), until its stdin closes.
///
/// # Errors
/// The coordinator cannot be made, started or joined, or the handler cannot be attached.
/// Arguments not of that shape end the process with a usage line and exit code 2.
pub async fn run_host(args: &[String]) -> Result<(), CoordinationError> {
    let (url, member, group, handler, lock) = match args {
        [url, member, group] => (url, member, group, None, None),
        [url, member, group, flag, lock] if flag == "--lock" => {
            (url, member, group, None, Some(lock))
        }
        [url, member, group, handler] => (url, member, group, Some(handler), None),
        _ => {
            eprintln!("usage: URL MEMBER GROUP [HANDLER.wasm | --lock LOCK]");
            std::process::exit(2);
        }
    };
    let coordinator = get_coordinator(url, member)?;
    coordinator.start().await?;
    let mut changes = coordinator.subscribe(None)?;
    coordinator
        .join_group_create_with(group, member.as_bytes().to_vec())
        .await?;
    let _handler = match handler {
        Some(path) => {
            let host = PluginHost::new(PluginHostOptions::user_cache())
                .map_err(|e| CoordinationError::Connection(e.to_string()))?;
            let mut spec = HandlerSpec::new("probe", path);
            spec.groups = vec![GroupId::new(group)?];
            let handle = host
                .attach_handler(&coordinator, spec)
                .await
                .map_err(|e| CoordinationError::Connection(e.to_string()))?;
            let handle = std::sync::Arc::new(handle);
            let watching = std::sync::Arc::clone(&handle);
            tokio::spawn(async move {
                let mut through = watching.stats().handled_through;
                loop {
                    watching.wait_handled(through + 1).await;
                    through = watching.stats().handled_through;
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
                    emit(&format!("{{\"handled\": {through}, \"unix_ns\": {now}}}"));
                }
            });
            Some((host, handle))
        }
        None => None,
    };
    emit(&format!("{{\"ready\": {}}}", coordinator.head_revision()));
    let _lock = match lock {
        Some(name) => {
            let lock = std::sync::Arc::new(coordinator.get_lock(name)?);
            let holding = std::sync::Arc::clone(&lock);
            tokio::spawn(async move {
                match holding
                    .acquire(LockMode::Exclusive, Blocking::Forever)
                    .await
                {
                    Ok(Some(token)) => emit(&format!("{{\"locked\": {token}}}")),
                    Ok(None) => emit(r#"{"error": "the lock was not acquired"}"#),
                    Err(error) => {
                        emit(&serde_json::json!({ "error": error.to_string() }).to_string())
                    }
                }
            });
            Some(lock)
        }
        None => None,
    };
    let mut stdin = tokio::io::stdin();
    let mut byte = [0u8; 1];
    loop {
        tokio::select! {
            change = changes.next() => match change {
                Some(Ok(event)) if event.group_id().is_some_and(|g| g.as_str() == group) => {
                    emit(&serde_json::to_string(&event).expect("events serialize"));
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => emit(&serde_json::json!({ "error": error.to_string() }).to_string()),
                None => break,
            },
            read = stdin.read(&mut byte) => {
                if matches!(read, Ok(0) | Err(_)) {
                    break;
                }
            }
        }
    }
    coordinator.stop().await
}
