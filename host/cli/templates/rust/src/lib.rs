//! {{name}}: a Roster event handler. Logs every event it is given, and keeps each group's
//! member count (its state: rebuilt from the snapshot the host gives it after a gap).

use std::collections::BTreeMap;

use handler_kit::types::MembershipEvent;
use handler_kit::{EventExt, Handler, Result, Resync, info};

#[derive(Default)]
struct Members {
    /// Members per group.
    count: BTreeMap<String, i64>,
}

impl Members {
    /// Add `delta` to `group`'s count; the new count.
    fn add(&mut self, group: &str, delta: i64) -> i64 {
        let count = self.count.entry(group.to_owned()).or_default();
        *count = (*count + delta).max(0);
        *count
    }
}

impl Handler for Members {
    fn event(&mut self, event: &MembershipEvent) -> Result {
        let line = format!("#{} {} {}", event.revision(), event.kind(), event.subject());
        match event {
            MembershipEvent::MemberJoined(e) => {
                let count = self.add(&e.group_id, 1);
                info!("{line}: {} (members: {count})", e.member_id);
            }
            MembershipEvent::MemberLeft(e) => {
                let count = self.add(&e.group_id, -1);
                info!("{line}: {} (members: {count})", e.member_id);
            }
            MembershipEvent::GroupDeleted(e) => {
                self.count.remove(&e.group_id);
                info!("{line}");
            }
            _ => info!("{line}"),
        }
        Ok(())
    }

    fn resync(&mut self, snapshot: &Resync) -> Result {
        self.count = snapshot
            .groups
            .iter()
            .map(|g| (g.group_id.clone(), g.members.len() as i64))
            .collect();
        info!(
            "resync at #{}: {} groups",
            snapshot.revision,
            snapshot.groups.len()
        );
        Ok(())
    }
}

handler_kit::export_handler!(Members);
