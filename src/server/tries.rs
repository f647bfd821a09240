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
    request_body(content = serde_json::Value, description = "{\"entries\": [{\"key\": K, \"value\": V}, ...]}, at most 100,000", content_type = "application/json"),
    responses((status = 200, description = "{\"added\": a, \"existing\": e}"),
        (status = 400, description = "invalid_json | invalid_key | invalid_value; nothing applied"),
        (status = 413, description = "payload_too_large")))]
pub async fn entries_add(
    State(state): State<AppState>,
    params: Segments,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let trie = segment_name(&params, "trie")?;
    let entries = validate::batch(&body, true)?
        .into_iter()
        // With values required, every entry has one.
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    let done = state.db.add_entries(trie, entries).await?;
    Ok(Json(json!({"added": done.added, "existing": done.existing})).into_response())
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
    responses((status = 200, description = "{\"key\": K, \"values\": [V, ...]}"), (status = 404, description = "not_found")))]
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
        let mut out = String::with_capacity(32 + key.len() + values.len() * 16);
        out.push_str("{\"key\":");
        out.push_str(&serde_json::to_string(&key).expect("strings serialize"));
        out.push_str(",\"values\":[");
        for (i, v) in values.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(v.as_str());
        }
        out.push_str("]}");
        Some(out)
    });
    let body = body.ok_or_else(|| ApiError::missing(format!("key {key:?} in trie {name}")))?;
    Ok(json_response(body))
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

/// `GET /v1/tries/{trie}/suggest?q=P&limit=N`
#[utoipa::path(get, path = "/v1/tries/{trie}/suggest", tag = "tries",
    params(("trie" = String, Path, description = "Trie name"),
        ("q" = Option<String>, Query, description = "Prefix; absent or empty means every key"),
        ("limit" = Option<usize>, Query, description = "1 to 1000, default 10")),
    responses((status = 200, description = "{\"entries\": [{\"key\": K, \"value\": V}, ...]} in key (code point) order, then value insertion order; header X-Response-Time-Us gives the server's time"),
        (status = 400, description = "invalid_key | invalid_limit"), (status = 404, description = "not_found")))]
pub async fn suggest(
    State(state): State<AppState>,
    params: Segments,
) -> Result<Response, ApiError> {
    suggest_now(&state, &params)
}

/// The suggest route's work. It never waits, so the router's fast path
/// (`super::FastSuggest`) calls it directly, without a future; the route above
/// (HEAD requests, the OpenAPI document) calls it too.
pub(super) fn suggest_now(state: &AppState, params: &Segments) -> Result<Response, ApiError> {
    let started = Instant::now();
    let name = segment_name(params, "trie")?;
    let (mut q, mut limit) = (std::borrow::Cow::Borrowed(""), None);
    // The query borrowed from the request's URI (`RawQuery` would copy it).
    for (k, v) in validate::query_params(params.query()) {
        match &*k {
            "q" => q = v.map_err(|e| ApiError::invalid_key(format!("q is {e}")))?,
            "limit" => {
                limit = Some(v.map_err(|e| ApiError::invalid_limit(format!("limit is {e}")))?)
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
    // One snapshot for the whole answer; JSON written straight from the
    // iterator as bytes, keys and values copied as stored (both are UTF-8
    // already, so nothing checks them again).
    let body = t.read(|s| {
        let mut out = Vec::with_capacity(16 + limit * 48);
        out.extend_from_slice(b"{\"entries\":[");
        let mut it = s.trie().iter_prefix(&q);
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
            entry_head.extend_from_slice(b",\"value\":");
            for value in values.take(limit - n) {
                if n > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&entry_head);
                out.extend_from_slice(value.as_bytes());
                out.push(b'}');
                n += 1;
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

pub(super) fn json_response(body: String) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
