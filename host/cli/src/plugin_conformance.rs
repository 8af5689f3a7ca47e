//! `roster plugin conformance DRIVER.wasm --url URL`: certifies a backend driver component by
//! running Roster's conformance suites (membership and locks, the same tests the built-in
//! drivers pass in Roster's own test suite) and the multi-host scenarios that need no control
//! of the server (host processes of this program, `roster plugin conformance-host`, sharing
//! the store, one killed with SIGKILL) against it, on the store the URL names, with no need
//! for Roster's source. Each test gets a store of its own (a namespace on a server, a new
//! directory inside a `file://` one); each result is printed as it comes, and the exit code
//! says whether every test passed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use roster_conformance::probe::HostProgram;
use roster_conformance::{Outcome, RunOptions, TestResult};
use serde::Serialize;

use crate::{exit, output};

/// The flags of `roster plugin conformance`.
#[derive(Debug, clap::Args)]
pub struct ConformanceArgs {
    /// The driver component (.wasm).
    file: PathBuf,
    /// The store to test on, with the scheme the driver serves: redis://HOST:PORT,
    /// etcd3+http://HOST:PORT or file:///DIR (each test uses a namespace or a directory of
    /// its own), with any options the driver takes; `driver=` is added.
    #[arg(long)]
    url: String,
    /// What every time span of the suites is multiplied by: 0.1 makes a 5 s membership
    /// timeout 0.5 s. Raise it for a slow store or machine.
    #[arg(long, default_value_t = 0.1)]
    time_scale: f64,
    /// How many tests run at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// Run only the tests whose name contains this.
    #[arg(long)]
    test: Option<String>,
    /// A test still running after this many seconds has failed.
    #[arg(long, default_value_t = 120)]
    test_limit_secs: u64,
    /// Leave out the multi-host scenarios (host processes of this program sharing the store,
    /// one killed with SIGKILL).
    #[arg(long)]
    no_multi_host: bool,
}

/// One result, as `--json` prints it.
#[derive(Serialize)]
struct Line<'a> {
    suite: &'a str,
    test: &'a str,
    passed: bool,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a str>,
}

/// The summary, as `--json` prints it last.
#[derive(Serialize)]
struct Summary<'a> {
    driver: &'a Path,
    url: &'a str,
    tests: usize,
    passed: usize,
    failed: Vec<&'a str>,
    seconds: f64,
}

/// The URL the tests run on: `url` with `driver=FILE`, or why it cannot be used.
fn driver_url(url: &str, file: &Path) -> Result<String, String> {
    let scheme = url.split("://").next().unwrap_or_default();
    if !matches!(scheme, "redis" | "etcd3+http" | "file") {
        return Err(format!(
            "{url}: a driver is tested on a store it serves: redis://HOST:PORT, \
             etcd3+http://HOST:PORT or file:///DIR"
        ));
    }
    let (_, query) = url.split_once('?').unwrap_or((url, ""));
    if query.split('&').any(|o| o.starts_with("driver=")) {
        return Err(format!(
            "{url}: names a driver already; the component given is the one tested"
        ));
    }
    let file = std::path::absolute(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let separator = if query.is_empty() { '?' } else { '&' };
    let with_driver = format!("{url}{separator}driver={}", file.display());
    roster::get_coordinator(&with_driver, "conformance")
        .map(drop)
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(with_driver)
}

/// Run the suites; returns the exit code.
pub async fn run(json: bool, args: ConformanceArgs) -> u8 {
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        output::error(json, "usage", "--time-scale must be a positive number");
        return exit::USAGE;
    }
    if let Err(error) = roster::check_driver(&args.file) {
        output::error(json, "invalid-component", &error.to_string());
        return exit::INVALID_COMPONENT;
    }
    let url = match driver_url(&args.url, &args.file) {
        Ok(url) => url,
        Err(message) => {
            output::error(json, "usage", &message);
            return exit::USAGE;
        }
    };
    let hosts = if args.no_multi_host {
        None
    } else {
        match std::env::current_exe() {
            Ok(program) => Some(HostProgram {
                program,
                leading: vec!["plugin".into(), "conformance-host".into()],
            }),
            Err(error) => {
                output::error(
                    json,
                    "internal",
                    &format!("cannot find this program: {error}"),
                );
                return exit::FAILURE;
            }
        }
    };
    let total = roster_conformance::count(hosts.is_some(), args.test.as_deref());
    if total == 0 {
        output::error(json, "usage", "no test's name contains what --test gives");
        return exit::USAGE;
    }
    if !json {
        println!("{total} tests of {} on {}", args.file.display(), args.url);
    }
    let options = RunOptions {
        url,
        scale: args.time_scale,
        jobs: args.jobs,
        filter: args.test.clone(),
        limit: Duration::from_secs(args.test_limit_secs),
        hosts,
    };
    let started = Instant::now();
    let report = move |result: &TestResult| {
        let failure = match &result.outcome {
            Outcome::Passed => None,
            Outcome::Failed(message) => Some(message.as_str()),
        };
        if json {
            let line = Line {
                suite: result.suite,
                test: result.name,
                passed: failure.is_none(),
                seconds: result.took.as_secs_f64(),
                failure,
            };
            println!("{}", serde_json::to_string(&line).unwrap_or_default());
        } else {
            let verdict = if failure.is_some() { "FAIL" } else { "ok  " };
            let said = failure.map(|f| format!(": {f}")).unwrap_or_default();
            println!(
                "{verdict} {}::{} ({:.2} s){said}",
                result.suite,
                result.name,
                result.took.as_secs_f64()
            );
        }
    };
    let results = match tokio::task::spawn_blocking(move || {
        roster_conformance::run(&options, report)
    })
    .await
    {
        Ok(Ok(results)) => results,
        Ok(Err(error)) => {
            output::error(
                json,
                "store",
                &format!("cannot make a test's store: {error}"),
            );
            return exit::FAILURE;
        }
        Err(error) => {
            output::error(json, "internal", &error.to_string());
            return exit::FAILURE;
        }
    };
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.outcome != Outcome::Passed)
        .map(|r| r.name)
        .collect();
    let summary = Summary {
        driver: &args.file,
        url: &args.url,
        tests: results.len(),
        passed: results.len() - failed.len(),
        failed,
        seconds: started.elapsed().as_secs_f64(),
    };
    if json {
        println!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        println!(
            "{} tests: {} passed, {} failed ({:.0} s)",
            summary.tests,
            summary.passed,
            summary.failed.len(),
            summary.seconds
        );
        for name in &summary.failed {
            println!("failed: {name}");
        }
    }
    if summary.failed.is_empty() {
        exit::OK
    } else {
        exit::REFUSED
    }
}
