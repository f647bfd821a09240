//! Cache routes: set, get, incr, delete a key; get and delete a cache.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::ApiError;
use super::validate::{self, JsonBody, OptionalJsonBody};
use super::{segment_key, segment_name, AppState, Segments};

/// Cache keys follow the trie key rules (non-empty, at most 1024 bytes).
fn cache_key(params: &Segments) -> Result<String, ApiError> {
    segment_key(params)
}

/// `PUT /v1/caches/{cache}/keys/{key}`
#[utoipa::path(put, path = "/v1/caches/{cache}/keys/{key}", tag = "caches",
    params(("cache" = String, Path, description = "Cache name (created if missing)"), ("key" = String, Path, description = "Key, percent-encoded")),
    request_body(content = serde_json::Value, description = "{\"value\": i} with i a signed 64-bit integer", content_type = "application/json"),
    responses((status = 200, description = "{\"key\", \"value\"}"), (status = 400, description = "invalid_json | invalid_value")))]
pub async fn cache_put(
    State(state): State<AppState>,
    params: Segments,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let cache = segment_name(&params, "cache")?;
    let key = cache_key(&params)?;
    let value = validate::json_i64(validate::object(&body)?.get("value"), "value")?;
    let v = state.db.cache_set(cache, key.clone(), value).await?;
    Ok(Json(json!({"key": key, "value": v})).into_response())
}

/// `GET /v1/caches/{cache}/keys/{key}`
#[utoipa::path(get, path = "/v1/caches/{cache}/keys/{key}", tag = "caches",
    params(("cache" = String, Path, description = "Cache name"), ("key" = String, Path, description = "Key, percent-encoded")),
    responses((status = 200, description = "{\"key\", \"value\"}"), (status = 404, description = "not_found")))]
pub async fn cache_key_get(
    State(state): State<AppState>,
    params: Segments,
) -> Result<Response, ApiError> {
    let name = segment_name(&params, "cache")?;
    let key = cache_key(&params)?;
    let cache = state
        .db
        .cache(&name)
        .ok_or_else(|| ApiError::missing(format!("cache {name}")))?;
    let value = cache
        .get(key.as_str())
        .ok_or_else(|| ApiError::missing(format!("key {key:?} in cache {name}")))?;
    Ok(Json(json!({"key": key, "value": value})).into_response())
}

/// `POST /v1/caches/{cache}/keys/{key}/incr`
#[utoipa::path(post, path = "/v1/caches/{cache}/keys/{key}/incr", tag = "caches",
    params(("cache" = String, Path, description = "Cache name (created if missing)"), ("key" = String, Path, description = "Key, percent-encoded")),
    request_body(content = serde_json::Value, description = "{\"by\": i} (default 1; the body may be empty)", content_type = "application/json"),
    responses((status = 200, description = "{\"key\", \"value\"}; a missing key counts from 0"),
        (status = 400, description = "overflow (value unchanged) | invalid_value")))]
pub async fn cache_incr(
    State(state): State<AppState>,
    params: Segments,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<Response, ApiError> {
    let cache = segment_name(&params, "cache")?;
    let key = cache_key(&params)?;
    let by = match &body {
        None => 1,
        Some(body) => match validate::object(body)?.get("by") {
            None => 1,
            by => validate::json_i64(by, "by")?,
        },
    };
    let v = state.db.incr(cache, key.clone(), by).await?;
    Ok(Json(json!({"key": key, "value": v})).into_response())
}

/// `DELETE /v1/caches/{cache}/keys/{key}`
#[utoipa::path(delete, path = "/v1/caches/{cache}/keys/{key}", tag = "caches",
    params(("cache" = String, Path, description = "Cache name"), ("key" = String, Path, description = "Key, percent-encoded")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "not_found")))]
pub async fn cache_key_delete(
    State(state): State<AppState>,
    params: Segments,
) -> Result<StatusCode, ApiError> {
    let cache = segment_name(&params, "cache")?;
    let key = cache_key(&params)?;
    state.db.cache_remove(cache, key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/caches/{cache}`
#[utoipa::path(get, path = "/v1/caches/{cache}", tag = "caches",
    params(("cache" = String, Path, description = "Cache name")),
    responses((status = 200, description = "{\"name\", \"keys\"}"), (status = 404, description = "not_found")))]
pub async fn cache_get(
    State(state): State<AppState>,
    params: Segments,
) -> Result<Response, ApiError> {
    let name = segment_name(&params, "cache")?;
    let cache = state
        .db
        .cache(&name)
        .ok_or_else(|| ApiError::missing(format!("cache {name}")))?;
    Ok(Json(json!({"name": name, "keys": cache.len()})).into_response())
}

/// `DELETE /v1/caches/{cache}`
#[utoipa::path(delete, path = "/v1/caches/{cache}", tag = "caches",
    params(("cache" = String, Path, description = "Cache name")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "not_found")))]
pub async fn cache_delete(
    State(state): State<AppState>,
    params: Segments,
) -> Result<StatusCode, ApiError> {
    let cache = segment_name(&params, "cache")?;
    state.db.drop_cache(cache).await?;
    Ok(StatusCode::NO_CONTENT)
}
