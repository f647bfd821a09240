//! The router in-process: requests go through `tower::ServiceExt::oneshot`
//! into `typeahead::server::app`, with no socket, no binary and no data
//! directory (an empty `Db` over `NullStore`).
//!
//! [`App`] mirrors the methods of `common::Server` the tests use (`get`,
//! `get_raw`, `post_json`, `put_json`, `delete`, `raw`, `post_text`, and
//! `req` + `send` for anything else) and answers with the same
//! `common::Resp`, so a test reads alike on either.
//!
//! What this does not see, by design: hyper's connection handling and the
//! headers hyper adds on the wire (`Content-Length` among them: the suggest
//! fast path answers without it in-process), the CLI and its flags, restarts
//! and the disk. Tests that need those start a real process.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Method, Request};
use axum::Router;
use serde_json::Value as Json;
use tower::ServiceExt;

use crate::common::Resp;

/// The `--request-timeout` default of `typeahead serve`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest answer read back (the API's answers are far smaller).
const MAX_ANSWER: usize = 256 * 1024 * 1024;

/// The router over an empty in-memory database, with the write token (if
/// any) and the CORS origins given. Every piece of the server's construction
/// the in-process tests depend on is here, and only here.
pub fn router(token: Option<&str>, cors_origins: &[&str]) -> Router {
    let (db, _loaded, _writer) =
        typeahead::db::Db::open(typeahead::store::NullStore).expect("open an empty database");
    // The writer thread ends on its own once the router (and every `Db`
    // handle in it) is dropped.
    let state = typeahead::server::AppState::new(db, token.map(str::to_owned));
    let policy = typeahead::server::EdgePolicy {
        timeout: REQUEST_TIMEOUT,
        cors_origins: cors_origins.iter().map(|o| o.to_string()).collect(),
        body_budget: None,
        loopback_hosts: None,
    };
    typeahead::server::app(state, policy)
}

/// The router and a runtime to drive it, behind blocking calls.
pub struct App {
    // Dropped before the runtime it was built in.
    router: Router,
    rt: tokio::runtime::Runtime,
}

/// A request being built, as with `reqwest::blocking::RequestBuilder`.
pub struct Req {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
}

impl Req {
    /// Adds a header (the value anything `HeaderValue` converts from, as
    /// with reqwest).
    pub fn header<V>(mut self, name: &str, value: V) -> Req
    where
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: std::fmt::Debug,
    {
        let name = HeaderName::try_from(name).expect("a header name");
        let value = HeaderValue::try_from(value).expect("a header value");
        self.headers.push((name, value));
        self
    }

    /// Sets the body as bytes (no `Content-Type`).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = Some(body.into());
        self
    }

    /// Sets the body as JSON, with `Content-Type: application/json` unless
    /// one was set already.
    pub fn json(mut self, body: &Json) -> Req {
        if !self.headers.iter().any(|(n, _)| n == header::CONTENT_TYPE) {
            self.headers.push((
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ));
        }
        self.body = Some(serde_json::to_vec(body).expect("serialize a JSON body"));
        self
    }
}

impl App {
    /// No token, no CORS origins: `typeahead serve` with no extra flags.
    pub fn start() -> App {
        App::with(None, &[])
    }

    /// With a write token and CORS origins (`--token`, `--cors-origin`).
    pub fn with(token: Option<&str>, cors_origins: &[&str]) -> App {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let router = {
            let _in_runtime = rt.enter();
            router(token, cors_origins)
        };
        App { router, rt }
    }

    /// A request builder for `method` on `path` (path and query, as sent).
    pub fn req(&self, method: Method, path: &str) -> Req {
        Req {
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Sends a request through the router and reads the whole answer.
    #[track_caller]
    pub fn send(&self, req: Req) -> Resp {
        let mut builder = Request::builder().method(req.method).uri(&req.path);
        for (name, value) in req.headers {
            builder = builder.header(name, value);
        }
        // A client sends the length of a body it has whole.
        let body = match req.body {
            Some(bytes) => {
                builder = builder.header(header::CONTENT_LENGTH, bytes.len());
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let request = builder
            .body(body)
            .unwrap_or_else(|e| panic!("bad request to {}: {e}", req.path));
        let (status, headers, bytes) = self.rt.block_on(async {
            let res = match self.router.clone().oneshot(request).await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            let (parts, body) = res.into_parts();
            let bytes = axum::body::to_bytes(body, MAX_ANSWER)
                .await
                .expect("read the answer's body");
            (parts.status, parts.headers, bytes)
        });
        Resp {
            status: status.as_u16(),
            json: serde_json::from_slice(&bytes).unwrap_or(Json::Null),
            text: String::from_utf8_lossy(&bytes).into_owned(),
            headers,
        }
    }

    /// `GET path`.
    #[track_caller]
    pub fn get(&self, path: &str) -> (u16, Json, axum::http::HeaderMap) {
        self.send(self.req(Method::GET, path)).into_tuple()
    }

    /// `GET path`, the whole answer (text included).
    #[track_caller]
    pub fn get_raw(&self, path: &str) -> Resp {
        self.send(self.req(Method::GET, path))
    }

    /// `POST path` with `body` as JSON.
    #[track_caller]
    pub fn post_json(&self, path: &str, body: &Json) -> (u16, Json, axum::http::HeaderMap) {
        self.send(self.req(Method::POST, path).json(body))
            .into_tuple()
    }

    /// `PUT path` with `body` as JSON.
    #[track_caller]
    pub fn put_json(&self, path: &str, body: &Json) -> (u16, Json, axum::http::HeaderMap) {
        self.send(self.req(Method::PUT, path).json(body))
            .into_tuple()
    }

    /// `DELETE path`.
    #[track_caller]
    pub fn delete(&self, path: &str) -> (u16, Json, axum::http::HeaderMap) {
        self.send(self.req(Method::DELETE, path)).into_tuple()
    }

    /// `method path` with a raw body and an optional Content-Type.
    #[track_caller]
    pub fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Vec<u8>>,
    ) -> Resp {
        let mut req = self.req(method, path).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        self.send(req)
    }

    /// `POST path` with JSON text sent verbatim (key order and whitespace
    /// kept) as `application/json`.
    #[track_caller]
    pub fn post_text(&self, path: &str, json_text: &str) -> Resp {
        self.raw(
            Method::POST,
            path,
            Some("application/json"),
            json_text.as_bytes().to_vec(),
        )
    }
}
