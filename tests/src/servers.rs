//! Real servers for the backends that live in them: a `redis-server` (or `etcd`) of the
//! test's own, or the one `.ci/run` started (named by `ROSTER_REDIS`, `ROSTER_ETCD`), with a
//! private namespace per test.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Harness;

/// Environment variable naming a running Redis (`host:port`) for the tests to share.
pub const REDIS_VARIABLE: &str = "ROSTER_REDIS";

/// A `redis-server` process with its data in a temporary directory, stopped when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    /// Its `host:port`.
    pub address: String,
    port: u16,
    /// Whether it writes every change to an append-only file before answering.
    durable: bool,
    /// Addresses it listens on besides 127.0.0.1.
    also: Vec<std::net::Ipv4Addr>,
    data: tempfile::TempDir,
}

impl RedisServer {
    /// Start one on a free port of 127.0.0.1 that keeps its data in memory only, and wait
    /// until it accepts connections.
    ///
    /// # Panics
    /// When `redis-server` is not installed (Debian: `apt install redis-server`) or does not
    /// come up within 10 s.
    pub fn start() -> Self {
        Self::launch(false, Vec::new())
    }

    /// Like [`RedisServer::start`], but every change is on disk (AOF, fsync always) before
    /// it is answered, so a [`restart`](Self::restart) keeps it.
    pub fn start_durable() -> Self {
        Self::launch(true, Vec::new())
    }

    /// [`RedisServer::start_durable`], listening on the addresses `also` besides 127.0.0.1
    /// (the soak's host namespaces reach it there). Those addresses are the machine's own
    /// private ones, so it runs without protected mode.
    pub fn start_durable_also_on(also: Vec<std::net::Ipv4Addr>) -> Self {
        Self::launch(true, also)
    }

    fn launch(durable: bool, also: Vec<std::net::Ipv4Addr>) -> Self {
        let data = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let child = Self::spawn(port, durable, &also, data.path());
        Self {
            child,
            address: format!("127.0.0.1:{port}"),
            port,
            durable,
            also,
            data,
        }
    }

    /// The port it listens on, at every address.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn spawn(
        port: u16,
        durable: bool,
        also: &[std::net::Ipv4Addr],
        dir: &std::path::Path,
    ) -> Child {
        let appendonly = if durable { "yes" } else { "no" };
        let protected = if also.is_empty() { "yes" } else { "no" };
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1"])
            .args(also.iter().map(ToString::to_string))
            .args(["--port", &port.to_string()])
            .args(["--save", "", "--protected-mode", protected])
            .args(["--appendonly", appendonly, "--appendfsync", "always"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): install it (apt install redis-server)")
            });
        wait_for_port(&format!("127.0.0.1:{port}"));
        child
    }

    /// Its process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stop it at once, as a crash would (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Crash it (SIGKILL) and start it again at the same address: with what it had on disk
    /// (everything, if it is [durable](Self::start_durable)) when `keep_data`, empty
    /// otherwise.
    pub fn restart(&mut self, keep_data: bool) {
        self.kill();
        if !keep_data {
            for file in std::fs::read_dir(self.data.path()).expect("redis's data directory") {
                let path = file.expect("a directory entry").path();
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.expect("remove redis's data");
            }
        }
        self.child = Self::spawn(self.port, self.durable, &self.also, self.data.path());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Environment variable naming a running etcd (`host:port` of its client URL) for the tests
/// to share.
pub const ETCD_VARIABLE: &str = "ROSTER_ETCD";

/// A single-member `etcd` with its data in a temporary directory, on free client and peer
/// ports of 127.0.0.1, stopped when dropped.
#[derive(Debug)]
pub struct EtcdServer {
    child: Child,
    /// Its client `host:port`.
    pub address: String,
    /// Its client port, at every address.
    port: u16,
    peer: u16,
    /// Addresses it takes clients on besides 127.0.0.1.
    also: Vec<std::net::Ipv4Addr>,
    data: tempfile::TempDir,
}

impl EtcdServer {
    /// Start one and wait until it answers on its v3 gateway.
    ///
    /// # Panics
    /// When `etcd` is not installed (Debian: `apt install etcd-server`) or does not answer
    /// within 10 s.
    pub fn start() -> Self {
        Self::start_also_on(Vec::new())
    }

    /// [`EtcdServer::start`], taking clients on the addresses `also` besides 127.0.0.1 (the
    /// soak's host namespaces reach it there), at the same port.
    pub fn start_also_on(also: Vec<std::net::Ipv4Addr>) -> Self {
        let data = tempfile::tempdir().expect("a temporary directory");
        let (client, peer) = (free_port(), free_port());
        let address = format!("127.0.0.1:{client}");
        let child = Self::spawn(client, &also, peer, data.path());
        let mut server = Self {
            child,
            address,
            port: client,
            peer,
            also,
            data,
        };
        server.wait_until_ready();
        server
    }

    /// The port it takes clients on, at every address.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn spawn(port: u16, also: &[std::net::Ipv4Addr], peer: u16, dir: &std::path::Path) -> Child {
        let client_url = format!("http://127.0.0.1:{port}");
        let listen: Vec<String> = std::iter::once(client_url.clone())
            .chain(also.iter().map(|ip| format!("http://{ip}:{port}")))
            .collect();
        let peer_url = format!("http://127.0.0.1:{peer}");
        Command::new("etcd")
            .args(["--name", "roster-test", "--data-dir"])
            .arg(dir.join("etcd"))
            .args(["--listen-client-urls", &listen.join(",")])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("roster-test={peer_url}")])
            // A member alone elects itself after one election timeout: 100 ms rather than
            // the default 1 s makes it ready in about a tenth of a second.
            .args(["--heartbeat-interval", "10", "--election-timeout", "100"])
            .args(["--logger", "zap", "--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start etcd ({e}): install it (apt install etcd-server)")
            })
    }

    /// Wait until the gateway answers a read (the client port opens before the member has
    /// elected itself).
    fn wait_until_ready(&mut self) {
        use std::io::{Read, Write};
        let deadline = Instant::now() + Duration::from_secs(10);
        let body = r#"{"key":"AA=="}"#;
        let request = format!(
            "POST /v3/kv/range HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            body.len()
        );
        loop {
            let answered = std::net::TcpStream::connect(&self.address)
                .and_then(|mut stream| {
                    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
                    stream.write_all(request.as_bytes())?;
                    let mut answer = Vec::new();
                    stream.read_to_end(&mut answer)?;
                    Ok(answer.starts_with(b"HTTP/1.1 200"))
                })
                .unwrap_or(false);
            if answered {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("etcd exited before it answered: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "etcd at {} does not answer after 10 s",
                self.address
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stop it at once, as a crash would (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Crash it (SIGKILL) and start it again at the same address, with what it had on disk
    /// (etcd commits every change to its log before answering) when `keep_data`, empty
    /// otherwise.
    pub fn restart(&mut self, keep_data: bool) {
        self.kill();
        if !keep_data {
            std::fs::remove_dir_all(self.data.path().join("etcd")).expect("remove etcd's data");
        }
        self.child = Self::spawn(self.port, &self.also, self.peer, self.data.path());
        self.wait_until_ready();
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Wait until something accepts connections at `address`.
///
/// # Panics
/// After 10 s.
pub fn wait_for_port(address: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(address).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens at {address} after 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Harnesses on the servers and directories the suite starts: each a store of its own, in
/// real time at `scale`.
pub trait ServerHarness {
    /// A private namespace on Redis through the built-in Redis driver: on the server
    /// `ROSTER_REDIS` names, else on a server of its own.
    fn redis(scale: f64) -> Harness;
    /// A private namespace on etcd through the built-in etcd driver: on the server
    /// `ROSTER_ETCD` names, else on a server of its own.
    fn etcd(scale: f64) -> Harness;
    /// A temporary directory of its own through the built-in file driver; the directory is
    /// removed with the last harness made from this one.
    fn file(scale: f64) -> Harness;
}

impl ServerHarness for Harness {
    fn redis(scale: f64) -> Harness {
        let namespace = format!("t{}", uuid::Uuid::new_v4().simple());
        let url = |address: &str| format!("redis://{address}?namespace={namespace}");
        match std::env::var(REDIS_VARIABLE) {
            Ok(address) => Harness::new(url(&address)).real_time(scale),
            Err(_) => {
                let server = RedisServer::start();
                Harness::new(url(&server.address))
                    .real_time(scale)
                    .holding(server)
            }
        }
    }

    fn etcd(scale: f64) -> Harness {
        let namespace = format!("t{}", uuid::Uuid::new_v4().simple());
        let url = |address: &str| format!("etcd3+http://{address}?namespace={namespace}");
        match std::env::var(ETCD_VARIABLE) {
            Ok(address) => Harness::new(url(&address)).real_time(scale),
            Err(_) => {
                let server = EtcdServer::start();
                Harness::new(url(&server.address))
                    .real_time(scale)
                    .holding(server)
            }
        }
    }

    fn file(scale: f64) -> Harness {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("file://{}", dir.path().display());
        Harness::new(url).real_time(scale).holding(dir)
    }
}
