//! Logs every membership event, one line each, through the host's logging interface.
//! Needs no grants.

use handler_kit::types::{LeaveReason, MembershipEvent as E};
use handler_kit::{Handler, Result, Resync, info};

#[derive(Default)]
struct LogEvents;

fn why(reason: LeaveReason) -> &'static str {
    match reason {
        LeaveReason::Left => "left",
        LeaveReason::Expired => "expired",
        LeaveReason::SessionLost => "session lost",
        LeaveReason::GroupDeleted => "group deleted",
    }
}

impl Handler for LogEvents {
    fn event(&mut self, event: &E) -> Result {
        match event {
            E::GroupCreated(e) => info!("#{} group {} created", e.revision, e.group_id),
            E::GroupDeleted(e) => info!("#{} group {} deleted", e.revision, e.group_id),
            E::MemberJoined(e) => info!("#{} {} joined {}", e.revision, e.member_id, e.group_id),
            E::MemberLeft(e) => info!(
                "#{} {} left {} ({})",
                e.revision,
                e.member_id,
                e.group_id,
                why(e.reason)
            ),
            E::CapabilitiesUpdated(e) => info!(
                "#{} {} updated capabilities in {}",
                e.revision, e.member_id, e.group_id
            ),
            E::LeaderElected(e) => info!(
                "#{} {} leads {} (term {})",
                e.revision, e.member_id, e.group_id, e.term
            ),
            E::LeaderLost(e) => info!(
                "#{} {} no longer leads {} (term {})",
                e.revision, e.member_id, e.group_id, e.term
            ),
            E::LockAcquired(e) => info!("#{} {} acquired lock {}", e.revision, e.member_id, e.lock),
            E::LockReleased(e) => info!("#{} {} released lock {}", e.revision, e.member_id, e.lock),
        }
        Ok(())
    }

    fn resync(&mut self, snapshot: &Resync) -> Result {
        let (groups, revision) = (snapshot.groups.len(), snapshot.revision);
        let members: usize = snapshot.groups.iter().map(|g| g.members.len()).sum();
        info!("resync at #{revision}: {groups} groups, {members} members");
        Ok(())
    }
}

handler_kit::export_handler!(LogEvents);
