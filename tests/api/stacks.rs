//! Stacks, in-process: push, pop (LIFO, `empty` when there is nothing),
//! get, delete, value limits, and canonical JSON in answers.

use axum::http::Method;
use serde_json::{json, Value as Json};

use crate::common::assert_error;
use crate::in_process::App;

#[test]
fn stacks_push_pop_get_delete() {
    let s = App::start();
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
