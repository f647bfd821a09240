//! Caches, in-process: put, get, incr (defaults, overflow, creation on
//! first use), delete of a key and of a cache, integer-only values and key
//! rules.

use axum::http::Method;
use serde_json::{json, Value as Json};

use crate::common::{assert_error, enc};
use crate::in_process::App;

#[test]
fn caches_put_get_incr_delete() {
    let s = App::start();
    assert_error(&s.get("/v1/caches/c"), 404, "not_found");
    assert_error(&s.get("/v1/caches/c/keys/k"), 404, "not_found");
    assert_error(&s.delete("/v1/caches/c"), 404, "not_found");
    assert_error(&s.delete("/v1/caches/c/keys/k"), 404, "not_found");

    let (st, b, _) = s.put_json("/v1/caches/c/keys/k", &json!({"value": 5}));
    assert_eq!((st, b), (200, json!({"key": "k", "value": 5})));
    let (st, b, _) = s.get("/v1/caches/c/keys/k");
    assert_eq!((st, b), (200, json!({"key": "k", "value": 5})));
    let (st, b, _) = s.get("/v1/caches/c");
    assert_eq!((st, b), (200, json!({"name": "c", "keys": 1})));
    assert_error(&s.get("/v1/caches/c/keys/other"), 404, "not_found");

    // Invalid values: 400 invalid_value, value unchanged, nothing created.
    for raw in [
        "1.5",
        "5.0",
        "\"5\"",
        "1e20",
        "1e2",
        "100000000000000000000",
        "9223372036854775808",
        "-9223372036854775809",
        "null",
        "true",
        "[1]",
        "{\"n\": 1}",
    ] {
        let body = format!(r#"{{"value": {raw}}}"#);
        let r = s.raw(
            Method::PUT,
            "/v1/caches/c/keys/k",
            Some("application/json"),
            body.clone(),
        );
        r.assert_error(400, "invalid_value");
        let r = s.raw(
            Method::PUT,
            "/v1/caches/fresh/keys/k",
            Some("application/json"),
            body,
        );
        r.assert_error(400, "invalid_value");
        let body = format!(r#"{{"by": {raw}}}"#);
        let r = s.raw(
            Method::POST,
            "/v1/caches/c/keys/k/incr",
            Some("application/json"),
            body,
        );
        r.assert_error(400, "invalid_value");
    }
    assert_error(
        &s.put_json("/v1/caches/c/keys/k", &json!({})),
        400,
        "invalid_value",
    );
    assert_error(&s.get("/v1/caches/fresh"), 404, "not_found");
    assert_eq!(s.get("/v1/caches/c/keys/k").1["value"], 5);

    // Extremes are values.
    for v in [i64::MAX, i64::MIN, 0, -1] {
        let (st, b, _) = s.put_json("/v1/caches/c/keys/x", &json!({"value": v}));
        assert_eq!((st, b), (200, json!({"key": "x", "value": v})));
    }

    // incr: {"by": n}, empty body without content type, {} and an empty
    // JSON body all default to 1.
    let incr = |key: &str, body: Option<Json>| {
        let mut rb = s.req(Method::POST, &format!("/v1/caches/c/keys/{key}/incr"));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        s.send(rb)
    };
    let r = incr("k", Some(json!({"by": 10})));
    assert_eq!((r.status, r.json), (200, json!({"key": "k", "value": 15})));
    let r = incr("k", None);
    assert_eq!(
        (r.status, r.json),
        (200, json!({"key": "k", "value": 16})),
        "{}",
        r.text
    );
    let r = incr("k", Some(json!({})));
    assert_eq!((r.status, r.json), (200, json!({"key": "k", "value": 17})));
    let r = s.raw(
        Method::POST,
        "/v1/caches/c/keys/k/incr",
        Some("application/json"),
        "",
    );
    assert_eq!(
        (r.status, r.json),
        (200, json!({"key": "k", "value": 18})),
        "{}",
        r.text
    );
    let r = incr("k", Some(json!({"by": -20})));
    assert_eq!((r.status, r.json), (200, json!({"key": "k", "value": -2})));
    let r = incr("k", Some(json!({"by": 0})));
    assert_eq!((r.status, r.json), (200, json!({"key": "k", "value": -2})));
    // A body that is not JSON, or JSON that is not an object.
    s.raw(
        Method::POST,
        "/v1/caches/c/keys/k/incr",
        Some("text/plain"),
        "5",
    )
    .assert_error(415, "unsupported_media_type");
    s.raw(
        Method::POST,
        "/v1/caches/c/keys/k/incr",
        None,
        "{\"by\": 5}",
    )
    .assert_error(415, "unsupported_media_type");
    let r = s.raw(
        Method::POST,
        "/v1/caches/c/keys/k/incr",
        Some("application/json"),
        "5",
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(s.get("/v1/caches/c/keys/k").1["value"], -2);

    // A missing key counts from 0; a missing cache is created.
    let r = incr("new", None);
    assert_eq!((r.status, r.json), (200, json!({"key": "new", "value": 1})));
    let r = incr("new2", Some(json!({"by": -7})));
    assert_eq!(
        (r.status, r.json),
        (200, json!({"key": "new2", "value": -7}))
    );
    let r = s.send(s.req(Method::POST, "/v1/caches/made/keys/a/incr"));
    assert_eq!((r.status, r.json), (200, json!({"key": "a", "value": 1})));
    let (st, b, _) = s.get("/v1/caches/made");
    assert_eq!((st, b), (200, json!({"name": "made", "keys": 1})));

    // Overflow: 400, value unchanged.
    s.put_json("/v1/caches/c/keys/max", &json!({"value": i64::MAX}));
    incr("max", Some(json!({"by": 1}))).assert_error(400, "overflow");
    incr("max", None).assert_error(400, "overflow");
    assert_eq!(s.get("/v1/caches/c/keys/max").1["value"], json!(i64::MAX));
    s.put_json("/v1/caches/c/keys/min", &json!({"value": i64::MIN}));
    incr("min", Some(json!({"by": -1}))).assert_error(400, "overflow");
    incr("min", Some(json!({"by": i64::MIN}))).assert_error(400, "overflow");
    assert_eq!(s.get("/v1/caches/c/keys/min").1["value"], json!(i64::MIN));
    let r = incr("min", Some(json!({"by": i64::MAX})));
    assert_eq!(r.json["value"], json!(-1));
    // Overflow on a missing key cannot happen from 0, but a big step works.
    let r = incr("big", Some(json!({"by": i64::MIN})));
    assert_eq!(r.json["value"], json!(i64::MIN));
    incr("big", Some(json!({"by": -1}))).assert_error(400, "overflow");

    let (_, b, _) = s.get("/v1/caches/c");
    let keys = b["keys"].as_u64().unwrap();
    assert_eq!(keys, 7, "k x new new2 max min big: {b}");

    // Delete a key, then the cache.
    let (st, b, _) = s.delete("/v1/caches/c/keys/k");
    assert_eq!((st, b), (204, Json::Null));
    assert_error(&s.get("/v1/caches/c/keys/k"), 404, "not_found");
    assert_error(&s.delete("/v1/caches/c/keys/k"), 404, "not_found");
    assert_eq!(s.get("/v1/caches/c").1["keys"], json!(keys - 1));
    let (st, b, _) = s.delete("/v1/caches/c");
    assert_eq!((st, b), (204, Json::Null));
    assert_error(&s.get("/v1/caches/c"), 404, "not_found");
    assert_error(&s.delete("/v1/caches/c"), 404, "not_found");
    assert_error(&s.get("/v1/caches/c/keys/x"), 404, "not_found");
    assert_error(&s.delete("/v1/caches/c/keys/x"), 404, "not_found");
    // Key rules apply to cache keys.
    let long = enc(&"k".repeat(1025));
    assert_error(
        &s.put_json(&format!("/v1/caches/c/keys/{long}"), &json!({"value": 1})),
        400,
        "invalid_key",
    );
    assert_error(&s.get("/v1/caches/c"), 404, "not_found");
}
