//! Import routes: start an import, list jobs, get a job. The pipeline and
//! the job records live in [`crate::import`]; this module only speaks HTTP.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::validate;
use super::{ApiError, AppState, Segments};
use crate::import::{Format, Spec};

/// `POST /v1/tries/{trie}/import?format=csv|ndjson&key_columns=a,b&value_column=id&score_column=s`
#[utoipa::path(post, path = "/v1/tries/{trie}/import", tag = "import",
    params(("trie" = String, Path, description = "Trie name (created if missing)"),
        ("format" = String, Query, description = "csv or ndjson"),
        ("key_columns" = Option<String>, Query, description = "CSV: comma-separated columns whose cells become keys"),
        ("value_column" = Option<String>, Query, description = "CSV: the value column (numbers stay numbers)"),
        ("score_column" = Option<String>, Query, description = "CSV: the column of each record's score (a finite number, or empty for none)")),
    request_body(content = String, description = "The file, streamed (no 16 MiB limit). CSV needs a header row; NDJSON lines are {\"keys\": [..], \"value\": V, \"score\": S}, score optional", content_type = "text/csv"),
    responses((status = 202, description = "{\"job\": id}; follow it at /v1/jobs/{id}"),
        (status = 400, description = "invalid_name | invalid_query")))]
pub async fn import_start(
    State(state): State<AppState>,
    params: Segments,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let trie = super::segment_name(&params, "trie")?;
    // A request without a body (no length and no chunked encoding, a
    // length of 0, or an HTTP/2 stream already ended) has no file to import.
    if validate::content_length(&headers) == Some(0) || axum::body::HttpBody::is_end_stream(&body) {
        return Err(ApiError::empty_body("an import needs the file as its body"));
    }
    let mut format = None;
    let (mut key_columns, mut value_column, mut score_column) = (None, None, None);
    for (k, v) in validate::query_params(query.as_deref()) {
        let v = v
            .map_err(|e| ApiError::invalid_query(format!("{k} is {e}")))?
            .into_owned();
        match &*k {
            "format" => format = Some(v),
            "key_columns" => key_columns = Some(v),
            "value_column" => value_column = Some(v),
            "score_column" => score_column = Some(v),
            _ => {}
        }
    }
    let format = match format.as_deref() {
        Some("csv") => Format::Csv,
        Some("ndjson") => Format::Ndjson,
        Some(other) => {
            return Err(ApiError::invalid_query(format!(
                "format must be csv or ndjson, got {other:?}"
            )))
        }
        None => {
            return Err(ApiError::invalid_query(
                "format=csv or format=ndjson is required",
            ))
        }
    };
    if score_column.as_deref() == Some("") {
        return Err(ApiError::invalid_query(
            "score_column must name a column (leave it out for no scores)",
        ));
    }
    let spec = match format {
        Format::Csv => {
            let keys: Vec<String> = key_columns
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if keys.is_empty() {
                return Err(ApiError::invalid_query(
                    "CSV imports need key_columns=a,b,...",
                ));
            }
            let value_column = value_column
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ApiError::invalid_query("CSV imports need value_column=..."))?;
            Spec {
                format,
                key_columns: keys,
                value_column,
                score_column,
            }
        }
        // An NDJSON line carries its own "score".
        Format::Ndjson => Spec {
            format,
            key_columns: Vec::new(),
            value_column: String::new(),
            score_column: None,
        },
    };
    let job = state.jobs.create(trie, format);
    let id = job.id;
    let db = state.db.clone();
    tokio::spawn(crate::import::pool::run(
        job,
        spec,
        db,
        body.into_data_stream(),
        state.jobs.slot(),
        state.jobs.idle(),
    ));
    Ok((StatusCode::ACCEPTED, Json(json!({ "job": id }))).into_response())
}

/// `GET /v1/jobs`
#[utoipa::path(get, path = "/v1/jobs", tag = "import",
    responses((status = 200, description = "{\"jobs\": [job, ...]}, the last 100, oldest first")))]
pub async fn jobs_list(State(state): State<AppState>) -> Response {
    let jobs: Vec<_> = state.jobs.list().iter().map(|j| j.view()).collect();
    Json(json!({ "jobs": jobs })).into_response()
}

/// `GET /v1/jobs/{id}`
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "import",
    params(("id" = u64, Path, description = "Job id")),
    responses((status = 200, description = "{\"id\", \"state\": queued|running|done|failed, \"records\", \"entries_added\", \"bytes_read\", \"errors\": [{\"line\", \"message\"}], ...}"),
        (status = 404, description = "not_found")))]
pub async fn job_get(
    State(state): State<AppState>,
    params: Segments,
) -> Result<Response, ApiError> {
    let raw = super::segment_job(&params);
    let job = raw
        .parse::<u64>()
        .ok()
        .and_then(|id| state.jobs.get(id))
        .ok_or_else(|| ApiError::missing(format!("job {raw}")))?;
    Ok(Json(job.view()).into_response())
}
