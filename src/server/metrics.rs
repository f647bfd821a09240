//! Prometheus metrics: request counts and latency histograms per route, and
//! the sizes of tries, stacks and caches (read at scrape time).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::AppState;

// Labels borrow 'static strings so that recording a request allocates
// nothing: methods are static, and route patterns are interned once each
// (there are as many as the router has routes).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: &'static str,
}

/// The route pattern as a `&'static str`, leaked once per distinct pattern.
pub(super) fn intern(route: &str) -> &'static str {
    static ROUTES: std::sync::OnceLock<
        std::sync::RwLock<std::collections::HashMap<String, &'static str>>,
    > = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(r) = routes.read().unwrap_or_else(|e| e.into_inner()).get(route) {
        return r;
    }
    let mut w = routes.write().unwrap_or_else(|e| e.into_inner());
    w.entry(route.to_owned())
        .or_insert_with(|| Box::leak(route.to_owned().into_boxed_str()))
}

fn method_str(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabels {
    name: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    trie_keys: Family<NameLabels, Gauge>,
    trie_entries: Family<NameLabels, Gauge>,
    trie_bytes: Family<NameLabels, Gauge>,
    resident_bytes: Gauge,
    stack_len: Family<NameLabels, Gauge>,
    cache_keys: Family<NameLabels, Gauge>,
    /// A node of a cluster: its applied position, the last committed one it
    /// knows of, and 1 while it is the writer (all 0 on a standalone server).
    cluster_position: Gauge,
    cluster_committed: Gauge,
    cluster_writer: Gauge,
    /// The busiest series, (GET, the suggest route, 200), looked up once:
    /// a family lookup takes its lock and hashes the labels.
    suggest_ok: std::sync::OnceLock<(Histogram, Counter)>,
}

/// The suggest route's pattern, as the router and `/metrics` name it.
pub(super) const SUGGEST_ROUTE: &str = "/v1/tries/{trie}/suggest";

fn latency_histogram() -> Histogram {
    // 10 us to ~5 s.
    Histogram::new(exponential_buckets(0.000_01, 2.0, 20))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("typeahead");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let trie_keys = Family::<NameLabels, Gauge>::default();
        let trie_entries = Family::<NameLabels, Gauge>::default();
        let trie_bytes = Family::<NameLabels, Gauge>::default();
        let resident_bytes = Gauge::default();
        let stack_len = Family::<NameLabels, Gauge>::default();
        let cache_keys = Family::<NameLabels, Gauge>::default();
        let (cluster_position, cluster_committed, cluster_writer) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "cluster_position",
            "A node of a cluster: the last position it applied (0 standalone)",
            cluster_position.clone(),
        );
        registry.register(
            "cluster_committed_position",
            "A node of a cluster: the last committed position it knows of (0 standalone)",
            cluster_committed.clone(),
        );
        registry.register(
            "cluster_writer",
            "A node of a cluster: 1 while it is the writer",
            cluster_writer.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register("trie_keys", "Distinct keys per trie", trie_keys.clone());
        registry.register(
            "trie_entries",
            "(key, value) entries per trie",
            trie_entries.clone(),
        );
        registry.register(
            "trie_bytes",
            "Bytes each trie's engine holds (its own count: nodes, buckets, values)",
            trie_bytes.clone(),
        );
        registry.register(
            "process_resident_bytes",
            "The server process's resident memory (RSS)",
            resident_bytes.clone(),
        );
        registry.register("stack_length", "Items per stack", stack_len.clone());
        registry.register("cache_keys", "Keys per cache", cache_keys.clone());
        Metrics {
            registry,
            requests,
            latency,
            trie_keys,
            trie_entries,
            trie_bytes,
            resident_bytes,
            stack_len,
            cache_keys,
            cluster_position,
            cluster_committed,
            cluster_writer,
            suggest_ok: std::sync::OnceLock::new(),
        }
    }
}

impl Metrics {
    /// Counts and times one request; `route` is the matched route pattern,
    /// `"unmatched"` for a request no route matched.
    pub(crate) fn record(
        &self,
        method: &axum::http::Method,
        route: &'static str,
        status: u16,
        elapsed: std::time::Duration,
    ) {
        let method = method_str(method);
        let owned;
        let (latency, count) = if status == 200 && method == "GET" && route == SUGGEST_ROUTE {
            self.suggest_ok
                .get_or_init(|| self.series(method, route, status))
        } else {
            owned = self.series(method, route, status);
            &owned
        };
        latency.observe(elapsed.as_secs_f64());
        count.inc();
    }

    /// The latency histogram and request counter of one series.
    fn series(
        &self,
        method: &'static str,
        route: &'static str,
        status: u16,
    ) -> (Histogram, Counter) {
        (
            self.latency
                .get_or_create(&RouteLabels { method, route })
                .clone(),
            self.requests
                .get_or_create(&RequestLabels {
                    method,
                    route,
                    status,
                })
                .clone(),
        )
    }
}

/// `GET /metrics`: Prometheus (OpenMetrics) text.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text: request counts and latency histograms per route, sizes of tries, stacks and caches", content_type = "application/openmetrics-text")))]
pub async fn metrics_get(State(state): State<AppState>) -> Response {
    let m: &Metrics = &state.metrics;
    m.trie_keys.clear();
    m.trie_entries.clear();
    m.trie_bytes.clear();
    m.stack_len.clear();
    m.cache_keys.clear();
    let gauge = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    // One snapshot per trie, for its counts and its bytes alike.
    let tries: Vec<_> = state
        .db
        .tries()
        .into_iter()
        .map(|(name, t)| (name, t.snapshot()))
        .collect();
    // Counted once per version; a walk runs off the async workers.
    let bytes = state.trie_bytes.of_each(&tries).await.ok();
    for (i, (name, snapshot)) in tries.into_iter().enumerate() {
        let s = snapshot.stats();
        let l = NameLabels { name };
        m.trie_keys.get_or_create(&l).set(gauge(s.keys));
        m.trie_entries.get_or_create(&l).set(gauge(s.entries));
        if let Some(b) = bytes.as_ref().map(|b| b[i]) {
            m.trie_bytes.get_or_create(&l).set(gauge(b));
        }
    }
    m.resident_bytes
        .set(super::memory::resident_bytes().map_or(0, |b| i64::try_from(b).unwrap_or(i64::MAX)));
    for (name, s) in state.db.stacks() {
        m.stack_len
            .get_or_create(&NameLabels { name })
            .set(gauge(s.len()));
    }
    for (name, c) in state.db.caches() {
        m.cache_keys
            .get_or_create(&NameLabels { name })
            .set(gauge(c.len()));
    }
    if let Some(c) = &state.cluster {
        let position = c.position();
        let as_gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        m.cluster_position.set(as_gauge(position));
        m.cluster_committed
            .set(as_gauge(c.view().committed.max(position)));
        m.cluster_writer.set(i64::from(c.is_writer()));
    }
    let mut out = String::new();
    if encode(&mut out, &m.registry).is_err() {
        return super::error::ApiError::for_status(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    }
    let mut res = out.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    res
}
