//! Logs every membership event, one line each, through the host's logging interface.
//! Needs no grants.

wit_bindgen::generate!({ path: "../../../wit", world: "roster:coordination/handler" });

use exports::roster::coordination::events::{Guest, Resync};
use roster::coordination::logging::{Level, log};
use roster::coordination::types::{LeaveReason, MembershipEvent};

struct LogEvents;

fn describe(event: &MembershipEvent) -> String {
    match event {
        MembershipEvent::GroupCreated(e) => format!("#{} group {} created", e.revision, e.group_id),
        MembershipEvent::GroupDeleted(e) => format!("#{} group {} deleted", e.revision, e.group_id),
        MembershipEvent::MemberJoined(e) => {
            format!("#{} {} joined {}", e.revision, e.member_id, e.group_id)
        }
        MembershipEvent::MemberLeft(e) => {
            let why = match e.reason {
                LeaveReason::Left => "left",
                LeaveReason::Expired => "expired",
                LeaveReason::SessionLost => "session lost",
                LeaveReason::GroupDeleted => "group deleted",
            };
            format!(
                "#{} {} left {} ({why})",
                e.revision, e.member_id, e.group_id
            )
        }
        MembershipEvent::CapabilitiesUpdated(e) => {
            format!(
                "#{} {} updated capabilities in {}",
                e.revision, e.member_id, e.group_id
            )
        }
        MembershipEvent::LeaderElected(e) => {
            format!(
                "#{} {} leads {} (term {})",
                e.revision, e.member_id, e.group_id, e.term
            )
        }
        MembershipEvent::LeaderLost(e) => {
            format!(
                "#{} {} no longer leads {} (term {})",
                e.revision, e.member_id, e.group_id, e.term
            )
        }
    }
}

impl Guest for LogEvents {
    fn on_events(events: Vec<MembershipEvent>) -> Result<(), String> {
        for event in &events {
            log(Level::Info, &describe(event));
        }
        Ok(())
    }

    fn on_resync(snapshot: Resync) -> Result<(), String> {
        let members: usize = snapshot.groups.iter().map(|g| g.members.len()).sum();
        log(
            Level::Info,
            &format!(
                "resync at #{}: {} groups, {members} members",
                snapshot.revision,
                snapshot.groups.len()
            ),
        );
        Ok(())
    }
}

export!(LogEvents);
