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
//!
//! # Public API
//! The types a caller of the engine needs are re-exported here: [`Trie`]
//! with its answers ([`Suggestions`] from [`Trie::suggest`], [`PrefixIter`]
//! from [`Trie::iter_prefix`], [`Values`] from [`Trie::get`]), errors
//! ([`TrieError`]) and memory report ([`MemoryReport`], [`HeapSize`]); the
//! shared handles [`Index`] (with [`IndexWriter`], [`Snapshot`] and
//! [`Stats`]), [`Stack`], and [`Cache`] (with [`Overflow`]).

pub mod db;
pub mod import;
pub mod server;
pub mod store;
pub mod sync;
pub mod trie;
pub mod users;

pub use sync::{Cache, Index, IndexWriter, Overflow, Snapshot, Stack, Stats};
pub use trie::{HeapSize, MemoryReport, PrefixIter, Suggestions, Trie, TrieError, Values};
