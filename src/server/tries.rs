//! Trie routes: list, stats, delete, add, remove, get a key, suggest.

use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::ApiError;
use super::validate::{self, JsonBody};
use super::{segment_key, segment_name, AppState, Segments};
use crate::trie::{Order, SuggestOptions, Trie};
use crate::value::{push_score, Value};

/// `GET /v1/tries`
#[utoipa::path(get, path = "/v1/tries", tag = "tries",
    responses((status = 200, description = "Every trie, sorted by name: {\"tries\": [{\"name\", \"keys\", \"entries\"}]}")))]
pub async fn tries_list(State(state): State<AppState>) -> Response {
    let tries: Vec<_> = state
        .db
        .tries()
        .into_iter()
        .map(|(name, t)| {
            let s = t.stats();
            json!({"name": name, "keys": s.keys, "entries": s.entries})
        })
        .collect();
    Json(json!({ "tries": tries })).into_response()
}

/// `GET /v1/tries/{trie}`
#[utoipa::path(get, path = "/v1/tries/{trie}", tag = "tries",
    params(("trie" = String, Path, description = "Trie name")),
    responses((status = 200, description = "{\"name\", \"keys\", \"entries\", \"version\"}"),
        (status = 404, description = "not_found")))]
pub async fn trie_get(
    State(state): State<AppState>,
    params: Segments,
) -> Result<Response, ApiError> {
    let name = segment_name(&params, "trie")?;
    let t = state
        .db
        .trie(&name)
        .ok_or_else(|| ApiError::missing(format!("trie {name}")))?;
    let s = t.stats();
    Ok(
        Json(json!({"name": name, "keys": s.keys, "entries": s.entries, "version": s.version}))
            .into_response(),
    )
}

/// `DELETE /v1/tries/{trie}`
#[utoipa::path(delete, path = "/v1/tries/{trie}", tag = "tries",
    params(("trie" = String, Path, description = "Trie name")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "not_found")))]
pub async fn trie_delete(
    State(state): State<AppState>,
    params: Segments,
) -> Result<StatusCode, ApiError> {
    let trie = segment_name(&params, "trie")?;
    state.db.drop_trie(trie).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/tries/{trie}/entries`
#[utoipa::path(post, path = "/v1/tries/{trie}/entries", tag = "tries",
    params(("trie" = String, Path, description = "Trie name (created if missing)")),
    request_body(content = serde_json::Value, description = "{\"entries\": [{\"key\": K, \"value\": V, \"score\": S | \"incr\": D}, ...]}, at most 100,000", content_type = "application/json"),
    responses((status = 200, description = "{\"added\": a, \"updated\": u, \"unchanged\": n, \"existing\": u + n}"),
        (status = 400, description = "invalid_json | invalid_key | invalid_value | invalid_score; nothing applied"),
        (status = 413, description = "payload_too_large")))]
pub async fn entries_add(
    State(state): State<AppState>,
    params: Segments,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let trie = segment_name(&params, "trie")?;
    let entries = validate::scored_batch(&body)?;
    let done = state.db.add_scored(trie, entries).await?;
    // In this order, the one the documentation gives.
    Ok(json_response(format!(
        r#"{{"added":{},"updated":{},"unchanged":{},"existing":{}}}"#,
        done.added, done.updated, done.unchanged, done.existing
    )))
}

/// `POST /v1/tries/{trie}/remove`
#[utoipa::path(post, path = "/v1/tries/{trie}/remove", tag = "tries",
    params(("trie" = String, Path, description = "Trie name")),
    request_body(content = serde_json::Value, description = "{\"entries\": [{\"key\": K, \"value\": V} | {\"key\": K}, ...]}", content_type = "application/json"),
    responses((status = 200, description = "{\"removed\": r}, counting (key, value) pairs"),
        (status = 400, description = "invalid_json | invalid_key | invalid_value; nothing applied"),
        (status = 404, description = "not_found")))]
pub async fn entries_remove(
    State(state): State<AppState>,
    params: Segments,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let trie = segment_name(&params, "trie")?;
    let entries = validate::batch(&body, false)?;
    let n = state.db.remove_entries(trie, entries).await?;
    Ok(Json(json!({ "removed": n })).into_response())
}

/// `GET /v1/tries/{trie}/keys/{key}`
#[utoipa::path(get, path = "/v1/tries/{trie}/keys/{key}", tag = "tries",
    params(("trie" = String, Path, description = "Trie name"), ("key" = String, Path, description = "Key, percent-encoded")),
    responses((status = 200, description = "{\"key\": K, \"values\": [V, ...], \"scores\": [S, ...]}"), (status = 404, description = "not_found")))]
pub async fn key_get(
    State(state): State<AppState>,
    params: Segments,
) -> Result<Response, ApiError> {
    let name = segment_name(&params, "trie")?;
    let key = segment_key(&params)?;
    let t = state
        .db
        .trie(&name)
        .ok_or_else(|| ApiError::missing(format!("trie {name}")))?;
    let body = t.read(|s| {
        let values = s.trie().get(&key);
        if values.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(48 + key.len() + values.len() * 24);
        out.extend_from_slice(b"{\"key\":");
        push_json_str(&mut out, key.as_bytes());
        out.extend_from_slice(b",\"values\":[");
        for (i, v) in values.clone().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(v.as_bytes());
        }
        out.extend_from_slice(b"],\"scores\":[");
        for (i, (_, score)) in values.scored().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_score(&mut out, score);
        }
        out.extend_from_slice(b"]}");
        Some(out)
    });
    let body = body.ok_or_else(|| ApiError::missing(format!("key {key:?} in trie {name}")))?;
    Ok(json_bytes(body))
}

/// `DELETE /v1/tries/{trie}/keys/{key}`
#[utoipa::path(delete, path = "/v1/tries/{trie}/keys/{key}", tag = "tries",
    params(("trie" = String, Path, description = "Trie name"), ("key" = String, Path, description = "Key, percent-encoded")),
    responses((status = 200, description = "{\"removed\": n}"), (status = 404, description = "not_found")))]
pub async fn key_delete(
    State(state): State<AppState>,
    params: Segments,
) -> Result<Response, ApiError> {
    let trie = segment_name(&params, "trie")?;
    let key = segment_key(&params)?;
    let n = state.db.remove_key(trie, key).await?;
    Ok(Json(json!({ "removed": n })).into_response())
}

/// The header that gives the server's time for a suggest, in microseconds.
pub(super) const RESPONSE_TIME: header::HeaderName =
    header::HeaderName::from_static("x-response-time-us");

/// `GET /v1/tries/{trie}/suggest?q=P&limit=N&order=key|score&dedupe=value|none`
#[utoipa::path(get, path = "/v1/tries/{trie}/suggest", tag = "tries",
    params(("trie" = String, Path, description = "Trie name"),
        ("q" = Option<String>, Query, description = "Prefix; absent or empty means every key"),
        ("limit" = Option<usize>, Query, description = "1 to 1000, default 10"),
        ("order" = Option<String>, Query, description = "key (default): code point order of the keys, then the order values were added; score: highest score first, ties in key order"),
        ("dedupe" = Option<String>, Query, description = "none (default), or value: each distinct value once, at its best place in the order")),
    responses((status = 200, description = "{\"entries\": [{\"key\": K, \"value\": V, \"score\": S}, ...]}; header X-Response-Time-Us gives the server's time"),
        (status = 400, description = "invalid_key | invalid_limit | invalid_query"), (status = 404, description = "not_found")))]
pub async fn suggest(
    State(state): State<AppState>,
    params: Segments,
) -> Result<Response, ApiError> {
    suggest_now(&state, &params)
}

/// `order`: `key` or `score`.
fn order(raw: &str) -> Result<Order, ApiError> {
    match raw {
        "key" => Ok(Order::Key),
        "score" => Ok(Order::Score),
        _ => Err(ApiError::invalid_query(format!(
            "order must be key or score, got {raw:?}"
        ))),
    }
}

/// `dedupe`: `value` or `none`.
fn dedupe(raw: &str) -> Result<bool, ApiError> {
    match raw {
        "value" => Ok(true),
        "none" => Ok(false),
        _ => Err(ApiError::invalid_query(format!(
            "dedupe must be value or none, got {raw:?}"
        ))),
    }
}

/// The suggest route's work. It never waits, so the router's fast path
/// (`super::FastSuggest`) calls it directly, without a future; the route above
/// (HEAD requests, the OpenAPI document) calls it too.
pub(super) fn suggest_now(state: &AppState, params: &Segments) -> Result<Response, ApiError> {
    let started = Instant::now();
    let name = segment_name(params, "trie")?;
    let (mut q, mut limit) = (std::borrow::Cow::Borrowed(""), None);
    let mut opts = SuggestOptions::new();
    // The query borrowed from the request's URI (`RawQuery` would copy it).
    for (k, v) in validate::query_params(params.query()) {
        match &*k {
            "q" => q = v.map_err(|e| ApiError::invalid_key(format!("q is {e}")))?,
            "limit" => {
                limit = Some(v.map_err(|e| ApiError::invalid_limit(format!("limit is {e}")))?)
            }
            "order" => {
                let v = v.map_err(|e| ApiError::invalid_query(format!("order is {e}")))?;
                opts = opts.order(order(&v)?);
            }
            "dedupe" => {
                let v = v.map_err(|e| ApiError::invalid_query(format!("dedupe is {e}")))?;
                opts = opts.dedupe(dedupe(&v)?);
            }
            _ => {}
        }
    }
    if q.len() > validate::MAX_KEY_BYTES {
        return Err(ApiError::invalid_key(format!(
            "q is {} bytes; keys are at most {}",
            q.len(),
            validate::MAX_KEY_BYTES
        )));
    }
    let limit = validate::limit(limit.as_deref())?;
    let t = state
        .db
        .trie(&name)
        .ok_or_else(|| ApiError::missing(format!("trie {name}")))?;
    // One snapshot for the whole answer, written as JSON bytes; keys and
    // values copied as stored (both are UTF-8 already, so nothing checks
    // them again).
    let body = t.read(|s| {
        let mut out = Vec::with_capacity(16 + limit * 60);
        out.extend_from_slice(b"{\"entries\":[");
        if opts == SuggestOptions::new() {
            write_in_key_order(&mut out, s.trie(), &q, limit);
        } else {
            let found = s.trie().suggest_with(&q, limit, opts);
            for (i, (key, value, score)) in found.iter_scored().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"key\":");
                push_json_str(&mut out, key.as_bytes());
                push_entry_tail(&mut out, value, score);
            }
        }
        out.extend_from_slice(b"]}");
        out
    });
    let mut res = Response::new(axum::body::Body::from(body));
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    headers.insert(RESPONSE_TIME, HeaderValue::from(micros));
    Ok(res)
}

/// The default order's answer, the hot path of every keystroke: straight
/// from the trie's lending iterator, nothing collected first.
fn write_in_key_order(out: &mut Vec<u8>, trie: &Trie<Value>, q: &str, limit: usize) {
    let mut it = trie.iter_prefix(q);
    // A key is escaped once, then repeated for each of its values.
    let mut entry_head = Vec::new();
    let mut n = 0;
    while n < limit {
        let Some((key, values)) = it.next_key_bytes() else {
            break;
        };
        entry_head.clear();
        entry_head.extend_from_slice(b"{\"key\":");
        push_json_str(&mut entry_head, key);
        for (value, score) in values.scored().take(limit - n) {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&entry_head);
            push_entry_tail(out, value, score);
            n += 1;
        }
    }
}

/// Appends `,"value":V,"score":S}`.
fn push_entry_tail(out: &mut Vec<u8>, value: &Value, score: f64) {
    out.extend_from_slice(b",\"value\":");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b",\"score\":");
    push_score(out, score);
    out.push(b'}');
}

/// Appends `key` (a stored key: UTF-8) as a JSON string literal.
fn push_json_str(out: &mut Vec<u8>, key: &[u8]) {
    if key.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(key);
        out.push(b'"');
    } else {
        let key = String::from_utf8_lossy(key);
        out.extend_from_slice(
            serde_json::to_string(&key)
                .expect("strings serialize")
                .as_bytes(),
        );
    }
}

/// A JSON answer from bytes already written as JSON.
fn json_bytes(body: Vec<u8>) -> Response {
    let mut res = Response::new(axum::body::Body::from(body));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

pub(super) fn json_response(body: String) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
