//! The v1 API through the real process: every route, status code and error
//! code of the API contract (issue 4), against `typeahead serve` started on
//! 127.0.0.1:0 with a temporary data directory.

mod common;

use common::{assert_error, enc, Server};
use reqwest::Method;
use serde_json::{json, Value as Json};

/// `{"entries": [{"key", "value"}, ...]}`.
fn batch(pairs: &[(&str, Json)]) -> Json {
    json!({"entries": pairs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()})
}

/// Adds pairs and returns `(added, existing)`; panics unless 200.
#[track_caller]
fn add(s: &Server, trie: &str, pairs: &[(&str, Json)]) -> (u64, u64) {
    let (st, body, _) = s.post_json(&format!("/v1/tries/{trie}/entries"), &batch(pairs));
    assert_eq!(st, 200, "add to {trie}: {body}");
    (
        body["added"].as_u64().expect("added"),
        body["existing"].as_u64().expect("existing"),
    )
}

/// `GET /v1/tries/{trie}`; panics unless 200.
#[track_caller]
fn stats(s: &Server, trie: &str) -> Json {
    let (st, body, _) = s.get(&format!("/v1/tries/{trie}"));
    assert_eq!(st, 200, "stats of {trie}: {body}");
    body
}

/// `(key, value)` pairs of a suggest answer; panics unless 200.
#[track_caller]
fn suggest(s: &Server, trie: &str, query: &str) -> Vec<(String, Json)> {
    let (st, body, h) = s.get(&format!("/v1/tries/{trie}/suggest{query}"));
    assert_eq!(st, 200, "suggest {trie}{query}: {body}");
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    body["entries"]
        .as_array()
        .expect("entries array")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().expect("key").to_owned(),
                e["value"].clone(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------- meta

#[test]
fn meta_healthz_metrics_openapi() {
    let s = Server::start();
    let (st, body, h) = s.get("/healthz");
    assert_eq!(st, 200);
    assert_eq!(body, json!({"status": "ok"}));
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));

    add(&s, "m", &[("a", json!(1)), ("b", json!(2))]);
    s.post_json("/v1/stacks/ms/push", &json!({"value": 1}));
    s.put_json("/v1/caches/mc/keys/k", &json!({"value": 1}));
    assert_eq!(s.get_raw("/no/such/route").status, 404);
    let r = s.get_raw("/metrics");
    assert_eq!(r.status, 200);
    for name in [
        "typeahead_http_requests",
        "typeahead_http_request_duration_seconds",
        "typeahead_trie_entries",
        "typeahead_trie_keys",
        "typeahead_stack_length",
        "typeahead_cache_keys",
    ] {
        assert!(r.text.contains(name), "no {name} in:\n{}", r.text);
    }
    assert!(
        r.text.contains("/v1/tries/{trie}/entries"),
        "requests are counted per route:\n{}",
        r.text
    );
    assert!(
        r.text
            .lines()
            .any(|l| l.starts_with("typeahead_http_requests_total{")
                && l.contains("route=\"unmatched\"")
                && l.contains("status=\"404\"")),
        "a request no route matched is counted as unmatched:\n{}",
        r.text
    );
    assert!(
        r.text
            .lines()
            .any(|l| l.starts_with("typeahead_trie_entries{")
                && l.contains("\"m\"")
                && l.ends_with(" 2")),
        "no gauge for trie m with 2 entries:\n{}",
        r.text
    );
    assert!(
        r.content_type().starts_with("application/openmetrics-text")
            || r.content_type().starts_with("text/plain")
    );

    let r = s.get_raw("/v1/openapi.json");
    assert_eq!(r.status, 200);
    assert!(r.content_type().starts_with("application/json"));
    let doc: Json = serde_json::from_str(&r.text).expect("openapi.json is JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
        "openapi field: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths object");
    let expected: &[(&str, &[&str])] = &[
        ("/healthz", &["get"]),
        ("/metrics", &["get"]),
        ("/v1/openapi.json", &["get"]),
        ("/v1/tries", &["get"]),
        ("/v1/tries/{trie}", &["get", "delete"]),
        ("/v1/tries/{trie}/entries", &["post"]),
        ("/v1/tries/{trie}/remove", &["post"]),
        ("/v1/tries/{trie}/keys/{key}", &["get", "delete"]),
        ("/v1/tries/{trie}/suggest", &["get"]),
        ("/v1/stacks/{stack}", &["get", "delete"]),
        ("/v1/stacks/{stack}/push", &["post"]),
        ("/v1/stacks/{stack}/pop", &["post"]),
        ("/v1/caches/{cache}", &["get", "delete"]),
        ("/v1/caches/{cache}/keys/{key}", &["get", "put", "delete"]),
        ("/v1/caches/{cache}/keys/{key}/incr", &["post"]),
    ];
    for (path, methods) in expected {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from openapi paths: {:?}", paths.keys()));
        for m in *methods {
            assert!(item.get(*m).is_some(), "{m} {path} missing from openapi");
        }
    }
}

// ---------------------------------------------------------------- tries

#[test]
fn tries_list_stats_and_delete() {
    let s = Server::start();
    let (st, body, _) = s.get("/v1/tries");
    assert_eq!((st, body), (200, json!({"tries": []})));

    let names = ["b", "a", "C", "a-1", "_x", "Z9", "a_"];
    for (i, n) in names.iter().enumerate() {
        let pairs: Vec<(String, Json)> =
            (0..=i).map(|j| (format!("k{}", j % 2), json!(j))).collect();
        let pairs: Vec<(&str, Json)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        add(&s, n, &pairs);
    }
    let (st, body, _) = s.get("/v1/tries");
    assert_eq!(st, 200);
    let got: Vec<&str> = body["tries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = names.to_vec();
    want.sort();
    assert_eq!(got, want, "sorted by name");
    for t in body["tries"].as_array().unwrap() {
        let i = names.iter().position(|n| *n == t["name"]).unwrap() as u64;
        assert_eq!(t["entries"], json!(i + 1), "{t}");
        assert_eq!(t["keys"], json!(if i == 0 { 1 } else { 2 }), "{t}");
        assert_eq!(t.as_object().unwrap().len(), 3, "{t}");
    }

    // Stats, and a version that grows with every change.
    let s0 = stats(&s, "a");
    assert_eq!(s0["name"], "a");
    assert_eq!(s0["keys"], 2);
    assert_eq!(s0["entries"], 2);
    let v0 = s0["version"].as_u64().expect("integer version");
    add(&s, "a", &[("new", json!(true))]);
    let s1 = stats(&s, "a");
    assert_eq!(
        (s1["keys"].clone(), s1["entries"].clone()),
        (json!(3), json!(3))
    );
    let v1 = s1["version"].as_u64().unwrap();
    assert!(v1 > v0, "version {v0} -> {v1} after an add");
    let (st, body, _) = s.post_json("/v1/tries/a/remove", &json!({"entries": [{"key": "new"}]}));
    assert_eq!((st, body), (200, json!({"removed": 1})));
    let v2 = stats(&s, "a")["version"].as_u64().unwrap();
    assert!(v2 > v1, "version {v1} -> {v2} after a remove");
    let (st, _, _) = s.delete("/v1/tries/a/keys/k0");
    assert_eq!(st, 200);
    let v3 = stats(&s, "a")["version"].as_u64().unwrap();
    assert!(v3 > v2, "version {v2} -> {v3} after a key delete");
    add(&s, "a", &[("k0", json!("again"))]);
    let v4 = stats(&s, "a")["version"].as_u64().unwrap();
    assert!(v4 > v3, "version {v3} -> {v4} after an add");

    // Delete: 204, then 404.
    let (st, body, _) = s.delete("/v1/tries/b");
    assert_eq!(st, 204, "{body}");
    assert_eq!(body, Json::Null, "204 has no body");
    assert_error(&s.get("/v1/tries/b"), 404, "not_found");
    assert_error(&s.delete("/v1/tries/b"), 404, "not_found");
    assert_error(&s.delete("/v1/tries/never"), 404, "not_found");
    assert_error(&s.get("/v1/tries/never"), 404, "not_found");
    let (_, body, _) = s.get("/v1/tries");
    assert!(!body["tries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "b"));
    // A deleted trie can be created again, empty of its old pairs.
    add(&s, "b", &[("z", json!(1))]);
    let st = stats(&s, "b");
    assert_eq!(
        (st["keys"].clone(), st["entries"].clone()),
        (json!(1), json!(1))
    );
}

#[test]
fn tries_add_counts_pairs_in_order() {
    let s = Server::start();
    // Creates the trie; a pair repeated inside one batch: once added, then existing.
    assert_eq!(
        add(
            &s,
            "t",
            &[
                ("k", json!(1)),
                ("k", json!(1)),
                ("k", json!(2)),
                ("j", json!(1)),
                ("k", json!(2)),
            ]
        ),
        (3, 2)
    );
    assert_eq!(add(&s, "t", &[("k", json!(1)), ("k", json!(3))]), (1, 1));
    let st = stats(&s, "t");
    assert_eq!(
        (st["keys"].clone(), st["entries"].clone()),
        (json!(2), json!(4))
    );
    let (code, body, _) = s.get("/v1/tries/t/keys/k");
    assert_eq!(
        (code, body),
        (200, json!({"key": "k", "values": [1, 2, 3]}))
    );
    // An empty batch is fine and changes nothing.
    assert_eq!(add(&s, "t", &[]), (0, 0));
    // Values of every JSON type but null.
    assert_eq!(
        add(
            &s,
            "t",
            &[
                ("types", json!("s")),
                ("types", json!(0)),
                ("types", json!(-1.5)),
                ("types", json!(false)),
                ("types", json!([])),
                ("types", json!({})),
                ("types", json!([null])),
            ]
        ),
        (7, 0)
    );
    let (_, body, _) = s.get("/v1/tries/t/keys/types");
    assert_eq!(body["values"], json!(["s", 0, -1.5, false, [], {}, [null]]));
}

#[test]
fn tries_batches_are_all_or_nothing() {
    let s = Server::start();
    add(&s, "t", &[("keep", json!(1))]);
    let before = stats(&s, "t");
    let long_key = "k".repeat(1025);
    let long_multibyte_key = "é".repeat(513); // 1026 bytes, 513 characters
    let big_value = "x".repeat(4095); // 4097 bytes once serialized
    let cases: Vec<(Json, &str)> = vec![
        (json!({"key": "", "value": 1}), "invalid_key"),
        (json!({"key": long_key, "value": 1}), "invalid_key"),
        (
            json!({"key": long_multibyte_key, "value": 1}),
            "invalid_key",
        ),
        (json!({"key": 5, "value": 1}), "invalid_key"),
        (json!({"key": ["k"], "value": 1}), "invalid_key"),
        (json!({"key": null, "value": 1}), "invalid_key"),
        (json!({"value": 1}), "invalid_key"),
        (json!({"key": "k", "value": null}), "invalid_value"),
        (json!({"key": "k"}), "invalid_value"),
        (json!({"key": "k", "value": big_value}), "invalid_value"),
        (
            json!({"key": "k", "value": {"a": "x".repeat(4090)}}),
            "invalid_value",
        ),
    ];
    for (bad, code) in &cases {
        // Valid entries before and after the bad one: none may apply.
        let body = json!({"entries": [
            {"key": "new1", "value": 1},
            {"key": "keep", "value": 2},
            bad,
            {"key": "new2", "value": 3},
        ]});
        let r = s.post_json("/v1/tries/t/entries", &body);
        assert_error(&r, 400, code);
        assert_eq!(
            stats(&s, "t"),
            before,
            "a refused batch changed the trie ({bad})"
        );
        // On a missing trie: not created.
        let r = s.post_json("/v1/tries/fresh/entries", &body);
        assert_error(&r, 400, code);
        assert_error(&s.get("/v1/tries/fresh"), 404, "not_found");
        // Remove batches too (a value-less remove entry is fine, so skip
        // the missing-value case there).
        if bad.get("value").is_some() || bad.get("key").is_none() {
            let rm = json!({"entries": [{"key": "keep"}, bad]});
            let r = s.post_json("/v1/tries/t/remove", &rm);
            assert_error(&r, 400, code);
            assert_eq!(
                stats(&s, "t"),
                before,
                "a refused remove changed the trie ({bad})"
            );
        }
    }
    // Entries that are not objects, or a body without "entries": 400.
    for body in [
        json!({"entries": [{"key": "new", "value": 1}, 5]}),
        json!({"entries": [{"key": "new", "value": 1}, "x"]}),
        json!({"entries": {"key": "new", "value": 1}}),
        json!({"entries": null}),
        json!({"entry": []}),
        json!([{"key": "new", "value": 1}]),
    ] {
        let (st, b, _) = s.post_json("/v1/tries/t/entries", &body);
        assert_eq!(st, 400, "{body} gave {st} {b}");
        assert!(b["error"]["code"].is_string(), "{b}");
        assert_eq!(stats(&s, "t"), before);
    }
    let (_, body, _) = s.get("/v1/tries/t/keys/keep");
    assert_eq!(body["values"], json!([1]));
    assert_error(&s.get("/v1/tries/t/keys/new1"), 404, "not_found");
}

#[test]
fn tries_key_and_value_size_limits() {
    let s = Server::start();
    // Keys: at most 1024 bytes (bytes, not characters).
    let k1024 = "k".repeat(1024);
    let e512 = "é".repeat(512);
    assert_eq!(
        add(&s, "t", &[(&k1024, json!(1)), (&e512, json!(1))]),
        (2, 0)
    );
    let (st, body, _) = s.get(&format!("/v1/tries/t/keys/{}", enc(&k1024)));
    assert_eq!(st, 200);
    assert_eq!(body["key"], json!(k1024));
    let r = s.get(&format!("/v1/tries/t/keys/{}", enc(&"k".repeat(1025))));
    assert_error(&r, 400, "invalid_key");
    let r = s.delete(&format!("/v1/tries/t/keys/{}", enc(&"é".repeat(513))));
    assert_error(&r, 400, "invalid_key");

    // Values: at most 4096 bytes of canonical JSON.
    let ok = "x".repeat(4094); // "..." is 4096 bytes
    assert_eq!(add(&s, "t", &[("v", json!(ok))]), (1, 0));
    let r = s.post_json(
        "/v1/tries/t/entries",
        &batch(&[("v", json!("x".repeat(4095)))]),
    );
    assert_error(&r, 400, "invalid_value");
    // Measured canonical: insignificant whitespace and escapes do not count.
    let padded = format!(
        r#"{{"entries": [{{"key": "w", "value": {{ "a" {} : "{}" }} }}]}}"#,
        " ".repeat(3000),
        "y".repeat(4000)
    );
    let r = s.post_text("/v1/tries/t/entries", &padded);
    assert_eq!(r.status, 200, "{}", r.text);
    let escaped = format!(
        r#"{{"entries": [{{"key": "e", "value": "{}"}}]}}"#,
        "\\u00e9".repeat(2047) // 12282 bytes sent, 4096 canonical
    );
    let r = s.post_text("/v1/tries/t/entries", &escaped);
    assert_eq!(r.status, 200, "{}", r.text);
    let (_, body, _) = s.get("/v1/tries/t/keys/e");
    assert_eq!(body["values"][0], json!("é".repeat(2047)));
    let escaped = format!(
        r#"{{"entries": [{{"key": "e", "value": "{}"}}]}}"#,
        "\\u00e9".repeat(2048)
    );
    s.post_text("/v1/tries/t/entries", &escaped)
        .assert_error(400, "invalid_value");
}

#[test]
fn tries_remove_counts_pairs_and_keeps_empty_tries() {
    let s = Server::start();
    add(
        &s,
        "t",
        &[
            ("k1", json!(1)),
            ("k1", json!(2)),
            ("k1", json!(3)),
            ("k2", json!(1)),
            ("k3", json!({"a": 1})),
        ],
    );
    let rm = |body: Json| {
        let (st, b, _) = s.post_json("/v1/tries/t/remove", &body);
        assert_eq!(st, 200, "{b}");
        b["removed"].as_u64().expect("removed")
    };
    // A pair, a whole key, a missing key, a missing value, a repeated pair.
    assert_eq!(
        rm(json!({"entries": [
            {"key": "k1", "value": 2},
            {"key": "k2"},
            {"key": "missing"},
            {"key": "k1", "value": 99},
            {"key": "k1", "value": 2},
        ]})),
        2
    );
    let (_, body, _) = s.get("/v1/tries/t/keys/k1");
    assert_eq!(body["values"], json!([1, 3]));
    assert_error(&s.get("/v1/tries/t/keys/k2"), 404, "not_found");
    // A whole key counts each of its pairs.
    assert_eq!(rm(json!({"entries": [{"key": "k1"}]})), 2);
    // Canonically equal value removes the pair.
    let r = s.post_text(
        "/v1/tries/t/remove",
        r#"{"entries": [{"value": { "a" : 1 }, "key": "k3"}]}"#,
    );
    assert_eq!(
        (r.status, r.json.clone()),
        (200, json!({"removed": 1})),
        "{}",
        r.text
    );
    // Now empty, but still there.
    let st = stats(&s, "t");
    assert_eq!(
        (st["keys"].clone(), st["entries"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(suggest(&s, "t", ""), vec![]);
    let (_, body, _) = s.get("/v1/tries");
    assert_eq!(
        body,
        json!({"tries": [{"name": "t", "keys": 0, "entries": 0}]})
    );
    assert_eq!(rm(json!({"entries": [{"key": "k1"}]})), 0);
    assert_eq!(rm(json!({"entries": []})), 0);
    // Missing trie: 404, and not created.
    let r = s.post_json("/v1/tries/nope/remove", &json!({"entries": [{"key": "a"}]}));
    assert_error(&r, 404, "not_found");
    assert_error(&s.get("/v1/tries/nope"), 404, "not_found");
    // Deleted only by DELETE.
    assert_eq!(s.delete("/v1/tries/t").0, 204);
    let r = s.post_json("/v1/tries/t/remove", &json!({"entries": [{"key": "a"}]}));
    assert_error(&r, 404, "not_found");
}

#[test]
fn tries_keys_get_and_delete() {
    let s = Server::start();
    add(
        &s,
        "t",
        &[("go", json!(1)), ("go", json!("two")), ("gopher", json!(3))],
    );
    let (st, body, h) = s.get("/v1/tries/t/keys/go");
    assert_eq!(
        (st, body),
        (200, json!({"key": "go", "values": [1, "two"]}))
    );
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_error(&s.get("/v1/tries/t/keys/g"), 404, "not_found");
    assert_error(&s.get("/v1/tries/t/keys/gop"), 404, "not_found");
    assert_error(&s.get("/v1/tries/none/keys/go"), 404, "not_found");

    let (st, body, _) = s.delete("/v1/tries/t/keys/go");
    assert_eq!((st, body), (200, json!({"removed": 2})));
    assert_error(&s.get("/v1/tries/t/keys/go"), 404, "not_found");
    assert_error(&s.delete("/v1/tries/t/keys/go"), 404, "not_found");
    assert_error(&s.delete("/v1/tries/none/keys/go"), 404, "not_found");
    assert_eq!(
        suggest(&s, "t", "?q=go"),
        vec![("gopher".to_string(), json!(3))]
    );
    let (st, body, _) = s.delete("/v1/tries/t/keys/gopher");
    assert_eq!((st, body), (200, json!({"removed": 1})));
    // The trie stays, empty.
    assert_eq!(stats(&s, "t")["entries"], 0);
}

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
    let s = Server::start();
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
        assert_eq!(body, json!({"key": key, "values": [i]}), "GET {path}");

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
    let s = Server::start();
    let keys = ["%41", "a%2Fb", "100%25", "%20", "%FF", "%C3%A9", "x%2541"];
    let pairs: Vec<(&str, Json)> = keys.iter().map(|k| (*k, json!(k))).collect();
    assert_eq!(add(&s, "pct", &pairs), (keys.len() as u64, 0));
    let mut failures = Vec::new();
    for key in keys {
        let path = format!("/v1/tries/pct/keys/{}", enc(key));
        let r = s.get_raw(&path);
        if (r.status, &r.json) != (200, &json!({"key": key, "values": [key]})) {
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
    if (st, &body) != (200, &json!({"key": "A", "values": ["A"]})) {
        failures.push(format!(
            "after DELETE of \"%41\", key \"A\" is gone: {st} {body}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn suggest_orders_by_code_point_then_insertion() {
    let s = Server::start();
    let keys: Vec<&str> = vec![
        "b",
        "a",
        "ab",
        "é",
        "e",
        "z",
        "ß",
        "Я",
        "я",
        "日本",
        "日",
        "😀",
        "\u{FF61}",
        "\u{FFFD}",
        "\u{10FFFF}",
        "Zebra",
        "zebra",
        "a b",
        "a-b",
        "~",
        "\u{7F}",
        "é\u{301}",
        "e\u{301}",
        "\u{E000}",
        "ꙮ",
        "A",
    ];
    // Three rounds, values added in a different order per key, keys shuffled.
    let mut inserted: Vec<(String, Json)> = Vec::new();
    for round in 0..3 {
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.rotate_left(round * 7 % keys.len());
        if round == 1 {
            order.reverse();
        }
        let pairs: Vec<(&str, Json)> = order
            .iter()
            .map(|&i| (keys[i], json!({"k": i, "v": ([2, 0, 1])[round]})))
            .collect();
        for (k, v) in &pairs {
            inserted.push((k.to_string(), v.clone()));
        }
        add(&s, "u", &pairs);
    }
    // Expected: keys in code point order (Rust's str order), then values
    // in insertion order.
    let mut sorted_keys: Vec<&str> = keys.clone();
    sorted_keys.sort();
    let mut expected = Vec::new();
    for k in &sorted_keys {
        for (ik, v) in &inserted {
            if ik == k {
                expected.push((k.to_string(), v.clone()));
            }
        }
    }
    assert_eq!(suggest(&s, "u", "?limit=1000"), expected);
    assert_eq!(suggest(&s, "u", "?q=&limit=1000"), expected);
    assert_eq!(suggest(&s, "u", "?limit=7"), expected[..7].to_vec());
    assert_eq!(suggest(&s, "u", ""), expected[..10].to_vec());
    // UTF-16 order would put the emoji (surrogates) before U+FF61.
    let got: Vec<String> = suggest(&s, "u", "?limit=1000")
        .into_iter()
        .map(|p| p.0)
        .collect();
    let pos = |k: &str| got.iter().position(|g| g == k).unwrap();
    assert!(pos("\u{FF61}") < pos("😀"));
    assert!(pos("\u{E000}") < pos("\u{FF61}"));
    assert!(pos("😀") < pos("\u{10FFFF}"));
    assert!(pos("Zebra") < pos("a") && pos("z") < pos("é") && pos("é") < pos("日"));
    // Prefixes.
    let want: Vec<(String, Json)> = expected
        .iter()
        .filter(|(k, _)| k.starts_with('日'))
        .cloned()
        .collect();
    assert_eq!(want.len(), 6);
    assert_eq!(suggest(&s, "u", &format!("?q={}", enc("日"))), want);
    let want: Vec<(String, Json)> = expected
        .iter()
        .filter(|(k, _)| k.starts_with('é'))
        .cloned()
        .collect();
    assert_eq!(
        suggest(&s, "u", &format!("?q={}&limit=1000", enc("é"))),
        want
    );
    assert_eq!(suggest(&s, "u", "?q=nothing"), vec![]);
}

#[test]
fn suggest_walks_past_a_big_keys_inline_head() {
    // A key with more values than its bucket keeps inline (16 of them once
    // it holds over 32): answers that need more read the rest from its own
    // list, in insertion order, and stop exactly at the limit.
    let s = Server::start();
    let values: Vec<Json> = (0..40).map(|i| json!({"id": 1000 - i})).collect();
    let pairs: Vec<(&str, Json)> = values.iter().map(|v| ("smith", v.clone())).collect();
    add(&s, "t", &pairs);
    add(&s, "t", &[("smitha", json!(1)), ("smit", json!(2))]);
    let mut want: Vec<(String, Json)> = vec![("smit".to_owned(), json!(2))];
    want.extend(values.iter().map(|v| ("smith".to_owned(), v.clone())));
    want.push(("smitha".to_owned(), json!(1)));
    assert_eq!(suggest(&s, "t", "?q=smi&limit=1000"), want);
    for limit in [1, 16, 17, 18, 41, 42] {
        assert_eq!(
            suggest(&s, "t", &format!("?q=smi&limit={limit}")),
            want[..limit].to_vec(),
            "limit {limit}"
        );
    }
}

#[test]
fn suggest_q_and_limit() {
    let s = Server::start();
    let keys: Vec<String> = (0..1200).map(|i| format!("k{i:04}")).collect();
    let pairs: Vec<(&str, Json)> = keys.iter().map(|k| (k.as_str(), json!(1))).collect();
    add(&s, "t", &pairs);
    assert_eq!(suggest(&s, "t", "").len(), 10, "default limit");
    assert_eq!(suggest(&s, "t", "?q=").len(), 10);
    assert_eq!(suggest(&s, "t", "?q=k").len(), 10);
    assert_eq!(suggest(&s, "t", "?limit=1").len(), 1);
    assert_eq!(suggest(&s, "t", "?limit=999").len(), 999);
    let all = suggest(&s, "t", "?limit=1000");
    assert_eq!(all.len(), 1000);
    assert_eq!(all[0].0, "k0000");
    assert_eq!(all[999].0, "k0999");
    assert_eq!(suggest(&s, "t", "?q=k11&limit=1000").len(), 100);
    assert_eq!(suggest(&s, "t", "?limit=5&q=k1")[0].0, "k1000");
    assert_eq!(suggest(&s, "t", "?q=k0001&limit=1000").len(), 1);
    for bad in [
        "0",
        "1001",
        "x",
        "-1",
        "",
        "1.5",
        "10x",
        "99999999999999999999999",
        "%20",
    ] {
        let r = s.get(&format!("/v1/tries/t/suggest?q=k&limit={bad}"));
        assert_error(&r, 400, "invalid_limit");
    }
    // Missing trie: 404 (also with a bad limit? the name is checked first
    // only if the server wants to; just the plain case here).
    assert_error(&s.get("/v1/tries/none/suggest?q=a"), 404, "not_found");
    assert_error(&s.get("/v1/tries/none/suggest"), 404, "not_found");
}

#[test]
fn canonical_json_equality() {
    let s = Server::start();
    let r = s.post_text(
        "/v1/tries/c/entries",
        r#"{"entries": [{"key": "obj", "value": {"a": 1, "b": 2}}]}"#,
    );
    assert_eq!(r.json, json!({"added": 1, "existing": 0}), "{}", r.text);
    let r = s.post_text(
        "/v1/tries/c/entries",
        r#"{"entries": [{"key": "obj", "value": {"b": 2, "a": 1}}, {"key":"obj","value":{ "b" :2 ,"a":  1 }}]}"#,
    );
    assert_eq!(r.json, json!({"added": 0, "existing": 2}), "{}", r.text);
    let r = s.post_text(
        "/v1/tries/c/entries",
        r#"{"entries": [{"key": "obj", "value": {"z": {"y": 1, "x": [{"d": 1, "c": 2}]}, "a": "é\u00e9"}}]}"#,
    );
    assert_eq!(r.json, json!({"added": 1, "existing": 0}), "{}", r.text);
    let r = s.post_text(
        "/v1/tries/c/entries",
        r#"{"entries": [{"key": "obj", "value": {"a": "\u00e9é", "z": {"x": [{"c": 2, "d": 1}], "y": 1}}}]}"#,
    );
    assert_eq!(r.json, json!({"added": 0, "existing": 1}), "{}", r.text);
    // Answers carry the canonical text.
    let r = s.get_raw("/v1/tries/c/keys/obj");
    assert_eq!(
        r.text,
        r#"{"key":"obj","values":[{"a":1,"b":2},{"a":"éé","z":{"x":[{"c":2,"d":1}],"y":1}}]}"#
    );
    let r = s.get_raw("/v1/tries/c/suggest?q=o");
    assert_eq!(
        r.text,
        r#"{"entries":[{"key":"obj","value":{"a":1,"b":2}},{"key":"obj","value":{"a":"éé","z":{"x":[{"c":2,"d":1}],"y":1}}}]}"#
    );
    // Arrays keep their order: [1,2] and [2,1] differ.
    assert_eq!(
        add(&s, "c", &[("arr", json!([1, 2])), ("arr", json!([2, 1]))]),
        (2, 0)
    );
    // Strings, numbers and objects are different values.
    assert_eq!(
        add(
            &s,
            "c",
            &[("ty", json!("1")), ("ty", json!(1)), ("ty", json!([1]))]
        ),
        (3, 0)
    );
}

#[test]
fn invalid_names_on_every_resource() {
    let s = Server::start();
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
    let s = Server::start();
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

// ---------------------------------------------------------------- bodies

#[test]
fn bodies_malformed_json_and_media_types() {
    let s = Server::start();
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
    let s = Server::start();
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
        json!({"added": 99_999, "existing": 1}),
        "{}",
        r.status
    );
    let st = stats(&s, "many");
    assert_eq!(st["entries"], 100_000);
}

#[test]
fn unknown_routes_and_wrong_methods() {
    let s = Server::start();
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
        (Method::PUT, "/v1/tries/x"),
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
    let s = Server::start();
    let r = s.send(s.req(Method::PATCH, "/v1/tries/x"));
    r.assert_error(405, "method_not_allowed");
    let allow = r.header("allow").unwrap_or_default().to_ascii_uppercase();
    assert!(
        allow.contains("GET") && allow.contains("DELETE"),
        "405 without an Allow header listing GET, DELETE: {:?}",
        r.headers
    );
}

// ---------------------------------------------------------------- stacks

#[test]
fn stacks_push_pop_get_delete() {
    let s = Server::start();
    s.send(s.req(Method::POST, "/v1/stacks/s/pop"))
        .assert_error(404, "empty");
    assert_error(&s.get("/v1/stacks/s"), 404, "not_found");
    assert_error(&s.delete("/v1/stacks/s"), 404, "not_found");

    let r = s.post_text(
        "/v1/stacks/s/push",
        r#"{"value": {"b": [1, {"d": 0, "c": 1}], "a": "x"}}"#,
    );
    assert_eq!(
        (r.status, r.json.clone()),
        (200, json!({"len": 1})),
        "{}",
        r.text
    );
    let (st, b, _) = s.post_json("/v1/stacks/s/push", &json!({"value": 2}));
    assert_eq!((st, b), (200, json!({"len": 2})));
    let (st, b, _) = s.post_json("/v1/stacks/s/push", &json!({"value": "s"}));
    assert_eq!((st, b), (200, json!({"len": 3})));
    let (st, b, _) = s.get("/v1/stacks/s");
    assert_eq!((st, b), (200, json!({"name": "s", "len": 3, "top": "s"})));

    let pop = || s.send(s.req(Method::POST, "/v1/stacks/s/pop"));
    let r = pop();
    assert_eq!(
        (r.status, r.json.clone()),
        (200, json!({"value": "s", "len": 2}))
    );
    let r = pop();
    assert_eq!(
        (r.status, r.json.clone()),
        (200, json!({"value": 2, "len": 1}))
    );
    let r = s.get_raw("/v1/stacks/s");
    assert_eq!(
        r.text,
        r#"{"name":"s","len":1,"top":{"a":"x","b":[1,{"c":1,"d":0}]}}"#
    );
    let r = pop();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text,
        r#"{"value":{"a":"x","b":[1,{"c":1,"d":0}]},"len":0}"#
    );
    pop().assert_error(404, "empty");
    // Empty, but still there until deleted.
    let (st, b, _) = s.get("/v1/stacks/s");
    assert_eq!((st, b), (200, json!({"name": "s", "len": 0, "top": null})));

    // Invalid values: 400, nothing pushed (and nothing created).
    for (body, code) in [
        (json!({"value": null}), "invalid_value"),
        (json!({}), "invalid_value"),
        (json!({"value": "z".repeat(4095)}), "invalid_value"),
    ] {
        assert_error(&s.post_json("/v1/stacks/s/push", &body), 400, code);
        assert_error(&s.post_json("/v1/stacks/fresh/push", &body), 400, code);
    }
    for body in [json!([1]), json!("value"), json!(1)] {
        let (st, b, _) = s.post_json("/v1/stacks/s/push", &body);
        assert_eq!(st, 400, "{body}: {b}");
    }
    assert_error(&s.get("/v1/stacks/fresh"), 404, "not_found");
    let (_, b, _) = s.get("/v1/stacks/s");
    assert_eq!(b["len"], 0);
    // Largest value.
    let (st, b, _) = s.post_json("/v1/stacks/s/push", &json!({"value": "z".repeat(4094)}));
    assert_eq!((st, b), (200, json!({"len": 1})));

    // LIFO over many values.
    for i in 0..50 {
        let (st, b, _) = s.post_json("/v1/stacks/lifo/push", &json!({"value": [i]}));
        assert_eq!((st, b), (200, json!({"len": i + 1})));
    }
    for i in (0..50).rev() {
        let r = s.send(s.req(Method::POST, "/v1/stacks/lifo/pop"));
        assert_eq!(r.json, json!({"value": [i], "len": i}));
    }

    let (st, b, _) = s.delete("/v1/stacks/s");
    assert_eq!((st, b), (204, Json::Null));
    assert_error(&s.get("/v1/stacks/s"), 404, "not_found");
    assert_error(&s.delete("/v1/stacks/s"), 404, "not_found");
    pop().assert_error(404, "empty");
}

// ---------------------------------------------------------------- caches

#[test]
fn caches_put_get_incr_delete() {
    let s = Server::start();
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

// ---------------------------------------------------------------- access

#[test]
fn token_guards_every_write() {
    let s = Server::start_with(&["--token", "secret"]);
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
        (200, json!({"added": 1, "existing": 0}))
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
        (200, json!({"entries": [{"key": "k", "value": 1}]}))
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
    let s = Server::start_with(&[
        "--cors-origin",
        "https://a.example",
        "--cors-origin",
        "http://localhost:8080",
        "--token",
        "secret",
    ]);
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
    let s = Server::start();
    let r = s.send(
        s.req(Method::GET, "/v1/tries")
            .header("origin", "https://a.example"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

// ---------------------------------------------------------------- durability

#[test]
fn durability_restart_keeps_everything() {
    let mut s = Server::start();
    let r = s.post_text(
        "/v1/tries/d/entries",
        r#"{"entries": [{"key": "go", "value": {"b": 1, "a": 2}}, {"key": "go", "value": 2},
            {"key": "日本", "value": "x"}, {"key": "a/b?c", "value": [1]}, {"key": "gone", "value": 1}]}"#,
    );
    assert_eq!(r.json, json!({"added": 5, "existing": 0}), "{}", r.text);
    assert_eq!(s.delete("/v1/tries/d/keys/gone").0, 200);
    add(&s, "dropped", &[("k", json!(1))]);
    assert_eq!(s.delete("/v1/tries/dropped").0, 204);
    for v in [json!({"y": 1, "x": 2}), json!(2), json!("three")] {
        assert_eq!(
            s.post_json("/v1/stacks/st/push", &json!({"value": v})).0,
            200
        );
    }
    assert_eq!(s.send(s.req(Method::POST, "/v1/stacks/st/pop")).status, 200);
    s.put_json("/v1/caches/ca/keys/k", &json!({"value": 40}));
    s.send(
        s.req(Method::POST, "/v1/caches/ca/keys/k/incr")
            .json(&json!({"by": 2})),
    );
    s.put_json("/v1/caches/ca/keys/del", &json!({"value": 1}));
    assert_eq!(s.delete("/v1/caches/ca/keys/del").0, 204);
    let before = (
        s.get_raw("/v1/tries/d/suggest?limit=1000").text,
        stats(&s, "d"),
        s.get_raw("/v1/stacks/st").text,
        s.get_raw("/v1/caches/ca/keys/k").text,
        s.get("/v1/caches/ca").1,
        s.get("/v1/tries").1,
    );

    let status = s.restart();
    assert!(
        status.success(),
        "SIGTERM should shut down cleanly: {status:?}"
    );
    let after = (
        s.get_raw("/v1/tries/d/suggest?limit=1000").text,
        stats(&s, "d"),
        s.get_raw("/v1/stacks/st").text,
        s.get_raw("/v1/caches/ca/keys/k").text,
        s.get("/v1/caches/ca").1,
        s.get("/v1/tries").1,
    );
    assert_eq!(before.0, after.0);
    assert_eq!(before.1["keys"], after.1["keys"]);
    assert_eq!(before.1["entries"], after.1["entries"]);
    assert_eq!(before.2, after.2);
    assert_eq!(before.3, after.3);
    assert_eq!(before.4, after.4);
    assert_eq!(before.5, after.5);
    assert_eq!(
        after.0,
        r#"{"entries":[{"key":"a/b?c","value":[1]},{"key":"go","value":{"a":2,"b":1}},{"key":"go","value":2},{"key":"日本","value":"x"}]}"#
    );
    assert_eq!(after.2, r#"{"name":"st","len":2,"top":2}"#);
    assert_eq!(after.3, r#"{"key":"k","value":42}"#);
    assert_error(&s.get("/v1/tries/dropped"), 404, "not_found");
    assert_error(&s.get("/v1/caches/ca/keys/del"), 404, "not_found");
    let (st, b, _) = s.get(&format!("/v1/tries/d/keys/{}", enc("a/b?c")));
    assert_eq!((st, b), (200, json!({"key": "a/b?c", "values": [[1]]})));
    // Still writable, and the stack pops in order.
    let r = s.send(s.req(Method::POST, "/v1/stacks/st/pop"));
    assert_eq!(r.json, json!({"value": 2, "len": 1}));
    let r = s.send(s.req(Method::POST, "/v1/stacks/st/pop"));
    assert_eq!(r.text, r#"{"value":{"x":2,"y":1},"len":0}"#);
    add(&s, "d", &[("go", json!(3))]);
    // A second restart sees the writes made after the first.
    assert!(s.restart().success());
    let (_, b, _) = s.get("/v1/tries/d/keys/go");
    assert_eq!(b["values"], json!([{"a": 2, "b": 1}, 2, 3]));
    let (_, b, _) = s.get("/v1/stacks/st");
    assert_eq!(b, json!({"name": "st", "len": 0, "top": null}));
}

#[test]
fn durability_survives_sigkill() {
    let mut s = Server::start();
    add(&s, "k9", &[("a", json!(1)), ("b", json!({"y": 1, "x": 2}))]);
    assert_eq!(s.delete("/v1/tries/k9/keys/a").0, 200);
    s.post_json("/v1/stacks/k9/push", &json!({"value": "v"}));
    s.put_json("/v1/caches/k9/keys/n", &json!({"value": 7}));
    let r = s.send(s.req(Method::POST, "/v1/caches/k9/keys/n/incr"));
    assert_eq!(r.json["value"], 8);
    // Every 2xx above must survive kill -9.
    s.crash_restart();
    let (_, body, _) = s.get("/v1/tries/k9/suggest");
    assert_eq!(
        body,
        json!({"entries": [{"key": "b", "value": {"x": 2, "y": 1}}]})
    );
    let (_, body, _) = s.get("/v1/stacks/k9");
    assert_eq!(body, json!({"name": "k9", "len": 1, "top": "v"}));
    let (_, body, _) = s.get("/v1/caches/k9/keys/n");
    assert_eq!(body, json!({"key": "n", "value": 8}));
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

/// `GET .../suggest` is answered in front of the router (`FastSuggest` in
/// src/server/mod.rs); HEAD, other methods and near-miss paths still go
/// through the router. Both must answer alike, errors included, and the
/// fast path's requests must be counted under the route in `/metrics`.
#[test]
fn suggest_fast_path_answers_like_the_router() {
    let s = Server::start();
    add(
        &s,
        "fp",
        &[("go", json!(1)), ("git", json!(2)), ("gob", json!([3]))],
    );
    let path = "/v1/tries/fp/suggest?q=g&limit=2";
    let get = s.get_raw(path);
    assert_eq!(get.status, 200);
    assert_eq!(
        get.json,
        json!({"entries": [{"key": "git", "value": 2}, {"key": "go", "value": 1}]})
    );
    // HEAD goes through the router to the same function: same headers.
    let head = s.send(s.req(Method::HEAD, path));
    assert_eq!(head.status, 200);
    assert_eq!(head.content_type(), get.content_type());
    let len = get.text.len().to_string();
    assert_eq!(head.header("content-length"), Some(len.as_str()));
    assert!(get.header("x-response-time-us").is_some());
    assert!(head.header("x-response-time-us").is_some());

    for (path, status, code) in [
        // The fast path's errors are the API's errors.
        ("/v1/tries/fp/suggest?limit=0", 400, "invalid_limit"),
        ("/v1/tries/fp/suggest?q=%FF", 400, "invalid_key"),
        ("/v1/tries/bad%2Fname/suggest", 400, "invalid_name"),
        ("/v1/tries/nope/suggest", 404, "not_found"),
        // Near misses are the router's.
        ("/v1/tries//suggest", 400, "invalid_name"),
        ("/v1/tries/fp/suggest/", 404, "not_found"),
        ("/v1/tries/fp/x/suggest", 404, "not_found"),
    ] {
        s.get_raw(path).assert_error(status, code);
    }
    s.send(s.req(Method::POST, "/v1/tries/fp/suggest"))
        .assert_error(405, "method_not_allowed");

    let metrics = s.get_raw("/metrics").text;
    let count = |method: &str, status: u16| -> u64 {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("typeahead_http_requests_total{")
                    && l.contains(&format!("method=\"{method}\""))
                    && l.contains("route=\"/v1/tries/{trie}/suggest\"")
                    && l.contains(&format!("status=\"{status}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(count("GET", 200), 1, "{metrics}");
    // limit=0, %FF, bad%2Fname, and the router's empty name.
    assert_eq!(count("GET", 400), 4, "{metrics}");
    assert_eq!(count("GET", 404), 1, "{metrics}");
    assert_eq!(count("HEAD", 200), 1, "{metrics}");
}

/// Suggest writes keys into its JSON by hand: keys that need escaping
/// (quote, backslash, control characters) must come back intact, next to
/// non-ASCII keys that need none.
#[test]
fn suggest_escapes_keys_that_need_it() {
    let s = Server::start();
    let keys = [
        "a\"q", "a\\b", "a\nn", "a\u{1}c", "a\tt", "añ", "a😀", "a/x",
    ];
    let pairs: Vec<(&str, Json)> = keys.iter().map(|k| (*k, json!(k.len()))).collect();
    add(&s, "esc", &pairs);
    let r = s.get_raw("/v1/tries/esc/suggest?q=a&limit=100");
    assert_eq!(r.status, 200, "{}", r.text);
    let mut want: Vec<&str> = keys.to_vec();
    want.sort_unstable();
    let got: Vec<(String, u64)> = r.json["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().expect("key").to_owned(),
                e["value"].as_u64().expect("value"),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = want
        .iter()
        .map(|k| ((*k).to_owned(), k.len() as u64))
        .collect();
    assert_eq!(got, want);
}
