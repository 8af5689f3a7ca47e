//! Logs every membership event, one line each, through the host's logging interface.
//! Needs no grants.

use handler_kit::types::{
    CapabilitiesUpdated, GroupCreated, GroupDeleted, LeaderElected, LeaderLost, LeaveReason,
    MemberJoined, MemberLeft,
};
use handler_kit::{Handler, Result, Resync, info};

#[derive(Default)]
struct LogEvents;

impl Handler for LogEvents {
    fn group_created(&mut self, e: &GroupCreated) -> Result {
        info!("#{} group {} created", e.revision, e.group_id);
        Ok(())
    }

    fn group_deleted(&mut self, e: &GroupDeleted) -> Result {
        info!("#{} group {} deleted", e.revision, e.group_id);
        Ok(())
    }

    fn member_joined(&mut self, e: &MemberJoined) -> Result {
        info!("#{} {} joined {}", e.revision, e.member_id, e.group_id);
        Ok(())
    }

    fn member_left(&mut self, e: &MemberLeft) -> Result {
        let why = match e.reason {
            LeaveReason::Left => "left",
            LeaveReason::Expired => "expired",
            LeaveReason::SessionLost => "session lost",
            LeaveReason::GroupDeleted => "group deleted",
        };
        info!(
            "#{} {} left {} ({why})",
            e.revision, e.member_id, e.group_id
        );
        Ok(())
    }

    fn capabilities_updated(&mut self, e: &CapabilitiesUpdated) -> Result {
        info!(
            "#{} {} updated capabilities in {}",
            e.revision, e.member_id, e.group_id
        );
        Ok(())
    }

    fn leader_elected(&mut self, e: &LeaderElected) -> Result {
        info!(
            "#{} {} leads {} (term {})",
            e.revision, e.member_id, e.group_id, e.term
        );
        Ok(())
    }

    fn leader_lost(&mut self, e: &LeaderLost) -> Result {
        info!(
            "#{} {} no longer leads {} (term {})",
            e.revision, e.member_id, e.group_id, e.term
        );
        Ok(())
    }

    fn resync(&mut self, snapshot: &Resync) -> Result {
        let members: usize = snapshot.groups.iter().map(|g| g.members.len()).sum();
        info!(
            "resync at #{}: {} groups, {members} members",
            snapshot.revision,
            snapshot.groups.len()
        );
        Ok(())
    }
}

handler_kit::export_handler!(LogEvents);
