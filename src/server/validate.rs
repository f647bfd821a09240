//! Input rules of the v1 API: names, keys, values, limits, JSON bodies.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::Value as Json;
use std::borrow::Cow;

use super::error::ApiError;
use crate::db::{ScoreOp, ScoredEntry};
pub(crate) use crate::limits::{DEFAULT_LIMIT, MAX_BATCH, MAX_BODY, MAX_KEY_BYTES, MAX_LIMIT};
use crate::value::{Value, ValueError};

/// The request's declared `Content-Length`, if it has a valid one.
pub(crate) fn content_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// A trie, stack or cache name: 1 to 64 of `A-Z a-z 0-9 _ -`.
pub fn name(kind: &str, s: impl AsRef<str> + Into<String>) -> Result<String, ApiError> {
    let t = s.as_ref();
    let ok = (1..=64).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(s.into())
    } else {
        Err(ApiError::invalid_name(format!(
            "{kind} name {:?} is invalid: use 1 to 64 characters of A-Z a-z 0-9 _ -",
            s.as_ref()
        )))
    }
}

/// A trie key: non-empty UTF-8, at most 1024 bytes.
pub fn key(s: impl AsRef<str> + Into<String>) -> Result<String, ApiError> {
    let t = s.as_ref();
    if t.is_empty() {
        return Err(ApiError::invalid_key("key must not be empty"));
    }
    if t.len() > MAX_KEY_BYTES {
        return Err(ApiError::invalid_key(format!(
            "key is {} bytes; the limit is {MAX_KEY_BYTES}",
            t.len()
        )));
    }
    Ok(s.into())
}

/// A key from JSON: must be a string. `at` names the place in errors (built
/// only when there is one).
pub fn json_key(v: Option<&Json>, at: impl Fn() -> String) -> Result<String, ApiError> {
    match v {
        Some(Json::String(s)) => {
            key(s).map_err(|e| ApiError::invalid_key(format!("{}: {}", at(), e.message)))
        }
        Some(_) => Err(ApiError::invalid_key(format!(
            "{}: key must be a string",
            at()
        ))),
        None => Err(ApiError::invalid_key(format!("{}: key is missing", at()))),
    }
}

/// A stored value from JSON: anything but null, at most 4096 bytes canonical.
pub fn json_value(v: Option<&Json>, at: impl Fn() -> String) -> Result<Value, ApiError> {
    let v = v.ok_or_else(|| ApiError::invalid_value(format!("{}: value is missing", at())))?;
    Value::from_json(v).map_err(|e| match e {
        ValueError::Null => ApiError::invalid_value(format!("{}: value must not be null", at())),
        other => ApiError::invalid_value(format!("{}: {other}", at())),
    })
}

/// A batch body, `{"entries": [{"key": K, "value": V}, ...]}`, checked
/// entry by entry (every error names its entry). With `value_required`
/// false an entry may be `{"key": K}` alone (a value of `None`).
pub fn batch(body: &Json, value_required: bool) -> Result<Vec<(String, Option<Value>)>, ApiError> {
    let list = entries(body)?;
    let mut out = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let at = || format!("entries[{i}]");
        let obj = e
            .as_object()
            .ok_or_else(|| ApiError::invalid_json(format!("{} must be an object", at())))?;
        let key = json_key(obj.get("key"), at)?;
        let value = match obj.get("value") {
            None if !value_required => None,
            v => Some(json_value(v, at)?),
        };
        out.push((key, value));
    }
    Ok(out)
}

/// An add batch, `{"entries": [{"key": K, "value": V, "score": S | "incr":
/// D}, ...]}`: each entry may set its pair's score or add to it, not both.
pub fn scored_batch(body: &Json) -> Result<Vec<ScoredEntry>, ApiError> {
    let list = entries(body)?;
    let mut out = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let at = || format!("entries[{i}]");
        let obj = e
            .as_object()
            .ok_or_else(|| ApiError::invalid_json(format!("{} must be an object", at())))?;
        let key = json_key(obj.get("key"), at)?;
        let value = json_value(obj.get("value"), at)?;
        let score = match (obj.get("score"), obj.get("incr")) {
            (None, None) => None,
            (Some(s), None) => Some(ScoreOp::Set(json_score(s, "score", at)?)),
            (None, Some(d)) => Some(ScoreOp::Incr(json_score(d, "incr", at)?)),
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_score(format!(
                    "{}: give score or incr, not both",
                    at()
                )))
            }
        };
        out.push(ScoredEntry { key, value, score });
    }
    Ok(out)
}

/// A score or an increment: a JSON number an `f64` holds (every JSON
/// number but those past ±1.8e308, which the body parser keeps as text).
fn json_score(v: &Json, field: &str, at: impl Fn() -> String) -> Result<f64, ApiError> {
    let what = match v {
        Json::Number(n) => match n.as_f64().filter(|f| f.is_finite()) {
            Some(f) => return Ok(f),
            None => format!("{n} is not a finite number"),
        },
        Json::String(s) => match s.strip_prefix(super::bounded::OUT_OF_RANGE) {
            Some(n) => format!("{n} is out of the range of a 64-bit float (±1.8e308)"),
            None => "must be a number, got a string".to_owned(),
        },
        Json::Null => "must be a number, got null".to_owned(),
        Json::Bool(_) => "must be a number, got a boolean".to_owned(),
        Json::Array(_) => "must be a number, got an array".to_owned(),
        Json::Object(_) => "must be a number, got an object".to_owned(),
    };
    Err(ApiError::invalid_score(format!("{}: {field} {what}", at())))
}

/// A cache value: a signed 64-bit integer.
pub fn json_i64(v: Option<&Json>, field: &str) -> Result<i64, ApiError> {
    match v {
        Some(Json::Number(n)) => n.as_i64().ok_or_else(|| {
            ApiError::invalid_value(format!("{field} must be a signed 64-bit integer, got {n}"))
        }),
        Some(other) => Err(ApiError::invalid_value(format!(
            "{field} must be a signed 64-bit integer, got {other}"
        ))),
        None => Err(ApiError::invalid_value(format!("{field} is missing"))),
    }
}

/// `limit`: 1 to 1000, default 10.
pub fn limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid_limit(format!(
            "limit must be an integer from 1 to {MAX_LIMIT}, got {raw:?}"
        ))),
    }
}

/// Decodes a percent-encoded path segment into UTF-8.
pub fn decode_segment(raw: &str) -> Result<Cow<'_, str>, String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| format!("{raw:?} is not percent-encoded UTF-8"))
}

/// A decoded query parameter: its name, and its value or why it is not UTF-8.
pub type QueryParam<'a> = (Cow<'a, str>, Result<Cow<'a, str>, String>);

/// Query parameters, form-decoded (`+` is a space). A parameter that is not
/// UTF-8 is kept as `Err` so the caller can say which one is wrong.
pub fn query_params(raw: Option<&str>) -> impl Iterator<Item = QueryParam<'_>> {
    // Borrowed unless decoding changes something: the suggest route reads
    // its two parameters on every keystroke.
    fn dec(s: &str) -> Result<Cow<'_, str>, String> {
        let bad = |_| "not percent-encoded UTF-8".to_string();
        if s.contains('+') {
            let spaced = s.replace('+', " ");
            let decoded = percent_encoding::percent_decode_str(&spaced)
                .decode_utf8()
                .map_err(bad)?;
            Ok(Cow::Owned(decoded.into_owned()))
        } else {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map_err(bad)
        }
    }
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (dec(k).unwrap_or_default(), dec(v))
        })
}

/// A JSON request body: checks the content type (415), the size (413) and
/// the syntax (400 `invalid_json`), and gives the parsed document. Fields
/// are then checked one by one, so every error names the field.
pub struct JsonBody(pub Json);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state, false).await?;
        Ok(JsonBody(parse(&bytes)?))
    }
}

/// Like [`JsonBody`], but an empty body (with any or no content type) is
/// `None`.
pub struct OptionalJsonBody(pub Option<Json>);

impl<S: Send + Sync> FromRequest<S> for OptionalJsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state, true).await?;
        if bytes.is_empty() {
            return Ok(OptionalJsonBody(None));
        }
        Ok(OptionalJsonBody(Some(parse(&bytes)?)))
    }
}

async fn body_bytes<S: Send + Sync>(
    req: Request,
    state: &S,
    empty_ok: bool,
) -> Result<Bytes, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    let declared_empty = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0");
    if !is_json
        && !(empty_ok && (declared_empty || !req.headers().contains_key(header::CONTENT_TYPE)))
    {
        return Err(ApiError::unsupported_media_type());
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large("the request body is over 16 MiB")
        } else {
            ApiError::invalid_json(format!("could not read the body: {rejection}"))
        }
    })?;
    if !is_json && !bytes.is_empty() {
        return Err(ApiError::unsupported_media_type());
    }
    Ok(bytes)
}

fn parse(bytes: &[u8]) -> Result<Json, ApiError> {
    super::bounded::parse(bytes).map_err(|e| {
        if e.to_string().starts_with(super::bounded::TOO_LONG) {
            ApiError::payload_too_large(format!(
                "a batch holds at most {MAX_BATCH} entries; this one has more"
            ))
        } else {
            ApiError::invalid_json(format!("body is not valid JSON: {e}"))
        }
    })
}

/// The body must be an object; gives it.
pub fn object(body: &Json) -> Result<&serde_json::Map<String, Json>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::invalid_json("body must be a JSON object"))
}

/// `entries` of a batch body: an array of objects, at most [`MAX_BATCH`].
pub fn entries(body: &Json) -> Result<&Vec<Json>, ApiError> {
    let list = object(body)?
        .get("entries")
        .ok_or_else(|| ApiError::invalid_json("body must have an \"entries\" array"))?
        .as_array()
        .ok_or_else(|| ApiError::invalid_json("\"entries\" must be an array"))?;
    if list.len() > MAX_BATCH {
        return Err(ApiError::payload_too_large(format!(
            "a batch holds at most {MAX_BATCH} entries, got {}",
            list.len()
        )));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name("trie", "users_2-x").is_ok());
        assert!(name("trie", "a".repeat(64)).is_ok());
        for bad in ["", "a b", "é", "a/b", &"a".repeat(65)] {
            assert_eq!(
                name("trie", bad).unwrap_err().code,
                "invalid_name",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn limits() {
        assert_eq!(limit(None).unwrap(), 10);
        assert_eq!(limit(Some("1000")).unwrap(), 1000);
        for bad in ["0", "1001", "-1", "x", "", "1.5"] {
            assert_eq!(limit(Some(bad)).unwrap_err().code, "invalid_limit");
        }
    }

    #[test]
    fn scores_and_increments() {
        let body = |entry: &str| {
            let text = format!(r#"{{"entries":[{{"key":"k","value":1}},{entry}]}}"#);
            scored_batch(&super::super::bounded::parse(text.as_bytes()).unwrap())
        };
        let op = |entry: &str| body(entry).unwrap()[1].score;
        assert_eq!(op(r#"{"key":"k","value":2}"#), None);
        assert_eq!(
            op(r#"{"key":"k","value":2,"score":42}"#),
            Some(ScoreOp::Set(42.0))
        );
        assert_eq!(
            op(r#"{"key":"k","value":2,"score":-0.5}"#),
            Some(ScoreOp::Set(-0.5))
        );
        assert_eq!(
            op(r#"{"key":"k","value":2,"incr":1e308}"#),
            Some(ScoreOp::Incr(1e308))
        );
        assert_eq!(
            op(r#"{"key":"k","value":2,"score":18446744073709551616}"#),
            Some(ScoreOp::Set(18446744073709551616.0))
        );
        for (bad, says) in [
            (
                r#"{"key":"k","value":2,"score":1,"incr":1}"#,
                "entries[1]: give score or incr, not both",
            ),
            (
                r#"{"key":"k","value":2,"score":"1"}"#,
                "entries[1]: score must be a number, got a string",
            ),
            (
                r#"{"key":"k","value":2,"incr":null}"#,
                "entries[1]: incr must be a number, got null",
            ),
            (
                r#"{"key":"k","value":2,"score":[1]}"#,
                "entries[1]: score must be a number, got an array",
            ),
            (
                r#"{"key":"k","value":2,"score":true}"#,
                "entries[1]: score must be a number, got a boolean",
            ),
            (
                r#"{"key":"k","value":2,"score":{}}"#,
                "entries[1]: score must be a number, got an object",
            ),
            (
                r#"{"key":"k","value":2,"score":1e400}"#,
                "entries[1]: score 1e400 is out of the range of a 64-bit float (±1.8e308)",
            ),
            (
                r#"{"key":"k","value":2,"incr":-2E+308}"#,
                "entries[1]: incr -2E+308 is out of the range of a 64-bit float (±1.8e308)",
            ),
        ] {
            let e = body(bad).unwrap_err();
            assert_eq!(
                (e.code, e.message.as_str()),
                ("invalid_score", says),
                "{bad}"
            );
        }
        // The key and value rules come first, as for a plain add.
        assert_eq!(
            body(r#"{"key":"","value":2,"score":"x"}"#)
                .unwrap_err()
                .code,
            "invalid_key"
        );
        assert_eq!(
            body(r#"{"key":"k","score":1}"#).unwrap_err().code,
            "invalid_value"
        );
    }

    #[test]
    fn query_decoding() {
        let q: Vec<_> = query_params(Some("q=a%2Fb+c&limit=5&x")).collect();
        assert_eq!(q[0], ("q".into(), Ok("a/b c".into())));
        assert_eq!(q[1], ("limit".into(), Ok("5".into())));
        assert!(query_params(Some("q=%FF")).next().unwrap().1.is_err());
    }
}
