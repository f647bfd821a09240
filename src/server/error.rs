//! [`ApiError`]: every error the API answers, as `{"error": {"code", "message"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::db::DbError;

/// An API error: a status, a stable snake_case code and a message for a person.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong and what to do about it.
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `invalid_json`.
    pub fn invalid_json(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", m)
    }
    /// 400 `invalid_name`.
    pub fn invalid_name(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_name", m)
    }
    /// 400 `invalid_key`.
    pub fn invalid_key(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_key", m)
    }
    /// 400 `invalid_value`.
    pub fn invalid_value(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_value", m)
    }
    /// 400 `invalid_limit`.
    pub fn invalid_limit(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_limit", m)
    }
    /// 400 `invalid_score`: a score or increment that is not a finite
    /// number, both in one entry, or an increment whose sum overflows.
    pub fn invalid_score(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_score", m)
    }
    /// 400 `invalid_query` (a malformed query parameter other than `q`/`limit`).
    pub fn invalid_query(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", m)
    }
    /// 503 `not_writer`: a write reached a node of a cluster that is not
    /// the writer and could not be forwarded; nothing was applied.
    pub fn not_writer() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_writer",
            "this node is not the writer and no writer could take the write (the cluster is changing writers); nothing was applied, send it again",
        )
    }
    /// 503 `commit_unknown`: the writer stopped answering a forwarded
    /// write after it was sent.
    pub fn forward_broken(writer: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "commit_unknown",
            format!("the writer at {writer} stopped answering this forwarded write: it may or may not have been kept; retry with the same Idempotency-Key to be safe"),
        )
    }
    /// 503 `position_not_reached`: a read asked for a position this node
    /// did not apply within the wait.
    pub fn position_not_reached(m: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "position_not_reached", m)
    }
    /// 400 `invalid_settings` (a trie's settings body).
    pub fn invalid_settings(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_settings", m)
    }
    /// 404 `not_found` for `what` ("trie t", "key \"k\" in cache c"): the
    /// one shape every lookup answers with, the writer's
    /// [`DbError::NotFound`] included.
    pub fn missing(what: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    /// 413 `payload_too_large`.
    pub fn payload_too_large(m: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", m)
    }
    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        )
    }
    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this server needs a token for writes: send Authorization: Bearer <token>",
        )
    }

    /// 503 `overloaded`: the request bodies in flight already fill the
    /// server's budget.
    pub fn overloaded(total: usize) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "request bodies in flight already fill the server's {} MiB budget; retry shortly",
                total >> 20
            ),
        )
    }

    /// 400 `empty_body`: a route that needs a body got none.
    pub fn empty_body(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "empty_body", m)
    }

    /// 400 `invalid_idempotency_key`.
    pub fn invalid_idempotency_key(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_idempotency_key", m)
    }

    /// 403 `forbidden_origin`: a write from a page on another origin.
    pub fn forbidden_origin() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "writes from a page on this Origin are refused; allow it with --cors-origin",
        )
    }

    /// 403 `forbidden_host`: a `Host` that is not this loopback server's
    /// (DNS rebinding).
    pub fn forbidden_host() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            "this server listens on a loopback address and answers only loopback host names; allow others with --allow-host",
        )
    }

    /// 504 `outcome_unknown`: the request timed out after its write was
    /// queued, so it may or may not have been applied.
    pub fn outcome_unknown() -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "outcome_unknown",
            "the request timed out after its write was queued: it may or may not have been applied; read back, or retry with the same Idempotency-Key",
        )
    }

    /// The store failed (a sync error): writes are refused until a restart.
    pub fn storage_failed() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_failed",
            "a sync of the log failed; the server refuses writes until it is restarted",
        )
    }

    /// The generic error for a status (used to give bodies to errors raised
    /// outside the handlers: timeouts, unknown routes, wrong methods).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such route; see /v1/openapi.json"),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "this route does not take that method; see /v1/openapi.json",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                ("payload_too_large", "the request body is over 16 MiB")
            }
            StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long and was stopped"),
            StatusCode::SERVICE_UNAVAILABLE => (
                "unavailable",
                "the server is overloaded or shutting down; retry",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                return Self::unsupported_media_type();
            }
            s if s.is_client_error() => ("bad_request", "the request is malformed"),
            _ => ("internal", "internal error; the server logged the details"),
        };
        Self::new(status, code, message)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound(what) => Self::missing(what),
            DbError::Empty(_) => Self::new(StatusCode::NOT_FOUND, "empty", e.to_string()),
            DbError::Overflow { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "overflow", e.to_string())
            }
            DbError::InvalidScore { .. } => Self::invalid_score(e.to_string()),
            DbError::Unavailable(ref detail) => {
                tracing::error!(%detail, "write refused by storage");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the write could not be made durable and was not applied; reads still work, retry later",
                )
            }
            DbError::OutcomeUnknown(ref detail) => {
                tracing::error!(%detail, "write outcome unknown: the sync failed");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_failed",
                    "a sync of the log failed: this write may or may not have been kept (a restart decides; retry with the same Idempotency-Key to be safe), and the server refuses writes until it is restarted",
                )
            }
            DbError::CommitUnknown(ref detail) => {
                tracing::error!(%detail, "write outcome unknown: the commit broke off");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "commit_unknown",
                    "the database connection broke during the commit: this write may or may not have been kept; retry with the same Idempotency-Key to be safe",
                )
            }
            DbError::NotWriter => Self::not_writer(),
            DbError::StorageFull(ref detail) => {
                tracing::warn!(%detail, "write refused: disk full");
                Self::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "insufficient_storage",
                    "the disk is full: the write was not applied; reads still work, and writes work again once space is free",
                )
            }
            DbError::SettingsConflict { .. } => {
                Self::new(StatusCode::CONFLICT, "settings_conflict", e.to_string())
            }
            DbError::IdempotencyKeyReused => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request (method, path or body); use a new key",
            ),
            DbError::TooMany { .. } => Self::new(StatusCode::CONFLICT, "resource_limit", e.to_string()),
            DbError::Internal => Self::for_status(StatusCode::INTERNAL_SERVER_ERROR),
            DbError::ShuttingDown => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server is shutting down",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut res = (self.status, body.to_string()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res
    }
}
