//! typeahead: a concurrent suggest-as-you-type index and server.
//!
//! # Layout
//! - [`trie`]: the engine, a multi-valued copy-on-write burst trie over UTF-8
//!   keys with ordered prefix suggestions and a memory report.
//! - [`sync`]: the concurrency layer: [`Index`] (lock-free snapshot reads,
//!   serialized copy-on-write writes), [`Stack`] and [`Cache`].
//! - [`store`]: durability: the [`store::Store`] trait and the embedded
//!   write-ahead log, with torn-tail recovery at start-up.
//! - [`db`]: the served state (tries, stacks, caches by name) and the single
//!   group-commit writer every write goes through.
//! - [`import`]: bulk CSV/NDJSON import over a channel worker pool, with
//!   job progress.
//! - [`server`]: the HTTP/JSON API (axum), metrics, OpenAPI, the demo page.
//! - [`users`]: deterministic synthetic users from the bundled census name
//!   lists, for the demo and the benchmarks.
//!
//! Dependencies point down this list, never up.

pub mod db;
pub mod import;
pub mod server;
pub mod store;
pub mod sync;
pub mod trie;
pub mod users;

pub use sync::{Cache, Index, Snapshot, Stack};
pub use trie::{MemoryReport, Suggestions, Trie, TrieError, Values};
