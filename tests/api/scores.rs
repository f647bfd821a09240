//! Scores, in-process: `score` and `incr` on entries and what an add
//! answers, every way a score is refused (the batch then changes nothing),
//! `order=score` and its ties, `dedupe=value`, the query's rules, how scores
//! are written, and the scores of `GET keys`.

use serde_json::{json, Value as Json};

use crate::common::{assert_error, enc};
use crate::in_process::App;
use crate::stats;

/// Posts entries as JSON text; gives the answer.
#[track_caller]
fn post(s: &App, trie: &str, entries: &str) -> crate::common::Resp {
    s.post_text(
        &format!("/v1/tries/{trie}/entries"),
        &format!(r#"{{"entries":[{entries}]}}"#),
    )
}

/// `(key, value, score)` of a suggest answer; panics unless 200.
#[track_caller]
fn scored(s: &App, trie: &str, query: &str) -> Vec<(String, Json, f64)> {
    let (st, body, _) = s.get(&format!("/v1/tries/{trie}/suggest{query}"));
    assert_eq!(st, 200, "suggest {trie}{query}: {body}");
    body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().expect("key").to_owned(),
                e["value"].clone(),
                e["score"].as_f64().expect("every entry has a score"),
            )
        })
        .collect()
}

fn row(key: &str, value: Json, score: f64) -> (String, Json, f64) {
    (key.to_owned(), value, score)
}

#[test]
fn scores_set_and_increment_and_adds_count_what_changed() {
    let s = App::start();
    let r = post(
        &s,
        "t",
        r#"{"key":"go","value":1},{"key":"go","value":2,"score":5},{"key":"go","value":3,"incr":2.5},
           {"key":"go","value":1,"incr":1},{"key":"go","value":3,"score":2.5},{"key":"go","value":2}"#,
    );
    assert_eq!(
        (r.status, r.json),
        (
            200,
            json!({"added": 3, "updated": 1, "unchanged": 2, "existing": 3})
        )
    );
    let (st, body, _) = s.get("/v1/tries/t/keys/go");
    assert_eq!(
        (st, body),
        (
            200,
            json!({"key": "go", "values": [1, 2, 3], "scores": [1, 5, 2.5]})
        )
    );
    // A plain add keeps a stored pair's score; an increment of 0 changes
    // nothing and publishes no new version.
    let version = stats(&s, "t")["version"].clone();
    let r = post(
        &s,
        "t",
        r#"{"key":"go","value":2},{"key":"go","value":1,"incr":0},{"key":"go","value":3,"score":2.5}"#,
    );
    assert_eq!(
        r.json,
        json!({"added": 0, "updated": 0, "unchanged": 3, "existing": 3})
    );
    assert_eq!(stats(&s, "t")["version"], version);
    // A removed pair added again starts over from 0.
    let (st, _, _) = s.post_json(
        "/v1/tries/t/remove",
        &json!({"entries": [{"key": "go", "value": 2}]}),
    );
    assert_eq!(st, 200);
    post(&s, "t", r#"{"key":"go","value":2}"#);
    let (_, body, _) = s.get("/v1/tries/t/keys/go");
    assert_eq!(body["scores"], json!([1, 2.5, 0]));
}

/// Every refusal is 400 `invalid_score` naming the entry, and the batch,
/// whatever came before the bad entry in it, changes nothing.
#[test]
fn invalid_scores_refuse_the_whole_batch() {
    let s = App::start();
    post(&s, "t", r#"{"key":"a","value":1,"score":1e308}"#);
    let before = (s.get_raw("/v1/tries/t/keys/a").text, stats(&s, "t"));
    for (bad, says) in [
        (
            r#"{"key":"b","value":1,"score":"1"}"#,
            "score must be a number, got a string",
        ),
        (
            r#"{"key":"b","value":1,"incr":"1"}"#,
            "incr must be a number, got a string",
        ),
        (
            r#"{"key":"b","value":1,"score":null}"#,
            "score must be a number, got null",
        ),
        (
            r#"{"key":"b","value":1,"score":true}"#,
            "score must be a number, got a boolean",
        ),
        (
            r#"{"key":"b","value":1,"score":[1]}"#,
            "score must be a number, got an array",
        ),
        (
            r#"{"key":"b","value":1,"incr":{"n":1}}"#,
            "incr must be a number, got an object",
        ),
        (
            r#"{"key":"b","value":1,"score":1,"incr":1}"#,
            "give score or incr, not both",
        ),
        (
            r#"{"key":"b","value":1,"score":1e400}"#,
            "score 1e400 is out of the range",
        ),
        (
            r#"{"key":"b","value":1,"incr":-1E+309}"#,
            "incr -1E+309 is out of the range",
        ),
        (
            r#"{"key":"a","value":1,"incr":1e308}"#,
            r#"adding 1e308 to the score 1e308 of key "a" overflows to infinity"#,
        ),
        (
            r#"{"key":"a","value":1,"incr":-1e308},{"key":"a","value":1,"incr":-1e308},{"key":"a","value":1,"incr":-1e308}"#,
            r#"adding -1e308 to the score -1e308 of key "a" overflows to -infinity"#,
        ),
    ] {
        // Good entries first: they must not stay applied.
        let entries =
            format!(r#"{{"key":"new","value":1,"score":3}},{{"key":"a","value":2}},{bad}"#);
        let r = post(&s, "t", &entries);
        r.assert_error(400, "invalid_score");
        let message = r.json["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("entries[2]: ") || message.starts_with("entries[4]: "),
            "{message}"
        );
        assert!(message.contains(says), "{bad}: {message}");
        assert_eq!(
            (s.get_raw("/v1/tries/t/keys/a").text, stats(&s, "t")),
            before,
            "{bad}"
        );
        // A trie the batch would have created is not created (the one
        // overflow that needs a stored score aside).
        if !says.contains("to infinity") {
            post(&s, "fresh", &entries).assert_error(400, "invalid_score");
            assert_error(&s.get("/v1/tries/fresh"), 404, "not_found");
        }
    }
    // The sum that overflows partway through: the first increment alone is
    // fine, the second passes f64::MAX.
    let r = post(
        &s,
        "t",
        r#"{"key":"c","value":1,"incr":1.7e308},{"key":"c","value":1,"incr":1.7e308}"#,
    );
    r.assert_error(400, "invalid_score");
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("entries[1]: "));
    assert_error(&s.get("/v1/tries/t/keys/c"), 404, "not_found");
    assert_eq!(stats(&s, "t"), before.1);
    // The key and value rules still come first.
    post(&s, "t", r#"{"key":"","value":1,"score":"x"}"#).assert_error(400, "invalid_key");
    post(&s, "t", r#"{"key":"k","score":1}"#).assert_error(400, "invalid_value");
}

/// `order=score`: highest first; ties in key (code point) order, then in
/// the order the values were added to the key; `limit` cuts the same list.
#[test]
fn order_score_breaks_ties_by_key_then_insertion() {
    let s = App::start();
    post(
        &s,
        "t",
        r#"{"key":"b","value":1,"score":5},{"key":"a","value":2,"score":5},{"key":"é","value":6,"score":5},
           {"key":"c","value":4,"score":9.5},{"key":"a","value":5,"score":-1},{"key":"a","value":3,"score":5},
           {"key":"Z","value":7,"score":5},{"key":"d","value":8}"#,
    );
    let want = vec![
        row("c", json!(4), 9.5),
        row("Z", json!(7), 5.0),
        row("a", json!(2), 5.0),
        row("a", json!(3), 5.0),
        row("b", json!(1), 5.0),
        row("é", json!(6), 5.0),
        row("d", json!(8), 0.0),
        row("a", json!(5), -1.0),
    ];
    assert_eq!(scored(&s, "t", "?order=score&limit=100"), want);
    for limit in 1..=8 {
        let got = scored(&s, "t", &format!("?order=score&limit={limit}"));
        assert_eq!(got, want[..limit], "limit {limit}");
    }
    assert_eq!(
        scored(&s, "t", "?q=a&order=score"),
        [want[2].clone(), want[3].clone(), want[7].clone()]
    );
    // The default order and order=key are the same answer, with scores.
    let by_key = scored(&s, "t", "?limit=100");
    assert_eq!(by_key, scored(&s, "t", "?limit=100&order=key&dedupe=none"));
    assert_eq!(by_key[0], row("Z", json!(7), 5.0));
    assert_eq!(by_key[1], row("a", json!(2), 5.0));
}

/// `dedupe=value`: each distinct value once, at its best place in the
/// order (its first key in key order, its highest score in score order),
/// and the answer still fills `limit` when enough distinct values match.
#[test]
fn dedupe_keeps_each_value_once_at_its_best_place() {
    let s = App::start();
    post(
        &s,
        "u",
        r#"{"key":"mara","value":1,"score":1},{"key":"mark","value":2,"score":5},{"key":"martin","value":1,"score":10},
           {"key":"mary","value":3},{"key":"max","value":2,"score":5},{"key":"max","value":{"id":9},"score":-2}"#,
    );
    assert_eq!(
        scored(&s, "u", "?q=ma&dedupe=value&limit=3"),
        [
            row("mara", json!(1), 1.0),
            row("mark", json!(2), 5.0),
            row("mary", json!(3), 0.0)
        ]
    );
    assert_eq!(
        scored(&s, "u", "?q=ma&dedupe=value&order=score"),
        [
            row("martin", json!(1), 10.0),
            row("mark", json!(2), 5.0),
            row("mary", json!(3), 0.0),
            row("max", json!({"id": 9}), -2.0)
        ]
    );
    assert_eq!(scored(&s, "u", "?q=ma&dedupe=none").len(), 6);
    assert_eq!(
        scored(&s, "u", "?q=mar&dedupe=value&order=score&limit=2").len(),
        2
    );
}

#[test]
fn order_and_dedupe_take_only_their_values() {
    let s = App::start();
    post(&s, "t", r#"{"key":"a","value":1}"#);
    for (query, says) in [
        ("order=Score", r#"order must be key or score, got "Score""#),
        ("order=", r#"order must be key or score, got """#),
        ("order=value", r#"order must be key or score, got "value""#),
        ("dedupe=key", r#"dedupe must be value or none, got "key""#),
        ("dedupe=", r#"dedupe must be value or none, got """#),
        (
            "dedupe=values",
            r#"dedupe must be value or none, got "values""#,
        ),
        ("order=%FF", "order is not percent-encoded UTF-8"),
        ("dedupe=%FF", "dedupe is not percent-encoded UTF-8"),
    ] {
        let r = s.get(&format!("/v1/tries/t/suggest?q=a&{query}"));
        assert_error(&r, 400, "invalid_query");
        assert_eq!(r.1["error"]["message"], says, "{query}");
    }
    // On a trie that does not exist, the query is still checked first.
    assert_error(
        &s.get("/v1/tries/none/suggest?order=x"),
        400,
        "invalid_query",
    );
    assert_error(
        &s.get("/v1/tries/none/suggest?order=score"),
        404,
        "not_found",
    );
}

/// Scores are JSON numbers: integral ones below 2^53 in magnitude as
/// integers, anything else as the shortest decimal that reads back as the
/// same double.
#[test]
fn scores_are_written_as_integers_or_shortest_decimals() {
    let s = App::start();
    let cases = [
        ("42", "42"),
        ("-7", "-7"),
        ("-0.0", "0"),
        ("1e3", "1000"),
        ("0.1", "0.1"),
        ("123.25", "123.25"),
        ("-2.5e-7", "-2.5e-7"),
        ("1e300", "1e300"),
        ("9007199254740991", "9007199254740991"),
        ("9007199254740992", "9007199254740992.0"),
        ("-9007199254740992", "-9007199254740992.0"),
        ("1e16", "1e16"),
        ("1.7976931348623157e308", "1.7976931348623157e308"),
        ("5e-324", "5e-324"),
        // Decimals whose nearest double a fast, inexact parse misses by
        // one unit in the last place.
        ("1.2657681789452901", "1.2657681789452901"),
        ("0.9520305873171853", "0.9520305873171853"),
        ("2.2250738585072011e-308", "2.225073858507201e-308"),
    ];
    for (i, (sent, _)) in cases.iter().enumerate() {
        let entries = format!(r#"{{"key":"k{i:02}","value":{i},"score":{sent}}}"#);
        assert_eq!(post(&s, "f", &entries).status, 200);
    }
    let text = s.get_raw("/v1/tries/f/suggest?limit=100").text;
    for (i, (sent, written)) in cases.iter().enumerate() {
        let want =
            format!(r#"{{"key":"k{i:02}","value":{i},"score":{written},"highlight":[0,0]}}"#);
        assert!(text.contains(&want), "{sent}: want {want} in {text}");
        let key = s.get_raw(&format!("/v1/tries/f/keys/k{i:02}")).text;
        assert_eq!(
            key,
            format!(r#"{{"key":"k{i:02}","values":[{i}],"scores":[{written}]}}"#)
        );
        // Each reads back as the double that was sent.
        let back: f64 = written.parse().unwrap();
        assert_eq!(back, sent.parse::<f64>().unwrap(), "{sent}");
    }
    // Setting a pair to the double next to its score is a change.
    let r = post(
        &s,
        "f",
        r#"{"key":"k14","value":14,"score":1.26576817894529}"#,
    );
    assert_eq!(r.json["updated"], 1, "{:?}", r.json);
    let by_score = s
        .get_raw("/v1/tries/f/suggest?order=score&dedupe=value&limit=1")
        .text;
    assert_eq!(
        by_score,
        r#"{"entries":[{"key":"k12","value":12,"score":1.7976931348623157e308,"highlight":[0,0]}]}"#
    );
}

/// A key that needs escaping, answered through both suggest paths and
/// `GET keys`, keeps the answer valid JSON with scores beside values.
#[test]
fn scored_answers_escape_keys_on_every_path() {
    let s = App::start();
    let r = s.post_json(
        "/v1/tries/e/entries",
        &json!({"entries": [
            {"key": "a\"b\\c\n", "value": "x", "score": 2},
            {"key": "a\u{1}", "value": [1, {"b": null}], "incr": -0.5}
        ]}),
    );
    assert_eq!(r.0, 200, "{}", r.1);
    for query in [
        "",
        "?order=score",
        "?dedupe=value",
        "?order=key&dedupe=value",
    ] {
        let (st, body, _) = s.get(&format!("/v1/tries/e/suggest{query}"));
        assert_eq!(st, 200, "{query}");
        let keys: Vec<&str> = body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["key"].as_str().unwrap())
            .collect();
        let want = if query.contains("score") {
            ["a\"b\\c\n", "a\u{1}"]
        } else {
            ["a\u{1}", "a\"b\\c\n"]
        };
        assert_eq!(keys, want, "{query}");
    }
    let (st, body, _) = s.get(&format!("/v1/tries/e/keys/{}", enc("a\u{1}")));
    assert_eq!(
        (st, body),
        (
            200,
            json!({"key": "a\u{1}", "values": [[1, {"b": null}]], "scores": [-0.5]})
        )
    );
}

/// A retried add with the same `Idempotency-Key` gets the first answer,
/// new counts included, and applies nothing again.
#[test]
fn an_idempotent_retry_answers_the_scored_counts_again() {
    let s = App::start();
    let body = r#"{"entries":[{"key":"k","value":1,"incr":2},{"key":"k","value":1,"incr":2}]}"#;
    let send = || {
        s.send(
            s.req(axum::http::Method::POST, "/v1/tries/t/entries")
                .header("content-type", "application/json")
                .header("idempotency-key", "scored-1")
                .body(body),
        )
    };
    let first = send();
    assert_eq!(
        first.json,
        json!({"added": 1, "updated": 1, "unchanged": 0, "existing": 1})
    );
    let again = send();
    assert_eq!((again.status, again.json), (200, first.json));
    let (_, key, _) = s.get("/v1/tries/t/keys/k");
    assert_eq!(key["scores"], json!([4]));
}

/// The OpenAPI document describes the score fields, the suggest
/// parameters and the answers' new fields exactly.
#[test]
fn the_openapi_document_describes_scores() {
    let s = App::start();
    let doc: Json = serde_json::from_str(&s.get_raw("/v1/openapi.json").text).unwrap();
    let schemas = &doc["components"]["schemas"];
    let entry = &schemas["Entry"];
    assert_eq!(entry["properties"]["score"]["type"], "number");
    assert_eq!(entry["properties"]["incr"]["type"], "number");
    assert_eq!(entry["required"], json!(["key", "value"]));
    assert_eq!(entry["not"], json!({"required": ["score", "incr"]}));
    assert_eq!(
        schemas["Added"]["required"],
        json!(["added", "updated", "unchanged", "existing"])
    );
    assert_eq!(
        schemas["KeyValues"]["required"],
        json!(["key", "values", "scores"])
    );
    assert_eq!(
        schemas["SuggestAnswer"]["properties"]["entries"]["items"]["$ref"],
        "#/components/schemas/ScoredEntry"
    );
    assert_eq!(
        schemas["ScoredEntry"]["required"],
        json!(["key", "value", "score", "highlight"])
    );
    let params = doc["paths"]["/v1/tries/{trie}/suggest"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let param = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name} parameter"))["schema"]
            .clone()
    };
    assert_eq!(param("order")["enum"], json!(["key", "score"]));
    assert_eq!(param("dedupe")["enum"], json!(["none", "value"]));
    let import = doc["paths"]["/v1/tries/{trie}/import"]["post"]["parameters"]
        .as_array()
        .unwrap();
    assert!(import.iter().any(|p| p["name"] == "score_column"));
    let bad_input = doc["paths"]["/v1/tries/{trie}/entries"]["post"]["responses"]["400"]
        ["description"]
        .as_str()
        .unwrap();
    assert!(bad_input.contains("invalid_score"), "{bad_input}");
}
