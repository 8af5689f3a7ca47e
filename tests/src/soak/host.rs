//! A soak host: one coordinator on the store doing a random workload from its seed, heartbeating
//! by hand so every beat is on record, and reading every change; all of it written to its
//! record ([`super::record`]). `roster-probe soak ...` runs it.
//!
//! It takes orders on stdin, one per line: `final` stops the workload, catches up with the
//! store's head and records what it reads there ([`Entry::Final`]), then prints `final` on
//! stdout; `stop` (or the end of stdin) stops the coordinator, leaving every group, and ends
//! the process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use roster::{
    Blocking, CoordinationError, Coordinator, Heartbeat, Lock, LockMode, WatchId, get_coordinator,
};
use tokio::io::AsyncBufReadExt;

use super::record::{Entry, Op, Recorder, now_ns};

/// The groups every host joins and leaves; they are created by the observer and never deleted.
pub const GROUPS: [&str; 3] = ["g0", "g1", "g2"];
/// Groups the hosts create and delete (and join, when they exist).
pub const PASSING_GROUPS: [&str; 2] = ["t0", "t1"];
/// The locks the hosts take.
pub const LOCKS: [&str; 2] = ["l0", "l1"];

/// How one host process runs.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// The backend URL (with its membership timeout).
    pub url: String,
    /// Its member id.
    pub member: String,
    /// Seeds its workload.
    pub seed: u64,
    /// Where it appends its record.
    pub record: PathBuf,
    /// Reads and records only: no workload. It creates the soak's groups first.
    pub observer: bool,
}

impl HostOptions {
    /// Read `URL MEMBER SEED RECORD [--observer]`.
    ///
    /// # Errors
    /// A usage message.
    pub fn from_args(args: &[String]) -> Result<Self, String> {
        let usage = || "usage: roster-probe soak URL MEMBER SEED RECORD [--observer]".to_owned();
        let (url, member, seed, record, observer) = match args {
            [url, member, seed, record] => (url, member, seed, record, false),
            [url, member, seed, record, flag] if flag == "--observer" => {
                (url, member, seed, record, true)
            }
            _ => return Err(usage()),
        };
        Ok(Self {
            url: url.clone(),
            member: member.clone(),
            seed: seed.parse().map_err(|_| usage())?,
            record: record.into(),
            observer,
        })
    }
}

/// Run a soak host until it is told to stop.
///
/// # Errors
/// When the coordinator cannot be made or started, or the record cannot be opened.
pub async fn run(options: HostOptions) -> Result<(), CoordinationError> {
    let recorder = Arc::new(
        Recorder::append_to(&options.record)
            .map_err(|e| CoordinationError::Connection(format!("the record: {e}")))?,
    );
    let coordinator = get_coordinator(&options.url, &options.member)?;
    let starting = now_ns();
    coordinator.start_with(Heartbeat::Manual).await?;
    recorder.write_at(
        starting,
        Entry::Started {
            member: options.member.clone(),
        },
    );
    let host = Arc::new(Host {
        coordinator: coordinator.clone(),
        recorder: Arc::clone(&recorder),
        calls: AtomicU64::new(0),
        read_through: AtomicU64::new(0),
    });
    let reader = tokio::spawn(Arc::clone(&host).read()?);
    let beats = tokio::spawn(Arc::clone(&host).beat());
    if options.observer {
        for group in GROUPS {
            match host
                .call(Op::CreateGroup, group, coordinator.create_group(group))
                .await
            {
                Ok(()) | Err(CoordinationError::GroupAlreadyExist(_)) => {}
                Err(other) => return Err(other),
            }
        }
    }
    let workload = (!options.observer).then(|| {
        let host = Arc::clone(&host);
        tokio::spawn(async move { Workload::new(options.seed).run(&host).await })
    });
    println!("ready");
    let mut orders = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(order)) = orders.next_line().await {
        match order.trim() {
            "final" => {
                if let Some(workload) = &workload {
                    workload.abort();
                }
                host.record_final().await;
                println!("final");
            }
            "stop" => break,
            other => eprintln!("roster-probe soak: unknown order {other:?}"),
        }
    }
    if let Some(workload) = workload {
        workload.abort();
    }
    beats.abort();
    let stopped = host.call(Op::Stop, "", coordinator.stop()).await;
    // Let the reader record the host's own departures.
    tokio::time::sleep(Duration::from_millis(200)).await;
    reader.abort();
    stopped
}

/// What the tasks of a host share.
struct Host {
    coordinator: Coordinator,
    recorder: Arc<Recorder>,
    /// Numbers the calls.
    calls: AtomicU64,
    /// The newest revision the reader has recorded (or started from) in the current store.
    read_through: AtomicU64,
}

impl Host {
    /// Record the call, make it, record its answer.
    async fn call<T>(
        &self,
        op: Op,
        target: &str,
        call: impl IntoFuture<Output = Result<T, CoordinationError>>,
    ) -> Result<T, CoordinationError> {
        let id = self.calls.fetch_add(1, Ordering::Relaxed);
        self.recorder.write(Entry::Call {
            id,
            op,
            target: target.to_owned(),
        });
        let answer = call.await;
        self.recorder.write(Entry::Answer {
            id,
            error: answer.as_ref().err().map(ToString::to_string),
            reopened: matches!(answer, Err(CoordinationError::SessionExpired { .. })),
        });
        answer
    }

    /// Record where the reader starts (over).
    fn record_segment(&self) -> u64 {
        let state = self.coordinator.read_state(|_| true);
        let revision = state.revision;
        self.read_through.store(revision, Ordering::SeqCst);
        self.recorder.write(Entry::Segment {
            store: self.coordinator.store_id(),
            state: state.into(),
        });
        revision
    }

    /// The reader: records every change, and every loss with where it starts over.
    fn read(self: Arc<Self>) -> Result<impl Future<Output = ()>, CoordinationError> {
        let start = self.record_segment();
        let mut changes = self.coordinator.subscribe(Some(start + 1))?;
        Ok(async move {
            while let Some(change) = changes.next().await {
                match change {
                    Ok(event) => {
                        let revision = event.revision();
                        self.recorder.write(Entry::Event { event });
                        self.read_through.fetch_max(revision, Ordering::SeqCst);
                    }
                    Err(error @ CoordinationError::HistoryLost { .. }) => {
                        self.recorder.write(Entry::Lost {
                            error: error.to_string(),
                        });
                        self.record_segment();
                    }
                    Err(other) => eprintln!("roster-probe soak: the change stream: {other}"),
                }
            }
        })
    }

    /// Heartbeat every third of the membership timeout, recording each beat.
    async fn beat(self: Arc<Self>) {
        let every = self.coordinator.membership_timeout() / 3;
        loop {
            tokio::time::sleep(every).await;
            let sent = now_ns();
            let error = self.coordinator.heartbeat().await.err();
            self.recorder.write(Entry::Beat {
                sent,
                renewed: matches!(error, None | Some(CoordinationError::SessionExpired { .. })),
                error: error.as_ref().map(ToString::to_string),
            });
        }
    }

    /// Catch up with the store's head, then record the state read there once the reader has
    /// recorded every change up to it.
    async fn record_final(&self) {
        let head = loop {
            match self.coordinator.store_revision().await {
                Ok(head) => break head,
                Err(error) => {
                    eprintln!("roster-probe soak: reading the store's head: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        while !self.coordinator.wait_for_revision(head).await {}
        let state = self.coordinator.read_state(|_| true);
        while self.read_through.load(Ordering::SeqCst) < state.revision {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.recorder.write(Entry::Final {
            store: self.coordinator.store_id(),
            state: state.into(),
        });
    }
}

/// The random workload of one host, and what it believes it holds (from the answers it got).
struct Workload {
    random: fastrand::Rng,
    joined: BTreeSet<&'static str>,
    standing: BTreeMap<&'static str, WatchId>,
    locks: BTreeMap<&'static str, Lock>,
    /// Numbers the capabilities it sets, so every update changes them.
    updates: u64,
}

impl Workload {
    fn new(seed: u64) -> Self {
        Self {
            random: fastrand::Rng::with_seed(seed),
            joined: BTreeSet::new(),
            standing: BTreeMap::new(),
            locks: BTreeMap::new(),
            updates: 0,
        }
    }

    async fn run(mut self, host: &Host) {
        loop {
            let pause = self.random.u64(20..250);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            self.step(host).await;
        }
    }

    fn any_group(&mut self) -> &'static str {
        if self.random.u8(0..5) == 0 {
            PASSING_GROUPS[self.random.usize(..PASSING_GROUPS.len())]
        } else {
            GROUPS[self.random.usize(..GROUPS.len())]
        }
    }

    /// Mostly a group it believes it is in, sometimes any.
    fn joined_group(&mut self) -> &'static str {
        if self.joined.is_empty() || self.random.u8(0..5) == 0 {
            return self.any_group();
        }
        let index = self.random.usize(..self.joined.len());
        self.joined.iter().nth(index).copied().unwrap_or(GROUPS[0])
    }

    fn capabilities(&mut self, host: &Host) -> String {
        self.updates += 1;
        format!("{}#{}", host.coordinator.member_id(), self.updates)
    }

    /// One call, chosen at random among those that make sense for what it holds.
    async fn step(&mut self, host: &Host) {
        let c = &host.coordinator;
        let roll = self.random.u8(0..100);
        match roll {
            0..20 => {
                let group = self.any_group();
                let capabilities = self.capabilities(host);
                let joined = host
                    .call(Op::Join, group, c.join_group_with(group, capabilities))
                    .await;
                if matches!(
                    joined,
                    Ok(()) | Err(CoordinationError::MemberAlreadyExist { .. })
                ) {
                    self.joined.insert(group);
                }
            }
            20..32 => {
                let group = self.joined_group();
                match host.call(Op::Leave, group, c.leave_group(group)).await {
                    Ok(()) | Err(CoordinationError::MemberNotJoined { .. }) => {
                        self.joined.remove(group);
                    }
                    Err(_) => {}
                }
            }
            32..47 => {
                let group = self.joined_group();
                let capabilities = self.capabilities(host);
                let updated = host
                    .call(
                        Op::UpdateCapabilities,
                        group,
                        c.update_capabilities(group, capabilities),
                    )
                    .await;
                if let Err(CoordinationError::MemberNotJoined { .. }) = updated {
                    self.joined.remove(group);
                }
            }
            47..57 => {
                let group = self.any_group();
                if !self.standing.contains_key(group) {
                    let stood = host
                        .call(Op::Stand, group, async {
                            c.watch_elected_as_leader(group, |_| {})
                        })
                        .await;
                    if let Ok(id) = stood {
                        self.standing.insert(group, id);
                    }
                }
            }
            57..63 => {
                let group = self.any_group();
                let _ = host
                    .call(Op::StandDown, group, c.stand_down_group_leader(group))
                    .await;
            }
            63..68 => {
                let group = self.any_group();
                if let Some(id) = self.standing.remove(group) {
                    let _ = host
                        .call(Op::Withdraw, group, async {
                            c.unwatch_elected_as_leader(group, id)
                        })
                        .await;
                }
            }
            68..72 => {
                let group = PASSING_GROUPS[self.random.usize(..PASSING_GROUPS.len())];
                let _ = host
                    .call(Op::CreateGroup, group, c.create_group(group))
                    .await;
            }
            72..76 => {
                let group = PASSING_GROUPS[self.random.usize(..PASSING_GROUPS.len())];
                if host
                    .call(Op::DeleteGroup, group, c.delete_group(group))
                    .await
                    .is_ok()
                {
                    self.joined.remove(group);
                    self.standing.remove(group);
                }
            }
            76..90 => {
                let name = LOCKS[self.random.usize(..LOCKS.len())];
                if !self.locks.contains_key(name) {
                    let (op, mode) = if self.random.bool() {
                        (Op::LockExclusive, LockMode::Exclusive)
                    } else {
                        (Op::LockShared, LockMode::Shared)
                    };
                    let Ok(lock) = c.get_lock(name) else { return };
                    let acquired = host.call(op, name, lock.acquire(mode, Blocking::No)).await;
                    if let Ok(Some(_)) = acquired {
                        self.locks.insert(name, lock);
                    }
                }
            }
            90..96 => {
                let name = LOCKS[self.random.usize(..LOCKS.len())];
                if let Some(lock) = self.locks.remove(name) {
                    let _ = host.call(Op::Unlock, name, lock.release()).await;
                }
            }
            _ => {
                let group = self.any_group();
                let _ = host.call(Op::GetMembers, group, c.get_members(group)).await;
            }
        }
    }
}
