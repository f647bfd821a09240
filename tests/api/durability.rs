//! Durability, on a real process with its data directory: everything
//! acknowledged, scores included, survives a graceful restart (twice), a
//! compaction at start-up and a SIGKILL.

use reqwest::Method;
use serde_json::json;

use crate::common::{assert_error, enc, Server};
use crate::{add, stats};

#[test]
fn durability_restart_keeps_everything() {
    let mut s = Server::start();
    let r = s.post_text(
        "/v1/tries/d/entries",
        r#"{"entries": [{"key": "go", "value": {"b": 1, "a": 2}}, {"key": "go", "value": 2},
            {"key": "日本", "value": "x"}, {"key": "a/b?c", "value": [1]}, {"key": "gone", "value": 1}]}"#,
    );
    assert_eq!(
        r.json,
        json!({"added": 5, "updated": 0, "unchanged": 0, "existing": 0}),
        "{}",
        r.text
    );
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
        r#"{"entries":[{"key":"a/b?c","value":[1],"score":0,"highlight":[0,0]},{"key":"go","value":{"a":2,"b":1},"score":0,"highlight":[0,0]},{"key":"go","value":2,"score":0,"highlight":[0,0]},{"key":"日本","value":"x","score":0,"highlight":[0,0]}]}"#
    );
    assert_eq!(after.2, r#"{"name":"st","len":2,"top":2}"#);
    assert_eq!(after.3, r#"{"key":"k","value":42}"#);
    assert_error(&s.get("/v1/tries/dropped"), 404, "not_found");
    assert_error(&s.get("/v1/caches/ca/keys/del"), 404, "not_found");
    let (st, b, _) = s.get(&format!("/v1/tries/d/keys/{}", enc("a/b?c")));
    assert_eq!(
        (st, b),
        (200, json!({"key": "a/b?c", "values": [[1]], "scores": [0]}))
    );
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
        json!({"entries": [{"key": "b", "value": {"x": 2, "y": 1}, "score": 0, "highlight": [0, 0]}]})
    );
    let (_, body, _) = s.get("/v1/stacks/k9");
    assert_eq!(body, json!({"name": "k9", "len": 1, "top": "v"}));
    let (_, body, _) = s.get("/v1/caches/k9/keys/n");
    assert_eq!(body, json!({"key": "n", "value": 8}));
}

/// Scores survive a restart that compacts the log (the increments are
/// history, the state is a few pairs), a replay of the compacted log and
/// SIGKILL, and the server keeps scoring after each.
#[test]
fn durability_scores_survive_compaction_restart_and_sigkill() {
    // No compaction while the history is written...
    let mut first = Server::start_with(&["--compact-min-ops", "1000"]);
    let r = first.post_text(
        "/v1/tries/sc/entries",
        r#"{"entries": [{"key": "go", "value": 1, "score": 2.5}, {"key": "go", "value": 2},
            {"key": "gopher", "value": {"id": 3}, "score": -1e300}, {"key": "git", "value": 4, "incr": 7}]}"#,
    );
    assert_eq!(
        r.json,
        json!({"added": 4, "updated": 0, "unchanged": 0, "existing": 0}),
        "{}",
        r.text
    );
    for _ in 0..120 {
        let r = first.post_text(
            "/v1/tries/sc/entries",
            r#"{"entries": [{"key": "go", "value": 2, "incr": 0.5}]}"#,
        );
        assert_eq!(r.json["updated"], 1, "{}", r.text);
    }
    let read = |s: &Server| {
        (
            s.get_raw("/v1/tries/sc/suggest?order=score&limit=100").text,
            s.get_raw("/v1/tries/sc/keys/go").text,
        )
    };
    let before = read(&first);
    assert_eq!(
        before.0,
        r#"{"entries":[{"key":"go","value":2,"score":60,"highlight":[0,0]},{"key":"git","value":4,"score":7,"highlight":[0,0]},{"key":"go","value":1,"score":2.5,"highlight":[0,0]},{"key":"gopher","value":{"id":3},"score":-1e300,"highlight":[0,0]}]}"#
    );
    assert_eq!(before.1, r#"{"key":"go","values":[1,2],"scores":[2.5,60]}"#);
    assert!(first.stop().success());

    // ...then a start-up that finds 125 operations for 5 pairs compacts.
    let mut s = Server::start_in(&first.data_dir, &["--compact-min-ops", "50"]);
    assert!(
        s.logs().contains("compacted the log"),
        "no compaction at start-up:\n{}",
        s.log_tail(20)
    );
    assert_eq!(read(&s), before, "after a restart that compacted");
    assert!(s.restart().success());
    assert_eq!(read(&s), before, "replayed from the compacted log");

    let r = s.post_text(
        "/v1/tries/sc/entries",
        r#"{"entries": [{"key": "git", "value": 4, "score": 100}, {"key": "go", "value": 1, "incr": -2.5}]}"#,
    );
    assert_eq!(r.json["updated"], 2, "{}", r.text);
    s.crash_restart();
    let (_, body, _) = s.get("/v1/tries/sc/suggest?order=score&dedupe=value&limit=2");
    assert_eq!(
        body,
        json!({"entries": [
            {"key": "git", "value": 4, "score": 100, "highlight": [0, 0]},
            {"key": "go", "value": 2, "score": 60, "highlight": [0, 0]}
        ]})
    );
    let (_, body, _) = s.get("/v1/tries/sc/keys/go");
    assert_eq!(body["scores"], json!([0, 60]));
}
