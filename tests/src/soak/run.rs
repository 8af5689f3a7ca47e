//! Running a soak: the server, the host processes (an observer and the workers), the fault
//! scheduler, the end, and the check.
//!
//! The scheduler draws every choice from the soak's seed: which fault, when, on which host,
//! for how long. Host faults may overlap (on different hosts); a server fault waits until the
//! host faults under way are healed and runs alone. The observer is never faulted, so some
//! reader follows the whole history.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::check::{self, Fault, FaultKind, HostRecord, Params, Report};
use super::network::Network;
use super::record::{self, now_ns};
use crate::servers::{EtcdServer, RedisServer};
use crate::signal;

/// The name prefix of the hosts that reach the store through the daemons (`c0`, `c1`, ...).
const THROUGH_DAEMONS: &str = "c";

/// The store a soak runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A `redis-server` of the soak's own, writing every change to disk before answering.
    Redis,
    /// An `etcd` of the soak's own.
    Etcd,
    /// A directory.
    File,
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "redis" => Ok(Self::Redis),
            "etcd" => Ok(Self::Etcd),
            "file" => Ok(Self::File),
            other => Err(format!("no backend {other:?}: redis, etcd or file")),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Redis => "redis",
            Self::Etcd => "etcd",
            Self::File => "file",
        })
    }
}

/// Whether hosts are cut from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partitions {
    /// Never.
    Off,
    /// When the machine allows (root, `ip netns`); said on stderr when it does not.
    IfPossible,
    /// Always; the soak fails when the machine does not allow them.
    Required,
}

/// A soak's settings.
#[derive(Clone, Debug)]
pub struct Soak {
    /// The store.
    pub backend: Backend,
    /// Seeds every choice of the scheduler and of the hosts' workloads.
    pub seed: u64,
    /// How long faults are injected.
    pub duration: Duration,
    /// Worker hosts (the observer comes on top).
    pub hosts: usize,
    /// The membership timeout.
    pub timeout: Duration,
    /// How long after the timeout a dead host's members may still be listed.
    pub expiry_bound: Duration,
    /// Network partitions (never on the file backend, which has no network to cut).
    pub partitions: Partitions,
    /// The `roster-probe` executable.
    pub probe: PathBuf,
    /// Keep the hosts' records even when the check passes.
    pub keep_records: bool,
    /// The `roster` executable: with it, `daemons` daemons serve the store and
    /// `daemon_clients` more hosts reach it through them (`roster://` with every daemon).
    pub roster: Option<PathBuf>,
    /// How many `roster serve` daemons share the store.
    pub daemons: usize,
    /// How many hosts reach the store through the daemons.
    pub daemon_clients: usize,
}

/// What a soak did and found.
#[derive(Debug)]
pub struct Outcome {
    /// The checker's findings.
    pub report: Report,
    /// Every fault injected, in the order they began.
    pub faults: Vec<Fault>,
    /// Whether hosts were partitioned.
    pub partitioned: bool,
    /// How many daemons served the store.
    pub daemons: usize,
    /// The hosts' records (kept when the check failed, or when asked to).
    pub records: PathBuf,
}

/// Run a soak and check it.
///
/// # Panics
/// When the server or a host cannot be started, or a host does not finish within a minute.
pub fn run(soak: &Soak) -> Outcome {
    // A directory is reached through the file system, not the network: nothing to cut.
    let partitions = if soak.backend == Backend::File {
        Partitions::Off
    } else {
        soak.partitions
    };
    let network = match partitions {
        Partitions::Off => None,
        Partitions::IfPossible => match Network::create(soak.hosts) {
            Ok(network) => Some(network),
            Err(why) => {
                eprintln!("soak: no partitions on this machine ({why})");
                None
            }
        },
        Partitions::Required => Some(
            Network::create(soak.hosts)
                .unwrap_or_else(|why| panic!("partitions need root and `ip netns`: {why}")),
        ),
    };
    let records = tempfile::Builder::new()
        .prefix("roster-soak-")
        .tempdir()
        .expect("a temporary directory");
    let also = network
        .as_ref()
        .map(Network::server_addresses)
        .unwrap_or_default();
    let server = Server::start(soak.backend, also, records.path());
    let timeout = soak.timeout.as_secs_f64();
    let url = |address: Option<std::net::Ipv4Addr>| server.url(address, timeout);
    let mut observer = HostProcess::spawn(
        Command::new(&soak.probe),
        &url(None),
        "observer",
        soak.seed,
        &records.path().join("observer.0.jsonl"),
        true,
    );
    observer.wait_for("ready");
    let daemons: Vec<Daemon> = match &soak.roster {
        Some(roster) if soak.daemons > 0 => (0..soak.daemons)
            .map(|index| Daemon::start(roster, &url(None), records.path(), index))
            .collect(),
        _ => Vec::new(),
    };
    let mut hosts: Vec<Slot> = (0..soak.hosts)
        .map(|index| {
            let address = network.as_ref().map(|n| n.server_side(index));
            Slot {
                name: format!("h{index}"),
                index,
                namespace: network.as_ref().map(|_| index),
                url: url(address),
                incarnation: 0,
                process: None,
            }
        })
        .collect();
    if !daemons.is_empty() {
        let addresses: Vec<String> = daemons.iter().map(Daemon::address).collect();
        let through = format!("roster://{}?timeout={timeout}", addresses.join(","));
        hosts.extend((0..soak.daemon_clients).map(|index| Slot {
            name: format!("{THROUGH_DAEMONS}{index}"),
            index: soak.hosts + index,
            namespace: None,
            url: through.clone(),
            incarnation: 0,
            process: None,
        }));
    }
    let world = World {
        soak: soak.clone(),
        hosts: hosts.into_iter().map(Mutex::new).collect(),
        network,
        server: Mutex::new(server),
        daemons: daemons.into_iter().map(Mutex::new).collect(),
        records: records.path().to_owned(),
        faults: Mutex::new(Vec::new()),
    };
    for slot in &world.hosts {
        world.respawn(&mut lock(slot));
    }
    for slot in &world.hosts {
        if let Some(process) = &mut lock(slot).process {
            process.wait_for("ready");
        }
    }
    world.inject_faults();
    let mut everyone: Vec<HostProcess> = world
        .hosts
        .iter()
        .filter_map(|slot| lock(slot).process.take())
        .collect();
    everyone.push(observer);
    for process in &mut everyone {
        process.order("final");
    }
    for process in &mut everyone {
        process.wait_for("final");
    }
    for process in &mut everyone {
        process.order("stop");
    }
    for process in &mut everyone {
        process.finish();
    }
    let mut faults = world
        .faults
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    faults.sort_by_key(|f| f.start);
    let schedule = serde_json::to_vec_pretty(&faults).expect("faults serialize");
    std::fs::write(records.path().join("faults.json"), schedule).expect("write the fault schedule");
    let host_records = read_records(records.path());
    let params = Params {
        timeout: soak.timeout,
        tolerance: Duration::from_millis(50),
        expiry_bound: soak.expiry_bound,
    };
    let report = check::check(&host_records, &faults, &params);
    let partitioned = world.network.is_some();
    let daemons = world.daemons.len();
    drop(world.daemons);
    drop(world.server);
    let records = if report.violations.is_empty() && !soak.keep_records {
        records.path().to_owned()
    } else {
        records.keep()
    };
    Outcome {
        report,
        faults,
        partitioned,
        daemons,
        records,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every record in `dir`, named after its host (`h3.1.jsonl` is host `h3`'s second process;
/// hosts `c0`, `c1`, ... reach the store through the daemons).
fn read_records(dir: &Path) -> Vec<HostRecord> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the records' directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let host = name.split('.').next().unwrap_or_default().to_owned();
            HostRecord {
                via_daemon: host.starts_with(THROUGH_DAEMONS),
                host,
                lines: record::read(path).unwrap_or_else(|e| panic!("{e}")),
            }
        })
        .collect()
}

/// The store's server, or its directory.
enum Server {
    Redis(RedisServer),
    Etcd(EtcdServer),
    File(PathBuf),
}

impl Server {
    fn start(backend: Backend, also: Vec<std::net::Ipv4Addr>, records: &Path) -> Self {
        match backend {
            Backend::Redis => Self::Redis(RedisServer::start_durable_also_on(also)),
            Backend::Etcd => Self::Etcd(EtcdServer::start_also_on(also)),
            Backend::File => {
                let dir = records.join("store");
                std::fs::create_dir(&dir).expect("the store's directory");
                Self::File(dir)
            }
        }
    }

    /// The backend URL a host reaches the store by, at `address` (127.0.0.1 when `None`).
    fn url(&self, address: Option<std::net::Ipv4Addr>, timeout: f64) -> String {
        let ip = address.map_or_else(|| "127.0.0.1".to_owned(), |ip| ip.to_string());
        match self {
            Self::Redis(server) => {
                format!(
                    "redis://{ip}:{}?namespace=soak&timeout={timeout}",
                    server.port()
                )
            }
            Self::Etcd(server) => format!(
                "etcd3+http://{ip}:{}?namespace=soak&timeout={timeout}",
                server.port()
            ),
            Self::File(dir) => format!("file://{}?timeout={timeout}", dir.display()),
        }
    }

    /// Whether it is a server that can be restarted.
    fn restartable(&self) -> bool {
        !matches!(self, Self::File(_))
    }

    fn restart(&mut self, keep_data: bool) {
        match self {
            Self::Redis(server) => server.restart(keep_data),
            Self::Etcd(server) => server.restart(keep_data),
            Self::File(_) => {}
        }
    }
}

/// A worker host: where it runs and its current process.
struct Slot {
    /// `h3` (on the store itself) or `c1` (through the daemons).
    name: String,
    /// Numbers every slot, for its seeds.
    index: usize,
    /// The network namespace it runs in, when hosts are partitioned.
    namespace: Option<usize>,
    url: String,
    /// How many processes it has had.
    incarnation: u32,
    process: Option<HostProcess>,
}

/// A `roster serve` daemon on the soak's store, at a fixed port so a restart comes back
/// where its clients look for it.
struct Daemon {
    roster: PathBuf,
    backend: String,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    fn start(roster: &Path, backend: &str, records: &Path, index: usize) -> Self {
        let mut daemon = Self {
            roster: roster.to_owned(),
            backend: backend.to_owned(),
            port: crate::servers::free_port(),
            log: records.join(format!("daemon{index}.log")),
            child: None,
        };
        daemon.spawn();
        daemon
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Start it and wait until it listens.
    fn spawn(&mut self) {
        let log = std::fs::File::create(&self.log).expect("the daemon's log");
        let child = Command::new(&self.roster)
            .args([
                "serve",
                "--listen",
                &self.address(),
                "--backend",
                &self.backend,
            ])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the daemon's log"))
            .stderr(log)
            .spawn()
            .expect("start roster serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(&self.log).is_ok_and(|log| log.contains("listening on ")) {
            assert!(
                Instant::now() < deadline,
                "roster serve did not listen within 30 s; see {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One `roster-probe soak` process.
struct HostProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    member: String,
}

impl HostProcess {
    fn spawn(
        mut command: Command,
        url: &str,
        member: &str,
        seed: u64,
        record: &Path,
        observer: bool,
    ) -> Self {
        command
            .args(["soak", url, member, &seed.to_string()])
            .arg(record)
            .args(observer.then_some("--observer"))
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("start roster-probe soak");
        let lines = crate::probe::lines_of(child.stdout.take().expect("stdout"));
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            member: member.to_owned(),
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Wait until it prints `word`.
    fn wait_for(&mut self, word: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == word => return,
                Ok(_) => {}
                Err(_) => panic!("{} did not say {word:?} within a minute", self.member),
            }
        }
    }

    fn order(&mut self, order: &str) {
        if let Some(stdin) = &mut self.stdin {
            let _ = writeln!(stdin, "{order}");
        }
    }

    /// Wait for it to end (a minute at most, then kill it).
    fn finish(&mut self) {
        self.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("soak: {} did not stop within a minute; killed", self.member);
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Everything the scheduler and its fault threads share.
struct World {
    soak: Soak,
    hosts: Vec<Mutex<Slot>>,
    network: Option<Network>,
    server: Mutex<Server>,
    daemons: Vec<Mutex<Daemon>>,
    records: PathBuf,
    faults: Mutex<Vec<Fault>>,
}

impl World {
    /// Start the slot's next process (a new member).
    fn respawn(&self, slot: &mut Slot) {
        let member = format!("{}-{}", slot.name, slot.incarnation);
        let command = match (&self.network, slot.namespace) {
            (Some(network), Some(index)) => network.command(index, &self.soak.probe),
            _ => Command::new(&self.soak.probe),
        };
        let seed = self
            .soak
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add((slot.index as u64) << 16 | u64::from(slot.incarnation));
        let record = self
            .records
            .join(format!("{}.{}.jsonl", slot.name, slot.incarnation));
        slot.process = Some(HostProcess::spawn(
            command, &slot.url, &member, seed, &record, false,
        ));
        slot.incarnation += 1;
    }

    /// The faults this soak can inject, with their weights.
    fn kinds(&self) -> Vec<(FaultKind, u32)> {
        let mut kinds = vec![
            (FaultKind::Kill, 3),
            (FaultKind::PauseShort, 2),
            (FaultKind::PauseLong, 2),
        ];
        if self.network.is_some() {
            kinds.extend([
                (FaultKind::PartitionShort, 2),
                (FaultKind::PartitionLong, 2),
            ]);
        }
        if lock(&self.server).restartable() {
            kinds.extend([(FaultKind::ServerRestart, 1), (FaultKind::ServerWipe, 1)]);
        }
        if !self.daemons.is_empty() {
            kinds.push((FaultKind::DaemonRestart, 2));
        }
        kinds
    }

    /// Inject faults at random for the soak's duration, then wait until all are healed.
    fn inject_faults(&self) {
        let mut random = fastrand::Rng::with_seed(self.soak.seed);
        let kinds = self.kinds();
        let total: u32 = kinds.iter().map(|(_, weight)| weight).sum();
        let busy: Vec<Mutex<bool>> = self.hosts.iter().map(|_| Mutex::new(false)).collect();
        let daemons_busy: Vec<Mutex<bool>> =
            self.daemons.iter().map(|_| Mutex::new(false)).collect();
        let ends = Instant::now() + self.soak.duration;
        std::thread::scope(|scope| {
            let mut running = Vec::new();
            while Instant::now() < ends {
                std::thread::sleep(Duration::from_millis(random.u64(300..2_000)));
                let mut pick = random.u32(..total);
                let kind = kinds
                    .iter()
                    .find(|(_, weight)| {
                        let found = pick < *weight;
                        pick = pick.saturating_sub(*weight);
                        found
                    })
                    .map(|(kind, _)| *kind)
                    .expect("weights add up");
                let span = self.span(kind, &mut random);
                if matches!(kind, FaultKind::ServerRestart | FaultKind::ServerWipe) {
                    for fault in running.drain(..) {
                        let _: () = std::thread::ScopedJoinHandle::join(fault).expect("a fault");
                    }
                    self.server_fault(kind);
                    continue;
                }
                if kind == FaultKind::DaemonRestart {
                    let index = random.usize(..self.daemons.len());
                    {
                        let mut taken = lock(&daemons_busy[index]);
                        if *taken {
                            continue;
                        }
                        *taken = true;
                    }
                    let busy = &daemons_busy[index];
                    running.push(scope.spawn(move || {
                        self.daemon_fault(index, span);
                        *lock(busy) = false;
                    }));
                    continue;
                }
                // Only hosts in a namespace of their own can be cut off.
                let candidates: Vec<usize> = (0..self.hosts.len())
                    .filter(|&i| {
                        !matches!(kind, FaultKind::PartitionShort | FaultKind::PartitionLong)
                            || lock(&self.hosts[i]).namespace.is_some()
                    })
                    .collect();
                let index = candidates[random.usize(..candidates.len())];
                {
                    let mut taken = lock(&busy[index]);
                    if *taken {
                        continue;
                    }
                    *taken = true;
                }
                let busy = &busy[index];
                running.push(scope.spawn(move || {
                    self.host_fault(kind, index, span);
                    *lock(busy) = false;
                }));
            }
        });
    }

    /// How long a fault of `kind` lasts.
    fn span(&self, kind: FaultKind, random: &mut fastrand::Rng) -> Duration {
        let timeout = self.soak.timeout;
        let past_bound = timeout + self.soak.expiry_bound;
        match kind {
            FaultKind::Kill => Duration::from_millis(random.u64(200..2_000)),
            FaultKind::PauseShort | FaultKind::PartitionShort => {
                timeout.mul_f64(0.2 + 0.4 * random.f64())
            }
            FaultKind::PauseLong | FaultKind::PartitionLong => {
                past_bound + Duration::from_millis(random.u64(500..2_500))
            }
            FaultKind::DaemonRestart => Duration::from_millis(random.u64(200..1_500)),
            FaultKind::ServerRestart | FaultKind::ServerWipe => Duration::ZERO,
        }
    }

    fn record(&self, kind: FaultKind, target: Option<String>, start: u64) {
        lock(&self.faults).push(Fault {
            kind,
            target,
            start,
            end: now_ns(),
        });
    }

    fn host_fault(&self, kind: FaultKind, index: usize, span: Duration) {
        let (member, pid) = {
            let slot = lock(&self.hosts[index]);
            let Some(process) = &slot.process else { return };
            (process.member.clone(), process.pid())
        };
        let start = now_ns();
        match kind {
            FaultKind::Kill => {
                if let Some(mut process) = lock(&self.hosts[index]).process.take() {
                    process.kill();
                }
                std::thread::sleep(span);
                let mut slot = lock(&self.hosts[index]);
                self.respawn(&mut slot);
            }
            FaultKind::PauseShort | FaultKind::PauseLong => {
                signal(&pid, "STOP");
                std::thread::sleep(span);
                signal(&pid, "CONT");
            }
            FaultKind::PartitionShort | FaultKind::PartitionLong => {
                let network = self.network.as_ref().expect("partitions need the network");
                network.cut(index);
                std::thread::sleep(span);
                network.heal(index);
            }
            FaultKind::ServerRestart | FaultKind::ServerWipe | FaultKind::DaemonRestart => {
                unreachable!("not a host fault")
            }
        }
        self.record(kind, Some(member), start);
    }

    /// Kill a daemon (SIGKILL), and start it again at its address after `span`.
    fn daemon_fault(&self, index: usize, span: Duration) {
        let start = now_ns();
        lock(&self.daemons[index]).kill();
        std::thread::sleep(span);
        lock(&self.daemons[index]).spawn();
        self.record(
            FaultKind::DaemonRestart,
            Some(format!("daemon{index}")),
            start,
        );
    }

    fn server_fault(&self, kind: FaultKind) {
        let start = now_ns();
        lock(&self.server).restart(kind == FaultKind::ServerRestart);
        self.record(kind, None, start);
    }
}
