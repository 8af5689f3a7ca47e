//! Smoke test of the real binary under a pseudo-terminal: `roster-tui --demo` starts, draws,
//! answers keys (`?` opens the help, `2` focuses the members pane) and `q` ends it with exit
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

#[test]
fn the_demo_runs_answers_keys_and_restores_the_terminal() {
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
    command.args(["--demo", "--log-file"]);
    command.arg(scratch.path().join("tui.log"));
    command.env("TERM", "xterm-256color");
    command.env("XDG_CACHE_HOME", scratch.path().join("cache"));
    command.cwd(scratch.path());
    let mut child = pty.slave.spawn_command(command).expect("start roster-tui");
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
    let mut keys = pty.master.take_writer().expect("pty writer");
    let mut screen = Screen {
        parser: vt100::Parser::new(ROWS, COLS, 0),
        output,
        closed: false,
    };
    let mut press = |key: &str| {
        keys.write_all(key.as_bytes()).expect("send a key");
        keys.flush().expect("send a key");
    };

    screen.wait_for("1 Groups");
    screen.wait_for("memory://demo (demo)");
    assert!(screen.parser.screen().alternate_screen());
    assert!(screen.parser.screen().hide_cursor());
    screen.wait_for("node-");

    press("?");
    screen.wait_for("keys · ? or Esc closes");
    press("?");
    press("2");
    screen.wait_for("2 Members of");
    press("3");
    screen.wait_for("3 Events following");

    press("q");
    let deadline = Instant::now() + timeout();
    let status = loop {
        if let Some(status) = child.try_wait().expect("child status") {
            break status;
        }
        assert!(Instant::now() < deadline, "roster-tui did not exit on q");
        screen.pump(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    drop(pty.master);
    while !screen.closed {
        screen.pump(Duration::from_millis(200));
    }
    assert!(
        !screen.parser.screen().alternate_screen(),
        "the alternate screen was left"
    );
    assert!(!screen.parser.screen().hide_cursor(), "the cursor is shown");
}
