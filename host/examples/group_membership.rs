//! tooz's group-membership example, ported to Roster: create a group, join it, watch for
//! joins, see another member arrive, leave, and stop.
//!
//! Run it with `cargo run --example group_membership`.

use std::sync::{Arc, Mutex};

use roster::{Capabilities, CoordinationError, Heartbeat, get_coordinator};

/// Run the example; returns the (group, member) pairs the join callback saw.
async fn run() -> Result<Vec<(String, String)>, CoordinationError> {
    let coordinator = get_coordinator("zake://", "host-1")?;
    coordinator.start(Heartbeat::Manual).await?;

    let group = uuid::Uuid::new_v4().to_string();
    coordinator.create_group(&group).await?;
    coordinator.join_group(&group, Capabilities::none()).await?;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let watch = coordinator.watch_join_group(&group, move |event| {
        println!("{} {}", event.group_id, event.member_id);
        sink.lock()
            .expect("callback log")
            .push((event.group_id.to_string(), event.member_id.to_string()));
    })?;

    // Another coordinator, as another host would, joins the group.
    let other = get_coordinator("zake://", "host-2")?;
    other.start(Heartbeat::Manual).await?;
    other.join_group(&group, Capabilities::none()).await?;

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
        assert_eq!(seen[0].1, "host-2");
    }
}
