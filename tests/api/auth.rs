//! Access, in-process: the write token (every write refused without it,
//! before anything else about the request is checked; reads need none) and
//! CORS (preflights, allowed and other origins, headers on errors too).
//! One real-process test checks that `--token` and `--cors-origin` reach the
//! server from the command line.

use axum::http::Method;
use serde_json::json;

use crate::common::{assert_error, Server};
use crate::in_process::App;

#[test]
fn token_guards_every_write() {
    let s = App::with(Some("secret"), &[]);
    let e = json!({"entries": [{"key": "k", "value": 1}]});
    let writes: Vec<(Method, &str, Option<&str>, String)> = vec![
        (
            Method::POST,
            "/v1/tries/t/entries",
            Some("application/json"),
            e.to_string(),
        ),
        (
            Method::POST,
            "/v1/tries/t/remove",
            Some("application/json"),
            e.to_string(),
        ),
        (Method::DELETE, "/v1/tries/t", None, String::new()),
        (Method::DELETE, "/v1/tries/t/keys/k", None, String::new()),
        (
            Method::POST,
            "/v1/stacks/s/push",
            Some("application/json"),
            r#"{"value":1}"#.into(),
        ),
        (Method::POST, "/v1/stacks/s/pop", None, String::new()),
        (Method::DELETE, "/v1/stacks/s", None, String::new()),
        (
            Method::PUT,
            "/v1/caches/c/keys/k",
            Some("application/json"),
            r#"{"value":1}"#.into(),
        ),
        (
            Method::POST,
            "/v1/caches/c/keys/k/incr",
            None,
            String::new(),
        ),
        (Method::DELETE, "/v1/caches/c/keys/k", None, String::new()),
        (Method::DELETE, "/v1/caches/c", None, String::new()),
        // Checked before anything else about the request:
        (
            Method::POST,
            "/v1/tries/a.b/entries",
            Some("application/json"),
            e.to_string(),
        ),
        (
            Method::POST,
            "/v1/tries/t/entries",
            Some("application/json"),
            "{bad json".into(),
        ),
        (
            Method::POST,
            "/v1/tries/t/entries",
            Some("text/plain"),
            e.to_string(),
        ),
        (Method::POST, "/v1/tries/t/entries", None, e.to_string()),
        (
            Method::POST,
            "/v1/tries/t/entries",
            Some("application/json"),
            r#"{"entries":[{"key":""}]}"#.into(),
        ),
        (
            Method::PUT,
            "/v1/caches/c/keys/k",
            Some("application/json"),
            r#"{"value":1.5}"#.into(),
        ),
        (
            Method::POST,
            "/v1/nope",
            Some("application/json"),
            "{}".into(),
        ),
        (Method::PATCH, "/v1/tries/t", None, String::new()),
        (Method::DELETE, "/v1/stacks/%20", None, String::new()),
    ];
    let bad_auth: [Option<&str>; 8] = [
        None,
        Some("Bearer wrong"),
        Some("Bearer secre"),
        Some("Bearer secretx"),
        Some("secret"),
        Some("Bearer "),
        Some("Basic c2VjcmV0"),
        Some("Token secret"),
    ];
    for (m, path, ct, body) in &writes {
        for auth in bad_auth {
            let mut rb = s.req(m.clone(), path).body(body.clone());
            if let Some(ct) = ct {
                rb = rb.header("content-type", *ct);
            }
            if let Some(a) = auth {
                rb = rb.header("authorization", a);
            }
            let r = s.send(rb);
            assert_eq!(r.status, 401, "{m} {path} with {auth:?}: {}", r.text);
            r.assert_error(401, "unauthorized");
        }
    }
    // Nothing changed.
    let (st, b, _) = s.get("/v1/tries");
    assert_eq!((st, b), (200, json!({"tries": []})));
    assert_error(&s.get("/v1/stacks/s"), 404, "not_found");
    assert_error(&s.get("/v1/caches/c"), 404, "not_found");

    // Reads need no token.
    assert_eq!(s.get("/healthz").0, 200);
    assert_eq!(s.get("/v1/openapi.json").0, 200);
    assert_eq!(s.get_raw("/metrics").status, 200);
    let r = s.send(s.req(Method::HEAD, "/v1/tries"));
    assert_eq!(r.status, 200);

    // With the token, writes work.
    let authed = |m: Method, path: &str| s.req(m, path).header("authorization", "Bearer secret");
    let r = s.send(authed(Method::POST, "/v1/tries/t/entries").json(&e));
    assert_eq!(
        (r.status, r.json),
        (
            200,
            json!({"added": 1, "updated": 0, "unchanged": 0, "existing": 0})
        )
    );
    let r = s.send(authed(Method::POST, "/v1/stacks/s/push").json(&json!({"value": 1})));
    assert_eq!((r.status, r.json), (200, json!({"len": 1})));
    let r = s.send(authed(Method::PUT, "/v1/caches/c/keys/k").json(&json!({"value": 1})));
    assert_eq!(r.status, 200);
    let r = s.send(authed(Method::POST, "/v1/caches/c/keys/k/incr"));
    assert_eq!((r.status, r.json), (200, json!({"key": "k", "value": 2})));
    // ... and the token does not excuse bad input.
    let r = s.send(authed(Method::POST, "/v1/tries/a.b/entries").json(&e));
    r.assert_error(400, "invalid_name");
    // Reads without a token see the writes.
    let (st, b, _) = s.get("/v1/tries/t/suggest?q=k");
    assert_eq!(
        (st, b),
        (
            200,
            json!({"entries": [{"key": "k", "value": 1, "score": 0, "highlight": [0, 1]}]})
        )
    );
    let (st, b, _) = s.get("/v1/stacks/s");
    assert_eq!((st, b["len"].clone()), (200, json!(1)));
    let (st, b, _) = s.get("/v1/caches/c/keys/k");
    assert_eq!((st, b["value"].clone()), (200, json!(2)));
    let r = s.send(authed(Method::POST, "/v1/tries/t/remove").json(&e));
    assert_eq!(r.json, json!({"removed": 1}));
    let r = s.send(authed(Method::POST, "/v1/stacks/s/pop"));
    assert_eq!(r.json, json!({"value": 1, "len": 0}));
    for path in [
        "/v1/caches/c/keys/k",
        "/v1/caches/c",
        "/v1/stacks/s",
        "/v1/tries/t",
    ] {
        let r = s.send(authed(Method::DELETE, path));
        assert_eq!(r.status, 204, "DELETE {path}: {}", r.text);
    }
}

#[test]
fn cors_preflight_and_origins() {
    let s = App::with(
        Some("secret"),
        &["https://a.example", "http://localhost:8080"],
    );
    let preflight = |origin: &str, path: &str, method: &str| {
        s.send(
            s.req(Method::OPTIONS, path)
                .header("origin", origin)
                .header("access-control-request-method", method)
                .header(
                    "access-control-request-headers",
                    "content-type, authorization",
                ),
        )
    };
    for origin in ["https://a.example", "http://localhost:8080"] {
        for (path, method) in [
            ("/v1/tries/t/entries", "POST"),
            ("/v1/caches/c/keys/k", "PUT"),
            ("/v1/stacks/s", "DELETE"),
            ("/v1/tries/t/suggest?q=a", "GET"),
        ] {
            let r = preflight(origin, path, method);
            assert!(
                (200..300).contains(&r.status),
                "preflight {method} {path} from {origin}: {} {}",
                r.status,
                r.text
            );
            assert_eq!(
                r.header("access-control-allow-origin"),
                Some(origin),
                "{:?}",
                r.headers
            );
            let methods = r
                .header("access-control-allow-methods")
                .unwrap_or_default()
                .to_ascii_uppercase();
            assert!(
                methods.contains(method),
                "allow-methods {methods:?} lacks {method}"
            );
            let headers = r
                .header("access-control-allow-headers")
                .unwrap_or_default()
                .to_ascii_lowercase();
            assert!(
                headers.contains("authorization") && headers.contains("content-type"),
                "allow-headers {headers:?}"
            );
        }
    }
    // Another origin: no allow-origin.
    for origin in [
        "https://b.example",
        "https://a.example.evil",
        "http://a.example",
        "null",
    ] {
        let r = preflight(origin, "/v1/tries/t/entries", "POST");
        assert_eq!(
            r.header("access-control-allow-origin"),
            None,
            "{origin}: {:?}",
            r.headers
        );
        let r = s.send(s.req(Method::GET, "/v1/tries").header("origin", origin));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("access-control-allow-origin"), None, "{origin}");
    }
    // Actual requests from the allowed origin carry the header, errors too.
    let r = s.send(
        s.req(Method::GET, "/v1/tries")
            .header("origin", "https://a.example"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://a.example")
    );
    let r = s.send(
        s.req(Method::POST, "/v1/tries/t/entries")
            .header("origin", "https://a.example")
            .json(&json!({"entries": [{"key": "k", "value": 1}]})),
    );
    r.assert_error(401, "unauthorized");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://a.example")
    );
    let r = s.send(
        s.req(Method::POST, "/v1/tries/t/entries")
            .header("origin", "http://localhost:8080")
            .header("authorization", "Bearer secret")
            .json(&json!({"entries": [{"key": "k", "value": 1}]})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:8080")
    );
}

#[test]
fn no_cors_headers_without_cors_origin() {
    let s = App::start();
    let r = s.send(
        s.req(Method::GET, "/v1/tries")
            .header("origin", "https://a.example"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

/// The tests above build the router with a token and CORS origins directly;
/// this one checks that `--token` and `--cors-origin` get there from the
/// command line of `typeahead serve`.
#[test]
fn token_and_cors_origin_flags_reach_the_server() {
    let s = Server::start_with(&["--token", "secret", "--cors-origin", "https://a.example"]);
    let e = json!({"entries": [{"key": "k", "value": 1}]});
    s.send(s.req(Method::POST, "/v1/tries/t/entries").json(&e))
        .assert_error(401, "unauthorized");
    let r = s.send(
        s.req(Method::POST, "/v1/tries/t/entries")
            .header("origin", "https://a.example")
            .header("authorization", "Bearer secret")
            .json(&e),
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://a.example"),
        "{:?}",
        r.headers
    );
    assert_eq!(
        (r.status, r.json),
        (
            200,
            json!({"added": 1, "updated": 0, "unchanged": 0, "existing": 0})
        )
    );
    // Reads still need no token.
    let (st, body, _) = s.get("/v1/tries/t/keys/k");
    assert_eq!(
        (st, body),
        (200, json!({"key": "k", "values": [1], "scores": [0]}))
    );
}
