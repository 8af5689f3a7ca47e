//! tooz's group-membership example, ported to Roster: create a group, join it, watch for
//! joins (a callback that asks the coordinator who is in the group now), see another member
//! arrive, leave, and stop.
//!
//! Run it with `cargo run --example group_membership`.

use std::sync::{Arc, Mutex};

use roster::{CoordinationError, get_coordinator};

/// What the join callback saw: the group, the member that joined, and the group's members
/// at that moment.
type Seen = Vec<(String, String, usize)>;

/// Run the example; returns what the join callback saw.
async fn run() -> Result<Seen, CoordinationError> {
    let coordinator = get_coordinator("zake://", "host-1")?;
    coordinator.start().await?;

    let group = uuid::Uuid::new_v4().to_string();
    coordinator.create_group(&group).await?;
    coordinator.join_group(&group).await?;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    // An async callback is handed the coordinator, so it can await calls on it.
    let watch = coordinator.watch_join_group_async(&group, move |c, event| {
        let sink = Arc::clone(&sink);
        async move {
            let members = c
                .get_members(event.group_id.as_str())
                .await
                .unwrap_or_default();
            println!(
                "{} joined {}; {} members now",
                event.member_id,
                event.group_id,
                members.len()
            );
            sink.lock().expect("callback log").push((
                event.group_id.to_string(),
                event.member_id.to_string(),
                members.len(),
            ));
        }
    })?;

    // Another coordinator, as another host would, joins the group.
    let other = get_coordinator("zake://", "host-2")?;
    other.start().await?;
    other.join_group(&group).await?;

    // The callback runs here, once.
    coordinator.run_watchers().await?;

    coordinator.leave_group(&group).await?;
    let groups = coordinator.get_groups().await?;
    println!(
        "group still listed after leaving: {}",
        groups.iter().any(|g| *g == *group)
    );

    coordinator.unwatch_join_group(&group, watch)?;
    other.stop().await?;
    coordinator.stop().await?;

    let seen = seen.lock().expect("callback log").clone();
    Ok(seen)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), CoordinationError> {
    run().await.map(drop)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn seed_example_fires_the_join_callback_once_for_host_2() {
        let seen = super::run().await.unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!((seen[0].1.as_str(), seen[0].2), ("host-2", 2));
    }
}
