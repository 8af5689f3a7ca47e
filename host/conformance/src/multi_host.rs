//! Scenarios with several host processes sharing one store, that need no control of the
//! store's server: each host sees the others' members and the same events in the same order
//! while all of them write; a host killed with SIGKILL has its members expire on the others;
//! a lock held by a killed host goes to the next waiter once the holder's session expires,
//! with a greater token. The end-to-end suite runs them on Redis, etcd and a directory (with
//! the scenarios that restart or freeze the server, which stay there); `roster plugin
//! conformance` runs them against a driver component.
//!
//! The hosts are [`Probe`] processes and the calling process itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use roster::{Coordinator, Event, EventKind, Heartbeat, LeaveReason, get_coordinator};

use crate::probe::{HostProgram, Probe, joined, left};
use crate::{new_group, wait_until};

const PATIENCE: Duration = Duration::from_secs(20);

/// Where the scenarios' hosts meet, and how to start one.
#[derive(Clone)]
pub struct Hosts {
    /// How to start a host process.
    pub program: HostProgram,
    /// The store's URL with a membership timeout of the given seconds (`"5"`).
    pub url: Arc<dyn Fn(&str) -> String + Send + Sync>,
    /// The membership timeout (seconds) when a host is killed: on a directory it must
    /// outlast a lock the killed host may leave behind, so that no other host expires while
    /// that lock holds it up, whatever instant the kill hits.
    pub kill_timeout: &'static str,
    /// The least time from a kill to the killed member's expiry: its last heartbeat (one
    /// every half timeout) was at most half a timeout before the kill (give or take a beat a
    /// busy machine delayed, on a directory).
    pub least_expiry_after_kill: Duration,
}

impl std::fmt::Debug for Hosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hosts")
            .field("program", &self.program)
            .field("url", &(self.url)("T"))
            .finish_non_exhaustive()
    }
}

impl Hosts {
    /// The store's URL, with membership timeout `timeout` (seconds).
    pub fn url(&self, timeout: &str) -> String {
        (self.url)(timeout)
    }

    /// The timings for a store in a directory (`directory`) or on a server.
    pub fn timings(directory: bool) -> (&'static str, Duration) {
        if directory {
            ("4", Duration::from_secs(1))
        } else {
            ("1", Duration::from_millis(500))
        }
    }
}

/// A scenario, as [`crate::run`] calls it.
pub type ScenarioFn = for<'a> fn(&'a Hosts) -> std::pin::Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Every scenario of this module: (name, how to run it).
pub const SCENARIOS: [(&str, ScenarioFn); 3] = [
    (
        "hosts_sharing_a_store_see_each_others_members_and_the_same_events_in_order",
        |h| Box::pin(hosts_sharing_a_store_see_each_others_members_and_the_same_events_in_order(h)),
    ),
    (
        "a_host_killed_with_sigkill_has_its_members_expire_on_the_others",
        |h| Box::pin(a_host_killed_with_sigkill_has_its_members_expire_on_the_others(h)),
    ),
    (
        "a_lock_held_by_a_host_killed_with_sigkill_goes_to_the_next_waiter",
        |h| Box::pin(a_lock_held_by_a_host_killed_with_sigkill_goes_to_the_next_waiter(h)),
    ),
];

/// A started coordinator on `url`, once the store answers.
///
/// # Panics
/// When the store does not answer within 20 s.
pub async fn started(url: &str, member: &str, heartbeat: Heartbeat) -> Coordinator {
    let coordinator = get_coordinator(url, member).unwrap();
    wait_until(PATIENCE, || async {
        coordinator.start_with(heartbeat).await.ok()
    })
    .await;
    coordinator
}

/// Two host processes and this one share a store: while this one changes a group 42 times,
/// the two (heartbeating, each beat a write) read the same events in the same order, with
/// contiguous revisions, and all three see the same members.
pub async fn hosts_sharing_a_store_see_each_others_members_and_the_same_events_in_order(h: &Hosts) {
    let url = h.url("5");
    let g = new_group();
    let mut one = Probe::start(h.program.clone(), &url, "one", &g);
    let mut two = Probe::start(h.program.clone(), &url, "two", &g);
    one.read_until(joined("two"));

    // A third host (this process) changes the group many times, while the other two
    // heartbeat (each beat is a write) and follow the store's changes.
    let three = started(&url, "three", Heartbeat::Background).await;
    three.join_group_with(&g, "0").await.unwrap();
    for i in 1..=40 {
        three
            .update_capabilities(&g, i.to_string().into_bytes())
            .await
            .unwrap();
    }
    three.leave_group(&g).await.unwrap();

    let from = two.read_until(joined("two"))[0].revision();
    let seen_by_one: Vec<Event> = one
        .read_until(left("three"))
        .iter()
        .filter(|e| e.revision() >= from)
        .cloned()
        .collect();
    let seen_by_two = two.read_until(left("three")).to_vec();
    assert_eq!(
        seen_by_one, seen_by_two,
        "the same events in the same order"
    );
    let kinds: Vec<EventKind> = seen_by_two.iter().map(Event::kind).collect();
    let mut expected = vec![EventKind::MemberJoined];
    expected.extend([EventKind::CapabilitiesUpdated; 40]);
    expected.push(EventKind::MemberLeft);
    assert_eq!(kinds[kinds.len() - expected.len()..], expected, "{kinds:?}");
    // Contiguous revisions: nothing in between was missed.
    for pair in seen_by_two.windows(2) {
        assert_eq!(
            pair[1].revision(),
            pair[0].revision() + 1,
            "{seen_by_two:?}"
        );
    }
    // The members each host sees are the same.
    let mut members = three.get_members(&g).await.unwrap();
    members.sort();
    assert_eq!(members, ["one", "two"]);
    three.stop().await.unwrap();
}

/// A host killed with SIGKILL leaves nothing behind: its member expires on the others (reason
/// `expired`), not before its timeout, and the others stay.
pub async fn a_host_killed_with_sigkill_has_its_members_expire_on_the_others(h: &Hosts) {
    let url = h.url(h.kill_timeout);
    let g = new_group();
    let mut victim = Probe::start(h.program.clone(), &url, "victim", &g);
    let mut witness = Probe::start(h.program.clone(), &url, "witness", &g);
    victim.read_until(joined("witness"));
    let killed = Instant::now();
    victim.kill();

    let events = witness.read_until(left("victim"));
    let Some(Event::MemberLeft(gone)) = events
        .iter()
        .find(|e| matches!(e, Event::MemberLeft(l) if l.member_id == "victim"))
    else {
        unreachable!()
    };
    assert_eq!(gone.reason, LeaveReason::Expired);
    let after = killed.elapsed();
    assert!(
        after >= h.least_expiry_after_kill,
        "not before its timeout: {after:?}"
    );
    // The witness is still there.
    let observer = started(&url, "observer", Heartbeat::Manual).await;
    assert_eq!(observer.get_members(&g).await.unwrap(), ["witness"]);
}

/// Locks across hosts: the holder killed with SIGKILL releases nothing, and its lock goes
/// to the host waiting next once the holder's session expires (not before), with a token
/// greater than the holder's.
pub async fn a_lock_held_by_a_host_killed_with_sigkill_goes_to_the_next_waiter(h: &Hosts) {
    let url = h.url(h.kill_timeout);
    let (g, lock) = (new_group(), new_group());
    let mut holder = Probe::start_holding(h.program.clone(), &url, "holder", &g, &lock);
    let first = holder.locked_token();
    let mut waiter = Probe::start_holding(h.program.clone(), &url, "waiter", &g, &lock);
    let observer = started(&url, "observer", Heartbeat::Background).await;
    wait_until(PATIENCE, || async {
        let info = observer.get_lock_info(&lock).await.ok()?;
        (info.waiters.len() == 1 && info.waiters[0].member_id == "waiter").then_some(())
    })
    .await;
    let killed = Instant::now();
    holder.kill();

    let second = waiter.locked_token();
    let after = killed.elapsed();
    assert!(second > first, "tokens only grow: {first} then {second}");
    assert!(
        after >= h.least_expiry_after_kill,
        "not before the holder's timeout: {after:?}"
    );
    let info = observer.get_lock_info(&lock).await.unwrap();
    assert_eq!(info.holders.len(), 1);
    assert_eq!(info.holders[0].member_id, "waiter");
    assert_eq!(info.holders[0].token, second);
}

#[cfg(test)]
mod tests {
    /// Every public async function of this module that takes `&Hosts` is a scenario, and is
    /// listed in `SCENARIOS`.
    #[test]
    fn every_scenario_is_listed() {
        let source = include_str!("multi_host.rs");
        let defined: Vec<&str> = source
            .split("pub async fn ")
            .skip(1)
            .filter(|rest| {
                let signature = rest.split('{').next().unwrap_or_default();
                signature.contains("&Hosts")
            })
            .map(|rest| rest.split('(').next().unwrap_or_default())
            .collect();
        let listed: Vec<&str> = super::SCENARIOS.iter().map(|(name, _)| *name).collect();
        assert_eq!(listed, defined);
        assert_eq!(defined.len(), 3, "{defined:?}");
    }
}
