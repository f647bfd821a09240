//! Trie routes: list, create with settings, stats, delete, add, remove,
//! get a key (suggest is `suggest`'s).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::ApiError;
use super::validate::{self, JsonBody, OptionalJsonBody};
use super::{segment_key, segment_name, AppState, Segments};
use crate::db::TrieIndex;
use crate::fold::Fold;
use crate::value::push_score;

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
    responses((status = 200, description = "{\"name\", \"keys\", \"entries\", \"version\", \"fold\", \"settings\", \"bytes\", \"process_rss_bytes\"}: bytes is the trie's heap bytes by the engine's own count (nodes, buckets, values; counted once per version), process_rss_bytes the server process's resident memory (null where the platform does not report it)"),
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
    Ok(Json(describe(&state, &name, &t).await?).into_response())
}

/// A trie's description: counts, version and settings, and its memory
/// (the trie's bytes, the process's resident memory), all from one snapshot
/// but the resident memory.
async fn describe(
    state: &AppState,
    name: &str,
    t: &TrieIndex,
) -> Result<serde_json::Value, ApiError> {
    let snapshot = t.snapshot();
    let s = snapshot.stats();
    let fold = snapshot.trie().fold().as_str();
    let bytes = state.trie_bytes.of(name, &snapshot).await.map_err(|e| {
        tracing::error!(trie = %name, "counting the trie's bytes failed: {e}");
        ApiError::for_status(StatusCode::INTERNAL_SERVER_ERROR)
    })?;
    let rss = super::memory::resident_bytes();
    Ok(
        json!({"name": name, "keys": s.keys, "entries": s.entries, "version": s.version,
        "fold": fold, "settings": {"fold": fold}, "bytes": bytes, "process_rss_bytes": rss}),
    )
}

/// `PUT /v1/tries/{trie}`
#[utoipa::path(put, path = "/v1/tries/{trie}", tag = "tries",
    params(("trie" = String, Path, description = "Trie name")),
    request_body(content = serde_json::Value, description = "{\"fold\": \"none\" | \"case\" | \"full\"} (default none; an empty body is {})", content_type = "application/json"),
    responses((status = 201, description = "Created: the trie's description, as GET gives it"),
        (status = 200, description = "It exists with these settings: its description"),
        (status = 400, description = "invalid_json | invalid_settings"),
        (status = 409, description = "settings_conflict: it exists with other settings")))]
pub async fn trie_put(
    State(state): State<AppState>,
    params: Segments,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<Response, ApiError> {
    let name = segment_name(&params, "trie")?;
    let fold = settings(body.as_ref())?;
    let created = state.db.create_trie(name.clone(), fold).await?;
    let t = state
        .db
        .trie(&name)
        .ok_or_else(|| ApiError::missing(format!("trie {name}")))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(describe(&state, &name, &t).await?)).into_response())
}

/// A trie's settings from a `PUT` body: an object whose only field is
/// `fold`, which defaults to `none`.
fn settings(body: Option<&serde_json::Value>) -> Result<Fold, ApiError> {
    let Some(body) = body else {
        return Ok(Fold::None);
    };
    let invalid = ApiError::invalid_settings;
    let fields = validate::object(body)?;
    if let Some(other) = fields.keys().find(|k| *k != "fold") {
        return Err(invalid(format!(
            "unknown setting {other:?}; the one setting is fold"
        )));
    }
    match fields.get("fold") {
        None => Ok(Fold::None),
        Some(serde_json::Value::String(f)) => f.parse().map_err(|e| invalid(format!("{e}"))),
        Some(other) => Err(invalid(format!(
            "fold must be \"none\", \"case\" or \"full\", got {other}"
        ))),
    }
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

/// Appends `key` (a stored key: UTF-8) as a JSON string literal.
pub(super) fn push_json_str(out: &mut Vec<u8>, key: &[u8]) {
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
