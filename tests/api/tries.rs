//! Tries, in-process: listing, stats and versions, delete, adding and
//! removing pairs (counts, order, all-or-nothing batches), key and value
//! size limits, `keys/{key}` get and delete, and canonical JSON equality of
//! values.

use serde_json::{json, Value as Json};

use crate::common::{assert_error, enc};
use crate::in_process::App;
use crate::{add, batch, stats, suggest};

#[test]
fn tries_list_stats_and_delete() {
    let s = App::start();
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
    let s = App::start();
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
        (
            200,
            json!({"key": "k", "values": [1, 2, 3], "scores": [0, 0, 0]})
        )
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
    let s = App::start();
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
    let s = App::start();
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
    let s = App::start();
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
    let s = App::start();
    add(
        &s,
        "t",
        &[("go", json!(1)), ("go", json!("two")), ("gopher", json!(3))],
    );
    let (st, body, h) = s.get("/v1/tries/t/keys/go");
    assert_eq!(
        (st, body),
        (
            200,
            json!({"key": "go", "values": [1, "two"], "scores": [0, 0]})
        )
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

#[test]
fn canonical_json_equality() {
    let s = App::start();
    let r = s.post_text(
        "/v1/tries/c/entries",
        r#"{"entries": [{"key": "obj", "value": {"a": 1, "b": 2}}]}"#,
    );
    assert_eq!(
        r.json,
        json!({"added": 1, "updated": 0, "unchanged": 0, "existing": 0}),
        "{}",
        r.text
    );
    let r = s.post_text(
        "/v1/tries/c/entries",
        r#"{"entries": [{"key": "obj", "value": {"b": 2, "a": 1}}, {"key":"obj","value":{ "b" :2 ,"a":  1 }}]}"#,
    );
    assert_eq!(
        r.json,
        json!({"added": 0, "updated": 0, "unchanged": 2, "existing": 2}),
        "{}",
        r.text
    );
    let r = s.post_text(
        "/v1/tries/c/entries",
        r#"{"entries": [{"key": "obj", "value": {"z": {"y": 1, "x": [{"d": 1, "c": 2}]}, "a": "é\u00e9"}}]}"#,
    );
    assert_eq!(
        r.json,
        json!({"added": 1, "updated": 0, "unchanged": 0, "existing": 0}),
        "{}",
        r.text
    );
    let r = s.post_text(
        "/v1/tries/c/entries",
        r#"{"entries": [{"key": "obj", "value": {"a": "\u00e9é", "z": {"x": [{"c": 2, "d": 1}], "y": 1}}}]}"#,
    );
    assert_eq!(
        r.json,
        json!({"added": 0, "updated": 0, "unchanged": 1, "existing": 1}),
        "{}",
        r.text
    );
    // Answers carry the canonical text.
    let r = s.get_raw("/v1/tries/c/keys/obj");
    assert_eq!(
        r.text,
        r#"{"key":"obj","values":[{"a":1,"b":2},{"a":"éé","z":{"x":[{"c":2,"d":1}],"y":1}}],"scores":[0,0]}"#
    );
    let r = s.get_raw("/v1/tries/c/suggest?q=o");
    assert_eq!(
        r.text,
        r#"{"entries":[{"key":"obj","value":{"a":1,"b":2},"score":0,"highlight":[0,1]},{"key":"obj","value":{"a":"éé","z":{"x":[{"c":2,"d":1}],"y":1}},"score":0,"highlight":[0,1]}]}"#
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
