//! Keeps a live tally of every group (members, leader, last revision) and logs one summary
//! line per batch: cheap per event, so it also serves as the throughput benchmark's handler.
//! Needs no grants.

use std::collections::BTreeMap;

use handler_kit::types::{
    GroupCreated, GroupDeleted, LeaderElected, LeaderLost, MemberJoined, MemberLeft,
};
use handler_kit::{Handler, Result, Resync, info};

#[derive(Default)]
struct GroupTally {
    members: u64,
    leader: Option<String>,
}

#[derive(Default)]
struct Tally {
    groups: BTreeMap<String, GroupTally>,
}

impl Tally {
    /// The tally of group `id`, made if it is new (the id copied only then).
    fn group(&mut self, id: &str) -> &mut GroupTally {
        if !self.groups.contains_key(id) {
            self.groups.insert(id.to_owned(), GroupTally::default());
        }
        self.groups.get_mut(id).expect("inserted above")
    }
}

impl Handler for Tally {
    fn group_created(&mut self, e: &GroupCreated) -> Result {
        self.group(&e.group_id);
        Ok(())
    }

    fn group_deleted(&mut self, e: &GroupDeleted) -> Result {
        self.groups.remove(&e.group_id);
        Ok(())
    }

    fn member_joined(&mut self, e: &MemberJoined) -> Result {
        self.group(&e.group_id).members += 1;
        Ok(())
    }

    fn member_left(&mut self, e: &MemberLeft) -> Result {
        let group = self.group(&e.group_id);
        group.members = group.members.saturating_sub(1);
        Ok(())
    }

    fn leader_elected(&mut self, e: &LeaderElected) -> Result {
        self.group(&e.group_id).leader = Some(e.member_id.clone());
        Ok(())
    }

    fn leader_lost(&mut self, e: &LeaderLost) -> Result {
        self.group(&e.group_id).leader = None;
        Ok(())
    }

    fn batch_handled(&mut self, last: u64) -> Result {
        let summary: Vec<String> = self
            .groups
            .iter()
            .map(|(id, g)| match &g.leader {
                Some(leader) => format!("{id}={} (leader {leader})", g.members),
                None => format!("{id}={}", g.members),
            })
            .collect();
        info!("after #{last}: {}", summary.join(", "));
        Ok(())
    }

    fn resync(&mut self, snapshot: &Resync) -> Result {
        self.groups = snapshot
            .groups
            .iter()
            .map(|group| {
                let tally = GroupTally {
                    members: group.members.len() as u64,
                    leader: group.leader.as_ref().map(|l| l.member_id.clone()),
                };
                (group.group_id.clone(), tally)
            })
            .collect();
        Ok(())
    }
}

handler_kit::export_handler!(Tally);
