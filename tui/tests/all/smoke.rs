//! Smoke tests of the real binary under a pseudo-terminal: `roster-tui --demo` starts, draws,
//! answers keys (`?` opens the help, `2` and `3` focus panes), and `--connect` to an address
//! where no daemon listens shows the reconnecting banner; in both, `q` ends it with exit
//! status 0, the alternate screen left and the cursor shown again.
//!
//! The screen is the binary's output fed through a terminal emulator (`vt100`); every wait is
//! bounded and polls the screen, nothing sleeps.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const ROWS: u16 = 24;
const COLS: u16 = 80;

fn timeout() -> Duration {
    let secs = std::env::var("ROSTER_TUI_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

struct Screen {
    parser: vt100::Parser,
    output: mpsc::Receiver<Vec<u8>>,
    closed: bool,
}

impl Screen {
    /// Take in whatever output has arrived, waiting up to `wait` for some.
    fn pump(&mut self, wait: Duration) {
        match self.output.recv_timeout(wait) {
            Ok(bytes) => self.parser.process(&bytes),
            Err(mpsc::RecvTimeoutError::Timeout) => return,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.closed = true;
                return;
            }
        }
        while let Ok(bytes) = self.output.try_recv() {
            self.parser.process(&bytes);
        }
    }

    fn text(&self) -> String {
        self.parser.screen().contents()
    }

    /// Wait until the screen shows `what`, or fail after the timeout.
    fn wait_for(&mut self, what: &str) {
        let deadline = Instant::now() + timeout();
        while !self.text().contains(what) {
            assert!(
                Instant::now() < deadline && !self.closed,
                "screen never showed {what:?}; it shows:\n{}",
                self.text()
            );
            self.pump(Duration::from_millis(100));
        }
    }
}

/// The binary running under a pseudo-terminal, with its screen.
struct Session {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    master: Box<dyn portable_pty::MasterPty + Send>,
    keys: Box<dyn Write + Send>,
    screen: Screen,
    _scratch: tempfile::TempDir,
}

impl Session {
    fn start(args: &[&str]) -> Self {
        let scratch = tempfile::tempdir().unwrap();
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_roster-tui"));
        command.args(args);
        command.arg("--log-file");
        command.arg(scratch.path().join("tui.log"));
        command.env("TERM", "xterm-256color");
        command.env("XDG_CACHE_HOME", scratch.path().join("cache"));
        command.cwd(scratch.path());
        let child = pty.slave.spawn_command(command).expect("start roster-tui");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let (sender, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let keys = pty.master.take_writer().expect("pty writer");
        Self {
            child,
            master: pty.master,
            keys,
            screen: Screen {
                parser: vt100::Parser::new(ROWS, COLS, 0),
                output,
                closed: false,
            },
            _scratch: scratch,
        }
    }

    fn press(&mut self, key: &str) {
        self.keys.write_all(key.as_bytes()).expect("send a key");
        self.keys.flush().expect("send a key");
    }

    /// Press `q`, wait for a successful exit and check the terminal was given back.
    fn quit(mut self) {
        self.press("q");
        let deadline = Instant::now() + timeout();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                break status;
            }
            assert!(Instant::now() < deadline, "roster-tui did not exit on q");
            self.screen.pump(Duration::from_millis(50));
        };
        assert!(status.success(), "exit status {status:?}");
        drop(self.master);
        while !self.screen.closed {
            self.screen.pump(Duration::from_millis(200));
        }
        let screen = self.screen.parser.screen();
        assert!(!screen.alternate_screen(), "the alternate screen was left");
        assert!(!screen.hide_cursor(), "the cursor is shown");
    }
}

#[test]
fn the_demo_runs_answers_keys_and_restores_the_terminal() {
    let mut session = Session::start(&["--demo"]);
    session.screen.wait_for("1 Groups");
    session.screen.wait_for("memory://demo (demo)");
    assert!(session.screen.parser.screen().alternate_screen());
    assert!(session.screen.parser.screen().hide_cursor());
    session.screen.wait_for("node-");

    session.press("?");
    session.screen.wait_for("keys · ? or Esc closes");
    session.press("?");
    session.press("2");
    session.screen.wait_for("2 Members of");
    session.press("3");
    session.screen.wait_for("3 Events following");
    session.quit();
}

#[test]
fn an_unreachable_daemon_shows_the_banner_and_quits_cleanly() {
    // Port 9 (discard) on loopback: nothing listens there on a test machine.
    let mut session = Session::start(&["--connect", "127.0.0.1:9"]);
    session.screen.wait_for("daemon 127.0.0.1:9");
    session.screen.wait_for("source unreachable");
    session.screen.wait_for("◌ reconnecting");
    session.quit();
}
