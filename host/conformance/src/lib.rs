//! Roster's conformance suites: the behaviour every backend must show, as plain async
//! functions over a [`Harness`], so the same tests run wherever a backend can be reached.
//!
//! [`conformance`] holds the membership suite (following tooz's own `test_coordination.py`:
//! membership, capabilities, heartbeat, watchers, leader election, plus one or more tests for
//! each of Roster's decisions R1-R12); [`lock_conformance`] the lock suite, for backends that
//! keep locks. They run in two ways:
//!
//! - as `#[tokio::test]`s, one per test and backend, made by the [`conformance_suite!`]
//!   macro (the end-to-end suite, `tests/`, and the daemon's tests);
//! - from the command line, against any driver component (`roster plugin conformance`),
//!   through [`run`], which runs every test of [`SUITES`] on a store of its own.
//!
//! The harness keeps the tests' time ([`Clock`]): tokio's paused clock for the embedded
//! backend (`conformance_suite!(harness)`), where time-based tests are exact and cost
//! nothing; or the real clock, scaled, for a backend in another process whose clock cannot
//! be paused (`conformance_suite!(real_time: harness.real_time(0.1))`).

pub mod conformance;
pub mod lock_conformance;
pub mod multi_host;
pub mod probe;
mod run;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use roster::{Coordinator, Heartbeat, get_coordinator};

pub use run::{Outcome, RunOptions, TestResult, count, run};

/// A test of a suite, as [`run`] calls it.
pub type TestFn = for<'a> fn(&'a Harness) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// One test: its name (the function's) and how to run it.
#[derive(Clone, Copy)]
pub struct Test {
    /// The test function's name, which says what it checks.
    pub name: &'static str,
    /// Runs it on a harness; a failed check panics.
    pub run: TestFn,
}

impl std::fmt::Debug for Test {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A suite: a name and its tests, in the order they are defined.
#[derive(Clone, Copy, Debug)]
pub struct Suite {
    /// `conformance` (membership) or `lock_conformance`.
    pub name: &'static str,
    /// Its tests.
    pub tests: &'static [Test],
}

/// Every suite, membership first.
pub const SUITES: [Suite; 2] = [
    Suite {
        name: "conformance",
        tests: CONFORMANCE,
    },
    Suite {
        name: "lock_conformance",
        tests: LOCKS,
    },
];

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
///   [`Harness::real_time`], as a backend in another process needs: every test, time spans
///   scaled and time-based assertions within [`Harness::tolerance`].
/// - `conformance_suite!(locks: harness)` and `conformance_suite!(locks real_time: harness)`:
///   the lock suite ([`lock_conformance`]), the same way, for a backend that keeps locks.
///
/// The tests are registered where they are defined: `build.rs` lists every
/// `pub async fn NAME(h: &Harness)` of `src/conformance.rs` into
/// [`for_each_conformance_test!`] (and of `src/lock_conformance.rs` into
/// [`for_each_lock_test!`]), so a test cannot be written and then never run.
#[macro_export]
macro_rules! conformance_suite {
    (@both $attr:tt $paused:literal, $harness:expr) => {
        $crate::for_each_conformance_test!(@tests $attr $paused, $harness);
    };
    (@locks $attr:tt $paused:literal, $harness:expr) => {
        $crate::for_each_lock_test!(@tests $attr $paused, $harness);
    };
    (@tests $attr:tt $paused:literal, $harness:expr; $module:ident; $($name:ident),* $(,)?) => {
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
                $crate::$module::$name(&harness).await;
            }
        )*
    };
    (real_time: $harness:expr) => {
        $crate::conformance_suite!(
            @both (flavor = "multi_thread", worker_threads = 2) false, $harness
        );
    };
    (locks real_time: $harness:expr) => {
        $crate::conformance_suite!(
            @locks (flavor = "multi_thread", worker_threads = 2) false, $harness
        );
    };
    (locks: $harness:expr) => {
        $crate::conformance_suite!(@locks (start_paused = true) true, $harness);
    };
    ($harness:expr) => {
        $crate::conformance_suite!(@both (start_paused = true) true, $harness);
    };
}

// `for_each_conformance_test!`, `for_each_lock_test!`, the name lists and the [`Test`]
// tables, generated by `build.rs` from `src/conformance.rs` and `src/lock_conformance.rs`.
include!(concat!(env!("OUT_DIR"), "/conformance_tests.rs"));

#[cfg(test)]
mod tests {
    /// The build script's list and a plain count of the suite's `pub async fn`s agree: a test
    /// written with another signature would otherwise be left out of the list silently.
    #[test]
    fn every_public_async_fn_of_the_suite_is_a_registered_test() {
        let defined = include_str!("conformance.rs")
            .lines()
            .filter(|line| line.trim_start().starts_with("pub async fn "))
            .count();
        assert_eq!(super::CONFORMANCE_TESTS.len(), defined);
        assert!(defined >= 79, "the suite has only {defined} tests");
        let locks = include_str!("lock_conformance.rs")
            .lines()
            .filter(|line| line.trim_start().starts_with("pub async fn "))
            .count();
        assert_eq!(super::LOCK_TESTS.len(), locks);
    }
}
