//! A `roster serve` process for the tests that drive the daemon from outside.

#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use roster::client::Client;

pub const ROSTER: &str = env!("CARGO_BIN_EXE_roster");

/// A daemon process, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub addr: String,
    pub client: Client,
}

/// The cache home (`XDG_CACHE_HOME`) of the daemons tests start: in the target directory, so
/// compiled plugins are kept between runs and nothing is written to the user's own cache.
pub const CACHE_HOME: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/daemon-cache-home");

impl Daemon {
    /// `roster serve` on a free port with `args` added.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_cache_home(args, std::path::Path::new(CACHE_HOME))
    }

    /// `roster serve` on a free port with `args` added, whose user cache directory is in
    /// `cache_home`.
    pub fn start_with_cache_home(args: &[&str], cache_home: &std::path::Path) -> Self {
        Self::spawn("127.0.0.1:0", args, cache_home)
    }

    /// `roster serve --listen LISTEN --backend BACKEND`: on a chosen address (that of a
    /// daemon that is gone, say), serving `backend`.
    pub fn serve(listen: &str, backend: &str) -> Self {
        let daemon = Self::spawn(
            listen,
            &["--backend", backend],
            std::path::Path::new(CACHE_HOME),
        );
        if !listen.ends_with(":0") {
            assert_eq!(daemon.addr, listen);
        }
        daemon
    }

    fn spawn(listen: &str, args: &[&str], cache_home: &std::path::Path) -> Self {
        let mut child = Command::new(ROSTER)
            .args(["serve", "--listen", listen])
            .args(args)
            .env("RUST_LOG", "warn")
            .env("XDG_CACHE_HOME", cache_home)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start roster serve");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the daemon's first line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("daemon did not start: {line:?}"))
            .to_owned();
        let client = Client::new(&addr).unwrap();
        Self {
            child,
            addr,
            client,
        }
    }

    /// A daemon on its own memory store with `options` (e.g. `timeout=1`).
    pub fn memory(options: &str) -> Self {
        let store = uuid_like();
        let query = if options.is_empty() {
            String::new()
        } else {
            format!("?{options}")
        };
        Self::start(&["--backend", &format!("memory://{store}{query}")])
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn uuid_like() -> String {
    format!(
        "t{}x{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// What a finished command printed, stdout then stderr, for assertion messages.
pub fn said(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
