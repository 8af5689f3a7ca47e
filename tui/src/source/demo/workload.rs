//! Generated membership traffic for the demo: a small cluster that keeps changing.
//!
//! Members come and go in four groups, some stand for election, leaders stand down, members
//! update their capabilities, take turns holding two locks (waiting in line for them), and
//! now and then one stops heartbeating and expires. Every
//! fifty steps a member visits the `trap` group, which the misbehaving demo
//! plugin cannot stomach. The choices come from a seeded generator, so a seed tells one story.

use std::time::Duration;

use roster::{Blocking, Capabilities, Coordinator, Heartbeat, LockMode, get_coordinator};

/// The groups the demo's members use.
pub const GROUPS: [&str; 5] = ["api", "workers", "schedulers", "cache", "trap"];

/// The group members work in (all but `trap`).
const WORK_GROUPS: [&str; 4] = ["api", "workers", "schedulers", "cache"];
/// The locks members take turns holding: one exclusive, one shared by readers.
const LOCKS: [(&str, LockMode); 2] = [
    ("db-migrations", LockMode::Exclusive),
    ("reports", LockMode::Shared),
];
const ZONES: [&str; 3] = ["eu-west-1a", "eu-west-1b", "us-east-2c"];
const MAX_MEMBERS: usize = 24;
const MIN_MEMBERS: usize = 8;

/// xorshift64*: small, fast and good enough to pick demo actions.
#[derive(Clone, Copy, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (zero is replaced, xorshift cannot leave it).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with `percent` percent probability.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

struct Member {
    coordinator: Coordinator,
    groups: Vec<&'static str>,
    /// Stopped heartbeating on purpose; dropped once its timeout has certainly passed.
    doomed_at: Option<u64>,
}

/// The workload's state between steps.
struct Cluster {
    url: String,
    rng: Rng,
    members: Vec<Member>,
    next_id: u32,
    step: u64,
    steps_per_timeout: u64,
}

/// Run the workload against the store at `url` forever, one action every `step`.
pub async fn run(url: String, seed: u64, step: Duration, timeout: Duration) {
    let steps_per_timeout = (timeout.as_millis() / step.as_millis().max(1)) as u64 + 1;
    let mut cluster = Cluster {
        url,
        rng: Rng::new(seed),
        members: Vec::new(),
        next_id: 1,
        step: 0,
        steps_per_timeout,
    };
    let mut ticker = tokio::time::interval(step);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        cluster.step().await;
    }
}

fn capabilities(rng: &mut Rng) -> Capabilities {
    let zone = ZONES[rng.below(ZONES.len())];
    let slots = 2 + rng.below(15);
    let text = format!(
        r#"{{"zone":"{zone}","slots":{slots},"version":"1.{}.0"}}"#,
        rng.below(4)
    );
    Capabilities::from(text)
}

impl Cluster {
    async fn step(&mut self) {
        self.step += 1;
        self.heartbeat_and_reap().await;
        let live = self
            .members
            .iter()
            .filter(|m| m.doomed_at.is_none())
            .count();
        if live < MIN_MEMBERS {
            self.spawn_member().await;
            return;
        }
        if self.step % 50 == 20 {
            self.visit_trap().await;
            return;
        }
        match self.rng.below(100) {
            0..30 if self.members.len() < MAX_MEMBERS => self.spawn_member().await,
            0..45 => self.leave_one().await,
            45..70 => self.update_one().await,
            70..82 => self.stand_down_one().await,
            82..88 => self.doom_one(),
            _ => self.lock_one(),
        }
    }

    /// Heartbeat every live member once per second or so, and drop doomed members whose
    /// timeout has long passed.
    async fn heartbeat_and_reap(&mut self) {
        let every = (self.steps_per_timeout / 4).max(1);
        if self.step.is_multiple_of(every) {
            for member in self.members.iter().filter(|m| m.doomed_at.is_none()) {
                if let Err(e) = member.coordinator.heartbeat().await {
                    tracing::debug!(member = %member.coordinator.member_id(), %e, "heartbeat failed");
                }
            }
        }
        let step = self.step;
        let grace = self.steps_per_timeout * 2;
        self.members
            .retain(|m| m.doomed_at.is_none_or(|at| step < at + grace));
    }

    async fn spawn_member(&mut self) {
        let id = format!("node-{:03}", self.next_id);
        self.next_id += 1;
        let Ok(coordinator) = get_coordinator(&self.url, &id) else {
            return;
        };
        if coordinator.start_with(Heartbeat::Manual).await.is_err() {
            return;
        }
        let mut groups = vec![WORK_GROUPS[self.rng.below(WORK_GROUPS.len())]];
        if self.rng.chance(40) {
            let second = WORK_GROUPS[self.rng.below(WORK_GROUPS.len())];
            if !groups.contains(&second) {
                groups.push(second);
            }
        }
        for group in &groups {
            let caps = capabilities(&mut self.rng);
            if let Err(e) = coordinator.join_group_with(group, caps).await {
                tracing::debug!(%id, group, %e, "join failed");
            }
            if self.rng.chance(50) {
                let _ = coordinator.watch_elected_as_leader(group, |_| {});
            }
        }
        self.members.push(Member {
            coordinator,
            groups,
            doomed_at: None,
        });
    }

    fn pick_live(&mut self) -> Option<usize> {
        let live: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].doomed_at.is_none())
            .collect();
        (!live.is_empty()).then(|| live[self.rng.below(live.len())])
    }

    async fn leave_one(&mut self) {
        let Some(i) = self.pick_live() else { return };
        if self.rng.chance(50) || self.members[i].groups.len() == 1 {
            let member = self.members.swap_remove(i);
            let _ = member.coordinator.stop().await;
        } else {
            let group = self.members[i].groups.pop().expect("more than one group");
            let _ = self.members[i].coordinator.leave_group(group).await;
        }
    }

    async fn update_one(&mut self) {
        let Some(i) = self.pick_live() else { return };
        let groups = self.members[i].groups.clone();
        let group = groups[self.rng.below(groups.len())];
        let caps = capabilities(&mut self.rng);
        let _ = self.members[i]
            .coordinator
            .update_capabilities(group, caps)
            .await;
    }

    async fn stand_down_one(&mut self) {
        let group = WORK_GROUPS[self.rng.below(WORK_GROUPS.len())];
        for member in self.members.iter().filter(|m| m.doomed_at.is_none()) {
            if let Ok(true) = member.coordinator.stand_down_group_leader(group).await {
                return;
            }
        }
    }

    fn doom_one(&mut self) {
        let doomed = self
            .members
            .iter()
            .filter(|m| m.doomed_at.is_some())
            .count();
        if doomed >= 2 {
            return;
        }
        if let Some(i) = self.pick_live() {
            self.members[i].doomed_at = Some(self.step);
        }
    }

    /// A member takes one of the locks for a while, waiting up to a few seconds in line if
    /// it is taken (a stopped or expired member's hold goes with its session).
    fn lock_one(&mut self) {
        let Some(i) = self.pick_live() else { return };
        let (name, mode) = LOCKS[self.rng.below(LOCKS.len())];
        let Ok(lock) = self.members[i].coordinator.get_lock(name) else {
            return;
        };
        let patience = Duration::from_millis(1_500 + 500 * self.rng.below(6) as u64);
        let hold = Duration::from_millis(2_000 + 500 * self.rng.below(9) as u64);
        tokio::spawn(async move {
            if let Ok(Some(_token)) = lock.acquire(mode, Blocking::For(patience)).await {
                tokio::time::sleep(hold).await;
                let _ = lock.release().await;
            }
        });
    }

    /// A member joins `trap` and leaves again: the misbehaving plugin traps on both events.
    async fn visit_trap(&mut self) {
        let Some(i) = self.pick_live() else { return };
        let coordinator = &self.members[i].coordinator;
        if coordinator
            .join_group_with("trap", Capabilities::from("trap"))
            .await
            .is_ok()
        {
            let _ = coordinator.leave_group("trap").await;
        }
    }
}
