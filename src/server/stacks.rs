//! Stack routes: push, pop, get, delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::ApiError;
use super::tries::json_response;
use super::validate::{self, JsonBody};
use super::{segment_name, AppState, Segments};

/// `POST /v1/stacks/{stack}/push`
#[utoipa::path(post, path = "/v1/stacks/{stack}/push", tag = "stacks",
    params(("stack" = String, Path, description = "Stack name (created if missing)")),
    request_body(content = serde_json::Value, description = "{\"value\": V}", content_type = "application/json"),
    responses((status = 200, description = "{\"len\": n}"), (status = 400, description = "invalid_json | invalid_value")))]
pub async fn stack_push(
    State(state): State<AppState>,
    params: Segments,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let stack = segment_name(&params, "stack")?;
    let value = validate::json_value(validate::object(&body)?.get("value"), || "body".to_owned())?;
    let n = state.db.push(stack, value).await?;
    Ok(Json(json!({ "len": n })).into_response())
}

/// `POST /v1/stacks/{stack}/pop`
#[utoipa::path(post, path = "/v1/stacks/{stack}/pop", tag = "stacks",
    params(("stack" = String, Path, description = "Stack name")),
    responses((status = 200, description = "{\"value\": V, \"len\": n}"),
        (status = 404, description = "empty (also for a stack never pushed to)")))]
pub async fn stack_pop(
    State(state): State<AppState>,
    params: Segments,
) -> Result<Response, ApiError> {
    let stack = segment_name(&params, "stack")?;
    let (value, len) = state.db.pop(stack).await?;
    Ok(json_response(format!(
        "{{\"value\":{value},\"len\":{len}}}"
    )))
}

/// `GET /v1/stacks/{stack}`
#[utoipa::path(get, path = "/v1/stacks/{stack}", tag = "stacks",
    params(("stack" = String, Path, description = "Stack name")),
    responses((status = 200, description = "{\"name\", \"len\", \"top\": V or null}"), (status = 404, description = "not_found")))]
pub async fn stack_get(
    State(state): State<AppState>,
    params: Segments,
) -> Result<Response, ApiError> {
    let name = segment_name(&params, "stack")?;
    let stack = state
        .db
        .stack(&name)
        .ok_or_else(|| ApiError::missing(format!("stack {name}")))?;
    let (len, top) = stack.with_items(|items| (items.len(), items.last().cloned()));
    let top = top.map_or_else(|| "null".to_string(), |v| v.as_str().to_owned());
    Ok(json_response(format!(
        "{{\"name\":\"{name}\",\"len\":{len},\"top\":{top}}}"
    )))
}

/// `DELETE /v1/stacks/{stack}`
#[utoipa::path(delete, path = "/v1/stacks/{stack}", tag = "stacks",
    params(("stack" = String, Path, description = "Stack name")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "not_found")))]
pub async fn stack_delete(
    State(state): State<AppState>,
    params: Segments,
) -> Result<StatusCode, ApiError> {
    let stack = segment_name(&params, "stack")?;
    state.db.drop_stack(stack).await?;
    Ok(StatusCode::NO_CONTENT)
}
