//! Meta routes (health, OpenAPI) and the demo: the page at `/` and the
//! bundled sample of users, each of a user's keys scored with the user's
//! follower count so that the page's ranked, deduplicated suggestions list
//! the most-followed people first, each once.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use crate::db::{Db, DbError};
#[cfg(feature = "users")]
use crate::db::{ScoreOp, ScoredEntry};

/// The demo page: plain HTML/JS/CSS, no build step, no network.
const INDEX_HTML: &str = include_str!("../../assets/index.html");

/// Users loaded by `serve --demo`.
#[cfg(feature = "users")]
pub const DEMO_USERS: usize = 50_000;

/// `GET /healthz`
///
/// 503 `storage_failed` once a sync of the log has failed: the server then
/// refuses every write until a restart, so a supervisor should restart it.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "{\"status\": \"ok\"}"), (status = 503, description = "The store failed; restart the server")))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    if state.db.failed() {
        return super::ApiError::storage_failed().into_response();
    }
    super::tries::json_response(r#"{"status":"ok"}"#.to_owned())
}

/// `GET /v1/openapi.json`
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", responses((status = 200, description = "This OpenAPI 3 document")))]
pub async fn openapi_get(State(state): State<AppState>) -> Response {
    let mut res = state
        .openapi
        .get()
        .cloned()
        .unwrap_or_default()
        .into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// `GET /`: the demo page.
#[utoipa::path(get, path = "/", tag = "meta",
    responses((status = 200, description = "The demo page: a search box over a trie (?trie=NAME, default users)", content_type = "text/html")))]
pub async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

/// [`load_demo`] on a node of a cluster: the writer loads the users when no
/// node has; a follower waits (at most 30 s) until it is the writer or sees
/// the trie.
pub async fn load_demo_in_cluster(
    db: &Db,
    status: &crate::store::pg::ClusterStatus,
) -> Result<(), DbError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if db.trie("users").is_some() {
            return Ok(());
        }
        if status.is_writer() {
            return load_demo(db).await;
        }
        let next = status.position() + 1;
        status
            .wait_for(next, std::time::Duration::from_millis(100))
            .await;
    }
    tracing::warn!("demo: no writer loaded the users within 30 s; serving without them");
    Ok(())
}

/// Without the `users` feature there is nothing to load: the demo page
/// still serves whatever trie "users" holds.
#[cfg(not(feature = "users"))]
pub async fn load_demo(_db: &Db) -> Result<(), DbError> {
    tracing::warn!("demo: built without the `users` feature; no users to load");
    Ok(())
}

/// Loads the bundled users into the trie "users" unless it already exists
/// (a data dir that has it keeps what it has), created with `fold: full`
/// so that "jose" finds "José" and "MAR" finds "Mary". Keys: first name,
/// last name, username, as written; value: `{"id", "name", "username"}`;
/// score: the user's follower count ([`crate::users::User::followers`]), the
/// same for all three keys, so that `order=score&dedupe=value` lists the
/// most-followed people first, each once.
#[cfg(feature = "users")]
pub async fn load_demo(db: &Db) -> Result<(), DbError> {
    if db.trie("users").is_some() {
        tracing::info!("demo: trie \"users\" exists, keeping it");
        return Ok(());
    }
    let started = std::time::Instant::now();
    db.create_trie("users".into(), crate::fold::Fold::Full)
        .await?;
    let writer = db.clone();
    tokio::task::spawn_blocking(move || -> Result<(), DbError> {
        let users = crate::users::generate(DEMO_USERS, 42);
        for chunk in users.chunks(10_000) {
            writer.add_scored_blocking("users".into(), demo_entries(chunk))?;
        }
        Ok(())
    })
    .await
    .expect("load the demo users")?;
    let stats = db.trie("users").map(|t| t.stats());
    tracing::info!(
        users = DEMO_USERS,
        entries = stats.map_or(0, |s| s.entries),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo: loaded users into trie \"users\""
    );
    Ok(())
}

/// The demo's three scored entries per user.
#[cfg(feature = "users")]
fn demo_entries(users: &[crate::users::User]) -> Vec<ScoredEntry> {
    let mut entries = Vec::with_capacity(users.len() * 3);
    for u in users {
        let value = crate::value::Value::from_json(&serde_json::json!({
            "id": u.id,
            "name": format!("{} {}", u.first, u.last),
            "username": u.username,
        }))
        .expect("demo values are small objects");
        for key in [u.first.clone(), u.last.clone(), u.username.clone()] {
            entries.push(ScoredEntry {
                key,
                value: value.clone(),
                score: Some(ScoreOp::Set(u.score())),
            });
        }
    }
    entries
}
