//! The edge: what every request passes before its handler, in one
//! middleware ([`edge`]): the host and origin checks, the token, the body
//! budget, the write timeout with its honest 408/504 split, idempotency
//! keys, metrics and the request log.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{metrics, validate, ApiError, AppState, ServerConfig};

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
    pub(super) fn host_allowed(&self, req: &Request) -> bool {
        let Some(extra) = &self.loopback_hosts else {
            return true;
        };
        // HTTP/1 names the host in `Host`; HTTP/2 in the URI's authority.
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()));
        let Some(host) = host else {
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
        req: &Request,
    ) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, ApiError> {
        use axum::body::HttpBody;
        let declared = validate::content_length(req.headers()).map(|n| n as usize);
        // Without a length (chunked, or HTTP/2, which often sends none) a
        // body may be up to the limit; one that has already ended is empty.
        let want = match declared {
            Some(0) => return Ok(None),
            Some(n) => n.min(validate::MAX_BODY),
            None if req.body().is_end_stream() => return Ok(None),
            None => validate::MAX_BODY,
        };
        Arc::clone(&self.bytes)
            .try_acquire_many_owned(want as u32)
            .map(Some)
            .map_err(|_| ApiError::overloaded(self.total))
    }
}

/// Reads and drops a body, up to `limit` bytes; nothing of it is kept.
async fn drain(body: axum::body::Body, limit: u64) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > limit {
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
pub(super) async fn edge(
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
        edge_inner(&state, &policy, req, next, None).await
    } else {
        // Once a command is queued for the writer, its outcome is no longer
        // this request's to decide: the writer skips it if nobody waits for
        // it any more, but it may already be applied. A timeout after that
        // point says so (504 `outcome_unknown`) instead of claiming the
        // request was stopped (408).
        let queued = crate::db::QueuedFlag::default();
        let work = crate::db::QueuedFlag::scope(
            &queued,
            edge_inner(&state, &policy, req, next, Some(&queued)),
        );
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
pub(super) fn log_request(
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

async fn edge_inner(
    state: &AppState,
    policy: &EdgePolicy,
    req: Request,
    next: Next,
    queued: Option<&crate::db::QueuedFlag>,
) -> Response {
    if !policy.host_allowed(&req) {
        return ApiError::forbidden_host().into_response();
    }
    let mut _reserved = None;
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let declared = validate::content_length(req.headers());
        if declared.is_some_and(|n| n > validate::MAX_BODY as u64)
            && !req.uri().path().ends_with("/import")
        {
            // Refused before its body is read; the body is still read and
            // dropped, so that the client reads the answer instead of a
            // connection reset mid-upload (the write timeout bounds it).
            drain(req.into_body(), u64::MAX).await;
            return ApiError::payload_too_large("the request body is over 16 MiB").into_response();
        }
        if let Some(budget) = &policy.body_budget {
            if !req.uri().path().ends_with("/import") {
                match budget.reserve(&req) {
                    Ok(permit) => _reserved = permit,
                    Err(e) => {
                        // Read the body to its end (keeping none of it) so
                        // that the client, still uploading, gets the answer
                        // instead of a reset connection.
                        drain(req.into_body(), validate::MAX_BODY as u64).await;
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
    let req = match queued {
        // After every check, inside the timeout and with the budget held:
        // reading the body to fingerprint it costs no more than the handler
        // reading it.
        Some(flag) => match idempotency_key(req).await {
            Ok((req, key)) => {
                if let Some(key) = key {
                    flag.set_key(key);
                }
                req
            }
            Err(e) => return e.into_response(),
        },
        None => req,
    };
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
