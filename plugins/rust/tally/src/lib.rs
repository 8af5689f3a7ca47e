//! Keeps a live tally of every group (members, leader, last revision) and logs one summary
//! line per batch: cheap per event, so it also serves as the throughput benchmark's handler.
//! Needs no grants.

wit_bindgen::generate!({ path: "../../../wit", world: "roster:coordination/handler" });

use std::cell::RefCell;
use std::collections::BTreeMap;

use exports::roster::coordination::events::{Guest, Resync};
use roster::coordination::logging::{Level, log};
use roster::coordination::types::MembershipEvent;

#[derive(Default)]
struct GroupTally {
    members: u64,
    leader: Option<String>,
}

thread_local! {
    static GROUPS: RefCell<BTreeMap<String, GroupTally>> = const { RefCell::new(BTreeMap::new()) };
}

struct Tally;

impl Guest for Tally {
    fn on_events(events: Vec<MembershipEvent>) -> Result<(), String> {
        let Some(last) = events.last().map(revision) else {
            return Ok(());
        };
        GROUPS.with_borrow_mut(|groups| {
            for event in events {
                match event {
                    MembershipEvent::GroupCreated(e) => {
                        groups.entry(e.group_id).or_default();
                    }
                    MembershipEvent::GroupDeleted(e) => {
                        groups.remove(&e.group_id);
                    }
                    MembershipEvent::MemberJoined(e) => {
                        groups.entry(e.group_id).or_default().members += 1
                    }
                    MembershipEvent::MemberLeft(e) => {
                        let group = groups.entry(e.group_id).or_default();
                        group.members = group.members.saturating_sub(1);
                    }
                    MembershipEvent::CapabilitiesUpdated(_) => {}
                    MembershipEvent::LeaderElected(e) => {
                        groups.entry(e.group_id).or_default().leader = Some(e.member_id);
                    }
                    MembershipEvent::LeaderLost(e) => {
                        groups.entry(e.group_id).or_default().leader = None
                    }
                }
            }
            let summary: Vec<String> = groups
                .iter()
                .map(|(id, g)| match &g.leader {
                    Some(leader) => format!("{id}={} (leader {leader})", g.members),
                    None => format!("{id}={}", g.members),
                })
                .collect();
            log(
                Level::Info,
                &format!("after #{last}: {}", summary.join(", ")),
            );
        });
        Ok(())
    }

    fn on_resync(snapshot: Resync) -> Result<(), String> {
        GROUPS.with_borrow_mut(|groups| {
            groups.clear();
            for group in snapshot.groups {
                groups.insert(
                    group.group_id,
                    GroupTally {
                        members: group.members.len() as u64,
                        leader: group.leader.map(|l| l.member_id),
                    },
                );
            }
        });
        Ok(())
    }
}

fn revision(event: &MembershipEvent) -> u64 {
    match event {
        MembershipEvent::GroupCreated(e) => e.revision,
        MembershipEvent::GroupDeleted(e) => e.revision,
        MembershipEvent::MemberJoined(e) => e.revision,
        MembershipEvent::MemberLeft(e) => e.revision,
        MembershipEvent::CapabilitiesUpdated(e) => e.revision,
        MembershipEvent::LeaderElected(e) => e.revision,
        MembershipEvent::LeaderLost(e) => e.revision,
    }
}

export!(Tally);
