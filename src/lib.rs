//! typeahead: a concurrent suggest-as-you-type index and server.
//!
//! # Layout
//! Lowest first; a module uses only modules above it in this list
//! (`tests/layering.rs` checks it).
//! - [`fold`]: Unicode folding ([`Fold`]: none, case, full), the stored
//!   form of a folding trie's keys, and the typo automaton.
//! - [`trie`]: the engine, a multi-valued copy-on-write burst trie over UTF-8
//!   keys with ordered prefix suggestions and a memory report.
//! - [`sync`]: the concurrency layer: [`Index`] (lock-free snapshot reads,
//!   serialized copy-on-write writes), [`Stack`] and [`Cache`].
//! - [`value`]: [`Value`], a JSON value kept as canonical text, and the
//!   JSON form of scores.
//! - [`limits`]: the sizes every layer checks (keys, names, batches, bodies).
//! - [`store`]: durability: the [`store::Store`] trait, the embedded
//!   write-ahead log with its damage rules, and the data-directory lock.
//! - [`db`]: the served state (tries, stacks, caches by name), the single
//!   group-commit writer every write goes through (scored adds all or
//!   nothing), replay and compaction.
//! - [`import`]: bulk CSV/NDJSON parsing over a worker pool, and job records.
//! - `users` (feature `users`, on by default): deterministic synthetic users
//!   from the bundled census name lists, for the demo and the benchmarks.
//! - [`server`]: the HTTP/JSON API (axum on a hyper-util connection loop),
//!   import routes, metrics, OpenAPI, the demo page.
//!
//! # Public API
//! The types a caller of the engine needs are re-exported here: [`Trie`]
//! with its answers ([`Suggestions`] from [`Trie::suggest`] and
//! [`Trie::suggest_with`], [`PrefixIter`] from [`Trie::iter_prefix`],
//! [`Values`] from [`Trie::get`], with [`Scored`]), its options
//! ([`SuggestOptions`], [`Order`], [`Fuzzy`]), folding ([`Fold`] for
//! [`Trie::with_fold`], [`Matcher`] and [`Match`] for highlights) and score
//! writes ([`ScoreOp`],
//! [`Upserted`] from [`Trie::upsert`]), errors
//! ([`TrieError`]) and memory report ([`MemoryReport`], [`HeapSize`]); the
//! shared handles [`Index`] (with [`IndexWriter`], [`Snapshot`] and
//! [`Stats`]), [`Stack`], and [`Cache`] (with [`Overflow`]); and [`Value`],
//! the JSON value the server stores.

pub mod db;
pub mod fold;
pub mod import;
pub mod limits;
pub mod server;
pub mod store;
pub mod sync;
pub mod trie;
#[cfg(feature = "users")]
pub mod users;
pub mod value;

pub use fold::{Fold, Match, Matcher};
pub use sync::{Cache, Index, IndexWriter, Overflow, Snapshot, Stack, Stats};
pub use trie::{
    Fuzzy, HeapSize, MemoryReport, Order, PrefixIter, ScoreOp, Scored, SuggestOptions, Suggestions,
    Trie, TrieError, Upserted, Values,
};
pub use value::{Value, ValueError};
