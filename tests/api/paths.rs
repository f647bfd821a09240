//! Names and keys in the path, in-process: keys with reserved and non-ASCII
//! characters round-trip percent-encoded (decoded exactly once, on tries and
//! caches alike), invalid names are refused on every route of every
//! resource, and segments that are not UTF-8 once decoded get the API's
//! codes.

use axum::http::Method;
use serde_json::{json, Value as Json};

use crate::common::enc;
use crate::in_process::App;
use crate::{add, stats, suggest};

/// Keys with reserved and non-ASCII characters, percent-encoded in the
/// path and the query.
const ODD_KEYS: &[&str] = &[
    "a/b",
    "a/",
    "/lead",
    "a//b",
    "what?",
    "q?x=1&y=2",
    "100%",
    "50% off",
    "%",
    "%%",
    "two words",
    " lead",
    "trail ",
    "#hash",
    "a#b",
    "a+b",
    "semi;colon,comma=eq",
    "quote\"back\\slash",
    "tab\tnew\nline",
    "é",
    "café au lait",
    "straße",
    "привет мир",
    "日本語",
    "🦀",
    "emoji 😀 mix",
    "mixed/?%# é😀",
];

#[test]
fn percent_encoded_keys_round_trip() {
    let s = App::start();
    let pairs: Vec<(&str, Json)> = ODD_KEYS
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, json!(i)))
        .collect();
    assert_eq!(add(&s, "odd", &pairs), (ODD_KEYS.len() as u64, 0));
    for (i, key) in ODD_KEYS.iter().enumerate() {
        let path = format!("/v1/tries/odd/keys/{}", enc(key));
        let (st, body, _) = s.get(&path);
        assert_eq!(st, 200, "GET {path} for {key:?}: {body}");
        assert_eq!(
            body,
            json!({"key": key, "values": [i], "scores": [0]}),
            "GET {path}"
        );

        let got = suggest(&s, "odd", &format!("?q={}&limit=1000", enc(key)));
        assert!(!got.is_empty(), "suggest q={key:?} found nothing");
        assert_eq!(got[0], (key.to_string(), json!(i)), "suggest q={key:?}");
        assert!(
            got.iter().all(|(k, _)| k.starts_with(key)),
            "q={key:?}: {got:?}"
        );
        let want = ODD_KEYS.iter().filter(|k| k.starts_with(key)).count();
        assert_eq!(got.len(), want, "q={key:?}: {got:?}");
    }
    // Delete through the encoded path too.
    for key in ODD_KEYS {
        let path = format!("/v1/tries/odd/keys/{}", enc(key));
        let (st, body, _) = s.delete(&path);
        assert_eq!((st, body), (200, json!({"removed": 1})), "DELETE {path}");
    }
    assert_eq!(stats(&s, "odd")["entries"], 0);

    // Cache keys follow the same path rules.
    for (i, key) in ODD_KEYS.iter().enumerate() {
        let path = format!("/v1/caches/c/keys/{}", enc(key));
        let (st, body, _) = s.put_json(&path, &json!({"value": i}));
        assert_eq!(
            (st, body),
            (200, json!({"key": key, "value": i})),
            "PUT {path}"
        );
        let (st, body, _) = s.get(&path);
        assert_eq!(
            (st, body),
            (200, json!({"key": key, "value": i})),
            "GET {path}"
        );
    }
    let (_, body, _) = s.get("/v1/caches/c");
    assert_eq!(body["keys"], json!(ODD_KEYS.len()));
}

/// Keys that contain a '%' followed by two hex digits: the path segment is
/// percent-decoded exactly once, so "%41" (sent as "%2541") stays "%41".
#[test]
fn keys_with_literal_percent_escapes_round_trip() {
    let s = App::start();
    let keys = ["%41", "a%2Fb", "100%25", "%20", "%FF", "%C3%A9", "x%2541"];
    let pairs: Vec<(&str, Json)> = keys.iter().map(|k| (*k, json!(k))).collect();
    assert_eq!(add(&s, "pct", &pairs), (keys.len() as u64, 0));
    let mut failures = Vec::new();
    for key in keys {
        let path = format!("/v1/tries/pct/keys/{}", enc(key));
        let r = s.get_raw(&path);
        if (r.status, &r.json) != (200, &json!({"key": key, "values": [key], "scores": [0]})) {
            failures.push(format!(
                "GET {path} (key {key:?}) -> {} {}",
                r.status, r.text
            ));
        }
        let cpath = format!("/v1/caches/pct/keys/{}", enc(key));
        let r = s.send(s.req(Method::PUT, &cpath).json(&json!({"value": 1})));
        if (r.status, &r.json) != (200, &json!({"key": key, "value": 1})) {
            failures.push(format!(
                "PUT {cpath} (key {key:?}) -> {} {}",
                r.status, r.text
            ));
        }
        // The query string is decoded once (this works).
        let got = suggest(&s, "pct", &format!("?q={}", enc(key)));
        assert_eq!(
            got.first().map(|p| p.0.as_str()),
            Some(key),
            "suggest q={key:?}"
        );
    }
    // Deleting "%41" must not delete the different key "A".
    add(&s, "pct", &[("A", json!("A"))]);
    let r = s.send(s.req(
        Method::DELETE,
        &format!("/v1/tries/pct/keys/{}", enc("%41")),
    ));
    if (r.status, &r.json) != (200, &json!({"removed": 1})) {
        failures.push(format!(
            "DELETE keys/{} -> {} {}",
            enc("%41"),
            r.status,
            r.text
        ));
    }
    let (st, body, _) = s.get("/v1/tries/pct/keys/A");
    if (st, &body) != (200, &json!({"key": "A", "values": ["A"], "scores": [0]})) {
        failures.push(format!(
            "after DELETE of \"%41\", key \"A\" is gone: {st} {body}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_names_on_every_resource() {
    let s = App::start();
    let bad_names = [
        "a.b".to_string(),
        "a%20b".to_string(),
        "a+b".to_string(),
        "a%2Fb".to_string(),
        "%C3%A9".to_string(),
        "a~b".to_string(),
        "a:b".to_string(),
        "a!".to_string(),
        "a".repeat(65),
    ];
    let good64 = "a".repeat(64);
    let entries = json!({"entries": [{"key": "k", "value": 1}]});
    let routes: Vec<(Method, &str, Option<Json>)> = vec![
        (Method::GET, "/v1/tries/{}", None),
        (Method::DELETE, "/v1/tries/{}", None),
        (Method::POST, "/v1/tries/{}/entries", Some(entries.clone())),
        (Method::POST, "/v1/tries/{}/remove", Some(entries.clone())),
        (Method::GET, "/v1/tries/{}/keys/k", None),
        (Method::DELETE, "/v1/tries/{}/keys/k", None),
        (Method::GET, "/v1/tries/{}/suggest?q=a", None),
        (
            Method::POST,
            "/v1/stacks/{}/push",
            Some(json!({"value": 1})),
        ),
        (Method::POST, "/v1/stacks/{}/pop", None),
        (Method::GET, "/v1/stacks/{}", None),
        (Method::DELETE, "/v1/stacks/{}", None),
        (
            Method::PUT,
            "/v1/caches/{}/keys/k",
            Some(json!({"value": 1})),
        ),
        (Method::GET, "/v1/caches/{}/keys/k", None),
        (
            Method::POST,
            "/v1/caches/{}/keys/k/incr",
            Some(json!({"by": 1})),
        ),
        (Method::POST, "/v1/caches/{}/keys/k/incr", None),
        (Method::DELETE, "/v1/caches/{}/keys/k", None),
        (Method::GET, "/v1/caches/{}", None),
        (Method::DELETE, "/v1/caches/{}", None),
    ];
    for (method, tpl, body) in &routes {
        for name in &bad_names {
            let path = tpl.replace("{}", name);
            let mut rb = s.req(method.clone(), &path);
            if let Some(b) = body {
                rb = rb.json(b);
            }
            let r = s.send(rb);
            assert_eq!(
                (
                    r.status,
                    r.json.pointer("/error/code").and_then(Json::as_str)
                ),
                (400, Some("invalid_name")),
                "{method} {path}: {}",
                r.text
            );
            r.assert_error(400, "invalid_name");
        }
        // 64 characters of the allowed set is a valid name: no invalid_name.
        let path = tpl.replace("{}", &good64);
        let mut rb = s.req(method.clone(), &path);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = s.send(rb);
        assert_ne!(
            r.json.pointer("/error/code").and_then(Json::as_str),
            Some("invalid_name"),
            "{method} {path}"
        );
        assert!(r.status < 500, "{method} {path}: {}", r.text);
    }
    // Nothing was created under any bad name.
    let (_, body, _) = s.get("/v1/tries");
    for t in body["tries"].as_array().unwrap() {
        assert_eq!(t["name"], json!(good64));
    }
}

/// A path segment that is not UTF-8 once decoded is an invalid name or key
/// (400 with the API's codes), like any other bad name or key.
#[test]
fn non_utf8_path_segments_get_api_codes() {
    let s = App::start();
    add(&s, "t", &[("k", json!(1))]);
    let mut failures = Vec::new();
    for (path, code) in [
        ("/v1/tries/%FF", "invalid_name"),
        ("/v1/stacks/a%FFb", "invalid_name"),
        ("/v1/caches/%C3", "invalid_name"),
        ("/v1/tries/t/keys/%FF", "invalid_key"),
        ("/v1/tries/t/keys/a%E9", "invalid_key"),
        ("/v1/caches/c/keys/%FF", "invalid_key"),
    ] {
        let r = s.get_raw(path);
        if r.status != 400 || r.json.pointer("/error/code").and_then(Json::as_str) != Some(code) {
            failures.push(format!(
                "GET {path}: expected 400 {code}, got {} {}",
                r.status, r.text
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
