//! The v1 API contract: every route, status code and error code, one module
//! per resource or concern.
//!
//! Most tests send their requests in-process, straight into the router
//! ([`in_process::App`], no socket): the contract is the router's, and a
//! router needs no binary, no port and no data directory. Tests that need the
//! real `typeahead serve` process (a restart, SIGKILL, the CLI's flags, bytes
//! on the socket, headers hyper adds) start one with [`common::Server`].
//! Both speak through [`Api`], so the helpers below serve either.

#[path = "../common/mod.rs"]
mod common;
mod in_process;

mod auth;
mod caches;
mod demo;
mod durability;
mod errors;
mod fold;
mod meta;
mod paths;
mod scores;
mod stacks;
mod suggest;
mod tries;

use reqwest::header::HeaderMap;
use serde_json::{json, Value as Json};

/// The requests the shared helpers send, answered by a real process
/// ([`common::Server`]) or by the router in-process ([`in_process::App`]).
pub trait Api {
    /// `GET path`: `(status, json, headers)`.
    fn get(&self, path: &str) -> (u16, Json, HeaderMap);
    /// `POST path` with `body` as JSON: `(status, json, headers)`.
    fn post_json(&self, path: &str, body: &Json) -> (u16, Json, HeaderMap);
}

impl Api for common::Server {
    #[track_caller]
    fn get(&self, path: &str) -> (u16, Json, HeaderMap) {
        common::Server::get(self, path)
    }

    #[track_caller]
    fn post_json(&self, path: &str, body: &Json) -> (u16, Json, HeaderMap) {
        common::Server::post_json(self, path, body)
    }
}

impl Api for in_process::App {
    #[track_caller]
    fn get(&self, path: &str) -> (u16, Json, HeaderMap) {
        in_process::App::get(self, path)
    }

    #[track_caller]
    fn post_json(&self, path: &str, body: &Json) -> (u16, Json, HeaderMap) {
        in_process::App::post_json(self, path, body)
    }
}

/// `{"entries": [{"key", "value"}, ...]}`.
fn batch(pairs: &[(&str, Json)]) -> Json {
    json!({"entries": pairs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()})
}

/// Adds pairs and returns `(added, existing)`; panics unless 200.
#[track_caller]
fn add(s: &impl Api, trie: &str, pairs: &[(&str, Json)]) -> (u64, u64) {
    let (st, body, _) = s.post_json(&format!("/v1/tries/{trie}/entries"), &batch(pairs));
    assert_eq!(st, 200, "add to {trie}: {body}");
    (
        body["added"].as_u64().expect("added"),
        body["existing"].as_u64().expect("existing"),
    )
}

/// `GET /v1/tries/{trie}` less `process_rss_bytes` (the process's, which
/// moves on its own), so that answers for one version compare equal; panics
/// unless 200.
#[track_caller]
fn stats(s: &impl Api, trie: &str) -> Json {
    let (st, mut body, _) = s.get(&format!("/v1/tries/{trie}"));
    assert_eq!(st, 200, "stats of {trie}: {body}");
    body.as_object_mut()
        .expect("an object")
        .remove("process_rss_bytes")
        .expect("process_rss_bytes");
    body
}

/// `(key, value)` pairs of a suggest answer; panics unless 200.
#[track_caller]
fn suggest(s: &impl Api, trie: &str, query: &str) -> Vec<(String, Json)> {
    let (st, body, h) = s.get(&format!("/v1/tries/{trie}/suggest{query}"));
    assert_eq!(st, 200, "suggest {trie}{query}: {body}");
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    body["entries"]
        .as_array()
        .expect("entries array")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().expect("key").to_owned(),
                e["value"].clone(),
            )
        })
        .collect()
}
