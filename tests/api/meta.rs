//! Meta routes, in-process: `/healthz`, `/metrics` (per-route request
//! counts, unmatched requests, the data gauges) and `/v1/openapi.json` (every
//! route and method of the API listed); on a real process, the memory
//! figures (a trie's bytes and the process's resident memory).

use serde_json::{json, Value as Json};

use crate::add;
use crate::common::Server;
use crate::in_process::App;

#[test]
fn meta_healthz_metrics_openapi() {
    let s = App::start();
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

/// The document is exact: typed bodies, the name and key rules, every
/// operation's error answers with the error schema, and no stranger's
/// contact.
#[test]
fn meta_openapi_is_typed_and_names_every_error() {
    let s = App::start();
    let doc: Json = serde_json::from_str(&s.get_raw("/v1/openapi.json").text).unwrap();
    assert!(doc["info"].get("contact").is_none(), "{}", doc["info"]);
    let op = &doc["paths"]["/v1/tries/{trie}/entries"]["post"];
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/EntriesBody"
    );
    assert_eq!(
        op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Added"
    );
    for status in ["400", "401", "403", "413", "415", "503", "504", "507"] {
        assert_eq!(
            op["responses"][status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error",
            "entries: {status}"
        );
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Name"]["pattern"], "^[A-Za-z0-9_-]{1,64}$");
    assert_eq!(schemas["Key"]["maxLength"], 1024);
    assert_eq!(
        schemas["EntriesBody"]["properties"]["entries"]["maxItems"],
        100_000
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.contains_key("400") && responses.contains_key("414"),
                "{method} {path} does not list its error answers"
            );
        }
    }
}

/// A trie's bytes (the engine's own count) grow with it, and `/metrics`
/// gives the same figure as `GET /v1/tries/{trie}` while it is unchanged
/// (`PUT` answers with it too); both report the server process's resident
/// memory, which is the one the kernel gives for the server's pid.
#[test]
fn meta_trie_bytes_and_process_rss_in_stats_and_metrics() {
    let s = Server::start();
    let get = |trie: &str| {
        let (st, body, _) = s.get(&format!("/v1/tries/{trie}"));
        assert_eq!(st, 200, "{body}");
        body
    };
    let bytes = |body: &Json| body["bytes"].as_u64().unwrap_or_else(|| panic!("{body}"));
    let gauge = |text: &str, series: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{series} missing:\n{text}"))
    };

    add(&s, "t", &[("a", json!(1))]);
    let small = bytes(&get("t"));
    assert!(small > 0, "{small}");
    assert_eq!(bytes(&get("t")), small, "an unchanged trie, counted again");
    let many: Vec<(String, Json)> = (0..2_000).map(|i| (format!("key{i}"), json!(i))).collect();
    let refs: Vec<(&str, Json)> = many.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    add(&s, "t", &refs);
    add(&s, "u", &refs[..10]);
    let stats = get("t");
    let big = bytes(&stats);
    assert!(big > small * 10, "{small} -> {big}");

    let text = s.get_raw("/metrics").text;
    assert_eq!(gauge(&text, "typeahead_trie_bytes{name=\"t\"}"), big);
    let u = gauge(&text, "typeahead_trie_bytes{name=\"u\"}");
    assert_eq!(bytes(&get("u")), u);
    assert!(0 < u && u < big, "u {u}, t {big}");

    // PUT answers with the description GET gives, memory included.
    let (st, made, _) = s.put_json("/v1/tries/v", &json!({}));
    assert_eq!(st, 201, "{made}");
    assert!(bytes(&made) > 0, "{made}");
    assert_eq!(bytes(&get("v")), bytes(&made));
    assert_eq!(
        made["process_rss_bytes"].is_u64(),
        cfg!(target_os = "linux"),
        "{made}"
    );

    let scraped = gauge(&text, "typeahead_process_resident_bytes");
    let reported = stats["process_rss_bytes"].as_u64();
    if cfg!(target_os = "linux") {
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
            .expect("VmRSS in kB");
        // Taken at other moments than the kernel's figure: close, not equal.
        let near = |b: u64| b > kib * 1024 / 2 && b < kib * 1024 * 2;
        let reported = reported.unwrap_or_else(|| panic!("{stats}"));
        assert!(near(reported), "{reported} against VmRSS {kib} kB");
        assert!(near(scraped), "{scraped} against VmRSS {kib} kB");
    } else {
        assert!(reported.is_none(), "{stats}");
    }
}
