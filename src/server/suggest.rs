//! The suggest route, the hot path of every keystroke: query parsing
//! (`q`, `limit`, `order`, `dedupe`, `fuzzy`) and the answer written as
//! JSON bytes straight from one snapshot, each entry with its score, its
//! highlight and, for a typo-tolerant query, its distance.

use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;

use super::error::ApiError;
use super::tries::push_json_str;
use super::validate;
use super::{segment_name, AppState, Segments};
use crate::fold::Matcher;
use crate::trie::{Fuzzy, Order, SuggestOptions, Trie};
use crate::value::{push_score, Value};

/// The header that gives the server's time for a suggest, in microseconds.
pub(super) const RESPONSE_TIME: header::HeaderName =
    header::HeaderName::from_static("x-response-time-us");

/// `GET /v1/tries/{trie}/suggest?q=P&limit=N&order=key|score&dedupe=value|none&fuzzy=0|1|2|auto`
#[utoipa::path(get, path = "/v1/tries/{trie}/suggest", tag = "tries",
    params(("trie" = String, Path, description = "Trie name"),
        ("q" = Option<String>, Query, description = "Prefix; absent or empty means every key"),
        ("limit" = Option<usize>, Query, description = "1 to 1000, default 10"),
        ("order" = Option<String>, Query, description = "key (default): code point order of the keys, then the order values were added; score: highest score first, ties in key order"),
        ("dedupe" = Option<String>, Query, description = "none (default), or value: each distinct value once, at its best place in the order"),
        ("fuzzy" = Option<String>, Query, description = "0 (default), 1, 2 or auto: the typos a match may have (optimal string alignment distance to a prefix of the key, in code points); auto is 0 below 4 code points, 1 from 4, 2 from 8. Answers come by distance first")),
    responses((status = 200, description = "{\"entries\": [{\"key\": K, \"value\": V, \"score\": S, \"distance\": D, \"highlight\": [start, end]}, ...]}, distance only when fuzzy is not 0; header X-Response-Time-Us gives the server's time"),
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

/// `fuzzy`: `0`, `1`, `2` or `auto`.
fn fuzzy(raw: &str) -> Result<Fuzzy, ApiError> {
    match raw {
        "0" => Ok(Fuzzy::Distance(0)),
        "1" => Ok(Fuzzy::Distance(1)),
        "2" => Ok(Fuzzy::Distance(2)),
        "auto" => Ok(Fuzzy::Auto),
        _ => Err(ApiError::invalid_query(format!(
            "fuzzy must be 0, 1, 2 or auto, got {raw:?}"
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
            "fuzzy" => {
                let v = v.map_err(|e| ApiError::invalid_query(format!("fuzzy is {e}")))?;
                opts = opts.fuzzy(fuzzy(&v)?);
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
        let mut out = Vec::with_capacity(16 + limit * 80);
        out.extend_from_slice(b"{\"entries\":[");
        let matcher = Matcher::new(s.trie().fold(), &q);
        if opts == SuggestOptions::new() {
            write_in_key_order(&mut out, s.trie(), &matcher, &q, limit);
        } else {
            let found = s.trie().suggest_with(&q, limit, opts);
            for (i, (key, value, score)) in found.iter_scored().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"key\":");
                push_json_str(&mut out, key.as_bytes());
                push_entry_tail(&mut out, value, score);
                let distance = found.distance(i);
                if let Some(d) = distance {
                    out.extend_from_slice(b",\"distance\":");
                    out.extend_from_slice(itoa::Buffer::new().format(d).as_bytes());
                }
                push_highlight(&mut out, &matcher, key, distance.unwrap_or(0));
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
fn write_in_key_order(
    out: &mut Vec<u8>,
    trie: &Trie<Value>,
    matcher: &Matcher<'_>,
    q: &str,
    limit: usize,
) {
    let mut it = trie.iter_prefix(q);
    // A key is escaped and highlighted once, then repeated for each of its
    // values.
    let mut entry_head = Vec::new();
    let mut highlight = Vec::new();
    let mut n = 0;
    while n < limit {
        let Some((key, values)) = it.next_key() else {
            break;
        };
        entry_head.clear();
        entry_head.extend_from_slice(b"{\"key\":");
        push_json_str(&mut entry_head, key.as_bytes());
        highlight.clear();
        push_highlight(&mut highlight, matcher, key, 0);
        for (value, score) in values.scored().take(limit - n) {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&entry_head);
            push_entry_tail(out, value, score);
            out.extend_from_slice(&highlight);
            n += 1;
        }
    }
}

/// Appends `,"value":V,"score":S` (the entry stays open).
fn push_entry_tail(out: &mut Vec<u8>, value: &Value, score: f64) {
    out.extend_from_slice(b",\"value\":");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b",\"score\":");
    push_score(out, score);
}

/// Appends `,"highlight":[start,end]}`, closing the entry: the span of
/// `key` that matched at `distance`.
fn push_highlight(out: &mut Vec<u8>, matcher: &Matcher<'_>, key: &str, distance: u8) {
    let [start, end] = matcher
        .matched(key, distance)
        .map_or([0, 0], |m| m.highlight);
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(b",\"highlight\":[");
    out.extend_from_slice(buf.format(start).as_bytes());
    out.push(b',');
    out.extend_from_slice(buf.format(end).as_bytes());
    out.extend_from_slice(b"]}");
}
