//! Suggest: code point order then insertion order, `q` and `limit`, long
//! value lists, keys that need JSON escaping (in-process), and the fast path
//! in front of the router, which stays on a real process: it compares what
//! GET and HEAD put on the wire (hyper writes `Content-Length`, which an
//! in-process caller of the fast path never sees).

use reqwest::Method;
use serde_json::{json, Value as Json};

use crate::common::{assert_error, enc, Server};
use crate::in_process::App;
use crate::{add, suggest};

#[test]
fn suggest_orders_by_code_point_then_insertion() {
    let s = App::start();
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
    let s = App::start();
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
    let s = App::start();
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

/// Suggest writes keys into its JSON by hand: keys that need escaping
/// (quote, backslash, control characters) must come back intact, next to
/// non-ASCII keys that need none.
#[test]
fn suggest_escapes_keys_that_need_it() {
    let s = App::start();
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
        json!({"entries": [{"key": "git", "value": 2, "score": 0, "highlight": [0, 1]}, {"key": "go", "value": 1, "score": 0, "highlight": [0, 1]}]})
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
