//! Running the suites outside the test harness, against a backend a URL names (a driver
//! component's, for `roster plugin conformance`): each test on a store of its own, in a
//! thread and tokio runtime of its own, as the test harness runs them (so a test that stalls
//! its runtime on purpose stalls only itself), a few at a time, each result reported as it
//! comes; then, given a way to start host processes, the multi-host scenarios
//! ([`crate::multi_host`]), one at a time (they kill processes and time expiries). A failed
//! check is a panic; its message and place are the failure.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::multi_host::{self, Hosts, ScenarioFn};
use crate::probe::HostProgram;
use crate::{Harness, SUITES, TestFn};

/// What to run, and where.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The backend: a server URL (`redis://HOST:PORT?driver=PATH`, ...; each test gets a
    /// `namespace` of its own) or a directory (`file:///DIR?driver=PATH`; each test gets a new
    /// directory inside it, removed afterwards).
    pub url: String,
    /// What every time span of the suites is multiplied by (0.1: a 5 s timeout is 0.5 s).
    pub scale: f64,
    /// How many tests run at once.
    pub jobs: usize,
    /// Only the tests whose name contains this.
    pub filter: Option<String>,
    /// A test still running after this long has failed (its thread is left behind).
    pub limit: Duration,
    /// How to start a host process, for the multi-host scenarios; without it they are not
    /// run.
    pub hosts: Option<HostProgram>,
}

/// How a test ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// A check failed: what it said, and where.
    Failed(String),
}

/// One test's result.
#[derive(Clone, Debug)]
pub struct TestResult {
    /// The suite it belongs to.
    pub suite: &'static str,
    /// The test.
    pub name: &'static str,
    /// Whether it passed.
    pub outcome: Outcome,
    /// How long it ran.
    pub took: Duration,
}

/// Panic messages by the thread they happened on, while [`run`] has its hook installed.
static PANICS: Mutex<Option<HashMap<ThreadId, String>>> = Mutex::new(None);

fn panics() -> std::sync::MutexGuard<'static, Option<HashMap<ThreadId, String>>> {
    PANICS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A per-test directory, removed when the last harness holding it goes.
struct RemovedOnDrop(PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A URL of a store of the test's own, made from `url`, and the directory made for it (for
/// a `file://` URL, removed when the returned guard drops).
fn isolated(url: &str) -> std::io::Result<(String, Option<RemovedOnDrop>)> {
    let id = uuid::Uuid::new_v4().simple();
    if let Some(rest) = url.strip_prefix("file://") {
        let (dir, query) = rest.split_once('?').unwrap_or((rest, ""));
        let own = PathBuf::from(dir).join(format!("conformance-{id}"));
        std::fs::create_dir_all(&own)?;
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        let url = format!("file://{}{query}", own.display());
        return Ok((url, Some(RemovedOnDrop(own))));
    }
    let url = Harness::new(url).with_options(&format!("namespace=conformance-{id}"));
    Ok((url.url().to_owned(), None))
}

/// What a queued test runs on.
#[derive(Clone, Copy)]
enum Body {
    /// A suite's test, on a harness.
    Suite(TestFn),
    /// A multi-host scenario, with host processes.
    Scenario(ScenarioFn),
}

/// A test to run.
#[derive(Clone, Copy)]
struct Queued {
    suite: &'static str,
    name: &'static str,
    body: Body,
}

/// A test with the store it runs on (its own), made before its thread starts.
enum Job {
    Suite(TestFn, Harness),
    Scenario(ScenarioFn, Hosts),
}

/// `test` on a store of its own, made from `options`; and the directory made for it.
fn job_for(test: &Queued, options: &RunOptions) -> std::io::Result<(Job, Option<PathBuf>)> {
    let (url, dir) = isolated(&options.url)?;
    let made = dir.as_ref().map(|d| d.0.clone());
    let job = match test.body {
        Body::Suite(run) => {
            let harness = Harness::new(url).real_time(options.scale);
            let harness = match dir {
                Some(dir) => harness.holding(dir),
                None => harness,
            };
            Job::Suite(run, harness)
        }
        Body::Scenario(run) => {
            let (kill_timeout, least_expiry_after_kill) = Hosts::timings(made.is_some());
            let dir = dir.map(Arc::new);
            let hosts = Hosts {
                program: options
                    .hosts
                    .clone()
                    .expect("scenarios are queued with hosts"),
                url: Arc::new(move |timeout| {
                    let _kept = &dir;
                    Harness::new(url.as_str())
                        .with_options(&format!("timeout={timeout}"))
                        .url()
                        .to_owned()
                }),
                kill_timeout,
                least_expiry_after_kill,
            };
            Job::Scenario(run, hosts)
        }
    };
    Ok((job, made))
}

/// Run one test on its own runtime (this thread's); panics when it fails.
fn run_one(job: &Job) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match job {
        Job::Suite(test, harness) => runtime.block_on(test(harness)),
        Job::Scenario(scenario, hosts) => runtime.block_on(scenario(hosts)),
    }
}

/// Run every test of [`SUITES`], and with `options.hosts` every scenario of
/// [`multi_host::SCENARIOS`] (those `options.filter` keeps), against `options.url`, calling
/// `report` with each result as it comes; returns them all, in suite order.
///
/// # Errors
/// The directory of a `file://` URL cannot be written.
pub fn run(
    options: &RunOptions,
    mut report: impl FnMut(&TestResult),
) -> std::io::Result<Vec<TestResult>> {
    let mut queue: VecDeque<Queued> = queued(options.hosts.is_some())
        .filter(|test| {
            options
                .filter
                .as_deref()
                .is_none_or(|part| test.name.contains(part))
        })
        .collect();
    let order: Vec<&'static str> = queue.iter().map(|t| t.name).collect();

    *panics() = Some(HashMap::new());
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let message = match info.payload().downcast_ref::<&str>() {
            Some(text) => (*text).to_owned(),
            None => info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "panicked".into()),
        };
        let place = info
            .location()
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        if let Some(map) = panics().as_mut() {
            map.entry(std::thread::current().id())
                .or_insert(format!("{message}{place}"));
        }
    }));

    let (done, finished) = mpsc::channel::<(usize, ThreadId, bool)>();
    let mut running: HashMap<usize, (Queued, Instant)> = HashMap::new();
    let mut results = Vec::new();
    let mut next_id = 0;
    let mut fatal = None;
    // A driver may still write a test's directory after the harness removed it.
    let mut made = Vec::new();
    let outcome = loop {
        while running.len() < options.jobs.max(1) {
            // A scenario runs alone: it kills processes and times expiries.
            let alone = |t: &Queued| matches!(t.body, Body::Scenario(_));
            if queue.front().is_some_and(alone) && !running.is_empty()
                || running.values().any(|(t, _)| alone(t))
            {
                break;
            }
            let Some(test) = queue.pop_front() else {
                break;
            };
            let job = match job_for(&test, options) {
                Ok((job, dir)) => {
                    made.extend(dir);
                    job
                }
                Err(error) => {
                    // No store for the rest: let those running finish, then say why.
                    queue.clear();
                    fatal = Some(error);
                    break;
                }
            };
            let id = next_id;
            next_id += 1;
            let done = done.clone();
            running.insert(id, (test, Instant::now()));
            std::thread::Builder::new()
                .name(format!("conformance {}", test.name))
                .spawn(move || {
                    let passed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_one(&job);
                    }))
                    .is_ok();
                    let _ = done.send((id, std::thread::current().id(), passed));
                })?;
        }
        if running.is_empty() {
            break fatal.take().map_or(Ok(()), Err);
        }
        let finished = finished.recv_timeout(Duration::from_millis(200));
        let mut ended = Vec::new();
        if let Ok((id, thread, passed)) = finished {
            let failure = panics().as_mut().and_then(|map| map.remove(&thread));
            let outcome = if passed {
                Outcome::Passed
            } else {
                Outcome::Failed(failure.unwrap_or_else(|| "panicked".into()))
            };
            ended.push((id, outcome));
        }
        for (id, (_, started)) in &running {
            if started.elapsed() > options.limit {
                ended.push((
                    *id,
                    Outcome::Failed(format!("still running after {} s", options.limit.as_secs())),
                ));
            }
        }
        for (id, outcome) in ended {
            if let Some((test, started)) = running.remove(&id) {
                let result = TestResult {
                    suite: test.suite,
                    name: test.name,
                    outcome,
                    took: started.elapsed(),
                };
                report(&result);
                results.push(result);
            }
        }
    };
    std::panic::set_hook(previous_hook);
    *panics() = None;
    for dir in made {
        drop(RemovedOnDrop(dir));
    }
    outcome?;
    results.sort_by_key(|r| order.iter().position(|n| *n == r.name));
    Ok(results)
}

/// Every test in the order they run: the suites', then (with `hosts`) the scenarios.
fn queued(hosts: bool) -> impl Iterator<Item = Queued> {
    let suites = SUITES.iter().flat_map(|suite| {
        suite.tests.iter().map(|test| Queued {
            suite: suite.name,
            name: test.name,
            body: Body::Suite(test.run),
        })
    });
    let scenarios = multi_host::SCENARIOS
        .iter()
        .filter(move |_| hosts)
        .map(|(name, scenario)| Queued {
            suite: "multi_host",
            name,
            body: Body::Scenario(*scenario),
        });
    suites.chain(scenarios)
}

/// How many tests a run with `hosts` (or without) and `filter` has.
pub fn count(hosts: bool, filter: Option<&str>) -> usize {
    queued(hosts)
        .filter(|t| filter.is_none_or(|part| t.name.contains(part)))
        .count()
}
