//! The history checker: reads every host's record of a soak and the faults injected, and checks
//! Roster's promises over the whole of it.
//!
//! Per store (a store that lost its data and came back empty is another store, with another
//! id), the events every host read are merged by revision into the one history, and:
//!
//! - **one history**: no two hosts read different events at one revision;
//! - **no gap, no duplicate**: each host's reader reads a contiguous run of revisions, and
//!   starts over only where it reported the history lost;
//! - **departures have their cause**: a member `left` only after its host called
//!   `leave_group` (or stopped); it `expired` only once its host had not heartbeaten for the
//!   membership timeout (minus [`Params::tolerance`]): its last successful beat was sent at
//!   least that long before anyone saw the expiry. The same holds for a leader's loss and a
//!   lock's release;
//! - **the dead go**: a host killed, or stopped or cut off for longer than the timeout plus
//!   [`Params::expiry_bound`], is in no group once that long has passed;
//! - **one leader per term**: a group has at most one leader at a time and its terms only grow;
//! - **one exclusive holder per token**: a lock's fencing token is the revision that granted it,
//!   and an exclusive hold is never granted beside another hold;
//! - **the history is the state**: replaying the history from a state a reader started from
//!   gives exactly the state each host reads at the end, at the revision it reads it.
//!
//! Violations name the rule and carry the offending records.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use roster::{Event, LeadershipEnd, LeaveReason, LockMode, LockReleaseReason, Revision};
use serde::{Deserialize, Serialize};

use super::record::{Entry, Line, Op, State};

/// The soak's settings the checker judges by.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// The membership timeout every host runs with.
    pub timeout: Duration,
    /// How far apart two readings of the one clock may be taken as simultaneous.
    pub tolerance: Duration,
    /// How long after the timeout a dead host's members may still be listed.
    pub expiry_bound: Duration,
}

/// The record of one host process (a host restarted after a kill is another record).
#[derive(Clone, Debug)]
pub struct HostRecord {
    /// The host's name in the soak (`h3`, `observer`); stable across restarts.
    pub host: String,
    /// Whether it reached the store through the soak's daemons.
    pub via_daemon: bool,
    /// What it wrote.
    pub lines: Vec<Line>,
}

/// A fault the soak injected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Which.
    pub kind: FaultKind,
    /// The member id of the host process it hit, or the daemon (`daemon1`); `None` for a
    /// fault of the server.
    pub target: Option<String>,
    /// When it began (nanoseconds since the Unix epoch).
    pub start: u64,
    /// When it was healed: the host continued, the link came back, the server answered again.
    /// For a kill, when the host was restarted (as another member).
    pub end: u64,
}

/// The kinds of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL of a host, restarted later as a new member.
    Kill,
    /// SIGSTOP of a host for less than the membership timeout, then SIGCONT.
    PauseShort,
    /// SIGSTOP of a host for longer than the membership timeout, then SIGCONT.
    PauseLong,
    /// A host cut from the server (its link down) for less than the timeout.
    PartitionShort,
    /// A host cut from the server for longer than the timeout.
    PartitionLong,
    /// The server killed and started again with its data.
    ServerRestart,
    /// The server killed and started again empty: a new store.
    ServerWipe,
    /// A daemon killed (SIGKILL) and started again at its address; its clients go on
    /// through another meanwhile.
    DaemonRestart,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kill => "kill",
            Self::PauseShort => "pause-short",
            Self::PauseLong => "pause-long",
            Self::PartitionShort => "partition-short",
            Self::PartitionLong => "partition-long",
            Self::ServerRestart => "server-restart",
            Self::ServerWipe => "server-wipe",
            Self::DaemonRestart => "daemon-restart",
        })
    }
}

/// A broken promise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule (one of the module's list).
    pub rule: &'static str,
    /// What happened, with the records involved.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.detail)
    }
}

/// What the checker found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Host records read.
    pub hosts: usize,
    /// Stores seen (1, plus one per wipe of the server the hosts lived through).
    pub stores: usize,
    /// Distinct events checked (revisions of all stores).
    pub events: usize,
    /// Events read, summed over hosts.
    pub observations: usize,
    /// Final states compared with the replayed history.
    pub finals: usize,
    /// Members seen to expire.
    pub expiries: usize,
    /// The longest from a fault that silenced a host (kill, long pause, long partition) to
    /// its member being in no group, as first seen.
    pub worst_time_to_gone: Option<Duration>,
    /// That member and fault.
    pub worst_gone: String,
    /// The longest from a fault that silenced a leader's host to the next candidate of its
    /// group being seen elected in its place.
    pub worst_failover: Option<Duration>,
    /// The longest a host on the daemons went, from a daemon's kill, until a heartbeat of
    /// its went through again (through another daemon, or the one restarted).
    pub worst_daemon_failover: Option<Duration>,
    /// Every broken promise.
    pub violations: Vec<Violation>,
}

/// Check the records of a soak.
pub fn check(records: &[HostRecord], faults: &[Fault], params: &Params) -> Report {
    let mut checker = Checker {
        params: *params,
        report: Report {
            hosts: records.len(),
            ..Report::default()
        },
        members: HashMap::new(),
        stores: BTreeMap::new(),
        order: Vec::new(),
    };
    for record in records {
        checker.read_host(record);
    }
    checker.time_daemon_failovers(records, faults);
    checker.report.stores = checker.stores.len();
    checker.report.events = checker.stores.values().map(|s| s.events.len()).sum();
    let order = checker.order.clone();
    for store in order {
        checker.replay(&store, faults);
    }
    checker.report
}

/// What one host process did, for judging the departures of its member.
#[derive(Debug, Default)]
struct MemberDeeds {
    host: String,
    started: u64,
    /// `(sent, answered)` of every call that left the session live for the timeout from
    /// then: a successful heartbeat, or a heartbeat (or join, or stand) that found the session
    /// expired and reopened it.
    renewals: Vec<(u64, u64)>,
    /// `(op, target, sent)` of every call made.
    calls: Vec<(Op, String, u64)>,
}

impl MemberDeeds {
    /// The latest time the member's session is known to have been refreshed before `at`.
    fn last_refresh_before(&self, at: u64) -> u64 {
        self.renewals
            .iter()
            .filter(|(_, answered)| *answered <= at)
            .map(|(sent, _)| *sent)
            .max()
            .unwrap_or(self.started)
            .max(self.started)
    }

    /// Whether the member called one of `ops` (on `target`, unless it is `stop`) at or before
    /// `at`.
    fn called_before(&self, ops: &[Op], target: &str, at: u64) -> bool {
        self.calls.iter().any(|(op, t, sent)| {
            ops.contains(op) && (*op == Op::Stop || t == target) && *sent <= at
        })
    }
}

/// One revision of a store, as read.
#[derive(Debug)]
struct Seen {
    event: Event,
    /// When the first host read it.
    first_seen: u64,
    /// Who did.
    by: Vec<String>,
}

#[derive(Debug, Default)]
struct StoreRecord {
    events: BTreeMap<Revision, Seen>,
    /// States readers started from: `(host, state)`.
    snapshots: Vec<(String, State)>,
    /// Final readings: `(host, state)`.
    finals: Vec<(String, State)>,
}

struct Checker {
    params: Params,
    report: Report,
    members: HashMap<String, MemberDeeds>,
    stores: BTreeMap<String, StoreRecord>,
    /// Store ids in the order they were first seen.
    order: Vec<String>,
}

impl Checker {
    fn violate(&mut self, rule: &'static str, detail: String) {
        self.report.violations.push(Violation { rule, detail });
    }

    fn store(&mut self, id: &str) -> &mut StoreRecord {
        if !self.stores.contains_key(id) {
            self.order.push(id.to_owned());
        }
        self.stores.entry(id.to_owned()).or_default()
    }

    fn read_host(&mut self, record: &HostRecord) {
        let host = &record.host;
        let mut member = String::new();
        let mut store: Option<String> = None;
        // The last revision read in each store, for gaps and duplicates.
        let mut last: HashMap<String, Revision> = HashMap::new();
        // Whether the reader reported a loss since its last event: the next may skip ahead.
        let mut lost = false;
        // When each call was sent.
        let mut sent_calls: HashMap<u64, u64> = HashMap::new();
        let mut deeds = MemberDeeds {
            host: host.clone(),
            ..MemberDeeds::default()
        };
        for line in &record.lines {
            match &line.entry {
                Entry::Started { member: m } => {
                    member.clone_from(m);
                    deeds.started = line.at;
                }
                Entry::Beat { sent, renewed, .. } => {
                    if *renewed {
                        deeds.renewals.push((*sent, line.at));
                    }
                }
                Entry::Call { id, op, target } => {
                    sent_calls.insert(*id, line.at);
                    deeds.calls.push((*op, target.clone(), line.at));
                }
                Entry::Answer { id, reopened, .. } => {
                    if let (true, Some(&sent)) = (*reopened, sent_calls.get(id)) {
                        deeds.renewals.push((sent, line.at));
                    }
                }
                Entry::Segment { store: s, state } => {
                    let starts_over = store.as_ref().is_some_and(|old| old == s);
                    if starts_over && !lost {
                        self.violate(
                            "no gap, no duplicate",
                            format!("{host} ({member}) started over in store {s} without a loss"),
                        );
                    }
                    store = Some(s.clone());
                    self.store(s).snapshots.push((host.clone(), state.clone()));
                }
                Entry::Lost { .. } => lost = true,
                Entry::Event { event } => {
                    let Some(s) = store.clone() else {
                        self.violate(
                            "no gap, no duplicate",
                            format!("{host} ({member}) read {event:?} before its reader started"),
                        );
                        continue;
                    };
                    self.report.observations += 1;
                    let revision = event.revision();
                    if let Some(&before) = last.get(&s) {
                        if revision <= before {
                            self.violate(
                                "no gap, no duplicate",
                                format!(
                                    "{host} ({member}) read revision {revision} of store {s} \
                                     again, after {before}: {event:?}"
                                ),
                            );
                            continue;
                        }
                        if revision != before + 1 && !lost {
                            self.violate(
                                "no gap, no duplicate",
                                format!(
                                    "{host} ({member}) read revision {revision} of store {s} \
                                     right after {before}, with no loss reported"
                                ),
                            );
                        }
                    }
                    last.insert(s.clone(), revision);
                    lost = false;
                    self.merge(&s, host, &member, line.at, event);
                }
                Entry::Final { store: s, state } => {
                    self.store(s).finals.push((host.clone(), state.clone()));
                }
            }
        }
        if !member.is_empty() {
            self.members.insert(member, deeds);
        }
    }

    /// For each daemon killed, how long each host on the daemons that lived through it went
    /// until its next successful renewal.
    fn time_daemon_failovers(&mut self, records: &[HostRecord], faults: &[Fault]) {
        for fault in faults.iter().filter(|f| f.kind == FaultKind::DaemonRestart) {
            for record in records.iter().filter(|r| r.via_daemon) {
                let alive = record.lines.first().is_some_and(|l| l.at < fault.start)
                    && record.lines.last().is_some_and(|l| l.at > fault.end);
                if !alive {
                    continue;
                }
                let through = record.lines.iter().find(|line| {
                    line.at > fault.start
                        && matches!(line.entry, Entry::Beat { sent, renewed: true, .. } if sent > fault.start)
                });
                let member = record.lines.iter().find_map(|line| match &line.entry {
                    Entry::Started { member } => Some(member.as_str()),
                    _ => None,
                });
                // A host paused or killed meanwhile was not waiting on the daemons.
                let faulted = |until: u64| {
                    faults.iter().any(|f| {
                        f.target.as_deref() == member && f.start <= until && f.end >= fault.start
                    })
                };
                if let Some(line) = through.filter(|line| !faulted(line.at)) {
                    let gap = Duration::from_nanos(line.at - fault.start);
                    if self
                        .report
                        .worst_daemon_failover
                        .is_none_or(|worst| gap > worst)
                    {
                        self.report.worst_daemon_failover = Some(gap);
                    }
                }
            }
        }
    }

    /// Add what `host` read to its store's history.
    fn merge(&mut self, store: &str, host: &str, member: &str, at: u64, event: &Event) {
        let revision = event.revision();
        let history = self.store(store);
        match history.events.get_mut(&revision) {
            Some(seen) if seen.event == *event => {
                seen.first_seen = seen.first_seen.min(at);
                seen.by.push(host.to_owned());
            }
            Some(seen) => {
                let detail = format!(
                    "at revision {revision} of store {store}, {host} ({member}) read {event:?} \
                     where {:?} read {:?}",
                    seen.by, seen.event
                );
                self.violate("one history", detail);
            }
            None => {
                history.events.insert(
                    revision,
                    Seen {
                        event: event.clone(),
                        first_seen: at,
                        by: vec![host.to_owned()],
                    },
                );
            }
        }
    }

    /// Replay one store's history from the earliest state a reader started from, checking
    /// each event against the rules and the finals against the state.
    fn replay(&mut self, store_id: &str, faults: &[Fault]) {
        let Some(record) = self.stores.remove(store_id) else {
            return;
        };
        let Some((_, base)) = record
            .snapshots
            .iter()
            .min_by_key(|(_, state)| state.revision)
            .cloned()
        else {
            self.stores.insert(store_id.to_owned(), record);
            return;
        };
        let mut replay = Replay::new(base, store_id);
        // The faults whose member must go, followed through the history.
        let mut watches = self.watches(faults);
        let mut finals: Vec<&(String, State)> = record.finals.iter().collect();
        finals.sort_by_key(|(_, state)| state.revision);
        let mut finals = finals.into_iter().peekable();
        self.compare_finals(&replay, &mut finals);
        let mut unread = false;
        let mut last_seen = 0;
        for (&revision, seen) in record.events.range(replay.state.revision + 1..) {
            if revision != replay.state.revision + 1 {
                // Nobody read what came between: the rules that need the state before cannot
                // be judged past here (each reader's own gaps are checked separately).
                unread = true;
                break;
            }
            last_seen = last_seen.max(seen.first_seen);
            self.activate(&mut watches, &replay, seen.first_seen);
            self.check_cause(&seen.event, seen.first_seen);
            let broken = replay.apply(&seen.event);
            for detail in broken {
                self.violate(detail.0, format!("{} (read by {:?})", detail.1, seen.by));
            }
            self.follow(&mut watches, &replay, &seen.event, seen.first_seen);
            self.compare_finals(&replay, &mut finals);
        }
        // A member still listed when the history read ends, past its deadline.
        for watch in &mut watches {
            if watch.active && watch.groups > 0 && !watch.late && last_seen > watch.deadline {
                self.late(watch, &replay);
            }
        }
        // A host waits until its reader has read through the revision of its final state, so
        // the history reaches every final state, unless nobody read part of it.
        for (host, state) in finals {
            if !unread {
                self.violate(
                    "the history is the state",
                    format!(
                        "{host} read its final state at revision {} of store {store_id}; the \
                         history read ends at {}",
                        state.revision, replay.state.revision
                    ),
                );
            }
        }
        self.stores.insert(store_id.to_owned(), record);
    }

    /// The faults after which a host's member must go, to follow through this store's
    /// history: kills, and pauses and partitions that outlast the timeout plus the bound.
    /// Faults that a wipe of the server overlaps are left out (the store they began in is
    /// gone).
    fn watches(&self, faults: &[Fault]) -> Vec<Watch> {
        let bound = nanos(self.params.timeout + self.params.expiry_bound);
        let wiped = |from: u64, to: u64| {
            faults
                .iter()
                .any(|f| f.kind == FaultKind::ServerWipe && f.start <= to && f.end >= from)
        };
        let mut watches: Vec<Watch> = faults
            .iter()
            .filter(|f| {
                matches!(
                    f.kind,
                    FaultKind::Kill | FaultKind::PauseLong | FaultKind::PartitionLong
                )
            })
            .filter_map(|f| {
                let member = f.target.clone()?;
                let deadline = f.start.saturating_add(bound);
                let lasts = f.kind == FaultKind::Kill || f.end > deadline;
                (lasts && !wiped(f.start, deadline)).then(|| Watch {
                    fault: f.clone(),
                    member,
                    deadline,
                    active: false,
                    groups: 0,
                    led: Vec::new(),
                    handover: None,
                    late: false,
                })
            })
            .collect();
        watches.sort_by_key(|w| w.fault.start);
        watches
    }

    /// Follow the faults' members through one event of the history (seen first at `seen`,
    /// already applied to `replay`): when each is in no group any more, and when the groups
    /// it led have a new leader.
    fn follow(&mut self, watches: &mut [Watch], replay: &Replay, event: &Event, seen: u64) {
        for watch in watches.iter_mut() {
            if !watch.active
                || (watch.groups == 0 && watch.led.is_empty() && watch.handover.is_none())
            {
                continue;
            }
            // The loss of a lead, and the election that hands it on at once when the group has
            // another candidate (an expiry ends a lead and elects the next in one change).
            let handover = watch.handover.take();
            match event {
                Event::LeaderLost(lost) if lost.member_id.as_str() == watch.member => {
                    let group = lost.group_id.as_str();
                    if let Some(index) = watch.led.iter().position(|g| g == group) {
                        watch.led.swap_remove(index);
                        watch.handover = Some((group.to_owned(), lost.revision));
                    }
                }
                Event::LeaderElected(elected) => {
                    if let Some((group, lost)) = handover
                        && group == elected.group_id.as_str()
                        && elected.revision == lost + 1
                    {
                        let failover = Duration::from_nanos(seen.saturating_sub(watch.fault.start));
                        if self
                            .report
                            .worst_failover
                            .is_none_or(|worst| failover > worst)
                        {
                            self.report.worst_failover = Some(failover);
                        }
                    }
                }
                Event::GroupDeleted(deleted) => {
                    watch.led.retain(|g| g != deleted.group_id.as_str());
                }
                _ => {}
            }
            if watch.groups == 0 {
                continue;
            }
            watch.groups = replay.groups_of(&watch.member).len();
            if watch.groups == 0 {
                let gone = Duration::from_nanos(seen.saturating_sub(watch.fault.start));
                if self
                    .report
                    .worst_time_to_gone
                    .is_none_or(|worst| gone > worst)
                {
                    self.report.worst_time_to_gone = Some(gone);
                    self.report.worst_gone = format!(
                        "{} ({} at {}), in no group from revision {}",
                        watch.member, watch.fault.kind, watch.fault.start, replay.state.revision
                    );
                }
                if seen > watch.deadline && !watch.late {
                    self.late(watch, replay);
                }
            } else if seen > watch.deadline && !watch.late {
                self.late(watch, replay);
            }
        }
    }

    /// Start following the faults that began by `seen`, from the state before the event
    /// first seen then.
    fn activate(&self, watches: &mut [Watch], replay: &Replay, seen: u64) {
        for watch in watches
            .iter_mut()
            .filter(|w| !w.active && w.fault.start <= seen)
        {
            watch.active = true;
            watch.groups = replay.groups_of(&watch.member).len();
            watch.led = replay
                .state
                .groups
                .iter()
                .filter(|(_, g)| g.leader.as_ref().is_some_and(|(m, _)| *m == watch.member))
                .map(|(id, _)| id.clone())
                .collect();
        }
    }

    /// A fault's member was still in a group when its deadline had passed.
    fn late(&mut self, watch: &mut Watch, replay: &Replay) {
        watch.late = true;
        let detail = format!(
            "{} ({} at {}) is still in {:?} at revision {}, more than {} after the fault",
            watch.member,
            watch.fault.kind,
            watch.fault.start,
            replay.groups_of(&watch.member),
            replay.state.revision,
            show(self.params.timeout + self.params.expiry_bound),
        );
        self.violate("the dead go", detail);
    }

    /// A departure's reason matches what its member's host did.
    fn check_cause(&mut self, event: &Event, seen: u64) {
        let (member, cause) = match event {
            Event::MemberLeft(left) => (
                left.member_id.as_str(),
                match left.reason {
                    LeaveReason::Left => {
                        Cause::Called(&[Op::Leave, Op::Stop], left.group_id.as_str())
                    }
                    LeaveReason::Expired | LeaveReason::SessionLost => Cause::Silence,
                    LeaveReason::GroupDeleted => Cause::Deleted(left.group_id.as_str()),
                },
            ),
            Event::LeaderLost(lost) => (
                lost.member_id.as_str(),
                match lost.reason {
                    LeadershipEnd::StoodDown => {
                        Cause::Called(&[Op::StandDown], lost.group_id.as_str())
                    }
                    LeadershipEnd::Resigned => {
                        Cause::Called(&[Op::Withdraw, Op::Leave, Op::Stop], lost.group_id.as_str())
                    }
                    LeadershipEnd::Expired | LeadershipEnd::SessionLost => Cause::Silence,
                    LeadershipEnd::GroupDeleted => Cause::Deleted(lost.group_id.as_str()),
                },
            ),
            Event::LockReleased(released) => (
                released.member_id.as_str(),
                match released.reason {
                    LockReleaseReason::Released => {
                        Cause::Called(&[Op::Unlock], released.lock.as_str())
                    }
                    LockReleaseReason::SessionClosed => Cause::Called(&[Op::Stop], ""),
                    LockReleaseReason::Expired
                    | LockReleaseReason::SessionLost
                    | LockReleaseReason::Broken => Cause::Silence,
                },
            ),
            _ => return,
        };
        let Some(deeds) = self.members.get(member) else {
            // Not a member of the soak's hosts.
            return;
        };
        let tolerance = nanos(self.params.tolerance);
        let broken = match cause {
            Cause::Called(ops, target) => (!deeds.called_before(ops, target, seen + tolerance))
                .then(|| {
                    format!(
                        "no {ops:?} call on {target:?} by {member} ({}) came before it",
                        deeds.host
                    )
                }),
            Cause::Deleted(group) => {
                let deleted = self
                    .members
                    .values()
                    .any(|d| d.called_before(&[Op::DeleteGroup], group, seen + tolerance));
                (!deleted).then(|| format!("no host deleted {group:?} before it"))
            }
            Cause::Silence => {
                let refreshed = deeds.last_refresh_before(seen);
                let timeout = nanos(self.params.timeout);
                if matches!(event, Event::MemberLeft(_)) {
                    self.report.expiries += 1;
                }
                (seen + tolerance < refreshed + timeout).then(|| {
                    format!(
                        "{member} ({}) was last refreshed by a heartbeat sent {} before it was \
                         seen gone, less than the timeout {}",
                        deeds.host,
                        show(Duration::from_nanos(seen.saturating_sub(refreshed))),
                        show(self.params.timeout),
                    )
                })
            }
        };
        if let Some(why) = broken {
            self.violate(
                "departures have their cause",
                format!("{event:?}, first seen at {seen}: {why}"),
            );
        }
    }

    /// Compare every final reading at the replay's revision with its state.
    fn compare_finals<'a>(
        &mut self,
        replay: &Replay,
        finals: &mut std::iter::Peekable<impl Iterator<Item = &'a (String, State)>>,
    ) {
        while let Some((host, state)) =
            finals.next_if(|(_, state)| state.revision <= replay.state.revision)
        {
            if state.revision < replay.base {
                continue;
            }
            self.report.finals += 1;
            if *state != replay.state {
                self.violate(
                    "the history is the state",
                    format!(
                        "{host} read at revision {} of store {}:\n  {state:?}\nthe history \
                         replayed gives:\n  {:?}",
                        state.revision, replay.store, replay.state
                    ),
                );
            }
        }
    }
}

/// A fault whose host's member must go, followed through a store's history.
struct Watch {
    fault: Fault,
    member: String,
    /// By when the member must be in no group: the fault's start, plus the timeout and the
    /// bound.
    deadline: u64,
    /// Whether the replay has reached the fault's start.
    active: bool,
    /// How many groups the member is in.
    groups: usize,
    /// The groups it led when the fault began, until it loses the lead.
    led: Vec<String>,
    /// The group whose lead it lost in the last event, and that event's revision.
    handover: Option<(String, Revision)>,
    /// Whether it was found still listed after its deadline (reported once).
    late: bool,
}

/// What must have come before a departure.
enum Cause<'a> {
    /// The member called one of these on the group or lock.
    Called(&'static [Op], &'a str),
    /// Some host deleted the group.
    Deleted(&'a str),
    /// The member's session went silent for the timeout.
    Silence,
}

/// A hold of a lock: the member, the mode and the fencing token.
type Hold = (String, LockMode, u64);

/// A store's state, replayed event by event, with the rules that need the state before an
/// event to judge it.
struct Replay {
    store: String,
    /// The revision the replay started from.
    base: Revision,
    state: State,
    /// Per lock: its holders `(member, mode, token)`. Known only when the replay started from
    /// the store's beginning (a state read later does not list locks).
    locks: Option<HashMap<String, Vec<Hold>>>,
    /// Per group, the newest term seen.
    terms: HashMap<String, u64>,
    /// Whether it started from a state read after the store's beginning, which may already
    /// hold some of the changes that follow (a reader's seed, read member by member after
    /// its revision, converges): those are then applied as they come, unjudged where the
    /// state shows them, and the final states are still compared exactly.
    converging: bool,
}

impl Replay {
    fn new(base: State, store: &str) -> Self {
        let converging = base.revision > 0;
        let locks = (!converging).then(HashMap::new);
        // A seed's leaders may be newer than the changes that follow it: terms are compared
        // among the changes only.
        let terms = HashMap::new();
        Self {
            store: store.to_owned(),
            base: base.revision,
            state: base,
            locks,
            terms,
            converging,
        }
    }

    /// The groups `member` is in.
    fn groups_of(&self, member: &str) -> Vec<&str> {
        self.state
            .groups
            .iter()
            .filter(|(_, group)| group.members.contains_key(member))
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Apply `event`; returns the rules it broke, with what happened.
    fn apply(&mut self, event: &Event) -> Vec<(&'static str, String)> {
        let broken = std::cell::RefCell::new(Vec::new());
        // From a state read at a revision, a change already in it may come again (the seed
        // converges): what the state shows of it is not judged, only what it leads to.
        let strict = !self.converging;
        let fail = |rule, detail: String| {
            broken
                .borrow_mut()
                .push((rule, format!("{event:?}: {detail}")));
        };
        let differs = |rule, detail: String| {
            if strict {
                fail(rule, detail);
            }
        };
        self.state.revision = event.revision();
        let groups = &mut self.state.groups;
        match event {
            Event::GroupCreated(e) => {
                if groups.contains_key(e.group_id.as_str()) {
                    differs("the history is the state", "the group existed".into());
                } else {
                    groups.insert(e.group_id.to_string(), Default::default());
                }
                self.terms.remove(e.group_id.as_str());
            }
            Event::GroupDeleted(e) => {
                match groups.remove(e.group_id.as_str()) {
                    None => differs("the history is the state", "no such group".into()),
                    Some(group) if !group.members.is_empty() || group.leader.is_some() => differs(
                        "the history is the state",
                        format!("the group still had {group:?}"),
                    ),
                    Some(_) => {}
                }
                self.terms.remove(e.group_id.as_str());
            }
            Event::MemberJoined(e) => match groups.get_mut(e.group_id.as_str()) {
                None => differs("the history is the state", "no such group".into()),
                Some(group) => {
                    let before = group
                        .members
                        .insert(e.member_id.to_string(), e.capabilities.clone());
                    if before.is_some() {
                        differs("the history is the state", "already a member".into());
                    }
                }
            },
            Event::MemberLeft(e) => {
                let gone = groups
                    .get_mut(e.group_id.as_str())
                    .and_then(|group| group.members.remove(e.member_id.as_str()));
                if gone.is_none() {
                    differs("the history is the state", "not a member".into());
                }
            }
            Event::CapabilitiesUpdated(e) => {
                match groups
                    .get_mut(e.group_id.as_str())
                    .and_then(|group| group.members.get_mut(e.member_id.as_str()))
                {
                    None => differs("the history is the state", "not a member".into()),
                    Some(capabilities) => *capabilities = e.capabilities.clone(),
                }
            }
            Event::LeaderElected(e) => match groups.get_mut(e.group_id.as_str()) {
                None => differs("the history is the state", "no such group".into()),
                Some(group) => {
                    if let Some(leader) = &group.leader {
                        differs(
                            "one leader per term",
                            format!("{leader:?} still led the group"),
                        );
                    }
                    let newest = self.terms.entry(e.group_id.to_string()).or_default();
                    if e.term <= *newest {
                        fail(
                            "one leader per term",
                            format!("term {} does not grow past {newest}", e.term),
                        );
                    }
                    *newest = (*newest).max(e.term);
                    group.leader = Some((e.member_id.to_string(), e.term));
                }
            },
            Event::LeaderLost(e) => match groups.get_mut(e.group_id.as_str()) {
                None => differs("the history is the state", "no such group".into()),
                Some(group) => {
                    let expected = Some((e.member_id.to_string(), e.term));
                    if group.leader == expected {
                        group.leader = None;
                    } else {
                        differs(
                            "one leader per term",
                            format!("the group's leader was {:?}", group.leader),
                        );
                        if strict {
                            group.leader = None;
                        }
                    }
                }
            },
            Event::LockAcquired(e) => {
                if e.token != e.revision {
                    fail(
                        "one exclusive holder per token",
                        "the token is not the revision that granted it".into(),
                    );
                }
                if let Some(locks) = &mut self.locks {
                    let holders = locks.entry(e.lock.to_string()).or_default();
                    let clash = match e.mode {
                        LockMode::Exclusive => !holders.is_empty(),
                        LockMode::Shared => holders.iter().any(|h| h.1 == LockMode::Exclusive),
                    };
                    if clash {
                        fail(
                            "one exclusive holder per token",
                            format!("granted beside {holders:?}"),
                        );
                    }
                    holders.push((e.member_id.to_string(), e.mode, e.token));
                }
            }
            Event::LockReleased(e) => {
                if let Some(locks) = &mut self.locks {
                    let holders = locks.entry(e.lock.to_string()).or_default();
                    let held = (e.member_id.to_string(), e.mode, e.token);
                    match holders.iter().position(|h| *h == held) {
                        Some(index) => {
                            holders.remove(index);
                        }
                        None => fail(
                            "one exclusive holder per token",
                            format!("released a hold not granted; holders {holders:?}"),
                        ),
                    }
                }
            }
        }
        broken.into_inner()
    }
}

fn nanos(span: Duration) -> u64 {
    u64::try_from(span.as_nanos()).unwrap_or(u64::MAX)
}

fn show(span: Duration) -> String {
    format!("{:.3} s", span.as_secs_f64())
}

#[cfg(test)]
mod tests;
