//! `GET /metrics`, `/healthz` and `/readyz`: the metrics parse as Prometheus text, every
//! documented family is there and moves under load, and the probes say what they promise
//! when the store's server goes away and comes back.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use roster::client::Client;
use roster_server::ServeConfig;
use roster_tests::servers::RedisServer;
use roster_tests::{Harness, ServerHarness, built, plugin, wait_until};
use serde_json::Value;

use crate::exposure::Running;

const PATIENCE: Duration = Duration::from_secs(30);

/// The families `/metrics` reports (as samples are named), and the OpenAPI document lists.
const FAMILIES: [&str; 20] = [
    "roster_http_requests_total",
    "roster_http_request_duration_seconds",
    "roster_stream_readers",
    "roster_sessions_expired_total",
    "roster_sessions_open",
    "roster_groups",
    "roster_members",
    "roster_mirror_revision",
    "roster_store_up",
    "roster_store_revision",
    "roster_mirror_lag",
    "roster_changes_total",
    "roster_driver_calls_total",
    "roster_driver_errors_total",
    "roster_driver_restarts_total",
    "roster_plugin_delivered_total",
    "roster_plugin_errors_total",
    "roster_plugin_traps_total",
    "roster_plugin_restarts_total",
    "roster_plugin_queue_depth",
];

/// One scrape: each sample's value, by its name and labels (`name{k="v",...}`, sorted).
struct Scrape(HashMap<String, f64>);

impl Scrape {
    async fn of(http: &reqwest::Client, base: &str) -> Self {
        let response = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("the daemon answers");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        let text = response.text().await.unwrap();
        let lines = text.lines().map(|line| Ok(line.to_owned()));
        let parsed = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
        let mut samples = HashMap::new();
        for sample in parsed.samples {
            let mut labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            labels.sort();
            let value = match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(buckets) => {
                    buckets.iter().map(|b| b.count).fold(0.0, f64::max)
                }
                prometheus_parse::Value::Summary(_) => continue,
            };
            let key = format!("{}{{{}}}", sample.metric, labels.join(","));
            samples.insert(key, value);
        }
        Self(samples)
    }

    /// The sum of a family's samples whose labels include every one of `labels`.
    fn sum(&self, family: &str, labels: &[&str]) -> f64 {
        self.0
            .iter()
            .filter(|(key, _)| {
                key.strip_prefix(family)
                    .is_some_and(|rest| rest.starts_with('{'))
                    && labels.iter().all(|label| key.contains(label))
            })
            .map(|(_, value)| value)
            .sum()
    }

    /// Scrape until `holds` says the figures are as expected; that scrape.
    async fn until(http: &reqwest::Client, base: &str, holds: impl Fn(&Scrape) -> bool) -> Self {
        wait_until(PATIENCE, || async {
            let scrape = Scrape::of(http, base).await;
            holds(&scrape).then_some(scrape)
        })
        .await
    }

    fn has(&self, family: &str) -> bool {
        self.0.keys().any(|key| {
            key.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{'))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_family_is_reported_and_moves_under_load() {
    if !built("rust") {
        return;
    }
    let store = Harness::redis(1.0);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roster.toml");
    std::fs::write(
        &config,
        format!(
            "backend = {:?}\n\n[[handlers]]\nname = \"log\"\npath = {:?}\n\n\
             [[handlers]]\nname = \"misbehave\"\npath = {:?}\ngroups = [\"trap\", \"refuse\", \"hold\"]\n\
             [handlers.limits]\ndeadline_ms = 30000\n",
            store.url(),
            plugin("rust-log-events.wasm"),
            plugin("rust-misbehave.wasm")
        ),
    )
    .unwrap();
    let daemon = Running::start(ServeConfig::load(&config).unwrap()).await;
    let base = format!("http://{}", daemon.addr);
    let http = reqwest::Client::new();
    // Requests are counted once answered: one before the first scrape.
    let _ = http.get(format!("{base}/healthz")).send().await.unwrap();
    let before = Scrape::of(&http, &base).await;
    for family in FAMILIES {
        assert!(before.has(family), "{family} is missing");
    }
    // Load: groups, a session that joins and leaves, a follower of the change feed, and an
    // unknown route.
    let client = Client::new(&daemon.addr.to_string()).unwrap();
    let opened = client.open_session("metrics-member", None).await.unwrap();
    for i in 0..5 {
        let group = format!("metrics-{i}");
        client.create_group(&group).await.unwrap();
        client
            .join(&opened.session_id, &group, Default::default(), false)
            .await
            .unwrap();
    }
    client.leave(&opened.session_id, "metrics-0").await.unwrap();
    // The misbehaving plugin traps on any event of `trap` and refuses those of `refuse`.
    client.create_group("trap").await.unwrap();
    client.create_group("refuse").await.unwrap();
    let head = client.status().await.unwrap().revision;
    // Waits for a change that does not come: a reader until it is aborted.
    let follower = tokio::spawn({
        let client = client.clone();
        async move { client.changes(head, None, 1, Duration::from_secs(25)).await }
    });
    let _ = http.get(format!("{base}/v1/nothing")).send().await.unwrap();
    let misbehave = [r#"plugin="misbehave""#];
    let after = Scrape::until(&http, &base, |scrape| {
        scrape.sum("roster_plugin_delivered_total", &[r#"plugin="log""#]) >= 13.0
            && scrape.sum("roster_plugin_traps_total", &misbehave) >= 1.0
            && scrape.sum("roster_plugin_restarts_total", &misbehave) >= 1.0
            && scrape.sum("roster_plugin_errors_total", &misbehave) >= 1.0
            && scrape.sum("roster_stream_readers", &[]) >= 1.0
    })
    .await;
    follower.abort();
    let moved = |family: &str, labels: &[&str]| {
        let (was, is) = (before.sum(family, labels), after.sum(family, labels));
        assert!(
            is > was,
            "{family}{labels:?} did not move: {was} -> {is}; {:?}",
            after
                .0
                .keys()
                .filter(|k| k.starts_with(family))
                .collect::<Vec<_>>()
        );
    };
    moved(
        "roster_http_requests_total",
        &[
            r#"route="/v1/groups/:group""#,
            r#"method="PUT""#,
            r#"status="201""#,
        ],
    );
    moved(
        "roster_http_requests_total",
        &[r#"route="unmatched""#, r#"status="404""#],
    );
    moved(
        "roster_http_request_duration_seconds_count",
        &[r#"route="/v1/sessions""#],
    );
    moved("roster_sessions_open", &[]);
    moved("roster_groups", &[]);
    moved("roster_members", &[]);
    moved("roster_mirror_revision", &[]);
    moved("roster_store_revision", &[]);
    moved("roster_changes_total", &[]);
    moved("roster_driver_calls_total", &[]);
    moved("roster_stream_readers", &[]);
    moved("roster_plugin_delivered_total", &[r#"plugin="log""#]);
    for family in [
        "roster_plugin_traps_total",
        "roster_plugin_restarts_total",
        "roster_plugin_errors_total",
    ] {
        moved(family, &[r#"plugin="misbehave""#]);
    }
    // A plugin kept inside a call (`hold` waits until `release` has a member) has its queue
    // standing (the event it holds and those after it), then empties it once let go.
    client.create_group("hold").await.unwrap();
    client.create_group("release").await.unwrap();
    client
        .join(&opened.session_id, "hold", Default::default(), false)
        .await
        .unwrap();
    client.create_group("hold-later").await.unwrap();
    Scrape::until(&http, &base, |s| {
        s.sum("roster_plugin_queue_depth", &misbehave) >= 1.0
    })
    .await;
    client
        .join(&opened.session_id, "release", Default::default(), false)
        .await
        .unwrap();
    Scrape::until(&http, &base, |s| {
        s.sum("roster_plugin_queue_depth", &misbehave) == 0.0
    })
    .await;
    // The mirror's lag is zero at rest; the driver's faults are counted where they happen
    // (the driver_faults tests).
    assert!(after.sum("roster_mirror_lag", &[]) >= 0.0);
    assert_eq!(after.sum("roster_store_up", &[]), 1.0);
    assert_eq!(after.sum("roster_groups", &[]), 7.0);
    assert_eq!(after.sum("roster_members", &[]), 4.0);
    // Expired sessions: one opened with a short TTL and left alone.
    client
        .open_session("metrics-short", Some(Duration::from_millis(300)))
        .await
        .unwrap();
    Scrape::until(&http, &base, |s| {
        s.sum("roster_sessions_expired_total", &[]) >= 1.0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_follow_the_store_down_and_back() {
    let mut server = RedisServer::start();
    let daemon = Running::start(ServeConfig {
        backend: format!("redis://{}?namespace=probes", server.address),
        ..Default::default()
    })
    .await;
    let base = format!("http://{}", daemon.addr);
    let http = reqwest::Client::new();
    let probe = |path: &'static str| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let response = http.get(url).send().await.expect("the daemon answers");
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, body) = probe("/healthz").await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &Value::from("up"))
    );
    let (status, body) = probe("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["store_revision"].is_u64(), "{body}");

    server.kill();
    let (status, body) = probe("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "store-unavailable");
    let (status, _) = probe("/healthz").await;
    assert_eq!(status, StatusCode::OK, "the process is still up");
    let scrape = Scrape::of(&http, &base).await;
    assert_eq!(scrape.sum("roster_store_up", &[]), 0.0);
    assert!(
        !scrape.has("roster_store_revision"),
        "no revision of a store that did not answer"
    );

    server.restart(true);
    wait_until(PATIENCE, || async {
        (probe("/readyz").await.0 == StatusCode::OK).then_some(())
    })
    .await;
}
