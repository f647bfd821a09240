//! The limits every layer checks: how long a key or a name may be, how big
//! a batch, a body or an answer. They live below the store, the writer, the
//! import pipeline and the server, so each can check them without reaching
//! up into another.

pub use crate::value::MAX_VALUE_BYTES;

/// Longest trie or cache key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Most entries in one batch.
pub const MAX_BATCH: usize = 100_000;
/// Largest request body (other than imports, which stream).
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// The `limit` of a suggestion when none is given.
pub const DEFAULT_LIMIT: usize = 10;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 1000;
/// Longest trie, stack or cache name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
