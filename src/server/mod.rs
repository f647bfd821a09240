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
pub mod cluster;
mod conn;
mod demo;
mod edge;
mod error;
mod fast;
mod imports;
mod memory;
mod metrics;
mod openapi;
mod stacks;
mod suggest;
mod tries;
pub(crate) mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::db::Db;
pub use conn::ConnLimits;
pub use edge::{BodyBudget, EdgePolicy, IDEMPOTENCY_KEY};
pub use error::ApiError;
use fast::FastSuggest;
pub use metrics::Metrics;

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
    /// Each trie's bytes, counted once per version (`GET /v1/tries/{trie}`
    /// and `/metrics` share them).
    trie_bytes: memory::TrieBytes,
    token: Option<String>,
    openapi: std::sync::OnceLock<String>,
    pub(crate) jobs: crate::import::Jobs,
    /// This node's view of its cluster (none for a standalone server).
    pub(crate) cluster: Option<Arc<crate::store::pg::ClusterStatus>>,
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
    /// A PostgreSQL URL: run as a node of the cluster stored there instead
    /// of on the data directory's log.
    pub postgres: Option<String>,
    /// The URL other nodes reach this one at (default: `http://` and the
    /// address listened on).
    pub advertise_url: Option<String>,
}

impl AppState {
    /// State over `db`, with the token writes need (if any).
    pub fn new(db: Db, token: Option<String>) -> Self {
        Self::with_jobs(db, token, crate::import::Jobs::default())
    }

    /// As [`AppState::new`], with the import jobs' settings.
    pub fn with_jobs(db: Db, token: Option<String>, jobs: crate::import::Jobs) -> Self {
        Self::with_cluster(db, token, jobs, None)
    }

    /// As [`AppState::with_jobs`], for a node of a cluster with its view.
    pub fn with_cluster(
        db: Db,
        token: Option<String>,
        jobs: crate::import::Jobs,
        cluster: Option<Arc<crate::store::pg::ClusterStatus>>,
    ) -> Self {
        AppState(Arc::new(Shared {
            cluster,
            db,
            metrics: Metrics::default(),
            trie_bytes: memory::TrieBytes::default(),
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
        .routes(routes!(
            tries::trie_get,
            tries::trie_put,
            tries::trie_delete
        ))
        .routes(routes!(tries::entries_add))
        .routes(routes!(tries::entries_remove))
        .routes(routes!(tries::key_get, tries::key_delete))
        .routes(routes!(suggest::suggest))
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
        .routes(routes!(cluster::cluster_get))
        .routes(routes!(demo::index))
        .split_for_parts();
    let generated = serde_json::to_value(&openapi).unwrap_or_default();
    let document = openapi::exact(generated);
    let _ = state
        .openapi
        .set(serde_json::to_string_pretty(&document).unwrap_or_default());

    let router = router
        .fallback(not_found)
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(validate::MAX_BODY))
        .layer(middleware::from_fn_with_state(
            (state.clone(), Arc::clone(&policy)),
            edge::edge,
        ));
    // Every request passes the suggest fast path first (see `FastSuggest`),
    // then the router; a node of a cluster puts its forwarding and position
    // layer in front of both (see `ClusterNode`); CORS wraps everything.
    let cluster = state.cluster.clone();
    let fast = FastSuggest {
        state,
        router,
        policy: Arc::clone(&policy),
    };
    let router = match cluster {
        None => Router::new().fallback_service(fast),
        Some(status) => Router::new().fallback_service(cluster::ClusterNode {
            node: Arc::new(cluster::Node::new(status, Arc::clone(&policy))),
            inner: fast,
        }),
    };
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
                    cluster::POSITION,
                ])
                .expose_headers([suggest::RESPONSE_TIME, cluster::POSITION])
                .max_age(Duration::from_secs(600)),
        )
    };
    router
}

async fn not_found() -> ApiError {
    ApiError::for_status(StatusCode::NOT_FOUND)
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
    if config.postgres.is_some() {
        return serve_node(config).await;
    }
    // Lock before reading anything, bind before loading: a second server on
    // this directory (or this port) stops at once, before it has touched the
    // log, and the first is unaffected.
    let lock = crate::store::DirLock::acquire(&config.data_dir)?;
    let listener = bind(config.addr).await?;
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
    let (db, stats, writer) = load(store, config.db_limits).await?;
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
    let jobs = crate::import::Jobs::kept_in(&config.data_dir, config.import_idle_timeout);
    let state = AppState::with_jobs(db, config.token.clone(), jobs);
    run(listener, state, &config, writer).await?;
    drop(lock);
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Loads `store` into a [`Db`] off the async workers.
async fn load(
    store: impl crate::store::Store,
    limits: crate::db::Limits,
) -> Result<(Db, crate::store::LoadStats, std::thread::JoinHandle<()>), ServeError> {
    let opened = tokio::task::spawn_blocking(move || Db::open_with(store, limits));
    Ok(opened.await.expect("load task")?)
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Serves `state` on `listener` until a shutdown signal, then lets the
/// writer finish.
async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    config: &ServerConfig,
    writer: std::thread::JoinHandle<()>,
) -> Result<(), ServeError> {
    let local = listener.local_addr()?;
    let router = app(state, EdgePolicy::for_config(config));
    tracing::info!("listening on http://{local}");
    if config.demo {
        tracing::info!("demo: open http://{local}/ and type a name");
    }
    conn::serve_connections(listener, router, config.conn_limits, shutdown_signal()).await;
    tracing::info!("stopped accepting requests; waiting for the writer to finish");
    // The router (and every Db handle in it) is gone: the writer drains its
    // queue and stops.
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    Ok(())
}

/// [`serve`] as a node of the cluster whose store of record is the
/// PostgreSQL database at `config.postgres`.
async fn serve_node(config: ServerConfig) -> Result<(), ServeError> {
    let url = config.postgres.clone().unwrap_or_default();
    let listener = bind(config.addr).await?;
    let local = listener.local_addr()?;
    let advertise = config
        .advertise_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let started = std::time::Instant::now();
    let me = advertise.clone();
    let store = tokio::task::spawn_blocking(move || crate::store::pg::PgStore::open(&url, &me))
        .await
        .expect("store open task")?;
    let status = store.status();
    let (db, stats, writer) = load(store, config.db_limits).await?;
    tracing::info!(
        %advertise,
        position = status.position(),
        ops = stats.ops,
        bytes = stats.bytes,
        tries = db.tries().len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "cluster state loaded"
    );
    if config.demo {
        demo::load_demo_in_cluster(&db, &status).await?;
    }
    let jobs = crate::import::Jobs::new(config.import_idle_timeout);
    let state = AppState::with_cluster(db, config.token.clone(), jobs, Some(status));
    run(listener, state, &config, writer).await?;
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
