//! A node of a cluster, in front of the router (`ClusterNode`), and
//! `GET /v1/cluster`.
//!
//! # What it owns
//! The three things that make a node of many behave like one server:
//! - **Writes anywhere.** A write (any method but GET, HEAD and OPTIONS)
//!   and every job route (`/v1/jobs`) reaching a node that is not the writer is
//!   forwarded to the writer's advertised URL, and the writer's answer is
//!   the answer. A forwarded request carries `Typeahead-Forwarded`; a node
//!   that gets one while not the writer answers 503 `not_writer` instead of
//!   forwarding again, so a stale view can never make a loop.
//! - **Positions.** Every write answer carries `Typeahead-Position: N`, a
//!   position at or after the write's group.
//! - **Read-your-writes.** A read with `min_position=N` (or the
//!   `Typeahead-Position` header) waits until this node has applied N, at
//!   most [`MAX_WAIT`], or answers 503 `position_not_reached`.
//!
//! Plain reads pass straight to the router with no allocation and no boxed
//! future, so a follower serves suggestions as fast as a standalone node.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use futures_util::TryStreamExt;
use tower::ServiceExt;

use super::edge::EdgePolicy;
use super::{ApiError, AppState};
use crate::store::pg::{ClusterStatus, Route};

/// The header that carries a position, on write answers and on reads.
pub const POSITION: HeaderName = HeaderName::from_static("typeahead-position");
/// The header a forwarded write carries (the forwarding node's URL).
pub const FORWARDED: HeaderName = HeaderName::from_static("typeahead-forwarded");
/// The longest a read waits for its `min_position`.
pub const MAX_WAIT: Duration = Duration::from_secs(5);

/// The layer in front of the router of a node of a cluster.
#[derive(Clone)]
pub(super) struct ClusterNode<S> {
    pub(super) node: Arc<Node>,
    pub(super) inner: S,
}

/// What the layer needs: the node's view and a client to forward with.
pub(super) struct Node {
    status: Arc<ClusterStatus>,
    http: reqwest::Client,
    policy: Arc<EdgePolicy>,
}

impl Node {
    pub(super) fn new(status: Arc<ClusterStatus>, policy: Arc<EdgePolicy>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Node {
            status,
            http,
            policy,
        }
    }
}

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a read asks for a position (the query parameter or the header).
fn asks_position(req: &Request) -> bool {
    req.headers().contains_key(POSITION)
        || req
            .uri()
            .query()
            .is_some_and(|q| q.contains("min_position"))
}

impl<S> tower::Service<Request> for ClusterNode<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let read = is_read(req.method());
        // Import jobs live on the writer that runs them.
        let import = req.uri().path().starts_with("/v1/jobs");
        if read && !import && !asks_position(&req) {
            return Either::Left(self.inner.call(req));
        }
        let (node, inner) = (Arc::clone(&self.node), self.inner.clone());
        Either::Right(Box::pin(async move {
            Ok(if read && !import {
                node.read(req, inner).await
            } else {
                node.write(req, inner).await
            })
        }))
    }
}

/// The position a read asks for, and its URI without `min_position`.
fn wanted(req: &Request) -> Result<(Option<u64>, Option<Uri>), ApiError> {
    let bad = |what: &str| {
        ApiError::invalid_query(format!(
            "{what} must be a position: a whole number from 0 (what a write's Typeahead-Position header says)"
        ))
    };
    let mut at = None;
    if let Some(h) = req.headers().get(POSITION) {
        let v = h.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok());
        at = Some(v.ok_or_else(|| bad("the Typeahead-Position header"))?);
    }
    let Some(query) = req.uri().query() else {
        return Ok((at, None));
    };
    let mut kept = Vec::new();
    let mut found = false;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("min_position", v)) => {
                let v = v.parse::<u64>().map_err(|_| bad("min_position"))?;
                at = Some(at.map_or(v, |h: u64| h.max(v)));
                found = true;
            }
            None if pair == "min_position" => return Err(bad("min_position")),
            _ => kept.push(pair),
        }
    }
    if !found {
        return Ok((at, None));
    }
    let path = req.uri().path();
    let pq = if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    Ok((at, pq.parse::<Uri>().ok()))
}

impl Node {
    async fn read<S>(&self, mut req: Request, inner: S) -> Response
    where
        S: tower::Service<Request, Response = Response, Error = Infallible>,
    {
        let (at, uri) = match wanted(&req) {
            Ok(w) => w,
            Err(e) => return e.into_response(),
        };
        if let Some(uri) = uri {
            *req.uri_mut() = uri;
        }
        if let Some(at) = at {
            if self.status.position() < at && !self.status.wait_for(at, MAX_WAIT).await {
                return ApiError::position_not_reached(format!(
                    "this node has applied up to position {} and did not reach {at} within {} s; \
                     retry, or read from the writer",
                    self.status.position(),
                    MAX_WAIT.as_secs()
                ))
                .into_response();
            }
        }
        match inner.oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        }
    }

    async fn write<S>(&self, req: Request, inner: S) -> Response
    where
        S: tower::Service<Request, Response = Response, Error = Infallible>,
    {
        if !self.status.is_writer() {
            // What the router would refuse is refused here, before it could
            // reach another node: a page on a rebound name.
            if !self.policy.host_allowed(&req) {
                return ApiError::forbidden_host().into_response();
            }
            if req.headers().contains_key(FORWARDED) {
                return ApiError::not_writer().into_response();
            }
        }
        // While the cluster changes writers, a write waits for the next one
        // (at most MAX_WAIT) rather than fail; a writer that cannot be
        // reached (nothing was sent) is skipped once another is known.
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        let mut req = Some(req);
        let mut dead: Option<String> = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.status.route(dead.as_deref(), left).await {
                None => return ApiError::not_writer().into_response(),
                Some(Route::Here) => {
                    let req = req.take().expect("not sent yet");
                    let mut res = match inner.oneshot(req).await {
                        Ok(res) => res,
                        Err(never) => match never {},
                    };
                    if let Ok(v) = HeaderValue::from_str(&self.status.position().to_string()) {
                        res.headers_mut().insert(POSITION, v);
                    }
                    return res;
                }
                Some(Route::Forward(writer)) => {
                    match self
                        .forward(req.take().expect("not sent yet"), &writer)
                        .await
                    {
                        Forwarded::Answer(res) => return res,
                        Forwarded::Unreachable(back) => {
                            req = Some(back);
                            dead = Some(writer);
                        }
                    }
                }
            }
        }
    }

    /// Sends `req` to the writer at `writer` and answers with its answer.
    /// A small body (at most [`RETRY_BODY`] bytes, the usual write) is read
    /// first, so that a request the writer could not be reached for comes
    /// back to be sent to the next writer; a larger one is streamed through.
    async fn forward(&self, req: Request, writer: &str) -> Forwarded {
        let (parts, body) = req.into_parts();
        let small = match parts.headers.get(header::CONTENT_LENGTH) {
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .is_some_and(|n| n <= RETRY_BODY),
            // No length and no chunks: no body.
            None => !parts.headers.contains_key(header::TRANSFER_ENCODING),
        };
        let (body, kept) = if small {
            match axum::body::to_bytes(body, RETRY_BODY).await {
                Ok(bytes) => (reqwest::Body::from(bytes.clone()), Some(bytes)),
                Err(_) => {
                    return Forwarded::Answer(
                        ApiError::invalid_json("the request body could not be read")
                            .into_response(),
                    )
                }
            }
        } else {
            (reqwest::Body::wrap_stream(body.into_data_stream()), None)
        };
        let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{}{pq}", writer.trim_end_matches('/'));
        let mut headers = HeaderMap::new();
        for (name, value) in &parts.headers {
            if !hop_by_hop(name) && *name != header::HOST {
                headers.append(name.clone(), value.clone());
            }
        }
        if let Ok(v) = HeaderValue::from_str(self.status.advertise()) {
            headers.insert(FORWARDED, v);
        }
        let sent = self
            .http
            .request(parts.method.clone(), url)
            .headers(headers)
            .body(body)
            .send()
            .await;
        let res = match sent {
            Ok(res) => res,
            Err(e) if e.is_connect() => {
                tracing::warn!(%writer, error = %e, "the writer cannot be reached");
                return match kept {
                    Some(bytes) => {
                        Forwarded::Unreachable(Request::from_parts(parts, Body::from(bytes)))
                    }
                    None => Forwarded::Answer(ApiError::not_writer().into_response()),
                };
            }
            Err(e) => {
                tracing::warn!(%writer, error = %e, "the writer stopped answering a forwarded write");
                return Forwarded::Answer(ApiError::forward_broken(writer).into_response());
            }
        };
        let mut out = Response::builder().status(res.status());
        for (name, value) in res.headers() {
            if !hop_by_hop(name) {
                out = out.header(name, value);
            }
        }
        let stream = res.bytes_stream().map_err(std::io::Error::other);
        Forwarded::Answer(
            out.body(Body::from_stream(stream))
                .unwrap_or_else(|_| ApiError::for_status(StatusCode::BAD_GATEWAY).into_response()),
        )
    }
}

/// What [`Node::forward`] did.
enum Forwarded {
    /// The writer's answer (or why there is none).
    Answer(Response),
    /// The writer could not be reached and nothing was sent: the request,
    /// to send elsewhere.
    Unreachable(Request),
}

/// The largest body a forwarded write reads before sending (see
/// [`Node::forward`]).
const RETRY_BODY: usize = 64 << 10;

fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-connection"
    )
}

/// `GET /v1/cluster`
#[utoipa::path(get, path = "/v1/cluster", tag = "meta",
    responses((status = 200, description = "This node's view of the cluster: {\"mode\": \"cluster\" or \"standalone\", \"this\", \"role\", \"writer\", \"epoch\", \"position\", \"committed\", \"nodes\": [{\"url\", \"position\", \"lag\", \"seen_secs_ago\", \"alive\", \"writer\"}]}")))]
pub async fn cluster_get(State(state): State<AppState>) -> Response {
    let Some(status) = state.cluster.as_ref() else {
        return super::tries::json_response(
            serde_json::json!({
                "mode": "standalone",
                "this": null,
                "role": "writer",
                "writer": null,
                "epoch": 0,
                "position": 0,
                "committed": 0,
                "nodes": [],
            })
            .to_string(),
        );
    };
    let view = status.view();
    let position = status.position();
    let writer = if status.is_writer() {
        Some(status.advertise().to_owned())
    } else {
        view.writer.clone()
    };
    let committed = view.committed.max(position);
    let nodes: Vec<serde_json::Value> = view
        .nodes
        .iter()
        .map(|n| {
            let me = n.url == status.advertise();
            let at = if me { position } else { n.position };
            serde_json::json!({
                "url": n.url,
                "position": at,
                "lag": committed.saturating_sub(at),
                "seen_secs_ago": if me { 0.0 } else { n.seen_secs_ago },
                "alive": me || n.seen_secs_ago < 5.0,
                "writer": writer.as_deref() == Some(n.url.as_str()),
            })
        })
        .collect();
    super::tries::json_response(
        serde_json::json!({
            "mode": "cluster",
            "this": status.advertise(),
            "role": if status.is_writer() { "writer" } else { "follower" },
            "writer": writer,
            "epoch": view.epoch,
            "position": position,
            "committed": committed,
            "nodes": nodes,
        })
        .to_string(),
    )
}
