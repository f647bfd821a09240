//! The HTTP server: the v1 JSON API over a [`Db`], with limits, CORS, an
//! optional token, request tracing, metrics, an OpenAPI document generated
//! from the handlers, and the demo page.
//!
//! # What it owns
//! [`AppState`] (the shared state every handler gets), [`app`] (the router
//! with its layers, callable from tests without a socket), [`serve`] (bind,
//! load, serve until Ctrl-C/SIGTERM, drain), and [`ApiError`], the one error
//! type every route answers with. It knows nothing of the trie's insides:
//! reads go through snapshots, writes through [`Db`]'s typed methods.
//!
//! # Layers, outermost first
//! CORS (preflights answered here, without a token) → the suggest fast path
//! (`GET /v1/tries/{trie}/suggest` answered here, see `FastSuggest`) → the
//! router → the edge middleware
//! (token check before anything else about the request, the request timeout
//! for methods other than GET and HEAD, metrics, a log line per request, JSON
//! bodies for errors raised outside handlers: 404, 405, 408, 413) → body
//! limit → routes.

mod bounded;
mod caches;
mod conn;
mod demo;
mod error;
mod imports;
mod metrics;
mod stacks;
mod tries;
pub(crate) mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::db::Db;
pub use conn::ConnLimits;
pub use error::ApiError;
pub use metrics::Metrics;
use metrics::SUGGEST_ROUTE;

/// What every handler shares: one `Arc`, so the per-request clones that
/// axum makes (one per extractor and state-taking layer) cost one atomic
/// increment each.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`].
pub struct Shared {
    /// The served state.
    pub(crate) db: Db,
    metrics: Metrics,
    token: Option<String>,
    openapi: std::sync::OnceLock<String>,
    pub(crate) jobs: crate::import::Jobs,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Options of [`app`] and [`serve`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Where data lives.
    pub data_dir: PathBuf,
    /// Bearer token required for writes.
    pub token: Option<String>,
    /// Origins allowed by CORS.
    pub cors_origins: Vec<String>,
    /// Load the demo users into "users" when the data dir is empty.
    pub demo: bool,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Caps on the number of tries, stacks and caches.
    pub db_limits: crate::db::Limits,
    /// Bytes of request bodies in flight at once ([`BodyBudget`]).
    pub body_budget: usize,
    /// Connection limits (header-read and idle timeouts, connection cap).
    pub conn_limits: ConnLimits,
    /// How long an import upload may send nothing before its job fails.
    pub import_idle_timeout: Duration,
    /// Host names accepted besides loopback ones while listening on a
    /// loopback address.
    pub allowed_hosts: Vec<String>,
}

/// What the edge checks on every request, from [`ServerConfig`].
#[derive(Debug, Clone, Default)]
pub struct EdgePolicy {
    /// Longest a request other than GET or HEAD may take.
    pub timeout: Duration,
    /// Origins (besides the server's own) whose pages may write.
    pub cors_origins: Vec<String>,
    /// Bytes of request bodies that may be in flight at once (see
    /// [`BodyBudget`]).
    pub body_budget: Option<Arc<BodyBudget>>,
    /// When set (listening on loopback), a `Host` must be a loopback name or
    /// one of these: a page reached through DNS rebinding sends its own name.
    pub loopback_hosts: Option<Vec<String>>,
}

impl EdgePolicy {
    /// The policy for `config`: host checks only while listening on a
    /// loopback address.
    pub fn for_config(config: &ServerConfig) -> Self {
        EdgePolicy {
            timeout: config.request_timeout,
            cors_origins: config.cors_origins.clone(),
            body_budget: Some(Arc::new(BodyBudget::new(config.body_budget))),
            loopback_hosts: config
                .addr
                .ip()
                .is_loopback()
                .then(|| config.allowed_hosts.clone()),
        }
    }

    /// Whether the request's host is one this server answers to.
    fn host_allowed(&self, headers: &axum::http::HeaderMap) -> bool {
        let Some(extra) = &self.loopback_hosts else {
            return true;
        };
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return true;
        };
        let name = host_name(host);
        is_loopback_name(name) || extra.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    /// Whether a write carrying `Origin: origin` may go ahead: the server's
    /// own origin (the request's `Host`), or one allowed by `--cors-origin`.
    fn origin_allowed(&self, origin: &str, headers: &axum::http::HeaderMap) -> bool {
        if self.cors_origins.iter().any(|o| o == origin) {
            return true;
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let own = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        matches!((own, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
    }
}

/// A budget of request-body bytes in flight across all requests.
///
/// A body up to 16 MiB is read and parsed whole (about 2.5 times its size in
/// memory), so many large bodies at once could take the server's memory
/// before any of them is refused. Each request with a body reserves its
/// `Content-Length` (or the body limit, when it streams without one) for
/// its life; one that does not fit is answered 503 `overloaded` at once,
/// without reading its body. Imports stream in bounded chunks and are not
/// counted.
#[derive(Debug)]
pub struct BodyBudget {
    bytes: Arc<tokio::sync::Semaphore>,
    total: usize,
}

impl BodyBudget {
    /// A budget of `total` bytes (at least one maximal body).
    pub fn new(total: usize) -> Self {
        let total = total.clamp(validate::MAX_BODY, u32::MAX as usize);
        BodyBudget {
            bytes: Arc::new(tokio::sync::Semaphore::new(total)),
            total,
        }
    }

    fn reserve(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, ApiError> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let want = match declared {
            Some(0) => return Ok(None),
            Some(n) => n.min(validate::MAX_BODY),
            None if headers.contains_key(header::TRANSFER_ENCODING) => validate::MAX_BODY,
            None => return Ok(None),
        };
        Arc::clone(&self.bytes)
            .try_acquire_many_owned(want as u32)
            .map(Some)
            .map_err(|_| ApiError::overloaded(self.total))
    }
}

/// Reads and drops up to one maximal body.
async fn drain(body: axum::body::Body) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len();
        if seen > validate::MAX_BODY {
            break;
        }
    }
}

/// The name part of a `Host` value (no port; IPv6 brackets kept).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl AppState {
    /// State over `db`, with the token writes need (if any).
    pub fn new(db: Db, token: Option<String>) -> Self {
        Self::with_jobs(db, token, crate::import::Jobs::default())
    }

    /// As [`AppState::new`], with the import jobs' settings.
    pub fn with_jobs(db: Db, token: Option<String>, jobs: crate::import::Jobs) -> Self {
        AppState(Arc::new(Shared {
            db,
            metrics: Metrics::default(),
            token,
            openapi: std::sync::OnceLock::new(),
            jobs,
        }))
    }
}

/// The router with every route and layer.
pub fn app(state: AppState, policy: EdgePolicy) -> Router {
    let policy = Arc::new(policy);
    let (router, openapi) = OpenApiRouter::new()
        .routes(routes!(tries::tries_list))
        .routes(routes!(tries::trie_get, tries::trie_delete))
        .routes(routes!(tries::entries_add))
        .routes(routes!(tries::entries_remove))
        .routes(routes!(tries::key_get, tries::key_delete))
        .routes(routes!(tries::suggest))
        .routes(routes!(stacks::stack_get, stacks::stack_delete))
        .routes(routes!(stacks::stack_push))
        .routes(routes!(stacks::stack_pop))
        .routes(routes!(
            caches::cache_put,
            caches::cache_key_get,
            caches::cache_key_delete
        ))
        .routes(routes!(caches::cache_incr))
        .routes(routes!(caches::cache_get, caches::cache_delete))
        .routes(routes!(imports::import_start).layer(DefaultBodyLimit::disable()))
        .routes(routes!(imports::jobs_list))
        .routes(routes!(imports::job_get))
        .routes(routes!(demo::healthz))
        .routes(routes!(demo::openapi_get))
        .routes(routes!(metrics::metrics_get))
        .routes(routes!(demo::index))
        .split_for_parts();
    let mut openapi = openapi;
    openapi.info.title = "typeahead".into();
    openapi.info.version = env!("CARGO_PKG_VERSION").into();
    openapi.info.description =
        Some("Suggest-as-you-type over named tries, with stacks and caches. v1 API.".into());
    let _ = state
        .openapi
        .set(openapi.to_pretty_json().unwrap_or_default());

    let router = router
        .fallback(not_found)
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(validate::MAX_BODY))
        .layer(middleware::from_fn_with_state(
            (state.clone(), Arc::clone(&policy)),
            edge,
        ));
    // Every request passes the suggest fast path first (see `FastSuggest`),
    // then the router; CORS wraps both.
    let router = Router::new().fallback_service(FastSuggest {
        state,
        router,
        policy: Arc::clone(&policy),
    });
    let router = if policy.cors_origins.is_empty() {
        router
    } else {
        let origins: Vec<HeaderValue> = policy
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::DELETE,
                    Method::HEAD,
                ])
                .allow_headers([
                    header::CONTENT_TYPE,
                    header::AUTHORIZATION,
                    header::HeaderName::from_static("idempotency-key"),
                ])
                .expose_headers([tries::RESPONSE_TIME])
                .max_age(Duration::from_secs(600)),
        )
    };
    router
}

async fn not_found() -> ApiError {
    ApiError::for_status(StatusCode::NOT_FOUND)
}

/// The edge of the API, one middleware for every per-request job (each
/// middleware layer costs a boxed future and a service clone per request;
/// folding tower-http's `TraceLayer` and a metrics layer in here took ~5% off
/// the suggest route's CPU under `scripts/bench-http.sh`):
/// - with a token configured, every request but GET, HEAD and OPTIONS needs
///   `Authorization: Bearer <token>` (scheme case-insensitive), checked
///   before anything else about the request;
/// - error responses made outside the handlers (unknown route, wrong method,
///   timeout, body limit) get the API's JSON error body;
/// - every request is counted and timed per route for `/metrics`, and logged
///   at INFO (method, path, status, latency).
///
/// `Router::layer` wraps each route (and the fallback) after routing, so the
/// matched route pattern is known here.
async fn edge(
    State((state, policy)): State<(AppState, Arc<EdgePolicy>)>,
    req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    // Both clones share their bytes (an Arc and a `Bytes`).
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let uri = req.uri().clone();
    // GET and HEAD handlers read no body and never wait (they answer from a
    // snapshot), so a timer could not stop them anyway: only the others,
    // which read bodies and wait for the durable writer, get one.
    let res = if matches!(method, Method::GET | Method::HEAD) {
        edge_inner(&state, &policy, req, next).await
    } else {
        // Once a command is queued for the writer, its outcome is no longer
        // this request's to decide: the writer skips it if nobody waits for
        // it any more, but it may already be applied. A timeout after that
        // point says so (504 `outcome_unknown`) instead of claiming the
        // request was stopped (408).
        let (req, key) = match idempotency_key(req).await {
            Ok(x) => x,
            Err(e) => return e.into_response(),
        };
        let queued = crate::db::QueuedFlag::with_key(key);
        let work = crate::db::QueuedFlag::scope(&queued, edge_inner(&state, &policy, req, next));
        match tokio::time::timeout(policy.timeout, work).await {
            Ok(res) => res,
            Err(_) if queued.is_set() => ApiError::outcome_unknown().into_response(),
            Err(_) => ApiError::for_status(StatusCode::REQUEST_TIMEOUT).into_response(),
        }
    };
    let route = route.as_ref().map(axum::extract::MatchedPath::as_str);
    let route = route.map_or("unmatched", metrics::intern);
    log_request(&state, &method, route, uri.path(), &res, started);
    res
}

/// The header a client sets on a write so that a retry is applied once.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Reads a write's `Idempotency-Key` (1 to 255 visible ASCII characters) and
/// fingerprints the request it came with (method, path and query, body), so
/// that the key cannot be replayed against another request. The body is
/// read whole here (the API's body limit applies); imports, whose bodies
/// stream, do not take a key.
async fn idempotency_key(req: Request) -> Result<(Request, Option<crate::db::IdemKey>), ApiError> {
    let Some(raw) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok((req, None));
    };
    let key = raw
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid_idempotency_key(
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })?
        .to_owned();
    if req.uri().path().ends_with("/import") {
        return Err(ApiError::invalid_idempotency_key(
            "imports do not take an Idempotency-Key; a job's id identifies it",
        ));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, validate::MAX_BODY)
        .await
        .map_err(|_| ApiError::payload_too_large("the request body is over 16 MiB"))?;
    let target = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let fingerprint =
        crate::db::fingerprint(&[parts.method.as_str().as_bytes(), target.as_bytes(), &bytes]);
    let req = Request::from_parts(parts, axum::body::Body::from(bytes));
    Ok((req, Some(crate::db::IdemKey { key, fingerprint })))
}

/// Counts and times one request for `/metrics` and logs it at INFO.
fn log_request(
    state: &AppState,
    method: &Method,
    route: &'static str,
    path: &str,
    res: &Response,
    started: std::time::Instant,
) {
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    state.metrics.record(method, route, status, elapsed);
    tracing::info!(
        method = %method,
        path,
        route,
        status,
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
}

/// The suggest route's fast path, in front of the router.
///
/// A person typing sends one suggest per keystroke, so this route is most of
/// the traffic. Through the router it paid for what it does not need: the
/// match against every route, the decoded path parameters and `MatchedPath`
/// axum stores in the request's extensions, then the edge middleware's boxed
/// future and a clone of the route's boxed service. (The outer router that
/// holds this service as its fallback still does its own small part: a
/// lookup in a tree of one catch-all, an `OriginalUri`, a boxed future.)
///
/// Its handler never waits (it reads a snapshot), so here
/// `GET /v1/tries/{trie}/suggest` is answered in `call`, with a ready future,
/// by the same function the route calls ([`tries::suggest_now`]), and
/// counted, timed and logged the same way as in [`edge`]. The edge's other
/// jobs don't apply to a GET: no token is needed, no timer runs, no body is
/// read, and every error the handler makes is already JSON. (hyper writes
/// `Content-Length` from the body's exact size on the wire; only an
/// in-process `oneshot` caller sees the answer without that header.)
/// Anything else (HEAD, other paths, a path this match is unsure of) goes to
/// the router unchanged.
///
/// In three alternating 5 s rounds of the suggest load of
/// `scripts/bench-http.sh` (one core, 50 connections) it took the server
/// from 85.6k / 76.6k / 71.0k to 96.1k / 83.4k / 83.4k requests/s, 0.68-0.77x
/// to 0.79-0.84x of the minimal-handler ceiling.
#[derive(Clone)]
struct FastSuggest {
    state: AppState,
    router: Router,
    policy: Arc<EdgePolicy>,
}

/// Whether `path` is `/v1/tries/{trie}/suggest` with a non-empty `{trie}`
/// segment (still percent-encoded).
fn is_suggest_path(path: &str) -> bool {
    path.strip_prefix("/v1/tries/")
        .and_then(|rest| rest.strip_suffix("/suggest"))
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

impl tower::Service<Request> for FastSuggest {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::Either<
        std::future::Ready<Result<Response, Self::Error>>,
        <Router as tower::Service<Request>>::Future,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        tower::Service::<Request>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        use futures_util::future::Either;
        if req.method() != Method::GET || !is_suggest_path(req.uri().path()) {
            return Either::Right(self.router.call(req));
        }
        let started = std::time::Instant::now();
        let host_ok = self.policy.host_allowed(req.headers());
        let params = Segments(req.into_parts().0.uri);
        let res = if host_ok {
            tries::suggest_now(&self.state, &params).unwrap_or_else(IntoResponse::into_response)
        } else {
            ApiError::forbidden_host().into_response()
        };
        log_request(
            &self.state,
            &Method::GET,
            SUGGEST_ROUTE,
            params.0.path(),
            &res,
            started,
        );
        Either::Left(std::future::ready(Ok(res)))
    }
}

async fn edge_inner(state: &AppState, policy: &EdgePolicy, req: Request, next: Next) -> Response {
    if !policy.host_allowed(req.headers()) {
        return ApiError::forbidden_host().into_response();
    }
    let mut _reserved = None;
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if let Some(budget) = &policy.body_budget {
            if !req.uri().path().ends_with("/import") {
                match budget.reserve(req.headers()) {
                    Ok(permit) => _reserved = permit,
                    Err(e) => {
                        // Read the body to its end (keeping none of it) so
                        // that the client, still uploading, gets the answer
                        // instead of a reset connection.
                        drain(req.into_body()).await;
                        return e.into_response();
                    }
                }
            }
        }
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let allowed = origin
                .to_str()
                .is_ok_and(|o| policy.origin_allowed(o, req.headers()));
            if !allowed {
                return ApiError::forbidden_origin().into_response();
            }
        }
    }
    if let Some(token) = &state.token {
        if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
            let presented = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, credentials)| credentials.trim());
            if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes())) {
                return ApiError::unauthorized().into_response();
            }
        }
    }
    let res = next.run(req).await;
    let status = res.status();
    if status.as_u16() < 400 {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return res;
    }
    ApiError::for_status(status).into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request path's segments, still percent-encoded. Every v1 route puts
/// the resource name third (`/v1/tries/{trie}`) and the key fifth
/// (`.../keys/{key}`), so handlers take them by position and decode them
/// once, here, with errors that name what is wrong (axum's own path
/// extractors would decode too, and answer bad UTF-8 with a generic 400).
pub struct Segments(axum::http::Uri);

impl<S: Send + Sync> FromRequestParts<S> for Segments {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // A Uri clone shares its bytes: no copy per request.
        Ok(Segments(parts.uri.clone()))
    }
}

impl Segments {
    /// The raw query string, if any.
    pub(crate) fn query(&self) -> Option<&str> {
        self.0.query()
    }

    fn raw(&self, i: usize) -> &str {
        self.0.path().split('/').nth(i + 1).unwrap_or("")
    }
}

/// The resource name (of a trie, stack or cache), decoded and validated.
pub(crate) fn segment_name(params: &Segments, kind: &str) -> Result<String, ApiError> {
    let decoded = validate::decode_segment(params.raw(2))
        .map_err(|e| ApiError::invalid_name(format!("{kind} name {e}")))?;
    validate::name(kind, decoded)
}

/// The `{key}` path parameter: percent-decoded once, validated.
fn segment_key(params: &Segments) -> Result<String, ApiError> {
    let decoded = validate::decode_segment(params.raw(4))
        .map_err(|e| ApiError::invalid_key(format!("key {e}")))?;
    validate::key(decoded)
}

/// A job id path parameter.
pub(crate) fn segment_job(params: &Segments) -> &str {
    params.raw(2)
}

/// Errors of [`serve`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The data could not be loaded.
    #[error("could not load the data directory: {0}")]
    Store(#[from] crate::store::StoreError),
    /// Another process holds the data directory.
    #[error(transparent)]
    Locked(#[from] crate::store::LockError),
    /// The address could not be bound.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The demo data could not be written.
    #[error("could not load the demo data: {0}")]
    Demo(#[from] crate::db::DbError),
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Loads the data directory, then serves until Ctrl-C or SIGTERM, letting
/// in-flight requests finish.
///
/// # Errors
/// [`ServeError`] when loading, binding or serving fails.
pub async fn serve(config: ServerConfig) -> Result<(), ServeError> {
    // Lock before reading anything, bind before loading: a second server on
    // this directory (or this port) stops at once, before it has touched the
    // log, and the first is unaffected.
    let lock = crate::store::DirLock::acquire(&config.data_dir)?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    let dir = config.data_dir.clone();
    let started = std::time::Instant::now();
    let sync_delay = std::env::var("TYPEAHEAD_TEST_SYNC_DELAY_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .map(Duration::from_millis);
    let store = tokio::task::spawn_blocking(
        move || -> Result<Box<dyn crate::store::Store>, crate::store::StoreError> {
            Ok(match sync_delay {
                Some(delay) => Box::new(crate::store::LogStore::open_slow(&dir, delay)?),
                None => Box::new(crate::store::LogStore::open(&dir)?),
            })
        },
    )
    .await
    .expect("store open task")?;
    if let Some(delay) = sync_delay {
        tracing::warn!(
            ?delay,
            "TYPEAHEAD_TEST_SYNC_DELAY_MS: every sync is delayed (a test setting)"
        );
    }
    let limits = config.db_limits;
    let (db, stats, writer) = tokio::task::spawn_blocking(move || Db::open_with(store, limits))
        .await
        .expect("load task")?;
    tracing::info!(
        data_dir = %config.data_dir.display(),
        ops = stats.ops,
        bytes = stats.bytes,
        tries = db.tries().len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "data directory loaded"
    );
    if config.demo {
        demo::load_demo(&db).await?;
    }
    let local = listener.local_addr()?;
    let jobs = crate::import::Jobs::kept_in(&config.data_dir, config.import_idle_timeout);
    let state = AppState::with_jobs(db, config.token.clone(), jobs);
    let router = app(state, EdgePolicy::for_config(&config));
    tracing::info!("listening on http://{local}");
    if config.demo {
        tracing::info!("demo: open http://{local}/ and type a name");
    }
    conn::serve_connections(listener, router, config.conn_limits, shutdown_signal()).await;
    tracing::info!("stopped accepting requests; waiting for the writer to finish");
    // The router (and every Db handle in it) is gone: the writer drains its
    // queue and stops.
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    drop(lock);
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}
