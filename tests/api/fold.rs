//! Folding and typo tolerance over the API: `PUT /v1/tries/{trie}` and its
//! statuses, the settings `GET` shows, matching on folded text while
//! answering with the original, ties by folded then original key, exact
//! lookups, `fuzzy` with its distances and order, highlights, and the
//! settings surviving a restart and a compaction.

use serde_json::{json, Value as Json};

use crate::common::{assert_error, enc, Server};
use crate::in_process::App;

/// `(key, distance, highlight)` of a suggest answer; panics unless 200.
#[track_caller]
fn found(s: &App, trie: &str, query: &str) -> Vec<(String, Option<u64>, Json)> {
    let (st, body, _) = s.get(&format!("/v1/tries/{trie}/suggest{query}"));
    assert_eq!(st, 200, "suggest {trie}{query}: {body}");
    body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().expect("key").to_owned(),
                e["distance"].as_u64(),
                e["highlight"].clone(),
            )
        })
        .collect()
}

fn keys(rows: &[(String, Option<u64>, Json)]) -> Vec<&str> {
    rows.iter().map(|r| r.0.as_str()).collect()
}

#[track_caller]
fn add(s: &App, trie: &str, entries: Json) {
    let (st, body, _) = s.post_json(
        &format!("/v1/tries/{trie}/entries"),
        &json!({ "entries": entries }),
    );
    assert_eq!(st, 200, "{body}");
}

#[test]
fn put_creates_with_settings_and_answers_conflicts() {
    let s = App::start();
    let (st, body, _) = s.put_json("/v1/tries/p", &json!({"fold": "full"}));
    assert_eq!(st, 201, "{body}");
    assert_eq!(body["fold"], "full");
    assert_eq!(body["settings"], json!({"fold": "full"}));
    assert_eq!(
        (body["keys"].clone(), body["entries"].clone()),
        (json!(0), json!(0))
    );
    let (st, body, _) = s.put_json("/v1/tries/p", &json!({"fold": "full"}));
    assert_eq!((st, body["fold"].clone()), (200, json!("full")));
    let r = s.put_json("/v1/tries/p", &json!({"fold": "case"}));
    assert_error(&r, 409, "settings_conflict");
    let r = s.put_json("/v1/tries/p", &json!({}));
    assert_error(&r, 409, "settings_conflict");
    // A trie a write creates keeps the v1 behaviour: fold none.
    add(&s, "implicit", json!([{"key": "Jose", "value": 1}]));
    let (st, body, _) = s.get("/v1/tries/implicit");
    assert_eq!(
        (st, body["settings"].clone()),
        (200, json!({"fold": "none"}))
    );
    assert_eq!(
        s.put_json("/v1/tries/implicit", &json!({"fold": "none"})).0,
        200
    );
    assert_error(
        &s.put_json("/v1/tries/implicit", &json!({"fold": "full"})),
        409,
        "settings_conflict",
    );
    // Bad settings change nothing.
    for bad in [
        json!({"fold": "FULL"}),
        json!({"fold": 1}),
        json!({"fold": "full", "x": 1}),
        json!([1]),
    ] {
        let r = s.put_json("/v1/tries/q", &bad);
        assert_eq!(r.0, 400, "{bad}: {}", r.1);
    }
    assert_eq!(s.get("/v1/tries/q").0, 404);
    assert_error(
        &s.put_json("/v1/tries/bad%20name", &json!({})),
        400,
        "invalid_name",
    );
}

#[test]
fn full_fold_matches_folded_text_and_answers_the_original() {
    let s = App::start();
    assert_eq!(s.put_json("/v1/tries/f", &json!({"fold": "full"})).0, 201);
    add(
        &s,
        "f",
        json!([
            {"key": "José", "value": 1, "score": 5},
            {"key": "JOSE", "value": 2},
            {"key": "Jose", "value": 3, "score": 9},
            {"key": "josef", "value": 4},
            {"key": "Straße", "value": 5},
            {"key": "ﬁle", "value": 6},
            {"key": "ｆｕｌｌ", "value": 7},
            {"key": "Ångström", "value": 8},
        ]),
    );
    // Folded key, then original key, in code point order.
    assert_eq!(
        keys(&found(&s, "f", "?q=jose")),
        ["JOSE", "Jose", "José", "josef"]
    );
    assert_eq!(
        keys(&found(&s, "f", "?q=JOSÉ&order=score")),
        ["Jose", "José", "JOSE", "josef"]
    );
    assert_eq!(keys(&found(&s, "f", "?q=strass")), ["Straße"]);
    assert_eq!(keys(&found(&s, "f", "?q=file")), ["ﬁle"]);
    assert_eq!(keys(&found(&s, "f", "?q=full")), ["ｆｕｌｌ"]);
    assert_eq!(keys(&found(&s, "f", "?q=angst")), ["Ångström"]);
    // Highlights are spans of the original, in code points.
    let rows = found(&s, "f", &format!("?q={}", enc("STRAS")));
    assert_eq!(rows[0].2, json!([0, 5]));
    assert_eq!(found(&s, "f", "?q=fil")[0].2, json!([0, 2]));
    assert_eq!(found(&s, "f", "?q=fi")[0].2, json!([0, 1]));
    // Lookups, removes and adds stay exact on the original.
    assert_eq!(
        s.get(&format!("/v1/tries/f/keys/{}", enc("José"))).1["values"],
        json!([1])
    );
    assert_eq!(s.get("/v1/tries/f/keys/jose").0, 404);
    let (st, body, _) = s.delete(&format!("/v1/tries/f/keys/{}", enc("JOSE")));
    assert_eq!((st, body), (200, json!({"removed": 1})));
    assert_eq!(keys(&found(&s, "f", "?q=jose")), ["Jose", "José", "josef"]);
    // Without fuzzy, no distance.
    assert!(found(&s, "f", "?q=jose").iter().all(|r| r.1.is_none()));
}

#[test]
fn case_fold_is_full_case_folding() {
    let s = App::start();
    assert_eq!(s.put_json("/v1/tries/c", &json!({"fold": "case"})).0, 201);
    add(
        &s,
        "c",
        json!([{"key": "straße", "value": 1}, {"key": "σίσυφος", "value": 2}, {"key": "José", "value": 3}]),
    );
    assert_eq!(keys(&found(&s, "c", "?q=STRASSE")), ["straße"]);
    assert_eq!(
        keys(&found(&s, "c", &format!("?q={}", enc("ΣΊΣΥΦΟΣ")))),
        ["σίσυφος"]
    );
    // Case folding keeps accents.
    assert!(found(&s, "c", "?q=jose").is_empty());
    assert_eq!(
        keys(&found(&s, "c", &format!("?q={}", enc("JOSÉ")))),
        ["José"]
    );
}

#[test]
fn fuzzy_orders_by_distance_and_reports_it() {
    let s = App::start();
    assert_eq!(s.put_json("/v1/tries/u", &json!({"fold": "full"})).0, 201);
    add(
        &s,
        "u",
        json!([
            {"key": "Matthew", "value": 1, "score": 100},
            {"key": "Mathews", "value": 2, "score": 1},
            {"key": "Martha", "value": 3, "score": 50},
            {"key": "Mthaew", "value": 4, "score": 1000},
        ]),
    );
    let rows = found(&s, "u", "?q=mathew&fuzzy=1");
    assert_eq!(keys(&rows), ["Mathews", "Matthew"]);
    assert_eq!((rows[0].1, rows[1].1), (Some(0), Some(1)));
    assert_eq!(rows[1].2, json!([0, 7]));
    // Exact matches first even when a typo match scores higher.
    let rows = found(&s, "u", "?q=mathew&fuzzy=2&order=score");
    assert_eq!(keys(&rows), ["Mathews", "Matthew", "Mthaew"]);
    assert_eq!(
        rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        [Some(0), Some(1), Some(2)]
    );
    // auto: 0 below 4 code points (distance still reported), 1 from 4.
    let rows = found(&s, "u", "?q=mth&fuzzy=auto");
    assert_eq!(keys(&rows), ["Mthaew"]);
    assert_eq!(rows[0].1, Some(0));
    // "math" and "mtha" are each one swap from "mtah".
    assert_eq!(
        keys(&found(&s, "u", "?q=mtah&fuzzy=auto")),
        ["Mathews", "Mthaew"]
    );
    // A swap of two adjacent characters is one edit.
    assert_eq!(keys(&found(&s, "u", "?q=amrt&fuzzy=1")), ["Martha"]);
    assert!(found(&s, "u", "?q=mathew&fuzzy=0")
        .iter()
        .all(|r| r.1.is_none()));
    for bad in ["3", "-1", "one", "", "AUTO"] {
        let r = s.get(&format!("/v1/tries/u/suggest?q=m&fuzzy={bad}"));
        assert_error(&r, 400, "invalid_query");
    }
}

#[test]
fn fuzzy_dedupe_and_score_work_together() {
    let s = App::start();
    assert_eq!(s.put_json("/v1/tries/d", &json!({"fold": "full"})).0, 201);
    add(
        &s,
        "d",
        json!([
            {"key": "María", "value": "u1", "score": 900},
            {"key": "García", "value": "u1", "score": 900},
            {"key": "Mariah", "value": "u2", "score": 10},
            {"key": "Marla", "value": "u3", "score": 500},
            {"key": "Maria", "value": "u1", "score": 900},
        ]),
    );
    let (st, body, _) = s.get("/v1/tries/d/suggest?q=maria&order=score&fuzzy=1&dedupe=value");
    assert_eq!(st, 200);
    let got: Vec<(Json, Json)> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["value"].clone(), e["distance"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (json!("u1"), json!(0)),
            (json!("u2"), json!(0)),
            (json!("u3"), json!(1))
        ]
    );
}

#[test]
fn settings_survive_restart_and_compaction() {
    let mut s = Server::start_with(&["--compact-min-ops", "1"]);
    assert_eq!(s.put_json("/v1/tries/r", &json!({"fold": "full"})).0, 201);
    let r = s.post_json(
        "/v1/tries/r/entries",
        &json!({"entries": [{"key": "José", "value": 1}, {"key": "Zoë", "value": 2}]}),
    );
    assert_eq!(r.0, 200, "{}", r.1);
    let read = |s: &Server| s.get_raw("/v1/tries/r/suggest?q=jose").text;
    let before = read(&s);
    assert!(before.contains("José"), "{before}");
    assert!(s.restart().success());
    assert_eq!(read(&s), before);
    assert_eq!(s.get("/v1/tries/r").1["fold"], "full");
    s.crash_restart();
    assert_eq!(read(&s), before);
    assert_error(
        &s.put_json("/v1/tries/r", &json!({"fold": "none"})),
        409,
        "settings_conflict",
    );
}
