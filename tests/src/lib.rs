//! Roster's end-to-end suite: the same behavioural tests, run against every backend.
//!
//! [`conformance`] holds the tests as plain async functions over a [`Harness`]; the
//! [`conformance_suite!`] macro turns each into a `#[tokio::test]` for one backend. The list
//! follows tooz's own `test_coordination.py` (membership, capabilities, heartbeat, watchers,
//! leader election) plus one or more tests for each of Roster's decisions R1-R12.

pub mod conformance;

use std::future::Future;
use std::time::Duration;

use roster::{Coordinator, Heartbeat, get_coordinator};

/// Where `build.rs` put the guest plugins it built (`rust-log-events.wasm`, ...).
pub const PLUGIN_DIR: &str = env!("ROSTER_PLUGIN_DIR");

/// The path of a built plugin.
pub fn plugin(file: &str) -> std::path::PathBuf {
    std::path::Path::new(PLUGIN_DIR).join(file)
}

/// Whether `language`'s plugins were built on this machine; says why not on stderr. (A CI
/// build fails instead of skipping: `ROSTER_REQUIRE_LANGUAGES=all`.)
pub fn built(language: &str) -> bool {
    let skipped = env!("ROSTER_SKIPPED_LANGUAGES");
    let missing = skipped.split("; ").any(|entry| entry.starts_with(language));
    if missing {
        eprintln!("skipped: {language} plugins were not built on this machine: {skipped}");
    }
    !missing
}

/// Where a test's coordinators live, and how to make them.
#[derive(Clone, Debug)]
pub struct Harness {
    url: String,
}

impl Harness {
    /// A harness on a backend URL; each harness should name a store of its own, so tests
    /// running in parallel do not see each other.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into() }
    }

    /// A private in-memory store, with extra URL options (`""` for none).
    pub fn memory(options: &str) -> Self {
        let name = uuid::Uuid::new_v4().simple();
        let query = if options.is_empty() {
            String::new()
        } else {
            format!("?{options}")
        };
        Self::new(format!("memory://{name}{query}"))
    }

    /// The backend URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same store with other URL options.
    pub fn with_options(&self, options: &str) -> Self {
        let base = self.url.split('?').next().unwrap_or(&self.url);
        Self::new(format!("{base}?{options}"))
    }

    /// A coordinator for `member`, not started.
    pub fn coordinator(&self, member: &str) -> Coordinator {
        get_coordinator(&self.url, member).expect("harness URL and member ids are valid")
    }

    /// A started coordinator for `member`, heartbeating by hand.
    pub async fn started(&self, member: &str) -> Coordinator {
        let c = self.coordinator(member);
        c.start(Heartbeat::Manual).await.expect("start");
        c
    }
}

/// A fresh random group name, as tooz's tests use.
pub fn new_group() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Poll `check` (yielding to other tasks in between) until it returns `Some`, or panic after
/// `limit` of tokio time. With paused time the limit costs nothing and never flakes.
pub async fn wait_until<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Generate one `#[tokio::test]` per conformance test, each on a fresh harness from
/// `$harness` (an expression producing a [`Harness`]).
#[macro_export]
macro_rules! conformance_suite {
    ($harness:expr) => {
        $crate::conformance_suite!(@tests $harness;
            stop_before_start_is_not_started,
            is_started_follows_start_and_stop,
            start_twice_is_already_started,
            calls_before_start_fail_with_not_started,
            create_group_lists_the_group,
            create_group_twice_is_group_already_exist,
            get_groups_lists_every_created_group,
            group_summaries_count_members_and_name_the_leader,
            delete_group_removes_it_and_later_joins_fail,
            delete_missing_group_is_group_not_created,
            delete_non_empty_group_is_group_not_empty_until_the_member_leaves,
            join_group_lists_the_member,
            join_missing_group_is_group_not_created,
            join_group_create_creates_and_joins,
            join_group_create_joins_an_existing_group,
            join_with_a_member_id_already_in_the_group_is_member_already_exist,
            leave_group_removes_the_member,
            leave_missing_group_is_group_not_created,
            leave_group_not_joined_is_member_not_joined,
            get_members_lists_exactly_the_joined_members,
            stop_leaves_every_group_before_returning,
            silent_member_expires_after_the_timeout_with_one_left_event,
            get_member_capabilities_follows_call_order,
            complex_capabilities_round_trip,
            get_members_with_capabilities_maps_each_member,
            get_members_with_capabilities_of_missing_group_is_group_not_created,
            get_members_with_capabilities_of_empty_group_is_empty,
            member_without_capabilities_has_empty_ones,
            get_member_capabilities_of_missing_group_is_group_not_created,
            get_member_capabilities_of_non_member_is_member_not_joined,
            get_member_info_reports_capabilities_times_and_revision,
            get_member_info_errors_match_capabilities,
            get_members_info_reports_every_member_and_its_liveness,
            update_capabilities_replaces_them,
            update_capabilities_errors_name_the_missing_part,
            heartbeat_returns_the_membership_timeout,
            background_heartbeat_keeps_membership_past_the_timeout,
            background_heartbeat_counts_beats,
            watch_join_fires_once_per_join_and_not_after_unwatch,
            watch_leave_fires_once_per_leave_and_not_after_unwatch,
            watch_missing_group_is_group_not_created_and_registers_nothing,
            member_booted_out_by_same_id_is_no_longer_joined,
            unwatch_unknown_callback_is_watch_callback_not_found,
            unwatch_removes_the_hook,
            members_present_before_a_watch_produce_no_join_event,
            transient_changes_between_runs_are_all_delivered_in_order,
            watch_group_from_an_older_revision_replays_history,
            run_watchers_reports_history_lost_and_resumes,
            callbacks_may_call_back_into_the_coordinator,
            run_for_election_elects_the_only_candidate_once,
            next_candidate_is_elected_when_the_leader_stops,
            get_leader_is_none_until_a_candidate_stands,
            standing_down_passes_leadership_between_candidates,
            stand_down_by_a_non_leader_returns_false,
            unwatch_elected_as_leader_withdraws_the_candidacy,
            election_on_missing_group_is_group_not_created,
            terms_grow_with_every_leadership,
            expired_leader_is_replaced_with_a_leader_lost_event,
            deleting_a_group_ends_its_leadership,
            every_change_has_the_next_revision,
            group_lifecycle_and_capability_updates_are_events,
            expired_member_is_told_it_expired,
            expiry_notice_does_not_carry_over_to_a_recreated_group,
            stop_releases_leadership_before_returning,
            failed_join_changes_nothing,
            only_groups_and_members_are_listed,
            invalid_ids_are_rejected_with_clear_errors,
            oversized_capabilities_are_rejected,
            heartbeat_failures_are_visible_to_the_caller,
            subscribe_yields_every_change_in_order_and_waits_for_more,
            subscribe_from_a_dropped_revision_says_history_lost,
            coordinators_naming_the_same_store_see_each_other,
        );
    };
    (@tests $harness:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(start_paused = true)]
            async fn $name() {
                $crate::conformance::$name(&$harness).await;
            }
        )*
    };
}
