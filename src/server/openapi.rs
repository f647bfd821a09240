//! The OpenAPI document: the routes, methods and parameters come from the
//! handlers' `#[utoipa::path]` annotations (through utoipa-axum, which also
//! builds the router, so the two cannot drift); the exact shapes come from
//! here: typed request and response bodies, the name, key and query rules
//! as patterns and lengths, and every status each route can answer with its
//! error body. A generated client gets typed models from it, and a
//! schema-driven fuzzer (schemathesis, run by `.ci/run`) finds no request
//! the server answers differently from what it says.

use serde_json::{json, Map, Value as Json};

use crate::limits::{MAX_BATCH, MAX_KEY_BYTES, MAX_LIMIT, MAX_NAME_BYTES};

/// What a route answers on success: a status and a body.
enum Ok {
    Json(u16, &'static str),
    /// 201 when the request created something, 200 when it was there.
    Created(&'static str),
    Empty(u16),
    Text(&'static str),
}

/// The exact contract of one operation.
struct Contract {
    method: &'static str,
    path: &'static str,
    /// The JSON request body's schema, and whether it may be absent.
    body: Option<(&'static str, bool)>,
    ok: Ok,
    /// Statuses besides the ones every operation can answer.
    errors: &'static [u16],
}

/// Answered by any operation: a malformed request (400), a `Host` refused
/// on a loopback server (403), a request line or headers too large (414,
/// 431).
const ANY: &[u16] = &[400, 403, 414, 431];
/// Answered by any write besides [`ANY`]: no token (401), a timeout before
/// (408) or after (504) the write was queued, a reused idempotency key
/// (422), a body over the limits (413), storage refusing or the server
/// overloaded or stopping (503), a full disk (507).
const WRITE: &[u16] = &[401, 408, 413, 422, 503, 504, 507];

const CONTRACTS: &[Contract] = &[
    Contract {
        method: "get",
        path: "/v1/tries",
        body: None,
        ok: Ok::Json(200, "TrieList"),
        errors: &[],
    },
    Contract {
        method: "get",
        path: "/v1/tries/{trie}",
        body: None,
        ok: Ok::Json(200, "TrieInfo"),
        errors: &[404],
    },
    Contract {
        method: "put",
        path: "/v1/tries/{trie}",
        body: Some(("TrieSettings", true)),
        ok: Ok::Created("TrieInfo"),
        errors: &[409, 415],
    },
    Contract {
        method: "delete",
        path: "/v1/tries/{trie}",
        body: None,
        ok: Ok::Empty(204),
        errors: &[404],
    },
    Contract {
        method: "post",
        path: "/v1/tries/{trie}/entries",
        body: Some(("EntriesBody", false)),
        ok: Ok::Json(200, "Added"),
        errors: &[409, 415],
    },
    Contract {
        method: "post",
        path: "/v1/tries/{trie}/remove",
        body: Some(("RemoveBody", false)),
        ok: Ok::Json(200, "Removed"),
        errors: &[404, 415],
    },
    Contract {
        method: "get",
        path: "/v1/tries/{trie}/keys/{key}",
        body: None,
        ok: Ok::Json(200, "KeyValues"),
        errors: &[404],
    },
    Contract {
        method: "delete",
        path: "/v1/tries/{trie}/keys/{key}",
        body: None,
        ok: Ok::Json(200, "Removed"),
        errors: &[404],
    },
    Contract {
        method: "get",
        path: "/v1/tries/{trie}/suggest",
        body: None,
        ok: Ok::Json(200, "SuggestAnswer"),
        errors: &[404],
    },
    Contract {
        method: "post",
        path: "/v1/tries/{trie}/import",
        body: None,
        ok: Ok::Json(202, "JobStarted"),
        errors: &[409],
    },
    Contract {
        method: "post",
        path: "/v1/stacks/{stack}/push",
        body: Some(("PushBody", false)),
        ok: Ok::Json(200, "StackLen"),
        errors: &[409, 415],
    },
    Contract {
        method: "post",
        path: "/v1/stacks/{stack}/pop",
        body: None,
        ok: Ok::Json(200, "Popped"),
        errors: &[404],
    },
    Contract {
        method: "get",
        path: "/v1/stacks/{stack}",
        body: None,
        ok: Ok::Json(200, "StackInfo"),
        errors: &[404],
    },
    Contract {
        method: "delete",
        path: "/v1/stacks/{stack}",
        body: None,
        ok: Ok::Empty(204),
        errors: &[404],
    },
    Contract {
        method: "put",
        path: "/v1/caches/{cache}/keys/{key}",
        body: Some(("CacheSetBody", false)),
        ok: Ok::Json(200, "CacheValue"),
        errors: &[409, 415],
    },
    Contract {
        method: "get",
        path: "/v1/caches/{cache}/keys/{key}",
        body: None,
        ok: Ok::Json(200, "CacheValue"),
        errors: &[404],
    },
    Contract {
        method: "delete",
        path: "/v1/caches/{cache}/keys/{key}",
        body: None,
        ok: Ok::Empty(204),
        errors: &[404],
    },
    Contract {
        method: "post",
        path: "/v1/caches/{cache}/keys/{key}/incr",
        body: Some(("IncrBody", true)),
        ok: Ok::Json(200, "CacheValue"),
        errors: &[409, 415],
    },
    Contract {
        method: "get",
        path: "/v1/caches/{cache}",
        body: None,
        ok: Ok::Json(200, "CacheInfo"),
        errors: &[404],
    },
    Contract {
        method: "delete",
        path: "/v1/caches/{cache}",
        body: None,
        ok: Ok::Empty(204),
        errors: &[404],
    },
    Contract {
        method: "get",
        path: "/v1/jobs",
        body: None,
        ok: Ok::Json(200, "JobList"),
        errors: &[],
    },
    Contract {
        method: "get",
        path: "/v1/jobs/{id}",
        body: None,
        ok: Ok::Json(200, "Job"),
        errors: &[404],
    },
    Contract {
        method: "get",
        path: "/v1/cluster",
        body: None,
        ok: Ok::Json(200, "Cluster"),
        errors: &[],
    },
    Contract {
        method: "get",
        path: "/healthz",
        body: None,
        ok: Ok::Json(200, "Health"),
        errors: &[503],
    },
    Contract {
        method: "get",
        path: "/v1/openapi.json",
        body: None,
        ok: Ok::Json(200, "OpenApiDocument"),
        errors: &[],
    },
    Contract {
        method: "get",
        path: "/metrics",
        body: None,
        ok: Ok::Text("application/openmetrics-text"),
        errors: &[],
    },
    Contract {
        method: "get",
        path: "/",
        body: None,
        ok: Ok::Text("text/html"),
        errors: &[],
    },
];

fn reference(name: &str) -> Json {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Any JSON value but `null`: what a trie or stack stores.
fn stored_value() -> Json {
    json!({
        "description": "Any JSON value but null, at most 4096 bytes once serialized canonically (object keys sorted, no whitespace).",
        "not": { "type": "null" }
    })
}

fn key_schema() -> Json {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_BYTES,
        "description": format!("Any non-empty UTF-8 text of at most {MAX_KEY_BYTES} bytes.")
    })
}

fn int64() -> Json {
    json!({ "type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX })
}

fn object(properties: Json, required: &[&str]) -> Json {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
    })
}

/// The component schemas.
fn schemas() -> Map<String, Json> {
    let count = || json!({ "type": "integer", "minimum": 0 });
    let score = |what: &str| json!({ "type": "number", "format": "double", "description": what });
    let mut entry = object(
        json!({
            "key": key_schema(),
            "value": stored_value(),
            "score": score("Sets the pair's score. A finite number (a number past ±1.8e308 is refused as invalid_score). Not with incr."),
            "incr": score("Adds to the pair's score (a new pair starts from 0). The sum must stay finite, or the batch is refused as invalid_score. Not with score."),
        }),
        &["key", "value"],
    );
    entry["not"] = json!({ "required": ["score", "incr"] });
    let scored_entry = object(
        json!({
            "key": key_schema(),
            "value": stored_value(),
            "score": score("The pair's score (0 unless set). An integral score below 2^53 in magnitude is written as an integer, any other as the shortest decimal that reads back as the same double."),
            "distance": { "type": "integer", "minimum": 0, "maximum": 2, "description": "The typo distance of the match; present when fuzzy is not 0." },
            "highlight": { "type": "array", "items": { "type": "integer", "minimum": 0 }, "minItems": 2, "maxItems": 2, "description": "[start, end]: the span of the key, in code points, that matched the query." }
        }),
        &["key", "value", "score", "highlight"],
    );
    let fold = json!({ "type": "string", "enum": ["none", "case", "full"], "description": "none: bytes as given; case: Unicode full case folding; full: NFKC, case folding, then nonspacing marks removed." });
    let job_state = json!({ "type": "string", "enum": ["queued", "running", "done", "failed"] });
    let job = object(
        json!({
            "id": count(),
            "trie": { "type": "string" },
            "format": { "type": "string", "enum": ["csv", "ndjson"] },
            "state": job_state,
            "records": count(),
            "entries_added": count(),
            "bytes_read": count(),
            "error_count": count(),
            "errors": { "type": "array", "items": object(json!({ "line": count(), "message": { "type": "string" } }), &["line", "message"]) },
            "failure": { "type": "string", "description": "Why a failed job stopped." }
        }),
        &[
            "id",
            "trie",
            "format",
            "state",
            "records",
            "entries_added",
            "bytes_read",
            "error_count",
            "errors",
        ],
    );
    let trie_summary = object(
        json!({ "name": reference("Name"), "keys": count(), "entries": count() }),
        &["name", "keys", "entries"],
    );
    let node = object(
        json!({
            "url": { "type": "string" },
            "position": count(),
            "lag": { "type": "integer", "minimum": 0, "description": "committed - position, in groups." },
            "seen_secs_ago": { "type": "number", "minimum": 0 },
            "alive": { "type": "boolean" },
            "writer": { "type": "boolean" }
        }),
        &["url", "position", "lag", "seen_secs_ago", "alive", "writer"],
    );
    let cluster = object(
        json!({
            "mode": { "type": "string", "enum": ["cluster", "standalone"] },
            "this": { "type": ["string", "null"], "description": "This node's advertised URL." },
            "role": { "type": "string", "enum": ["writer", "follower"] },
            "writer": { "type": ["string", "null"], "description": "The writer's advertised URL." },
            "epoch": count(),
            "position": { "type": "integer", "minimum": 0, "description": "The position this node has applied." },
            "committed": count(),
            "nodes": { "type": "array", "items": node }
        }),
        &[
            "mode",
            "this",
            "role",
            "writer",
            "epoch",
            "position",
            "committed",
            "nodes",
        ],
    );
    let all = json!({
        "Name": {
            "type": "string",
            "pattern": format!("^[A-Za-z0-9_-]{{1,{MAX_NAME_BYTES}}}$"),
            "description": "A trie, stack or cache name."
        },
        "Key": key_schema(),
        "StoredValue": stored_value(),
        "Error": object(
            json!({ "error": object(json!({
                "code": { "type": "string", "description": "Stable snake_case code; see docs/api.md." },
                "message": { "type": "string", "description": "For a person." }
            }), &["code", "message"]) }),
            &["error"],
        ),
        "Entry": entry,
        "EntriesBody": object(
            json!({ "entries": { "type": "array", "maxItems": MAX_BATCH, "items": reference("Entry") } }),
            &["entries"],
        ),
        "RemoveBody": object(
            json!({ "entries": { "type": "array", "maxItems": MAX_BATCH, "items": object(
                json!({ "key": key_schema(), "value": stored_value() }),
                &["key"],
            ) } }),
            &["entries"],
        ),
        "PushBody": object(json!({ "value": stored_value() }), &["value"]),
        "CacheSetBody": object(json!({ "value": int64() }), &["value"]),
        "IncrBody": object(json!({ "by": int64() }), &[]),
        "Added": object(
            json!({
                "added": count(),
                "updated": count(),
                "unchanged": count(),
                "existing": { "type": "integer", "minimum": 0, "description": "updated + unchanged." }
            }),
            &["added", "updated", "unchanged", "existing"],
        ),
        "Removed": object(json!({ "removed": count() }), &["removed"]),
        "KeyValues": object(
            json!({
                "key": key_schema(),
                "values": { "type": "array", "items": stored_value() },
                "scores": { "type": "array", "items": { "type": "number", "format": "double" }, "description": "Each value's score, in the order of values." }
            }),
            &["key", "values", "scores"],
        ),
        "ScoredEntry": scored_entry,
        "SuggestAnswer": object(
            json!({ "entries": { "type": "array", "items": reference("ScoredEntry") } }),
            &["entries"],
        ),
        "TrieSummary": trie_summary,
        "TrieList": object(json!({ "tries": { "type": "array", "items": reference("TrieSummary") } }), &["tries"]),
        "TrieInfo": object(
            json!({
                "name": reference("Name"), "keys": count(), "entries": count(), "version": count(),
                "fold": fold.clone(), "settings": reference("TrieSettings"),
                "bytes": { "type": "integer", "minimum": 0, "description": "The trie's heap bytes by the engine's own count: nodes, buckets and values (counted once per version)." },
                "process_rss_bytes": { "type": ["integer", "null"], "minimum": 0, "description": "The server process's resident memory (RSS) in bytes; null where the platform does not report it." }
            }),
            &["name", "keys", "entries", "version", "fold", "settings", "bytes", "process_rss_bytes"],
        ),
        "TrieSettings": {
            "type": "object",
            "properties": { "fold": fold },
            "additionalProperties": false
        },
        "StackLen": object(json!({ "len": count() }), &["len"]),
        "Popped": object(json!({ "value": stored_value(), "len": count() }), &["value", "len"]),
        "StackInfo": object(
            json!({ "name": reference("Name"), "len": count(), "top": { "description": "The top value, or null when the stack is empty." } }),
            &["name", "len", "top"],
        ),
        "CacheValue": object(json!({ "key": key_schema(), "value": int64() }), &["key", "value"]),
        "CacheInfo": object(json!({ "name": reference("Name"), "keys": count() }), &["name", "keys"]),
        "JobStarted": object(json!({ "job": count() }), &["job"]),
        "Job": job,
        "JobList": object(json!({ "jobs": { "type": "array", "items": reference("Job") } }), &["jobs"]),
        "Health": object(json!({ "status": { "type": "string", "enum": ["ok"] } }), &["status"]),
        "Cluster": cluster,
        "OpenApiDocument": { "type": "object", "description": "This document." }
    });
    match all {
        Json::Object(m) => m,
        _ => unreachable!("an object literal"),
    }
}

/// The schema of a parameter, by name.
fn parameter_schema(name: &str) -> Option<Json> {
    Some(match name {
        "trie" | "stack" | "cache" => reference("Name"),
        "key" => reference("Key"),
        "id" => json!({ "type": "integer", "minimum": 0 }),
        "q" => json!({ "type": "string", "maxLength": MAX_KEY_BYTES }),
        "limit" => json!({ "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 10 }),
        "order" => json!({ "type": "string", "enum": ["key", "score"], "default": "key" }),
        "dedupe" => json!({ "type": "string", "enum": ["none", "value"], "default": "none" }),
        "fuzzy" => json!({ "type": "string", "enum": ["0", "1", "2", "auto"], "default": "0" }),
        "format" => json!({ "type": "string", "enum": ["csv", "ndjson"] }),
        "key_columns" | "value_column" | "score_column" => {
            json!({ "type": "string", "minLength": 1 })
        }
        _ => return None,
    })
}

fn error_response(status: u16) -> Json {
    let why = match status {
        400 => "Bad input (the code says which: invalid_name, invalid_key, invalid_value, invalid_score, invalid_limit, invalid_query, invalid_json, overflow, ...); nothing changed.",
        401 => "The server has a token and the request lacks it (unauthorized).",
        403 => "forbidden_origin (a write from another origin) or forbidden_host (a foreign Host on a loopback server).",
        404 => "not_found (or empty, for a pop).",
        408 => "timeout: the write took too long before it was queued; nothing was applied.",
        409 => "resource_limit: creating one more trie, stack or cache would pass the server's cap; settings_conflict: the trie exists with other settings.",
        413 => "payload_too_large: a body over 16 MiB or a batch over 100,000 entries.",
        414 => "uri_too_long: the request line is over 64 KiB.",
        415 => "unsupported_media_type: the body is not sent as application/json.",
        422 => "idempotency_key_reused: the Idempotency-Key was used with another request.",
        431 => "headers_too_large.",
        503 => "storage_unavailable, storage_failed, overloaded or unavailable (shutting down); retry later.",
        504 => "outcome_unknown: the write timed out after it was queued; it may have been applied.",
        507 => "insufficient_storage: the disk is full; nothing was applied.",
        _ => "An error.",
    };
    json!({
        "description": why,
        "content": { "application/json": { "schema": reference("Error") } }
    })
}

/// Rewrites the generated document (as JSON) with the exact contracts.
pub(crate) fn exact(mut doc: Json) -> Json {
    doc["info"] = json!({
        "title": "typeahead",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Suggest-as-you-type over named tries, with stacks and caches. v1 API. \
            Writes may carry an Idempotency-Key header (1 to 255 visible ASCII characters) so that a \
            retry is applied once; a server started with --token needs Authorization: Bearer on writes. \
            docs/api.md has every rule, with transcripts.",
        "license": { "name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0" }
    });
    doc["components"] = json!({ "schemas": schemas() });
    for c in CONTRACTS {
        let Some(op) = doc.pointer_mut(&format!(
            "/paths/{}/{}",
            c.path.replace('~', "~0").replace('/', "~1"),
            c.method
        )) else {
            continue;
        };
        if let Some(params) = op.get_mut("parameters").and_then(Json::as_array_mut) {
            for p in params {
                let name = p["name"].as_str().unwrap_or_default().to_owned();
                if let Some(schema) = parameter_schema(&name) {
                    p["schema"] = schema;
                }
                if name == "key" {
                    p["description"] = json!("The key, percent-encoded as one path segment.");
                }
            }
        }
        match c.body {
            Some((schema, optional)) => {
                op["requestBody"] = json!({
                    "required": !optional,
                    "content": { "application/json": { "schema": reference(schema) } }
                });
            }
            None if c.path.ends_with("/import") => {
                op["requestBody"] = json!({
                    "required": true,
                    "description": "The file, streamed: CSV with a header row, or NDJSON lines {\"keys\": [...], \"value\": V, \"score\": S} (score optional).",
                    "content": {
                        "text/csv": { "schema": { "type": "string", "format": "binary" } },
                        "application/x-ndjson": { "schema": { "type": "string", "format": "binary" } }
                    }
                });
            }
            None => {
                if let Some(o) = op.as_object_mut() {
                    o.remove("requestBody");
                }
            }
        }
        let mut responses = Map::new();
        match c.ok {
            Ok::Json(status, schema) => {
                responses.insert(
                    status.to_string(),
                    json!({
                        "description": "Success.",
                        "content": { "application/json": { "schema": reference(schema) } }
                    }),
                );
            }
            Ok::Created(schema) => {
                for (status, what) in [
                    ("200", "It exists with these settings."),
                    ("201", "Created."),
                ] {
                    responses.insert(
                        status.into(),
                        json!({
                            "description": what,
                            "content": { "application/json": { "schema": reference(schema) } }
                        }),
                    );
                }
            }
            Ok::Empty(status) => {
                responses.insert(
                    status.to_string(),
                    json!({ "description": "Done; no body." }),
                );
            }
            Ok::Text(content_type) => {
                responses.insert(
                    "200".into(),
                    json!({
                        "description": "Success.",
                        "content": { content_type: { "schema": { "type": "string" } } }
                    }),
                );
            }
        }
        let writes = c.method != "get";
        let mut statuses: Vec<u16> = ANY.to_vec();
        if writes {
            statuses.extend_from_slice(WRITE);
        }
        statuses.extend_from_slice(c.errors);
        statuses.sort_unstable();
        statuses.dedup();
        for status in statuses {
            responses.insert(status.to_string(), error_response(status));
        }
        op["responses"] = Json::Object(responses);
    }
    doc
}
