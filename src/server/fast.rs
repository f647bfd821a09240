//! The suggest route's fast path ([`FastSuggest`]).

use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::Arc;

use super::edge::{log_request, EdgePolicy};
use super::metrics::SUGGEST_ROUTE;
use super::{suggest, ApiError, AppState, Segments};

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
/// by the same function the route calls ([`suggest::suggest_now`]), and
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
pub(super) struct FastSuggest {
    pub(super) state: AppState,
    pub(super) router: Router,
    pub(super) policy: Arc<EdgePolicy>,
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
        let host_ok = self.policy.host_allowed(&req);
        let params = Segments(req.into_parts().0.uri);
        let res = if host_ok {
            suggest::suggest_now(&self.state, &params).unwrap_or_else(IntoResponse::into_response)
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
