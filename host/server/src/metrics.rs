//! `GET /metrics` in the OpenMetrics text format Prometheus scrapes, and the access log.
//!
//! Two kinds of figures: those counted as requests pass ([`observe`]: requests by route,
//! method and status, their latency, stream readers, expired sessions), kept in the
//! registry's own metrics; and those read at each scrape from the daemon's state (sessions,
//! groups, members, revisions, the driver's and each plugin's counters), gathered by the
//! handler, which may ask the store, and encoded by a [`Collector`] from that one reading.
//! Routes are labelled by their template (`/v1/groups/:group`), so the number of series
//! does not grow with the names clients use.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use roster_types::plugin_stats::PluginStats;

use super::Daemon;
use super::auth::CallerName;

/// The content type of `GET /metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of a request's figures.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

/// Labels of a request's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// The daemon's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    /// Event streams and change polls being answered.
    pub stream_readers: Gauge,
    /// Sessions forgotten after they expired.
    pub sessions_expired: Counter,
    scrape: Arc<Mutex<Scrape>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// What a scrape reads from the daemon's state.
#[derive(Debug, Default)]
struct Scrape {
    sessions: u64,
    groups: u64,
    members: u64,
    /// The store's newest revision, when it answered.
    store_revision: Option<u64>,
    mirror_revision: u64,
    /// Changes made in the store since this daemon started serving it.
    changes: u64,
    driver: Option<roster::driver::DriverStats>,
    plugins: Vec<PluginStats>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "roster_http_requests",
            "Requests answered, by route, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16))) as fn() -> Histogram,
        );
        registry.register(
            "roster_http_request_duration_seconds",
            "Time from a request's arrival to its answer's headers, by route",
            latency.clone(),
        );
        let stream_readers = Gauge::default();
        registry.register(
            "roster_stream_readers",
            "Event streams and change polls being answered",
            stream_readers.clone(),
        );
        let sessions_expired = Counter::default();
        registry.register(
            "roster_sessions_expired",
            "Network sessions forgotten after they expired or went unheard of",
            sessions_expired.clone(),
        );
        let scrape = Arc::new(Mutex::new(Scrape::default()));
        registry.register_collector(Box::new(ScrapeCollector(Arc::clone(&scrape))));
        Self {
            registry,
            requests,
            latency,
            stream_readers,
            sessions_expired,
            scrape,
        }
    }

    fn record(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(took.as_secs_f64());
    }
}

/// Counts a reader of the history for as long as it lives.
pub(crate) struct Reader(Gauge);

impl Reader {
    pub fn count(metrics: &Metrics) -> Self {
        metrics.stream_readers.inc();
        Self(metrics.stream_readers.clone())
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Count and time every request, and log it (target `roster::access`: who, what, status,
/// how long; the token's name, never the token).
pub(crate) async fn observe(
    State(daemon): State<Arc<Daemon>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = matched
        .as_ref()
        .map_or_else(|| "unmatched".to_owned(), |m| route_label(m.as_str()));
    let method = request.method().clone();
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    daemon.metrics.record(&route, method.as_str(), status, took);
    let token = response
        .extensions()
        .get::<CallerName>()
        .and_then(|name| name.0.as_deref())
        .unwrap_or("-");
    tracing::info!(
        target: "roster::access",
        token,
        method = %method,
        route,
        status,
        micros = took.as_micros() as u64,
    );
    response
}

/// A route's label: its template with `:name` for `{name}` (`/v1/groups/:group`), the way
/// most exporters spell parameters, and without braces, which some text parsers take for the
/// end of the label set.
fn route_label(template: &str) -> String {
    template.replace('{', ":").replace('}', "")
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(daemon): State<Arc<Daemon>>) -> Response {
    let scrape = gather(&daemon).await;
    *daemon
        .metrics
        .scrape
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = scrape;
    let mut text = String::new();
    if let Err(error) =
        prometheus_client::encoding::text::encode(&mut text, &daemon.metrics.registry)
    {
        tracing::warn!(%error, "metrics could not be encoded");
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// Read the figures a scrape reports.
async fn gather(daemon: &Daemon) -> Scrape {
    let coordinator = &daemon.coordinator;
    let (groups, members) = match coordinator.get_group_summaries().await {
        Ok((_, summaries)) => (
            summaries.len() as u64,
            summaries.iter().map(|g| g.members as u64).sum(),
        ),
        Err(_) => (0, 0),
    };
    let store_revision = daemon.store_revision().await.ok();
    let mirror_revision = coordinator.head_revision();
    Scrape {
        sessions: daemon.sessions.len() as u64,
        groups,
        members,
        store_revision,
        mirror_revision,
        changes: daemon.changes_since_start(mirror_revision),
        driver: coordinator.driver_stats(),
        plugins: daemon.plugin_report().plugins,
    }
}

/// Encodes the figures of the latest scrape.
#[derive(Debug)]
struct ScrapeCollector(Arc<Mutex<Scrape>>);

impl Collector for ScrapeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let scrape = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut gauge = |name: &str, help: &str, value: i64| {
            let metric = ConstGauge::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
        };
        let signed = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        gauge(
            "roster_sessions_open",
            "Network sessions this daemon holds",
            signed(scrape.sessions),
        )?;
        gauge(
            "roster_groups",
            "Groups in the store",
            signed(scrape.groups),
        )?;
        gauge(
            "roster_members",
            "Members of every group",
            signed(scrape.members),
        )?;
        gauge(
            "roster_mirror_revision",
            "The newest revision of this daemon's copy of the store",
            signed(scrape.mirror_revision),
        )?;
        gauge(
            "roster_store_up",
            "1 when the store answered the scrape, 0 when it did not",
            i64::from(scrape.store_revision.is_some()),
        )?;
        if let Some(store) = scrape.store_revision {
            gauge(
                "roster_store_revision",
                "The store's newest revision",
                signed(store),
            )?;
            gauge(
                "roster_mirror_lag",
                "Revisions this daemon's copy of the store is behind the store",
                signed(store.saturating_sub(scrape.mirror_revision)),
            )?;
        }
        let mut counter = |name: &str, help: &str, value: u64| {
            let metric = ConstCounter::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
        };
        counter(
            "roster_changes",
            "Changes the store made since this daemon started serving it",
            scrape.changes,
        )?;
        let driver = scrape.driver.unwrap_or_default();
        counter(
            "roster_driver_calls",
            "Calls the store's driver made",
            driver.calls,
        )?;
        counter(
            "roster_driver_errors",
            "Driver calls that ended in a fault of the driver (roster://: a daemon unreachable)",
            driver.errors,
        )?;
        counter(
            "roster_driver_restarts",
            "Driver instances dropped after a fault and made again (roster://: failovers)",
            driver.restarts,
        )?;
        type Field = fn(&PluginStats) -> u64;
        let plugin_counters: [(&str, &str, Field); 4] = [
            (
                "roster_plugin_delivered",
                "Events delivered to the plugin",
                |p| p.events_delivered,
            ),
            ("roster_plugin_errors", "Errors the plugin returned", |p| {
                p.errors
            }),
            ("roster_plugin_traps", "Traps of the plugin", |p| p.traps),
            (
                "roster_plugin_restarts",
                "Times the plugin was instantiated again",
                |p| p.restarts,
            ),
        ];
        for (name, help, field) in plugin_counters {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for plugin in &scrape.plugins {
                let labels = [("plugin", plugin.name.as_str())];
                ConstCounter::new(field(plugin)).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "roster_plugin_queue_depth",
            "Events waiting for the plugin",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for plugin in &scrape.plugins {
            let labels = [("plugin", plugin.name.as_str())];
            ConstGauge::new(signed(plugin.queue_depth)).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
