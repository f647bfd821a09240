//! [`DbError`]: why the database refused a command, in words a client
//! can act on; the server maps each to an HTTP status and code.

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The stack is empty (or was never pushed to).
    #[error("stack {0} is empty")]
    Empty(String),
    /// The increment would overflow.
    #[error("incrementing {key} by {by} would overflow its value {current}")]
    Overflow {
        /// Key.
        key: String,
        /// Current value, unchanged.
        current: i64,
        /// Requested increment.
        by: i64,
    },
    /// A score, an increment or the sum an increment makes is not a
    /// finite number; nothing of the batch was applied.
    #[error("entries[{index}]: {reason}; nothing was applied")]
    InvalidScore {
        /// The position of the first bad entry in its batch.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The disk refused the write; nothing was applied.
    #[error("storage unavailable, nothing was written: {0}")]
    Unavailable(String),
    /// The write reached the disk but its sync failed: it may or may not be
    /// there after a restart. The store refuses every later write until then.
    #[error("storage failed while syncing; the write may or may not have been kept: {0}")]
    OutcomeUnknown(String),
    /// A shared store's commit broke off (the database connection was
    /// lost during `COMMIT`): the write may or may not have been kept. The
    /// node follows the store again, which applies it if it was.
    #[error("the commit broke off; the write may or may not have been kept: {0}")]
    CommitUnknown(String),
    /// The disk is full; nothing was applied, and writes work again once
    /// space is free.
    #[error("the disk is full, nothing was written: {0}")]
    StorageFull(String),
    /// The trie exists with other settings than the ones asked for.
    #[error("trie {trie} exists with fold {existing}, not {asked}")]
    SettingsConflict {
        /// Trie name.
        trie: String,
        /// Its settings.
        existing: crate::fold::Fold,
        /// The settings asked for.
        asked: crate::fold::Fold,
    },
    /// The idempotency key was already used with a different request.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// Creating one more trie, stack or cache would pass the server's limit.
    #[error("this server holds at most {limit} {kind}; delete one first or raise the limit")]
    TooMany {
        /// "tries", "stacks" or "caches".
        kind: &'static str,
        /// The limit.
        limit: usize,
    },
    /// This node of a cluster is not the writer (it just stopped being it,
    /// or has not become it yet): nothing was applied; send the write again.
    #[error("this node is not the writer; nothing was applied, send the write again")]
    NotWriter,
    /// The writer answered a command with the reply of another (a bug).
    #[error("internal error: the writer gave an unexpected reply")]
    Internal,
    /// The writer has stopped (the server is shutting down).
    #[error("the server is shutting down")]
    ShuttingDown,
}
