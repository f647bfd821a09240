//! Error shapes and limits: malformed JSON and media types (400, 415), body
//! size and batch limits (413), unknown routes and wrong methods (404, 405
//! with `Allow`), all in-process; and the JSON 408 for a write whose body
//! never finishes arriving, which needs a real socket to trickle on.

use axum::http::Method;
use serde_json::json;

use crate::common::{assert_error, Server};
use crate::in_process::App;
use crate::{add, stats};

#[test]
fn bodies_malformed_json_and_media_types() {
    let s = App::start();
    let json_routes: Vec<(Method, &str)> = vec![
        (Method::POST, "/v1/tries/t/entries"),
        (Method::POST, "/v1/tries/t/remove"),
        (Method::POST, "/v1/stacks/s/push"),
        (Method::PUT, "/v1/caches/c/keys/k"),
        (Method::POST, "/v1/caches/c/keys/k/incr"),
    ];
    for (m, path) in &json_routes {
        for bad in [
            "{",
            "{\"entries\": [",
            "{\"value\": }",
            "nul",
            "{'value': 1}",
            "{\"value\": 1,}",
            "{\"value\": 1} trailing",
            "\u{FEFF}{}",
            "{\"value\": \"\\ud800\"}",
            "{\"value\": 1e400}",
        ] {
            let r = s.raw(m.clone(), path, Some("application/json"), bad);
            r.assert_error(400, "invalid_json");
        }
        // Not valid UTF-8.
        let r = s.raw(
            m.clone(),
            path,
            Some("application/json"),
            vec![b'"', 0xFF, b'"'],
        );
        r.assert_error(400, "invalid_json");
        // Nesting past what the parser takes.
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        s.raw(m.clone(), path, Some("application/json"), deep)
            .assert_error(400, "invalid_json");
        // A body without a JSON content type.
        let body = r#"{"entries": [{"key": "k", "value": 1}], "value": 1, "by": 1}"#;
        for ct in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
            Some("json"),
        ] {
            let r = s.raw(m.clone(), path, ct, body);
            r.assert_error(415, "unsupported_media_type");
        }
    }
    // Content types that are JSON.
    for (i, ct) in [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "Application/JSON",
    ]
    .iter()
    .enumerate()
    {
        let body = format!(r#"{{"entries": [{{"key": "ct", "value": {i}}}]}}"#);
        let r = s.raw(Method::POST, "/v1/tries/ok/entries", Some(ct), body);
        assert_eq!(r.status, 200, "{ct}: {}", r.text);
    }
    // An empty body where one is required.
    s.raw(
        Method::POST,
        "/v1/tries/t/entries",
        Some("application/json"),
        "",
    )
    .assert_error(400, "invalid_json");
    s.raw(
        Method::POST,
        "/v1/stacks/s/push",
        Some("application/json"),
        "",
    )
    .assert_error(400, "invalid_json");
    // Nothing was created by any of the refused requests.
    let (_, body, _) = s.get("/v1/tries");
    assert_eq!(body["tries"].as_array().unwrap().len(), 1, "{body}");
    assert_error(&s.get("/v1/stacks/s"), 404, "not_found");
    assert_error(&s.get("/v1/caches/c"), 404, "not_found");
}

#[test]
fn bodies_size_and_batch_limits() {
    let s = App::start();
    // Over 16 MiB.
    let mut big = String::from(r#"{"entries": [{"key": "k", "value": ""#);
    big.push_str(&"x".repeat(16 * 1024 * 1024));
    big.push_str(r#""}]}"#);
    let r = s.raw(
        Method::POST,
        "/v1/tries/big/entries",
        Some("application/json"),
        big,
    );
    r.assert_error(413, "payload_too_large");
    let huge_value = format!(r#"{{"value": "{}"}}"#, "y".repeat(16 * 1024 * 1024 + 10));
    let r = s.raw(
        Method::POST,
        "/v1/stacks/big/push",
        Some("application/json"),
        huge_value,
    );
    r.assert_error(413, "payload_too_large");
    assert_error(&s.get("/v1/tries/big"), 404, "not_found");
    assert_error(&s.get("/v1/stacks/big"), 404, "not_found");

    // Over 100,000 entries.
    let entries = |n: usize| {
        let mut body = String::with_capacity(n * 24 + 16);
        body.push_str(r#"{"entries":["#);
        for i in 0..n {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!(r#"{{"key":"k{i}","value":1}}"#));
        }
        body.push_str("]}");
        body
    };
    let r = s.post_text("/v1/tries/many/entries", &entries(100_001));
    r.assert_error(413, "payload_too_large");
    assert_error(&s.get("/v1/tries/many"), 404, "not_found");
    let mut rm = String::from(r#"{"entries":["#);
    rm.push_str(&vec![r#"{"key":"k1"}"#; 100_001].join(","));
    rm.push_str("]}");
    add(&s, "many", &[("k1", json!(1))]);
    s.post_text("/v1/tries/many/remove", &rm)
        .assert_error(413, "payload_too_large");
    assert_eq!(stats(&s, "many")["entries"], 1);
    // Exactly 100,000 is fine.
    let r = s.post_text("/v1/tries/many/entries", &entries(100_000));
    assert_eq!(
        r.json,
        json!({"added": 99_999, "updated": 0, "unchanged": 1, "existing": 1}),
        "{}",
        r.status
    );
    let st = stats(&s, "many");
    assert_eq!(st["entries"], 100_000);
}

#[test]
fn unknown_routes_and_wrong_methods() {
    let s = App::start();
    for path in [
        "/nope",
        "/v1",
        "/v1/",
        "/v1/nope",
        "/v2/tries",
        "/v1/tries/t/nope",
        "/v1/tries/t/keys",
        "/v1/tries/t/keys/",
        "/v1/stacks",
        "/v1/caches",
        "/v1/caches/c/keys",
        "/v1/caches/c/keys/k/decr",
        "/healthz/x",
    ] {
        let r = s.get_raw(path);
        r.assert_error(404, "not_found");
        let r = s.send(s.req(Method::POST, path).json(&json!({})));
        r.assert_error(404, "not_found");
    }
    for (m, path) in [
        (Method::PATCH, "/v1/tries/x"),
        (Method::POST, "/v1/tries/x"),
        (Method::POST, "/v1/tries"),
        (Method::DELETE, "/v1/tries"),
        (Method::GET, "/v1/tries/x/entries"),
        (Method::PUT, "/v1/tries/x/entries"),
        (Method::GET, "/v1/tries/x/remove"),
        (Method::POST, "/v1/tries/x/keys/k"),
        (Method::PUT, "/v1/tries/x/keys/k"),
        (Method::POST, "/v1/tries/x/suggest"),
        (Method::GET, "/v1/stacks/s/push"),
        (Method::GET, "/v1/stacks/s/pop"),
        (Method::DELETE, "/v1/stacks/s/pop"),
        (Method::PUT, "/v1/stacks/s"),
        (Method::PATCH, "/v1/tries/x"),
        (Method::POST, "/v1/stacks/s"),
        (Method::POST, "/v1/caches/c/keys/k"),
        (Method::PATCH, "/v1/caches/c/keys/k"),
        (Method::GET, "/v1/caches/c/keys/k/incr"),
        (Method::PUT, "/v1/caches/c"),
        (Method::POST, "/healthz"),
        (Method::DELETE, "/v1/openapi.json"),
        (Method::POST, "/metrics"),
    ] {
        let r = s.send(s.req(m.clone(), path).json(&json!({"value": 1})));
        assert_eq!(r.status, 405, "{m} {path}: {}", r.text);
        r.assert_error(405, "method_not_allowed");
    }
    // None of it created anything.
    let (_, body, _) = s.get("/v1/tries");
    assert_eq!(body, json!({"tries": []}));
}

/// RFC 9110 15.5.6: a 405 response must say which methods the route takes.
#[test]
fn method_not_allowed_has_allow_header() {
    let s = App::start();
    let r = s.send(s.req(Method::PATCH, "/v1/tries/x"));
    r.assert_error(405, "method_not_allowed");
    let allow = r.header("allow").unwrap_or_default().to_ascii_uppercase();
    assert!(
        allow.contains("GET") && allow.contains("DELETE"),
        "405 without an Allow header listing GET, DELETE: {:?}",
        r.headers
    );
}

/// A write whose body never finishes arriving is stopped after
/// `--request-timeout` with the API's JSON 408, and applies nothing; reads on
/// the same server are unaffected.
#[test]
fn slow_write_bodies_time_out_with_json_408() {
    use std::io::{Read, Write};
    let s = Server::start_with(&["--request-timeout", "1"]);
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let part = br#"{"entries": [{"key""#;
    write!(
        tcp,
        "POST /v1/tries/slow/entries HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        part.len() + 40
    )
    .unwrap();
    tcp.write_all(part).unwrap();
    // The server answers on its own once the timeout passes; the read
    // blocks until then (the read timeout only bounds a hung server).
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.ends_with(b"}}") {
        let n = tcp
            .read(&mut buf)
            .expect("an answer before the read timeout");
        assert!(n > 0, "connection closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"timeout""#), "{answer}");
    let (st, _, _) = s.get("/v1/tries/slow");
    assert_eq!(st, 404, "the timed-out batch applied nothing");
    assert_eq!(s.get("/healthz").0, 200);
}
