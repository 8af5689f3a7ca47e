//! Roster's end-to-end suite: the same behavioural tests, run against every backend.
//!
//! [`conformance`] holds the tests as plain async functions over a [`Harness`]; the
//! [`conformance_suite!`] macro turns each into a `#[tokio::test]` for one backend. The list
//! follows tooz's own `test_coordination.py` (membership, capabilities, heartbeat, watchers,
//! leader election) plus one or more tests for each of Roster's decisions R1-R12.
//!
//! The harness keeps the tests' time ([`Clock`]): tokio's paused clock for the embedded
//! backend (`conformance_suite!(harness)`), where time-based tests are exact and cost
//! nothing; or the real clock, scaled, for a backend in another process whose clock cannot
//! be paused (`conformance_suite!(real_time: harness.real_time(0.1))`).

pub mod conformance;
pub mod probe;
pub mod servers;

use std::any::Any;
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
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

/// How a harness's tests keep time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clock {
    /// Tokio's paused clock (`#[tokio::test(start_paused = true)]`): a sleep advances it at
    /// once and exactly, so time spans cost nothing and time-based assertions are exact.
    /// Only for backends that keep time on this process's tokio clock (`memory://`).
    Paused,
    /// The real clock, for backends in other processes, whose clock cannot be paused. Every
    /// time span of the suite is multiplied by `scale` (0.1 makes a 5 s membership timeout
    /// 0.5 s), and time-based assertions allow [`Harness::tolerance`].
    RealTime {
        /// What every time span of the suite is multiplied by.
        scale: f64,
    },
}

/// Where a test's coordinators live, how to make them, and how the test keeps time.
///
/// The suite states its time spans in nominal seconds and lets the harness turn them into
/// real durations ([`Harness::secs`], [`Harness::sleep`], [`Harness::with_timeout`]), so
/// the same test runs on the paused clock and, scaled, in real time.
#[derive(Clone)]
pub struct Harness {
    url: String,
    clock: Clock,
    /// What must live as long as the harness (a daemon the URL names).
    held: Vec<Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("url", &self.url)
            .field("clock", &self.clock)
            .field("held", &self.held.len())
            .finish()
    }
}

/// The least a real-time wait for the backend is given, however small the scale: a loaded
/// machine can hold a process up for a good fraction of a second.
const REAL_TIME_PATIENCE_FLOOR: Duration = Duration::from_secs(2);

impl Harness {
    /// A harness on a backend URL, on the paused clock; each harness should name a store of
    /// its own, so tests running in parallel do not see each other.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            clock: Clock::Paused,
            held: Vec::new(),
        }
    }

    /// A private in-memory store, with extra URL options (`""` for none), on the paused
    /// clock.
    pub fn memory(options: &str) -> Self {
        let name = uuid::Uuid::new_v4().simple();
        let query = if options.is_empty() {
            String::new()
        } else {
            format!("?{options}")
        };
        Self::new(format!("memory://{name}{query}"))
    }

    /// The same harness in real time, every time span multiplied by `scale` (for tests made
    /// by `conformance_suite!(real_time: ...)`).
    ///
    /// # Panics
    /// When `scale` is not a positive finite number.
    #[must_use]
    pub fn real_time(self, scale: f64) -> Self {
        assert!(
            scale.is_finite() && scale > 0.0,
            "time scale {scale} must be a positive number"
        );
        Self {
            clock: Clock::RealTime { scale },
            ..self
        }
    }

    /// The same harness, keeping `resource` alive as long as it or any harness made from it
    /// lives: say the daemon process its URL names, stopped when dropped at the end of the
    /// test.
    #[must_use]
    pub fn holding(mut self, resource: impl Any + Send + Sync) -> Self {
        self.held.push(Arc::new(resource));
        self
    }

    /// How this harness keeps time.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Whether this harness runs on tokio's paused clock.
    pub fn is_paused(&self) -> bool {
        self.clock == Clock::Paused
    }

    /// `secs` nominal seconds as a real duration: as given on the paused clock, scaled in
    /// real time.
    pub fn secs(&self, secs: impl Into<f64>) -> Duration {
        let secs = secs.into();
        match self.clock {
            Clock::Paused => Duration::from_secs_f64(secs),
            Clock::RealTime { scale } => Duration::from_secs_f64(secs * scale),
        }
    }

    /// Sleep `secs` nominal seconds ([`Harness::secs`]): instantly on the paused clock.
    pub async fn sleep(&self, secs: impl Into<f64>) {
        tokio::time::sleep(self.secs(secs)).await;
    }

    /// How far a measured duration may be from the one expected of the backend: zero on the
    /// paused clock (assertions stay exact), 20 % of `expected` in real time.
    pub fn tolerance(&self, expected: Duration) -> Duration {
        match self.clock {
            Clock::Paused => Duration::ZERO,
            Clock::RealTime { .. } => expected / 5,
        }
    }

    /// The limit for waiting on something the backend does within `secs` nominal seconds:
    /// [`Harness::secs`], and in real time at least 2 s.
    pub fn patience(&self, secs: impl Into<f64>) -> Duration {
        let limit = self.secs(secs);
        match self.clock {
            Clock::Paused => limit,
            Clock::RealTime { .. } => limit.max(REAL_TIME_PATIENCE_FLOOR),
        }
    }

    /// [`wait_until`] with the limit [`Harness::patience`]`(secs)`.
    pub async fn wait_until<T, F, Fut>(&self, secs: impl Into<f64>, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        wait_until(self.patience(secs), check).await
    }

    /// Wait for what the backend does on its own clock (an expiry, the election that
    /// follows) once the test has slept past the moment it is due. On the paused clock the
    /// embedded backend is exact, so `check` must hold at once: no time passes. In real time
    /// a backend may act a little late (a reaper's rhythm, a lease's granularity), so `check`
    /// is polled for up to [`Harness::patience`]`(0)`.
    pub async fn eventually<T, F, Fut>(&self, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        wait_until(self.patience(0), check).await
    }

    /// Freeze this whole process for `secs` nominal seconds while the backend's clock runs
    /// on, as a process that stalls (swapped out, stopped, a long pause) sees it: no task of
    /// this process (the background heartbeat included) runs in between. On the paused clock
    /// tokio's clock jumps in one step; in real time every worker thread of the runtime is
    /// blocked for that long.
    ///
    /// # Panics
    /// In real time, when the runtime's workers cannot all be held within a few seconds.
    pub async fn stall(&self, secs: impl Into<f64>) {
        let span = self.secs(secs);
        match self.clock {
            Clock::Paused => tokio::time::advance(span).await,
            Clock::RealTime { .. } => stall_runtime(span).await,
        }
    }

    /// The backend URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same store and clock with `options` set (`name=value&...`), the other options kept.
    pub fn with_options(&self, options: &str) -> Self {
        let (base, query) = self.url.split_once('?').unwrap_or((&self.url, ""));
        let name = |option: &str| option.split('=').next().unwrap_or_default().to_owned();
        let given: Vec<String> = options.split('&').map(name).collect();
        let kept = query
            .split('&')
            .filter(|o| !o.is_empty() && !given.contains(&name(o)));
        let merged: Vec<&str> = kept.chain(options.split('&')).collect();
        Self {
            url: format!("{base}?{}", merged.join("&")),
            ..self.clone()
        }
    }

    /// The same store and clock with a membership timeout of `secs` nominal seconds: the URL
    /// option `timeout=` set to [`Harness::secs`]`(secs)` (fractional in real time), the
    /// other options kept.
    pub fn with_timeout(&self, secs: impl Into<f64>) -> Self {
        let (base, query) = self.url.split_once('?').unwrap_or((&self.url, ""));
        let mut options: Vec<&str> = query
            .split('&')
            .filter(|o| !o.is_empty() && o.split('=').next() != Some("timeout"))
            .collect();
        let timeout = format!("timeout={}", self.secs(secs).as_secs_f64());
        options.push(&timeout);
        Self {
            url: format!("{base}?{}", options.join("&")),
            ..self.clone()
        }
    }

    /// A coordinator for `member`, not started.
    pub fn coordinator(&self, member: &str) -> Coordinator {
        get_coordinator(&self.url, member).expect("harness URL and member ids are valid")
    }

    /// A started coordinator for `member`, heartbeating by hand.
    pub async fn started(&self, member: &str) -> Coordinator {
        let c = self.coordinator(member);
        c.start_with(Heartbeat::Manual).await.expect("start");
        c
    }
}

/// Block every worker thread of the current runtime for `span` of real time.
async fn stall_runtime(span: Duration) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let runtime = Handle::current();
    if runtime.runtime_flavor() == RuntimeFlavor::CurrentThread {
        // This thread is the runtime's only worker.
        std::thread::sleep(span);
        return;
    }
    let workers = runtime.metrics().num_workers();
    let gate = Arc::new(Gate::default());
    let holds: Vec<_> = (0..workers)
        .map(|_| {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { gate.hold() })
        })
        .collect();
    // On a worker thread (a test's spawned task), hand its other tasks to another thread
    // first; on the thread running the test's `block_on`, this just runs the closure.
    let all_held = tokio::task::block_in_place(|| {
        let all_held = gate.wait_for(workers, Duration::from_secs(10));
        if all_held {
            std::thread::sleep(span);
        }
        gate.release();
        all_held
    });
    assert!(all_held, "could not hold all {workers} runtime workers");
    for hold in holds {
        hold.await.expect("a hold does not panic");
    }
}

/// Holds runtime workers until released.
#[derive(Default)]
struct Gate {
    /// How many workers are held, and whether they may go.
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, bool)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Block this (worker) thread until released.
    fn hold(&self) {
        let mut state = self.lock();
        state.0 += 1;
        self.changed.notify_all();
        while !state.1 {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Whether `count` workers were held within `limit`.
    fn wait_for(&self, count: usize, limit: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, limit, |s| s.0 < count)
            .unwrap_or_else(PoisonError::into_inner);
        state.0 >= count
    }

    fn release(&self) {
        self.lock().1 = true;
        self.changed.notify_all();
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
///
/// - `conformance_suite!(harness)`: on tokio's paused clock
///   (`#[tokio::test(start_paused = true)]`), for a harness on [`Clock::Paused`] (as made by
///   [`Harness::memory`] and [`Harness::new`]): every test, time-based ones exact and free.
/// - `conformance_suite!(real_time: harness)`: in real time
///   (`#[tokio::test(flavor = "multi_thread", worker_threads = 2)]`), for a harness made with
///   [`Harness::real_time`], as a backend in another process needs: every test but the
///   paused-only ones, time spans scaled and time-based assertions within
///   [`Harness::tolerance`].
///
/// Paused-only tests are those that only make sense with a clock the test controls (say,
/// asserting what happens at one exact instant, which a real clock cannot hit). There are
/// none at present: even a stalled process is simulated in real time, by blocking the
/// runtime's workers ([`Harness::stall`]). A test that needs one goes in the `@paused_only`
/// list below, with its reason in this comment.
///
/// Every `pub async fn NAME(h: &Harness)` of `src/conformance.rs` must be listed here once;
/// the unit test `every_conformance_test_is_registered_once_in_the_suite` fails otherwise, so
/// a test cannot be written and then silently never run.
#[macro_export]
macro_rules! conformance_suite {
    (@paused_only $attr:tt $paused:literal, $harness:expr) => {
        $crate::conformance_suite!(@tests $attr $paused, $harness;);
    };
    (@both $attr:tt $paused:literal, $harness:expr) => {
        $crate::conformance_suite!(@tests $attr $paused, $harness;
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
            async_callbacks_await_coordinator_calls_in_order,
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
            expired_member_learns_it_expired_from_its_next_join,
            join_group_create_after_expiry_creates_nothing_and_says_so,
            expired_candidate_learns_it_expired_after_standing_again,
            expiry_notice_lists_every_lost_group_after_member_expired_answers,
            expired_leader_holding_its_callback_stands_again,
            a_conflicting_store_wide_option_is_an_invalid_url,
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
    (@tests $attr:tt $paused:literal, $harness:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test $attr]
            async fn $name() {
                let harness: $crate::Harness = $harness;
                assert_eq!(
                    harness.is_paused(),
                    $paused,
                    "conformance_suite!(harness) takes a harness on the paused clock, \
                     conformance_suite!(real_time: harness) one made with .real_time(scale)"
                );
                $crate::conformance::$name(&harness).await;
            }
        )*
    };
    (real_time: $harness:expr) => {
        $crate::conformance_suite!(
            @both (flavor = "multi_thread", worker_threads = 2) false, $harness
        );
    };
    ($harness:expr) => {
        $crate::conformance_suite!(@both (start_paused = true) true, $harness);
        $crate::conformance_suite!(@paused_only (start_paused = true) true, $harness);
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The names of the conformance tests `src/conformance.rs` defines: every
    /// `pub async fn NAME(h: &Harness)`.
    fn defined() -> Vec<String> {
        include_str!("conformance.rs")
            .lines()
            .filter_map(|line| line.trim().strip_prefix("pub async fn "))
            .filter_map(|rest| rest.strip_suffix("(h: &Harness) {"))
            .map(str::to_owned)
            .collect()
    }

    /// The names `conformance_suite!` registers: the identifiers listed one per line in
    /// this file's macro.
    fn registered() -> Vec<String> {
        include_str!("lib.rs")
            .lines()
            .filter_map(|line| line.trim().strip_suffix(','))
            .filter(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_conformance_test_is_registered_once_in_the_suite() {
        let (defined, registered) = (defined(), registered());
        let unique: BTreeSet<&String> = registered.iter().collect();
        assert_eq!(unique.len(), registered.len(), "a test is registered twice");
        let defined: BTreeSet<&String> = defined.iter().collect();
        let missing: Vec<_> = defined.difference(&unique).collect();
        assert!(
            missing.is_empty(),
            "defined in conformance.rs but never run (add them to conformance_suite!): {missing:?}"
        );
        let unknown: Vec<_> = unique.difference(&defined).collect();
        assert!(
            unknown.is_empty(),
            "registered but not defined: {unknown:?}"
        );
        assert!(
            defined.len() >= 79,
            "the parser found only {}",
            defined.len()
        );
    }
}
