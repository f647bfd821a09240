//! What the writer is sent ([`Command`]) and what it answers ([`Reply`]):
//! the private protocol between [`Db`](super::Db)'s typed write methods and
//! the writer thread. Inputs are validated by the sender; the writer only
//! refuses what depends on the state (a missing name, an empty stack, an
//! overflow, an invalid score).

use super::{ScoredEntry, Value};
use crate::fold::Fold;

/// A write, as sent to the writer. Inputs are validated by the caller.
/// Private to `db`: callers use [`Db`](super::Db)'s typed methods.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    /// Add pairs in order, setting or incrementing the scores of those
    /// that carry a [`ScoreOp`](super::ScoreOp) (creates the trie):
    /// [`Reply::Added`]; [`DbError::InvalidScore`](super::DbError::InvalidScore)
    /// when any score, increment or resulting sum is not finite, and then
    /// nothing of the command applies.
    TrieAdd {
        /// Trie name.
        trie: String,
        /// Pairs, with their score changes.
        entries: Vec<ScoredEntry>,
    },
    /// Remove pairs, or whole keys where the value is `None`:
    /// [`Reply::Removed`]; [`DbError::NotFound`](super::DbError::NotFound) for a missing trie.
    TrieRemove {
        /// Trie name.
        trie: String,
        /// What to remove.
        entries: Vec<(String, Option<Value>)>,
    },
    /// Remove one key: [`Reply::Removed`]; [`DbError::NotFound`](super::DbError::NotFound) when the
    /// trie or the key is missing.
    TrieRemoveKey {
        /// Trie name.
        trie: String,
        /// Key.
        key: String,
    },
    /// Delete a trie: [`Reply::Done`] or [`DbError::NotFound`](super::DbError::NotFound).
    TrieDrop {
        /// Trie name.
        trie: String,
    },
    /// Push (creates the stack): [`Reply::Len`].
    StackPush {
        /// Stack name.
        stack: String,
        /// Value.
        value: Value,
    },
    /// Pop: [`Reply::Popped`] or [`DbError::Empty`](super::DbError::Empty).
    StackPop {
        /// Stack name.
        stack: String,
    },
    /// Delete a stack: [`Reply::Done`] or [`DbError::NotFound`](super::DbError::NotFound).
    StackDrop {
        /// Stack name.
        stack: String,
    },
    /// Set a key (creates the cache): [`Reply::Int`].
    CacheSet {
        /// Cache name.
        cache: String,
        /// Key.
        key: String,
        /// Value.
        value: i64,
    },
    /// Add to a key, from 0 when missing: [`Reply::Int`] or
    /// [`DbError::Overflow`](super::DbError::Overflow).
    CacheIncr {
        /// Cache name.
        cache: String,
        /// Key.
        key: String,
        /// Increment.
        by: i64,
    },
    /// Remove a key: [`Reply::Done`] or [`DbError::NotFound`](super::DbError::NotFound).
    CacheRemove {
        /// Cache name.
        cache: String,
        /// Key.
        key: String,
    },
    /// Delete a cache: [`Reply::Done`] or [`DbError::NotFound`](super::DbError::NotFound).
    CacheDrop {
        /// Cache name.
        cache: String,
    },
    /// Create a trie with these settings: [`Reply::Created`] (true when
    /// it is new, false when it exists with the same settings), or
    /// [`DbError::SettingsConflict`](super::DbError::SettingsConflict).
    TrieCreate {
        /// Trie name.
        trie: String,
        /// How it folds.
        fold: Fold,
    },
}

/// The writer's answer to a [`Command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Pairs added, pairs whose score changed, and pairs that were already
    /// there as asked.
    Added {
        /// New pairs.
        added: usize,
        /// Pairs already present whose score changed.
        updated: usize,
        /// Pairs already present and left as they were.
        unchanged: usize,
    },
    /// Pairs removed.
    Removed(usize),
    /// The stack's length after the push.
    Len(usize),
    /// The popped value and the length left.
    Popped(Value, usize),
    /// A cache value after the write.
    Int(i64),
    /// Done, nothing to say.
    Done,
    /// Whether a trie was created (false: it was there, as asked).
    Created(bool),
}

impl Command {
    /// Roughly how many bytes of input the command carries, for bounding a
    /// group in bytes.
    pub(super) fn weight(&self) -> usize {
        match self {
            Command::TrieAdd { entries, .. } => entries
                .iter()
                .map(|e| 24 + e.key.len() + e.value.as_str().len())
                .sum(),
            Command::TrieRemove { entries, .. } => entries
                .iter()
                .map(|(k, v)| 16 + k.len() + v.as_ref().map_or(0, |v| v.as_str().len()))
                .sum(),
            Command::StackPush { value, .. } => 16 + value.as_str().len(),
            _ => 64,
        }
    }
}
